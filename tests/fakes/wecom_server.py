"""A fake WeCom (企业微信) API server for tests: standard-library HTTP on 127.0.0.1, one daemon thread.

It speaks the subset of the API the bot uses (gettoken, message/send, appchat/send, the group-robot
webhook, media/get, media/upload, message/update_template_card, appchat/create and appchat/get,
and web sign-in: the browser's connect/oauth2/authorize and auth/getuserinfo), answers with
WeCom's error codes,
records everything it receives, and can be told to fail (error codes, HTTP errors, unreadable
answers, dropped connections, slow answers, media that trickles). Like WeCom, it silently drops
what a member would receive beyond 30 messages a minute or 1000 an hour (`dropped`). See
/work/shared/docs/wecom.md for the real behaviour it imitates.

Stricter than the API's happy path, as WeCom is (issue 20):
- the app has a visible range (`visible`): a `touser` outside it is in `invaliduser`, all of
  them outside is 81013, and `@all` means the whole range; None: anyone (a test that does not
  care);
- userids compare without regard to case, and WeCom writes them in the range's form;
- media/upload has WeCom's size limits (5 bytes up to 10 MB for images, 2 MB voice, 10 MB
  video, 20 MB files) and a media_id lasts 3 days (by `clock`);
- template cards are checked against the documented fields of button_interaction;
- web sign-in refuses a redirect_uri outside the 可信域名 (`trusted_domains`);
- the group robot and app chats have no duplicate check: the same JSON twice is posted twice;
- an app chat is one this app created (appchat/create), and only when the range is the root
  department (`range_is_root`).

Usage::

    with FakeWeCom() as wecom:
        base = wecom.base_url          # "http://127.0.0.1:PORT"
        wecom.fail("/cgi-bin/message/send", Fault.err(-1), Fault.drop())
        ...
        assert wecom.wait_for(lambda: len(wecom.messages) == 1)
"""

from __future__ import annotations

import contextlib
import html
import itertools
import json
import re
import secrets
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN_TTL = 7200  # seconds, as WeCom's expires_in
RESPONSE_CODE_TTL = 72 * 3600  # a template card's response_code is valid 72 h, usable once
MESSAGE_TYPES = ("text", "markdown", "textcard", "news", "file", "image", "template_card")
WEBHOOK_TYPES = ("text", "markdown", "markdown_v2", "image", "news", "file", "template_card")
APP_TEXT_LIMIT = 2048  # bytes, text and markdown via message/send and appchat/send
WEBHOOK_TEXT_LIMIT = 2048
WEBHOOK_MARKDOWN_LIMIT = 4096
DUPLICATE_CHECK_DEFAULT = 1800  # seconds, message/send's duplicate_check_interval
DUPLICATE_CHECK_MAX = 4 * 3600
MEMBER_PER_MINUTE = 30  # message/send to one member: the excess is dropped silently
MEMBER_PER_HOUR = 1000
OAUTH_CODE_TTL = 300  # seconds: a web sign-in code is valid 5 minutes, usable once
OAUTH_SCOPES = ("snsapi_base", "snsapi_privateinfo")
OAUTH_STATE = re.compile(r"^[A-Za-z0-9]{0,128}$")  # WeCom: a-zA-Z0-9, at most 128 bytes
# Who is using the WeCom client in a browser: a cookie on the fake's own host (each Playwright
# context its own), else `FakeWeCom.oauth_user`. "openid:…" is someone outside the corp.
OAUTH_USER_COOKIE = "fake_wecom_user"

MEDIA_TTL = 3 * 24 * 3600  # seconds: a media_id is valid 3 days
MEDIA_MIN = 5  # bytes: WeCom refuses anything this small or smaller
MEDIA_MAX = {"image": 10 << 20, "voice": 2 << 20, "video": 10 << 20, "file": 20 << 20}
# template_card (button_interaction): the documented fields and their limits
CARD_FIELDS = {
    "card_type",
    "source",
    "action_menu",
    "main_title",
    "quote_area",
    "sub_title_text",
    "horizontal_content_list",
    "card_action",
    "task_id",
    "button_selection",
    "button_list",
    "replace_text",
}
CARD_TYPES = ("text_notice", "news_notice", "button_interaction", "vote_interaction",
              "multiple_interaction")  # fmt: skip
CARD_TASK_ID = re.compile(r"^[A-Za-z0-9_@-]{1,128}$")

ERRMSG = {
    -1: "system busy",
    40001: "invalid credential",
    40004: "invalid media type",
    40006: "invalid media size",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40029: "invalid code",
    40058: "invalid parameter",
    40079: "invalid response_code",
    41001: "access_token missing",
    41008: "missing code",
    41011: "missing agentid",
    42001: "access_token expired",
    42014: "task_id exist",
    44001: "empty media data",
    44004: "empty content",
    45002: "content size out of limit",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    47001: "data format error",
    48002: "api forbidden",
    50001: "redirect_url 未登记可信域名",
    60011: "no privilege to access/modify contact/party/agent",
    60020: "not allow to access from your ip",
    81013: "user & party & tag all invalid",
    86003: "chat not exist",
    86004: "invalid chat owner",
    86215: "chat userlist invalid",
    93000: "invalid webhook url",
}


@dataclass(frozen=True)
class Fault:
    """One injected failure, consumed by the next call to the path it was queued for."""

    kind: str  # "errcode" | "http" | "garbage" | "drop" | "lost" | "slow" | "ok"
    errcode: int = 0
    status: int = 500
    seconds: float = 0.0
    errmsg: str = ""  # for "garbage": the body
    content_type: str = ""

    @classmethod
    def err(cls, errcode: int, errmsg: str = "") -> Fault:
        """HTTP 200 with {"errcode": errcode, "errmsg": ...}."""
        return cls("errcode", errcode=errcode, errmsg=errmsg)

    @classmethod
    def http(cls, status: int = 500) -> Fault:
        """An HTTP error status with a short HTML body (as a proxy in front of WeCom would send)."""
        return cls("http", status=status)

    @classmethod
    def garbage(
        cls,
        body: str = "<html><head><title>认证</title></head><body>请先登录上网认证</body></html>",
        content_type: str = "text/html; charset=utf-8",
    ) -> Fault:
        """HTTP 200 with a body that is not a JSON object (a proxy's or captive portal's page,
        an empty or cut-off body, a JSON list): the request does not reach WeCom."""
        return cls("garbage", errmsg=body, content_type=content_type)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without writing anything (the client sees a ConnectionError)."""
        return cls("drop")

    @classmethod
    def lost(cls) -> Fault:
        """Handle the call (a message is delivered), then close the connection without the
        answer: the client cannot tell whether it went through."""
        return cls("lost")

    @classmethod
    def ok(cls) -> Fault:
        """No fault: answer normally (to place a later fault in a sequence)."""
        return cls("ok")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Sleep, then answer normally."""
        return cls("slow", seconds=seconds)


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]  # first value of each parameter
    body: bytes
    json: Any  # the parsed JSON body, or None
    at: float  # time.monotonic()
    headers: dict[str, str] = field(default_factory=dict)
    client_ip: str = ""


@dataclass
class _Media:
    data: bytes
    filename: str
    content_type: str
    created: float = 0.0  # by FakeWeCom.clock


@dataclass(frozen=True)
class _Redirect:
    """A 302 to `location` (the authorize page sends the browser back with a code)."""

    location: str


@dataclass(frozen=True)
class _Page:
    """An HTML page, as WeCom shows one in the browser (a refusal of the authorize request)."""

    status: int
    text: str


@dataclass
class OAuthCode:
    """A web sign-in code WeCom handed to a browser: who it names, for which app, when."""

    code: str
    user: str  # a member's userid, or "openid:…" for someone outside the corp
    agentid: str
    issued: float
    used: bool = False


class _ApiError(Exception):
    """Raised inside a handler to answer HTTP 200 {"errcode": N, "errmsg": ...}."""

    def __init__(self, errcode: int, errmsg: str = ""):
        super().__init__(errcode)
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSG.get(errcode, "error")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeWeCom

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_open_sockets(self) -> None:
        """Wake handler threads idling on keep-alive connections so they end."""
        with self.sockets_lock:
            pending = list(self.open_sockets)
        for sock in pending:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (timeouts in tests, dropped connections) are normal here.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeWeCom/1.0"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection is closed after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle + delayed ACK add
        # ~40 ms to every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.fake._dispatch(self)

    def do_POST(self) -> None:
        self.server.fake._dispatch(self)

    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_bytes(
        self,
        status: int,
        body: bytes,
        content_type: str,
        extra_headers: dict[str, str] | None = None,
        chunk_size: int = 0,
        chunk_delay: float = 0.0,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if chunk_size <= 0:
            self.wfile.write(body)
            return
        view = memoryview(body)
        for start in range(0, len(body), chunk_size):
            if start and chunk_delay > 0:
                time.sleep(chunk_delay)  # a peer on a slow line: each chunk takes its time
            self.wfile.write(view[start : start + chunk_size])
            self.wfile.flush()

    def send_json(self, payload: dict[str, Any], status: int = 200) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_bytes(status, body, "application/json; charset=UTF-8")

    def drop(self) -> None:
        """Close the socket without a status line."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _byte_len(value: Any) -> int:
    return len(str(value).encode("utf-8"))


def _check_card(card: dict) -> None:
    """A template card as WeCom documents it (button_interaction and its kin): 40058 otherwise."""

    def bad(why: str) -> _ApiError:
        return _ApiError(40058, f"invalid parameter, template_card {why}")

    unknown = set(card) - CARD_FIELDS
    if unknown:
        raise bad(f"unknown field {sorted(unknown)[0]}")
    if card.get("card_type") not in CARD_TYPES:
        raise bad("card_type")
    source = card.get("source", {})
    if not isinstance(source, dict) or len(str(source.get("desc", ""))) > 13:
        raise bad("source.desc over 13 characters")
    title = card.get("main_title", {})
    if not isinstance(title, dict):
        raise bad("main_title")
    if len(str(title.get("title", ""))) > 26 or len(str(title.get("desc", ""))) > 30:
        raise bad("main_title over 26/30 characters")
    if not title.get("title") and not card.get("sub_title_text"):
        raise bad("needs main_title.title or sub_title_text")
    rows = card.get("horizontal_content_list", [])
    if not isinstance(rows, list) or len(rows) > 6:
        raise bad("horizontal_content_list over 6")
    for row in rows:
        if not isinstance(row, dict) or not row.get("keyname"):
            raise bad("horizontal_content_list keyname")
        if len(str(row["keyname"])) > 5 or len(str(row.get("value", ""))) > 26:
            raise bad("horizontal_content_list over 5/26 characters")
    action = card.get("card_action")
    if action is not None:
        kind = action.get("type") if isinstance(action, dict) else None
        if kind not in (0, 1, 2) or (kind == 1 and not action.get("url")):
            raise bad("card_action")
    if card["card_type"] in ("button_interaction", "vote_interaction", "multiple_interaction"):
        task_id = card.get("task_id")
        if not isinstance(task_id, str) or not CARD_TASK_ID.match(task_id):
            raise bad("task_id")
    if card["card_type"] == "button_interaction":
        buttons = card.get("button_list")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 6:
            raise bad("button_list must have 1 to 6 buttons")
        for button in buttons:
            if not isinstance(button, dict) or not button.get("text") or not button.get("key"):
                raise bad("button text and key")
            if len(str(button["text"])) > 10 or _byte_len(button["key"]) > 1024:
                raise bad("button over 10 characters or key over 1024 bytes")
            if button.get("style", 1) not in (1, 2, 3, 4):
                raise bad("button style")


def _parse_multipart(body: bytes, content_type: str) -> list[tuple[str, str | None, bytes]]:
    """Split multipart/form-data into (name, filename, data) parts. Small and byte-exact."""
    header = Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if not boundary or not isinstance(boundary, str):
        return []
    delimiter = b"--" + boundary.encode("latin-1")
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        chunk = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n")
        raw_headers, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        part = Message()
        for line in raw_headers.decode("utf-8", "replace").split("\r\n"):
            name, colon, value = line.partition(":")
            if colon:
                part[name.strip()] = value.strip()
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        parts.append((str(name or ""), filename, data))
    return parts


class FakeWeCom:
    """A fake WeCom API on 127.0.0.1 with recording and fault injection. Thread-safe."""

    def __init__(
        self,
        corp_id: str = "ww1436e0e65a779aee",
        secret: str = "fake-secret",
        webhook_key: str = "robot-key",
        webhook_rate_per_minute: int = 20,
    ):
        self.corp_id = corp_id
        self.secret = secret
        self.webhook_key = webhook_key
        self.webhook_rate_per_minute = webhook_rate_per_minute
        self.lock = threading.RLock()
        # The clock used for token expiry, response_code expiry, the webhook rate window and
        # message/send's duplicate check.
        # Tests may replace it (e.g. with a lambda over a counter) to move time forward.
        self.clock: Callable[[], float] = time.monotonic
        self.media_chunk_size = 64 * 1024  # media/get writes the body in chunks this size
        self.media_chunk_delay = 0.0  # seconds between two chunks (a trickling download)

        # what it received
        self.requests: list[Recorded] = []
        self.token_fetches = 0
        self.messages: list[dict] = []
        # message/send repeats that enable_duplicate_check absorbed (WeCom answers ok, delivers
        # once): the same request JSON again within its duplicate_check_interval, by self.clock
        self.duplicates_absorbed: list[dict] = []
        self._recent_sends: dict[str, float] = {}  # canonical request JSON -> delivered at
        # (userid, payload) of message/send that WeCom took (errcode 0) but did not deliver to
        # that member: more than 30 in a minute or 1000 in an hour for them, by self.clock.
        # A payload dropped for every recipient is not in self.messages.
        self.dropped: list[tuple[str, dict]] = []
        self._member_times: dict[str, deque[float]] = {}
        self.agent_name = "示范区创建督办"
        self.appchat_messages: list[dict] = []
        self.webhook_messages: list[dict] = []
        self.card_updates: list[dict] = []
        self.uploads: list[tuple[str, bytes]] = []
        # time.monotonic() when a media/get body had been written whole (a client that hung up
        # before the end is not recorded)
        self.media_served: list[float] = []
        self.errors: list[str] = []  # tracebacks of bugs in the fake itself (answered with 500)

        # control
        # The app's visible range (可见范围), userids as WeCom stores them; None: anyone.
        self.visible: set[str] | None = None
        self.range_is_root = True  # app chats need the range to be the root department
        self.invalid_users: set[str] = set()
        self.allowed_ips: set[str] | None = None
        self.chats: set[str] = {"leaders"}
        # app chats created through appchat/create: chatid -> {"name", "owner", "userlist"}
        self.created_chats: dict[str, dict] = {}
        # Web sign-in: who uses the WeCom client (a cookie on this host wins, see
        # OAUTH_USER_COOKIE); None: the page is not opened inside WeCom, no code is given.
        self.oauth_user: str | None = None
        # Web login (扫码登录): who scans the QR code, and the app's 授权回调域 (None: any).
        self.weblogin_user: str | None = None
        self.weblogin_domains: set[str] | None = None
        self.weblogins = 0
        # 通讯录 the app may read (userid -> name); None: the app lacks the permission.
        self.directory: dict[str, str] | None = None
        self.agent_id: int | None = None  # when set, authorize wants this agentid
        # host[:port] names of the app's 可信域名; None: any redirect_uri is accepted
        self.trusted_domains: set[str] | None = None
        self.oauth_codes: list[OAuthCode] = []  # every code handed out, in order

        # state
        self._faults: dict[str, deque[Fault]] = {}
        self._token: str | None = None
        self._token_issued = 0.0
        self._expired_tokens: set[str] = set()
        self._media: dict[str, _Media] = {}
        self._response_codes: dict[str, float] = {}  # code -> issued at (self.clock)
        self._used_response_codes: set[str] = set()
        self._task_ids: set[str] = set()
        self._codes: dict[str, OAuthCode] = {}
        self._webhook_times: deque[float] = deque()
        self._ids = itertools.count(1)

        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # ------------------------------------------------------------------ lifecycle

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/cgi-bin/webhook/send?key={self.webhook_key}"

    def start(self) -> str:
        """Start serving on 127.0.0.1 (a free port); return the base URL."""
        if self._server is not None:
            return self.base_url
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        host, port = server.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeWeCom:{port}",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and release the port; idle keep-alive connections are closed."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.close_open_sockets()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeWeCom:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ control

    def add_media(
        self, data: bytes, filename: str, content_type: str = "application/octet-stream"
    ) -> str:
        """Make bytes downloadable through media/get (for 3 days); return the media_id."""
        media_id = self._new_id("media")
        with self.lock:
            self._media[media_id] = _Media(bytes(data), filename, content_type, self.clock())
        return media_id

    def userid(self, userid: str) -> str:
        """`userid` as WeCom writes it: its form in the visible range (WeCom ignores case)."""
        with self.lock:
            return self._canonical(userid)

    def issue_code(self, user: str, agentid: int | str = 1000002) -> str:
        """A sign-in code for `user`, as the authorize page would hand one to a browser."""
        with self.lock:
            return self._new_code(user, str(agentid)).code

    def expire_token(self) -> None:
        """Calls with the current token now get 42001 until a new gettoken."""
        with self.lock:
            if self._token is not None:
                self._expired_tokens.add(self._token)
            self._token = None

    def invalidate_token(self) -> None:
        """Forget the current token entirely: calls with it now get 40014 (WeCom may do this)."""
        with self.lock:
            self._token = None

    @property
    def current_token(self) -> str | None:
        """The token gettoken would return now (None if none is valid)."""
        with self.lock:
            return self._valid_token()

    def fail(self, path: str, *faults: Fault) -> None:
        """Queue faults for the next calls to `path` (e.g. "/cgi-bin/message/send"), in order."""
        with self.lock:
            self._faults.setdefault(path, deque()).extend(faults)

    def clear_faults(self, path: str) -> None:
        """Forget the faults still queued for `path` (an outage that ends)."""
        with self.lock:
            self._faults.pop(path, None)

    def pending_faults(self, path: str) -> int:
        with self.lock:
            return len(self._faults.get(path, ()))

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Poll until predicate() is true; False on timeout. The lock is not held while calling
        it (a predicate that waits on the bot must not block the server)."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def count(self, path: str) -> int:
        """How many requests reached `path` (query string ignored)."""
        with self.lock:
            return sum(1 for r in self.requests if r.path == path)

    def requests_to(self, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    # ------------------------------------------------------------------ internals

    def _canonical(self, userid: str) -> str:
        key = userid.lower()
        return next((u for u in self.visible or () if u.lower() == key), userid)

    def _in_range(self, userid: str) -> bool:
        key = userid.lower()
        if key in {u.lower() for u in self.invalid_users}:
            return False
        return self.visible is None or key in {u.lower() for u in self.visible}

    def _live_media(self, media_id: object) -> _Media | None:
        media = self._media.get(media_id) if isinstance(media_id, str) else None
        if media is None or self.clock() - media.created >= MEDIA_TTL:
            return None
        return media

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}-{secrets.token_hex(8)}"

    def _new_code(self, user: str, agentid: str) -> OAuthCode:
        issued = OAuthCode(secrets.token_urlsafe(24), user, agentid, self.clock())
        self._codes[issued.code] = issued
        self.oauth_codes.append(issued)
        return issued

    def _valid_token(self) -> str | None:
        if self._token is not None and self.clock() - self._token_issued >= TOKEN_TTL:
            self._expired_tokens.add(self._token)
            self._token = None
        return self._token

    def _check_token(self, query: dict[str, str]) -> None:
        token = query.get("access_token")
        if not token:
            raise _ApiError(41001)
        current = self._valid_token()
        if token == current:
            return
        if token in self._expired_tokens:
            raise _ApiError(42001)
        raise _ApiError(40014)

    def _check_ip(self, client_ip: str) -> None:
        if self.allowed_ips is not None and client_ip not in self.allowed_ips:
            raise _ApiError(60020, f"not allow to access from your ip, from ip: {client_ip}")

    def _dispatch(self, handler: _Handler) -> None:
        parsed = urllib.parse.urlsplit(handler.path)
        path = parsed.path
        query = {
            k: v[0] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()
        }
        body = handler.read_body() if handler.command == "POST" else b""
        parsed_json: Any = None
        if body and "multipart/" not in (handler.headers.get("Content-Type") or ""):
            try:
                parsed_json = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                parsed_json = None
        client_ip = handler.client_address[0]
        with self.lock:
            self.requests.append(
                Recorded(
                    method=handler.command,
                    path=path,
                    query=query,
                    body=body,
                    json=parsed_json,
                    at=time.monotonic(),
                    headers={k: v for k, v in handler.headers.items()},
                    client_ip=client_ip,
                )
            )
            if path == "/cgi-bin/gettoken":
                self.token_fetches += 1
            queue = self._faults.get(path)
            fault = queue.popleft() if queue else None

        if fault is not None:
            if fault.kind == "drop":
                handler.drop()
                return
            if fault.kind == "http":
                title = f"{fault.status} Error"
                html = f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center><hr><center>nginx</center></body></html>\r\n"
                handler.send_bytes(fault.status, html.encode(), "text/html")
                return
            if fault.kind == "garbage":
                handler.send_bytes(200, fault.errmsg.encode("utf-8"), fault.content_type)
                return
            if fault.kind == "errcode":
                handler.send_json(
                    {
                        "errcode": fault.errcode,
                        "errmsg": fault.errmsg or ERRMSG.get(fault.errcode, "error"),
                    }
                )
                return
            if fault.kind == "slow":
                time.sleep(fault.seconds)
            elif fault.kind not in ("ok", "lost"):
                raise ValueError(f"unknown fault kind {fault.kind!r}")

        route = _ROUTES.get((handler.command, path))
        if route is None:
            handler.send_bytes(404, b"404 page not found\n", "text/plain; charset=utf-8")
            return
        try:
            with self.lock:
                if route.ip_checked:
                    self._check_ip(client_ip)
                if route.token_checked:
                    self._check_token(query)
                if route.wants_json:
                    if not isinstance(parsed_json, dict):
                        raise _ApiError(47001)
                    result = route.func(self, query, parsed_json)
                else:
                    result = route.func(self, query, body, handler.headers)
        except _ApiError as error:
            if fault is not None and fault.kind == "lost":
                handler.drop()
                return
            handler.send_json({"errcode": error.errcode, "errmsg": error.errmsg})
            return
        except Exception:  # a bug in the fake: answer 500 and keep it for the test to see
            text = traceback.format_exc()
            with self.lock:
                self.errors.append(text)
            handler.send_bytes(500, text.encode(), "text/plain; charset=utf-8")
            return
        if fault is not None and fault.kind == "lost":
            handler.drop()  # done, and the answer never reaches the client
            return
        if isinstance(result, _Media):
            self._send_media(handler, result)
        elif isinstance(result, _Redirect):
            handler.send_bytes(302, b"", "text/html; charset=utf-8", {"Location": result.location})
        elif isinstance(result, _Page):
            handler.send_bytes(
                result.status, result.text.encode("utf-8"), "text/html; charset=utf-8"
            )
        else:
            handler.send_json(result)

    def _send_media(self, handler: _Handler, media: _Media) -> None:
        mojibake = media.filename.encode("utf-8").decode("latin-1")
        mojibake = mojibake.replace('"', "").replace("\r", "").replace("\n", "")
        starred = urllib.parse.quote(media.filename, safe="")
        handler.send_bytes(
            200,
            media.data,
            media.content_type,
            {
                "Content-Disposition": f"attachment; filename=\"{mojibake}\"; filename*=utf-8''{starred}",
                "Cache-Control": "no-cache, must-revalidate",
            },
            chunk_size=self.media_chunk_size,
            chunk_delay=self.media_chunk_delay,
        )
        with self.lock:
            self.media_served.append(time.monotonic())

    # ------------------------------------------------------------------ endpoints (lock held)

    def _gettoken(self, query: dict[str, str], body: bytes, headers: Any) -> dict:
        if query.get("corpid") != self.corp_id:
            raise _ApiError(40013)
        if query.get("corpsecret") != self.secret:
            raise _ApiError(40001)
        token = self._valid_token() or secrets.token_urlsafe(96)
        # The same token comes back while valid; each fetch renews its 7200 s.
        self._token = token
        self._token_issued = self.clock()
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": TOKEN_TTL}

    def _check_content(
        self,
        payload: dict,
        allowed: tuple[str, ...],
        text_limit: int,
        markdown_limit: int,
        media_ids: bool = True,
    ) -> str:
        """Validate msgtype and its content; return the msgtype."""
        msgtype = payload.get("msgtype")
        if msgtype not in allowed:
            raise _ApiError(40008)
        content = payload.get(msgtype)
        if not isinstance(content, dict):
            raise _ApiError(40008, f"invalid message type, missing {msgtype}")
        if msgtype in ("text", "markdown", "markdown_v2"):
            text = content.get("content")
            if not isinstance(text, str) or not text:
                raise _ApiError(44004)
            limit = text_limit if msgtype == "text" else markdown_limit
            if _byte_len(text) > limit:
                raise _ApiError(45002)
        elif msgtype in ("file", "image") and media_ids:
            if self._live_media(content.get("media_id")) is None:
                raise _ApiError(40007)
        elif msgtype == "template_card":
            _check_card(content)
        return msgtype

    def _message_send(self, query: dict[str, str], payload: dict) -> dict:
        if not payload.get("agentid"):
            raise _ApiError(41011)
        msgtype = self._check_content(payload, MESSAGE_TYPES, APP_TEXT_LIMIT, APP_TEXT_LIMIT)
        touser = str(payload.get("touser") or "")
        users = [u for u in touser.split("|") if u]
        if len(users) > 1000:
            raise _ApiError(40058, "invalid parameter, touser over 1000")
        if any(u.lower() == "@all" for u in users):
            if self.visible is None:
                raise _ApiError(40058, "the fake needs a visible range for @all")
            users = sorted(self.visible)
        has_other = bool(payload.get("toparty") or payload.get("totag"))
        invalid = [u for u in users if not self._in_range(u)]
        if not has_other and len(invalid) == len(users):
            raise _ApiError(81013)
        duplicate_key = None
        if payload.get("enable_duplicate_check"):
            # WeCom's rule: within duplicate_check_interval seconds, a request whose JSON is the
            # same (同样内容（请求json）) is not delivered again, and still answered errcode 0.
            # The whole request is compared, canonicalised, so key order does not matter.
            interval = payload.get("duplicate_check_interval", DUPLICATE_CHECK_DEFAULT)
            if (
                not isinstance(interval, int)
                or isinstance(interval, bool)
                or not 0 < interval <= DUPLICATE_CHECK_MAX
            ):
                # Stricter than documented (WeCom only says "at most 4 hours"): a bot that
                # passes here passes there.
                raise _ApiError(40058, "invalid parameter, duplicate_check_interval")
            duplicate_key = json.dumps(payload, sort_keys=True, ensure_ascii=False)
            seen = self._recent_sends.get(duplicate_key)
            if seen is not None and self.clock() - seen < interval:
                self.duplicates_absorbed.append(payload)
                return {
                    "errcode": 0,
                    "errmsg": "ok",
                    "invaliduser": "",
                    "msgid": self._new_id("msg"),
                }
        task_id = None
        if msgtype == "template_card":
            task_id = payload["template_card"].get("task_id")
            if task_id and task_id in self._task_ids:
                raise _ApiError(42014)
        # Only a delivered message starts a duplicate window: a refused one was never sent.
        if duplicate_key is not None:
            self._recent_sends[duplicate_key] = self.clock()
        paced = [self._canonical(u) for u in users if u not in invalid]
        reached = self._pace_members(paced, payload)
        if reached or not paced or has_other:
            self.messages.append(payload)
        reply: dict[str, Any] = {
            "errcode": 0,
            "errmsg": "ok",
            "invaliduser": "|".join(invalid),
            "msgid": self._new_id("msg"),
        }
        if msgtype == "template_card":
            if task_id:
                self._task_ids.add(task_id)
            code = self._new_id("rc")
            self._response_codes[code] = self.clock()
            reply["response_code"] = code
        return reply

    def _pace_members(self, users: list[str], payload: dict) -> list[str]:
        """WeCom's per-member limits: the members this message reaches; the others are dropped
        silently (recorded in self.dropped)."""
        now = self.clock()
        reached = []
        for user in users:
            times = self._member_times.setdefault(user.lower(), deque())
            while times and now - times[0] >= 3600:
                times.popleft()
            last_minute = sum(1 for t in times if now - t < 60)
            if last_minute >= MEMBER_PER_MINUTE or len(times) >= MEMBER_PER_HOUR:
                self.dropped.append((user, payload))
                continue
            times.append(now)
            reached.append(user)
        return reached

    def _agent_get(self, query: dict[str, str], body: bytes, headers: Any) -> dict:
        if not query.get("agentid", "").isdigit():
            raise _ApiError(40056, "invalid agentid")
        return {
            "errcode": 0,
            "errmsg": "ok",
            "agentid": int(query["agentid"]),
            "name": self.agent_name,
        }

    def _appchat_send(self, query: dict[str, str], payload: dict) -> dict:
        # No duplicate check here (WeCom has none for app chats): the same JSON twice is posted
        # twice.
        chatid = payload.get("chatid")
        if not chatid or (chatid not in self.chats and chatid not in self.created_chats):
            raise _ApiError(86003)
        self._check_content(payload, MESSAGE_TYPES, APP_TEXT_LIMIT, APP_TEXT_LIMIT)
        self.appchat_messages.append(payload)
        return {"errcode": 0, "errmsg": "ok"}

    def _appchat_create(self, query: dict[str, str], payload: dict) -> dict:
        """An app chat of 2 to 2000 members of the range; only for an app whose range is the
        root department. Its chatid is WeCom's, or the one asked for (letters and digits)."""
        if not self.range_is_root:
            raise _ApiError(48002, "api forbidden: the app's visible range must be the root")
        members = payload.get("userlist")
        if not isinstance(members, list) or not 2 <= len(members) <= 2000:
            raise _ApiError(86215)
        if any(not isinstance(u, str) or not self._in_range(u) for u in members):
            raise _ApiError(86215)
        owner = payload.get("owner") or members[0]
        if not isinstance(owner, str) or owner.lower() not in {u.lower() for u in members}:
            raise _ApiError(86004)
        name = payload.get("name") or ""
        if not isinstance(name, str) or _byte_len(name) > 50 * 3:
            raise _ApiError(40058, "invalid parameter, name")
        chatid = payload.get("chatid") or self._new_id("chat").replace("-", "")
        if not isinstance(chatid, str) or not re.fullmatch(r"[A-Za-z0-9]{1,32}", chatid):
            raise _ApiError(40058, "invalid parameter, chatid")
        if chatid in self.created_chats or chatid in self.chats:
            raise _ApiError(86215, "chatid exists")
        self.created_chats[chatid] = {
            "name": name,
            "owner": self._canonical(owner),
            "userlist": [self._canonical(u) for u in members],
        }
        return {"errcode": 0, "errmsg": "ok", "chatid": chatid}

    def _appchat_get(self, query: dict[str, str], body: bytes, headers: Any) -> dict:
        """An app chat this app created (a chat made elsewhere is not found: 86003)."""
        chat = self.created_chats.get(query.get("chatid") or "")
        if chat is None:
            raise _ApiError(86003)
        return {"errcode": 0, "errmsg": "ok", "chat_info": {"chatid": query["chatid"], **chat}}

    def _webhook_send(self, query: dict[str, str], payload: dict) -> dict:
        # No duplicate check (the robot has none): the same JSON twice is posted twice.
        if query.get("key") != self.webhook_key:
            raise _ApiError(93000)
        self._check_content(
            payload, WEBHOOK_TYPES, WEBHOOK_TEXT_LIMIT, WEBHOOK_MARKDOWN_LIMIT, media_ids=False
        )
        now = self.clock()
        while self._webhook_times and now - self._webhook_times[0] >= 60:
            self._webhook_times.popleft()
        if len(self._webhook_times) >= self.webhook_rate_per_minute:
            raise _ApiError(45009)
        self._webhook_times.append(now)
        self.webhook_messages.append(payload)
        return {"errcode": 0, "errmsg": "ok"}

    def _media_get(self, query: dict[str, str], body: bytes, headers: Any) -> dict | _Media:
        media = self._live_media(query.get("media_id") or "")
        if media is None:
            raise _ApiError(40007)
        return media

    def _media_upload(self, query: dict[str, str], body: bytes, headers: Any) -> dict:
        kind = query.get("type")
        if kind not in ("file", "image", "voice", "video"):
            raise _ApiError(40004)
        content_type = headers.get("Content-Type") or ""
        if not content_type.startswith("multipart/form-data"):
            raise _ApiError(44001)
        parts = _parse_multipart(body, content_type)
        found = [(fn, data) for name, fn, data in parts if name == "media"]
        if not found or not found[0][1]:
            raise _ApiError(44001)
        filename, data = found[0]
        filename = filename or "unnamed"
        if not MEDIA_MIN < len(data) <= MEDIA_MAX[kind]:
            raise _ApiError(40006, f"invalid media size: {len(data)} bytes for {kind}")
        media_id = self._new_id("media")
        self._media[media_id] = _Media(data, filename, "application/octet-stream", self.clock())
        self.uploads.append((filename, data))
        return {
            "errcode": 0,
            "errmsg": "ok",
            "type": kind,
            "media_id": media_id,
            "created_at": str(int(time.time())),
        }

    def _oauth_authorize(self, query: dict[str, str], body: bytes, headers: Any) -> Any:
        """The page a browser is sent to for web sign-in (open.weixin.qq.com in production).
        Inside the WeCom client it answers at once with a 302 to redirect_uri?code=…&state=…
        (snsapi_base asks the person nothing); a request WeCom refuses gets an error page."""

        def refuse(errcode: int, why: str) -> _Page:
            text = f"<html><body><p>{errcode} {html.escape(why)}</p></body></html>"
            return _Page(200, text)

        if query.get("appid") != self.corp_id:
            return refuse(40013, ERRMSG[40013])
        if query.get("response_type") != "code":
            return refuse(40058, "invalid response_type")
        if query.get("scope") not in OAUTH_SCOPES:
            return refuse(40058, "invalid scope")
        state = query.get("state", "")
        if not OAUTH_STATE.match(state):
            return refuse(40058, "invalid state")
        agentid = query.get("agentid", "")
        if not agentid.isdigit() or (self.agent_id is not None and int(agentid) != self.agent_id):
            return refuse(40056, "invalid agentid")
        redirect = urllib.parse.urlsplit(query.get("redirect_uri", ""))
        if redirect.scheme not in ("http", "https") or not redirect.netloc:
            return refuse(40058, "invalid redirect_uri")
        if self.trusted_domains is not None and not (
            {redirect.netloc.lower(), (redirect.hostname or "").lower()}
            & {d.lower() for d in self.trusted_domains}
        ):
            return refuse(50001, ERRMSG[50001])
        user = self.oauth_user
        raw_cookie = headers.get("Cookie") if headers is not None else None
        if raw_cookie:
            jar: SimpleCookie = SimpleCookie()
            with contextlib.suppress(CookieError):
                jar.load(raw_cookie)
            if OAUTH_USER_COOKIE in jar:
                user = urllib.parse.unquote(jar[OAUTH_USER_COOKIE].value)
        if not user:
            return _Page(200, "<html><body><p>请在企业微信客户端打开链接</p></body></html>")
        issued = self._new_code(user, agentid)
        back = urllib.parse.urlencode({"code": issued.code, "state": state})
        separator = "&" if redirect.query else "?"
        target = urllib.parse.urlunsplit(redirect._replace(fragment=""))
        return _Redirect(f"{target}{separator}{back}")

    def _weblogin(self, query: dict[str, str], body: bytes, headers: Any) -> Any:
        """WeCom's web login (企业微信 Web 登录, login.work.weixin.qq.com in production): on a PC
        browser the page shows a QR code; once the person scans it with WeCom (or confirms in
        the desktop client) the browser goes to redirect_uri?code=…&state=…. The fake plays the
        scan at once, as `weblogin_user` (or the browser's fake_wecom_user cookie). The
        redirect_uri's host must be the app's 授权回调域 (`weblogin_domains`, when set)."""

        def refuse(errcode: int, why: str) -> _Page:
            text = f"<html><body><p>{errcode} {html.escape(why)}</p></body></html>"
            return _Page(200, text)

        if query.get("login_type") != "CorpApp":
            return refuse(40058, "invalid login_type")
        if query.get("appid") != self.corp_id:
            return refuse(40013, ERRMSG[40013])
        agentid = query.get("agentid", "")
        if not agentid.isdigit() or (self.agent_id is not None and int(agentid) != self.agent_id):
            return refuse(40056, "invalid agentid")
        state = query.get("state", "")
        if not OAUTH_STATE.match(state):
            return refuse(40058, "invalid state")
        redirect = urllib.parse.urlsplit(query.get("redirect_uri", ""))
        if redirect.scheme not in ("http", "https") or not redirect.netloc:
            return refuse(40058, "invalid redirect_uri")
        if self.weblogin_domains is not None and redirect.netloc not in self.weblogin_domains:
            return refuse(50001, "redirect_uri 与应用的授权回调域不一致")
        user = self.weblogin_user or self.oauth_user
        raw_cookie = headers.get("Cookie") if headers is not None else None
        if raw_cookie:
            jar: SimpleCookie = SimpleCookie()
            with contextlib.suppress(CookieError):
                jar.load(raw_cookie)
            if OAUTH_USER_COOKIE in jar:
                user = urllib.parse.unquote(jar[OAUTH_USER_COOKIE].value)
        if not user:
            return _Page(200, "<html><body><p>请使用企业微信扫描二维码登录</p></body></html>")
        issued = self._new_code(user, agentid)
        self.weblogins += 1
        back = urllib.parse.urlencode({"code": issued.code, "state": state})
        separator = "&" if redirect.query else "?"
        target = urllib.parse.urlunsplit(redirect._replace(fragment=""))
        return _Redirect(f"{target}{separator}{back}")

    def _user_simplelist(self, query: dict[str, str], body: bytes, headers: Any) -> dict:
        """通讯录: the members of a department (and its children with fetch_child=1) the app may
        see; 48002 (api forbidden) unless the test gave the app that permission."""
        if self.directory is None:
            raise _ApiError(48002)
        return {
            "errcode": 0,
            "errmsg": "ok",
            "userlist": [
                {"userid": userid, "name": name, "department": [1]}
                for userid, name in self.directory.items()
            ],
        }

    def _auth_getuserinfo(self, query: dict[str, str], body: bytes, headers: Any) -> dict:
        """The userid behind a sign-in code; a code is good for 5 minutes and one call."""
        code = query.get("code")
        if not code:
            raise _ApiError(41008)
        issued = self._codes.get(code)
        if issued is None or issued.used or self.clock() - issued.issued >= OAUTH_CODE_TTL:
            raise _ApiError(40029)
        issued.used = True
        if issued.user.startswith("openid:"):
            openid = issued.user.removeprefix("openid:")
            return {"errcode": 0, "errmsg": "ok", "openid": openid, "external_userid": ""}
        return {"errcode": 0, "errmsg": "ok", "userid": self._canonical(issued.user)}

    def _update_template_card(self, query: dict[str, str], payload: dict) -> dict:
        if not payload.get("agentid"):
            raise _ApiError(41011)
        code = payload.get("response_code")
        issued = self._response_codes.get(code) if isinstance(code, str) else None
        if (
            issued is None
            or code in self._used_response_codes
            or self.clock() - issued >= RESPONSE_CODE_TTL
        ):
            raise _ApiError(40079)
        if not isinstance(payload.get("userids"), list) and not payload.get("atall"):
            raise _ApiError(40058, "invalid parameter, userids must be a list")
        if "button" not in payload and "template_card" not in payload:
            raise _ApiError(40058, "invalid parameter, missing button or template_card")
        self._used_response_codes.add(code)
        self.card_updates.append(payload)
        return {"errcode": 0, "errmsg": "ok", "invaliduser": []}


@dataclass(frozen=True)
class _Route:
    func: Callable[..., Any]
    token_checked: bool = True
    ip_checked: bool = True
    wants_json: bool = True


_ROUTES: dict[tuple[str, str], _Route] = {
    # WeCom checks the trusted IP on calls made with a token; gettoken itself still answers.
    ("GET", "/cgi-bin/gettoken"): _Route(
        FakeWeCom._gettoken, token_checked=False, ip_checked=False, wants_json=False
    ),
    ("POST", "/cgi-bin/message/send"): _Route(FakeWeCom._message_send),
    ("GET", "/cgi-bin/agent/get"): _Route(FakeWeCom._agent_get, wants_json=False),
    ("POST", "/cgi-bin/appchat/send"): _Route(FakeWeCom._appchat_send),
    ("POST", "/cgi-bin/appchat/create"): _Route(FakeWeCom._appchat_create),
    ("GET", "/cgi-bin/appchat/get"): _Route(FakeWeCom._appchat_get, wants_json=False),
    # The group robot has no token and no IP allow-list.
    ("POST", "/cgi-bin/webhook/send"): _Route(
        FakeWeCom._webhook_send, token_checked=False, ip_checked=False
    ),
    ("GET", "/cgi-bin/media/get"): _Route(FakeWeCom._media_get, wants_json=False),
    ("POST", "/cgi-bin/media/upload"): _Route(FakeWeCom._media_upload, wants_json=False),
    ("POST", "/cgi-bin/message/update_template_card"): _Route(FakeWeCom._update_template_card),
    # Web sign-in: the browser's page (open.weixin.qq.com in production: no token, no IP
    # check), then the server's call that turns the code into a userid.
    ("GET", "/connect/oauth2/authorize"): _Route(
        FakeWeCom._oauth_authorize, token_checked=False, ip_checked=False, wants_json=False
    ),
    ("GET", "/cgi-bin/auth/getuserinfo"): _Route(FakeWeCom._auth_getuserinfo, wants_json=False),
    # Web login on a PC browser (扫码登录): the browser's page, no token, no IP check.
    ("GET", "/wwlogin/sso/login"): _Route(
        FakeWeCom._weblogin, token_checked=False, ip_checked=False, wants_json=False
    ),
    ("GET", "/cgi-bin/user/simplelist"): _Route(FakeWeCom._user_simplelist, wants_json=False),
}
