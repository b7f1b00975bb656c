"""自检 checks that the board's homepage (应用主页, BOARD_BASE_URL/board/) is reachable and that
this deployment answers there, and says what to set when it is not."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import make_config
from helpers import ChatDriver, free_port, running
from wecom_setup import wecom_config

from bot.selfcheck import FAIL, OK, WARN, run_checks
from bot.services import build_services
from models.db import database


def _board_check(config, clock, client=None):
    return next(c for c in run_checks(config, clock.now(), client) if c.name == "领导看板")


@contextmanager
def answering(status: int, body: bytes, content_type: str = "application/json"):
    """Some other server at an address: another deployment, a proxy's error page."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_homepage_answering_from_this_deployment_is_reachable(tmp_path, db_url, db, clock):
    from fakes.transport import RecordingTransport

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = make_config(tmp_path, db_url, BOARD_BASE_URL=base)
    services = build_services(config, clock, RecordingTransport())
    ChatDriver(services)  # nothing else: the check needs only the address and the database
    db.close()
    with running(services, port=port):
        with database.connection_context():
            check = _board_check(config, clock)
        # http works but is said to be plain text; https would be 正常.
        assert check.level == WARN and f"{base}/board/ 可以访问" in check.detail
        assert "https" in check.advice
        reply = ChatDriver(services).say("boss", "自检")
        assert "领导看板" in reply and "可以访问" in reply
    database.close()


def test_another_deployment_a_wrong_server_or_nothing_there_fails(tmp_path, db_url, db, clock):
    other = json.dumps({"board": "ok", "instance": "0123456789abcdef"}).encode()
    with answering(200, other) as base:
        check = _board_check(make_config(tmp_path, db_url, BOARD_BASE_URL=base), clock)
    assert check.level == FAIL and "另一套部署" in check.detail
    with answering(404, b"<html>nginx</html>", "text/html") as base:
        check = _board_check(make_config(tmp_path, db_url, BOARD_BASE_URL=base), clock)
    assert check.level == FAIL and "不是本服务的看板" in check.detail and "HTTP 404" in check.detail
    with answering(200, b"not json", "text/plain") as base:
        check = _board_check(make_config(tmp_path, db_url, BOARD_BASE_URL=base), clock)
    assert check.level == FAIL and "不是本服务的看板" in check.detail
    nothing = f"http://127.0.0.1:{free_port()}"
    check = _board_check(make_config(tmp_path, db_url, BOARD_BASE_URL=nothing), clock)
    assert check.level == FAIL and "无法访问" in check.detail and "反向代理" in check.advice


def test_without_an_address_wecom_is_told_what_to_set_and_the_sandbox_is_fine(
    tmp_path, db_url, db, clock, fake
):
    config = wecom_config(tmp_path, db_url, fake)
    check = _board_check(config, clock, build_services(config, clock).client)
    assert check.level == WARN and "BOARD_BASE_URL" in check.detail + check.advice
    assert "应用主页" in check.advice and "可信域名" in check.advice
    assert _board_check(make_config(tmp_path, db_url), clock).level == OK
