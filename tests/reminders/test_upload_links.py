"""The bot offers the upload page: when someone asks to upload (`上传`, or in their own words),
in the help, and in reminders for indicators the unit has no evidence for. Without
BOARD_BASE_URL the same answers say how to send files in chat instead."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from conftest import TZ, make_config
from helpers import ChatDriver

from bot.outbox import Outbox
from bot.pipeline import Incoming
from bot.services import build_services
from reminders.jobs import reminder_round
from reminders.stored import load_calendar

BASE = "https://duban.example.gov.cn"
UPLOAD = f"{BASE}/board/upload/"


def _bot(tmp_path, db_url, clock, **settings):
    from fakes.transport import RecordingTransport

    config = make_config(tmp_path, db_url, **settings)
    bot = ChatDriver(build_services(config, clock, RecordingTransport()))
    clock.set(datetime(2026, 10, 1, 10, 0, tzinfo=TZ))
    bot.bind("li", "市监局")
    bot.bind("wang", "县人民政府", "领导")
    assert "已设定" in bot.say("boss", "期限 T7 2026-10-09")
    assert "已设定" in bot.say("boss", "期限 Z3 2026-10-09")
    bot.deliver()
    return bot


def _reminder(bot, day: date) -> str:
    services = bot.services
    services.clock.set(datetime(day.year, day.month, day.day, 9, 30, tzinfo=TZ))
    reminder_round(
        services.clock.now(),
        services.config,
        load_calendar(),
        Outbox(services.clock),
        services.renderer,
    )
    sent = [m for m in bot.deliver() if "li" in m.recipients]
    assert len(sent) == 1
    return sent[0].content["text"]


@pytest.mark.parametrize(
    "words", ["上传", "upload", "怎么传文件", "文件发不过去", "PDF发不了怎么办", "在哪上传材料"]
)
def test_asking_to_upload_answers_with_the_link(tmp_path, db_url, db, clock, words):
    bot = _bot(tmp_path, db_url, clock, BOARD_BASE_URL=BASE)
    reply = bot.say("li", words)
    assert UPLOAD in reply and "20 MB" in reply, reply


def test_a_progress_report_mentioning_an_upload_is_not_taken_for_one(tmp_path, db_url, db, clock):
    bot = _bot(tmp_path, db_url, clock, BOARD_BASE_URL=BASE)
    assert UPLOAD not in bot.say("li", "T7 材料已上传")
    assert UPLOAD not in bot.say("li", "材料稍后上传")


def test_without_a_board_address_the_answer_says_how_to_send_in_chat(tmp_path, db_url, db, clock):
    bot = _bot(tmp_path, db_url, clock, BOARD_BASE_URL="", SANDBOX="0")
    reply = bot.say("li", "上传")
    assert "上传页面尚未开通" in reply and "说明里写上编号" in reply and "/board" not in reply


def test_a_leader_is_not_offered_the_upload_page(tmp_path, db_url, db, clock):
    bot = _bot(tmp_path, db_url, clock, BOARD_BASE_URL=BASE)
    assert UPLOAD not in bot.say("wang", "上传")


def test_the_help_mentions_the_upload_page(tmp_path, db_url, db, clock):
    bot = _bot(tmp_path, db_url, clock, BOARD_BASE_URL=BASE)
    reply = bot.say("li", "帮助")
    assert "发送“上传”打开上传页面" in reply and "上传" in reply


@pytest.mark.parametrize("base", [BASE, ""], ids=["with-board", "without-board"])
def test_a_reminder_names_indicators_without_evidence_and_gives_the_link(
    tmp_path, db_url, db, clock, base
):
    bot = _bot(tmp_path, db_url, clock, BOARD_BASE_URL=base)
    text = _reminder(bot, date(2026, 10, 9))
    z3 = next(line for line in text.splitlines() if "Z3" in line)
    t7 = next(line for line in text.splitlines() if "T7" in line)
    assert "缺佐证材料" in z3 and "缺佐证材料" not in t7  # a task is not an indicator
    if base:
        assert f"补交佐证材料（PDF、Word、照片）：{UPLOAD}" in text
    else:
        assert "补交佐证材料：发送文件或图片" in text and "/board" not in text


def test_once_the_indicator_has_evidence_the_reminder_stops_asking(tmp_path, db_url, db, clock):
    bot = _bot(tmp_path, db_url, clock, BOARD_BASE_URL=BASE)
    stored = bot.services.evidence.save(io.BytesIO(b"%PDF-1.4 z3"), "制度.pdf")
    handled = bot.services.pipeline.handle(
        Incoming("test", "file-z3", "li", kind="file", text="Z3 制度", file=stored)
    )
    assert "已归到 Z3" in (handled.reply or ""), handled.reply
    bot.deliver()
    text = _reminder(bot, date(2026, 10, 9))
    assert "缺佐证材料" not in text and UPLOAD not in text


def test_in_the_sandbox_the_answer_points_to_its_upload_button(tmp_path, db_url, db, clock):
    bot = _bot(tmp_path, db_url, clock, BOARD_BASE_URL="")
    assert "浏览器沙盒里选择人员后点“上传页面”按钮" in bot.say("li", "上传")
