"""Imports of the office's spreadsheets: each dry run is a batch holding the changes it showed
and a fingerprint of the data they were computed from, so that `导入 确认` applies exactly those
changes, or nothing when the data moved in between."""

from __future__ import annotations

import peewee

from models.db import BaseModel, JSONField, UTCDateTimeField

# pending: shown, waiting for 导入 确认; applied; cancelled (导入 取消, or a newer dry run of the
# same admin); stale: the data changed after the dry run, so it can no longer be applied.
PENDING, APPLIED, CANCELLED, STALE = "pending", "applied", "cancelled", "stale"


class ImportBatch(BaseModel):
    created_by = peewee.CharField(max_length=64, index=True)
    created_at = UTCDateTimeField()
    file_name = peewee.CharField(max_length=255, default="")
    file_sha256 = peewee.CharField(max_length=64, default="")
    fingerprint = peewee.CharField(max_length=64)
    changes = JSONField()  # the planned changes, in the order they are applied
    problems = JSONField(null=True)  # what could not be read, by sheet, row and cell
    status = peewee.CharField(max_length=16, default=PENDING)
    applied_at = UTCDateTimeField(null=True)
