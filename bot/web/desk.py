"""The office's desk under /desk: its routes, sign-in and guards. What each page shows is
bot/desk/views.py's; every change is an action of bot/actions, called as the chat calls it.

Sign-in is the board's (bot/board/access.py: the same sessions, states and revocation) with a
cookie of its own path: inside the WeCom client the in-client OAuth, on a PC browser WeCom's web
login (扫码登录, login_type=CorpApp); in sandbox mode the sandbox's chosen person. Admins use
everything; leaders read and may 催办 the items they assigned or instructed; liaisons, heads
and strangers get nothing. Every form carries a CSRF token bound to the session and is checked
for the same origin; every change is audited under the signed-in person (the actions do it);
anything destructive asks once more. No script, no CDN: one local stylesheet.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, g, jsonify, redirect, request, send_file
from werkzeug.wrappers import Response as BaseResponse

from bot.actions import assigned as assigned_actions
from bot.actions import deadlines, org, review
from bot.actions.base import Refused, Via
from bot.actions.nudge import nudge, open_rows
from bot.board import access
from bot.board.pages import Moment
from bot.desk import views
from bot.transports.wecom.errors import WeComError
from bot.web.deps import deps
from bot.web.doors import equal, same_origin
from models.audit import AuditEntry
from models.board import VIA_SANDBOX, VIA_WEBLOGIN, VIA_WECOM
from models.db import database
from models.org import ROLE_BY_LABEL, Member, Unit, UnitGroup, find_member
from models.plan import Assignment
from models.progress import Evidence
from reminders.recurrence import parse_recurrence

log = logging.getLogger(__name__)

SESSION_COOKIE = "desk_session"
STATE_COOKIE = "desk_signin"
STATIC = Path(views.__file__).resolve().parent / "static"
DESK_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
FILE_CSP = "default-src 'none'; img-src 'self'; sandbox"
INLINE_TYPES = ("image/png", "image/jpeg", "image/gif")
_PUBLIC = frozenset({"desk.callback", "desk.stylesheet", "desk.signout"})
IDS_MAX = 200  # rows decided at once
_USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")

routes = Blueprint("desk", __name__, url_prefix="/desk")
sandbox_signin = Blueprint("desk_sandbox", __name__)


@functools.cache
def _stylesheet() -> tuple[bytes, str]:
    css = (STATIC / "desk.css").read_bytes()
    return css, f"/desk/static/desk.css?v={hashlib.sha256(css).hexdigest()[:12]}"


def _now():
    web = deps()
    return web.clock.now().astimezone(web.config.timezone)


def _moment() -> Moment:
    return Moment(g.desk_now, deps().config)


def _render(name: str, status: int = 200, **context) -> Response:
    html = (
        deps()
        .renderer.env.get_template(f"desk/{name}.html")
        .render(
            viewer=g.get("viewer"),
            csrf=g.get("csrf", ""),
            computed_at=g.get("desk_now") or _now(),
            css_url=_stylesheet()[1],
            page=name,
            **context,
        )
    )
    return Response(html, status=status, mimetype="text/html")


def _notice(kind: str, status: int, **context) -> Response:
    g.viewer = None
    return _render("notice", status, kind=kind, **context)


def csrf_for(session) -> str:
    """The session's form token: only a page of this session carries it."""
    key = access.cookie_key()
    return hmac.new(key, f"desk-csrf:{session.token_hash}".encode(), hashlib.sha256).hexdigest()


def _set_session_cookie(response: BaseResponse, value: str, session) -> BaseResponse:
    web = deps()
    seconds = int((session.expires_at - web.clock.now()).total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max(0, seconds),
        path="/desk",
        secure=web.config.board_secure,
        httponly=True,
        samesite="Lax",
    )
    return response


def _clear(response: BaseResponse, name: str, path: str) -> BaseResponse:
    response.delete_cookie(
        name, path=path, secure=deps().config.board_secure, httponly=True, samesite="Lax"
    )
    return response


def may_use_desk(viewer: access.Viewer) -> bool:
    return viewer.is_admin or "leader" in viewer.roles


@routes.before_request
def _who():
    config = deps().config
    if not config.board_enabled:
        return _notice("disabled", 404)
    g.desk_now = _now()
    if request.endpoint in _PUBLIC:
        return None
    session = access.session_for(request.cookies.get(SESSION_COOKIE), g.desk_now)
    if session is None:
        return _sign_in()
    viewer = access.viewer_for(session.wecom_userid, config, session.via)
    if viewer is None:
        return _notice("stranger", 403)
    if not may_use_desk(viewer):
        log.info("desk: %s (%s) is not an admin or a leader", viewer.userid, viewer.role_label)
        return _notice("not_office", 403, who=viewer)
    g.viewer = viewer
    g.csrf = csrf_for(session)
    if request.method == "POST":
        if not same_origin(request.headers):
            log.warning("desk: a cross-site post from %r", request.headers.get("Origin"))
            return _notice("cross_site", 403)
        if not equal(request.form.get("csrf", ""), g.csrf):
            return _notice("csrf", 403)
    return None


def _in_wecom_client() -> bool:
    return "wxwork" in request.headers.get("User-Agent", "").lower()


def _sign_in() -> BaseResponse:
    config = deps().config
    if not config.wecom_enabled:
        return _clear(_notice("sandbox", 401), SESSION_COOKIE, "/desk")
    state, cookie = access.new_state(request.full_path, g.desk_now)
    # Inside the WeCom client the in-client sign-in; on a PC browser WeCom's web login.
    inside = _in_wecom_client()
    url = (access.desk_authorize_url if inside else access.weblogin_url)(config, state)
    response = redirect(url, code=302)
    response.set_cookie(
        STATE_COOKIE,
        cookie,
        max_age=int(access.STATE_TTL.total_seconds()),
        path="/desk/auth",
        secure=config.board_secure,
        httponly=True,
        samesite="Lax",
    )
    return _clear(response, SESSION_COOKIE, "/desk")


@routes.after_request
def _headers(response: Response) -> Response:
    if request.endpoint == "desk.stylesheet":
        return response
    response.headers.setdefault("Content-Security-Policy", DESK_CSP)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint == "desk.callback":
        response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- signing in and out


@routes.get("/auth/callback")
def callback():
    web = deps()
    if not web.config.wecom_enabled:
        return _notice("not_found", 404)
    state = request.args.get("state", "")
    code = request.args.get("code", "")
    next_path = access.take_state(state, request.cookies.get(STATE_COOKIE), g.desk_now)
    if next_path is None or not next_path.startswith("/desk"):
        log.warning("desk: a sign-in came back with a state this browser was not given")
        return _clear(_notice("state", 400), STATE_COOKIE, "/desk/auth")
    if not code or len(code) > 512 or not code.replace("-", "").replace("_", "").isalnum():
        return _clear(_notice("code", 400), STATE_COOKIE, "/desk/auth")
    try:
        userid = access.userid_for_code(web.client, code)  # outside any transaction
    except WeComError as exc:
        log.warning("desk: auth/getuserinfo refused the code: %s", exc.describe())
        kind = "code" if exc.errcode == 40029 else "wecom"
        return _clear(_notice(kind, 400 if kind == "code" else 502), STATE_COOKIE, "/desk/auth")
    except TimeoutError:
        return _clear(_notice("wecom", 503), STATE_COOKIE, "/desk/auth")
    viewer = access.viewer_for(userid, web.config) if userid else None
    if viewer is None:
        return _clear(_notice("stranger", 403), STATE_COOKIE, "/desk/auth")
    if not may_use_desk(viewer):
        return _clear(_notice("not_office", 403, who=viewer), STATE_COOKIE, "/desk/auth")
    via = VIA_WECOM if _in_wecom_client() else VIA_WEBLOGIN
    moment = web.clock.now()
    with database.atomic():
        value, session = access.start_session(userid, via, moment, web.config.board_session_hours)
        AuditEntry.record(
            moment,
            userid,
            "desk_signin",
            f"登录办公桌（{'企业微信内' if via == VIA_WECOM else '扫码登录'}，"
            f"{request.remote_addr or '未知地址'}）",
            after={"session": session.id, "via": via},
        )
    response = _set_session_cookie(redirect(next_path, code=303), value, session)
    return _clear(response, STATE_COOKIE, "/desk/auth")


@routes.post("/signout")
def signout():
    if not same_origin(request.headers):
        return _notice("cross_site", 403)
    now = deps().clock.now()
    session = access.session_for(request.cookies.get(SESSION_COOKIE), now)
    if session is not None:
        if not equal(request.form.get("csrf", ""), csrf_for(session)):
            return _notice("csrf", 403)
        access.end_session(session, now)
    return _clear(_notice("signed_out", 200), SESSION_COOKIE, "/desk")


@routes.get("/static/desk.css")
def stylesheet():
    response = Response(_stylesheet()[0], mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@sandbox_signin.post("/sandbox/api/desk")
def sandbox_desk():
    data = request.get_json(silent=True)
    userid = str((data or {}).get("userid") or "").strip() if isinstance(data, dict) else ""
    if not _USERID.match(userid):
        return jsonify(ok=False, error="userid 只能包含字母、数字和 _ . @ -，最长 64 位。"), 400
    web = deps()
    value, session = access.start_session(
        userid, VIA_SANDBOX, web.clock.now(), web.config.board_session_hours
    )
    return _set_session_cookie(jsonify(ok=True, url="/desk/"), value, session)


# ---------------------------------------------------------------- acting


def _acting():
    """The signed-in person as the actions know them (the chat's Context, via the desk)."""
    web = deps()
    acting = web.pipeline.context_for(g.viewer.userid)
    acting.via = Via.DESK
    acting.cause = f"desk-{secrets.token_hex(8)}"
    return acting


def _act(change: Callable[[Any], Any]) -> tuple[Any, str]:
    """Run one change in one transaction; (its result, "") or (None, the refusal)."""
    acting = _acting()
    try:
        with database.atomic():
            result = change(acting)
    except Refused as exc:
        return None, exc.message
    deps().wake_worker()  # the messages it queued
    return result, ""


def _done(message: str, back: str, status: int = 200, error: str = "") -> Response:
    return _render("done", status, message=message, error=error, back=back)


def _admin_only() -> Response | None:
    if not g.viewer.is_admin:
        return _render("notice", 403, kind="read_only")
    return None


def _confirm(question: str, action: str, button: str) -> Response | None:
    """Anything destructive asks once more: the same form again, with confirmed=yes."""
    if request.form.get("confirmed") == "yes":
        return None
    fields = [
        (k, v) for k, vs in request.form.lists() for v in vs if k not in ("csrf", "confirmed")
    ]
    return _render("confirm", question=question, action=action, button=button, fields=fields)


def _form(name: str, limit: int = 200) -> str:
    return request.form.get(name, "").strip()[:limit]


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 10 else None


# ---------------------------------------------------------------- pages


@routes.get("/")
def home():
    return _render("home", d=views.home(_moment()))


@routes.get("/new")
def new_item():
    return _render("new", c=views.form_choices(), f={}, error="")


@routes.post("/new")
def create_item():
    denied = _admin_only()
    if denied:
        return denied
    f = {k: request.form.get(k, "") for k in request.form}
    f["co"] = request.form.getlist("co")
    f["groups"] = request.form.getlist("groups")
    error, spec = _read_new(f)
    if spec is not None:
        result, error = _act(lambda acting: assigned_actions.assign_item(acting, spec))
        if not error:
            item = result.item
            note = f"已立项并交办 {item.code}，已通知 {result.notified} 人"
            if result.unbound:
                note += f"；{'、'.join(result.unbound)}还没有绑定联络员"
            return _done(note + "。", f"/desk/item/{item.code}")
    return _render("new", 400, c=views.form_choices(), f=f, error=error)


def _read_new(f: dict[str, Any]) -> tuple[str, assigned_actions.AssignSpec | None]:
    title = f.get("title", "").strip()
    if not title:
        return "请填写事项。", None
    if len(title) > 500:
        return "事项太长（最多 500 个字）。", None
    lead = Unit.get_or_none(Unit.id == _int(f.get("lead", "")) or 0)
    if lead is None:
        return "请选择牵头单位。", None
    named: list[tuple[Unit, bool, str]] = [(lead, True, "")]
    for raw in f.get("co", []):
        unit = Unit.get_or_none(Unit.id == (_int(raw) or 0))
        if unit is None:
            return "配合单位中有不存在的单位，请刷新页面后重选。", None
        named.append((unit, False, ""))
    for raw in f.get("groups", []):
        group = UnitGroup.get_or_none(UnitGroup.id == (_int(raw) or 0))
        if group is None:
            return "配合单位组中有不存在的单位组，请刷新页面后重选。", None
        named.extend((unit, False, group.name) for unit in group.units())
    due, rule = None, None
    raw_due = f.get("deadline", "").strip()
    raw_rule = f.get("rule", "").strip()
    if raw_due and raw_rule:
        return "期限和报送周期只能填一个。", None
    if raw_due:
        try:
            due = date.fromisoformat(raw_due)
        except ValueError:
            return f"期限“{raw_due}”不是日期，请写 2026-12-31 这样的日期。", None
    elif raw_rule:
        try:
            rule = parse_recurrence(raw_rule)
        except ValueError as exc:
            return str(exc), None
        if rule is None:
            return (
                f"报送周期“{raw_rule}”看不懂：可写 每周五、每月5日、每月末、每季度末、每年12月10日。",
                None,
            )
    else:
        return "请填写期限或报送周期。", None
    try:
        units = assigned_actions.leads_first(named)
    except Refused as exc:
        return exc.message, None
    spec = assigned_actions.AssignSpec(
        title=title,
        source=f.get("source", ""),
        units=units,
        deadline=due,
        rule=rule,
        body=title,
        doc_no=f.get("doc_no", "")[:100],
        instructed_by=f.get("leader", "")[:64],
        instruction=f.get("instruction", "")[:6000],
        urgency=f.get("urgency", "") or "一般",
    )
    return "", spec


@routes.get("/review")
def review_queue():
    return _render("review", d=views.review_queue(_moment()))


@routes.post("/review")
def decide_review():
    denied = _admin_only()
    if denied:
        return denied
    ids = [i for i in (_int(v) for v in request.form.getlist("ids")[:IDS_MAX]) if i]
    decision = request.form.get("decision", "")
    reason = _form("reason", 500)
    if not ids:
        return _done("", "/desk/review", 400, "请至少勾选一项。")
    if decision not in ("pass", "return"):
        return _done("", "/desk/review", 400, "请选择通过或退回。")
    if decision == "return":
        if not reason:
            return _done("", "/desk/review", 400, "退回须写明原因。")
        asked = _confirm(f"确认退回这 {len(ids)} 项？原因：{reason}", "/desk/review", "确认退回")
        if asked:
            return asked
    rows = list(Assignment.select().where(Assignment.id.in_(ids)))
    if len(rows) != len(ids):
        return _done("", "/desk/review", 400, "有的事项已不存在，请刷新页面。")

    def decide(acting):
        decided = []
        for a in rows:
            if decision == "pass":
                review.approve(acting, a)
            else:
                review.send_back(acting, a, reason)
            decided.append(f"{a.label} {a.unit.name}")
        return decided

    decided, error = _act(decide)
    if error:
        return _done("", "/desk/review", 400, error + "（这一批都没有处理。）")
    verb = "通过" if decision == "pass" else "退回"
    return _done(f"已{verb}：{'；'.join(decided)}。", "/desk/review")


@routes.post("/extension")
def decide_extension():
    denied = _admin_only()
    if denied:
        return denied
    number = _int(request.form.get("id", ""))
    decision = request.form.get("decision", "")
    note = _form("note", 500)
    if number is None or decision not in ("approve", "reject"):
        return _done("", "/desk/review", 400, "请求不完整，请回到审核页重试。")
    if decision == "reject":
        asked = _confirm(f"确认驳回延期申请 {number}？", "/desk/extension", "确认驳回")
        if asked:
            return asked

    def decide(acting):
        request_row = deadlines.pending_request(number)
        return deadlines.decide_request(
            acting, request_row, approved=decision == "approve", note=note
        )

    _, error = _act(decide)
    if error:
        return _done("", "/desk/review", 400, error)
    verb = "批准" if decision == "approve" else "驳回"
    return _done(f"已{verb}延期申请 {number}。", "/desk/review")


@routes.get("/items")
def items():
    return _render("items", d=views.items(_moment(), views.Filters.read(request.args)))


def _item_or_404(code: str):
    if not code.isalnum() or len(code) > 8:
        return None
    try:
        return views.item_by_code(code)
    except views.NotFound:
        return None


@routes.get("/item/<code>")
def item(code: str):
    if _item_or_404(code) is None:
        return _notice("not_found", 404)
    return _render("item", d=views.item_page(code, _moment()))


@routes.get("/item/<code>/print")
def item_print(code: str):
    if _item_or_404(code) is None:
        return _notice("not_found", 404)
    data = views.item_page(code, _moment())
    return _render("print_item", d=data, today=views.today_label(_moment().today))


@routes.get("/print/overdue")
def overdue_print():
    at = _moment()
    return _render("print_overdue", d=views.overdue_sheet(at), today=views.today_label(at.today))


@routes.post("/item/<code>/nudge")
def item_nudge(code: str):
    found = _item_or_404(code)
    if found is None:
        return _notice("not_found", 404)
    back = f"/desk/item/{found.code}"
    result, error = _act(
        lambda acting: nudge(acting, open_rows(Assignment.item == found), found.code, found.code)
    )
    if error:
        return _done("", back, 400, error)
    note = f"已催办 {found.code}：发给 {'、'.join(result.sent_to) or '无人'}"
    if result.missing:
        note += f"；{'、'.join(result.missing)}没有联络员"
    return _done(note + "。", back)


@routes.post("/item/<code>/deadline")
def item_deadline(code: str):
    denied = _admin_only()
    if denied:
        return denied
    found = _item_or_404(code)
    if found is None:
        return _notice("not_found", 404)
    back = f"/desk/item/{found.code}"
    raw = _form("deadline", 20)
    try:
        due = date.fromisoformat(raw)
    except ValueError:
        return _done("", back, 400, f"新期限“{raw}”不是日期，请写 2026-12-31 这样的日期。")
    unit_id = _int(request.form.get("unit", ""))
    unit = Unit.get_or_none(Unit.id == unit_id) if unit_id else None
    if unit_id and unit is None:
        return _done("", back, 400, "没有这个单位，请刷新页面。")
    result, error = _act(
        lambda acting: deadlines.set_deadline(
            acting, found, due, [unit] if unit else None, unit.name if unit else ""
        )
    )
    if error:
        return _done("", back, 400, error)
    return _done(
        f"已将 {found.code}（{result.target}）的期限改为 {due}，通知 {result.notified} 人。", back
    )


@routes.post("/item/<code>/cancel")
def item_cancel(code: str):
    denied = _admin_only()
    if denied:
        return denied
    found = _item_or_404(code)
    if found is None:
        return _notice("not_found", 404)
    back = f"/desk/item/{found.code}"
    reason = _form("reason", 500)
    if not reason:
        return _done("", back, 400, "请写明撤销的原因。")
    asked = _confirm(
        f"确认撤销 {found.code} {found.title}？原因：{reason}。撤销后各单位不再收到提醒。",
        f"/desk/item/{found.code}/cancel",
        "确认撤销",
    )
    if asked:
        return asked
    result, error = _act(lambda acting: assigned_actions.cancel_item(acting, found, reason))
    if error:
        return _done("", back, 400, error)
    return _done(f"已撤销 {found.code}，通知 {result.told} 人。", back)


@routes.get("/file/<int(max=2147483647):evidence_id>")
def evidence_file(evidence_id: int):
    evidence = Evidence.get_or_none((Evidence.id == evidence_id) & Evidence.active())
    if evidence is None:
        return _notice("not_found", 404)
    web = deps()
    path = web.evidence.path_for(evidence.sha256)
    if not path.is_file():
        return _notice("file_missing", 404)
    AuditEntry.record(
        web.clock.now(),
        g.viewer.userid,
        "desk_file",
        f"在办公桌打开佐证材料 #{evidence.id} {evidence.original_name}",
        item_code=evidence.item.code if evidence.item is not None else "",
        unit_name=evidence.unit.name if evidence.unit is not None else "",
        after={"evidence": evidence.id},
    )
    inline = evidence.content_type in INLINE_TYPES and request.args.get("download") != "1"
    response = send_file(
        path,
        mimetype=evidence.content_type if inline else "application/octet-stream",
        as_attachment=not inline,
        download_name=evidence.original_name or f"佐证{evidence.id}",
        conditional=False,
    )
    response.headers["Content-Security-Policy"] = FILE_CSP
    return response


# ---------------------------------------------------------------- units and people


@routes.get("/units")
def units():
    return _render("units", d=views.people())


@routes.get("/people")
def people():
    # A person picked from WeCom's 通讯录 comes with their userid and name filled in.
    return _render(
        "people",
        d=views.people(),
        roles=ROLE_BY_LABEL,
        pick_userid=request.args.get("pick", "")[:64],
        pick_name=request.args.get("name", "")[:50],
    )


def _unit_field(name: str) -> Unit | None:
    unit_id = _int(request.form.get(name, ""))
    return Unit.get_or_none(Unit.id == unit_id) if unit_id else None


@routes.post("/units/add")
def unit_add():
    denied = _admin_only()
    if denied:
        return denied
    name, short = _form("name", 120), _form("short_name", 60)
    unit, error = _act(
        lambda acting: org.add_unit(acting, name, short, request.form.get("member") == "1")
    )
    if error:
        return _done("", "/desk/units", 400, error)
    return _done(f"已新增单位 {unit.name}。", "/desk/units")


@routes.post("/units/rename")
def unit_rename():
    denied = _admin_only()
    if denied:
        return denied
    unit = _unit_field("unit")
    if unit is None:
        return _done("", "/desk/units", 400, "请选择要改名的单位。")
    name, short = _form("name", 120), _form("short_name", 60)
    renamed, error = _act(lambda acting: org.rename_unit(acting, unit, name, short or None))
    if error:
        return _done("", "/desk/units", 400, error)
    return _done(f"已将 {unit.name} 改名为 {renamed.name}（原名仍可使用）。", "/desk/units")


@routes.post("/units/merge")
def unit_merge():
    denied = _admin_only()
    if denied:
        return denied
    old, into = _unit_field("old"), _unit_field("into")
    if old is None or into is None:
        return _done("", "/desk/units", 400, "请选择被合并的单位和合并到的单位。")
    if old.id == into.id:
        return _done("", "/desk/units", 400, "不能把单位合并到它自己。")
    asked = _confirm(
        f"确认把 {old.name} 并入 {into.name}？{old.name}的事项、人员和材料都转到 {into.name}，"
        f"{old.name} 不再单独列出（原名仍可使用）。",
        "/desk/units/merge",
        "确认合并",
    )
    if asked:
        return asked
    merged, error = _act(lambda acting: org.merge_units(acting, old, into))
    if error:
        return _done("", "/desk/units", 400, error)
    return _done(
        f"已把 {old.name} 并入 {merged.into.name}：事项 {merged.moved} 项转入、"
        f"{merged.joined} 项合并，人员 {merged.people} 人。",
        "/desk/units",
    )


@routes.post("/groups/add")
def group_add():
    denied = _admin_only()
    if denied:
        return denied
    name = _form("name", 120)
    chosen = [Unit.get_or_none(Unit.id == (_int(v) or 0)) for v in request.form.getlist("units")]
    if any(u is None for u in chosen):
        return _done("", "/desk/units", 400, "有的单位已不存在，请刷新页面。")
    group, error = _act(lambda acting: org.add_group(acting, name, [u for u in chosen if u]))
    if error:
        return _done("", "/desk/units", 400, error)
    return _done(f"已新增单位组“{group.name}”。", "/desk/units")


@routes.post("/groups/rename")
def group_rename():
    denied = _admin_only()
    if denied:
        return denied
    group = UnitGroup.get_or_none(UnitGroup.id == (_int(request.form.get("group", "")) or 0))
    if group is None:
        return _done("", "/desk/units", 400, "请选择单位组。")
    name = _form("name", 120)
    renamed, error = _act(lambda acting: org.rename_group(acting, group, name))
    if error:
        return _done("", "/desk/units", 400, error)
    return _done(f"已将单位组“{group.name}”改名为“{renamed.name}”。", "/desk/units")


@routes.post("/groups/merge")
def group_merge():
    denied = _admin_only()
    if denied:
        return denied
    old = UnitGroup.get_or_none(UnitGroup.id == (_int(request.form.get("old", "")) or 0))
    into = UnitGroup.get_or_none(UnitGroup.id == (_int(request.form.get("into", "")) or 0))
    if old is None or into is None:
        return _done("", "/desk/units", 400, "请选择被合并的单位组和合并到的单位组。")
    if old.id == into.id:
        return _done("", "/desk/units", 400, "不能把单位组合并到它自己。")
    asked = _confirm(
        f"确认把单位组“{old.name}”并入“{into.name}”？“{old.name}”的单位加入“{into.name}”，"
        f"“{old.name}”不再单独列出（原名仍可使用）。",
        "/desk/groups/merge",
        "确认合并",
    )
    if asked:
        return asked
    merged, error = _act(lambda acting: org.merge_groups(acting, old, into))
    if error:
        return _done("", "/desk/units", 400, error)
    return _done(f"已把单位组“{old.name}”并入“{merged.name}”。", "/desk/units")


@routes.post("/groups/change")
def group_change():
    denied = _admin_only()
    if denied:
        return denied
    group = UnitGroup.get_or_none(UnitGroup.id == (_int(request.form.get("group", "")) or 0))
    unit = _unit_field("unit")
    adding = request.form.get("change") == "add"
    if group is None or unit is None:
        return _done("", "/desk/units", 400, "请选择单位组和单位。")
    if not adding:
        asked = _confirm(
            f"确认把 {unit.name} 移出单位组“{group.name}”？它经该组承担、尚未报告的事项随之去掉。",
            "/desk/groups/change",
            "确认移出",
        )
        if asked:
            return asked
    changed, error = _act(lambda acting: org.change_group(acting, group, [unit], adding))
    if error:
        return _done("", "/desk/units", 400, error)
    notes = "；".join(changed.notes)
    verb = "加入" if adding else "移出"
    if not changed.changed:
        return _done("", "/desk/units", 400, notes or "没有变化。")
    return _done(f"已{verb}：{unit.name}（单位组“{group.name}”）。{notes}", "/desk/units")


@routes.post("/people/bind")
def people_bind():
    denied = _admin_only()
    if denied:
        return denied
    userid = _form("userid", 80)
    name = _form("name", 50)
    unit = _unit_field("unit")
    roles = tuple(r for r in request.form.getlist("roles") if r in access.ROLES)
    if not _USERID.match(userid):
        return _done("", "/desk/people", 400, "userid 只能包含字母、数字和 _ . @ -，最长 64 位。")
    if unit is None:
        return _done("", "/desk/people", 400, "请选择单位。")
    bound, error = _act(lambda acting: org.bind(acting, userid, unit, roles, name))
    if error:
        return _done("", "/desk/people", 400, error)
    return _done(f"已绑定 {bound.member.label} 为{unit.name}{bound.role_label}。", "/desk/people")


@routes.post("/people/unbind")
def people_unbind():
    denied = _admin_only()
    if denied:
        return denied
    userid = _form("userid", 80)
    member = find_member(userid, active=True)
    label = member.label if member else userid
    asked = _confirm(
        f"确认解绑 {label}？解绑后此人不再收到提醒。", "/desk/people/unbind", "确认解绑"
    )
    if asked:
        return asked
    unit_name, error = _act(lambda acting: org.unbind(acting, userid))
    if error:
        return _done("", "/desk/people", 400, error)
    return _done(f"已解绑 {label}（原{unit_name}）。", "/desk/people")


@routes.get("/people/directory")
def directory():
    """WeCom's 通讯录 (user/simplelist), when the app may read it: pick people to bind."""
    denied = _admin_only()
    if denied:
        return denied
    web = deps()
    found: list[dict[str, str]] = []
    error = ""
    if web.client is None:
        error = "没有接入企业微信（沙盒模式），无法读取通讯录；请直接填写 userid。"
    else:
        department = _int(request.args.get("department", "1")) or 1
        try:
            answer = web.client.get(
                "user/simplelist", {"department_id": str(department), "fetch_child": "1"}
            )
            found = [
                {"userid": str(u.get("userid", "")), "name": str(u.get("name", ""))}
                for u in answer.get("userlist", [])
                if u.get("userid")
            ]
        except WeComError as exc:
            log.info("desk: user/simplelist refused: %s", exc.describe())
            error = (
                "应用没有读取通讯录的权限（或不在可见范围内），请在企业微信管理后台为应用开通"
                "“通讯录”可见范围，或直接填写 userid。"
            )
        except TimeoutError:
            error = "暂时无法连接企业微信，请稍后再试，或直接填写 userid。"
    bound = {m.wecom_userid: m for m in Member.select().where(Member.active == True)}  # noqa: E712
    return _render("directory", found=found, error=error, bound=bound)
