"""The app factory (bot/web/app.py): every route of each mode, where the app keeps what its
routes need, and the WeCom callback's POST answered in front of Flask."""

from __future__ import annotations

from conftest import make_config
from wecom_setup import wecom_config

from bot.services import build_services
from bot.transports.sandbox import SandboxTransport
from bot.web import create_app
from bot.web.deps import EXTENSION, WebDeps

GET = ("GET", "HEAD", "OPTIONS")
POST = ("OPTIONS", "POST")
BOARD = {
    "/board/": GET,
    "/board/assigned": GET,
    "/board/auth/callback": GET,
    "/board/file/<int(max=2147483647):evidence_id>": GET,
    "/board/indicator/<code>": GET,
    "/board/indicators": GET,
    "/board/link/<token>": GET,
    "/board/ping": GET,
    "/board/signout": POST,
    "/board/static/board.css": GET,
    "/board/unit/<int(max=2147483647):unit_id>": GET,
    "/board/units": GET,
    "/board/upload/": ("GET", "HEAD", "OPTIONS", "POST"),  # the upload page and its form
}
DESK = {
    "/desk/": GET,
    "/desk/auth/callback": GET,
    "/desk/extension": POST,
    "/desk/file/<int(max=2147483647):evidence_id>": GET,
    "/desk/groups/add": POST,
    "/desk/groups/change": POST,
    "/desk/groups/merge": POST,
    "/desk/groups/rename": POST,
    "/desk/item/<code>": GET,
    "/desk/item/<code>/cancel": POST,
    "/desk/item/<code>/deadline": POST,
    "/desk/item/<code>/nudge": POST,
    "/desk/item/<code>/print": GET,
    "/desk/items": GET,
    "/desk/new": POST,  # and GET: two rules, one key here (the form, then its post)
    "/desk/people": GET,
    "/desk/people/bind": POST,
    "/desk/people/directory": GET,
    "/desk/people/unbind": POST,
    "/desk/print/overdue": GET,
    "/desk/review": POST,  # and GET, as /desk/new
    "/desk/signout": POST,
    "/desk/static/desk.css": GET,
    "/desk/units": GET,
    "/desk/units/add": POST,
    "/desk/units/merge": POST,
    "/desk/units/rename": POST,
}
EVERY_MODE = {
    **BOARD,
    **DESK,
    "/healthz": GET,
    "/sandbox": GET,
    "/sandbox/api/click": POST,
    "/sandbox/api/feed": GET,
    "/sandbox/api/file/<sha256>": GET,
    "/sandbox/api/members": GET,
    "/sandbox/api/send": POST,
    "/sandbox/api/upload": POST,
    "/static/<path:filename>": GET,  # Flask's own; there is no folder behind it
    "/wecom/callback": ("GET", "HEAD", "OPTIONS", "POST"),
}


def routes(app) -> dict[str, tuple[str, ...]]:
    return {rule.rule: tuple(sorted(rule.methods)) for rule in app.url_map.iter_rules()}


def test_the_sandbox_app_has_every_route_and_the_boards_way_in(tmp_path, db_url, clock):
    app = create_app(build_services(make_config(tmp_path, db_url), clock, SandboxTransport()))
    assert routes(app) == {**EVERY_MODE, "/sandbox/api/board": POST, "/sandbox/api/desk": POST}
    assert isinstance(app.extensions[EXTENSION], WebDeps)
    assert app.wsgi_app.__class__.__name__ != "FastPath", "no WeCom, no callback fast path"


def test_the_wecom_app_has_no_way_into_the_board_through_the_sandbox(tmp_path, db_url, clock, fake):
    app = create_app(build_services(wecom_config(tmp_path, db_url, fake), clock))
    assert routes(app) == EVERY_MODE
    web = app.extensions[EXTENSION]
    assert web.callback is not None and web.config.wecom_enabled
    assert type(app.wsgi_app).__name__ == "FastPath"


def test_each_app_keeps_its_own_dependencies(tmp_path, db_url, clock):
    """Two apps from one factory share nothing: each its own page token and services."""
    first = build_services(make_config(tmp_path, db_url), clock, SandboxTransport())
    second = build_services(make_config(tmp_path, db_url), clock, SandboxTransport())
    a, b = create_app(first).extensions[EXTENSION], create_app(second).extensions[EXTENSION]
    assert a.page_token != b.page_token
    assert (a.pipeline, b.pipeline) == (first.pipeline, second.pipeline)
    assert a.started_at == clock.now()


def test_a_callback_post_never_reaches_flask(tmp_path, db_url, db, clock, fake):
    """WeCom's POST is answered before Flask builds a request: no hook runs, so not even the
    database connection a Flask request opens."""
    app = create_app(build_services(wecom_config(tmp_path, db_url, fake), clock))
    seen = []
    app.before_request(lambda: seen.append("flask"))
    client = app.test_client()
    assert client.post("/wecom/callback?msg_signature=x&timestamp=1&nonce=n", data=b"").status_code
    assert seen == []
    client.get("/healthz")
    assert seen == ["flask"]
