"""Messages in and out: the inbound table (a replay is a no-op) and the outbox (every send)."""

from __future__ import annotations

from typing import ClassVar

import peewee

from models.db import BaseModel, JSONField, UTCDateTimeField


class InboundMessage(BaseModel):
    """A message received by any transport; (transport, external_id) is the dedupe key."""

    transport = peewee.CharField(max_length=16)
    external_id = peewee.CharField(max_length=128)
    wecom_userid = peewee.CharField(max_length=64)
    kind = peewee.CharField(max_length=16, default="text")  # text | file | image | event
    text = peewee.TextField(default="")
    payload = JSONField(null=True)
    status = peewee.CharField(max_length=16, default="received")  # received|processing|done|failed
    received_at = UTCDateTimeField()
    processed_at = UTCDateTimeField(null=True)
    # While "processing": when the claim of a worker that died lapses.
    lease_until = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("transport", "external_id"), True),)

    _INSERT_FIELDS: ClassVar[tuple[str, ...]] = (
        "transport",
        "external_id",
        "wecom_userid",
        "kind",
        "text",
        "payload",
        "received_at",
        "status",
        "lease_until",
    )
    _insert_sql: ClassVar[dict[str, str]] = {}

    @classmethod
    def record(cls, **values) -> int | None:
        """Insert once; None if (transport, external_id) is there already.

        This is the callback's hot path: the statement is compiled once per database rather than
        built by peewee on every request (that took most of the time of an acknowledgement)."""
        with cls._meta.database.atomic():
            return cls.insert_returning_id(values)

    @classmethod
    def insert_returning_id(cls, values: dict) -> int | None:
        """The insert itself, inside the caller's transaction."""
        db = cls._meta.database
        # peewee writes the columns in the model's field order: keep the parameters in it too.
        names = [f.name for f in cls._meta.sorted_fields if f.name in cls._INSERT_FIELDS]
        key = type(db.obj).__name__
        sql = cls._insert_sql.get(key)
        if sql is None:
            template = (
                cls.insert(**{name: None for name in names}).on_conflict_ignore().returning(cls.id)
            )
            sql = db.get_sql_context().sql(template).query()[0]
            cls._insert_sql[key] = sql
        fields = cls._meta.fields
        params = [fields[name].db_value(values.get(name)) for name in names]
        row = db.execute_sql(sql, params).fetchone()
        return row[0] if row else None

    @classmethod
    def insert_all_ignoring(cls, rows: list[dict]) -> None:
        """Many inserts in one statement's loop (the driver's executemany), inside the caller's
        transaction; a row that is there already is skipped. Nobody learns the ids."""
        if not rows:
            return
        db = cls._meta.database
        names = [f.name for f in cls._meta.sorted_fields if f.name in cls._INSERT_FIELDS]
        key = "many:" + type(db.obj).__name__
        sql = cls._insert_sql.get(key)
        if sql is None:
            template = cls.insert(**{name: None for name in names}).on_conflict_ignore()
            sql = db.get_sql_context().sql(template).query()[0]
            cls._insert_sql[key] = sql
        fields = cls._meta.fields
        params = [[fields[name].db_value(values.get(name)) for name in names] for values in rows]
        db.cursor().executemany(sql, params)


class OutboxMessage(BaseModel):
    """One message to send. Written in the transaction of the change that caused it."""

    dedupe_key = peewee.CharField(max_length=191, unique=True)
    channel = peewee.CharField(max_length=16)  # member | group
    recipient = peewee.CharField(max_length=1000, default="")  # "a|b" userids, or "" for group
    msg_type = peewee.CharField(max_length=16, default="text")  # text | markdown | card
    content = JSONField()
    # pending | sending | sent | failed (permanent error) | expired (too old to matter) |
    # merged (carried by another row's message, see bot/outbox.py; sent when that one is)
    status = peewee.CharField(max_length=16, default="pending", index=True)
    attempts = peewee.IntegerField(default=0)
    lease_until = UTCDateTimeField(null=True)
    next_attempt_at = UTCDateTimeField(null=True)
    last_error = peewee.TextField(default="")
    created_at = UTCDateTimeField()
    sent_at = UTCDateTimeField(null=True)
    inbound = peewee.ForeignKeyField(InboundMessage, null=True, on_delete="SET NULL")
    inbound_id: int | None
    result = JSONField(null=True)  # what the platform answered: msgid, invalid recipients…
    # Not worth sending after this (a reminder after its day); None: OUTBOX_MAX_AGE_HOURS after
    # created_at. A row still unsent then is marked expired and the admins are told.
    expires_at = UTCDateTimeField(null=True)
    failed_at = UTCDateTimeField(null=True)  # when it was marked failed or expired


class KeyValue(BaseModel):
    """Small shared state with an expiry (the WeCom access token), shared by all processes."""

    key = peewee.CharField(max_length=191, primary_key=True)
    value = peewee.TextField()
    expires_at = UTCDateTimeField(null=True)


class MediaDownload(BaseModel):
    """A file a person sent whose bytes are still to be fetched (WeCom media ids live 3 days)."""

    inbound = peewee.ForeignKeyField(InboundMessage, unique=True, on_delete="CASCADE")
    inbound_id: int
    media_id = peewee.CharField(max_length=255)
    file_name = peewee.CharField(max_length=255, default="")
    wecom_userid = peewee.CharField(max_length=64)
    status = peewee.CharField(max_length=16, default="pending", index=True)  # pending|done|failed
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = UTCDateTimeField(null=True)
    expires_at = UTCDateTimeField()
    last_error = peewee.TextField(default="")
    admins_told = peewee.BooleanField(default=False)
    created_at = UTCDateTimeField()


class InteractiveCard(BaseModel):
    """A button card sent to someone (催办, reminders), and what they clicked."""

    task_id = peewee.CharField(max_length=128, unique=True)
    outbox = peewee.ForeignKeyField(OutboxMessage, null=True, on_delete="SET NULL")
    outbox_id: int | None
    kind = peewee.CharField(max_length=16)  # nudge | reminder
    wecom_userid = peewee.CharField(max_length=64)
    item_codes = peewee.TextField(default="")  # "T7|Z3"
    clicked_key = peewee.CharField(max_length=32, default="")
    clicked_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField()
