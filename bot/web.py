"""The WSGI app: /healthz, and the browser sandbox (/sandbox) when no WeCom account is set up.

The sandbox is a transport like WeCom: what it receives goes through the same pipeline (inbound
table, dispatcher, outbox), and the page shows what the outbox sender delivered. Anyone who gets
through its doors can act as anyone, admins included, so every /sandbox request passes one
check (`_sandbox_doors`): the Host a browser used, the client's address (local mode), and for
the API the same origin, the page's token, the secret (when set) and the content type.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
import secrets
import uuid
from http import HTTPStatus
from urllib.parse import urlsplit

import peewee
from flask import Flask, Response, abort, jsonify, render_template, request, send_file

from bot import health
from bot.cards import BUTTON_DONE
from bot.evidence import EvidenceStore, EvidenceTooLarge
from bot.pipeline import Incoming
from bot.recorder import JournalFull
from bot.render import TEMPLATE_DIR
from bot.services import Services
from bot.transports.wecom.callback import MAX_BODY as MAX_CALLBACK_BODY
from bot.transports.wecom.callback import CallbackError, parse_query
from models.db import CONNECTION_ERRORS, database, drop_connection, is_postgres
from models.messages import InboundMessage, InteractiveCard, OutboxMessage
from models.org import ROLES, Member

log = logging.getLogger(__name__)

_USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TEXT = 2000
FEED_LIMIT = 200
TOKEN_HEADER = "X-Sandbox-Token"
SECRET_HEADER = "X-Sandbox-Secret"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
_HOST_HEADER = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
# POST endpoints and the one content type each accepts (anything else is a 415).
_BODY_TYPES = {
    "sandbox_send": "application/json",
    "sandbox_click": "application/json",
    "sandbox_upload": "multipart/form-data",
    "board_sandbox_signin": "application/json",  # the board's way in from the sandbox
}


def create_app(services: Services) -> Flask:
    config = services.config
    app = Flask(__name__, template_folder=str(TEMPLATE_DIR))
    # Chinese errors readable as they are (a refused page shows its JSON in the browser).
    app.json.ensure_ascii = False
    # Uploads are capped by the evidence limit plus room for the form fields.
    app.config["MAX_CONTENT_LENGTH"] = config.evidence_max_bytes + 64 * 1024

    per_request = is_postgres()
    # Embedded in every page this process serves and required on every API call: another site
    # cannot read the page, so it cannot send the token (a restart makes open pages stale).
    page_token = secrets.token_urlsafe(32)

    @app.before_request
    def _sandbox_doors():
        """Every /sandbox request, before anything is read or written (and before the
        database is opened). A refusal is 403 or 415 with a short Chinese error."""
        path = request.path
        if path != "/sandbox" and not path.startswith("/sandbox/"):
            return None
        if not config.sandbox_enabled:
            abort(404)
        if not _host_allowed(config, request.headers.get("Host", ""), request.environ):
            log.warning("sandbox refused a request for host %r", request.headers.get("Host"))
            return _refused("host", "地址不对：请用启动时显示的地址打开沙盒。")
        if not config.sandbox_remote_allowed and not _is_loopback(request.remote_addr):
            return _refused("remote", "沙盒只允许本机访问。")
        if not path.startswith("/sandbox/api/"):
            return None
        if not _same_origin(request.headers):
            log.warning(
                "sandbox refused a cross-site request from %r", request.headers.get("Origin")
            )
            return _refused("cross-site", "拒绝跨站请求。")
        if not _equal(request.headers.get(TOKEN_HEADER, ""), page_token):
            return _refused("token", "页面已过期（服务可能已重启），请刷新页面。")
        if config.sandbox_secret and not _equal(
            request.headers.get(SECRET_HEADER, ""), config.sandbox_secret
        ):
            log.warning("sandbox refused a wrong secret from %s", request.remote_addr)
            return _refused("secret", "沙盒口令不对。")
        wanted = _BODY_TYPES.get(request.endpoint or "")
        if request.method == "POST" and wanted and request.mimetype != wanted:
            return jsonify(
                ok=False, reason="content-type", error=f"请求格式不对：需要 {wanted}。"
            ), 415
        return None

    @app.after_request
    def _sandbox_headers(response):
        if request.path == "/sandbox" or request.path.startswith("/sandbox/"):
            # Not in anyone's frame (clicks steered from another site), not cached (the page
            # carries the token), JSON never sniffed as HTML.
            response.headers["X-Frame-Options"] = "DENY"
            response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "same-origin"
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.before_request
    def _open_db():
        # SQLite: one connection per server thread, kept open (closing the last connection to a
        # WAL database checkpoints it, a millisecond or more a request). PostgreSQL: one per
        # request, so a connection the server dropped (a restart, a failover, a proxy's idle
        # timeout) is never reused; the callback's hot path writes through the recorder anyway.
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close_db(_exc):
        if per_request:
            drop_connection()

    started_at = services.clock.now()

    @app.get("/healthz")
    def healthz():
        """The web process (this one, answering), the worker (its heartbeat) and the scheduler
        (its last tick), each apart; 503 with the reasons when any of them is in trouble."""
        now = services.clock.now()
        web = {
            "status": "ok",
            "pid": os.getpid(),
            "started_at": started_at.isoformat(),
            "uptime_seconds": health.seconds_since(started_at, now),
        }
        try:
            pending = OutboxMessage.select().where(OutboxMessage.status == "pending").count()
            failed = OutboxMessage.select().where(OutboxMessage.status == "failed").count()
            states = health.parts(now, config.health_worker_silent_seconds, since=started_at)
        except peewee.PeeweeException:
            log.exception("health check: database unavailable")
            return jsonify(status="error", database=False, web=web, reasons=["数据库无法读取"]), 503
        reasons = [state.reason for state in states if state.failing]
        body = {
            "status": "error" if reasons else "ok",
            "database": True,
            "mode": "wecom" if config.wecom_enabled else "sandbox",
            "sandbox": config.sandbox_enabled,
            "outbox": {"pending": pending, "failed": failed},
            "web": web,
            **{state.name: state.as_json(config.timezone) for state in states},
            "reasons": reasons,
        }
        return jsonify(body), 503 if reasons else 200

    callback = services.wecom_callback()

    def callback_post(query: bytes, body: bytes) -> int:
        """A message from WeCom: check, decrypt, journal (or record); the HTTP status."""
        try:
            handled = callback.receive(parse_query(query), body)
        except CallbackError as exc:
            log.info("callback refused (%s): %s", exc.status, exc.reason)
            return exc.status
        except JournalFull as exc:  # the database has been away for long: WeCom tries again
            log.error("callback refused: %s", exc)
            return 503
        except CONNECTION_ERRORS as exc:  # (recorded without the journal: nothing acknowledged)
            log.error("database unavailable in the callback: %s", exc)
            drop_connection()
            return 503
        if handled is not None and handled.inbound_id is not None:
            services.worker_wake()  # (a journaled row wakes the worker once it is committed)
        return 200

    @app.route("/wecom/callback", methods=["GET", "POST"])
    def wecom_callback():
        if callback is None:
            abort(404)
        if request.method == "POST":
            body = request.stream.read(MAX_CALLBACK_BODY + 1)
            return Response("", status=callback_post(request.query_string, body))
        try:
            plain = callback.verify_url(parse_query(request.query_string))
        except CallbackError as exc:
            log.info("callback refused (%s): %s", exc.status, exc.reason)
            return Response("", status=exc.status)
        return Response(plain, status=200, mimetype="text/plain")

    if callback is not None:
        # WeCom's messages, the hot path, are answered before Flask builds a request: no
        # routing, no hooks, no database connection (the journal or the writer thread writes).
        flask_app = app.wsgi_app

        def fast_path(environ, start_response):
            if environ.get("PATH_INFO") != "/wecom/callback" or environ["REQUEST_METHOD"] != "POST":
                return flask_app(environ, start_response)
            try:
                body = environ["wsgi.input"].read(MAX_CALLBACK_BODY + 1)
                query = environ.get("QUERY_STRING", "").encode("latin-1")
                status = callback_post(query, body)
            except Exception:
                log.exception("unhandled error in the callback")
                status = 500
            start_response(HTTP_STATUS.get(status, f"{status} Error"), [("Content-Length", "0")])
            return [b""]

        app.wsgi_app = fast_path

    @app.get("/sandbox")
    def sandbox_page():
        # With a secret nothing about the people is shown until the page has it (the page
        # asks, then reads /sandbox/api/members).
        locked = bool(config.sandbox_secret)
        return render_template(
            "sandbox.html",
            members=[] if locked else _members(),
            roles=ROLES,
            token=page_token,
            secret_required=locked,
        )

    @app.get("/sandbox/api/members")
    def sandbox_members():
        return jsonify(members=_members())

    @app.post("/sandbox/api/send")
    def sandbox_send():
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return _bad("请求格式不对：需要 JSON。")
        userid = str(data.get("userid") or "").strip()
        text = str(data.get("text") or "")
        client_id = str(data.get("id") or uuid.uuid4().hex)
        if not _USERID.match(userid):
            return _bad("userid 只能包含字母、数字和 _ . @ -，最长 64 位。")
        if not _CLIENT_ID.match(client_id):
            return _bad("消息编号格式不对。")
        if not text.strip():
            return _bad("消息不能为空。")
        if len(text) > MAX_TEXT:
            return _bad(f"消息太长（最多 {MAX_TEXT} 字）。")
        result = services.pipeline.handle(
            Incoming("sandbox", client_id, userid, kind="text", text=text)
        )
        return jsonify(ok=True, duplicate=result.duplicate, inbound_id=result.inbound_id), 202

    @app.post("/sandbox/api/click")
    def sandbox_click():
        """A click on a card's button, as WeCom's template_card_event would bring it."""
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return _bad("请求格式不对：需要 JSON。")
        userid = str(data.get("userid") or "")
        task_id = str(data.get("task_id") or "")
        key = str(data.get("key") or "")
        client_id = str(data.get("id") or uuid.uuid4().hex)
        if not _USERID.match(userid) or not _CLIENT_ID.match(client_id):
            return _bad("userid 或消息编号格式不对。")
        if not re.fullmatch(r"[A-Za-z0-9_@-]{1,128}", task_id) or key not in BUTTON_DONE:
            return _bad("卡片或按钮不对。")
        payload = {
            "event": "template_card_event",
            "EventKey": key,
            "TaskId": task_id,
            "ResponseCode": "",
        }
        result = services.pipeline.handle(
            Incoming("sandbox", client_id, userid, kind="event", payload=payload)
        )
        return jsonify(ok=True, duplicate=result.duplicate), 202

    @app.post("/sandbox/api/upload")
    def sandbox_upload():
        userid = (request.form.get("userid") or "").strip()
        client_id = request.form.get("id") or uuid.uuid4().hex
        caption = (request.form.get("caption") or "")[:MAX_TEXT]
        upload = request.files.get("file")
        if not _USERID.match(userid):
            return _bad("userid 只能包含字母、数字和 _ . @ -，最长 64 位。")
        if not _CLIENT_ID.match(client_id):
            return _bad("消息编号格式不对。")
        if upload is None or not upload.filename:
            return _bad("没有收到文件。")
        try:
            stored = services.evidence.save(upload.stream, upload.filename)
        except EvidenceTooLarge as exc:
            return _bad(str(exc), 413)
        if stored.size == 0:
            return _bad("文件是空的。")
        result = services.pipeline.handle(
            Incoming("sandbox", client_id, userid, kind="file", text=caption, file=stored)
        )
        return jsonify(ok=True, duplicate=result.duplicate, sha256=stored.sha256), 202

    @app.get("/sandbox/api/feed")
    def sandbox_feed():
        after_out = request.args.get("after_out", "0")
        after_in = request.args.get("after_in", "0")
        if not (after_out.isdigit() and after_in.isdigit()):
            return _bad("after_out 和 after_in 应为整数。")
        labels = {m["userid"]: m["label"] for m in _members()}
        # Rows are shown once final (sent, failed or expired). A row still pending or sending holds the
        # cursor back, so a message sent after a later one (a retry) is not skipped; the page
        # drops ids it has already shown.
        final = OutboxMessage.status.in_(("sent", "failed", "expired"))
        out_rows = list(
            OutboxMessage.select()
            .where(final & (OutboxMessage.id > int(after_out)))
            .order_by(OutboxMessage.id)
            .limit(FEED_LIMIT)
        )
        unfinished = (
            OutboxMessage.select(peewee.fn.MIN(OutboxMessage.id))
            .where(~final & (OutboxMessage.id > int(after_out)))
            .scalar()
        )
        out_cursor = out_rows[-1].id if out_rows else int(after_out)
        if unfinished is not None:
            out_cursor = min(out_cursor, unfinished - 1)
        in_rows = (
            InboundMessage.select()
            .where(InboundMessage.id > int(after_in))
            .order_by(InboundMessage.id)
            .limit(FEED_LIMIT)
        )
        task_ids = [
            (row.content.get("card") or {}).get("task_id")
            for row in out_rows
            if row.msg_type == "card"
        ]
        clicked = {
            card.task_id: card.clicked_key
            for card in InteractiveCard.select().where(
                InteractiveCard.task_id.in_(task_ids or [""])
            )
        }
        outgoing = [
            {
                "id": row.id,
                "channel": row.channel,
                "recipients": [r for r in row.recipient.split("|") if r],
                "labels": [labels.get(r, r) for r in row.recipient.split("|") if r],
                "msg_type": row.msg_type,
                "text": row.content.get("text", ""),
                "failed": row.status in ("failed", "expired"),
                "image": row.content.get("png_b64", ""),
                "file_url": _file_url(row.content),
                "file_name": (row.content.get("file") or {}).get("name", ""),
                "card": _card(row, clicked),
                "inbound_id": row.inbound_id,
                "at": services.renderer.format_when(row.sent_at or row.created_at, "%H:%M:%S"),
                "ts": (row.sent_at or row.created_at).isoformat(),
            }
            for row in out_rows
        ]
        incoming = [
            {
                "id": row.id,
                "userid": row.wecom_userid,
                "kind": row.kind,
                "text": row.text,
                "file": (row.payload or {}).get("file", {}).get("name", ""),
                "at": services.renderer.format_when(row.received_at, "%H:%M:%S"),
                "ts": row.received_at.isoformat(),
            }
            for row in in_rows
        ]
        return jsonify(outgoing=outgoing, incoming=incoming, out_cursor=out_cursor)

    @app.get("/sandbox/api/file/<sha256>")
    def sandbox_file(sha256: str):
        """Files the bot sent (the ledger), for the sandbox page's download links."""
        store = EvidenceStore(config.data_dir / "exports", max_bytes=0)
        try:
            path = store.path_for(sha256)
        except ValueError:
            abort(404)
        name = "file"
        for row in OutboxMessage.select().where(OutboxMessage.msg_type == "file"):
            if (row.content.get("file") or {}).get("sha256") == sha256:
                name = row.content["file"].get("name", name)
        if not path.is_file():
            abort(404)
        return send_file(path, as_attachment=True, download_name=name)

    @app.errorhandler(413)
    def _too_large(_exc):
        mb = config.evidence_max_bytes // (1024 * 1024)
        return jsonify(ok=False, error=f"文件超过 {mb} MB 上限。"), 413

    @app.errorhandler(Exception)
    def _crash(exc):
        if hasattr(exc, "code") and isinstance(exc.code, int):
            return jsonify(ok=False, error=str(exc.description)), exc.code
        if isinstance(exc, CONNECTION_ERRORS):
            # The database is away: 503 makes WeCom deliver the callback again, and the next
            # request connects anew. Nothing was acknowledged, so nothing is lost.
            log.error("database unavailable in %s: %s", request.path, exc)
            drop_connection()
            return jsonify(ok=False, error="数据库暂时不可用，请稍后再试"), 503
        log.exception("unhandled error in %s", request.path)
        return jsonify(ok=False, error="服务器内部错误"), 500

    from bot.board.web import register as register_board

    register_board(app, services)  # the leaders' board: /board, its own sign-in
    return app


HTTP_STATUS = {
    code: f"{code} {HTTPStatus(code).phrase}" for code in (200, 400, 403, 404, 413, 500, 503)
}


def _card(row: OutboxMessage, clicked: dict[str, str]) -> dict | None:
    card = row.content.get("card") if row.msg_type == "card" else None
    if not card:
        return None
    return {
        "task_id": card["task_id"],
        "buttons": [
            {"key": b["key"], "text": b["text"], "done": BUTTON_DONE.get(b["key"], "")}
            for b in card.get("button_list", [])
        ],
        "clicked": BUTTON_DONE.get(clicked.get(card["task_id"], ""), ""),
    }


def _file_url(content: dict) -> str:
    meta = content.get("file") or {}
    sha = str(meta.get("sha256", ""))
    if meta.get("store") != "exports" or len(sha) != 64:
        return ""
    return f"/sandbox/api/file/{sha}"


def _bad(message: str, status: int = 400):
    return jsonify(ok=False, error=message), status


def _refused(reason: str, message: str):
    return jsonify(ok=False, reason=reason, error=message), 403


def _equal(given: str, expected: str) -> bool:
    """Constant time, whatever was sent (header values may hold any Latin-1 byte)."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def _split_host(value: str) -> tuple[str, int | None] | None:
    """`name:port` of a Host or Origin as (lower-case name without brackets, port or None)."""
    if not _HOST_HEADER.match(value):
        return None
    parts = urlsplit("//" + value)
    try:
        return (parts.hostname or "", parts.port)
    except ValueError:  # a port above 65535
        return None


def _host_allowed(config, host_header: str, environ: dict) -> bool:
    """The Host a browser put in the request names this server as configured. Another name
    (DNS rebinding: a site's own name resolving to 127.0.0.1) is refused. Loopback names must
    carry the port the server listens on; configured remote names may leave it out (a proxy)."""
    host = _split_host(host_header)
    if host is None:
        return False
    name, port = host
    if name in LOOPBACK_NAMES:
        return (port or 80) == int(environ.get("SERVER_PORT") or 0)
    if not config.sandbox_remote_allowed:
        return False
    for allowed, allowed_port in config.sandbox_hosts:
        if name == allowed and (
            allowed_port is None
            or port == allowed_port
            or (port is None and allowed_port in (80, 443))
        ):
            return True
    return False


def _same_origin(headers) -> bool:
    """What the browser says about who sent the request: Sec-Fetch-Site (when sent) is
    same-origin or none (typed in), and an Origin (when sent) is the Host asked for."""
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = headers.get("Origin")
    if origin is None:
        return True  # not a browser's cross-origin request (they always send Origin)
    parts = urlsplit(origin)
    host = _split_host(headers.get("Host", ""))
    if parts.scheme not in ("http", "https") or host is None or parts.path:
        return False
    default = 443 if parts.scheme == "https" else 80
    try:
        origin_host = (parts.hostname or "", parts.port or default)
    except ValueError:
        return False
    return origin_host == (host[0], host[1] or default)


def _is_loopback(addr: str | None) -> bool:
    try:
        return ipaddress.ip_address((addr or "").split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _members() -> list[dict]:
    query = Member.select().where(Member.active == True).order_by(Member.id)  # noqa: E712
    return [
        {
            "userid": m.wecom_userid,
            "label": m.label,
            "unit": m.unit.name if m.unit else "",
            "role": m.role,
            "role_label": m.role_label,
            "is_admin": "admin" in m.roles,  # a person may hold several roles ("admin|leader")
        }
        for m in query
    ]
