"""The real HTTP server (waitress on port 0): /healthz and the sandbox API end to end."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from conftest import START, make_config
from helpers import SandboxApi, page_token, running

from bot.services import build_services
from bot.transports.sandbox import SandboxTransport
from bot.web import create_app
from models.db import database


@pytest.fixture
def server(tmp_path, db_url, clock, db):
    """The sandbox API of a running server, called the way the page calls it."""
    # A running clock (the sender's leases and retries move with it), started at a pinned
    # moment so that nothing here depends on the day the suite runs.
    from bot.clock import OffsetClock

    config = make_config(tmp_path, db_url)
    db.close()  # every thread opens its own connection
    services = build_services(
        config, OffsetClock.starting_at(START, config.timezone), SandboxTransport()
    )
    with running(services) as base:
        yield SandboxApi(base)
    database.close()


def wait_for_reply(api, userid, needle, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, feed = api.call("feed?after_out=0&after_in=0")
        for msg in feed["outgoing"]:
            if userid in msg["recipients"] and needle in msg["text"]:
                return msg
        time.sleep(0.05)
    raise AssertionError(f"no reply to {userid} containing {needle!r}")


def test_healthz(server):
    status, raw = server.request("GET", "/healthz")
    body = json.loads(raw)
    assert status == 200 and body["status"] == "ok" and body["mode"] == "sandbox"


def test_sandbox_chat_round_trip_through_the_outbox(server):
    status, body = server.call(
        "send", {"userid": "boss", "text": "绑定 zhangsan 市监局", "id": "c1"}
    )
    assert status == 202 and body["ok"] and not body["duplicate"]
    wait_for_reply(server, "boss", "已绑定")
    wait_for_reply(server, "zhangsan", "您已被绑定")
    server.call("send", {"userid": "boss", "text": "期限 T7 2030-12-31", "id": "c2"})
    server.call("send", {"userid": "zhangsan", "text": "进度 T7 60% 初稿", "id": "c3"})
    wait_for_reply(server, "zhangsan", "已记录")
    status, again = server.call(
        "send", {"userid": "zhangsan", "text": "进度 T7 60% 初稿", "id": "c3"}
    )
    assert status == 202 and again["duplicate"]
    server.call("send", {"userid": "boss", "text": "日志 T7", "id": "c4"})
    log = wait_for_reply(server, "boss", "操作记录")
    assert "报告进度 60%" in log["text"] and "2030-12-31" in log["text"]
    _, feed = server.call("feed?after_out=0&after_in=0")
    assert [m["text"] for m in feed["incoming"]][:2] == [
        "绑定 zhangsan 市监局",
        "期限 T7 2030-12-31",
    ]
    members = server.call("members")[1]["members"]
    assert {"userid": "zhangsan", "unit": "县市场监管局"}.items() <= members[0].items()


def test_sandbox_page_renders(server):
    with urllib.request.urlopen(f"{server.base}/sandbox", timeout=10) as resp:
        html = resp.read().decode()
        headers = resp.headers
    assert resp.status == 200 and "浏览器沙盒" in html
    assert page_token(html) == server.token, "one token for every page this server serves"
    # The page carries the token: never cached, never inside another site's frame.
    assert headers["Cache-Control"] == "no-store" and headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"userid": "a b", "text": "帮助"}, "userid"),
        ({"userid": "boss", "text": "   "}, "不能为空"),
        ({"userid": "boss", "text": "x" * 2001}, "太长"),
        ({"userid": "boss", "text": "帮助", "id": "../x"}, "编号"),
        ([1, 2], "JSON"),
    ],
)
def test_sandbox_rejects_bad_requests(server, payload, error):
    status, body = server.call("send", payload)
    assert status == 400 and error in body["error"]


def test_feed_cursor_must_be_numeric(server):
    status, _body = server.call("feed?after_out=x")
    assert status == 400


def test_upload_is_stored_and_attached(server, tmp_path):
    server.call("send", {"userid": "boss", "text": "绑定 li 市监局", "id": "u0"})
    wait_for_reply(server, "boss", "已绑定")
    fields = {"userid": "li", "caption": "T7", "id": "up1"}
    status, body = server.upload(fields, "方案.pdf", b"%PDF-1.4 evidence")
    assert status == 202 and body["ok"], body
    reply = wait_for_reply(server, "li", "已收到佐证材料")
    assert "方案.pdf" in reply["text"] and "T7" in reply["text"]


def test_sandbox_is_off_when_wecom_is_configured(tmp_path, db, clock):
    config = make_config(
        tmp_path,
        WECOM_CORP_ID="ww1",
        WECOM_AGENT_ID="1000002",
        WECOM_SECRET="s",
        WECOM_TOKEN="t",
        WECOM_ENCODING_AES_KEY="a" * 43,
        SANDBOX="1",
    )
    services = build_services(config, clock, SandboxTransport())
    client = create_app(services).test_client()
    assert client.get("/sandbox").status_code == 404
    assert client.post("/sandbox/api/send", json={"userid": "a", "text": "b"}).status_code == 404


def test_feed_does_not_skip_a_message_sent_after_a_later_one(tmp_path, db, clock):
    """A retried row that is sent after later rows must still reach the page."""
    from bot.outbox import Outbox

    outbox = Outbox(clock)
    outbox.to_members(["a"], "first", "k1")
    outbox.to_members(["a"], "second", "k2")
    from models.messages import OutboxMessage

    OutboxMessage.update(status="sent", sent_at=clock.now()).where(
        OutboxMessage.dedupe_key == "k2"
    ).execute()
    config = make_config(tmp_path)
    services = build_services(config, clock, SandboxTransport())
    client = create_app(services).test_client()
    headers = {"X-Sandbox-Token": page_token(client.get("/sandbox").get_data(as_text=True))}
    page = client.get("/sandbox/api/feed?after_out=0&after_in=0", headers=headers).get_json()
    assert [m["text"] for m in page["outgoing"]] == ["second"]
    assert page["out_cursor"] == 0, "the pending first row holds the cursor"
    OutboxMessage.update(status="sent", sent_at=clock.now()).where(
        OutboxMessage.dedupe_key == "k1"
    ).execute()
    after = page["out_cursor"]
    page = client.get(f"/sandbox/api/feed?after_out={after}&after_in=0", headers=headers).get_json()
    assert [m["text"] for m in page["outgoing"]] == ["first", "second"]
    assert page["out_cursor"] == 2


def test_an_expired_row_is_final_for_the_feed(tmp_path, db, clock):
    """A row too old to send is shown as not delivered and does not hold the cursor back."""
    from bot.outbox import Outbox

    Outbox(clock).to_members(["a"], "too late", "k1", expires_at=clock.now())
    Outbox(clock).to_members(["a"], "in time", "k2")
    services = build_services(make_config(tmp_path), clock, SandboxTransport())
    stats = services.sender.run_once()
    assert (stats.expired, stats.sent) == (1, 2)  # and the admins' notice
    client = create_app(services).test_client()
    headers = {"X-Sandbox-Token": page_token(client.get("/sandbox").get_data(as_text=True))}
    page = client.get("/sandbox/api/feed?after_out=0&after_in=0", headers=headers).get_json()
    shown = [(m["text"][:10], m["failed"]) for m in page["outgoing"]]
    assert shown == [("too late", True), ("in time", False), ("【发送异常】1 条消", False)]
    assert page["out_cursor"] == 3


@pytest.mark.parametrize(
    "payload",
    [
        {"userid": "li", "task_id": "t 1", "key": "ack"},
        {"userid": "li", "task_id": "t1", "key": "delete"},
        {"userid": "a b", "task_id": "t1", "key": "ack"},
        ["not", "an", "object"],
    ],
)
def test_card_clicks_are_checked(server, payload):
    status, body = server.call("click", payload)
    assert status == 400 and body["error"]


def test_a_click_on_someone_elses_card_changes_nothing(server):
    status, body = server.call("click", {"userid": "boss", "task_id": "nudge-1-1", "key": "ack"})
    assert status == 202 and body["ok"]
    from models.messages import InteractiveCard

    with database.connection_context():
        assert InteractiveCard.select().count() == 0


def test_a_jiaoban_card_is_signed_and_a_review_passed_by_clicks_in_the_sandbox(server):
    """The 督办 cycle through the sandbox's own doors: a 交办 card's 已收到 signs for it, and
    the office's 待审核 card's 通过 closes it."""

    def card_to(userid, title):
        msg = wait_for_reply(server, userid, title)
        assert msg["card"], msg
        return msg["card"]

    for n, text in enumerate(("绑定 li 市监局", "绑定 lead 县政府 领导")):
        server.call("send", {"userid": "boss", "text": text, "id": f"b{n}"})
    wait_for_reply(server, "lead", "您已被绑定")
    server.call(
        "send", {"userid": "lead", "text": "交办 市监局 2030-12-15 报送阶段性总结", "id": "j1"}
    )
    card = card_to("li", "【交办】J1")
    assert [b["key"] for b in card["buttons"]] == ["ack", "coordinate", "extend"]
    status, _ = server.call("click", {"userid": "li", "task_id": card["task_id"], "key": "ack"})
    assert status == 202
    wait_for_reply(server, "li", "已签收：J1")
    server.call("send", {"userid": "li", "text": "完成 J1 已报送", "id": "d1"})
    wait_for_reply(server, "li", "等待办公室审核")
    review = card_to("boss", "报告 J1")
    assert [b["key"] for b in review["buttons"]] == ["pass", "return"]
    server.call("click", {"userid": "boss", "task_id": review["task_id"], "key": "pass"})
    wait_for_reply(server, "boss", "已审核通过：J1")
    wait_for_reply(server, "li", "【审核通过】J1")
