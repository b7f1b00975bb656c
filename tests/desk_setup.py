"""The desk's tests' set-up: the board's small campaign (tests/board_setup.py) with WeCom
configured against the fake, the bot serving /desk at BOARD_BASE_URL, and a browser (requests)
that signs in through WeCom's web login (扫码登录) as the fake plays it. A test module imports
`desk_fixture` to use the `desk` fixture."""

from __future__ import annotations

import re

import pytest
import requests
from board_setup import build_campaign
from helpers import free_port, running
from wecom_setup import AGENT_ID, wecom_config

from bot.services import build_services
from models.db import database

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


class Desk:
    def __init__(self, base, fake, services, clock, campaign):
        self.base = base
        self.fake = fake
        self.services = services
        self.clock = clock
        self.campaign = campaign

    def sign_in(
        self, userid: str, path: str = "/desk/"
    ) -> tuple[requests.Session, requests.Response]:
        """A PC browser opens the desk, goes to WeCom's web login, `userid` scans, back."""
        http = requests.Session()
        start = http.get(self.base + path, allow_redirects=False, timeout=10)
        assert start.status_code == 302, start.text
        self.fake.weblogin_user = userid
        scanned = http.get(start.headers["Location"], allow_redirects=False, timeout=10)
        assert scanned.status_code == 302, scanned.text
        back = http.get(scanned.headers["Location"], allow_redirects=False, timeout=10)
        return http, back

    def get(self, http: requests.Session, path: str) -> requests.Response:
        return http.get(self.base + path, allow_redirects=False, timeout=10)

    def csrf(self, http: requests.Session, path: str = "/desk/") -> str:
        found = CSRF.search(self.get(http, path).text)
        assert found, "no csrf token on the page"
        return found.group(1)

    def post(self, http: requests.Session, path: str, data: dict | list, **kw) -> requests.Response:
        headers = {"Origin": self.base, **kw.pop("headers", {})}
        return http.post(
            self.base + path, data=data, headers=headers, allow_redirects=False, timeout=10, **kw
        )


@pytest.fixture(name="desk")
def desk_fixture(tmp_path, db_url, db, fake, clock):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = wecom_config(
        tmp_path,
        db_url,
        fake,
        BOARD_BASE_URL=base,
        WECOM_OAUTH_URL=f"{fake.base_url}/connect/oauth2/authorize",
        WECOM_WEBLOGIN_URL=f"{fake.base_url}/wwlogin/sso/login",
    )
    fake.trusted_domains = {f"127.0.0.1:{port}"}  # 可信域名 (in-client sign-in)
    fake.weblogin_domains = {f"127.0.0.1:{port}"}  # 授权回调域 (web login)
    fake.agent_id = AGENT_ID
    services = build_services(config, clock)
    campaign = build_campaign(services, clock)
    db.close()
    with running(services, port=port):
        yield Desk(base, fake, services, clock, campaign)
    database.close()
