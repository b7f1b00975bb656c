"""The sandbox's doors, through the real HTTP server (waitress on port 0): who may open the page
and call its API (Host, client address, origin, the page's token, the secret, the content type),
and that every refusal is a short Chinese 403/415 that changes nothing."""

from __future__ import annotations

import json
import re
import urllib.parse

import pytest
from conftest import START, make_config
from helpers import SandboxApi, page_token, running, snapshot

from bot.clock import OffsetClock
from bot.services import build_services
from bot.transports.sandbox import SandboxTransport
from bot.web import create_app
from models.db import database
from models.messages import InboundMessage, OutboxMessage

SECRET = "v3ry-l0ng-sandbox-secret"
CJK = re.compile(r"[\u4e00-\u9fff]")
# What a request that got through would do: the configured admin binds someone.
AS_ADMIN = {"userid": "boss", "text": "绑定 intruder 市监局", "id": "evil-1"}


def _pinned(config) -> OffsetClock:
    return OffsetClock.starting_at(START, config.timezone)


def _serve(tmp_path, db_url, db, **settings):
    config = make_config(tmp_path, db_url, **settings)
    db.close()  # every thread opens its own connection
    return config, running(build_services(config, _pinned(config), SandboxTransport()))


@pytest.fixture
def local(tmp_path, db_url, db):
    """The default sandbox: this machine only."""
    config, server = _serve(tmp_path, db_url, db)
    with server as base:
        yield SandboxApi(base), config
    database.close()


@pytest.fixture
def remote(tmp_path, db_url, db):
    """SANDBOX=1 with a secret, on the main database (to see what a request would change)."""
    config, server = _serve(
        tmp_path,
        db_url,
        db,
        SANDBOX="1",
        SANDBOX_SECRET=SECRET,
        SANDBOX_HOSTS="bot.example.cn",
        SANDBOX_USE_MAIN_DATABASE="是",
    )
    with server as base:
        yield SandboxApi(base, secret=SECRET), config
    database.close()


def state(config) -> dict:
    """Everything a request could change: every table, the message logs, the stored files."""
    with database.connection_context():
        rows = snapshot()
        rows["inbound"] = InboundMessage.select().count()
        rows["outbox"] = OutboxMessage.select().count()
    files = sorted(p for p in config.data_dir.rglob("*") if p.is_file())
    return {"rows": rows, "files": files}


def assert_refused(status, body, code=403, reason=None):
    assert status == code, (status, body)
    assert isinstance(body, dict) and body["ok"] is False, body
    assert CJK.search(body["error"]) and len(body["error"]) <= 40, body["error"]
    if reason:
        assert body["reason"] == reason, body


def port_of(api: SandboxApi) -> int:
    return urllib.parse.urlsplit(api.base).port


# ---------------------------------------------------------------- Host (and DNS rebinding)


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:{port}",  # a site's own name resolving to 127.0.0.1 (DNS rebinding)
        "localhost.evil.example:{port}",
        "127.0.0.1:1",  # a loopback name, but not this server's port
        "127.0.0.1.nip.io:{port}",
        "bot.example.cn:{port}",  # a remote name, but the sandbox is local only
    ],
)
def test_a_foreign_host_opens_nothing(local, host):
    api, config = local
    token = api.token  # as if a rebinding page had it: it still cannot use it
    host = host.format(port=port_of(api))
    before = state(config)
    status, raw = api.request("GET", "/sandbox", headers={"Host": host})
    assert_refused(status, _json(raw), reason="host")
    status, body = api.call(
        "send", AS_ADMIN, headers={"Host": host, "Origin": f"http://{host}"}, api_headers=False
    )
    assert_refused(status, body, reason="host")
    status, body = api.call(
        "send", AS_ADMIN, headers={"Host": host, "X-Sandbox-Token": token}, api_headers=False
    )
    assert_refused(status, body, reason="host")
    status, body = api.call("feed?after_out=0&after_in=0", headers={"Host": host})
    assert_refused(status, body, reason="host")
    assert state(config) == before


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}"])
def test_this_machines_names_with_this_port_are_served(local, host):
    api, _ = local
    status, raw = api.request("GET", "/sandbox", headers={"Host": host.format(port=port_of(api))})
    assert status == 200 and "浏览器沙盒" in raw.decode()


# ---------------------------------------------------------------- cross-site requests


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a file:// page
        {"Origin": "http://localhost:9"},  # another program's page on this machine
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
    ids=["origin", "null-origin", "other-port", "cross-site", "same-site"],
)
def test_cross_site_requests_change_nothing(local, headers):
    """Even with the page's token (which another site cannot read): the browser says who asks."""
    api, config = local
    before = state(config)
    status, body = api.call("send", AS_ADMIN, headers=headers)
    assert_refused(status, body, reason="cross-site")
    click = {"userid": "boss", "task_id": "nudge-1-1", "key": "ack"}
    assert_refused(*api.call("click", click, headers=headers), reason="cross-site")
    status, body = api.upload(
        {"userid": "li", "caption": "T7"}, "a.pdf", b"%PDF-1", headers=headers
    )
    assert_refused(status, body, reason="cross-site")
    assert state(config) == before


def test_a_cross_site_form_upload_records_no_evidence(local):
    """What an HTML form on another site sends (multipart: no preflight): no token, its Origin."""
    api, config = local
    before = state(config)
    fields = {"userid": "anyone", "caption": "T7 佐证", "id": "evil-upload"}
    status, body = api.upload(
        fields,
        "伪造.pdf",
        b"%PDF-1.4 forged",
        headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
        api_headers=False,
    )
    assert_refused(status, body)
    # Without the browser's headers (an old browser): the missing token still stops it.
    status, body = api.upload(fields, "伪造.pdf", b"%PDF-1.4 forged", api_headers=False)
    assert_refused(status, body, reason="token")
    assert state(config) == before
    assert not (config.data_dir / "evidence").exists() or not any(
        p.is_file() for p in (config.data_dir / "evidence").rglob("*")
    )


def test_same_origin_requests_with_the_browsers_headers_are_served(local):
    api, _ = local
    same = {"Origin": api.base, "Sec-Fetch-Site": "same-origin"}
    status, body = api.call("send", {"userid": "boss", "text": "帮助", "id": "ok-1"}, headers=same)
    assert status == 202 and body["ok"]
    status, body = api.call("feed?after_out=0&after_in=0", headers={"Sec-Fetch-Site": "none"})
    assert status == 200 and body["incoming"][0]["text"] == "帮助"


# ---------------------------------------------------------------- the page's token


@pytest.mark.parametrize("token", [None, "", "wrong", "x" * 43])
def test_every_api_call_needs_the_pages_token(local, token):
    api, config = local
    headers = {} if token is None else {"X-Sandbox-Token": token}
    before = state(config)
    calls = [
        api.call("send", AS_ADMIN, headers=headers, api_headers=False),
        api.call(
            "click",
            {"userid": "boss", "task_id": "t1", "key": "ack"},
            headers=headers,
            api_headers=False,
        ),
        api.upload({"userid": "li"}, "a.pdf", b"%PDF-1", headers=headers, api_headers=False),
        api.call("feed?after_out=0&after_in=0", headers=headers, api_headers=False),
        api.call("members", headers=headers, api_headers=False),
        api.call("file/" + "a" * 64, headers=headers, api_headers=False),
    ]
    for status, body in calls:
        assert_refused(status, body, reason="token")
        assert "刷新" in body["error"]
    assert state(config) == before


def test_the_token_is_this_servers_own(local):
    """A token from another run (a page left open across a restart) is refused."""
    api, config = local
    other = create_app(build_services(config, _pinned(config)))  # it opens its own connection
    stale = page_token(other.test_client().get("/sandbox").get_data(as_text=True))
    assert stale != api.token
    status, body = api.call("send", AS_ADMIN, headers={"X-Sandbox-Token": stale})
    assert_refused(status, body, reason="token")


# ---------------------------------------------------------------- content types


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",  # what a cross-site fetch may send without a preflight
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json-patch+json",
        None,
    ],
)
def test_json_endpoints_take_application_json_only(local, content_type):
    api, config = local
    before = state(config)
    headers = {"Content-Type": content_type} if content_type else {}
    for path, payload in (
        ("send", AS_ADMIN),
        ("click", {"userid": "boss", "task_id": "nudge-1-1", "key": "ack"}),
    ):
        body = _json_bytes(payload)
        status, raw = api.request(
            "POST", "/sandbox/api/" + path, body, {**api.headers(), **headers}
        )
        if content_type is None:  # urllib sends a form type for a body without one
            assert status == 415
            continue
        assert_refused(status, _json(raw), code=415)
        assert "application/json" in _json(raw)["error"]
    assert state(config) == before
    status, body = api.call(
        "send", AS_ADMIN, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert status == 202 and body["ok"]


def test_the_upload_takes_a_multipart_form_only(local):
    api, config = local
    before = state(config)
    status, raw = api.request(
        "POST",
        "/sandbox/api/upload",
        _json_bytes({"userid": "li"}),
        {**api.headers(), "Content-Type": "application/json"},
    )
    assert_refused(status, _json(raw), code=415)
    assert state(config) == before


# ---------------------------------------------------------------- client address


def test_local_mode_refuses_other_machines(local):
    _, config = local
    # Another machine (the test server runs on loopback: the address is given to the app).
    before = state(config)
    client = create_app(build_services(config, _pinned(config))).test_client()
    away = {"REMOTE_ADDR": "192.0.2.10"}
    page = client.get("/sandbox", environ_base=away)
    assert_refused(page.status_code, page.get_json(), reason="remote")
    sent = client.post("/sandbox/api/send", json=AS_ADMIN, environ_base=away)
    assert_refused(sent.status_code, sent.get_json(), reason="remote")
    assert client.get("/healthz", environ_base=away).status_code == 200
    assert state(config) == before


# ---------------------------------------------------------------- the remote sandbox's secret


def test_the_remote_sandbox_needs_its_secret(remote):
    api, config = remote
    # The page is served, but says nothing about the people until it has the secret.
    status, html = api.page()
    assert status == 200 and "请输入沙盒口令" in html and "boss" not in html
    before = state(config)
    for secret in (None, "", "wrong", SECRET[:-1], SECRET + "x", SECRET.upper()):
        headers = {"X-Sandbox-Token": api.token}
        if secret is not None:
            headers["X-Sandbox-Secret"] = secret
        for status, body in (
            api.call("send", AS_ADMIN, headers=headers, api_headers=False),
            api.call("members", headers=headers, api_headers=False),
            api.call("feed?after_out=0&after_in=0", headers=headers, api_headers=False),
            api.upload({"userid": "li"}, "a.pdf", b"%PDF-1", headers=headers, api_headers=False),
        ):
            assert_refused(status, body, reason="secret")
            assert "口令" in body["error"]
    assert state(config) == before
    status, body = api.call("send", {"userid": "boss", "text": "帮助", "id": "right-1"})
    assert status == 202 and body["ok"]


def test_a_secret_set_for_the_local_sandbox_is_asked_for_too(tmp_path, db_url, db):
    _, server = _serve(tmp_path, db_url, db, SANDBOX_SECRET=SECRET)
    with server as base:
        api = SandboxApi(base)
        assert "请输入沙盒口令" in api.page()[1]
        assert_refused(*api.call("send", AS_ADMIN), reason="secret")
        api.secret = SECRET
        assert api.call("send", AS_ADMIN)[0] == 202
    database.close()


def test_the_remote_sandbox_answers_to_its_configured_names(remote):
    api, _ = remote
    for host in ("bot.example.cn", "bot.example.cn:8443", f"127.0.0.1:{port_of(api)}"):
        status, body = api.call("members", headers={"Host": host})
        assert status == 200 and "members" in body, (host, body)
    for host in ("evil.example", f"bot.example.cn.evil.example:{port_of(api)}"):
        status, body = api.call("members", headers={"Host": host})
        assert_refused(status, body, reason="host")
    # Behind an https proxy the Origin is https://name; it must still be the name asked for.
    headers = {"Host": "bot.example.cn", "Origin": "https://bot.example.cn"}
    assert api.call("members", headers=headers)[0] == 200
    headers = {"Host": "bot.example.cn", "Origin": "https://evil.example"}
    assert_refused(*api.call("members", headers=headers), reason="cross-site")


def test_the_remote_sandbox_takes_other_machines(remote):
    """Another machine's address is not a refusal in remote mode: the secret is."""
    _, config = remote
    client = create_app(build_services(config, _pinned(config))).test_client()
    away = {"REMOTE_ADDR": "192.0.2.10"}
    page = client.get("/sandbox", environ_base=away, headers={"Host": "bot.example.cn"})
    assert page.status_code == 200
    token = page_token(page.get_data(as_text=True))
    headers = {"Host": "bot.example.cn", "X-Sandbox-Token": token}
    refused = client.get("/sandbox/api/members", environ_base=away, headers=headers)
    assert refused.status_code == 403 and refused.get_json()["reason"] == "secret"
    headers["X-Sandbox-Secret"] = SECRET
    allowed = client.get("/sandbox/api/members", environ_base=away, headers=headers)
    assert allowed.status_code == 200 and allowed.get_json()["members"] == []


def _json_bytes(payload) -> bytes:
    return json.dumps(payload).encode()


def _json(raw: bytes):
    return json.loads(raw)
