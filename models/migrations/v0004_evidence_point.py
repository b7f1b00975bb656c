"""Evidence checklists: which point (sub-item) of an indicator's scoring standard a file supports."""

from __future__ import annotations

import peewee
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate


def up(db: peewee.Database) -> None:
    migrator = (
        PostgresqlMigrator(db) if isinstance(db, peewee.PostgresqlDatabase) else SqliteMigrator(db)
    )
    migrate(migrator.add_column("evidence", "point", peewee.IntegerField(null=True)))
