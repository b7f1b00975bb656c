"""Signing in to the desk: WeCom's web login (扫码登录, login_type=CorpApp) on a PC browser and
the in-client sign-in inside WeCom, both played by the fake WeCom over real HTTP, on the board's
sessions; who gets in (admins, leaders) and who gets nothing (liaisons, strangers); signing
out and revocation; the CSRF token and the same-origin check on every form."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests
from board_setup import ADMIN, LEADER, LIAISON, STRANGER
from desk_setup import desk_fixture  # noqa: F401  (the `desk` fixture)
from wecom_setup import AGENT_ID

from bot.web.desk import SESSION_COOKIE, STATE_COOKIE
from models.audit import AuditEntry
from models.board import BoardSession
from models.db import database
from models.plan import Item


def _sessions() -> list[BoardSession]:
    with database.connection_context():
        return list(BoardSession.select())


def test_a_pc_browser_is_sent_to_wecoms_web_login(desk):
    http = requests.Session()
    start = desk.get(http, "/desk/items?overdue=1")
    assert start.status_code == 302
    url = urlsplit(start.headers["Location"])
    query = parse_qs(url.query)
    assert url.path == "/wwlogin/sso/login" and url.netloc == urlsplit(desk.fake.base_url).netloc
    assert query["login_type"] == ["CorpApp"]
    assert query["appid"] == [desk.fake.corp_id] and query["agentid"] == [str(AGENT_ID)]
    assert query["redirect_uri"] == [f"{desk.base}/desk/auth/callback"]
    assert len(query["state"][0]) >= 16
    cookie = next(c for c in http.cookies if c.name == STATE_COOKIE)
    assert cookie.path == "/desk/auth" and cookie.has_nonstandard_attr("HttpOnly")


def test_an_admin_scans_and_comes_back_where_they_were_going(desk):
    http, back = desk.sign_in(ADMIN, "/desk/items?overdue=1")
    assert back.status_code == 303 and back.headers["Location"] == "/desk/items?overdue=1"
    assert "httponly" in back.headers["Set-Cookie"].lower()
    page = desk.get(http, "/desk/items?overdue=1")
    assert page.status_code == 200 and "boss（管理员）" in page.text
    assert desk.fake.weblogins == 1
    (session,) = _sessions()
    assert session.via == "weblogin" and session.wecom_userid == ADMIN
    with database.connection_context():
        entry = AuditEntry.get(AuditEntry.action == "desk_signin")
    assert entry.actor == ADMIN and "扫码登录" in entry.summary


def test_inside_wecom_the_in_client_sign_in_is_used(desk):
    http = requests.Session()
    http.headers["User-Agent"] = "Mozilla/5.0 wxwork/4.1.0 MicroMessenger/7.0.1"
    start = desk.get(http, "/desk/")
    url = urlsplit(start.headers["Location"])
    assert url.path == "/connect/oauth2/authorize"
    assert parse_qs(url.query)["redirect_uri"] == [f"{desk.base}/desk/auth/callback"]
    desk.fake.oauth_user = LEADER
    back = http.get(start.headers["Location"], allow_redirects=False, timeout=10)
    answer = http.get(back.headers["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 303
    assert "wang（领导）" in desk.get(http, "/desk/").text
    assert _sessions()[0].via == "wecom"


def test_a_liaison_and_a_stranger_get_nothing(desk):
    for who, words in ((LIAISON, "办公桌只对办公室和领导开放"), (STRANGER, "没有办公桌的使用权限")):
        http, back = desk.sign_in(who)
        assert back.status_code == 403 and words in back.text
        assert SESSION_COOKIE not in http.cookies
        for path in ("/desk/", "/desk/items", "/desk/item/J1", "/desk/review"):
            answer = desk.get(http, path)
            assert answer.status_code == 302  # back to sign-in: no page, no data
            assert "J1" not in answer.text
    assert _sessions() == []


def test_a_replayed_or_forged_state_signs_nobody_in(desk):
    http = requests.Session()
    start = desk.get(http, "/desk/")
    desk.fake.weblogin_user = ADMIN
    scanned = http.get(start.headers["Location"], allow_redirects=False, timeout=10)
    callback = scanned.headers["Location"]
    other = requests.Session()  # another browser: no state cookie
    assert other.get(callback, allow_redirects=False, timeout=10).status_code == 400
    assert http.get(callback, allow_redirects=False, timeout=10).status_code == 303
    again = http.get(callback, allow_redirects=False, timeout=10)  # the state is spent
    assert again.status_code == 400
    assert len(_sessions()) == 1


def test_the_board_and_the_desk_keep_separate_cookies_but_one_session_table(desk):
    http, _ = desk.sign_in(ADMIN)
    cookie = next(c for c in http.cookies if c.name == SESSION_COOKIE)
    assert cookie.path == "/desk"
    # Signing out ends the session (as the board's), with the form's token only.
    token = desk.csrf(http)
    refused = desk.post(http, "/desk/signout", {"csrf": "0" * 64})
    assert refused.status_code == 403
    assert desk.post(http, "/desk/signout", {"csrf": token}).status_code == 200
    assert _sessions()[0].ended_at is not None
    assert desk.get(http, "/desk/").status_code == 302


def test_every_form_needs_the_token_and_the_same_origin(desk):
    http, _ = desk.sign_in(ADMIN)
    token = desk.csrf(http, "/desk/item/J1")
    form = {"csrf": token, "reason": "并入年度工作", "confirmed": "yes"}
    no_token = desk.post(http, "/desk/item/J1/cancel", {**form, "csrf": ""})
    assert no_token.status_code == 403 and "页面已过期" in no_token.text
    cross = desk.post(http, "/desk/item/J1/cancel", form, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403 and "请求被拒绝" in cross.text
    fetch_site = desk.post(
        http, "/desk/item/J1/cancel", form, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert fetch_site.status_code == 403
    # Another session's token is not this one's.
    other, _ = desk.sign_in(ADMIN)
    assert desk.post(other, "/desk/item/J1/cancel", form).status_code == 403
    with database.connection_context():
        assert Item.get(Item.code == "J1").cancelled_at is None
    assert desk.post(http, "/desk/item/J1/cancel", form).status_code == 200
    with database.connection_context():
        assert Item.get(Item.code == "J1").cancelled_at is not None


def test_every_page_has_a_csrf_token_in_each_post_form_and_no_outside_asset(desk):
    http, _ = desk.sign_in(ADMIN)
    for path in (
        "/desk/",
        "/desk/new",
        "/desk/review",
        "/desk/items",
        "/desk/item/J1",
        "/desk/units",
        "/desk/people",
    ):
        html = desk.get(http, path).text
        forms = html.split('<form method="post"')[1:]
        assert all('name="csrf"' in f.split("</form>")[0] for f in forms), path
        assert "http://" not in html.replace(desk.base, "") and "https://" not in html, path
        assert "<script" not in html, path
    css = desk.get(http, "/desk/static/desk.css")
    assert css.status_code == 200 and "@media print" in css.text and "@page" in css.text
