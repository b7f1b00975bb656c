"""The leaders' board (issue 10): personal links (`链接`) and signed-in sessions, stored as
digests of their secrets. Number 9: main's latest is 7, and 8 may be taken in parallel."""

from __future__ import annotations

import peewee

from models.db import UTCDateTimeField


def up(db: peewee.Database) -> None:
    class Base(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class BoardLink(Base):
        token_hash = peewee.CharField(max_length=64, unique=True)
        wecom_userid = peewee.CharField(max_length=64, index=True)
        created_by = peewee.CharField(max_length=64)
        created_at = UTCDateTimeField()
        expires_at = UTCDateTimeField()
        revoked_at = UTCDateTimeField(null=True)
        revoked_by = peewee.CharField(max_length=64, default="")
        last_used_at = UTCDateTimeField(null=True)
        uses = peewee.IntegerField(default=0)

    class BoardSession(Base):
        token_hash = peewee.CharField(max_length=64, unique=True)
        wecom_userid = peewee.CharField(max_length=64)
        via = peewee.CharField(max_length=16)
        link = peewee.ForeignKeyField(BoardLink, null=True, on_delete="CASCADE")
        created_at = UTCDateTimeField()
        expires_at = UTCDateTimeField()
        ended_at = UTCDateTimeField(null=True)

    db.create_tables([BoardLink, BoardSession])
