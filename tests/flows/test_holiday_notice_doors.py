"""The holiday notice through the real doors: a .docx uploaded on the sandbox page's API of a
running HTTP server, and a .docx sent in WeCom (fetched from the fake's media API by the
download threads), each previewed and then applied by 确认."""

from __future__ import annotations

import time
from datetime import date

import pytest
from conftest import START, make_config
from helpers import SandboxApi, running
from holiday_setup import OFF_2027, SAMPLE_2027, WORK_2027, docx
from wecom.test_downloads import send_file, texts_to
from wecom.test_downloads import wecom as wecom

from bot.pipeline import Incoming
from bot.services import build_services
from bot.transports.sandbox import SandboxTransport
from models.db import database
from models.schedule import CalendarDay, CalendarYear


@pytest.fixture
def server(tmp_path, db_url, clock, db):
    from bot.clock import OffsetClock

    config = make_config(tmp_path, db_url)
    db.close()  # every thread opens its own connection
    services = build_services(
        config, OffsetClock.starting_at(START, config.timezone), SandboxTransport()
    )
    with running(services) as base:
        yield SandboxApi(base)
    database.close()


def wait_for_reply(api, userid, needle, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, feed = api.call("feed?after_out=0&after_in=0")
        for msg in feed["outgoing"]:
            if userid in msg["recipients"] and needle in msg["text"]:
                return msg
        time.sleep(0.05)
    raise AssertionError(f"no reply to {userid} containing {needle!r}")


def test_a_docx_uploaded_in_the_sandbox_is_previewed_then_applied(server):
    fields = {"userid": "boss", "caption": "", "id": "n1"}
    status, body = server.upload(fields, "2027年节假日安排.docx", docx(SAMPLE_2027))
    assert status == 202 and body["ok"], body
    preview = wait_for_reply(server, "boss", "读到国务院 2027 年节假日安排")
    assert "· 春节：2月5日（星期五）至2月13日（星期六），9 天" in preview["text"]
    server.call("send", {"userid": "boss", "text": "确认", "id": "n2"})
    wait_for_reply(server, "boss", "已按国务院通知录入 2027 年节假日安排")
    with database.connection_context():
        assert CalendarYear.get_or_none(CalendarYear.year == 2027) is not None
        assert CalendarDay.get(CalendarDay.day == date(2027, 2, 20)).workday


def test_a_docx_sent_in_wecom_is_fetched_previewed_then_applied(wecom, fake):
    media_id = fake.add_media(
        docx(SAMPLE_2027),
        "2027年节假日安排.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    handled = wecom.pipeline.handle(
        Incoming(
            "wecom",
            "hn1",
            "boss",
            kind="file",
            payload={"media_id": media_id, "file_name": "2027年节假日安排.docx"},
        )
    )
    assert handled.reply is None, "answered when it is fetched"
    assert wecom.downloader.run_due() == 1
    wecom.sender.drain()
    (preview,) = texts_to(fake, "boss")
    assert "读到国务院 2027 年节假日安排" in preview and "4 天改为上班" in preview
    assert CalendarDay.select().count() == 0
    reply = wecom.pipeline.handle(Incoming("wecom", "hn2", "boss", text="确认")).reply
    assert "已按国务院通知录入 2027 年节假日安排" in reply
    assert CalendarDay.select().count() == OFF_2027 + len(WORK_2027)


def test_a_liaisons_pdf_in_wecom_is_still_evidence(wecom, fake):
    from wecom.test_downloads import PDF

    send_file(wecom, "hn3", fake.add_media(PDF, "检查报告.pdf", "application/pdf"))
    assert wecom.downloader.run_due() == 1
    wecom.sender.drain()
    assert any("已收到佐证材料" in t for t in texts_to(fake, "li"))
