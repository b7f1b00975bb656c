"""Test helpers: drive the bot like a chat, snapshot the database to prove nothing changed, call
the sandbox API as its page does, and run `run.py` as a server."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from waitress import create_server

from bot.pipeline import Incoming
from bot.services import Services
from bot.web import create_app
from models.messages import OutboxMessage
from models.schema import ALL_MODELS

_ids = itertools.count(1)
ROOT = Path(__file__).resolve().parent.parent
START_DEADLINE_SECONDS = 60
SANDBOX_PREFIX = "浏览器沙盒："
BOT_SETTING_PREFIXES = ("WECOM_", "BOT_", "EVIDENCE_", "HTTP_", "SANDBOX")


class ChatDriver:
    """Sends messages through the real pipeline and delivers the outbox through the transport."""

    def __init__(self, services: Services):
        self.services = services
        self.transport = services.transport

    def say(self, userid: str, text: str) -> str:
        handled = self.services.pipeline.handle(
            Incoming("test", f"m{next(_ids)}", userid, kind="text", text=text)
        )
        assert not handled.duplicate
        replies = OutboxMessage.select().where(
            (OutboxMessage.inbound == handled.inbound_id)
            & (OutboxMessage.dedupe_key.startswith("reply:"))
        )
        assert replies.count() == 1, "the bot must answer each message exactly once"
        return handled.reply

    def deliver(self) -> list:
        before = len(self.transport.sent)
        self.services.sender.drain()
        return self.transport.sent[before:]

    def bind(self, userid: str, unit: str, role: str = "联络员") -> str:
        reply = self.say("boss", f"绑定 {userid} {unit} {role}")
        assert "已" in reply and "绑定" in reply, reply
        return reply


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table except the message log tables (what came in, what went out
    and the cards sent), the sender's and scheduler's leases and pacing (renewed as they run),
    and the questions the bot is waiting to have answered ("prompt:…"), for 'changes nothing'
    checks: asking is not changing."""
    skip = {"inbound_message", "outbox_message", "interactive_card", "duty_lease", "member_send"}
    result = {}
    for model in ALL_MODELS:
        if model._meta.table_name in skip:
            continue
        rows = model.select().order_by(model._meta.primary_key).tuples()
        if model._meta.table_name == "key_value":
            rows = [row for row in rows if not str(row[0]).startswith("prompt:")]
        result[model._meta.table_name] = sorted(rows)
    return result


def outbox_besides_replies() -> int:
    return OutboxMessage.select().where(~OutboxMessage.dedupe_key.startswith("reply:")).count()


def free_port() -> int:
    """A port free on 127.0.0.1 now (for a server whose address must be known before it starts,
    such as the board's BOARD_BASE_URL)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_waitress(server, thread) -> None:
    """Stop a waitress server running in `thread`: close its sockets from inside its own loop
    (closing them from here races the loop's select() and raises EBADF there)."""
    from waitress import wasyncore

    # OSError: the loop has already closed its trigger, there is nothing left to wake.
    with contextlib.suppress(OSError):
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
    thread.join(timeout=10)
    server.task_dispatcher.shutdown()


@contextmanager
def running(services, idle=0.05, port=0):
    """The real WSGI app under waitress on `port` (0: any free one), with the outbox sender, the
    inbound worker and download threads running in threads of this process, as run.py's worker
    runs them."""
    from bot.services import DOWNLOAD_THREADS

    stop = threading.Event()
    threads = [
        threading.Thread(target=services.sender.loop, args=(stop, idle), daemon=True),
        threading.Thread(target=services.worker_loop, args=(stop, idle), daemon=True),
    ] + [
        threading.Thread(target=services.download_loop, args=(stop, idle), daemon=True)
        for _ in range(DOWNLOAD_THREADS)
    ]
    for thread in threads:
        thread.start()
    server = create_server(create_app(services), host="127.0.0.1", port=port, threads=4)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop.set()
        services.sender.notify()
        services.worker_wake()
        services.downloads.set()
        stop_waitress(server, serving)
        for thread in threads:
            thread.join(timeout=5)


TOKEN_META = re.compile(r'<meta name="sandbox-token" content="([^"]+)">')


def page_token(html: str) -> str:
    match = TOKEN_META.search(html)
    assert match, "the sandbox page carries its token"
    return match.group(1)


class SandboxApi:
    """The sandbox's HTTP API called the way its page calls it: the token read from the page
    on every call, the secret when one is given, JSON sent as application/json."""

    def __init__(self, base: str, secret: str = ""):
        self.base = base.rstrip("/")
        self.secret = secret
        self._token = ""

    def page(self, headers: dict | None = None) -> tuple[int, str]:
        status, raw = self.request("GET", "/sandbox", headers=headers or {})
        return status, raw.decode("utf-8")

    @property
    def token(self) -> str:
        if not self._token:
            status, html = self.page()
            assert status == 200, html
            match = TOKEN_META.search(html)  # a page without one gets requests without one
            self._token = match.group(1) if match else ""
        return self._token

    def headers(self) -> dict:
        headers = {"X-Sandbox-Token": self.token}
        if self.secret:
            headers["X-Sandbox-Secret"] = self.secret
        return headers

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        req = urllib.request.Request(self.base + path, data=body, method=method)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def call(self, path: str, data=None, *, headers: dict | None = None, api_headers=True):
        """GET (no data) or POST JSON to /sandbox/api/<path>: (status, decoded JSON or text)."""
        sent = {**(self.headers() if api_headers else {}), **(headers or {})}
        body = None
        if data is not None:
            body = json.dumps(data).encode()
            sent.setdefault("Content-Type", "application/json")
        status, raw = self.request(
            "POST" if body is not None else "GET", "/sandbox/api/" + path, body, sent
        )
        return status, _decoded(raw)

    def upload(
        self, fields: dict, filename: str, content: bytes, *, headers=None, api_headers=True
    ):
        """A multipart form as the page's upload (or another site's form) sends it."""
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
            "\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        body = "".join(parts).encode() + content + f"\r\n--{boundary}--\r\n".encode()
        sent = {
            **(self.headers() if api_headers else {}),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            **(headers or {}),
        }
        status, raw = self.request("POST", "/sandbox/api/upload", body, sent)
        return status, _decoded(raw)


def _decoded(raw: bytes):
    text = raw.decode("utf-8", "replace")
    return json.loads(text) if text.startswith(("{", "[", "null")) else text


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


@contextmanager
def run_py_server(
    workdir: Path, args: list[str], env_extra: dict | None = None, output: list | None = None
):
    """`python3 /abs/run.py ARGS` (`demo --at …`, `serve`) as a newcomer runs it: the default
    settings (no .env, no DATA_DIR or DATABASE_URL: both relative to `workdir`, the working
    directory) but for `env_extra`, and a free port. Yields the sandbox URL it prints; all it printed
    is appended to `output` once it has stopped."""
    # None of the developer's bot settings: a WeCom account or SANDBOX=0 would hide the sandbox.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DATA_DIR") and not k.startswith(BOT_SETTING_PREFIXES)
    }
    env.update(HTTP_PORT="0", PYTHONUNBUFFERED="1", **(env_extra or {}))
    workdir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(ROOT / "run.py"), *args]
    proc = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
    )
    lines: queue.Queue = queue.Queue()
    # The reader keeps draining the pipe for the whole test, so the server never blocks on it.
    reader = threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    url = None
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    try:
        while url is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                break
            seen.append(line)
            if line.startswith(SANDBOX_PREFIX):
                url = line[len(SANDBOX_PREFIX) :].strip()
        if url is None:
            try:
                code = proc.wait(timeout=5)
                why = f"exited with code {code}"
            except subprocess.TimeoutExpired:
                why = f"did not print the sandbox URL within {START_DEADLINE_SECONDS} s"
            pytest.fail(f"run.py {' '.join(args)} {why}; its output:\n" + "".join(seen))
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        reader.join(timeout=5)
        if not reader.is_alive():
            proc.stdout.close()
    while not lines.empty():
        seen.append(lines.get() or "")
    if output is not None:
        output.extend(seen)
    text = "".join(seen)
    assert "Traceback" not in text, f"the server logged an exception:\n{text}"
