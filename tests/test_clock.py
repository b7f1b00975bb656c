"""The clocks: an offset clock starts where it is told and runs forward with the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from conftest import START, TZ

from bot.clock import OffsetClock


def test_an_offset_clock_starts_at_its_moment_and_runs_forward():
    clock = OffsetClock.starting_at(START, TZ)
    first = clock.now()
    assert START <= first < START + timedelta(seconds=5) and first.tzinfo == TZ
    assert clock.now() >= first
    # The same offset (what the web process hands its worker) reads the same time.
    twin = OffsetClock(TZ, clock.offset)
    assert abs(twin.now() - clock.now()) < timedelta(seconds=1)


def test_the_offset_is_absolute_time_whatever_daylight_saving_says():
    # One of these is on the other side of a DST change from today, whenever the suite runs
    # (aware datetimes in one zone subtract as wall times: an hour off across the change).
    new_york = ZoneInfo("America/New_York")
    for start in (
        datetime(2026, 7, 1, 9, 0, tzinfo=new_york),
        datetime(2026, 12, 1, 9, 0, tzinfo=new_york),
    ):
        clock = OffsetClock.starting_at(start, new_york)
        assert abs(clock.now().astimezone(UTC) - start.astimezone(UTC)) < timedelta(seconds=5)
        assert clock.now().utcoffset() == start.utcoffset()
