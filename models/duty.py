"""Who does the deployment's single-instance work (issue 20): one sender and one scheduler
across processes and hosts, each under a lease in the database, and what was sent to each
member in the last hour (WeCom drops what exceeds 30 a minute and 1000 an hour per member,
whichever process sent it).

A lease is a row per duty: its holder renews it (UPDATE … WHERE holder = me) well within its
time to live; a holder that died is replaced once the lease ran out, within a minute. Renewing
is also the re-check after a reconnect: the UPDATE says whether the lease is still one's own.
Times are the bot's clock (the same on every host, as every lease in this database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee

from models.db import BaseModel, UTCDateTimeField

SENDER = "sender"
SCHEDULER = "scheduler"
TTL = timedelta(seconds=40)  # a dead holder's lease runs out after this…
RENEW_EVERY = timedelta(seconds=15)  # …and others look at least this often: taken within a minute


class DutyLease(BaseModel):
    name = peewee.CharField(max_length=32, unique=True)
    holder = peewee.CharField(max_length=191)  # host:pid:random, one per process and duty
    host = peewee.CharField(max_length=128, default="")
    pid = peewee.IntegerField(default=0)
    taken_at = UTCDateTimeField()
    renewed_at = UTCDateTimeField()
    expires_at = UTCDateTimeField()


class MemberSend(BaseModel):
    """Message parts sent to one member (by userid key) at one moment."""

    member = peewee.CharField(max_length=64)
    sent_at = UTCDateTimeField()
    parts = peewee.IntegerField(default=1)

    class Meta:
        indexes = ((("member", "sent_at"), False),)


@dataclass(frozen=True)
class Holder:
    holder: str  # "<place>:<pid>:<random>"
    host: str  # shown in /healthz and 自检
    pid: int
    # The worker lock this process runs under (host and data folder): a restarted worker of the
    # same place may take its dead predecessor's lease at once. "" for none.
    place: str = ""


def take_or_renew(
    name: str, me: Holder, now: datetime, ttl: timedelta = TTL, *, from_my_host: bool = False
) -> bool:
    """Hold the duty `name` until now + ttl: renew it if it is mine, take it if it is free or
    ran out (or, `from_my_host`, held by a process of this host that is known to be gone: a
    restarted worker). True while it is mine; False when another holds it (a lease I held and
    lost to another after it ran out included)."""
    expires = now + ttl
    free = (DutyLease.holder == me.holder) | (DutyLease.expires_at <= now)
    if from_my_host and me.place:
        free |= DutyLease.holder.startswith(f"{me.place}:")
    updated = (
        DutyLease.update(
            holder=me.holder,
            host=me.host,
            pid=me.pid,
            renewed_at=now,
            expires_at=expires,
            taken_at=peewee.Case(None, [(DutyLease.holder == me.holder, DutyLease.taken_at)], now),
        )
        .where((DutyLease.name == name) & free)
        .execute()
    )
    if updated:
        return True
    inserted = (
        DutyLease.insert(
            name=name,
            holder=me.holder,
            host=me.host,
            pid=me.pid,
            taken_at=now,
            renewed_at=now,
            expires_at=expires,
        )
        .on_conflict_ignore()
        .execute()
    )
    if not inserted:
        return False
    row = DutyLease.get_or_none(DutyLease.name == name)
    return row is not None and row.holder == me.holder


def give_up(name: str, me: Holder) -> None:
    """Let the duty go at once (a clean stop): another may take it without waiting."""
    DutyLease.delete().where((DutyLease.name == name) & (DutyLease.holder == me.holder)).execute()


def holders(now: datetime) -> dict[str, DutyLease]:
    """The live leases by duty name (ones that ran out left out)."""
    return {row.name: row for row in DutyLease.select().where(DutyLease.expires_at > now)}
