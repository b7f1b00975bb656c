"""The upload page in a real Chromium on a 390 px phone: a liaison signed in through the fake
WeCom's web sign-in (OAuth) picks an item, attaches two files with a caption and submits; the
result lists each file and the evidence is filed under their unit. Also the sandbox's way in:
`run.py demo`, pick a liaison, press 上传页面, upload a file. Screenshots go to
tests/artifacts/upload/ (ignored by git).

Skipped without Playwright or Chromium unless REQUIRE_BROWSER=1 (CI), like the board's tests.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from board_setup import LIAISON, build_campaign
from conftest import SUNDAY_NIGHT
from helpers import free_port, run_py_server, running
from wecom_setup import AGENT_ID, wecom_config

from bot.services import build_services
from models.db import database
from models.plan import Item
from models.progress import Evidence

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("BOARD_ARTIFACTS") or ROOT / "tests" / "artifacts") / "upload"
TIMEOUT_MS = 15_000
PHONE = {"width": 390, "height": 844}


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
def site(tmp_path, db_url, db, fake, clock):
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


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_liaison_uploads_two_files_on_a_phone(site, chromium, fake):
    base, campaign = site
    context = chromium.new_context(viewport=PHONE, locale="zh-CN")
    context.add_cookies([{"name": "fake_wecom_user", "value": LIAISON, "url": fake.base_url}])
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        requests: list[str] = []
        errors: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        response = page.goto(base + "/board/upload/")
        assert response is not None and response.status == 200
        assert page.url.split("#")[0] == base + "/board/upload/"
        assert "每个文件不超过 20 MB" in page.inner_text("#upload")
        # Every field is named by its label, and the page fits the phone.
        page.get_by_label("归入事项（期限最近的在前）").select_option("T14")
        page.get_by_label("文件或图片（可多选）").set_input_files(
            [
                {"name": "摸底表.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 a"},
                {"name": "现场.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\nxx"},
            ]
        )
        page.get_by_label("说明（可不填）").fill("摸底调查材料")
        assert _fits(page)
        _shot(page, "liaison-phone-form")
        page.click("#submit")
        page.wait_for_selector("#result")
        result = page.inner_text("#result")
        assert "摸底表.pdf" in result and "现场.png" in result
        assert page.locator('li.outcome[data-state="filed"]').count() == 2
        assert "本单位该项现有佐证材料 2 份" in result
        assert _fits(page)
        _shot(page, "liaison-phone-result")
        assert errors == []
        stray = [
            u
            for u in requests
            if not u.startswith((base + "/", fake.base_url + "/connect/oauth2/authorize", "data:"))
        ]
        assert stray == []
    finally:
        context.close()
    with database.connection_context():
        t14 = Item.get(Item.code == "T14")
        names = sorted(
            e.original_name
            for e in Evidence.select().where(
                (Evidence.item == t14) & (Evidence.unit == campaign.own_unit)
            )
        )
    assert names == ["摸底表.pdf", "现场.png"]


def test_in_the_sandbox_the_chosen_liaison_opens_the_upload_page(chromium, tmp_path):
    """`run.py demo` as a newcomer runs it: pick a liaison, press 上传页面, upload a file."""
    with run_py_server(tmp_path / "office", ["demo", "--at", SUNDAY_NIGHT.arg]) as url:
        context = chromium.new_context(viewport=PHONE, locale="zh-CN")
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url)
            page.click('#member-list button[data-userid="demo_scj"]')
            with context.expect_page() as opened:
                page.click("#open-upload")
            upload = opened.value
            upload.wait_for_load_state()
            assert "市监局联络员（联络员 · 市监局）" in upload.inner_text("header")
            assert "上传佐证材料" in upload.inner_text("main")
            first = upload.locator("#item option").nth(1).get_attribute("value")
            upload.select_option("#item", first)
            upload.set_input_files(
                "#files",
                [{"name": "演示.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 demo"}],
            )
            upload.click("#submit")
            upload.wait_for_selector("#result")
            assert 'data-state="filed"' in upload.content()
            assert f"已归入 {first}" in upload.inner_text("#result")
            assert _fits(upload)
            _shot(upload, "sandbox-demo_scj-phone-result")
            # A leader chosen in the sandbox is told the page is for the units.
            page.click('#member-list button[data-userid="demo_leader"]')
            with context.expect_page() as again:
                page.click("#open-upload")
            again.value.wait_for_load_state()
            assert "上传页面供各单位使用" in again.value.inner_text("main")
        finally:
            context.close()
