"""The browser sandbox end to end: the real `run.py demo` server driven by a real Chromium.

Skipped when Playwright or a Chromium executable is missing, unless REQUIRE_BROWSER=1 (CI).
Playwright's own browser downloads are not used: Chromium comes from the system.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import SUNDAY_NIGHT, Moment
from helpers import SandboxApi, run_py_server

ROOT = Path(__file__).resolve().parents[2]
REPLY_TIMEOUT_MS = 15_000
FEED_POLL_MS = 1000  # the page's POLL_MS
SCREENSHOT = "/tmp/sandbox.png"


def _unavailable(reason: str):
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (REQUIRE_BROWSER=1)")
    pytest.skip(reason)


def browser_executable() -> str:
    return shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    expect.set_options(timeout=REPLY_TIMEOUT_MS)
    executable = browser_executable()
    if not os.path.isfile(executable):
        _unavailable("no chromium executable found")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def running_demo(workdir: Path, moment: Moment, env_extra: dict | None = None):
    """`python3 /abs/run.py demo --at …` as a newcomer runs it (see `helpers.run_py_server`),
    the bot's clock pinned to `moment` (it runs forward from there). Yields the sandbox URL."""
    with run_py_server(workdir, ["demo", "--at", moment.arg], env_extra) as url:
        yield url


@pytest.fixture
def sandbox_url(tmp_path):
    """The demo at a quiet moment (Sunday night: no reminders, no digest): what a test does is
    all that happens."""
    with running_demo(tmp_path / "office", SUNDAY_NIGHT) as url:
        yield url


class Sandbox:
    """One browser page on the sandbox, with the page's errors collected."""

    def __init__(self, page, url: str):
        self.page = page
        self.url = url
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
        )
        page.set_default_timeout(REPLY_TIMEOUT_MS)
        page.clock.install()  # time runs as usual; wait_reply may move it on

    def open(self) -> None:
        self.page.goto(self.url)
        self.page.wait_for_selector("#member-list button[data-userid]")

    def pick_member(self, userid: str) -> None:
        self.page.click(f'#member-list button[data-userid="{userid}"]')
        self._expect_current(userid)

    def type_userid(self, userid: str, *, key: str = "Enter") -> None:
        self.page.fill("#userid", userid)
        if key == "Enter":
            self.page.press("#userid", "Enter")
        else:  # leave the field: the change event switches
            self.page.locator("#userid").blur()
        self._expect_current(userid)

    def _expect_current(self, userid: str) -> None:
        from playwright.sync_api import expect

        expect(self.page.locator("#chat-title")).to_contain_text(userid)
        expect(self.page.locator("#userid")).to_have_value(userid)

    def send(self, text: str, *expected: str) -> str:
        """Send `text` from #message; wait for a new bot message with all of `expected`."""
        before = self.page.locator("#chat .msg-out").count()
        self.page.fill("#message", text)
        self.page.click("#send")
        return self.wait_reply(before, *expected)

    def wait_reply(self, before: int, *expected: str) -> str:
        """Wait for a new bot message containing all of `expected`. The page reads the feed
        right after a send and then once a second; while waiting, the page's clock is moved on
        to its next read (Playwright's clock), so a reply shows as soon as the server has it."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        deadline = time.monotonic() + REPLY_TIMEOUT_MS / 1000
        while True:
            try:
                handle = self.page.wait_for_function(
                    """([before, expected]) => {
                        const outs = [...document.querySelectorAll('#chat .msg-out')].slice(before);
                        const hit = outs.find(m => expected.every(e => m.textContent.includes(e)));
                        return hit ? hit.textContent : false;
                    }""",
                    arg=[before, list(expected)],
                    timeout=100,
                )
                return handle.json_value()
            except PlaywrightTimeout:
                if time.monotonic() > deadline:
                    break
                self.page.clock.fast_forward(FEED_POLL_MS)
        pytest.fail(
            f"no reply containing {expected!r} within {REPLY_TIMEOUT_MS} ms.\n"
            f"#chat:\n{self.page.inner_text('#chat')}\n"
            f"#error: {self.page.inner_text('#error')!r}\nerrors: {self.errors}"
        )


@pytest.fixture
def sandbox(browser, sandbox_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    try:
        yield Sandbox(page, sandbox_url)
    finally:
        context.close()


def test_liaison_sees_own_tasks(sandbox):
    sandbox.open()
    sandbox.pick_member("demo_scj")
    reply = sandbox.send("我的任务", "县市场监管局的未完成事项")
    assert "T11" in reply
    page = sandbox.page
    assert page.locator("#chat .msg-in").last.inner_text().strip().endswith("我的任务")
    assert page.input_value("#message") == ""
    # Multi-line replies keep their line breaks.
    bubble = page.locator("#chat .msg-out .bubble").last
    assert bubble.evaluate("b => getComputedStyle(b).whiteSpace") == "pre-wrap"
    assert "\n" in bubble.inner_text()
    active = page.locator('#member-list button[data-userid="demo_scj"]')
    assert "active" in (active.get_attribute("class") or "")
    assert sandbox.errors == []


def test_user_text_is_never_html_and_uploads_and_errors_show(sandbox, tmp_path):
    from playwright.sync_api import expect

    page = sandbox.page
    sandbox.open()
    sandbox.type_userid("demo_scj")
    before = page.locator("#chat .msg-out").count()
    page.fill("#message", "<b>粗体</b><img src=x onerror=alert(1)>")
    page.press("#message", "Enter")
    expect(page.locator("#chat .msg-in").last).to_contain_text("<b>粗体</b>")
    sandbox.wait_reply(before)  # some reply, whatever it says
    assert page.locator("#chat b, #chat img").count() == 0

    # Shift+Enter is a new line, not a send.
    page.fill("#message", "第一行")
    page.press("#message", "Shift+Enter")
    page.keyboard.type("第二行")
    assert page.input_value("#message") == "第一行\n第二行"
    page.fill("#message", "")

    # A quick button sends at once.
    before = page.locator("#chat .msg-out").count()
    page.click(".quick-send[data-text='帮助']")
    sandbox.wait_reply(before)

    # Evidence upload with a caption.
    evidence = tmp_path / "佐证.txt"
    evidence.write_text("检查记录", encoding="utf-8")
    before = page.locator("#chat .msg-out").count()
    page.set_input_files("#file", str(evidence))
    page.fill("#caption", "T11 佐证")
    page.click("#upload")
    expect(page.locator("#chat .msg-in").last).to_contain_text("佐证.txt")
    sandbox.wait_reply(before, "已收到佐证材料", "T11")
    assert page.input_value("#caption") == ""
    assert sandbox.errors == []

    # After a reload the whole conversation is back (from the feed's first, long answer).
    shown = _message_ids(page)
    page.reload()
    expect(page.locator("#chat .msg")).to_have_count(len(shown))
    assert sorted(_message_ids(page)) == sorted(shown)
    expect(page.locator("#chat-title")).to_contain_text("demo_scj")

    # An API error is shown inline (the browser logs the 400 itself: not a page error).
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    page.set_input_files("#file", str(empty))
    page.click("#upload")
    expect(page.locator("#error")).to_contain_text("文件是空的")
    assert [e for e in sandbox.errors if "400 (BAD REQUEST)" not in e] == []

    # A userid the server would refuse is refused in the page.
    page.fill("#userid", "not valid!")
    page.press("#userid", "Enter")
    expect(page.locator("#error")).to_contain_text("userid 只能包含")
    expect(page.locator("#chat-title")).to_contain_text("demo_scj")


def _message_ids(page) -> list[str]:
    return page.eval_on_selector_all("#chat .msg", "ms => ms.map(m => m.dataset.id)")


def test_history_longer_than_one_feed_page(sandbox):
    """More than 200 messages each way: the page pages through the feed, none lost or doubled."""
    from playwright.sync_api import expect

    count = 210
    api = SandboxApi(sandbox.url.removesuffix("/sandbox"))
    for n in range(count):
        status, answer = api.call(
            "send", {"userid": "demo_tjj", "text": "我的任务", "id": f"bulk-{n}"}
        )
        assert status == 202 and answer["ok"] is True
    # A retried POST with the same id is recorded once.
    assert api.call("send", {"userid": "demo_tjj", "text": "我的任务", "id": "bulk-0"})[1][
        "duplicate"
    ]

    page = sandbox.page
    page.goto(sandbox.url + "#demo_tjj")
    expect(page.locator("#chat .msg-in")).to_have_count(count)
    expect(page.locator("#chat .msg-out")).to_have_count(count)
    ids = _message_ids(page)
    assert len(set(ids)) == len(ids)
    for direction in ("in", "out"):
        numbers = [int(i.split("-")[1]) for i in ids if i.startswith(direction + "-")]
        assert numbers == sorted(numbers)
    assert sandbox.errors == []


def test_a_nudge_card_can_be_clicked_in_the_sandbox(sandbox):
    sandbox.open()
    sandbox.pick_member("demo_admin")
    sandbox.send("催办 T11", "已催办")
    sandbox.pick_member("demo_scj")
    from playwright.sync_api import expect

    buttons = sandbox.page.locator('#chat .card-button[data-key="coordinate"]')
    expect(buttons.last).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    before = sandbox.page.locator("#chat .msg-out").count()
    buttons.last.click()
    sandbox.wait_reply(before, "已告知领导小组办公室")
    expect(sandbox.page.locator("#chat .card-done").last).to_have_text("已提交协调")
    sandbox.pick_member("demo_admin")
    sandbox.send("日志 T11", "在卡片上点了“已提交协调”")
    assert sandbox.errors == []


# ---------------------------------------------------------------- the doors

SANDBOX_SECRET = "sandbox-secret-for-the-test"


def _not_refusals(errors: list[str]) -> list[str]:
    """The page's errors, less the browser's own log line for each refused (403) request."""
    return [e for e in errors if "403 (FORBIDDEN)" not in e]


def test_a_remote_sandbox_asks_for_its_secret_once_per_session(browser, tmp_path):
    from playwright.sync_api import expect

    env = {"SANDBOX": "1", "SANDBOX_SECRET": SANDBOX_SECRET}
    with running_demo(tmp_path / "office", SUNDAY_NIGHT, env) as url:
        context = browser.new_context(locale="zh-CN")
        sandbox = Sandbox(context.new_page(), url)
        page = sandbox.page
        page.goto(url)
        expect(page.locator("#gate")).to_be_visible()
        assert "demo_scj" not in page.content(), "nobody is shown before the secret"
        page.fill("#gate-secret", SANDBOX_SECRET[:-1])
        page.click("#gate-enter")
        expect(page.locator("#gate-error")).to_contain_text("口令不对")
        expect(page.locator("#gate")).to_be_visible()
        page.fill("#gate-secret", SANDBOX_SECRET)
        page.press("#gate-secret", "Enter")
        expect(page.locator("#gate")).to_be_hidden()
        page.wait_for_selector("#member-list button[data-userid]")
        sandbox.pick_member("demo_scj")
        sandbox.send("我的任务", "县市场监管局的未完成事项")
        # Kept for this tab's session: a reload does not ask again.
        page.reload()
        page.wait_for_selector("#member-list button[data-userid]")
        expect(page.locator("#gate")).to_be_hidden()
        expect(page.locator("#chat .msg-out")).to_have_count(1)
        assert _not_refusals(sandbox.errors) == []
        context.close()
        # Another browser session asks again.
        fresh = browser.new_context(locale="zh-CN")
        page = fresh.new_page()
        page.goto(url)
        expect(page.locator("#gate")).to_be_visible()
        fresh.close()


def test_another_sites_form_cannot_upload_evidence(browser, sandbox_url, tmp_path):
    """A page on another site submits a multipart form to the sandbox (a form needs no
    preflight, and Chromium lets a top-level form navigation reach 127.0.0.1)."""
    from playwright.sync_api import expect

    upload = sandbox_url + "/api/upload"
    evil = f"""<!doctype html><meta charset="utf-8">
<form id="f" method="post" enctype="multipart/form-data" action="{upload}">
  <input name="userid" value="demo_scj"><input name="caption" value="T11 佐证">
  <input type="file" name="file" id="file">
</form>"""
    context = browser.new_context(locale="zh-CN")
    # The other site, served by the browser itself: nothing goes to the network.
    context.route(
        "http://evil.test/**", lambda route: route.fulfill(body=evil, content_type="text/html")
    )
    page = context.new_page()
    page.goto("http://evil.test/")
    forged = tmp_path / "伪造.txt"
    forged.write_text("伪造的佐证", encoding="utf-8")
    page.set_input_files("#file", str(forged))
    with page.expect_navigation() as answer:
        page.evaluate("document.getElementById('f').submit()")
    assert answer.value.status == 403
    expect(page.locator("body")).to_contain_text("拒绝跨站请求")
    context.close()
    api = SandboxApi(sandbox_url.removesuffix("/sandbox"))
    status, feed = api.call("feed?after_out=0&after_in=0")
    assert status == 200 and [m for m in feed["incoming"] if m["kind"] == "file"] == []
    evidence = tmp_path / "office" / "data" / "evidence"
    assert not [p for p in evidence.rglob("*") if p.is_file()], "no file was stored"


def test_a_rebound_name_is_refused(browser, sandbox_url):
    """DNS rebinding: a site's own name that resolves to 127.0.0.1 (a resolver rule in this
    browser stands in for the attacker's DNS). To the browser it is that site's origin, so
    only the server can tell, from the Host it was asked for."""
    port = sandbox_url.split(":")[2].split("/")[0]
    rebinding = browser.browser_type.launch(
        executable_path=browser_executable(),
        headless=True,
        args=["--no-sandbox", "--host-resolver-rules=MAP rebind.test 127.0.0.1"],
    )
    try:
        page = rebinding.new_page()
        response = page.goto(f"http://rebind.test:{port}/sandbox")
        assert response.status == 403 and "地址不对" in page.content()
        assert page.locator("meta[name=sandbox-token]").count() == 0, "no token for that name"
        answer = page.evaluate(
            """async () => {
                const r = await fetch("/sandbox/api/send", {method: "POST",
                    headers: {"Content-Type": "application/json"},
                    body: JSON.stringify({userid: "demo_admin", text: "绑定 intruder 市监局"})});
                return r.status;
            }"""
        )
        assert answer == 403
    finally:
        rebinding.close()
    status, feed = SandboxApi(sandbox_url.removesuffix("/sandbox")).call(
        "feed?after_out=0&after_in=0"
    )
    assert status == 200 and feed["incoming"] == []


# ---------------------------------------------------------------- the README walkthrough

README = ROOT / "README.md"
# Spans of the README's steps that are not chat messages: the userid typed in step 2 and the
# caption of the uploaded file.
NOT_SENT = {"zhangsan", "T7"}


def readme_steps() -> dict[int, set[str]]:
    """The backticked spans of each numbered step under "快速开始"."""
    section = README.read_text(encoding="utf-8").split("## 快速开始", 1)[1].split("\n## ", 1)[0]
    steps: dict[int, set[str]] = {}
    current = None
    for line in section.splitlines():
        number = re.match(r"^(\d+)\. ", line)
        if number:
            current = int(number.group(1))
            steps[current] = set()
        elif not line.startswith("   "):
            current = None
        if current is not None:
            steps[current] |= set(re.findall(r"`([^`]+)`", line))
    return steps


@pytest.fixture
def walkthrough(browser, tmp_path, campaign_clock):
    """The demo as the README starts it (default settings, an empty folder), at each pinned
    moment; yields the page and the moment."""
    with running_demo(tmp_path / "office", campaign_clock) as url:
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
        )
        try:
            yield Sandbox(context.new_page(), url), campaign_clock
        finally:
            context.close()


def test_the_readme_walkthrough_at_any_time(walkthrough, tmp_path):
    """Every step of README 快速开始, in order, checked on stable fragments only (task codes,
    "已"), with what the scheduler did at the pinned moment. The worker finishes its start-up
    round before it takes the first message, so whatever that round sent is on the page by
    the time the first reply is."""
    from playwright.sync_api import expect

    sandbox, moment = walkthrough
    page = sandbox.page
    sent: dict[int, set[str]] = {1: set(), 2: set(), 3: set()}

    def say(step: int, text: str, *expected: str) -> str:
        sent[step].add(text)
        return sandbox.send(text, *expected)

    # 1. demo_admin binds zhangsan and sets T7's deadline.
    sandbox.open()
    sandbox.pick_member("demo_admin")
    say(1, "绑定 zhangsan 市监局", "zhangsan")
    say(1, "期限 T7 2026-12-31", "T7", "2026-12-31")
    # The start-up round warned the admins with the digest iff next year's calendar is missing.
    warned = "2027" in page.inner_text("#chat")
    assert warned == (moment.reminders_due and moment.next_year_missing), page.inner_text("#chat")

    # 2. zhangsan: tasks, progress, details, and evidence with T7 in the caption.
    sandbox.type_userid("zhangsan")
    expect(page.locator("#chat .msg-out").first).to_contain_text("县市场监管局")  # the welcome
    say(2, "我的任务", "T7")
    say(2, "进度 T7 60% 已完成初稿", "T7", "60%")
    say(2, "任务 T7", "T7", "60%")
    evidence = tmp_path / "初稿.txt"
    evidence.write_text("一体化监管方案初稿", encoding="utf-8")
    before = page.locator("#chat .msg-out").count()
    page.set_input_files("#file", str(evidence))
    page.fill("#caption", "T7")
    page.click("#upload")
    expect(page.locator("#chat .msg-in").last).to_contain_text("初稿.txt")
    sandbox.wait_reply(before, "T7")

    # Binding added zhangsan to the member list.
    expect(page.locator('#member-list button[data-userid="zhangsan"]')).to_be_visible()

    # 3. demo_admin: log, overview, a nudge (and its card clicked by demo_scj), the digest,
    # the ledger. Typing the userid and leaving the field switches too.
    sandbox.type_userid("demo_admin", key="blur")
    expect(page.locator("#chat .msg-out")).to_have_count(2 + warned)  # the history is back
    say(3, "日志 T7", "T7", "60%", "2026-12-31")
    say(3, "总览", "85")
    say(3, "催办 T11", "T11")
    others = page.locator("#others")
    expect(others).to_contain_text("发给 市监局联络员")
    expect(others).to_contain_text("T11")
    assert page.locator("#chat .card-buttons").count() == 0, "the card went to the liaison only"

    sandbox.pick_member("demo_scj")
    cards = page.locator("#chat .card-buttons")
    # The day's reminder card came first on a working day after REMIND_AT; the nudge's is last.
    expect(cards).to_have_count(2 if moment.reminders_due else 1)
    before = page.locator("#chat .msg-out").count()
    page.locator('#chat .card-button[data-key="coordinate"]').last.click()
    sandbox.wait_reply(before, "已")
    expect(page.locator("#chat .card-done").last).to_be_visible()

    sandbox.pick_member("demo_admin")
    say(3, "周报 预览", "85")
    # Published by the scheduler's start-up round on a working day, else by this command: one
    # digest this week either way.
    say(3, "周报 发布", moment.iso_week)
    expect(others).to_contain_text("发给领导小组群")
    chart = page.locator("#others img")
    expect(chart).to_have_count(1)
    expect(chart).to_have_js_property("complete", True)
    assert chart.evaluate("img => img.naturalWidth") == 900

    say(3, "导出", ".xlsx")
    link = page.locator("#chat a.file-link")
    expect(link).to_have_count(1)
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.failure() is None and download.suggested_filename.endswith(".xlsx")
    assert Path(download.path()).read_bytes().startswith(b"PK")  # an .xlsx is a zip
    # Ask the link's URL for its status as the page does (a plain link carries no token: the
    # page fetches the file with its headers and hands it over as a download).
    file_url = page.url.split("/sandbox")[0] + link.get_attribute("href")
    token = page.get_attribute('meta[name="sandbox-token"]', "content")
    again = page.request.get(file_url, headers={"X-Sandbox-Token": token})
    assert again.status == 200 and again.body() == Path(download.path()).read_bytes()
    assert page.request.get(file_url).status == 403, "not without the page's token"

    page.screenshot(path=SCREENSHOT, full_page=True)
    assert sandbox.errors == []
    # The walkthrough above is the README's, step by step.
    assert {n: spans - NOT_SENT for n, spans in readme_steps().items()} == sent
