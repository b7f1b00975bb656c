"""The plan: categories of the scorecard, items (main tasks T1–T22, indicators Z1–Z41) and
per-unit assignments with their deadlines and progress."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import peewee

from models.db import BaseModel, JSONField, UTCDateTimeField
from models.org import Unit

NATURE_QUANTITATIVE = ("定量", "定性+定量")


class Category(BaseModel):
    """A level-1 (parent is null) or level-2 category of the scorecard."""

    name = peewee.CharField(max_length=50, unique=True)
    parent = peewee.ForeignKeyField("self", null=True, backref="children", on_delete="CASCADE")
    points = peewee.DecimalField(max_digits=6, decimal_places=2)
    position = peewee.IntegerField(default=0)


class Item(BaseModel):
    """A main task (kind 'task', code T1…) or an assessment indicator (kind 'indicator', Z1…)."""

    code = peewee.CharField(max_length=8, unique=True)
    kind = peewee.CharField(max_length=16)
    position = peewee.IntegerField(default=0)
    title = peewee.CharField(max_length=200)
    body = peewee.TextField(default="")
    section = peewee.CharField(max_length=100, default="")
    category = peewee.ForeignKeyField(Category, null=True, backref="items", on_delete="SET NULL")
    nature = peewee.CharField(max_length=16, default="")
    max_points = peewee.DecimalField(max_digits=6, decimal_places=2, null=True)
    rule = JSONField(null=True)
    inputs = JSONField(null=True)
    method = peewee.TextField(default="")
    sources = peewee.TextField(default="")
    units_text = peewee.TextField(default="")
    units_inferred = peewee.BooleanField(default=False)

    @property
    def is_indicator(self) -> bool:
        return self.kind == "indicator"

    @property
    def is_quantitative(self) -> bool:
        return self.nature in NATURE_QUANTITATIVE and bool(self.inputs)

    def checklist(self) -> list[str]:
        """The points evidence should cover: the scoring standard's sub-items, or the whole."""
        rule = self.rule or {}
        items = rule.get("items") or []
        texts = [i if isinstance(i, str) else str(i.get("text", "")) for i in items]
        return [t for t in texts if t] or ([self.title] if self.is_indicator else [])

    def max_points_value(self) -> Decimal:
        return Decimal(self.max_points or 0)


ROLE_LABELS = {"lead": "牵头", "co": "配合"}


class Assignment(BaseModel):
    """One unit's share of one item: its deadline, status and progress (a co-unit's is its own)."""

    item = peewee.ForeignKeyField(Item, backref="assignments", on_delete="CASCADE")
    unit = peewee.ForeignKeyField(Unit, backref="assignments", on_delete="CASCADE")
    role = peewee.CharField(max_length=8, default="co")
    via_group = peewee.CharField(max_length=100, default="")
    deadline = peewee.DateField(null=True)
    status = peewee.CharField(max_length=8, default="open")
    progress = peewee.IntegerField(default=0)
    updated_at = UTCDateTimeField(null=True)
    done_at = UTCDateTimeField(null=True)
    deadline_set_on = peewee.DateField(null=True)  # the day a deadline was first given

    class Meta:
        indexes = ((("item", "unit"), True),)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def days_overdue(self, today: date) -> int:
        if self.status == "done" or self.deadline is None or today <= self.deadline:
            return 0
        return (today - self.deadline).days
