"""What the campaign's clock keeps: the office's calendar entries, reminders sent (at most once per
assignment, step and day), and the weekly digest snapshots (one per week, never recomputed)."""

from __future__ import annotations

import peewee

from models.db import BaseModel, JSONField, UTCDateTimeField
from models.plan import Assignment


class CalendarDay(BaseModel):
    """An office entry that overrides the State Council schedule for one day."""

    day = peewee.DateField(unique=True)
    workday = peewee.BooleanField()
    note = peewee.CharField(max_length=100, default="")
    created_by = peewee.CharField(max_length=64, default="")
    created_at = UTCDateTimeField()


class CalendarYear(BaseModel):
    """A year whose holidays and 调休 days the office has fully entered (`日历 2027 已录入`)."""

    year = peewee.IntegerField(unique=True)
    marked_by = peewee.CharField(max_length=64, default="")
    marked_at = UTCDateTimeField()


class ReminderSent(BaseModel):
    assignment = peewee.ForeignKeyField(Assignment, backref="reminders", on_delete="CASCADE")
    assignment_id: int
    step = peewee.CharField(
        max_length=16
    )  # before_7 | before_3 | before_1 | due | overdue | escalate
    day = peewee.DateField()
    recipients = peewee.TextField(default="")  # "a|b"
    sent_at = UTCDateTimeField()

    class Meta:
        indexes = ((("assignment", "step", "day"), True),)


class DigestSnapshot(BaseModel):
    week = peewee.CharField(max_length=10, unique=True)  # ISO week, e.g. "2026-W48"
    data = JSONField()
    markdown = peewee.TextField()
    created_at = UTCDateTimeField()
    published_by = peewee.CharField(max_length=64, default="")
    # data["score"] again, small: the board's trend reads this for every week, not `data`
    score = JSONField(null=True)
