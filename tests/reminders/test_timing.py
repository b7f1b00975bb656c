"""Scheduled rounds start at a random second within the first minutes after the set time, never
on the :00 mark (issue 20, point 4); every tick of one day agrees on it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from conftest import TZ

from models.messages import OutboxMessage
from reminders import timing
from reminders.scheduler import tick


def test_the_start_is_a_drawn_second_after_the_hour_never_on_the_mark():
    day = date(2026, 1, 1)
    starts = [
        timing.starts_at(day + timedelta(days=n), time(9, 0), "remind", TZ) for n in range(730)
    ]
    assert all(
        datetime.combine(s.date(), time(9, 1), tzinfo=TZ)
        <= s
        < datetime.combine(s.date(), time(9, 5), tzinfo=TZ)
        for s in starts
    )
    assert len({(s.minute, s.second) for s in starts}) > 150, "spread, not one second"
    assert timing.offset(day, "remind") == timing.offset(day, "remind"), "one day, one second"


def test_ticks_every_few_seconds_send_nothing_before_the_drawn_second(bot, services, clock):
    """The scheduler ticking from 08:59:53 every 7 seconds: the day's reminder and digest are
    written only once their second has come, and never in the hour's first minute."""
    clock.set(datetime(2026, 8, 20, 10, 0, tzinfo=TZ))
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2026-10-09")
    bot.deliver()
    day = date(2026, 10, 12)  # a Monday: an overdue reminder and the week's digest
    clock.set(datetime(2026, 10, 12, 8, 59, 53, tzinfo=TZ))
    written: dict[str, datetime] = {}
    while clock.now() < datetime(2026, 10, 12, 9, 6, tzinfo=TZ):
        tick(services.scheduler_parts())
        for row in OutboxMessage.select():
            kind = row.dedupe_key.split(":")[0]  # remind:… and digest:… (its chart digest-chart:…)
            written.setdefault(kind, clock.now())
        clock.advance(seconds=7)
    for kind in ("remind", "digest"):
        start = timing.starts_at(day, time(9, 0), kind, TZ)
        assert start <= written[kind] < start + timedelta(seconds=7), kind
        assert written[kind] >= datetime(2026, 10, 12, 9, 1, tzinfo=TZ)
