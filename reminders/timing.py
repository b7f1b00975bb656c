"""When a scheduled round really starts: a random second within the first minutes after the set
time, never on the :00 mark (WeCom asks apps to keep big sends off :00 and :30, when every
other app sends). Pure: the second is drawn from the day, so every process and every tick of one
day agree, and the next day draws another."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta, tzinfo

EARLIEST = 60  # seconds after the set time: never within its :00 minute
LATEST = 300  # exclusive: within the first five minutes


def offset(day: date, kind: str) -> timedelta:
    """The day's delay for rounds of `kind` ("remind", "digest"): EARLIEST ≤ s < LATEST."""
    digest = hashlib.sha256(f"{kind}:{day.isoformat()}".encode()).digest()
    return timedelta(seconds=EARLIEST + int.from_bytes(digest[:4], "big") % (LATEST - EARLIEST))


def starts_at(day: date, at: time, kind: str, tz: tzinfo) -> datetime:
    """When the `kind` round of `day`, set for `at` (local time), starts."""
    return datetime.combine(day, at, tzinfo=tz) + offset(day, kind)
