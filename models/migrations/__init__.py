"""Schema versions: each module `vNNNN_name.py` has `up(db)`; applied ones are recorded in a table.

The first migration creates every table from a frozen snapshot of the models as they were then;
later migrations change the schema with `playhouse.migrate` (`SchemaMigrator.from_database`).
A migration never imports the live models or their field classes: it declares the tables and
field classes it needs as they stood then, so changing a model later cannot change what an old
migration does. Tests check that a fresh database migrated up has exactly the schema the current
models describe, and that databases filled under older schemas are carried forward.
"""

from __future__ import annotations

import importlib
import pkgutil

import peewee


def _migration_modules():
    names = sorted(
        m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("v") and "_" in m.name
    )
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        yield int(name[1:].split("_", 1)[0]), name, module


def _version_table(db: peewee.Database):
    class SchemaVersion(peewee.Model):
        version = peewee.IntegerField(primary_key=True)
        name = peewee.CharField(max_length=100)
        applied_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "schema_version"

    return SchemaVersion


def current_version(db: peewee.Database) -> int:
    if not db.table_exists("schema_version"):
        return 0
    table = _version_table(db)
    return table.select(peewee.fn.MAX(table.version)).scalar() or 0


def newest_version() -> int:
    """The schema version this code migrates up to (a restore refuses a newer backup)."""
    return max((version for version, _, _ in _migration_modules()), default=0)


def pending(db: peewee.Database) -> list[str]:
    """Migrations not applied yet: every one missing, not only those above the newest applied
    (branches merged in another order may leave a lower number behind; `migrate` applies it)."""
    if not db.table_exists("schema_version"):
        return [name for _, name, _ in _migration_modules()]
    table = _version_table(db)
    done = {row.version for row in table.select(table.version)}
    return [name for version, name, _ in _migration_modules() if version not in done]


def migrate(db: peewee.Database, upto: int | None = None) -> list[str]:
    """Apply every migration not yet applied (up to version `upto`, for tests that fill an older
    schema), each in its own transaction. Returns their names."""
    table = _version_table(db)
    with db.atomic():
        db.create_tables([table], safe=True)
    sqlite = isinstance(db, peewee.SqliteDatabase)
    if sqlite:
        # Changing a column's type rebuilds the table on SQLite; with foreign keys enforced, its
        # DROP would cascade into the rows that refer to it. SQLite's own procedure: switch them
        # off (outside any transaction: inside one the pragma does nothing), check afterwards.
        db.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        applied = _apply(db, table, upto)
    finally:
        if sqlite:
            db.execute_sql("PRAGMA foreign_keys = ON")
    if sqlite and db.execute_sql("PRAGMA foreign_key_check").fetchall():
        raise RuntimeError("migration left rows that refer to missing rows")
    return applied


def _apply(db: peewee.Database, table, upto: int | None) -> list[str]:
    applied = []
    for version, name, module in _migration_modules():
        if upto is not None and version > upto:
            break
        with db.atomic():
            if table.get_or_none(table.version == version) is not None:
                continue
            module.up(db)
            # The database's own clock: no wall-clock read here (the bot's time is bot/clock.py's).
            table.create(version=version, name=name, applied_at=peewee.SQL("CURRENT_TIMESTAMP"))
            applied.append(name)
    return applied
