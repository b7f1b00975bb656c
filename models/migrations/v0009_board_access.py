"""The leaders' board (issue 10): personal links (`链接`) and signed-in sessions, stored as
digests of their secrets; and each weekly snapshot's score section in a column of its own, so
the board's trend reads a few numbers per week instead of whole digests (filled in here for
the snapshots already stored)."""

from __future__ import annotations

import json

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
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column("digest_snapshot", "score", JSONField(null=True)))
    rows = db.execute_sql("SELECT id, data FROM digest_snapshot").fetchall()
    update = f"UPDATE digest_snapshot SET score = {db.param} WHERE id = {db.param}"
    for snapshot_id, data in rows:
        score = (json.loads(data) if data else {}).get("score")
        if score is not None:
            db.execute_sql(
                update, (json.dumps(score, ensure_ascii=False, sort_keys=True), snapshot_id)
            )
