"""In sandbox mode (no WeCom) the sandbox's chosen person is the one signed in to the desk: the
sandbox's page asks for a desk session through its own doors (Host, same origin, the page's
token, JSON only); without it the desk points to the sandbox and signs nobody in."""

from __future__ import annotations

import pytest
import requests
from board_setup import ADMIN, LIAISON, build_campaign
from helpers import SandboxApi, running

from bot.web.desk import SESSION_COOKIE
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


def test_the_sandboxs_chosen_admin_opens_the_desk(sandbox):
    base, api = sandbox
    http = requests.Session()
    answer = http.post(
        base + "/sandbox/api/desk", json={"userid": ADMIN}, headers=api.headers(), timeout=10
    )
    assert answer.status_code == 200 and answer.json() == {"ok": True, "url": "/desk/"}
    page = http.get(base + "/desk/", timeout=10)
    assert page.status_code == 200 and "boss（管理员）" in page.text
    # A liaison chosen in the sandbox gets nothing, as in WeCom.
    http.post(
        base + "/sandbox/api/desk", json={"userid": LIAISON}, headers=api.headers(), timeout=10
    )
    refused = http.get(base + "/desk/items", timeout=10)
    assert refused.status_code == 403 and "T11" not in refused.text


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 403), ({"Origin": "http://evil.example"}, 403), ({"Content-Type": "text/plain"}, 415)],
)
def test_the_sandboxs_doors_guard_the_desks_way_in(sandbox, headers, status):
    base, api = sandbox
    sent = {**(api.headers() if headers else {}), **headers}
    answer = requests.post(
        base + "/sandbox/api/desk",
        data=b'{"userid": "boss"}',
        headers={"Content-Type": "application/json", **sent},
        timeout=10,
    )
    assert answer.status_code == status
    assert SESSION_COOKIE not in answer.cookies and _sessions() == 0


def test_without_a_session_the_desk_points_to_the_sandbox(sandbox):
    base, api = sandbox
    page = requests.get(base + "/desk/", allow_redirects=False, timeout=10)
    assert page.status_code == 401 and "请从浏览器沙盒进入办公桌" in page.text
    assert 'id="open-desk"' in api.page()[1]
    assert _sessions() == 0
