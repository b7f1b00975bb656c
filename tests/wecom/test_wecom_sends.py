"""Sends as WeCom takes them (issue 20, point 4), against the stricter fake over real HTTP:
each part of a group message posted once (the robot and app chats have no duplicate check);
a send whose answer never came is not retried blindly, the admins are told and 重发 re-posts
it; the digest once a week; an uploaded file's media_id reused while it lives, so a retry is
the same message and WeCom's duplicate check catches it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fakes.wecom_server import Fault
from helpers import ChatDriver
from wecom_setup import paced_by, wecom_config

from bot.outbox import Outbox
from bot.outbox.parts import RowParts
from bot.services import build_services
from models.messages import OutboxMessage
from models.schedule import DigestSnapshot
from reminders.digest import publish
from reminders.stored import load_calendar

SEND = "/cgi-bin/message/send"
HOOK = "/cgi-bin/webhook/send"
LONG = "# 周报\n" + "\n".join(f"> 第{i}行 " + "县" * 40 for i in range(60))  # 2 robot parts


@pytest.fixture
def wecom(tmp_path, db_url, db, fake, clock):
    fake.clock = lambda: clock.now().timestamp()
    services = build_services(wecom_config(tmp_path, db_url, fake), clock)
    return paced_by(services, clock)


def posted(fake) -> list[str]:
    return [m["markdown"]["content"] for m in fake.webhook_messages if m["msgtype"] == "markdown"]


def notices(word: str) -> list[str]:
    rows = OutboxMessage.select().where(OutboxMessage.dedupe_key.startswith("send-notice:"))
    return [r.content["text"] for r in rows if word in r.content["text"]]


def test_a_part_that_failed_for_sure_is_retried_and_the_one_before_is_not_posted_again(
    wecom, fake, clock
):
    Outbox(clock).to_group(LONG, "g")
    fake.fail(HOOK, Fault.ok(), Fault.err(-1))
    assert wecom.sender.drain().retried == 1
    clock.advance(minutes=2)
    assert wecom.sender.drain().sent == 1
    parts = posted(fake)
    assert len(parts) == 2 and parts[0].startswith("# 周报") and parts[0] != parts[1]
    assert fake.count(HOOK) == 3, "part 1 once, part 2 twice (refused, then taken)"


def test_an_uncertain_part_is_not_retried_blindly_the_admins_are_told_and_resend_posts_it(
    wecom, fake, clock
):
    Outbox(clock).to_group(LONG, "g")
    fake.fail(HOOK, Fault.ok(), Fault.lost())  # part 2 reaches the group, its answer does not
    wecom.sender.drain()
    row = OutboxMessage.get(OutboxMessage.dedupe_key == "g")
    assert row.status == "failed" and "可能已经送达" in row.last_error
    told = notices("可能已经送达")
    assert len(told) == 1 and f"重发 {row.id}" in told[0]
    for _ in range(6):  # an hour: nothing posted again on its own
        clock.advance(minutes=10)
        wecom.sender.drain()
    assert fake.count(HOOK) == 2 and len(posted(fake)) == 2
    # the admins looked, and want it again: only the uncertain part goes, once
    bot = ChatDriver(wecom)
    assert f"已重新排队 1 条消息：#{row.id}" in bot.say("boss", f"重发 {row.id}")
    wecom.sender.drain()
    parts = posted(fake)
    assert len(parts) == 3 and parts[2] == parts[1], "part 2 again; part 1 not"
    assert OutboxMessage.get_by_id(row.id).status == "sent"


def test_a_sender_that_died_mid_part_leaves_it_uncertain(wecom, fake, clock):
    Outbox(clock).to_group("**本周得分**", "g")
    row = OutboxMessage.get()
    RowParts(row.id, clock.now()).begin(0)  # begun, and its sender gone before the answer
    wecom.sender.drain()
    assert fake.count(HOOK) == 0
    assert OutboxMessage.get_by_id(row.id).status == "failed"
    assert len(notices(f"重发 {row.id}")) == 1


def test_the_digest_is_posted_once_a_week_and_recorded_before_it_is_sent(wecom, fake, clock):
    cal = load_calendar()
    first = publish(clock.now(), wecom.config, cal, Outbox(clock), wecom.renderer)
    assert first.published and DigestSnapshot.select().count() == 1
    assert OutboxMessage.select().where(OutboxMessage.channel == "group").count() == 2
    assert fake.count(HOOK) == 0, "recorded first; nothing posted yet"
    again = publish(
        clock.now() + timedelta(hours=3), wecom.config, cal, Outbox(clock), wecom.renderer
    )
    assert not again.published
    wecom.sender.drain()
    digests = [p for p in posted(fake) if "周报" in p]
    images = [m for m in fake.webhook_messages if m["msgtype"] == "image"]
    assert len(digests) >= 1 and len(images) == 1
    assert len(set(digests)) == len(digests), "each part once"


def test_an_uploaded_file_is_reused_so_a_retry_is_the_same_message(wecom, fake, clock):
    bot = ChatDriver(wecom)
    assert "台账已生成" in bot.say("boss", "导出")
    fake.fail(SEND, Fault.lost())  # delivered, and the answer lost on the way back
    wecom.sender.drain()
    clock.advance(minutes=1)
    wecom.sender.drain()
    files = [m for m in fake.messages if m["msgtype"] == "file"]
    assert len(fake.uploads) == 1, "uploaded once"
    assert len(files) == 1 and len(fake.duplicates_absorbed) == 1, "the retry was the same JSON"
    assert OutboxMessage.get(OutboxMessage.msg_type == "file").status == "sent"


def test_a_media_id_is_uploaded_again_only_when_its_three_days_are_nearly_over(wecom, fake, clock):
    media = wecom.transport.media
    first = media.upload("file", "台账.xlsx", b"PK the ledger")
    clock.advance(days=2, hours=23)
    assert media.upload("file", "台账.xlsx", b"PK the ledger") == first
    assert media.upload("file", "另一个.xlsx", b"PK the ledger") != first, "its name is sent too"
    clock.advance(minutes=31)
    assert media.upload("file", "台账.xlsx", b"PK the ledger") != first
    assert len(fake.uploads) == 3
