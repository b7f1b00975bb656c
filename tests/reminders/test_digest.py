"""The weekly digest: one per week whatever restarts happen, numbers that match the scores
entered, the change since last week, and delivery to the leading group with its chart."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest
from conftest import TZ

from bot.outbox import Outbox
from models.messages import OutboxMessage
from models.plan import Item
from models.schedule import DigestSnapshot
from reminders import digest
from reminders.stored import load_calendar


def publish_at(bot, when: datetime):
    """Publish as the scheduler would at `when`; the sender delivers at that moment too (a
    digest unsent after its week expires)."""
    s = bot.services
    clock = s.clock
    clock.set(when)
    result = digest.publish_if_due(
        clock.now(), s.config, load_calendar(), Outbox(clock), s.renderer
    )
    return result, bot.deliver()


@pytest.fixture
def scored(bot, clock):
    clock.set(datetime(2026, 10, 5, 10, 0, tzinfo=TZ))
    for item in Item.select().where(Item.kind == "indicator"):
        bot.say("boss", f"评分 {item.code} {item.max_points}")
    bot.say("boss", "评分 Z35 0")
    bot.say("boss", "评分 Z36 0")  # 综合保障 10/15 < 11.25: fails; total 95
    bot.deliver()
    return bot


def test_one_digest_a_week_on_its_first_working_day(scored):
    early, _ = publish_at(scored, datetime(2026, 10, 12, 8, 30, tzinfo=TZ))  # Monday before 09:00
    assert not early.published
    first, sent = publish_at(scored, datetime(2026, 10, 12, 9, 5, tzinfo=TZ))
    assert first.published and first.week == "2026-W42"
    group = [m for m in sent if m.channel == "group"]
    assert [m.msg_type for m in group] == ["markdown", "image"]
    text = group[0].content["text"]
    assert "预计得分 95 / 100" in text and "不合格" in text
    assert "综合保障：10/15（75% 线 11.25）" in text
    assert "Z36" in text and "+3 分" in text, "the gap to pass names what to score"
    png = base64.b64decode(group[1].content["png_b64"])
    assert png.startswith(b"\x89PNG")
    again, sent_again = publish_at(scored, datetime(2026, 10, 12, 15, 0, tzinfo=TZ))
    later, _ = publish_at(scored, datetime(2026, 10, 14, 9, 5, tzinfo=TZ))
    assert not again.published and not later.published and sent_again == []
    assert DigestSnapshot.select().count() == 1


def test_the_digest_at_any_moment(bot, campaign_clock):
    """Published at a working moment after DIGEST_AT (the week's first working day, or the day a
    missed one is caught up), under the moment's ISO week; never on a Sunday night; once."""
    result, sent = publish_at(bot, campaign_clock.at)
    assert result.published == campaign_clock.reminders_due
    assert result.week == campaign_clock.iso_week
    assert len([m for m in sent if m.channel == "group"]) == (2 if result.published else 0)
    again, sent_again = publish_at(bot, campaign_clock.plus(minutes=30))
    assert not again.published and sent_again == []
    data = digest.build(campaign_clock.at, bot.services.config, load_calendar())
    expected = campaign_clock.at.year + 1 if campaign_clock.next_year_missing else None
    assert data["calendar_warning"] == expected


def test_the_week_after_shows_the_change(scored, clock):
    publish_at(scored, datetime(2026, 10, 12, 9, 5, tzinfo=TZ))
    scored.say("boss", "评分 Z36 3")
    scored.say("boss", "评分 Z35 2")
    _, sent = publish_at(scored, datetime(2026, 10, 19, 9, 5, tzinfo=TZ))
    text = next(m.content["text"] for m in sent if m.msg_type == "markdown")
    assert "预计得分 100 / 100**（较上周 +5）" in text and "合格" in text
    assert '综合保障：15/15（75% 线 11.25）<font color="info">达标</font>（较上周 +5）' in text


def test_a_week_starting_on_a_holiday_waits_for_its_first_working_day(scored):
    # 2026-10-05 (Mon) … 10-07 are National Day holidays; the week's first working day is 10-08.
    result, _ = publish_at(scored, datetime(2026, 10, 5, 9, 5, tzinfo=TZ))
    assert not result.published
    result, _ = publish_at(scored, datetime(2026, 10, 8, 9, 5, tzinfo=TZ))
    assert result.published and result.week == "2026-W41"


def test_red_yellow_silent_units_and_ranking(bot, clock):
    clock.set(datetime(2026, 9, 1, 10, 0, tzinfo=TZ))
    bot.bind("li", "市监局")
    bot.bind("gx", "工信局")
    bot.say("boss", "期限 T7 2026-10-09")
    bot.say("boss", "期限 T5 2026-10-09")  # 工信局 alone
    bot.say("boss", "期限 T17 2026-10-16")
    clock.set(datetime(2026, 10, 8, 10, 0, tzinfo=TZ))
    bot.say("gx", "完成 T5")
    bot.deliver()
    clock.set(datetime(2026, 10, 12, 9, 5, tzinfo=TZ))
    data = digest.build(clock.now(), bot.services.config, load_calendar())
    red = {row["unit"]: row["items"] for row in data["items"]["red"]}
    assert red["县市场监管局"] == ["T7（逾期 2 个工作日）"]
    yellow_units = {row["unit"] for row in data["items"]["yellow"]}
    assert {"县工信科技局", "县市场监管局"} <= yellow_units  # T17 due within 3 working days
    assert "县市场监管局" in data["silent_units"] and "县工信科技局" not in data["silent_units"]
    ranking = {r["unit"]: (r["on_time"], r["due"]) for r in data["ranking"]}
    assert ranking["工信局"] == (1, 1) and ranking["市监局"] == (0, 1)
    assert data["ranking"][0]["unit"] == "工信局"


def test_preview_and_publish_from_chat(scored, clock):
    clock.set(datetime(2026, 10, 13, 10, 0, tzinfo=TZ))
    preview = scored.say("boss", "周报 预览")
    assert preview.startswith("【预览，尚未发布】") and "预计得分 95 / 100" in preview
    assert DigestSnapshot.select().count() == 0
    assert "已发布 2026-W42" in scored.say("boss", "周报 发布")
    assert "本周已于" in scored.say("boss", "周报 发布")
    assert len([m for m in scored.deliver() if m.channel == "group"]) == 2


def test_the_digest_fits_wecom_with_a_large_campaign(scored, clock):
    """Every unit late on everything: the markdown stays readable and within a few parts."""
    from bot.text import split_utf8

    clock.set(datetime(2026, 8, 1, 10, 0, tzinfo=TZ))
    for item in Item.select():
        scored.say("boss", f"期限 {item.code} 2026-09-01")
    scored.deliver()
    data = digest.build(
        datetime(2026, 10, 12, 9, 5, tzinfo=TZ),
        scored.services.config,
        load_calendar(),
    )
    text = digest.render_markdown(data, scored.services.renderer)
    assert data["items"]["red_count"] > 500
    assert len(split_utf8(text, 4096)) <= 2


def test_calendar_warning_names_the_year(scored):
    data = digest.build(
        datetime(2026, 12, 7, 9, 5, tzinfo=TZ), scored.services.config, load_calendar()
    )
    assert data["calendar_warning"] == 2027
    text = digest.render_markdown(data, scored.services.renderer)
    assert "2027 年的节假日安排" in text
    data = digest.build(
        datetime(2026, 11, 30, 9, 5, tzinfo=TZ),
        scored.services.config,
        load_calendar(),
    )
    assert data["calendar_warning"] is None, "not yet December"


def test_a_digest_unsent_in_its_week_expires_and_the_admins_hear_once(scored):
    from bot.transports.base import TransientSendError

    transport = scored.services.transport
    transport.failures = [TransientSendError("群机器人无法连接")] * 10_000
    result, sent = publish_at(scored, datetime(2026, 10, 12, 9, 5, tzinfo=TZ))
    assert result.published and sent == []
    rows = list(OutboxMessage.select().where(OutboxMessage.channel == "group"))
    assert {r.expires_at for r in rows} == {datetime(2026, 10, 19, 0, 0, tzinfo=TZ)}
    clock = scored.services.clock
    clock.set(datetime(2026, 10, 18, 23, 59, tzinfo=TZ))  # Sunday night: still worth it
    scored.deliver()
    assert {r.status for r in OutboxMessage.select().where(OutboxMessage.channel == "group")} == {
        "pending"
    }
    clock.set(datetime(2026, 10, 19, 0, 0, tzinfo=TZ))
    scored.deliver()
    assert {r.status for r in OutboxMessage.select().where(OutboxMessage.channel == "group")} == {
        "expired"
    }
    transport.failures = []
    clock.advance(minutes=1)
    told = [m.content["text"] for m in scored.deliver() if m.recipients == ("boss",)]
    assert len(told) == 1 and "2 条消息过了有效期" in told[0]
    assert "周报" in told[0] and "周报得分图" in told[0] and "领导小组群" in told[0]
