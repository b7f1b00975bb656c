"""One sender and one scheduler across processes and hosts, each under a lease, and the parts
sent to each member lately, counted whichever process sent them (issue 20)."""

from __future__ import annotations

import peewee


class UTCDateTimeField(peewee.DateTimeField):
    """Frozen here: a timestamp column (naive UTC), as models/db.py's field stored it then."""


def up(db: peewee.Database) -> None:
    class Base(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class DutyLease(Base):
        name = peewee.CharField(max_length=32, unique=True)
        holder = peewee.CharField(max_length=191)
        host = peewee.CharField(max_length=128, default="")
        pid = peewee.IntegerField(default=0)
        taken_at = UTCDateTimeField()
        renewed_at = UTCDateTimeField()
        expires_at = UTCDateTimeField()

    class MemberSend(Base):
        member = peewee.CharField(max_length=64)
        sent_at = UTCDateTimeField()
        parts = peewee.IntegerField(default=1)

        class Meta:
            indexes = ((("member", "sent_at"), False),)

    db.create_tables([DutyLease, MemberSend])
