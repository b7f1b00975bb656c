"""Messages in and out: the inbound table (a replay is a no-op) and the outbox (every send)."""

from __future__ import annotations

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


class OutboxMessage(BaseModel):
    """One message to send. Written in the transaction of the change that caused it."""

    dedupe_key = peewee.CharField(max_length=191, unique=True)
    channel = peewee.CharField(max_length=16)  # member | group
    recipient = peewee.CharField(max_length=1000, default="")  # "a|b" userids, or "" for group
    msg_type = peewee.CharField(max_length=16, default="text")  # text | markdown | card
    content = JSONField()
    status = peewee.CharField(max_length=16, default="pending", index=True)
    attempts = peewee.IntegerField(default=0)
    lease_until = UTCDateTimeField(null=True)
    next_attempt_at = UTCDateTimeField(null=True)
    last_error = peewee.TextField(default="")
    created_at = UTCDateTimeField()
    sent_at = UTCDateTimeField(null=True)
    inbound = peewee.ForeignKeyField(InboundMessage, null=True, on_delete="SET NULL")
    result = JSONField(null=True)  # what the platform answered: msgid, invalid recipients…


class KeyValue(BaseModel):
    """Small shared state with an expiry (the WeCom access token), shared by all processes."""

    key = peewee.CharField(max_length=191, primary_key=True)
    value = peewee.TextField()
    expires_at = UTCDateTimeField(null=True)


class MediaDownload(BaseModel):
    """A file a person sent whose bytes are still to be fetched (WeCom media ids live 3 days)."""

    inbound = peewee.ForeignKeyField(InboundMessage, unique=True, on_delete="CASCADE")
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
    kind = peewee.CharField(max_length=16)  # nudge | reminder
    wecom_userid = peewee.CharField(max_length=64)
    item_codes = peewee.TextField(default="")  # "T7|Z3"
    clicked_key = peewee.CharField(max_length=32, default="")
    clicked_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField()
