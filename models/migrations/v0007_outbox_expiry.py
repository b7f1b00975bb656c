"""Nothing lost when WeCom misbehaves: an outbox row lives until it is delivered or too old to
matter (`expires_at`, or OUTBOX_MAX_AGE_HOURS), and records when it was given up (`failed_at`)."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator, migrate


class UTCDateTimeField(peewee.DateTimeField):
    """Frozen here: a timestamp column (naive UTC), as models/db.py's field stored it then."""


def up(db: peewee.Database) -> None:
    migrator = SchemaMigrator.from_database(db)
    migrate(
        migrator.add_column("outbox_message", "expires_at", UTCDateTimeField(null=True)),
        migrator.add_column("outbox_message", "failed_at", UTCDateTimeField(null=True)),
    )
