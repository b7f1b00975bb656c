"""Scores of indicators (with history and reasons) and the figures units report for them."""

from __future__ import annotations

from decimal import Decimal

import peewee

from models.db import BaseModel, JSONField, UTCDateTimeField
from models.org import Unit
from models.plan import Item


class Score(BaseModel):
    """One scoring of an indicator; the newest row is the current score. Never updated in place."""

    item = peewee.ForeignKeyField(Item, backref="scores", on_delete="CASCADE")
    points = peewee.DecimalField(max_digits=6, decimal_places=2)
    reason = peewee.TextField(default="")
    source = peewee.CharField(max_length=16, default="office")  # office | computed
    wecom_userid = peewee.CharField(max_length=64, default="")
    created_at = UTCDateTimeField()

    @classmethod
    def current(cls) -> dict[int, Decimal]:
        """item id -> current points: the office's newest score wins over a computed one."""
        return {item_id: points for item_id, (points, _) in cls.current_with_source().items()}

    @classmethod
    def current_with_source(cls) -> dict[int, tuple[Decimal, str]]:
        """item id -> (current points, "office" | "computed")."""
        result: dict[int, tuple[Decimal, str]] = {}
        for source in ("computed", "office"):  # office last, so it overrides
            newest = (
                cls.select(cls.item, peewee.fn.MAX(cls.id).alias("last_id"))
                .where(cls.source == source)
                .group_by(cls.item)
            ).alias("newest")
            query = cls.select(cls.item, cls.points).join(newest, on=(cls.id == newest.c.last_id))
            result.update({row.item_id: (Decimal(row.points) + 0, source) for row in query})
        return result

    @classmethod
    def current_for(cls, item) -> Score | None:
        office = (
            cls.select()
            .where((cls.item == item) & (cls.source == "office"))
            .order_by(cls.id.desc())
            .first()
        )
        return office or cls.select().where(cls.item == item).order_by(cls.id.desc()).first()


class FigureReport(BaseModel):
    """Figures a unit reported for a quantitative indicator (`数据 Z3 …`), stored as given."""

    item = peewee.ForeignKeyField(Item, backref="figures", on_delete="CASCADE")
    unit = peewee.ForeignKeyField(Unit, null=True, on_delete="SET NULL")
    wecom_userid = peewee.CharField(max_length=64)
    values = JSONField()
    created_at = UTCDateTimeField()
