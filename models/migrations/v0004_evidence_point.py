"""Evidence checklists: which point (sub-item) of an indicator's scoring standard a file supports."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator, migrate


def up(db: peewee.Database) -> None:
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column("evidence", "point", peewee.IntegerField(null=True)))
