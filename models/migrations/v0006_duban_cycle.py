"""The 督办 cycle: 交办 items (source, who assigned them, a recurrence rule, 撤销), units'
milestones and recurring occurrences as assignments of their own (kind, slot, parent…), 签收 and
办结审核 times, confirmed unit groups, and milestone-removal requests."""

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

    class Assignment(Base):
        pass

    m = SchemaMigrator.from_database(db)
    text = peewee.CharField
    migrate(
        m.add_column("item", "source", text(max_length=16, default="")),
        m.add_column("item", "assigned_by", text(max_length=64, default="")),
        m.add_column("item", "created_at", UTCDateTimeField(null=True)),
        m.add_column("item", "recurrence", text(max_length=32, default="")),
        m.add_column("item", "cancelled_at", UTCDateTimeField(null=True)),
        m.add_column("item", "cancel_reason", peewee.TextField(default="")),
        m.alter_column_type("assignment", "status", text(max_length=16, default="open")),
        m.add_column("assignment", "kind", text(max_length=16, default="share")),
        m.add_column("assignment", "slot", text(max_length=32, default="share")),
        m.add_column(
            "assignment",
            "parent_id",
            peewee.ForeignKeyField(
                Assignment, Assignment._meta.primary_key, null=True, on_delete="CASCADE"
            ),
        ),
        m.add_column("assignment", "seq", peewee.IntegerField(null=True)),
        m.add_column("assignment", "period", text(max_length=16, default="")),
        m.add_column("assignment", "title", text(max_length=200, default="")),
        m.add_column("assignment", "owner_userid", text(max_length=64, default="")),
        m.add_column("assignment", "signed_at", UTCDateTimeField(null=True)),
        m.add_column("assignment", "signed_by", text(max_length=64, default="")),
        m.add_column("assignment", "reported_at", UTCDateTimeField(null=True)),
        m.add_column("assignment", "reviewed_at", UTCDateTimeField(null=True)),
        m.add_column("assignment", "reviewed_by", text(max_length=64, default="")),
        m.drop_index("assignment", "assignment_item_id_unit_id"),
        m.add_index("assignment", ("item_id", "unit_id", "slot"), True),
        m.add_column("unit_group", "confirmed_at", UTCDateTimeField(null=True)),
        m.add_column("unit_group", "confirmed_by", text(max_length=64, default="")),
        m.drop_not_null("extension_request", "requested_deadline"),
        m.add_column("extension_request", "kind", text(max_length=16, default="extension")),
    )
