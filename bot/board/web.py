"""The board's routes under /board, apart from the sandbox's doors: its own sign-in and a
signed, HttpOnly, SameSite=Lax session cookie (Secure behind https), read-only pages, and the
evidence files each viewer may open (every opening is logged).

Ways in: WeCom's web sign-in (OAuth, when WeCom is configured: then there is no other way but
a personal link), a personal link an admin issued (`链接`), or in sandbox mode the sandbox's
chosen person (`POST /sandbox/api/board`, behind the sandbox's own doors).
"""

from __future__ import annotations

import hashlib
import logging
import re
from decimal import Decimal
from pathlib import Path

from flask import Blueprint, Flask, Response, g, jsonify, redirect, request, send_file

from bot.board import access, charts, pages
from bot.board.access import SESSION_COOKIE, STATE_COOKIE
from bot.services import Services
from bot.transports.wecom.errors import WeComError
from models.audit import AuditEntry
from models.board import VIA_LINK, VIA_SANDBOX, VIA_WECOM
from models.db import database

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
# Ids in addresses stay within a database integer (a larger one is an overflow, not a 404).
_USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
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
SANDBOX_SIGNIN = "board_sandbox_signin"  # the endpoint behind the sandbox's doors


def register(app: Flask, services: Services) -> None:
    """Add the board's routes to the app, and the sandbox's way in (in sandbox mode)."""
    config = services.config
    env = services.renderer.env
    css = (STATIC / "board.css").read_bytes()
    css_url = f"/board/static/board.css?v={hashlib.sha256(css).hexdigest()[:12]}"
    board = Blueprint("board", __name__, url_prefix="/board")

    def now():
        return services.clock.now().astimezone(config.timezone)

    def render(name: str, status: int = 200, **context) -> Response:
        moment = g.get("board_now") or now()
        html = env.get_template(f"board/{name}.html").render(
            viewer=g.get("viewer"),
            computed_at=moment,
            css_url=css_url,
            page=name,
            share=charts.share,
            **context,
        )
        return Response(html, status=status, mimetype="text/html")

    def notice(kind: str, status: int, **context) -> Response:
        """A page that says one thing (a refusal, sign in first, signed out…) and no data."""
        g.viewer = None
        return render("notice", status, kind=kind, **context)

    def set_session_cookie(response: Response, value: str, session) -> Response:
        seconds = int((session.expires_at - services.clock.now()).total_seconds())
        response.set_cookie(
            SESSION_COOKIE,
            value,
            max_age=max(0, seconds),
            path="/board",
            secure=config.board_secure,
            httponly=True,
            samesite="Lax",
        )
        return response

    def clear(response: Response, name: str, path: str) -> Response:
        response.delete_cookie(
            name, path=path, secure=config.board_secure, httponly=True, samesite="Lax"
        )
        return response

    @board.before_request
    def _who():
        if not config.board_enabled:
            return notice("disabled", 404)
        g.board_now = now()
        if request.endpoint in _PUBLIC:
            return None
        session = access.session_for(request.cookies.get(SESSION_COOKIE), g.board_now)
        if session is None:
            return _sign_in()
        viewer = access.viewer_for(session.wecom_userid, config, session.via)
        if viewer is None:
            log.info("board: %s is signed in but not bound", session.wecom_userid)
            return notice("stranger", 403)
        g.viewer = viewer
        return None

    def _sign_in() -> Response:
        if not config.wecom_enabled:
            return clear(notice("sandbox", 401), SESSION_COOKIE, "/board")
        # WeCom's web sign-in: the state is bound to this browser by a cookie and kept, once,
        # by the server; the person comes back to /board/auth/callback with a code.
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
        return clear(response, SESSION_COOKIE, "/board")

    @board.after_request
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

    # ------------------------------------------------------------ signing in and out

    @board.get("/auth/callback")
    def callback():
        if not config.wecom_enabled:
            return notice("not_found", 404)
        state = request.args.get("state", "")
        code = request.args.get("code", "")
        cookie = request.cookies.get(STATE_COOKIE)
        # The state first: a forged or replayed one never spends the code.
        next_path = access.take_state(state, cookie, g.board_now)
        if next_path is None:
            log.warning("board: a sign-in came back with a state this browser was not given")
            return clear(notice("state", 400), STATE_COOKIE, "/board/auth")
        if not _CODE.match(code):
            return clear(notice("code", 400), STATE_COOKIE, "/board/auth")
        try:
            # Outside any transaction: this waits on WeCom.
            userid = access.userid_for_code(services.client, code)
        except WeComError as exc:
            log.warning("board: auth/getuserinfo refused the code: %s", exc.describe())
            kind = "code" if exc.errcode == 40029 else "wecom"
            return clear(notice(kind, 400 if kind == "code" else 502), STATE_COOKIE, "/board/auth")
        except TimeoutError:
            return clear(notice("wecom", 503), STATE_COOKIE, "/board/auth")
        viewer = access.viewer_for(userid, config, VIA_WECOM) if userid else None
        if viewer is None:
            log.info("board: %s signed in through WeCom but is not bound", userid or "an outsider")
            return clear(notice("stranger", 403), STATE_COOKIE, "/board/auth")
        value, session = access.start_session(
            userid, VIA_WECOM, services.clock.now(), config.board_session_hours
        )
        response = set_session_cookie(redirect(next_path, code=303), value, session)
        return clear(response, STATE_COOKIE, "/board/auth")

    @board.get("/link/<token>")
    def link(token: str):
        found = access.link_for(token, services.clock.now())
        if found is None:
            log.warning("board: an unknown, expired or revoked personal link was used")
            return clear(notice("link", 403), SESSION_COOKIE, "/board")
        viewer = access.viewer_for(found.wecom_userid, config, VIA_LINK)
        if viewer is None:
            return clear(notice("stranger", 403), SESSION_COOKIE, "/board")
        moment = services.clock.now()
        with database.atomic():
            value, session = access.start_session(
                found.wecom_userid, VIA_LINK, moment, config.board_session_hours, link=found
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
        return set_session_cookie(redirect("/board/", code=303), value, session)

    @board.post("/signout")
    def signout():
        from bot.web import _same_origin

        if not _same_origin(request.headers):
            return notice("cross_site", 403)
        session = access.session_for(request.cookies.get(SESSION_COOKIE), services.clock.now())
        if session is not None:
            access.end_session(session, services.clock.now())
        return clear(notice("signed_out", 200), SESSION_COOKIE, "/board")

    @board.get("/ping")
    def ping():
        """For 自检: the homepage's address reaches this deployment (same database)."""
        return jsonify(board="ok", instance=access.fingerprint())

    @board.get("/static/board.css")
    def stylesheet():
        response = Response(css, mimetype="text/css")
        response.headers["Cache-Control"] = "public, max-age=86400"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    # ------------------------------------------------------------ the pages

    def moment() -> pages.Moment:
        return pages.Moment(g.board_now, config)

    @board.get("/")
    def home():
        data = pages.home(g.viewer, moment())
        trend = charts.trend(
            data["trend"], Decimal(data["score"]["pass_total"]), Decimal(data["score"]["max"])
        )
        return render("home", d=data, trend=trend)

    @board.get("/units")
    def units():
        data = pages.units(
            g.viewer, moment(), request.args.get("sort", ""), request.args.get("order", "")
        )
        return render("units", d=data)

    @board.get("/unit/<int(max=2147483647):unit_id>")
    def unit(unit_id: int):
        try:
            data = pages.unit_page(g.viewer, unit_id, moment())
        except pages.NotFound:
            return notice("not_found", 404)
        except pages.Forbidden as exc:
            return _forbidden(exc)
        return render("unit", d=data)

    @board.get("/indicators")
    def indicators():
        return render("indicators", d=pages.indicators(g.viewer, moment()))

    @board.get("/indicator/<code>")
    def indicator(code: str):
        if not _INDICATOR.match(code):
            return notice("not_found", 404)
        try:
            data = pages.indicator_page(g.viewer, code, moment())
        except pages.NotFound:
            return notice("not_found", 404)
        return render("indicator", d=data)

    @board.get("/assigned")
    def assigned():
        return render("assigned", d=pages.assigned(g.viewer, moment()))

    @board.get("/file/<int(max=2147483647):evidence_id>")
    def evidence_file(evidence_id: int):
        viewer = g.viewer
        try:
            evidence = pages.evidence_file(viewer, evidence_id)
        except pages.NotFound:
            return notice("not_found", 404)
        except pages.Forbidden as exc:
            return _forbidden(exc)
        path = services.evidence.path_for(evidence.sha256)
        if not path.is_file():
            return notice("file_missing", 404)
        AuditEntry.record(
            services.clock.now(),
            viewer.userid,
            "board_file",
            f"在看板打开佐证材料 #{evidence.id} {evidence.original_name}",
            item_code=evidence.item.code if evidence.item_id else "",
            unit_name=evidence.unit.name if evidence.unit_id else "",
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
        return render("notice", 403, kind="other_unit", own_unit=exc.own_unit)

    app.register_blueprint(board)

    if config.sandbox_enabled:
        # Behind the sandbox's doors (its Host, the same origin, the page's token, the secret,
        # JSON only): whoever passes them may act as anyone, so they may look as anyone too.
        @app.post("/sandbox/api/board", endpoint=SANDBOX_SIGNIN)
        def sandbox_signin():
            data = request.get_json(silent=True)
            userid = str((data or {}).get("userid") or "").strip() if isinstance(data, dict) else ""
            if not _USERID.match(userid):
                return jsonify(
                    ok=False, error="userid 只能包含字母、数字和 _ . @ -，最长 64 位。"
                ), 400
            value, session = access.start_session(
                userid, VIA_SANDBOX, services.clock.now(), config.board_session_hours
            )
            return set_session_cookie(jsonify(ok=True, url="/board/"), value, session)
