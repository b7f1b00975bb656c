"""The leaders' board in a real Chromium, signed in through the fake WeCom's web sign-in (OAuth)
as a leader, a liaison and a stranger, on a 390 px phone and a 1280 px desktop: what each sees
and does not see. Screenshots are saved as test artifacts (tests/artifacts/board/, ignored by
git; BOARD_ARTIFACTS moves them). Also the sandbox's way in: the chosen person opens the board.

Skipped without Playwright or Chromium unless REQUIRE_BROWSER=1 (CI), like the sandbox's tests.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from board_setup import LEADER, LIAISON, STRANGER, build_campaign
from conftest import SUNDAY_NIGHT
from helpers import free_port, run_py_server, running
from wecom_setup import AGENT_ID, wecom_config

from bot.services import build_services
from models.db import database

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("BOARD_ARTIFACTS") or ROOT / "tests" / "artifacts" / "board")
VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 900)}
TIMEOUT_MS = 15_000


def _unavailable(reason: str):
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium():
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    expect.set_options(timeout=TIMEOUT_MS)
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.isfile(executable):
        _unavailable("no chromium executable found")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def board(tmp_path, db_url, db, fake, clock):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = wecom_config(
        tmp_path,
        db_url,
        fake,
        BOARD_BASE_URL=base,
        WECOM_OAUTH_URL=f"{fake.base_url}/connect/oauth2/authorize",
    )
    fake.trusted_domains = {f"127.0.0.1:{port}"}
    fake.agent_id = AGENT_ID
    services = build_services(config, clock)
    campaign = build_campaign(services, clock)
    db.close()
    with running(services, port=port):
        yield base, campaign
    database.close()


class Visit:
    """One browser context as one person's WeCom client, its requests and errors recorded."""

    def __init__(self, chromium, fake, who: str, viewport: str):
        width, height = VIEWPORTS[viewport]
        self.context = chromium.new_context(
            viewport={"width": width, "height": height}, locale="zh-CN"
        )
        # Who uses this WeCom client: the fake's authorize page reads it from its own host.
        self.context.add_cookies([{"name": "fake_wecom_user", "value": who, "url": fake.base_url}])
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.who, self.viewport, self.width = who, viewport, width
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on(
            "console",
            lambda msg: self.errors.append(msg.text) if msg.type == "error" else None,
        )

    def open(self, url: str) -> int:
        response = self.page.goto(url)
        return response.status if response else 0

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.who}-{self.viewport}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000

    def fits(self) -> bool:
        """Nothing wider than the screen: wide tables scroll inside their own box."""
        return self.page.evaluate("document.documentElement.scrollWidth") <= self.width

    def text(self, selector: str = "body") -> str:
        return self.page.inner_text(selector)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(chromium, fake):
    opened: list[Visit] = []

    def start(who: str, viewport: str) -> Visit:
        opened.append(Visit(chromium, fake, who, viewport))
        return opened[-1]

    yield start
    for one in opened:
        one.close()


def _only_ours(visit: Visit, base: str, fake) -> None:
    """Everything the pages loaded came from the bot, or was the sign-in's trip to WeCom."""
    stray = [
        url
        for url in visit.requests
        if not url.startswith((base + "/", fake.base_url + "/connect/oauth2/authorize", "data:"))
    ]
    assert stray == []


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_leader_signs_in_through_wecom_and_sees_everything(board, visit, fake, viewport):
    base, campaign = board
    leader = visit(LEADER, viewport)
    assert leader.open(base + "/board/") == 200
    assert leader.page.url.startswith(base + "/board/")
    header = leader.text("header")
    assert "wang" in header and "领导" in header
    score = leader.text("#score")
    assert "预计评估得分" in score and "合格线 85 分" in score and "项未评分" in score
    # The charts are drawn, at the sizes their numbers say.
    assert leader.page.locator("#trend svg circle").count() == 4
    total = leader.page.locator("#score svg.bar").first
    fill = total.locator("rect.bar-fill").bounding_box()
    whole = total.locator("rect.bar-bg").bounding_box()
    shown = float(leader.text("#total"))
    assert abs(fill["width"] / whole["width"] - shown / 100) < 0.02
    assert "要合格，至少还需" in leader.text("#gap")
    assert leader.fits()
    leader.shot("home")

    leader.page.click("nav.tabs >> text=单位")
    leader.page.wait_for_url(base + "/board/units")
    rows = leader.page.locator("#units-table tbody tr")
    assert rows.count() > 2
    table = leader.text("#units-table")
    assert "市监局" in table and "工信局" in table
    assert leader.fits()
    leader.shot("units")

    leader.page.click("#units-table th >> text=未报告")
    leader.page.wait_for_url("**/board/units?sort=silent*")
    leader.page.click(f'#units-table tr[data-unit="{campaign.other_unit}"] a')
    assert "县工信科技局" in leader.text("#unit-head")
    assert "T17" in leader.text("#items")
    leader.shot("unit-other")

    leader.page.click("nav.tabs >> text=交办")
    assigned = leader.text("main")
    assert "领导批示" in assigned and "会议议定" in assigned and "J1" in assigned
    leader.shot("assigned")
    leader.page.click("nav.tabs >> text=指标")
    assert "Z41" in leader.text("main")
    leader.shot("indicators")
    assert leader.errors == []
    _only_ours(leader, base, fake)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_liaison_sees_the_scorecard_and_only_their_own_unit(board, visit, fake, viewport):
    base, campaign = board
    liaison = visit(LIAISON, viewport)
    assert liaison.open(base + "/board/units") == 200
    # Back where they were going (WeCom's #wechat_redirect rides along, as browsers keep it).
    assert liaison.page.url.split("#")[0] == base + "/board/units"
    table = liaison.text("#units-table")
    assert "市监局" in table and "工信局" not in table
    assert liaison.fits()
    liaison.shot("units")
    liaison.page.click(f'#units-table tr[data-unit="{campaign.own_unit}"] a')
    items = liaison.text("#items")
    assert "T11" in items and "T14-1" in items and "J1" in items
    assert "检查记录.png" in liaison.text("#files")
    assert liaison.fits()
    liaison.shot("unit-own")
    # Another unit's page and file, typed into the address bar: refused, nothing shown.
    assert liaison.open(f"{base}/board/unit/{campaign.other_unit}") == 403
    refused = liaison.text("main")
    assert "只能查看本单位的事项" in refused and "T17" not in refused
    liaison.shot("other-unit-refused")
    assert liaison.open(f"{base}/board/file/{campaign.other_file}") == 403
    # The whole scorecard is theirs to see.
    assert liaison.open(base + "/board/indicators") == 200
    assert "Z1" in liaison.text("main") and "Z41" in liaison.text("main")
    liaison.shot("indicators")
    assert liaison.open(base + "/board/") == 200
    assert "本周变化（县市场监管局）" in liaison.text("#week")
    liaison.shot("home")
    assert liaison.errors == [] or all("403" in e for e in liaison.errors)
    _only_ours(liaison, base, fake)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_stranger_gets_a_polite_refusal_and_nothing_else(board, visit, fake, viewport):
    base, _ = board
    stranger = visit(STRANGER, viewport)
    assert stranger.open(base + "/board/") == 403
    body = stranger.text("body")
    assert "您还没有看板的查看权限" in body and "联系领导小组办公室" in body
    assert stranger.page.locator("nav.tabs").count() == 0
    for hidden in ("预计评估得分", "市监局", "退出"):
        assert hidden not in body
    assert stranger.fits()
    stranger.shot("refused")
    # Nothing opens by typing addresses either: each asks WeCom again and is refused again.
    assert stranger.open(base + "/board/units") == 403
    assert "工信局" not in stranger.text("body")
    assert [c for c in stranger.context.cookies() if c["name"] == "board_session"] == []


def test_sign_out_from_the_page(board, visit, fake):
    base, _ = board
    leader = visit(LEADER, "phone")
    assert leader.open(base + "/board/") == 200
    leader.page.click("#signout")
    assert "已退出看板" in leader.text("main")
    assert [c for c in leader.context.cookies() if c["name"] == "board_session"] == []


def test_in_the_sandbox_the_chosen_person_opens_the_board(chromium, tmp_path):
    """`run.py demo` as a newcomer runs it: pick a person, press 看板, see the board as them."""
    with run_py_server(tmp_path / "office", ["demo", "--at", SUNDAY_NIGHT.arg]) as url:
        context = chromium.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url)
            page.click('#member-list button[data-userid="demo_scj"]')
            with context.expect_page() as opened:
                page.click("#open-board")
            board_page = opened.value
            board_page.wait_for_load_state()
            assert "市监局联络员（联络员 · 市监局）" in board_page.inner_text("header")
            assert "预计评估得分" in board_page.inner_text("main")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            board_page.screenshot(path=str(ARTIFACTS / "sandbox-demo_scj-phone-home.png"))
            # Choosing the leader and pressing again shows the leader's board.
            page.click('#member-list button[data-userid="demo_leader"]')
            with context.expect_page() as again:
                page.click("#open-board")
            again.value.wait_for_load_state()
            assert "县领导（领导" in again.value.inner_text("header")
        finally:
            context.close()
