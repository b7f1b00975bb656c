"""The first schema: every table as the models stood at version 1 (a frozen snapshot).

Do not import the live models here: they will change, and this migration must not.
"""

from __future__ import annotations

import peewee


class UTCDateTimeField(peewee.DateTimeField):
    """Frozen here: a timestamp column (naive UTC), as models/db.py's field stored it then."""


class JSONField(peewee.TextField):
    """Frozen here: JSON kept as text, as models/db.py's field stored it then."""


def up(db: peewee.Database) -> None:
    class Base(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Unit(Base):
        name = peewee.CharField(max_length=100, unique=True)
        short_name = peewee.CharField(max_length=50, null=True)
        aliases = peewee.TextField(default="")
        is_member = peewee.BooleanField(default=False)
        is_town = peewee.BooleanField(default=False)
        position = peewee.IntegerField(default=0)

    class UnitGroup(Base):
        name = peewee.CharField(max_length=100, unique=True)
        aliases = peewee.TextField(default="")
        position = peewee.IntegerField(default=0)

    class GroupMember(Base):
        group = peewee.ForeignKeyField(UnitGroup, on_delete="CASCADE")
        unit = peewee.ForeignKeyField(Unit, on_delete="CASCADE")

        class Meta:
            indexes = ((("group", "unit"), True),)

    class Member(Base):
        wecom_userid = peewee.CharField(max_length=64, unique=True)
        display_name = peewee.CharField(max_length=100, default="")
        unit = peewee.ForeignKeyField(Unit, null=True, on_delete="SET NULL")
        role = peewee.CharField(max_length=16, default="liaison")
        active = peewee.BooleanField(default=True)
        bound_at = UTCDateTimeField()
        bound_by = peewee.CharField(max_length=64, default="")

    class Category(Base):
        name = peewee.CharField(max_length=50, unique=True)
        parent = peewee.ForeignKeyField("self", null=True, on_delete="CASCADE")
        points = peewee.DecimalField(max_digits=6, decimal_places=2)
        position = peewee.IntegerField(default=0)

    class Item(Base):
        code = peewee.CharField(max_length=8, unique=True)
        kind = peewee.CharField(max_length=16)
        position = peewee.IntegerField(default=0)
        title = peewee.CharField(max_length=200)
        body = peewee.TextField(default="")
        section = peewee.CharField(max_length=100, default="")
        category = peewee.ForeignKeyField(Category, null=True, on_delete="SET NULL")
        nature = peewee.CharField(max_length=16, default="")
        max_points = peewee.DecimalField(max_digits=6, decimal_places=2, null=True)
        rule = JSONField(null=True)
        inputs = JSONField(null=True)
        method = peewee.TextField(default="")
        sources = peewee.TextField(default="")
        units_text = peewee.TextField(default="")
        units_inferred = peewee.BooleanField(default=False)

    class Assignment(Base):
        item = peewee.ForeignKeyField(Item, on_delete="CASCADE")
        unit = peewee.ForeignKeyField(Unit, on_delete="CASCADE")
        role = peewee.CharField(max_length=8, default="co")
        via_group = peewee.CharField(max_length=100, default="")
        deadline = peewee.DateField(null=True)
        status = peewee.CharField(max_length=8, default="open")
        progress = peewee.IntegerField(default=0)
        updated_at = UTCDateTimeField(null=True)
        done_at = UTCDateTimeField(null=True)

        class Meta:
            indexes = ((("item", "unit"), True),)

    class ProgressReport(Base):
        assignment = peewee.ForeignKeyField(Assignment, on_delete="CASCADE")
        wecom_userid = peewee.CharField(max_length=64)
        percent = peewee.IntegerField()
        note = peewee.TextField(default="")
        kind = peewee.CharField(max_length=16, default="progress")
        created_at = UTCDateTimeField()

    class Evidence(Base):
        item = peewee.ForeignKeyField(Item, null=True, on_delete="SET NULL")
        unit = peewee.ForeignKeyField(Unit, null=True, on_delete="SET NULL")
        assignment = peewee.ForeignKeyField(Assignment, null=True, on_delete="SET NULL")
        wecom_userid = peewee.CharField(max_length=64)
        original_name = peewee.CharField(max_length=255, default="")
        sha256 = peewee.CharField(max_length=64)
        size = peewee.BigIntegerField(default=0)
        content_type = peewee.CharField(max_length=100, default="")
        created_at = UTCDateTimeField()

    class ExtensionRequest(Base):
        assignment = peewee.ForeignKeyField(Assignment, on_delete="CASCADE")
        wecom_userid = peewee.CharField(max_length=64)
        old_deadline = peewee.DateField(null=True)
        requested_deadline = peewee.DateField()
        reason = peewee.TextField(default="")
        status = peewee.CharField(max_length=16, default="pending")
        decided_by = peewee.CharField(max_length=64, default="")
        decided_at = UTCDateTimeField(null=True)
        decision_note = peewee.TextField(default="")
        created_at = UTCDateTimeField()

    class Score(Base):
        item = peewee.ForeignKeyField(Item, on_delete="CASCADE")
        points = peewee.DecimalField(max_digits=6, decimal_places=2)
        reason = peewee.TextField(default="")
        source = peewee.CharField(max_length=16, default="office")
        wecom_userid = peewee.CharField(max_length=64, default="")
        created_at = UTCDateTimeField()

    class FigureReport(Base):
        item = peewee.ForeignKeyField(Item, on_delete="CASCADE")
        unit = peewee.ForeignKeyField(Unit, null=True, on_delete="SET NULL")
        wecom_userid = peewee.CharField(max_length=64)
        values = JSONField()
        created_at = UTCDateTimeField()

    class InboundMessage(Base):
        transport = peewee.CharField(max_length=16)
        external_id = peewee.CharField(max_length=128)
        wecom_userid = peewee.CharField(max_length=64)
        kind = peewee.CharField(max_length=16, default="text")
        text = peewee.TextField(default="")
        payload = JSONField(null=True)
        status = peewee.CharField(max_length=16, default="received")
        received_at = UTCDateTimeField()
        processed_at = UTCDateTimeField(null=True)

        class Meta:
            indexes = ((("transport", "external_id"), True),)

    class OutboxMessage(Base):
        dedupe_key = peewee.CharField(max_length=191, unique=True)
        channel = peewee.CharField(max_length=16)
        recipient = peewee.CharField(max_length=1000, default="")
        msg_type = peewee.CharField(max_length=16, default="text")
        content = JSONField()
        status = peewee.CharField(max_length=16, default="pending", index=True)
        attempts = peewee.IntegerField(default=0)
        lease_until = UTCDateTimeField(null=True)
        next_attempt_at = UTCDateTimeField(null=True)
        last_error = peewee.TextField(default="")
        created_at = UTCDateTimeField()
        sent_at = UTCDateTimeField(null=True)
        inbound = peewee.ForeignKeyField(InboundMessage, null=True, on_delete="SET NULL")

    class AuditEntry(Base):
        at = UTCDateTimeField(index=True)
        actor = peewee.CharField(max_length=64)
        action = peewee.CharField(max_length=32)
        item_code = peewee.CharField(max_length=8, default="", index=True)
        unit_name = peewee.CharField(max_length=100, default="", index=True)
        summary = peewee.TextField(default="")
        before = JSONField(null=True)
        after = JSONField(null=True)

    db.create_tables(
        [
            Unit,
            UnitGroup,
            GroupMember,
            Member,
            Category,
            Item,
            Assignment,
            ProgressReport,
            Evidence,
            ExtensionRequest,
            Score,
            FigureReport,
            InboundMessage,
            OutboxMessage,
            AuditEntry,
        ]
    )
