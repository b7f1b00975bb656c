"""Day one with real people: a person may hold several roles (领导 and 负责人), evidence can be
withdrawn without being erased, and the office can mark a year's holidays as fully entered."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator, migrate


class UTCDateTimeField(peewee.DateTimeField):
    """Frozen here: a timestamp column (naive UTC), as models/db.py's field stored it then."""


def up(db: peewee.Database) -> None:
    class Base(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class CalendarYear(Base):
        year = peewee.IntegerField(unique=True)
        marked_by = peewee.CharField(max_length=64, default="")
        marked_at = UTCDateTimeField()

    migrator = SchemaMigrator.from_database(db)
    migrate(
        migrator.add_column("evidence", "withdrawn_at", UTCDateTimeField(null=True)),
        migrator.add_column(
            "evidence", "withdrawn_by", peewee.CharField(max_length=64, default="")
        ),
        # "leader|head|liaison" does not fit the old 16 characters.
        migrator.alter_column_type(
            "member", "role", peewee.CharField(max_length=64, default="liaison")
        ),
    )
    db.create_tables([CalendarYear])
