"""Signing in to the board through WeCom's web sign-in (the fake WeCom plays authorize and
auth/getuserinfo over real HTTP), personal links, signing out, and the hostile cases: a forged
or replayed state, a used code, a cookie signed with another key, a tampered link, someone who
is not bound. With WeCom configured there is no way in around the sign-in."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
from board_setup import ADMIN, LEADER, LIAISON, STRANGER, build_campaign
from helpers import ChatDriver, free_port, running
from itsdangerous import URLSafeSerializer
from wecom_setup import AGENT_ID, wecom_config

from bot.board.access import SESSION_COOKIE, STATE_COOKIE
from bot.services import build_services
from models.audit import AuditEntry
from models.board import BoardLink, BoardSession
from models.db import database

USERINFO = "/cgi-bin/auth/getuserinfo"


@pytest.fixture
def board(tmp_path, db_url, db, fake, clock):
    """The bot with WeCom configured against the fake, serving the board at BOARD_BASE_URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = wecom_config(
        tmp_path,
        db_url,
        fake,
        BOARD_BASE_URL=base,
        WECOM_OAUTH_URL=f"{fake.base_url}/connect/oauth2/authorize",
    )
    fake.trusted_domains = {f"127.0.0.1:{port}"}  # the app's 可信域名
    fake.agent_id = AGENT_ID
    services = build_services(config, clock)
    campaign = build_campaign(services, clock)
    db.close()
    with running(services, port=port):
        yield Board(base, fake, services, clock, campaign)
    database.close()


class Board:
    def __init__(self, base, fake, services, clock, campaign):
        self.base = base
        self.fake = fake
        self.services = services
        self.clock = clock
        self.campaign = campaign

    def browser(self) -> requests.Session:
        return requests.Session()

    def start(self, http: requests.Session, path: str = "/board/") -> requests.Response:
        """Open a board page without a session: the answer sends the browser to WeCom."""
        answer = http.get(self.base + path, allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        assert answer.headers["Location"].startswith(self.fake.base_url)
        return answer

    def authorize(self, http, start: requests.Response, userid: str | None) -> str:
        """WeCom's authorize page as `userid`'s WeCom client answers it: the callback URL."""
        self.fake.oauth_user = userid
        answer = http.get(start.headers["Location"], allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]

    def callback(self, http, url: str) -> requests.Response:
        return http.get(url, allow_redirects=False, timeout=10)

    def sign_in(self, http, userid: str, path: str = "/board/") -> requests.Response:
        return self.callback(http, self.authorize(http, self.start(http, path), userid))

    def get(self, http, path: str) -> requests.Response:
        return http.get(self.base + path, allow_redirects=False, timeout=10)


def _with(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _sessions() -> int:
    with database.connection_context():
        return BoardSession.select().count()


def test_the_authorize_request_is_wecoms_web_sign_in_for_this_app(board):
    http = board.browser()
    start = board.start(http, "/board/units?sort=silent")
    location = urlsplit(start.headers["Location"])
    query = parse_qs(location.query)
    assert location.path == "/connect/oauth2/authorize" and location.fragment == "wechat_redirect"
    assert query["appid"] == [board.fake.corp_id]
    assert query["scope"] == ["snsapi_base"] and query["response_type"] == ["code"]
    assert query["agentid"] == [str(AGENT_ID)]
    assert query["redirect_uri"] == [f"{board.base}/board/auth/callback"]
    # The state is bound to this browser: an HttpOnly, SameSite=Lax cookie of the sign-in path.
    cookie = next(c for c in http.cookies if c.name == STATE_COOKIE)
    assert cookie.path == "/board/auth" and cookie.has_nonstandard_attr("HttpOnly")
    assert "samesite=lax" in start.headers["Set-Cookie"].lower()


def test_a_leader_signs_in_and_comes_back_where_they_were_going(board):
    http = board.browser()
    answer = board.sign_in(http, LEADER, "/board/units?sort=silent")
    assert answer.status_code == 303 and answer.headers["Location"] == "/board/units?sort=silent"
    set_cookie = answer.headers["Set-Cookie"].lower()
    assert (
        "httponly" in set_cookie and "samesite=lax" in set_cookie and "max-age=43200" in set_cookie
    )
    assert "secure" not in set_cookie  # http here; https makes it Secure (see below)
    page = board.get(http, "/board/units?sort=silent")
    assert page.status_code == 200 and "工信局" in page.text and "市监局" in page.text
    assert board.fake.count(USERINFO) == 1
    # The sign-in state is spent and its cookie gone.
    assert STATE_COOKIE not in http.cookies


def test_a_stranger_and_an_outsider_see_a_polite_refusal_and_nothing_else(board):
    for who in (STRANGER, "openid:oOutside"):
        http = board.browser()
        answer = board.sign_in(http, who)
        assert answer.status_code == 403
        assert "没有看板的查看权限" in answer.text
        for secret in ("市监局", "得分", "/board/units", "退出"):
            assert secret not in answer.text
        assert SESSION_COOKIE not in http.cookies
    assert _sessions() == 0


def test_a_forged_state_is_refused_without_spending_the_code(board):
    http = board.browser()
    callback = board.authorize(http, board.start(http), LIAISON)
    forged = _with(callback, state="f" * 48)
    refused = board.callback(http, forged)
    assert refused.status_code == 400 and "登录已失效" in refused.text
    assert board.fake.count(USERINFO) == 0 and _sessions() == 0
    # Another browser that never started a sign-in cannot use a real state either.
    assert board.callback(board.browser(), callback).status_code == 400
    assert board.fake.count(USERINFO) == 0


def test_a_replayed_state_is_refused(board):
    http = board.browser()
    callback = board.authorize(http, board.start(http), LIAISON)
    cookie = http.cookies.get(STATE_COOKIE, path="/board/auth")
    assert board.callback(http, callback).status_code == 303
    # The same callback again, with the state's cookie put back: the state was taken once.
    http.cookies.set(STATE_COOKIE, cookie, path="/board/auth")
    again = board.callback(http, callback)
    assert again.status_code == 400 and "登录已失效" in again.text
    assert board.fake.count(USERINFO) == 1 and _sessions() == 1


def test_a_used_code_is_refused_by_wecom_and_signs_nobody_in(board):
    http = board.browser()
    first = board.authorize(http, board.start(http), LIAISON)
    assert board.callback(http, first).status_code == 303
    used = parse_qs(urlsplit(first).query)["code"][0]
    other = board.browser()
    fresh = board.authorize(other, board.start(other), LEADER)
    refused = board.callback(other, _with(fresh, code=used))
    assert refused.status_code == 400 and "登录码已经用过或已过期" in refused.text
    assert SESSION_COOKIE not in other.cookies and _sessions() == 1


def test_a_cookie_signed_with_another_key_or_tampered_is_not_a_session(board):
    http = board.browser()
    board.sign_in(http, LEADER)
    value = http.cookies.get(SESSION_COOKIE)
    assert board.get(http, "/board/").status_code == 200
    _, token = URLSafeSerializer("not this deployment's key", salt="board-session").loads_unsafe(
        value
    )
    assert isinstance(token, str) and len(token) > 20  # the real session's secret
    forged = URLSafeSerializer("not this deployment's key", salt="board-session").dumps(token)
    tampered = value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB")
    for bad in (forged, tampered, token):
        stranger = board.browser()
        stranger.cookies.set(SESSION_COOKIE, bad, path="/board")
        answer = board.get(stranger, "/board/")
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith(board.fake.base_url)  # sign in first


def test_with_wecom_configured_there_is_no_way_around_the_sign_in(board):
    http = board.browser()
    # The sandbox (and its way in) does not exist with WeCom.
    refused = http.post(
        board.base + "/sandbox/api/board",
        json={"userid": LEADER},
        allow_redirects=False,
        timeout=10,
    )
    assert refused.status_code == 404 and SESSION_COOKIE not in http.cookies
    for path in ("/board/", "/board/units", "/board/unit/1", "/board/indicators",
                 "/board/indicator/Z1", "/board/assigned", f"/board/file/{board.campaign.own_file}"):  # fmt: skip
        answer = board.get(http, path)
        assert answer.status_code == 302, path
        assert answer.headers["Location"].startswith(board.fake.base_url), path
    # A callback without a sign-in started, or without a code, signs nobody in.
    assert board.get(http, "/board/auth/callback").status_code == 400
    assert board.get(http, "/board/auth/callback?code=abc&state=x").status_code == 400
    assert board.fake.count(USERINFO) == 0 and _sessions() == 0


def test_sign_out_ends_the_session_and_only_from_the_board_itself(board):
    http = board.browser()
    board.sign_in(http, LEADER)
    cross = http.post(
        board.base + "/board/signout",
        headers={"Origin": "http://evil.example"},
        allow_redirects=False,
        timeout=10,
    )
    assert cross.status_code == 403 and board.get(http, "/board/").status_code == 200
    kept = http.cookies.get(SESSION_COOKIE)
    out = http.post(
        board.base + "/board/signout",
        headers={"Origin": board.base},
        allow_redirects=False,
        timeout=10,
    )
    assert out.status_code == 200 and "已退出" in out.text
    assert SESSION_COOKIE not in http.cookies
    # The old cookie is worth nothing now, even if someone kept a copy.
    copy = board.browser()
    copy.cookies.set(SESSION_COOKIE, kept, path="/board")
    assert board.get(copy, "/board/").status_code == 302


def test_a_session_expires_and_an_unbinding_applies_at_once(board):
    http = board.browser()
    board.sign_in(http, LIAISON)
    assert board.get(http, "/board/").status_code == 200
    ChatDriver(board.services).say(ADMIN, f"解绑 {LIAISON}")
    answer = board.get(http, "/board/")
    assert answer.status_code == 403 and "没有看板的查看权限" in answer.text
    leader = board.browser()
    board.sign_in(leader, LEADER)
    board.clock.advance(hours=12, seconds=1)  # BOARD_SESSION_HOURS
    assert board.get(leader, "/board/").status_code == 302


def _issue_link(board, userid: str, days: str = "") -> tuple[str, int]:
    reply = ChatDriver(board.services).say(ADMIN, f"链接 {userid} {days}".strip())
    url = next(word for word in reply.split() if word.startswith(board.base))
    with database.connection_context():
        link = BoardLink.select().order_by(BoardLink.id.desc()).get()
    return url.rstrip("。，）"), link.id


def test_a_personal_link_signs_in_until_revoked_and_a_tampered_one_never(board):
    url, link_id = _issue_link(board, LEADER)
    tampered = url[:-1] + ("A" if not url.endswith("A") else "B")
    http = board.browser()
    refused = http.get(tampered, allow_redirects=False, timeout=10)
    assert refused.status_code == 403 and "链接无效" in refused.text
    assert SESSION_COOKIE not in http.cookies
    answer = http.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 303 and answer.headers["Location"] == "/board/"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    page = board.get(http, "/board/")
    assert page.status_code == 200 and "wang（领导" in page.text
    reply = ChatDriver(board.services).say(ADMIN, f"链接 撤销 {link_id}")
    assert "已撤销" in reply, reply
    # Its session ends with it, and the link opens nothing any more.
    assert board.get(http, "/board/").status_code == 302
    assert board.browser().get(url, allow_redirects=False, timeout=10).status_code == 403
    with database.connection_context():
        actions = [e.action for e in AuditEntry.select().order_by(AuditEntry.id)]
    assert "board_link" in actions and "board_link_use" in actions
    assert "board_link_revoke" in actions


def test_a_link_expires_after_its_days(board):
    url, _ = _issue_link(board, LEADER, "2")
    board.clock.advance(days=2, seconds=1)
    assert board.browser().get(url, allow_redirects=False, timeout=10).status_code == 403


def test_behind_https_the_cookies_are_secure(tmp_path, db_url, db, fake, clock):
    from bot.board import access
    from bot.web import create_app

    config = wecom_config(tmp_path, db_url, fake, BOARD_BASE_URL="https://duban.example.cn")
    services = build_services(config, clock)
    app = create_app(services)
    client = app.test_client()
    start = client.get("/board/")
    assert start.status_code == 302
    assert "secure" in start.headers["Set-Cookie"].lower()
    _link, token = access.issue_link(LEADER, 7, ADMIN, clock.now())
    ChatDriver(services).bind(LEADER, "县人民政府", "领导")
    answer = client.get(f"/board/link/{token}")
    cookie = [h for h in answer.headers.getlist("Set-Cookie") if h.startswith(SESSION_COOKIE)]
    assert cookie and "; secure" in cookie[0].lower() and "httponly" in cookie[0].lower()
