"""The clock: the only caller of now(). Rules take `now` as an argument; tests move a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


class Clock:
    """Wall-clock time in the bot's time zone (aware datetimes)."""

    def __init__(self, tz: ZoneInfo):
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)


class OffsetClock(Clock):
    """Wall-clock time moved by a fixed offset: it runs forward like the real one.

    `run.py demo --at` / `serve --at` start the bot's time at a chosen moment; the web process
    passes the same offset to its worker, so both read the same time."""

    def __init__(self, tz: ZoneInfo, offset: timedelta):
        super().__init__(tz)
        self.offset = offset

    @classmethod
    def starting_at(cls, moment: datetime, tz: ZoneInfo) -> OffsetClock:
        start = moment if moment.tzinfo else moment.replace(tzinfo=tz)
        # In UTC: aware datetimes sharing a zone subtract as wall times (wrong across DST).
        return cls(tz, start.astimezone(UTC) - datetime.now(UTC))

    def now(self) -> datetime:
        return (datetime.now(UTC) + self.offset).astimezone(self.tz)


class FakeClock(Clock):
    """A clock that only moves when told to."""

    def __init__(self, start: datetime, tz: ZoneInfo | None = None):
        zone = tz or start.tzinfo or ZoneInfo("Asia/Shanghai")
        super().__init__(zone)  # type: ignore[arg-type]
        self._now = start if start.tzinfo else start.replace(tzinfo=tz)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when if when.tzinfo else when.replace(tzinfo=self.tz)

    def advance(self, **kwargs: float) -> None:
        self._now += timedelta(**kwargs)
