"""The desk in a real Chromium, signed in through the fake WeCom's web login (扫码登录) as an
admin, a leader, a liaison and a stranger, on a 1280 px desktop and a 390 px phone: every page
each may open, screenshot by screenshot; every field has its <label for>; nothing is wider than
the screen; nothing is loaded from anywhere but the bot. The admin registers an item (立项)
through the form and withdraws it through the confirmation step; the 督办单 prints to an A4 PDF.

Screenshots and PDFs are kept as test artifacts in tests/artifacts/desk/ (ignored by git;
DESK_ARTIFACTS moves them). Skipped without Playwright or Chromium unless REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from board_setup import ADMIN, LEADER, LIAISON, OTHER, STRANGER
from desk_setup import desk_fixture  # noqa: F401  (the `desk` fixture)
from helpers import ChatDriver

from models.db import database
from models.plan import Item

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("DESK_ARTIFACTS") or ROOT / "tests" / "artifacts" / "desk")
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}
TIMEOUT_MS = 15_000
ADMIN_PAGES = {
    "home": "/desk/",
    "new": "/desk/new",
    "review": "/desk/review",
    "items": "/desk/items",
    "items-overdue": "/desk/items?overdue=1",
    "item": "/desk/item/J1",
    "print-item": "/desk/item/J1/print",
    "print-overdue": "/desk/print/overdue",
    "units": "/desk/units",
    "people": "/desk/people",
    "directory": "/desk/people/directory",
}
LEADER_PAGES = {k: v for k, v in ADMIN_PAGES.items() if k not in ("new", "directory")}
UNLABELLED = """() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea')]
  .filter(e => !e.id || !document.querySelector(`label[for="${e.id}"]`))
  .map(e => e.outerHTML)"""


def _unavailable(reason: str):
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
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


class Visit:
    """One browser context as one person at a PC (or a phone), their requests recorded."""

    def __init__(self, chromium, fake, who: str, viewport: str):
        width, height = VIEWPORTS[viewport]
        self.context = chromium.new_context(
            viewport={"width": width, "height": height}, locale="zh-CN"
        )
        # Who scans the web login's QR code: the fake reads it from a cookie on its own host.
        self.context.add_cookies([{"name": "fake_wecom_user", "value": who, "url": fake.base_url}])
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.who, self.viewport, self.width = who, viewport, width
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def open(self, url: str) -> int:
        response = self.page.goto(url)
        return response.status if response else 0

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.who}-{self.viewport}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
        return path

    def fits(self) -> bool:
        return self.page.evaluate("document.documentElement.scrollWidth") <= self.width

    def unlabelled(self) -> list[str]:
        return self.page.evaluate(UNLABELLED)

    def text(self, selector: str = "body") -> str:
        return self.page.inner_text(selector)


@pytest.fixture
def visit(chromium, desk):
    opened: list[Visit] = []

    def start(who: str, viewport: str) -> Visit:
        opened.append(Visit(chromium, desk.fake, who, viewport))
        return opened[-1]

    yield start
    for one in opened:
        one.context.close()


def _only_ours(visit: Visit, desk) -> None:
    allowed = (desk.base + "/", desk.fake.base_url + "/wwlogin/sso/login", "data:")
    assert [url for url in visit.requests if not url.startswith(allowed)] == []


def _something_waiting(desk) -> None:
    """A completion with evidence to review and an extension to decide, as units send them."""
    bot = ChatDriver(desk.services)
    with database.connection_context():
        assert "等待办公室审核" in bot.say(LIAISON, "完成 T11 整改已完成，检查记录已上传")
        assert "延期" in bot.say(OTHER, "延期 T17 2026-12-20 数据还在汇总")


def _tour(visit: Visit, desk, pages: dict[str, str]) -> None:
    for name, path in pages.items():
        assert visit.open(desk.base + path) == 200, path
        assert visit.page.url.startswith(desk.base + "/desk"), visit.page.url
        assert visit.unlabelled() == [], (path, visit.unlabelled())
        assert visit.fits(), (path, visit.viewport)
        visit.shot(name)
    assert visit.errors == []
    _only_ours(visit, desk)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_an_admin_uses_every_page(desk, visit, viewport):
    _something_waiting(desk)
    admin = visit(ADMIN, viewport)
    _tour(admin, desk, ADMIN_PAGES)
    assert admin.open(desk.base + "/desk/review") == 200
    queue = admin.text("main")
    assert "检查记录.png" in queue and "整改已完成" in queue and "数据还在汇总" in queue
    assert admin.open(desk.base + "/desk/") == 200
    assert "boss（管理员）" in admin.text("header")
    assert admin.page.locator("nav.tabs a").count() == 6


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_leader_reads_the_desk(desk, visit, viewport):
    _something_waiting(desk)
    leader = visit(LEADER, viewport)
    _tour(leader, desk, LEADER_PAGES)
    assert leader.open(desk.base + "/desk/review") == 200
    assert leader.page.locator("#submit-review, [id^=approve-]").count() == 0  # read only
    assert leader.open(desk.base + "/desk/item/J1") == 200
    assert leader.page.locator("#nudge").count() == 1  # their own item
    assert leader.page.locator("#cancel-item").count() == 0
    assert leader.page.locator("nav.tabs >> text=立项").count() == 0
    assert "只读" in leader.text("header")
    assert leader.open(desk.base + "/desk/people/directory") == 403
    leader.shot("read-only-refused")


@pytest.mark.parametrize("who", [LIAISON, STRANGER])
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_liaison_and_a_stranger_get_nothing(desk, visit, who, viewport):
    person = visit(who, viewport)
    assert person.open(desk.base + "/desk/") == 403
    body = person.text("body")
    assert "办公桌" in body and "J1" not in body and "市监局" not in body
    assert person.page.locator("nav.tabs").count() == 0
    assert person.fits()
    person.shot("refused")
    assert person.open(desk.base + "/desk/items") == 403
    assert "T11" not in person.text("body")
    assert [c for c in person.context.cookies() if c["name"] == "desk_session"] == []


def test_the_admin_registers_and_withdraws_an_item_in_the_browser(desk, visit):
    admin = visit(ADMIN, "desktop")
    assert admin.open(desk.base + "/desk/new") == 200
    page = admin.page
    page.fill("#title", "整治直播带货虚假宣传")
    page.select_option("#source", "领导批示")
    page.select_option("#urgency", "紧急")
    page.select_option("#leader", LEADER)
    page.fill("#doc_no", "新政办批〔2026〕8号")
    page.fill("#instruction", "请市场监管局牵头，月底前拿出整治方案。")
    page.select_option("#lead", label="县市场监管局")
    page.click("text=工信局")  # a 配合 unit's checkbox, by its label
    page.fill("#deadline", "2026-12-10")
    admin.shot("new-filled")
    page.click("#submit-new")
    assert "已立项并交办 J3" in admin.text("#message")
    admin.shot("new-done")
    page.click("#back")
    assert "新政办批〔2026〕8号" in admin.text("#item") and "紧急" in admin.text("#item")
    admin.shot("item-new")
    page.fill("#cancel-reason", "与 J1 合并办理")
    page.click("#cancel-item")
    assert "确认撤销 J3" in admin.text("#question")
    with database.connection_context():
        assert Item.get(Item.code == "J3").cancelled_at is None
    admin.shot("cancel-confirm")
    page.click("#confirm-button")
    assert "已撤销 J3" in admin.text("#message")
    with database.connection_context():
        assert Item.get(Item.code == "J3").cancel_reason == "与 J1 合并办理"
    assert admin.errors == []
    _only_ours(admin, desk)


def test_the_duban_sheet_prints_on_one_a4_page(desk, visit):
    admin = visit(ADMIN, "desktop")
    assert admin.open(desk.base + "/desk/item/J1/print") == 200
    admin.page.emulate_media(media="print")
    assert admin.page.locator("header.top").is_hidden()
    admin.shot("print-item-as-printed")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / "duban-J1.pdf"
    admin.page.pdf(path=str(pdf), prefer_css_page_size=True)
    data = pdf.read_bytes()
    pages = data.count(b"/Type /Page") - data.count(b"/Type /Pages")
    assert data.startswith(b"%PDF") and pages == 1, pages
