"""The campaign's clock: office calendar entries, reminders sent, weekly digest snapshots, and
the day an assignment's deadline was first set (for the 'behind schedule' colour)."""

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

    class Assignment(Base):
        pass

    class CalendarDay(Base):
        day = peewee.DateField(unique=True)
        workday = peewee.BooleanField()
        note = peewee.CharField(max_length=100, default="")
        created_by = peewee.CharField(max_length=64, default="")
        created_at = UTCDateTimeField()

    class ReminderSent(Base):
        assignment = peewee.ForeignKeyField(Assignment, on_delete="CASCADE")
        step = peewee.CharField(max_length=16)
        day = peewee.DateField()
        recipients = peewee.TextField(default="")
        sent_at = UTCDateTimeField()

        class Meta:
            indexes = ((("assignment", "step", "day"), True),)

    class DigestSnapshot(Base):
        week = peewee.CharField(max_length=10, unique=True)
        data = JSONField()
        markdown = peewee.TextField()
        created_at = UTCDateTimeField()
        published_by = peewee.CharField(max_length=64, default="")

    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column("assignment", "deadline_set_on", peewee.DateField(null=True)))
    db.create_tables([CalendarDay, ReminderSent, DigestSnapshot])
