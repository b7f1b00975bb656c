"""In sandbox mode the sandbox's chosen person is the one signed in to the board: the sandbox's
page asks for a board session for its current userid through its own doors (Host, same origin,
the page's token, the secret, JSON only), and nothing else signs anyone in."""

from __future__ import annotations

import pytest
import requests
from board_setup import LEADER, LIAISON, build_campaign
from helpers import SandboxApi, running

from bot.board.access import SESSION_COOKIE
from models.board import BoardSession
from models.db import database


@pytest.fixture
def sandbox(services, clock, db):
    build_campaign(services, clock)
    db.close()
    with running(services) as base:
        yield base, SandboxApi(base)
    database.close()


def _sessions() -> int:
    with database.connection_context():
        return BoardSession.select().count()


def test_the_sandboxs_chosen_person_is_signed_in(sandbox):
    base, api = sandbox
    http = requests.Session()
    answer = http.post(
        base + "/sandbox/api/board",
        json={"userid": LIAISON},
        headers=api.headers(),
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json() == {"ok": True, "url": "/board/"}
    assert "httponly" in answer.headers["Set-Cookie"].lower()
    page = http.get(base + "/board/", timeout=10)
    assert page.status_code == 200 and "li（联络员 · 市监局）" in page.text
    # Choosing another person signs that person in instead.
    http.post(
        base + "/sandbox/api/board", json={"userid": LEADER}, headers=api.headers(), timeout=10
    )
    assert "wang（领导" in http.get(base + "/board/", timeout=10).text


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 403),  # no page token
        ({"Origin": "http://evil.example"}, 403),
        ({"Content-Type": "text/plain"}, 415),
    ],
)
def test_the_sandboxs_doors_guard_its_way_in(sandbox, headers, status):
    base, api = sandbox
    sent = {**(api.headers() if headers else {}), **headers}
    answer = requests.post(
        base + "/sandbox/api/board",
        data=b'{"userid": "wang"}',
        headers={"Content-Type": "application/json", **sent},
        timeout=10,
    )
    assert answer.status_code == status
    assert SESSION_COOKIE not in answer.cookies and _sessions() == 0


def test_without_a_session_the_board_points_to_the_sandbox(sandbox):
    base, _ = sandbox
    page = requests.get(base + "/board/units", allow_redirects=False, timeout=10)
    assert page.status_code == 401 and "请从浏览器沙盒进入看板" in page.text
    assert 'href="/sandbox"' in page.text
    # WeCom's way back does not exist without WeCom.
    assert requests.get(base + "/board/auth/callback?code=x&state=y", timeout=10).status_code == 404
    assert _sessions() == 0


def test_the_sandbox_page_offers_the_board(sandbox):
    _base, api = sandbox
    _, html = api.page()
    assert 'id="open-board"' in html
