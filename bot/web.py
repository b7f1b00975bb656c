"""The WSGI app: /healthz, and the browser sandbox (/sandbox) when no WeCom account is set up.

The sandbox is a transport like WeCom: what it receives goes through the same pipeline (inbound
table, dispatcher, outbox), and the page shows what the outbox sender delivered.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import uuid

import peewee
from flask import Flask, Response, abort, jsonify, render_template, request, send_file

from bot.cards import BUTTON_DONE
from bot.evidence import EvidenceStore, EvidenceTooLarge
from bot.pipeline import Incoming
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


def create_app(services: Services) -> Flask:
    config = services.config
    app = Flask(__name__, template_folder=str(TEMPLATE_DIR))
    # Uploads are capped by the evidence limit plus room for the form fields.
    app.config["MAX_CONTENT_LENGTH"] = config.evidence_max_bytes + 64 * 1024

    per_request = is_postgres()

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

    @app.get("/healthz")
    def healthz():
        try:
            pending = OutboxMessage.select().where(OutboxMessage.status == "pending").count()
            failed = OutboxMessage.select().where(OutboxMessage.status == "failed").count()
        except peewee.PeeweeException:
            log.exception("health check: database unavailable")
            return jsonify(status="error", database=False), 503
        return jsonify(
            status="ok",
            database=True,
            mode="wecom" if config.wecom_enabled else "sandbox",
            sandbox=config.sandbox_enabled,
            outbox={"pending": pending, "failed": failed},
        )

    callback = services.callback

    @app.route("/wecom/callback", methods=["GET", "POST"])
    def wecom_callback():
        if callback is None:
            abort(404)
        args = parse_query(request.query_string)
        try:
            if request.method == "GET":
                plain = callback.verify_url(args)
                return Response(plain, status=200, mimetype="text/plain")
            body = request.stream.read(MAX_CALLBACK_BODY + 1)
            callback.receive(args, body)
        except CallbackError as exc:
            log.info("callback refused (%s): %s", exc.status, exc.reason)
            return Response("", status=exc.status)
        services.worker_wake()
        return Response("", status=200)

    def _sandbox_guard():
        if not config.sandbox_enabled:
            abort(404)
        if not config.sandbox_remote_allowed and not _is_loopback(request.remote_addr):
            abort(403)

    @app.get("/sandbox")
    def sandbox_page():
        _sandbox_guard()
        return render_template("sandbox.html", members=_members(), roles=ROLES)

    @app.get("/sandbox/api/members")
    def sandbox_members():
        _sandbox_guard()
        return jsonify(members=_members())

    @app.post("/sandbox/api/send")
    def sandbox_send():
        _sandbox_guard()
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
        _sandbox_guard()
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
        _sandbox_guard()
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
        _sandbox_guard()
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
        _sandbox_guard()
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

    return app


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
        }
        for m in query
    ]
