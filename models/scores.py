"""Scores of indicators (with history and reasons) and the figures units report for them."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import peewee

from models.db import BaseModel, JSONField, UTCDateTimeField
from models.org import Unit
from models.plan import Item


class ScoreSource(StrEnum):
    OFFICE = "office"  # the office scored it (评分)
    COMPUTED = "computed"  # computed from reported figures (数据)


class ScoreState(StrEnum):
    """Whether a score counts. The office's scores, and scores computed from figures the office
    entered, count at once; a score computed from a unit's figures waits (待审核) until the office
    accepts the unit's work on the indicator (通过), and is set aside when it is sent back."""

    ACCEPTED = "accepted"
    PENDING = "pending"
    RETURNED = "returned"


class FigureReport(BaseModel):
    """Figures a unit reported for a quantitative indicator (`数据 Z3 …`), stored as given."""

    item = peewee.ForeignKeyField(Item, backref="figures", on_delete="CASCADE")
    item_id: int
    unit = peewee.ForeignKeyField(Unit, null=True, on_delete="SET NULL")
    unit_id: int | None
    wecom_userid = peewee.CharField(max_length=64)
    values = JSONField()
    created_at = UTCDateTimeField()


class Score(BaseModel):
    """One scoring of an indicator; the newest row that counts is the current score. Points are
    never changed in place; only a computed score's `state` moves (pending → accepted/returned)."""

    item = peewee.ForeignKeyField(Item, backref="scores", on_delete="CASCADE")
    item_id: int
    points = peewee.DecimalField(max_digits=6, decimal_places=2)
    reason = peewee.TextField(default="")
    source = peewee.CharField(max_length=16, default=ScoreSource.OFFICE)
    wecom_userid = peewee.CharField(max_length=64, default="")
    created_at = UTCDateTimeField()
    state = peewee.CharField(max_length=16, default=ScoreState.ACCEPTED)
    # A computed score: the unit whose figures it comes from, and those figures.
    unit = peewee.ForeignKeyField(Unit, null=True, on_delete="SET NULL")
    unit_id: int | None
    figures = peewee.ForeignKeyField(FigureReport, null=True, on_delete="SET NULL")
    figures_id: int | None
    decided_by = peewee.CharField(max_length=64, default="")
    decided_at = UTCDateTimeField(null=True)

    @classmethod
    def current(cls) -> dict[int, Decimal]:
        """item id -> current points: the office's newest score wins over a computed one."""
        return {item_id: points for item_id, (points, _) in cls.current_with_source().items()}

    @classmethod
    def current_with_source(cls) -> dict[int, tuple[Decimal, str]]:
        """item id -> (current points, "office" | "computed"), counting accepted scores only."""
        result: dict[int, tuple[Decimal, str]] = {}
        for source in (ScoreSource.COMPUTED, ScoreSource.OFFICE):  # office last: it overrides
            result.update(
                {
                    item_id: (points, str(source))
                    for item_id, (points, _) in cls._newest(source, ScoreState.ACCEPTED).items()
                }
            )
        return result

    @classmethod
    def waiting(cls) -> dict[int, Decimal]:
        """item id -> points of a computed score that waits for the office (待审核) and would
        change the indicator: newer than what counts, and no office score set."""
        counted = cls._newest(ScoreSource.COMPUTED, ScoreState.ACCEPTED)
        office = cls._newest(ScoreSource.OFFICE, ScoreState.ACCEPTED)
        return {
            item_id: points
            for item_id, (points, score_id) in cls._newest(
                ScoreSource.COMPUTED, ScoreState.PENDING
            ).items()
            if item_id not in office and score_id > counted.get(item_id, (0, 0))[1]
        }

    @classmethod
    def _newest(cls, source: str, state: str) -> dict[int, tuple[Decimal, int]]:
        """item id -> (points, row id) of the newest row of this source in this state."""
        newest = (
            cls.select(cls.item, peewee.fn.MAX(cls.id).alias("last_id"))
            .where((cls.source == source) & (cls.state == state))
            .group_by(cls.item)
        ).alias("newest")
        query = cls.select(cls.id, cls.item, cls.points).join(
            newest, on=(cls.id == newest.c.last_id)
        )
        return {row.item_id: (Decimal(row.points) + 0, row.id) for row in query}

    @classmethod
    def current_for(cls, item) -> Score | None:
        """The score that counts for `item`, or None."""
        counting = cls.select().where((cls.item == item) & (cls.state == ScoreState.ACCEPTED))
        office = counting.where(cls.source == ScoreSource.OFFICE).order_by(cls.id.desc()).first()
        return office or counting.order_by(cls.id.desc()).first()

    @classmethod
    def waiting_for(cls, item) -> Score | None:
        """A computed score of `item` waiting for the office, if it would change the indicator."""
        if item.id not in cls.waiting():
            return None
        return (
            cls.select()
            .where(
                (cls.item == item)
                & (cls.source == ScoreSource.COMPUTED)
                & (cls.state == ScoreState.PENDING)
            )
            .order_by(cls.id.desc())
            .first()
        )
