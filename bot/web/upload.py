"""The upload page (/board/upload/): a unit's liaison or head files evidence from WeCom's
in-app browser, because WeCom's receive-message API does not promise file callbacks
(MsgType=file) and PDFs or Word files may never reach the bot from chat.

It is part of the board as far as the browser is concerned: the same sign-in (WeCom's OAuth,
a personal link, or the sandbox's chosen person), the same session cookie (path /board), the
same headers (no script at all, styles from our own file). What a file changes is done by the
chat's own actions (bot/actions/evidence.py: file_under, the same dedupe, checklist point and
audit), under the signed-in person; the confirmation in chat goes through the outbox.

Who may upload: a unit's liaison or head, for their own unit's items only. Leaders and admins
without a unit get a clear refusal (an admin files for a unit by asking its liaison, as in
chat, where an admin's file waits for no unit either); an admin who is also a unit's liaison
uploads as that liaison.

The POST is guarded by the board's same-origin test and a form token bound to the session
(HMAC with the deployment's cookie key). The whole request is capped at MAX_FILES files'
worth; each file is capped (EVIDENCE_MAX_MB) while the request is read (CappedSpool: past the
cap nothing more of it is kept and what was is dropped), then streamed into the evidence store,
which checks the cap again while it writes: a larger file is refused by name, nothing of it
stored.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import tempfile
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from bot.actions.base import Refused, Via
from bot.actions.evidence import Placed, file_under, point_in
from bot.actions.lookup import share_of
from bot.board import access
from bot.evidence import EvidenceTooLarge, StoredFile
from bot.render import format_size
from bot.web import board
from bot.web.deps import deps
from bot.web.doors import same_origin
from models.db import database
from models.plan import Item
from reminders.state import checklist_coverage, upload_choices

log = logging.getLogger(__name__)

MAX_FILES = 10  # files in one upload
CAPTION_MAX = 200
FORM_ROOM = 64 * 1024  # the form's other fields and the multipart boundaries
_CODE = re.compile(r"^[A-Za-z]{1,2}[0-9]{1,3}$")

routes = Blueprint("upload", __name__, url_prefix="/board/upload")
# The board's own doors and headers: signed in (or sent to sign in), bound, no script.
routes.before_request(board._who)
routes.after_request(board._headers)


def form_token(session) -> str:
    """The upload form's token: bound to this browser's session, never stored."""
    message = f"upload-form:{session.id}:{session.token_hash}".encode()
    return hmac.new(access.cookie_key(), message, hashlib.sha256).hexdigest()


class CappedSpool:
    """Where the form parser writes one uploaded file while the request is read: memory, then a
    temporary file, up to the per-file cap. Past the cap the file is marked too large, what was
    kept of it is dropped and the rest is read and thrown away (the parser reads on to the next
    file; nothing of this one is kept)."""

    def __init__(self, cap: int):
        self.cap = cap
        self.size = 0
        self.too_large = False
        # Closed with the request (Werkzeug closes its files when the request ends).
        self._file = tempfile.SpooledTemporaryFile(max_size=512 * 1024)  # noqa: SIM115

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.cap:
            if not self.too_large:
                self.too_large = True
                self._file.seek(0)
                self._file.truncate()
            return len(data)
        return self._file.write(data)

    def __getattr__(self, name: str) -> Any:  # read, seek, tell, close… of the spool
        return getattr(self._file, name)


@dataclass
class Outcome:
    """One chosen file: filed (the evidence id), already there (the earlier copy), or refused."""

    name: str
    size: int = 0
    placed: Placed | None = None
    refused: str = ""


def _limit_mb() -> int:
    return deps().config.evidence_max_bytes // (1024 * 1024)


def _choices(viewer):
    return upload_choices(viewer.unit_id) if viewer.unit_id is not None else []


def _max_points(choices) -> int:
    return max(
        (len(share.item.checklist()) for share, _, _ in choices if share.item.is_indicator),
        default=0,
    )


def _form(status: int = 200, error: str = "", **kept) -> Response:
    choices = _choices(g.viewer)
    return board._render(
        "upload",
        status,
        choices=choices,
        max_points=_max_points(choices),
        token=form_token(g.board_session),
        limit_mb=_limit_mb(),
        max_files=MAX_FILES,
        error=error,
        chosen=kept.get("item", request.args.get("item", "")),
        chosen_point=kept.get("point", ""),
        caption=kept.get("caption", ""),
    )


def _refuse_role() -> Response | None:
    if g.viewer.reports:
        return None
    return board._render("notice", 403, kind="upload_role")


@routes.route("/", methods=["GET", "POST"])
def page() -> Response:
    if request.method == "POST":
        return upload()
    return _refuse_role() or _form()


def upload() -> Response:
    if not same_origin(request.headers):
        log.warning("upload: a cross-site POST from %r", request.headers.get("Origin"))
        return board._notice("cross_site", 403)
    refused = _refuse_role()
    if refused is not None:
        return refused
    web = deps()
    request.max_content_length = MAX_FILES * web.config.evidence_max_bytes + FORM_ROOM
    cap = web.config.evidence_max_bytes

    def spool(*_args: object, **_kwargs: object) -> CappedSpool:
        return CappedSpool(cap)

    request._get_file_stream = spool  # type: ignore[method-assign,assignment]  # this request only
    try:
        form, files = request.form, request.files
    except RequestEntityTooLarge:
        return _form(
            413,
            f"一次上传的文件合计太大：每个文件不超过 {_limit_mb()} MB，一次最多 {MAX_FILES} 个。",
        )
    if not hmac.compare_digest(form.get("token", ""), form_token(g.board_session)):
        log.warning("upload: %s posted without this session's form token", g.viewer.userid)
        return board._render("notice", 403, kind="upload_token")
    code = form.get("item", "").strip().upper()
    caption = form.get("caption", "").strip()
    point_text = form.get("point", "").strip()
    kept = {"item": code, "point": point_text, "caption": caption[:CAPTION_MAX]}
    chosen = [f for f in files.getlist("files") if f.filename]
    # Everything is checked before a byte is kept.
    item = Item.get_or_none(Item.code == code) if _CODE.match(code) else None
    share = share_of(item, g.viewer.unit_id) if item is not None else None
    if item is None or item.cancelled_at is not None:
        return _form(
            400, "请选择要归入的事项。" if not code else f"没有编号为 {code} 的事项。", **kept
        )
    if share is None:
        log.warning("upload: %s chose %s, not their unit's", g.viewer.userid, code)
        return _form(
            400, f"{code} 不是{g.viewer.unit_name}的责任事项，只能为本单位的事项上传材料。", **kept
        )
    point = None
    if point_text:
        if not point_text.isdigit() or len(point_text) > 2:
            return _form(400, "评分标准的第几项请从列表中选择。", **kept)
        try:
            point = point_in(item, int(point_text))
        except Refused as exc:
            return _form(400, exc.message, **kept)
    if len(caption) > CAPTION_MAX:
        return _form(400, f"说明最多 {CAPTION_MAX} 个字。", **kept)
    if not chosen:
        return _form(400, "请选择要上传的文件或图片。", **kept)
    if len(chosen) > MAX_FILES:
        return _form(400, f"一次最多上传 {MAX_FILES} 个文件，请分几次上传。", **kept)
    outcomes: list[Outcome] = []
    stored: list[tuple[Outcome, StoredFile]] = []
    for upload in chosen:
        outcome = Outcome(name=upload.filename or "")
        outcomes.append(outcome)
        if getattr(upload.stream, "too_large", False):  # refused while it was read
            outcome.refused = f"超过 {_limit_mb()} MB 上限，未保存。"
            continue
        if not upload.stream.read(1):
            outcome.refused = "是空文件，未保存。"
            continue
        upload.stream.seek(0)
        try:
            saved = web.evidence.save(upload.stream, upload.filename or "")
        except EvidenceTooLarge:
            outcome.refused = f"超过 {_limit_mb()} MB 上限，未保存。"
            continue
        outcome.name, outcome.size = saved.original_name, saved.size
        stored.append((outcome, saved))
    ctx = web.pipeline.context_for(g.viewer.userid)
    ctx.via = Via.PAGE
    ctx.cause = f"upload-{secrets.token_hex(8)}"
    with database.atomic():
        share = share_of(item, g.viewer.unit_id)  # read again inside the transaction
        if share is None:  # unbound or moved meanwhile: nothing is filed
            return _form(400, f"{code} 不是本单位的责任事项。", **kept)
        count: int | None = None
        for outcome, saved in stored:
            outcome.placed = file_under(ctx, saved, share, point, caption)
            count = outcome.placed.count  # the unit's files for the item after this one
        if count is not None:
            _confirm_in_chat(ctx, item, share.unit_id, stored, count)
    if count is not None:
        web.wake_worker()
    return board._render(
        "upload_result",
        outcomes=outcomes,
        item=item,
        point=point,
        count=count,
        coverage=checklist_coverage(item, share.unit_id) if item.is_indicator else [],
        format_size=format_size,
    )


def _confirm_in_chat(ctx, item: Item, unit_id: int, stored, count: int) -> None:
    """The chat's own answer to evidence, told through the outbox (inside the transaction:
    a rolled-back upload tells nothing)."""
    names = [saved.original_name for outcome, saved in stored if outcome.placed.duplicate is None]
    repeats = [saved.original_name for outcome, saved in stored if outcome.placed.duplicate]
    if names:
        text = ctx.say(
            "replies.j2",
            "evidence_attached",
            names=names,
            item=item,
            count=count,
            coverage=checklist_coverage(item, unit_id) if item.is_indicator else [],
        )
        if repeats:
            text += "\n" + ctx.say("replies.j2", "evidence_repeats", names=repeats)
    else:
        text = ctx.say("replies.j2", "evidence_all_repeats", names=repeats, item=item)
    ctx.tell([ctx.userid], "（网页上传）" + text, ctx.key("upload-done"))
