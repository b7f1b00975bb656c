"""WeCom's error codes (issue 20, point 6): each has a meaning and an action; permanent ones are
not retried; a code a person must act on, or one not in the table, is told to the admins at once,
at most once an hour per code; 自检 names each code met. Against the fake WeCom over HTTP."""

from __future__ import annotations

import pytest
from fakes.wecom_server import Fault
from wecom_setup import paced_by, wecom_config

from bot.outbox import Outbox
from bot.selfcheck import run_checks
from bot.services import build_services
from bot.transports.wecom import errors
from models.messages import OutboxMessage

SEND = "/cgi-bin/message/send"


@pytest.fixture
def wecom(tmp_path, db_url, db, fake, clock):
    fake.clock = lambda: clock.now().timestamp()
    services = build_services(wecom_config(tmp_path, db_url, fake), clock)
    return paced_by(services, clock)


def notices(word: str = "") -> list[str]:
    rows = OutboxMessage.select().where(OutboxMessage.dedupe_key.startswith("send-notice:"))
    return [r.content["text"] for r in rows.order_by(OutboxMessage.id) if word in r.content["text"]]


def test_every_code_has_a_chinese_meaning_and_an_action():
    for code, info in errors.ERRORS.items():
        assert info.meaning and info.action in errors.ACTIONS, code
        assert (info.retry_after is None) == (info.action == errors.DROP), code
    for code in (81013, 60111, 40031, 40003, 60011, 48002):
        assert errors.WeComError(code).permanent, code
    assert errors.WeComError(99999).action == errors.TELL and not errors.WeComError(99999).permanent


@pytest.mark.parametrize("code", [60111, 40031])
def test_a_permanent_error_is_tried_once_and_reported(wecom, fake, code):
    Outbox(wecom.clock).to_members(["li"], "通知", "k1")
    fake.fail(SEND, Fault.err(code))
    assert wecom.sender.drain().failed == 1
    wecom.clock.advance(hours=2)
    wecom.sender.drain()
    row = OutboxMessage.get(OutboxMessage.dedupe_key == "k1")
    assert row.status == "failed" and str(code) in row.last_error
    to_li = [r for r in fake.requests_to(SEND) if r.json["touser"] == "li"]
    assert len(to_li) == 1, "tried once"
    assert len(notices("发送失败")) == 1


def test_a_userid_outside_the_visible_range_is_81013_and_not_retried(wecom, fake):
    Outbox(wecom.clock).to_members(["ghost"], "通知", "k1")
    assert wecom.sender.drain().failed == 1
    row = OutboxMessage.get(OutboxMessage.dedupe_key == "k1")
    assert row.status == "failed" and "81013" in row.last_error and "可见范围" in row.last_error


def test_an_unknown_code_tells_the_admins_at_once_and_once_an_hour(wecom, fake):
    outbox = Outbox(wecom.clock)
    outbox.to_members(["li"], "通知", "k1")
    # (the faults hit whichever send comes next: the notice to the admins is the "ok")
    fake.fail(SEND, Fault.err(99999), Fault.ok())
    wecom.sender.drain()  # first failure: the admins hear now, not after 24 hours
    told = notices("99999")
    assert len(told) == 1 and "未收录" in told[0]
    assert OutboxMessage.get(OutboxMessage.dedupe_key == "k1").status == "pending", "retried"
    wecom.clock.advance(minutes=5)
    fake.fail(SEND, Fault.err(99999))
    wecom.sender.drain()  # second failure within the hour: no second notice
    assert len(notices("99999")) == 1
    wecom.clock.advance(minutes=56)
    fake.fail(SEND, Fault.err(99999), Fault.ok())
    wecom.sender.drain()  # an hour on: told again
    assert len(notices("99999")) == 2
    wecom.clock.advance(minutes=10)
    wecom.sender.drain()
    assert OutboxMessage.get(OutboxMessage.dedupe_key == "k1").status == "sent"
    boss = [m["text"]["content"] for m in fake.messages if m["touser"] == "boss"]
    assert sum("99999" in t for t in boss) == 2, "the notices were delivered"


def test_a_setting_a_person_must_fix_is_told_at_once(wecom, fake):
    Outbox(wecom.clock).to_members(["li"], "通知", "k1")
    fake.fail(SEND, Fault.err(60020))
    wecom.sender.drain()
    told = notices("60020")
    assert len(told) == 1 and "企业可信IP" in told[0]


def test_selfcheck_names_each_code_met(wecom, fake):
    outbox = Outbox(wecom.clock)
    outbox.to_members(["ghost"], "给不存在的人", "k1")
    outbox.to_members(["li"], "通知", "k2")
    fake.fail(SEND, Fault.ok(), Fault.err(99999))
    wecom.sender.drain()
    checks = {c.name: c for c in run_checks(wecom.config, wecom.clock.now(), wecom.client)}
    named = checks["企业微信错误码"]
    assert "81013" in named.detail and "收件人全部无效" in named.detail
    assert "不再重试" in named.detail
    assert "99999" in named.detail and "未收录的错误码" in named.detail
    assert named.level == "fail"
