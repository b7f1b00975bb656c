"""The board's routes under /board, apart from the sandbox's doors: its own sign-in and a
signed, HttpOnly, SameSite=Lax session cookie (Secure behind https), read-only pages, and the
evidence files each viewer may open (every opening is logged). Who may see what, and what each
page shows, are bot/board's.

Ways in: WeCom's web sign-in (OAuth, when WeCom is configured: then there is no other way but
a personal link), a personal link an admin issued (`链接`), or in sandbox mode the sandbox's
chosen person (`POST /sandbox/api/board`, behind the sandbox's own doors: `sandbox_signin`).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from decimal import Decimal
from pathlib import Path

from flask import Blueprint, Response, g, jsonify, redirect, request, send_file
from werkzeug.wrappers import Response as BaseResponse

from bot.board import access, charts, pages
from bot.board.access import SESSION_COOKIE, STATE_COOKIE
from bot.transports.wecom.errors import WeComError
from bot.web.deps import deps
from bot.web.doors import same_origin
from models import userids
from models.audit import AuditEntry
from models.board import VIA_LINK, VIA_SANDBOX, VIA_WECOM
from models.db import database

log = logging.getLogger(__name__)

STATIC = Path(pages.__file__).resolve().parent / "static"
# Ids in addresses stay within a database integer (a larger one is an overflow, not a 404).
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,512}$")  # a sign-in code as WeCom hands it back
_INDICATOR = re.compile(r"^[Zz][0-9]{1,2}$")
# No script at all, styles from our own file, images inline (SVG) or from ourselves.
BOARD_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
FILE_CSP = "default-src 'none'; img-src 'self'; sandbox"
INLINE_TYPES = ("image/png", "image/jpeg", "image/gif")
# Reached without being signed in (each checks what it needs itself).
_PUBLIC = frozenset(
    {"board.callback", "board.link", "board.ping", "board.stylesheet", "board.signout"}
)

routes = Blueprint("board", __name__, url_prefix="/board")
# The sandbox's way in, registered only in sandbox mode: whoever passes the sandbox's doors
# (its Host, the same origin, the page's token, the secret, JSON only) may act as anyone, so
# they may look as anyone too.
sandbox_signin = Blueprint("board_sandbox", __name__)


@functools.cache
def _stylesheet() -> tuple[bytes, str]:
    """The one stylesheet and its address, versioned by its hash."""
    css = (STATIC / "board.css").read_bytes()
    return css, f"/board/static/board.css?v={hashlib.sha256(css).hexdigest()[:12]}"


def _now():
    web = deps()
    return web.clock.now().astimezone(web.config.timezone)


def _render(name: str, status: int = 200, **context) -> Response:
    moment = g.get("board_now") or _now()
    html = (
        deps()
        .renderer.env.get_template(f"board/{name}.html")
        .render(
            viewer=g.get("viewer"),
            computed_at=moment,
            css_url=_stylesheet()[1],
            page=name,
            share=charts.share,
            **context,
        )
    )
    return Response(html, status=status, mimetype="text/html")


def _notice(kind: str, status: int, **context) -> Response:
    """A page that says one thing (a refusal, sign in first, signed out…) and no data."""
    g.viewer = None
    return _render("notice", status, kind=kind, **context)


def _set_session_cookie(response: BaseResponse, value: str, session) -> BaseResponse:
    web = deps()
    seconds = int((session.expires_at - web.clock.now()).total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max(0, seconds),
        path="/board",
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


@routes.before_request
def _who():
    config = deps().config
    if not config.board_enabled:
        return _notice("disabled", 404)
    g.board_now = _now()
    if request.endpoint in _PUBLIC:
        return None
    session = access.session_for(request.cookies.get(SESSION_COOKIE), g.board_now)
    if session is None:
        return _sign_in()
    viewer = access.viewer_for(session.wecom_userid, config, session.via)
    if viewer is None:
        log.info("board: %s is signed in but not bound", session.wecom_userid)
        return _notice("stranger", 403)
    g.viewer = viewer
    g.board_session = session  # the upload page's form token is bound to it
    return None


def _sign_in() -> BaseResponse:
    config = deps().config
    if not config.wecom_enabled:
        return _clear(_notice("sandbox", 401), SESSION_COOKIE, "/board")
    # WeCom's web sign-in: the state is bound to this browser by a cookie and kept, once, by
    # the server; the person comes back to /board/auth/callback with a code.
    state, cookie = access.new_state(request.full_path, g.board_now)
    response = redirect(access.authorize_url(config, state), code=302)
    response.set_cookie(
        STATE_COOKIE,
        cookie,
        max_age=int(access.STATE_TTL.total_seconds()),
        path="/board/auth",
        secure=config.board_secure,
        httponly=True,
        samesite="Lax",  # sent on WeCom's top-level redirect back to us
    )
    return _clear(response, SESSION_COOKIE, "/board")


@routes.after_request
def _headers(response: Response) -> Response:
    if request.endpoint == "board.stylesheet":
        return response
    response.headers.setdefault("Content-Security-Policy", BOARD_CSP)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # No address of ours (a personal link, a sign-in code) travels to another site in a
    # Referer. Not no-referrer: with it a browser sends "Origin: null" on our own forms.
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint in ("board.link", "board.callback"):
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
    cookie = request.cookies.get(STATE_COOKIE)
    # The state first: a forged or replayed one never spends the code.
    next_path = access.take_state(state, cookie, g.board_now)
    if next_path is None:
        log.warning("board: a sign-in came back with a state this browser was not given")
        return _clear(_notice("state", 400), STATE_COOKIE, "/board/auth")
    if not _CODE.match(code):
        return _clear(_notice("code", 400), STATE_COOKIE, "/board/auth")
    try:
        # Outside any transaction: this waits on WeCom.
        userid = access.userid_for_code(web.client, code)
    except WeComError as exc:
        log.warning("board: auth/getuserinfo refused the code: %s", exc.describe())
        kind = "code" if exc.errcode == 40029 else "wecom"
        return _clear(_notice(kind, 400 if kind == "code" else 502), STATE_COOKIE, "/board/auth")
    except TimeoutError:
        return _clear(_notice("wecom", 503), STATE_COOKIE, "/board/auth")
    viewer = access.viewer_for(userid, web.config, VIA_WECOM) if userid else None
    if viewer is None:
        log.info("board: %s signed in through WeCom but is not bound", userid or "an outsider")
        return _clear(_notice("stranger", 403), STATE_COOKIE, "/board/auth")
    value, session = access.start_session(
        userid, VIA_WECOM, web.clock.now(), web.config.board_session_hours
    )
    response = _set_session_cookie(redirect(next_path, code=303), value, session)
    return _clear(response, STATE_COOKIE, "/board/auth")


@routes.get("/link/<token>")
def link(token: str):
    web = deps()
    found = access.link_for(token, web.clock.now())
    if found is None:
        log.warning("board: an unknown, expired or revoked personal link was used")
        return _clear(_notice("link", 403), SESSION_COOKIE, "/board")
    viewer = access.viewer_for(found.wecom_userid, web.config, VIA_LINK)
    if viewer is None:
        return _clear(_notice("stranger", 403), SESSION_COOKIE, "/board")
    moment = web.clock.now()
    with database.atomic():
        value, session = access.start_session(
            found.wecom_userid, VIA_LINK, moment, web.config.board_session_hours, link=found
        )
        access.use_link(found, moment)
        AuditEntry.record(
            moment,
            found.wecom_userid,
            "board_link_use",
            f"用个人链接 #{found.id} 打开看板（{request.remote_addr or '未知地址'}）",
            after={"link": found.id},
        )
    # Off the link's address at once: it stays out of the page, its history and Referers.
    return _set_session_cookie(redirect("/board/", code=303), value, session)


@routes.post("/signout")
def signout():
    if not same_origin(request.headers):
        return _notice("cross_site", 403)
    now = deps().clock.now
    session = access.session_for(request.cookies.get(SESSION_COOKIE), now())
    if session is not None:
        access.end_session(session, now())
    return _clear(_notice("signed_out", 200), SESSION_COOKIE, "/board")


@routes.get("/ping")
def ping():
    """For 自检: the homepage's address reaches this deployment (same database)."""
    return jsonify(board="ok", instance=access.fingerprint())


@routes.get("/static/board.css")
def stylesheet():
    response = Response(_stylesheet()[0], mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# ---------------------------------------------------------------- the pages


def _moment() -> pages.Moment:
    return pages.Moment(g.board_now, deps().config)


@routes.get("/")
def home():
    data = pages.home(g.viewer, _moment())
    trend = charts.trend(
        data["trend"], Decimal(data["score"]["pass_total"]), Decimal(data["score"]["max"])
    )
    return _render("home", d=data, trend=trend)


@routes.get("/units")
def units():
    data = pages.units(
        g.viewer, _moment(), request.args.get("sort", ""), request.args.get("order", "")
    )
    return _render("units", d=data)


@routes.get("/unit/<int(max=2147483647):unit_id>")
def unit(unit_id: int):
    try:
        data = pages.unit_page(g.viewer, unit_id, _moment())
    except pages.NotFound:
        return _notice("not_found", 404)
    except pages.Forbidden as exc:
        return _forbidden(exc)
    return _render("unit", d=data)


@routes.get("/indicators")
def indicators():
    return _render("indicators", d=pages.indicators(g.viewer, _moment()))


@routes.get("/indicator/<code>")
def indicator(code: str):
    if not _INDICATOR.match(code):
        return _notice("not_found", 404)
    try:
        data = pages.indicator_page(g.viewer, code, _moment())
    except pages.NotFound:
        return _notice("not_found", 404)
    return _render("indicator", d=data)


@routes.get("/assigned")
def assigned():
    return _render("assigned", d=pages.assigned(g.viewer, _moment()))


@routes.get("/file/<int(max=2147483647):evidence_id>")
def evidence_file(evidence_id: int):
    viewer = g.viewer
    try:
        evidence = pages.evidence_file(viewer, evidence_id)
    except pages.NotFound:
        return _notice("not_found", 404)
    except pages.Forbidden as exc:
        return _forbidden(exc)
    web = deps()
    path = web.evidence.path_for(evidence.sha256)
    if not path.is_file():
        return _notice("file_missing", 404)
    AuditEntry.record(
        web.clock.now(),
        viewer.userid,
        "board_file",
        f"在看板打开佐证材料 #{evidence.id} {evidence.original_name}",
        item_code=evidence.item.code if evidence.item is not None else "",
        unit_name=evidence.unit.name if evidence.unit is not None else "",
        after={"evidence": evidence.id},
    )
    inline = evidence.content_type in INLINE_TYPES
    response = send_file(
        path,
        mimetype=evidence.content_type if inline else "application/octet-stream",
        as_attachment=not inline,
        download_name=evidence.original_name or f"佐证{evidence.id}",
        conditional=False,
    )
    response.headers["Content-Security-Policy"] = FILE_CSP
    return response


def _forbidden(exc: pages.Forbidden) -> Response:
    log.warning("board: %s asked for another unit's page: %s", g.viewer.userid, request.path)
    return _render("notice", 403, kind="other_unit", own_unit=exc.own_unit)


# ---------------------------------------------------------------- from the sandbox


@sandbox_signin.post("/sandbox/api/board")
def signin():
    data = request.get_json(silent=True)
    userid = str((data or {}).get("userid") or "").strip() if isinstance(data, dict) else ""
    if not userids.valid(userid):
        return jsonify(ok=False, error="userid 只能包含字母、数字和 _ . @ -，最长 64 位。"), 400
    # Where to go once signed in: the board, or another of its pages (the upload page).
    wanted = (data or {}).get("next") if isinstance(data, dict) else None
    url = access.safe_next(wanted if isinstance(wanted, str) else None)
    web = deps()
    value, session = access.start_session(
        userid, VIA_SANDBOX, web.clock.now(), web.config.board_session_hours
    )
    return _set_session_cookie(jsonify(ok=True, url=url), value, session)
