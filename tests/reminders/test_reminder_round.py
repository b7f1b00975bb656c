"""The reminder ladder on real calendars: the 2026 National Day holiday and its 调休 Saturday,
days off, quiet hours, reruns, and escalation to the unit head."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from conftest import TZ

from bot.clock import FakeClock
from bot.outbox import Outbox
from models.messages import OutboxMessage
from models.schedule import ReminderSent
from reminders.jobs import reminder_round
from reminders.stored import load_calendar


@pytest.fixture
def campaign(bot, clock):
    """T7 (市监局 alone) due Friday 2026-10-09, set in August; a liaison and a head bound."""
    clock.set(datetime(2026, 8, 20, 10, 0, tzinfo=TZ))
    bot.bind("li", "市监局")
    bot.bind("chief", "市监局", "负责人")
    assert "已设定" in bot.say("boss", "期限 T7 2026-10-09")
    bot.deliver()
    return bot


def run_day(bot, day: date, hour: int = 9):
    """The round at `day`, `hour`:05 (a round starts within 5 minutes of the hour); the sender delivers at that moment too."""
    services = bot.services
    clock = services.clock
    clock.set(datetime(day.year, day.month, day.day, hour, 5, tzinfo=TZ))  # after the start
    result = reminder_round(
        clock.now(), services.config, load_calendar(), Outbox(clock), services.renderer
    )
    return result, bot.deliver()


def test_the_ladder_around_national_day(campaign):
    days = [date(2026, 9, 14) + timedelta(days=n) for n in range(0, 33)]  # to 10-16
    got: dict[date, dict[str, list[str]]] = {}
    for day in days:
        _, sent = run_day(campaign, day)
        for message in sent:
            for userid in message.recipients:
                got.setdefault(day, {}).setdefault(userid, []).append(message.content["text"])
    liaison_days = sorted(d for d, who in got.items() if "li" in who)
    assert liaison_days == [
        date(2026, 9, 22),  # 7 working days before (the 25th–27th are Mid-autumn days off)
        date(2026, 9, 29),  # 3 working days before
        date(2026, 10, 8),  # 1 working day before: 10-01…07 are the National Day holiday
        date(2026, 10, 9),  # the day
        date(2026, 10, 10),  # 调休 Saturday: a working day, 1st overdue
        date(2026, 10, 12),
        date(2026, 10, 13),
        date(2026, 10, 14),
        date(2026, 10, 15),
        date(2026, 10, 16),
    ]
    head_days = sorted(d for d, who in got.items() if "chief" in who)
    assert head_days[0] == date(2026, 10, 13)  # the 3rd overdue working day
    assert all(len(msgs) == 1 for who in got.values() for msgs in who.values()), "one a day"
    assert "还有 7 个工作日" in got[date(2026, 9, 22)]["li"][0]
    assert "今天到期" in got[date(2026, 10, 9)]["li"][0]
    assert (
        "【红】" in got[date(2026, 10, 10)]["li"][0]
        and "已逾期 1 个工作日" in got[date(2026, 10, 10)]["li"][0]
    )
    assert not any(date(2026, 10, 1) <= d <= date(2026, 10, 7) for d in got)
    assert date(2026, 10, 11) not in got  # Sunday


def test_a_round_at_any_moment(bot, clock, campaign_clock):
    """T7 due on the moment's day: reminded that day at a working moment, skipped (with the
    reason) on a Sunday night; a rerun sends nothing."""
    clock.set(campaign_clock.plus(days=-30))
    bot.bind("li", "市监局")
    bot.say("boss", f"期限 T7 {campaign_clock.at.date()}")
    bot.deliver()
    services = bot.services
    at = FakeClock(campaign_clock.at)

    def run_round():
        return reminder_round(
            at.now(), services.config, load_calendar(), Outbox(at), services.renderer
        )

    result = run_round()
    sent = bot.deliver()
    if campaign_clock.reminders_due:
        assert not result.skipped and result.items == 1
        assert [m.recipients for m in sent] == [("li",)]
        assert "T7" in sent[0].content["text"]
    else:
        assert result.skipped and result.items == 0 and sent == []
    assert result.day == campaign_clock.at.date()
    again = run_round()
    assert again.items == 0 and bot.deliver() == []


def test_a_rerun_and_a_restart_send_nothing_twice(campaign):
    first, sent = run_day(campaign, date(2026, 10, 9))
    assert first.messages == 1 and len(sent) == 1
    again, sent_again = run_day(campaign, date(2026, 10, 9), hour=15)  # a restart in the afternoon
    assert again.items == 0 and sent_again == []
    assert ReminderSent.select().where(ReminderSent.day == date(2026, 10, 9)).count() == 1


def test_nothing_before_the_hour_nor_in_quiet_hours_but_caught_up_later(campaign):
    early, _ = run_day(campaign, date(2026, 10, 9), hour=7)
    assert early.skipped and early.items == 0
    late, _ = run_day(campaign, date(2026, 10, 9), hour=22)
    assert late.skipped == "免打扰时段"
    caught_up, sent = run_day(campaign, date(2026, 10, 9), hour=14)
    assert caught_up.messages == 1 and "今天到期" in sent[0].content["text"]


def test_done_items_drop_out_and_an_extension_moves_the_deadline(campaign, clock):
    clock.set(datetime(2026, 9, 30, 10, 0, tzinfo=TZ))
    campaign.say("li", "延期 T7 2026-10-30 等待上级文件")
    from models.progress import ExtensionRequest

    campaign.say("boss", f"批准 {ExtensionRequest.get().id}")
    campaign.deliver()
    _, sent = run_day(campaign, date(2026, 10, 9))
    assert sent == [], "the old deadline no longer counts"
    campaign.say("li", "完成 T7")
    campaign.deliver()
    _, sent = run_day(campaign, date(2026, 10, 30))
    assert sent == []


def test_one_message_per_person_ordered_by_points_at_stake(bot, clock):
    clock.set(datetime(2026, 8, 20, 10, 0, tzinfo=TZ))
    bot.bind("li", "市监局")
    for code in ("T7", "Z27", "Z11"):  # Z11 is worth 3, Z27 2, T7 no points
        bot.say("boss", f"期限 {code} 市监局 2026-10-09")
    bot.deliver()
    _, sent = run_day(bot, date(2026, 10, 9))
    assert len(sent) == 1
    text = sent[0].content["text"]
    assert text.index("Z11") < text.index("Z27") < text.index("T7 ")
    assert sent[0].msg_type == "card" and sent[0].content["card"]["task_id"]


def test_units_without_a_liaison_are_counted_and_not_marked_sent(bot, clock):
    clock.set(datetime(2026, 8, 20, 10, 0, tzinfo=TZ))
    bot.say("boss", "期限 T7 2026-10-09")
    bot.deliver()
    result, sent = run_day(bot, date(2026, 10, 9))
    assert sent == [] and result.units_without_liaison == {"县市场监管局"}
    bot.bind("li", "市监局")
    bot.deliver()
    _, sent = run_day(bot, date(2026, 10, 9), hour=11)
    assert len(sent) == 1, "bound later the same day: still reminded"


def test_january_2027_falls_back_to_weekdays(bot, clock):
    clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=TZ))
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2027-01-12")  # a Tuesday, past the package's data
    bot.deliver()
    _, sent = run_day(bot, date(2027, 1, 11))  # Monday: 1 working day before
    assert len(sent) == 1 and "还有 1 个工作日" in sent[0].content["text"]
    _, sent = run_day(bot, date(2027, 1, 9))  # Saturday
    assert sent == []
    assert OutboxMessage.select().count() > 0


def test_a_reminder_unsent_by_the_evening_expires_and_the_admins_hear_once(campaign):
    """A reminder matters on its day: one WeCom could not take before the quiet hours begin
    (21:00) expires, and the office is told; the next step of the ladder comes on its day."""
    from bot.transports.base import TransientSendError

    transport = campaign.services.transport
    transport.failures = [TransientSendError("无法连接企业微信")] * 10_000
    result, sent = run_day(campaign, date(2026, 9, 22))
    assert result.items == 1 and sent == []
    (row,) = OutboxMessage.select().where(OutboxMessage.dedupe_key.startswith("remind:"))
    assert row.expires_at == datetime(2026, 9, 22, 21, 0, tzinfo=TZ)
    clock = campaign.services.clock
    while clock.now() < datetime(2026, 9, 22, 20, 50, tzinfo=TZ):  # WeCom down all day
        clock.advance(minutes=10)
        campaign.deliver()
    assert OutboxMessage.get_by_id(row.id).status == "pending"
    clock.set(datetime(2026, 9, 22, 21, 0, tzinfo=TZ))
    campaign.deliver()
    assert OutboxMessage.get_by_id(row.id).status == "expired"
    transport.failures = []
    clock.advance(minutes=1)
    told = [m for m in campaign.deliver() if m.recipients == ("boss",)]
    assert (
        len(told) == 1 and "提醒" in told[0].content["text"] and "→ li" in told[0].content["text"]
    )
    _, next_day = run_day(campaign, date(2026, 9, 23))
    assert next_day == [] and OutboxMessage.get_by_id(row.id).status == "expired"
    _, later = run_day(campaign, date(2026, 9, 29))
    assert [m.recipients for m in later] == [("li",)], "the ladder's next step as usual"


def test_a_reminders_day_ends_when_quiet_hours_begin_or_at_midnight(campaign):
    from reminders.jobs import reminder_expiry

    config = campaign.services.config
    assert reminder_expiry(datetime(2026, 9, 22, 9, 0, tzinfo=TZ), config) == datetime(
        2026, 9, 22, 21, 0, tzinfo=TZ
    )
    # QUIET_HOURS could start after midnight: the day still ends at midnight.
    from dataclasses import replace
    from datetime import time

    late = replace(config, quiet_start=time(0, 30), quiet_end=time(7, 0))
    assert reminder_expiry(datetime(2026, 9, 22, 9, 0, tzinfo=TZ), late) == datetime(
        2026, 9, 23, 0, 0, tzinfo=TZ
    )
