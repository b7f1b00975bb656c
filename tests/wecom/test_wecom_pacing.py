"""Nothing lost when WeCom misbehaves, against the fake WeCom over real HTTP: a long outage is
probed, not stormed, and recovers within minutes; the bot's own pacing is a wait, not a failure;
a flood of replies to one person goes out as one message; WeCom's silent per-member drop never
happens. The clocks are fake (the bot's, the transport's windows and the fake's)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fakes.wecom_server import Fault
from helpers import ChatDriver
from wecom_setup import paced_by, wecom_config

from bot.outbox import Outbox
from bot.services import build_services
from models.messages import OutboxMessage

SEND = "/cgi-bin/message/send"


@pytest.fixture
def wecom(tmp_path, db_url, db, fake, clock):
    fake.clock = lambda: clock.now().timestamp()
    services = build_services(wecom_config(tmp_path, db_url, fake), clock)
    return paced_by(services, clock)


def notices() -> int:
    return OutboxMessage.select().where(OutboxMessage.dedupe_key.startswith("send-notice:")).count()


def texts_to(fake, userid: str) -> list[str]:
    return [m["text"]["content"] for m in fake.messages if m["touser"] == userid]


def test_an_hour_long_outage_loses_nothing_and_recovers_within_minutes(wecom, fake, clock):
    outbox = Outbox(clock)
    for n in range(20):
        outbox.to_members([f"u{n % 4}"], f"第{n}条", f"k{n}")
    wecom.client.token()  # the token was fetched before WeCom went away
    fake.fail(SEND, *[Fault.http(503)] * 200)
    for _ in range(6 * 60):  # an hour, the sender looking every 10 seconds
        stats = wecom.sender.drain()
        assert stats.failed == 0
        clock.advance(seconds=10)
    during = fake.count(SEND)
    assert during <= 20, f"{during} requests in an hour of outage: a probe at a time"
    assert {r.status for r in OutboxMessage.select()} == {"pending"}
    fake.clear_faults(SEND)
    back = clock.now()
    while len(fake.messages) < 20:
        wecom.sender.drain()
        clock.advance(seconds=10)
        assert clock.now() - back <= timedelta(minutes=10, seconds=10), "within the backoff cap"
    for n in range(4):
        assert texts_to(fake, f"u{n}") == [f"第{k}条" for k in range(n, 20, 4)], "in order"
    assert {r.status for r in OutboxMessage.select()} == {"sent"}
    assert notices() == 0, "a delay is not a failure to report"
    assert fake.dropped == []


def test_a_wait_for_wecoms_rate_is_not_a_failure_and_nothing_overtakes(wecom, fake, clock):
    """29 messages, then one of three parts (it needs three places in the minute), then a short
    one that would fit: it waits behind the long one."""
    outbox = Outbox(clock)
    for n in range(29):
        outbox.to_members(["li"], f"通知{n}", f"n{n}")
    block = "\n".join(["县市场监管局 T7 在全系统推行线上线下一体化监管"] * 30)
    outbox.to_members(["li"], f"{block}\n{block}\n{block}", "long")
    outbox.to_members(["li"], "最后一条", "last")
    outbox.to_members(["wang"], "给王", "wang")
    stats = wecom.sender.drain()
    assert (stats.sent, stats.failed, stats.retried) == (30, 0, 0)
    assert texts_to(fake, "wang") == ["给王"], "another person does not wait"
    for _ in range(3):
        clock.advance(seconds=30)
        wecom.sender.drain()
    to_li = texts_to(fake, "li")
    assert to_li[:29] == [f"通知{n}" for n in range(29)]
    assert "\n".join(to_li[29:-1]) == f"{block}\n{block}\n{block}" and to_li[-1] == "最后一条"
    rows = list(OutboxMessage.select())
    assert {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}
    assert notices() == 0 and fake.dropped == []


def test_four_hundred_replies_to_one_person_are_few_messages_nothing_failed(wecom, fake, clock):
    """The case of issue 12: 400 replies owed to one liaison used to be 250 failures and 250
    notices to the admins. Now: the first 30 go out, the rest wait for room and go as one."""
    bot = ChatDriver(wecom)
    bot.bind("li", "市监局")
    wecom.sender.drain()
    clock.advance(minutes=5)
    before = len(fake.messages)
    for n in range(400):  # a message every 0.1 s, the sender running after each
        bot.say("li", f"任务 T{n % 22 + 1}")
        wecom.sender.drain()
        clock.advance(seconds=0.1)
    for _ in range(10):
        clock.advance(seconds=30)
        wecom.sender.drain()
    sent = fake.messages[before:]
    assert 30 <= len(sent) <= 35, len(sent)
    assert fake.dropped == [], "never more than WeCom takes in a minute"
    replies = OutboxMessage.select().where(OutboxMessage.dedupe_key.startswith("reply:"))
    assert replies.count() == 401 and {r.status for r in replies} == {"sent"}
    assert notices() == 0
    merged = [m["text"]["content"] for m in sent if m["text"]["content"].startswith("【合并回复】")]
    assert len(merged) >= 1 and all(len(m.encode()) <= 2048 for m in merged)
    assert "连续发来" in merged[0] and "另有" in merged[0]
    carriers = [r for r in replies if r.msg_type == "merged"]
    members = [r for r in replies if (r.result or {}).get("merged_into")]
    assert len(members) + len(carriers) + 30 == 401 - 1  # the welcome of 绑定 is not a reply
    assert {m.result["merged_into"] for m in members} == {c.id for c in carriers}
    assert sum(c.result["merged"] for c in carriers) == len(members)
    assert all(m.content["text"] for m in members), "each row stays as the record"


def test_a_backlog_after_an_outage_is_answered_in_one_message(wecom, fake, clock):
    bot = ChatDriver(wecom)
    bot.bind("li", "市监局")
    wecom.sender.drain()
    wecom.client.token()
    fake.fail(SEND, *[Fault.drop()] * 500)
    for n in range(40):
        bot.say("li", "你好" if n % 2 else "在吗")
        wecom.sender.drain()
        clock.advance(seconds=20)
    fake.clear_faults(SEND)
    before = len(fake.messages)
    for _ in range(40):
        clock.advance(seconds=30)
        wecom.sender.drain()
    sent = [m["text"]["content"] for m in fake.messages[before:]]
    merged = [t for t in sent if t.startswith("【合并回复】")]
    assert len(merged) == 1 and len(sent) <= 5, sent
    assert "（相同）" in merged[0] and "“你好”" in merged[0]
    assert {r.status for r in OutboxMessage.select()} == {"sent"}
    assert notices() == 0 and fake.dropped == []
