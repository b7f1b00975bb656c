"""Excel import: the dry runs waiting for 导入 确认 (import_batch), and ongoing work marked as
such (长期坚持, 持续推进, 常态化: no deadline) on assignments."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator, migrate


class UTCDateTimeField(peewee.DateTimeField):
    """Frozen here: a timestamp column (naive UTC), as models/db.py's field stored it then."""


class JSONField(peewee.TextField):
    """Frozen here: JSON kept as text, as models/db.py's field stored it then."""


def up(db: peewee.Database) -> None:
    class ImportBatch(peewee.Model):
        created_by = peewee.CharField(max_length=64, index=True)
        created_at = UTCDateTimeField()
        file_name = peewee.CharField(max_length=255, default="")
        file_sha256 = peewee.CharField(max_length=64, default="")
        fingerprint = peewee.CharField(max_length=64)
        changes = JSONField()
        problems = JSONField(null=True)
        status = peewee.CharField(max_length=16, default="pending")
        applied_at = UTCDateTimeField(null=True)

        class Meta:
            database = db
            table_name = "import_batch"

    db.create_tables([ImportBatch])
    m = SchemaMigrator.from_database(db)
    migrate(m.add_column("assignment", "ongoing", peewee.CharField(max_length=16, default="")))
