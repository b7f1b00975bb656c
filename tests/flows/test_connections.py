"""Connections and start-up as a county server meets them: a stranger's idle connections do not
hold WeCom's callbacks back, and a process started before its database (PostgreSQL still coming
up after a reboot) waits for it, journals WeCom's callbacks meanwhile and says so in Chinese,
without a traceback."""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit, urlunsplit

import pytest
from conftest import PG_URL
from fakes.wecom_callback import CallbackClient
from service_setup import Proc, get_json, wecom_env, write_env
from wecom_setup import AES_KEY, AGENT_ID, TOKEN

from models.messages import InboundMessage

IDLE = 200  # waitress's own limit is 100: this many idle connections once held callbacks 40 s


def test_idle_connections_do_not_hold_back_a_callback(tmp_path, db_url, db, fake, bot):
    bot.bind("li", "市监局")
    db.close()
    env_file = write_env(tmp_path / "bot.env", wecom_env(tmp_path, db_url, fake))
    web = Proc(["web"], env_file, tmp_path)
    with contextlib.ExitStack() as stack:
        stack.callback(web.close)
        url = web.wait_for_line("服务已启动：").split("：", 1)[1].strip()
        port = int(url.split(":")[2].split("/")[0])
        for n in range(IDLE):
            idle = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
            if n % 4 == 0:  # some send half a request and stop, as a slow client would
                idle.sendall(b"POST /wecom/callback HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        client = CallbackClient(url.replace("/healthz", "/wecom/callback"), TOKEN, AES_KEY,
                                fake.corp_id, AGENT_ID)  # fmt: skip
        # Within WeCom's own 5 s (and the client's timeout): it is accepted and answered.
        answer = client.post(client.text("li", "我的任务", msg_id=8_000_001), timeout=5)
        assert answer.status_code == 200
    assert "Traceback" not in web.output()


# ---------------------------------------------------------------- a database that comes up later


class DatabaseGate:
    """A TCP door in front of PostgreSQL on 127.0.0.1: while shut, every connection is closed
    as soon as it is made (as a server still starting would); once opened, connections are
    passed through to the real server."""

    def __init__(self, upstream: tuple[str, int] | None):
        self.upstream = upstream
        self.opened = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if not self.opened.is_set() or self.upstream is None:
                conn.close()
                continue
            try:
                far = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                conn.close()
                continue
            far.settimeout(None)
            self.sockets += [conn, far]
            for a, b in ((conn, far), (far, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def url(self, database_url: str) -> str:
        parts = urlsplit(database_url)
        user = f"{parts.username}@" if parts.username else ""
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}"))

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()


def start_before_the_database(tmp_path, fake, database_url: str):
    """`run.py web` and `run.py worker` as two services started before their database."""
    env_file = write_env(tmp_path / "bot.env", wecom_env(tmp_path, database_url, fake))
    web, worker = Proc(["web"], env_file, tmp_path), Proc(["worker"], env_file, tmp_path)
    web.wait_for_line("网页服务照常启动，企业微信发来的消息先记入")
    url = web.wait_for_line("服务已启动：").split("：", 1)[1].strip()
    worker.wait_for_line("后台进程等数据库可用后再开始工作")
    return web, worker, url


def stop_cleanly(*procs: Proc) -> None:
    for proc in procs:
        proc.request_stop()
        assert proc.wait(timeout=30) == 0, proc.output()
        assert "Traceback" not in proc.output(), proc.output()


def test_started_before_its_database_it_waits_and_journals_callbacks(tmp_path, fake):
    """No database at all (any backend's run): the callback is acknowledged and journaled, /healthz
    says the database cannot be read, both processes say they wait, and a stop ends them
    cleanly with the journal kept for the next start."""
    gate = DatabaseGate(upstream=None)
    web, worker, url = start_before_the_database(
        tmp_path, fake, gate.url("postgresql://postgres@127.0.0.1:5432/duban")
    )
    try:
        client = CallbackClient(url.replace("/healthz", "/wecom/callback"), TOKEN, AES_KEY,
                                fake.corp_id, AGENT_ID)  # fmt: skip
        answer = client.post(client.text("li", "我的任务", msg_id=8_100_001), timeout=5)
        assert answer.status_code == 200
        status, body = get_json(url)
        assert status == 503 and body["ok"] is False and "数据库" in body["error"]
        stop_cleanly(web, worker)
    finally:
        web.close()
        worker.close()
        gate.close()
    (journal,) = (tmp_path / "data").glob("inbound-*.journal")
    assert b'"external_id":"8100001"' in journal.read_bytes(), "kept for the next start"
    assert "无法连接数据库" in web.output() and "无法连接数据库" in worker.output()


@pytest.mark.skipif(not PG_URL, reason="the database coming up is PostgreSQL's: TEST_DATABASE_URL")
def test_once_the_database_is_up_the_journaled_callback_is_answered(tmp_path, db, fake, bot):
    """PostgreSQL comes up after the bot (a reboot): what was journaled meanwhile goes in, and
    the liaison gets the answer, once."""
    bot.bind("li", "市监局")
    db.close()
    parts = urlsplit(PG_URL)
    gate = DatabaseGate(upstream=(parts.hostname, parts.port or 5432))
    web, worker, url = start_before_the_database(tmp_path, fake, gate.url(PG_URL))
    try:
        client = CallbackClient(url.replace("/healthz", "/wecom/callback"), TOKEN, AES_KEY,
                                fake.corp_id, AGENT_ID)  # fmt: skip
        answer = client.post(client.text("li", "我的任务", msg_id=8_200_001), timeout=5)
        assert answer.status_code == 200
        gate.opened.set()
        web.wait_for_line("已连上数据库")
        worker.wait_for_line("已连上数据库")
        replies = lambda: [m for m in fake.messages if m.get("touser") == "li"]  # noqa: E731
        assert fake.wait_for(lambda: len(replies()) >= 1, timeout=60), worker.output()
        stop_cleanly(web, worker)
    finally:
        web.close()
        worker.close()
        gate.close()
    assert len(replies()) == 1, "answered once"
    db.connect(reuse_if_open=True)
    assert InboundMessage.select().where(InboundMessage.external_id == "8200001").count() == 1
