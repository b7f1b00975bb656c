"""What units report: progress, evidence files (佐证材料) and extension requests (延期)."""

from __future__ import annotations

from enum import StrEnum

import peewee

from models.db import BaseModel, UTCDateTimeField
from models.org import Unit
from models.plan import Assignment, Item


class ReportKind(StrEnum):
    PROGRESS = "progress"
    DONE = "done"
    CORRECTION = "correction"  # replaces the unit's last report (刚才报错了，应该是40%)


class ProgressReport(BaseModel):
    assignment = peewee.ForeignKeyField(Assignment, backref="reports", on_delete="CASCADE")
    assignment_id: int
    wecom_userid = peewee.CharField(max_length=64)
    percent = peewee.IntegerField()
    note = peewee.TextField(default="")
    kind = peewee.CharField(max_length=16, default=ReportKind.PROGRESS)
    created_at = UTCDateTimeField()


class Evidence(BaseModel):
    """One evidence file's metadata; the bytes live under DATA_DIR by SHA-256, never by name."""

    item = peewee.ForeignKeyField(Item, null=True, backref="evidence", on_delete="SET NULL")
    item_id: int | None
    unit = peewee.ForeignKeyField(Unit, null=True, on_delete="SET NULL")
    unit_id: int | None
    assignment = peewee.ForeignKeyField(Assignment, null=True, on_delete="SET NULL")
    assignment_id: int | None
    wecom_userid = peewee.CharField(max_length=64)
    original_name = peewee.CharField(max_length=255, default="")
    sha256 = peewee.CharField(max_length=64)
    size = peewee.BigIntegerField(default=0)
    content_type = peewee.CharField(max_length=100, default="")
    created_at = UTCDateTimeField()
    point = peewee.IntegerField(null=True)  # the indicator's checklist point it supports
    # Withdrawn by its sender or an admin (`佐证 撤回`): kept, on disk and here, but not counted.
    withdrawn_at = UTCDateTimeField(null=True)
    withdrawn_by = peewee.CharField(max_length=64, default="")

    @classmethod
    def active(cls):
        """The condition for evidence that counts (not withdrawn)."""
        return cls.withdrawn_at.is_null()


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class RequestKind(StrEnum):
    EXTENSION = "extension"  # move a deadline
    REMOVAL = "removal"  # remove one of the unit's milestones


EXTENSION_STATUS = {
    RequestStatus.PENDING: "待审批",
    RequestStatus.APPROVED: "已批准",
    RequestStatus.REJECTED: "已驳回",
}


class ExtensionRequest(BaseModel):
    """A unit asks the office: to move a deadline (kind 'extension'), or to remove one of its
    milestones (kind 'removal'). Decided in chat with 批准 / 驳回."""

    assignment = peewee.ForeignKeyField(Assignment, backref="extensions", on_delete="CASCADE")
    assignment_id: int
    wecom_userid = peewee.CharField(max_length=64)
    old_deadline = peewee.DateField(null=True)
    requested_deadline = peewee.DateField(null=True)
    kind = peewee.CharField(max_length=16, default=RequestKind.EXTENSION)
    reason = peewee.TextField(default="")
    status = peewee.CharField(max_length=16, default=RequestStatus.PENDING)
    decided_by = peewee.CharField(max_length=64, default="")
    decided_at = UTCDateTimeField(null=True)
    decision_note = peewee.TextField(default="")
    created_at = UTCDateTimeField()

    @property
    def status_label(self) -> str:
        known = self.status in set(RequestStatus)
        return EXTENSION_STATUS[RequestStatus(self.status)] if known else self.status
