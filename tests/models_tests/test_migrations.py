"""A fresh database migrated up has exactly the schema the current models describe."""

from models.migrations import current_version, migrate, pending
from models.schema import ALL_MODELS


def _schema(db) -> dict:
    schema = {}
    for table in sorted(set(db.get_tables()) - {"schema_version"}):
        columns = sorted(
            (c.name, c.data_type.lower(), c.null, c.primary_key) for c in db.get_columns(table)
        )
        indexes = sorted((tuple(i.columns), i.unique) for i in db.get_indexes(table))
        fks = sorted((f.column, f.dest_table, f.dest_column) for f in db.get_foreign_keys(table))
        schema[table] = (columns, indexes, fks)
    return schema


def test_migrated_schema_equals_the_models(empty_db):
    assert pending(empty_db)
    migrate(empty_db)
    migrated = _schema(empty_db)
    assert not pending(empty_db) and current_version(empty_db) >= 1
    for model in reversed(ALL_MODELS):
        empty_db.execute_sql(f'DROP TABLE "{model._meta.table_name}"')
    empty_db.create_tables(ALL_MODELS)
    assert _schema(empty_db) == migrated
    assert set(migrated) == {m._meta.table_name for m in ALL_MODELS}


def test_migrate_twice_applies_nothing(empty_db):
    assert migrate(empty_db)
    assert migrate(empty_db) == []
