"""The platform's error codes the sender has met lately, kept in the database (KeyValue) so
every process shares them: 自检 names each, and a code a person must act on is told to the
admins at most once an hour whichever process met it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from models.db import is_postgres
from models.messages import KeyValue

PREFIX = "send-error:"
TELL_EVERY = timedelta(hours=1)
KEEP = timedelta(days=7)


@dataclass(frozen=True)
class Seen:
    errcode: int
    count: int
    first_at: datetime
    last_at: datetime
    told_at: datetime | None


def note(errcode: int | None, now: datetime, *, tell: bool) -> Seen:
    """Count one more `errcode` (inside the caller's transaction); `told_at` is `now` when the
    admins are to be told now (`tell`, and not told within the hour)."""
    code = int(errcode or 0)
    key = f"{PREFIX}{code}"
    query = KeyValue.select().where(KeyValue.key == key)
    if is_postgres():
        query = query.for_update()  # two senders meeting the code at once: one tells
    row = query.first()
    old = _read(code, row.value) if row is not None else None
    told_at = old.told_at if old is not None else None
    if tell and (told_at is None or now - told_at >= TELL_EVERY):
        told_at = now
    seen = Seen(
        code,
        (old.count if old is not None else 0) + 1,
        old.first_at if old is not None else now,
        now,
        told_at,
    )
    value = json.dumps(
        {
            "count": seen.count,
            "first": seen.first_at.isoformat(),
            "last": now.isoformat(),
            "told": told_at.isoformat() if told_at else None,
        }
    )
    if row is None:
        KeyValue.insert(key=key, value=value, expires_at=now + KEEP).on_conflict(
            conflict_target=[KeyValue.key],
            update={KeyValue.value: value, KeyValue.expires_at: now + KEEP},
        ).execute()
    else:
        KeyValue.update(value=value, expires_at=now + KEEP).where(KeyValue.key == key).execute()
    return seen


def recent(now: datetime) -> list[Seen]:
    """The codes met within the last 7 days, the latest first."""
    rows = KeyValue.select().where(KeyValue.key.startswith(PREFIX) & (KeyValue.expires_at > now))
    seen = [_read(int(r.key.removeprefix(PREFIX)), r.value) for r in rows]
    return sorted(seen, key=lambda s: s.last_at, reverse=True)


def _read(code: int, value: str) -> Seen:
    data = json.loads(value)
    told = data.get("told")
    return Seen(
        code,
        int(data.get("count", 0)),
        datetime.fromisoformat(data["first"]),
        datetime.fromisoformat(data["last"]),
        datetime.fromisoformat(told) if told else None,
    )
