"""The audit log (留痕): every change a person makes, with who, when, and before/after."""

from __future__ import annotations

from datetime import datetime

import peewee

from models.db import BaseModel, JSONField, UTCDateTimeField


class AuditEntry(BaseModel):
    at = UTCDateTimeField(index=True)
    actor = peewee.CharField(max_length=64)
    action = peewee.CharField(max_length=32)
    item_code = peewee.CharField(max_length=8, default="", index=True)
    unit_name = peewee.CharField(max_length=100, default="", index=True)
    summary = peewee.TextField(default="")
    before = JSONField(null=True)
    after = JSONField(null=True)

    @classmethod
    def record(
        cls,
        now: datetime,
        actor: str,
        action: str,
        summary: str,
        *,
        item_code: str = "",
        unit_name: str = "",
        before=None,
        after=None,
    ) -> AuditEntry:
        return cls.create(
            at=now,
            actor=actor,
            action=action,
            summary=summary,
            item_code=item_code,
            unit_name=unit_name,
            before=before,
            after=after,
        )
