"""The digest and the reminders link to the board's page for what they are about, and only when
the board has a public address (BOARD_BASE_URL): without one nothing changes."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from conftest import TZ, make_config
from helpers import ChatDriver

from bot.outbox import Outbox
from bot.render import markdown_to_text
from bot.services import build_services
from models.org import Unit
from reminders import digest
from reminders.jobs import reminder_round
from reminders.stored import load_calendar

BASE = "https://duban.example.gov.cn"


def _bot(tmp_path, db_url, clock, **settings):
    from fakes.transport import RecordingTransport

    config = make_config(tmp_path, db_url, **settings)
    bot = ChatDriver(build_services(config, clock, RecordingTransport()))
    clock.set(datetime(2026, 10, 1, 10, 0, tzinfo=TZ))
    bot.bind("li", "市监局")
    bot.bind("chief", "市监局", "负责人")
    assert "已设定" in bot.say("boss", "期限 T7 2026-10-09")
    bot.deliver()
    return bot


def _round(bot, day: date):
    services = bot.services
    services.clock.set(datetime(day.year, day.month, day.day, 9, 30, tzinfo=TZ))
    reminder_round(
        services.clock.now(),
        services.config,
        load_calendar(),
        Outbox(services.clock),
        services.renderer,
    )
    return bot.deliver()


@pytest.mark.parametrize("base", [BASE, ""], ids=["with-board", "without-board"])
def test_reminders_and_the_digest_link_to_the_board_when_it_has_an_address(
    tmp_path, db_url, db, clock, base
):
    bot = _bot(tmp_path, db_url, clock, BOARD_BASE_URL=base)
    unit = Unit.get(Unit.name == "县市场监管局")
    reminder = [m for m in _round(bot, date(2026, 10, 9)) if "li" in m.recipients]
    assert len(reminder) == 1
    card = reminder[0].content["card"]
    escalation = [m for m in _round(bot, date(2026, 10, 13)) if "chief" in m.recipients]
    assert len(escalation) == 1
    data = digest.build(clock.now(), bot.services.config, load_calendar())
    markdown = digest.render_markdown(data, bot.services.renderer)
    if base:
        page = f"{BASE}/board/unit/{unit.id}"
        assert reminder[0].content["text"].endswith(f"在看板查看：{page}")
        assert card["card_action"] == {"type": 1, "url": page}
        assert escalation[0].content["text"].endswith(f"在看板查看：{page}")
        assert f"]({BASE}/board/)" in markdown
        assert f"（{BASE}/board/）" in markdown_to_text(markdown)  # 周报 预览 in chat
    else:
        assert "看板" not in reminder[0].content["text"] and "card_action" not in card
        assert "看板" not in escalation[0].content["text"]
        assert "看板" not in markdown and "/board" not in markdown


def test_a_leaders_overdue_notice_links_to_the_assigned_page(tmp_path, db_url, db, clock):
    bot = _bot(tmp_path, db_url, clock, BOARD_BASE_URL=BASE)
    bot.bind("wang", "县人民政府", "领导")
    clock.set(datetime(2026, 10, 12, 10, 0, tzinfo=TZ))
    assert "已交办" in bot.say("wang", "交办 市监局 2026-10-14 整治直播带货乱象")
    bot.deliver()
    told = [m for m in _round(bot, date(2026, 10, 15)) if "wang" in m.recipients]
    assert len(told) == 1 and told[0].content["text"].endswith(f"在看板查看：{BASE}/board/assigned")
