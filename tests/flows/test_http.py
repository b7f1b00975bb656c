"""The real HTTP server (waitress on port 0): /healthz and the sandbox API end to end."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import replace

import pytest
from conftest import START, make_config
from helpers import running

from bot.services import build_services
from bot.transports.sandbox import SandboxTransport
from bot.web import create_app
from models.db import database


def call(url, data=None, method=None):
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, (json.loads(raw) if raw.startswith(b"{") else raw.decode())


@pytest.fixture
def server(tmp_path, db_url, clock, db):
    # A running clock (the sender's leases and retries move with it), started at a pinned
    # moment so that nothing here depends on the day the suite runs.
    from bot.clock import OffsetClock

    config = make_config(tmp_path, db_url)
    db.close()  # every thread opens its own connection
    services = build_services(
        config, OffsetClock.starting_at(START, config.timezone), SandboxTransport()
    )
    with running(services) as base:
        yield base
    database.close()


def wait_for_reply(base, userid, needle, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, feed = call(f"{base}/sandbox/api/feed?after_out=0&after_in=0")
        for msg in feed["outgoing"]:
            if userid in msg["recipients"] and needle in msg["text"]:
                return msg
        time.sleep(0.05)
    raise AssertionError(f"no reply to {userid} containing {needle!r}")


def test_healthz(server):
    status, body = call(f"{server}/healthz")
    assert status == 200 and body["status"] == "ok" and body["mode"] == "sandbox"


def test_sandbox_chat_round_trip_through_the_outbox(server):
    status, body = call(
        f"{server}/sandbox/api/send", {"userid": "boss", "text": "绑定 zhangsan 市监局", "id": "c1"}
    )
    assert status == 202 and body["ok"] and not body["duplicate"]
    wait_for_reply(server, "boss", "已绑定")
    wait_for_reply(server, "zhangsan", "您已被绑定")
    call(f"{server}/sandbox/api/send", {"userid": "boss", "text": "期限 T7 2030-12-31", "id": "c2"})
    call(
        f"{server}/sandbox/api/send", {"userid": "zhangsan", "text": "进度 T7 60% 初稿", "id": "c3"}
    )
    wait_for_reply(server, "zhangsan", "已记录")
    status, again = call(
        f"{server}/sandbox/api/send", {"userid": "zhangsan", "text": "进度 T7 60% 初稿", "id": "c3"}
    )
    assert status == 202 and again["duplicate"]
    call(f"{server}/sandbox/api/send", {"userid": "boss", "text": "日志 T7", "id": "c4"})
    log = wait_for_reply(server, "boss", "操作记录")
    assert "报告进度 60%" in log["text"] and "2030-12-31" in log["text"]
    _, feed = call(f"{server}/sandbox/api/feed?after_out=0&after_in=0")
    assert [m["text"] for m in feed["incoming"]][:2] == [
        "绑定 zhangsan 市监局",
        "期限 T7 2030-12-31",
    ]
    members = call(f"{server}/sandbox/api/members")[1]["members"]
    assert {"userid": "zhangsan", "unit": "县市场监管局"}.items() <= members[0].items()


def test_sandbox_page_renders(server):
    with urllib.request.urlopen(f"{server}/sandbox", timeout=10) as resp:
        html = resp.read().decode()
    assert resp.status == 200 and "浏览器沙盒" in html


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
    status, body = call(f"{server}/sandbox/api/send", payload)
    assert status == 400 and error in body["error"]


def test_feed_cursor_must_be_numeric(server):
    status, _body = call(f"{server}/sandbox/api/feed?after_out=x")
    assert status == 400


def test_upload_is_stored_and_attached(server, tmp_path):
    call(f"{server}/sandbox/api/send", {"userid": "boss", "text": "绑定 li 市监局", "id": "u0"})
    wait_for_reply(server, "boss", "已绑定")
    boundary = uuid.uuid4().hex
    content = b"%PDF-1.4 evidence"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="userid"\r\n\r\nli\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="caption"\r\n\r\nT7\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="id"\r\n\r\nup1\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="方案.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n",
    ]
    body = "".join(parts).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(f"{server}/sandbox/api/upload", data=body, method="POST")
    req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 202
    reply = wait_for_reply(server, "li", "已收到佐证材料")
    assert "方案.pdf" in reply["text"] and "T7" in reply["text"]


def test_sandbox_refuses_remote_clients_unless_opened(tmp_path, db, clock):
    from flask import Flask  # noqa: F401  (the app is exercised through its test client)

    config = make_config(tmp_path)
    services = build_services(config, clock, SandboxTransport())
    client = create_app(services).test_client()
    remote = {"REMOTE_ADDR": "192.0.2.10"}
    assert client.get("/sandbox", environ_base=remote).status_code == 403
    assert client.get("/healthz", environ_base=remote).status_code == 200
    opened = create_app(replace(services, config=replace(config, sandbox_mode="open")))
    assert opened.test_client().get("/sandbox", environ_base=remote).status_code == 200


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
    page = client.get("/sandbox/api/feed?after_out=0&after_in=0").get_json()
    assert [m["text"] for m in page["outgoing"]] == ["second"]
    assert page["out_cursor"] == 0, "the pending first row holds the cursor"
    OutboxMessage.update(status="sent", sent_at=clock.now()).where(
        OutboxMessage.dedupe_key == "k1"
    ).execute()
    page = client.get(f"/sandbox/api/feed?after_out={page['out_cursor']}&after_in=0").get_json()
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
    page = client.get("/sandbox/api/feed?after_out=0&after_in=0").get_json()
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
    status, body = call(f"{server}/sandbox/api/click", payload)
    assert status == 400 and body["error"]


def test_a_click_on_someone_elses_card_changes_nothing(server):
    status, body = call(
        f"{server}/sandbox/api/click", {"userid": "boss", "task_id": "nudge-1-1", "key": "ack"}
    )
    assert status == 202 and body["ok"]
    from models.messages import InteractiveCard

    with database.connection_context():
        assert InteractiveCard.select().count() == 0
