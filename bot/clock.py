"""The clock: the only caller of now(). Rules take `now` as an argument; tests move a fake clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


class Clock:
    """Wall-clock time in the bot's time zone (aware datetimes)."""

    def __init__(self, tz: ZoneInfo):
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)


class FakeClock(Clock):
    """A clock that only moves when told to."""

    def __init__(self, start: datetime, tz: ZoneInfo | None = None):
        tz = tz or start.tzinfo or ZoneInfo("Asia/Shanghai")
        super().__init__(tz)  # type: ignore[arg-type]
        self._now = start if start.tzinfo else start.replace(tzinfo=tz)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when if when.tzinfo else when.replace(tzinfo=self.tz)

    def advance(self, **kwargs: float) -> None:
        self._now += timedelta(**kwargs)
