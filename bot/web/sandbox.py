"""The browser sandbox (/sandbox), when no WeCom account is set up: a transport like WeCom. What
it receives goes through the same pipeline (inbound table, dispatcher, outbox), and the page
shows what the outbox sender delivered. Every request has passed the doors (bot/web/doors.py)
before it reaches these routes.
"""

from __future__ import annotations

import re
import uuid

from flask import Blueprint, abort, jsonify, render_template, request, send_file

from bot.cards import BUTTON_DONE
from bot.evidence import EvidenceStore, EvidenceTooLarge
from bot.outbox import views as outbox_views
from bot.pipeline import Incoming
from bot.web.deps import deps
from models import userids
from models.messages import InboundMessage, OutboxMessage
from models.org import ROLES, Member

_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TEXT = 2000
FEED_LIMIT = 200
USERID_RULE = userids.RULE + "，不能是 @all。"

routes = Blueprint("sandbox", __name__)


@routes.get("/sandbox")
def page():
    # With a secret nothing about the people is shown until the page has it (the page asks,
    # then reads /sandbox/api/members).
    locked = bool(deps().config.sandbox_secret)
    return render_template(
        "sandbox.html",
        members=[] if locked else _members(),
        roles=ROLES,
        token=deps().page_token,
        secret_required=locked,
    )


@routes.get("/sandbox/api/members")
def members():
    return jsonify(members=_members())


@routes.post("/sandbox/api/send")
def send():
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return bad("请求格式不对：需要 JSON。")
    userid = str(data.get("userid") or "").strip()
    text = str(data.get("text") or "")
    client_id = str(data.get("id") or uuid.uuid4().hex)
    if not userids.valid(userid):
        return bad(USERID_RULE)
    if not _CLIENT_ID.match(client_id):
        return bad("消息编号格式不对。")
    if not text.strip():
        return bad("消息不能为空。")
    if len(text) > MAX_TEXT:
        return bad(f"消息太长（最多 {MAX_TEXT} 字）。")
    result = deps().pipeline.handle(Incoming("sandbox", client_id, userid, kind="text", text=text))
    return jsonify(ok=True, duplicate=result.duplicate, inbound_id=result.inbound_id), 202


@routes.post("/sandbox/api/click")
def click():
    """A click on a card's button, as WeCom's template_card_event would bring it."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return bad("请求格式不对：需要 JSON。")
    userid = str(data.get("userid") or "")
    task_id = str(data.get("task_id") or "")
    key = str(data.get("key") or "")
    client_id = str(data.get("id") or uuid.uuid4().hex)
    if not userids.valid(userid) or not _CLIENT_ID.match(client_id):
        return bad("userid 或消息编号格式不对。")
    if not re.fullmatch(r"[A-Za-z0-9_@-]{1,128}", task_id) or key not in BUTTON_DONE:
        return bad("卡片或按钮不对。")
    payload = {
        "event": "template_card_event",
        "EventKey": key,
        "TaskId": task_id,
        "ResponseCode": "",
    }
    result = deps().pipeline.handle(
        Incoming("sandbox", client_id, userid, kind="event", payload=payload)
    )
    return jsonify(ok=True, duplicate=result.duplicate), 202


@routes.post("/sandbox/api/upload")
def upload():
    userid = (request.form.get("userid") or "").strip()
    client_id = request.form.get("id") or uuid.uuid4().hex
    caption = (request.form.get("caption") or "")[:MAX_TEXT]
    given = request.files.get("file")
    if not userids.valid(userid):
        return bad(USERID_RULE)
    if not _CLIENT_ID.match(client_id):
        return bad("消息编号格式不对。")
    if given is None or not given.filename:
        return bad("没有收到文件。")
    try:
        stored = deps().evidence.save(given.stream, given.filename)
    except EvidenceTooLarge as exc:
        return bad(str(exc), 413)
    if stored.size == 0:
        return bad("文件是空的。")
    result = deps().pipeline.handle(
        Incoming("sandbox", client_id, userid, kind="file", text=caption, file=stored)
    )
    return jsonify(ok=True, duplicate=result.duplicate, sha256=stored.sha256), 202


@routes.get("/sandbox/api/feed")
def feed():
    after_out = request.args.get("after_out", "0")
    after_in = request.args.get("after_in", "0")
    if not (after_out.isdigit() and after_in.isdigit()):
        return bad("after_out 和 after_in 应为整数。")
    format_when = deps().renderer.format_when
    labels = {m["userid"]: m["label"] for m in _members()}
    out_rows, out_cursor = outbox_views.final_after(int(after_out), FEED_LIMIT)
    in_rows = (
        InboundMessage.select()
        .where(InboundMessage.id > int(after_in))
        .order_by(InboundMessage.id)
        .limit(FEED_LIMIT)
    )
    clicked = outbox_views.clicks(out_rows)
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
            "at": format_when(row.sent_at or row.created_at, "%H:%M:%S"),
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
            "at": format_when(row.received_at, "%H:%M:%S"),
            "ts": row.received_at.isoformat(),
        }
        for row in in_rows
    ]
    return jsonify(outgoing=outgoing, incoming=incoming, out_cursor=out_cursor)


@routes.get("/sandbox/api/file/<sha256>")
def sent_file(sha256: str):
    """Files the bot sent (the ledger, packs), for the sandbox page's download links."""
    store = EvidenceStore(deps().config.data_dir / "exports", max_bytes=0)
    try:
        path = store.path_for(sha256)
    except ValueError:
        abort(404)
    name = outbox_views.sent_file_name(sha256, "file")
    if not path.is_file():
        abort(404)
    return send_file(path, as_attachment=True, download_name=name)


def bad(message: str, status: int = 400):
    return jsonify(ok=False, error=message), status


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
