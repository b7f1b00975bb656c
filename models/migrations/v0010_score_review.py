"""Scores pass 办结审核 (issue 19): a score computed from a unit's figures waits (`state`
pending) until the office accepts the unit's work, and remembers the unit and the figures it
comes from. Scores already stored were counted before this version and stay accepted."""

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

    class Unit(Base):
        pass

    class FigureReport(Base):
        pass

    m = SchemaMigrator.from_database(db)
    migrate(
        m.add_column("score", "state", peewee.CharField(max_length=16, default="accepted")),
        m.add_column(
            "score",
            "unit_id",
            peewee.ForeignKeyField(Unit, Unit._meta.primary_key, null=True, on_delete="SET NULL"),
        ),
        m.add_column(
            "score",
            "figures_id",
            peewee.ForeignKeyField(
                FigureReport, FigureReport._meta.primary_key, null=True, on_delete="SET NULL"
            ),
        ),
        m.add_column("score", "decided_by", peewee.CharField(max_length=64, default="")),
        m.add_column("score", "decided_at", UTCDateTimeField(null=True)),
    )
