"""The scheduler as a ticker: one per deployment, explicit time zone, ticks that are idempotent."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest
from conftest import PG_URL, TZ

from bot.clock import FakeClock
from models.schedule import DigestSnapshot, ReminderSent
from reminders.scheduler import CampaignScheduler, SchedulerLock, tick


def test_two_schedulers_started_at_once_only_one_runs(tmp_path, db_url):
    first, second = SchedulerLock(tmp_path, db_url), SchedulerLock(tmp_path, db_url)
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire(), "the lock is free again once its holder is gone"
    second.release()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL advisory lock: set TEST_DATABASE_URL")
def test_two_machines_on_postgresql_only_one_runs(tmp_path, db_url):
    # Different data dirs stand for different machines: only the advisory lock is shared.
    a, b = SchedulerLock(tmp_path / "a", db_url), SchedulerLock(tmp_path / "b", db_url)
    assert a.acquire()
    assert not b.acquire()
    a.release()
    assert b.acquire()
    b.release()


def test_a_tick_does_what_is_due_and_a_second_tick_nothing(bot, services, clock):
    clock.set(datetime(2026, 8, 20, 10, 0, tzinfo=TZ))
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2026-10-09")
    bot.deliver()
    clock.set(datetime(2026, 10, 12, 9, 5, tzinfo=TZ))  # Monday: overdue reminder and the digest
    tick(services.scheduler_parts())
    sent = bot.deliver()
    assert {m.channel for m in sent} == {"member", "group"}
    assert ReminderSent.select().count() == 1 and DigestSnapshot.select().count() == 1
    clock.advance(minutes=1)
    tick(services.scheduler_parts())
    assert bot.deliver() == []


def test_a_tick_at_any_moment_does_what_is_due_then_nothing(bot, services, clock, campaign_clock):
    """T7 due on the moment's day, set a month before: a working day after 09:00 sends the day's
    reminder and the week's digest (with the calendar warning in December); a
    Sunday night sends nothing. Either way a second tick sends nothing."""
    clock.set(campaign_clock.plus(days=-30))
    bot.bind("li", "市监局")
    bot.say("boss", f"期限 T7 {campaign_clock.at.date()}")
    bot.deliver()
    clock.set(campaign_clock.at)
    tick(services.scheduler_parts())
    sent = bot.deliver()
    due = campaign_clock.reminders_due
    assert ReminderSent.select().count() == (1 if due else 0)
    assert DigestSnapshot.select().count() == (1 if due else 0)
    to_li = [m for m in sent if m.recipients == ("li",)]
    assert len(to_li) == (1 if due else 0) and all("T7" in m.content["text"] for m in to_li)
    assert len([m for m in sent if m.channel == "group"]) == (2 if due else 0)  # text and chart
    next_year = str(campaign_clock.at.year + 1)
    warned = [m for m in sent if m.recipients == ("boss",) and next_year in m.content["text"]]
    assert len(warned) == (1 if due and campaign_clock.next_year_missing else 0)
    clock.advance(minutes=1)
    tick(services.scheduler_parts())
    assert bot.deliver() == []


def test_the_host_time_zone_does_not_matter(bot, services, clock):
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        clock.set(datetime(2026, 8, 20, 2, 0, tzinfo=UTC))
        bot.bind("li", "市监局")
        bot.say("boss", "期限 T7 2026-10-09")
        bot.deliver()
        clock.set(datetime(2026, 10, 9, 1, 30, tzinfo=UTC))  # 09:30 in Shanghai, 01:30 on the host
        tick(services.scheduler_parts())
        assert any("今天到期" in m.content["text"] for m in bot.deliver())
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


def test_the_trigger_carries_the_bot_time_zone(services):
    services.clock = FakeClock(datetime(2026, 11, 26, 3, 0, tzinfo=TZ))
    scheduler = CampaignScheduler(services.scheduler_parts())
    job = scheduler.scheduler.get_job("tick")
    assert str(job.trigger.timezone) == "Asia/Shanghai"
    assert job.max_instances == 1 and job.coalesce


def test_admins_hear_weekly_that_next_years_calendar_is_missing(bot, services, clock):
    clock.set(datetime(2026, 12, 7, 9, 5, tzinfo=TZ))  # the first Monday of December
    tick(services.scheduler_parts())
    warnings = [
        m for m in bot.deliver() if "2027 年" in m.content.get("text", "") and m.channel == "member"
    ]
    assert [m.recipients for m in warnings] == [("boss",)]
    assert "全文粘贴发给我" in warnings[0].content["text"]
    clock.advance(hours=2)
    tick(services.scheduler_parts())
    assert not [m for m in bot.deliver() if "2027 年" in m.content.get("text", "")]
    bot.say("boss", "日历 2027-01-01 休 元旦")
    bot.deliver()
    clock.set(datetime(2026, 12, 14, 9, 5, tzinfo=TZ))  # next week: one day entered is not enough
    tick(services.scheduler_parts())
    assert [m for m in bot.deliver() if "尚未录入 2027" in m.content.get("text", "")]
    assert "已标记" in bot.say("boss", "日历 2027 已录入")
    bot.deliver()
    clock.set(datetime(2026, 12, 21, 9, 5, tzinfo=TZ))  # the week after: the year is marked
    tick(services.scheduler_parts())
    assert not [m for m in bot.deliver() if "尚未录入 2027" in m.content.get("text", "")]
