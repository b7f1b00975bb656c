"""WeCom: the shared token store, pending media downloads, interactive cards, the platform's
answer on each outbox row, and a lease on inbound messages being processed."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator, migrate


class UTCDateTimeField(peewee.DateTimeField):
    """Frozen here: a timestamp column (naive UTC), as models/db.py's field stored it then."""


class JSONField(peewee.TextField):
    """Frozen here: JSON kept as text, as models/db.py's field stored it then."""


def up(db: peewee.Database) -> None:
    class Base(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class InboundMessage(Base):
        pass

    class OutboxMessage(Base):
        pass

    class KeyValue(Base):
        key = peewee.CharField(max_length=191, primary_key=True)
        value = peewee.TextField()
        expires_at = UTCDateTimeField(null=True)

    class MediaDownload(Base):
        inbound = peewee.ForeignKeyField(InboundMessage, unique=True, on_delete="CASCADE")
        media_id = peewee.CharField(max_length=255)
        file_name = peewee.CharField(max_length=255, default="")
        wecom_userid = peewee.CharField(max_length=64)
        status = peewee.CharField(max_length=16, default="pending", index=True)
        attempts = peewee.IntegerField(default=0)
        next_attempt_at = UTCDateTimeField(null=True)
        expires_at = UTCDateTimeField()
        last_error = peewee.TextField(default="")
        admins_told = peewee.BooleanField(default=False)
        created_at = UTCDateTimeField()

    class InteractiveCard(Base):
        task_id = peewee.CharField(max_length=128, unique=True)
        outbox = peewee.ForeignKeyField(OutboxMessage, null=True, on_delete="SET NULL")
        kind = peewee.CharField(max_length=16)
        wecom_userid = peewee.CharField(max_length=64)
        item_codes = peewee.TextField(default="")
        clicked_key = peewee.CharField(max_length=32, default="")
        clicked_at = UTCDateTimeField(null=True)
        created_at = UTCDateTimeField()

    migrator = SchemaMigrator.from_database(db)
    migrate(
        migrator.add_column("inbound_message", "lease_until", UTCDateTimeField(null=True)),
        migrator.add_column("outbox_message", "result", JSONField(null=True)),
    )
    db.create_tables([KeyValue, MediaDownload, InteractiveCard])
