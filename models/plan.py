"""The plan: categories of the scorecard, items (main tasks T1–T22, indicators Z1–Z41) and
per-unit assignments with their deadlines and progress."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import peewee

from models.db import BaseModel, JSONField, UTCDateTimeField
from models.org import Unit

NATURE_QUANTITATIVE = ("定量", "定性+定量")


class Category(BaseModel):
    """A level-1 (parent is null) or level-2 category of the scorecard."""

    name = peewee.CharField(max_length=50, unique=True)
    parent = peewee.ForeignKeyField("self", null=True, backref="children", on_delete="CASCADE")
    parent_id: int | None
    points = peewee.DecimalField(max_digits=6, decimal_places=2)
    position = peewee.IntegerField(default=0)


class ItemKind(StrEnum):
    TASK = "task"  # a main task of the plan, T1…
    INDICATOR = "indicator"  # an assessment indicator, Z1…
    ASSIGNED = "assigned"  # work the office or a leader assigns beyond the plan (交办), J1…


class Source(StrEnum):
    """Where a 交办 item comes from, as stored (the words themselves)."""

    LEADER = "领导批示"
    MEETING = "会议议定"
    SUPERIOR = "上级交办"
    PUBLIC = "群众诉求"
    OFFICE = "办公室"


ITEM_SOURCES = tuple(Source)


class Urgency(StrEnum):
    """How pressing a 交办 item is (紧急程度): 紧急 and 特急 shorten its reminder ladder."""

    NORMAL = "一般"
    URGENT = "紧急"
    CRITICAL = "特急"


URGENCIES = tuple(Urgency)


class Item(BaseModel):
    """A main task (kind 'task', code T1…), an assessment indicator (kind 'indicator', Z1…), or
    work the office assigns beyond the plan (kind 'assigned', 交办, J1…), possibly recurring."""

    code = peewee.CharField(max_length=8, unique=True)
    kind = peewee.CharField(max_length=16)
    position = peewee.IntegerField(default=0)
    title = peewee.CharField(max_length=200)
    body = peewee.TextField(default="")
    section = peewee.CharField(max_length=100, default="")
    category = peewee.ForeignKeyField(Category, null=True, backref="items", on_delete="SET NULL")
    category_id: int | None
    nature = peewee.CharField(max_length=16, default="")
    max_points = peewee.DecimalField(max_digits=6, decimal_places=2, null=True)
    rule = JSONField(null=True)
    inputs = JSONField(null=True)
    method = peewee.TextField(default="")
    sources = peewee.TextField(default="")
    units_text = peewee.TextField(default="")
    units_inferred = peewee.BooleanField(default=False)
    # 交办 items only: where the work comes from, who assigned it, when, and a recurrence rule
    # (每月5日…); cancelled (撤销) items are kept, never deleted.
    source = peewee.CharField(max_length=16, default="")
    assigned_by = peewee.CharField(max_length=64, default="")
    created_at = UTCDateTimeField(null=True)
    recurrence = peewee.CharField(max_length=32, default="")
    cancelled_at = UTCDateTimeField(null=True)
    cancel_reason = peewee.TextField(default="")
    # 立项 of a 交办 item with its source document: 文号, the leader who gave the instruction
    # (批示领导, a bound leader's userid; results are reported back to them), the instruction's
    # words (原文) and how pressing it is (紧急程度).
    doc_no = peewee.CharField(max_length=64, default="")
    instructed_by = peewee.CharField(max_length=64, default="")
    instruction = peewee.TextField(default="")
    urgency = peewee.CharField(max_length=8, default=Urgency.NORMAL)

    @property
    def reports_to(self) -> str:
        """Who hears how the item goes: the 批示领导, else the person who assigned it."""
        return self.instructed_by or self.assigned_by

    @property
    def is_indicator(self) -> bool:
        return self.kind == ItemKind.INDICATOR

    @property
    def is_assigned(self) -> bool:
        return self.kind == ItemKind.ASSIGNED

    @property
    def is_recurring(self) -> bool:
        return bool(self.recurrence)

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


class Role(StrEnum):
    LEAD = "lead"  # 牵头
    CO = "co"  # 配合


ROLE_LABELS = {Role.LEAD: "牵头", Role.CO: "配合"}


class Part(StrEnum):
    """What an assignment row is: a unit's share of an item, one of its milestones, or one
    occurrence of a recurring report."""

    SHARE = "share"
    MILESTONE = "milestone"
    OCCURRENCE = "occurrence"


class Status(StrEnum):
    """open → review (待审核, when the office checks "done") → done; cancelled: 撤销 or removed."""

    OPEN = "open"
    REVIEW = "review"
    DONE = "done"
    CANCELLED = "cancelled"


SHARE, MILESTONE, OCCURRENCE = Part.SHARE, Part.MILESTONE, Part.OCCURRENCE
OPEN, REVIEW, DONE, CANCELLED = Status.OPEN, Status.REVIEW, Status.DONE, Status.CANCELLED


class Assignment(BaseModel):
    """Something one unit owes by a date. A unit's share of an item (kind 'share': its deadline,
    status and progress; a co-unit's is its own), one of the unit's milestones of that share
    (实施细则 节点 T7-1, kind 'milestone'), or one occurrence of a recurring report (kind
    'occurrence', period "2026-03"). All run on the same ladder, cards, evidence and log."""

    item = peewee.ForeignKeyField(Item, backref="assignments", on_delete="CASCADE")
    item_id: int
    unit = peewee.ForeignKeyField(Unit, backref="assignments", on_delete="CASCADE")
    unit_id: int
    role = peewee.CharField(max_length=8, default=Role.CO)
    via_group = peewee.CharField(max_length=100, default="")
    deadline = peewee.DateField(null=True)
    status = peewee.CharField(max_length=16, default=OPEN)
    progress = peewee.IntegerField(default=0)
    updated_at = UTCDateTimeField(null=True)
    done_at = UTCDateTimeField(null=True)
    deadline_set_on = peewee.DateField(null=True)  # the day a deadline was first given
    # Work with no deadline by nature, as the sheet said it: 长期坚持, 持续推进, 常态化 ("": none).
    ongoing = peewee.CharField(max_length=16, default="")
    kind = peewee.CharField(max_length=16, default=SHARE)
    slot = peewee.CharField(max_length=32, default=SHARE)  # share | m<seq> | p<period>: unique
    parent = peewee.ForeignKeyField("self", null=True, backref="parts", on_delete="CASCADE")
    parent_id: int | None
    seq = peewee.IntegerField(null=True)  # a milestone's number: T7-<seq>
    period = peewee.CharField(max_length=16, default="")  # an occurrence's period key
    title = peewee.CharField(max_length=200, default="")  # a milestone's work
    owner_userid = peewee.CharField(max_length=64, default="")  # a milestone's 责任人
    signed_at = UTCDateTimeField(null=True)  # 签收 of a 交办 share
    signed_by = peewee.CharField(max_length=64, default="")
    reported_at = UTCDateTimeField(null=True)  # when the unit reported it done (on time or not)
    reviewed_at = UTCDateTimeField(null=True)
    reviewed_by = peewee.CharField(max_length=64, default="")

    class Meta:
        indexes = ((("item", "unit", "slot"), True),)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(Role(self.role), self.role) if self.role in set(Role) else self.role

    @classmethod
    def shares(cls):
        """The condition for units' shares (not milestones or occurrences)."""
        return cls.kind == SHARE

    @property
    def code(self) -> str:
        """How people name it: T7, T7-2 (a milestone), J3 (its current occurrence is asked by
        the item's code too)."""
        if self.kind == MILESTONE:
            return f"{self.item.code}-{self.seq}"
        return self.item.code

    @property
    def label(self) -> str:
        """The code with what it is: "T7-2 完成摸底", "J3（2026年3月）"."""
        if self.kind == MILESTONE:
            return f"{self.code} {self.title}"
        if self.kind == OCCURRENCE:
            return f"{self.item.code}（{period_label(self.period)}）"
        return self.code


def period_label(key: str) -> str:
    """ "2026-03" -> "2026年3月", "2026-W09" -> "2026年第9周", "2026-Q1" -> "2026年第一季度"."""
    year, _, rest = key.partition("-")
    if not rest:
        return f"{year}年"
    if rest.startswith("W"):
        return f"{year}年第{int(rest[1:])}周"
    if rest.startswith("Q"):
        return f"{year}年第{'一二三四'[int(rest[1:]) - 1]}季度"
    return f"{year}年{int(rest)}月"
