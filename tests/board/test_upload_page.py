"""The upload page through the HTTP server on port 0, signed in through the fake WeCom's web
sign-in (OAuth) as the board is: a liaison files one and several files under their own unit's
item, the same bytes are counted once (as in chat), the size limit holds while reading, another
unit's item, a missing form token and a cross-site post are refused with nothing stored, and
people who do not report for a unit are told so. Each filing is in the audit log and in a chat
confirmation through the outbox."""

from __future__ import annotations

import re

import pytest
import requests
from board_setup import ADMIN, LEADER, LIAISON, STRANGER, build_campaign
from helpers import free_port, running
from wecom_setup import AGENT_ID, wecom_config

from bot.services import build_services
from models.audit import AuditEntry
from models.db import database
from models.messages import OutboxMessage
from models.plan import Item
from models.progress import Evidence

PDF = b"%PDF-1.4 upload page test " + bytes(range(256)) * 4
DOCX = b"PK\x03\x04 a word file " + bytes(range(200)) * 3


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
        EVIDENCE_MAX_MB="1",
    )
    fake.trusted_domains = {f"127.0.0.1:{port}"}
    fake.agent_id = AGENT_ID
    services = build_services(config, clock)
    campaign = build_campaign(services, clock)
    db.close()
    with running(services, port=port):
        yield Site(base, fake, services, campaign)
    database.close()


class Site:
    def __init__(self, base, fake, services, campaign):
        self.base, self.fake, self.services, self.campaign = base, fake, services, campaign

    def sign_in(self, userid: str) -> tuple[requests.Session, requests.Response]:
        """Open the upload page as `userid`'s WeCom client: WeCom's sign-in, then the page."""
        http = requests.Session()
        start = http.get(self.base + "/board/upload/", allow_redirects=False, timeout=10)
        assert start.status_code == 302 and start.headers["Location"].startswith(self.fake.base_url)
        self.fake.oauth_user = userid
        back = http.get(start.headers["Location"], allow_redirects=False, timeout=10)
        answer = http.get(back.headers["Location"], allow_redirects=False, timeout=10)
        if answer.status_code == 303:
            assert answer.headers["Location"].startswith("/board/upload/")
            answer = http.get(self.base + "/board/upload/", allow_redirects=False, timeout=10)
        return http, answer

    def post(self, http, files, token: str | None, headers=None, **fields):
        data = dict(fields)
        if token is not None:
            data["token"] = token
        return http.post(
            self.base + "/board/upload/",
            data=data,
            files=[("files", f) for f in files],
            headers=headers or {},
            allow_redirects=False,
            timeout=30,
        )


def _token(page: str) -> str:
    found = re.search(r'name="token" value="([0-9a-f]{64})"', page)
    assert found, page
    return found.group(1)


def _evidence(**where) -> list[Evidence]:
    with database.connection_context():
        query = Evidence.select().order_by(Evidence.id)
        for name, value in where.items():
            query = query.where(getattr(Evidence, name) == value)
        return list(query)


def _item(code: str) -> int:
    with database.connection_context():
        return Item.get(Item.code == code).id


def _stored_files(site) -> set[str]:
    root = site.services.evidence.root
    return {p.name for p in root.glob("??/*") if p.is_file()}


def test_a_liaison_sees_their_units_items_nearest_deadline_first(site):
    _http, page = site.sign_in(LIAISON)
    assert page.status_code == 200
    html = page.text
    options = re.findall(r'<option value="([A-Z]+[0-9]+)"', html)
    assert options[:3] == ["T11", "J1", "T14"], options  # 11-20, 11-20 (交办), 12-04
    assert "J2" not in options and "T1" not in options  # others' items (工信局's 交办)
    assert options.index("Z11") < options.index("T7")  # open work by deadline, then the rest
    assert '每个文件不超过 <b id="limit">1 MB</b>' in html
    for field in ("item", "files", "caption"):
        assert f'<label for="{field}">' in html and f'id="{field}"' in html
    assert "<script" not in html and "http" not in html.split("<body>")[1].replace(
        site.base, ""
    ).replace("http-equiv", "")  # no CDN, nothing from elsewhere


def test_one_file_is_filed_audited_and_confirmed_in_chat(site):
    http, page = site.sign_in(LIAISON)
    answer = site.post(
        http,
        [("整改报告.pdf", PDF, "application/pdf")],
        _token(page.text),
        item="T11",
        caption="11月整改报告",
    )
    assert answer.status_code == 200, answer.text
    assert "整改报告.pdf" in answer.text and "已归入 T11" in answer.text
    assert "本单位该项现有佐证材料 2 份" in answer.text  # the campaign's photo and this one
    filed = _evidence(item=_item("T11"), original_name="整改报告.pdf")
    assert len(filed) == 1
    assert filed[0].wecom_userid == LIAISON and filed[0].unit_id == site.campaign.own_unit
    assert filed[0].content_type == "application/pdf" and filed[0].size == len(PDF)
    assert site.services.evidence.path_for(filed[0].sha256).read_bytes() == PDF
    with database.connection_context():
        entry = (
            AuditEntry.select()
            .where(AuditEntry.action == "evidence")
            .order_by(AuditEntry.id.desc())
            .first()
        )
        assert entry.actor == LIAISON and "整改报告.pdf" in entry.summary
        assert entry.item_code == "T11"
        told = OutboxMessage.select().where(OutboxMessage.dedupe_key.startswith("upload-done"))
        texts = [m.content["text"] for m in told]
    assert len(texts) == 1 and "已收到佐证材料：整改报告.pdf，已归到 T11" in texts[0]


def test_several_files_at_once_and_the_same_bytes_counted_once(site):
    http, page = site.sign_in(LIAISON)
    token = _token(page.text)
    files = [("a.pdf", PDF, "application/pdf"), ("b.docx", DOCX, "application/octet-stream")]
    first = site.post(http, files, token, item="T14")
    assert first.status_code == 200, first.text
    assert first.text.count('data-state="filed"') == 2
    assert len(_evidence(item=_item("T14"))) == 2
    # The same two again (one renamed), plus a photo already sent in chat for T11.
    again = site.post(
        http,
        [("a-副本.pdf", PDF, "application/pdf"), ("b.docx", DOCX, "application/octet-stream")],
        token,
        item="T14",
    )
    assert again.status_code == 200
    assert again.text.count('data-state="repeat"') == 2 and "不重复计入" in again.text
    assert len(_evidence(item=_item("T14"))) == 2
    # The same bytes under another of the unit's items count there.
    other = site.post(http, [("a.pdf", PDF, "application/pdf")], token, item="T11")
    assert 'data-state="filed"' in other.text
    with database.connection_context():
        texts = [
            m.content["text"]
            for m in OutboxMessage.select()
            .where(OutboxMessage.dedupe_key.startswith("upload-done"))
            .order_by(OutboxMessage.id)  # PostgreSQL returns rows in no set order otherwise
        ]
    assert len(texts) == 3 and "与已归在 T14 的文件相同，不重复计入" in texts[1]


def test_a_file_over_the_limit_is_refused_and_nothing_of_it_is_kept(site):
    http, page = site.sign_in(LIAISON)
    before = _stored_files(site)
    big = b"%PDF-" + b"x" * (1024 * 1024)  # 1 MB and 5 bytes
    answer = site.post(
        http,
        [("太大.pdf", big, "application/pdf"), ("小.pdf", PDF, "application/pdf")],
        _token(page.text),
        item="T11",
    )
    assert answer.status_code == 200
    assert "太大.pdf" in answer.text and "超过 1 MB 上限，未保存" in answer.text
    assert _evidence(original_name="太大.pdf") == []
    assert len(_stored_files(site) - before) == 1  # only the small one
    assert not list((site.services.evidence.root / "tmp").glob("upload-*"))


def test_another_units_item_is_refused_with_nothing_stored(site):
    http, page = site.sign_in(LIAISON)
    before, rows = _stored_files(site), len(_evidence())
    answer = site.post(http, [("x.pdf", PDF, "application/pdf")], _token(page.text), item="J2")
    assert answer.status_code == 400
    assert "J2 不是县市场监管局的责任事项" in answer.text
    unknown = site.post(http, [("x.pdf", PDF, "application/pdf")], _token(page.text), item="T99")
    assert unknown.status_code == 400 and "没有编号为 T99 的事项" in unknown.text
    point = site.post(
        http, [("x.pdf", PDF, "application/pdf")], _token(page.text), item="T11", point="2"
    )
    assert point.status_code == 400 and "T11 不分项" in point.text
    assert _stored_files(site) == before and len(_evidence()) == rows


def test_a_post_without_the_form_token_or_from_another_site_is_refused(site):
    http, page = site.sign_in(LIAISON)
    rows = len(_evidence())
    missing = site.post(http, [("x.pdf", PDF, "application/pdf")], None, item="T11")
    assert missing.status_code == 403 and "页面已过期" in missing.text
    forged = site.post(http, [("x.pdf", PDF, "application/pdf")], "0" * 64, item="T11")
    assert forged.status_code == 403
    cross = site.post(
        http,
        [("x.pdf", PDF, "application/pdf")],
        _token(page.text),
        headers={"Origin": "http://evil.example"},
        item="T11",
    )
    assert cross.status_code == 403 and "不是从看板页面发出的" in cross.text
    # Another session's token does not work in this one.
    _other, other_page = site.sign_in(LIAISON)
    assert _token(other_page.text) != _token(page.text)
    reused = site.post(
        http, [("x.pdf", PDF, "application/pdf")], _token(other_page.text), item="T11"
    )
    assert reused.status_code == 403
    assert len(_evidence()) == rows


def test_strangers_leaders_and_admins_without_a_unit_are_told_clearly(site):
    _http, page = site.sign_in(STRANGER)
    assert page.status_code == 403 and "没有看板的查看权限" in page.text
    for who in (LEADER, ADMIN):
        http, page = site.sign_in(who)
        assert page.status_code == 403, who
        assert "上传页面供各单位使用" in page.text and 'name="files"' not in page.text
        posted = site.post(http, [("x.pdf", PDF, "application/pdf")], "0" * 64, item="T11")
        assert posted.status_code == 403
    assert _evidence(original_name="x.pdf") == []


def test_without_a_session_a_post_goes_to_sign_in_and_stores_nothing(site):
    rows = len(_evidence())
    answer = requests.post(
        site.base + "/board/upload/",
        data={"item": "T11"},
        files=[("files", ("x.pdf", PDF, "application/pdf"))],
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302 and answer.headers["Location"].startswith(site.fake.base_url)
    assert len(_evidence()) == rows


def test_the_spool_keeps_nothing_of_a_file_past_the_cap():
    from bot.web.upload import CappedSpool

    small = CappedSpool(10)
    small.write(b"12345")
    small.write(b"67890")
    small.seek(0)
    assert not small.too_large and small.read() == b"1234567890"
    big = CappedSpool(10)
    for chunk in (b"12345", b"67890", b"X", b"more and more"):
        assert big.write(chunk) == len(chunk)  # the parser reads on to the next part
    big.seek(0)
    assert big.too_large and big.read() == b"" and big.size == 24
    big.close()
    small.close()


def test_more_than_the_page_takes_at_once_is_refused_whole(site):
    http, page = site.sign_in(LIAISON)
    rows, before = len(_evidence()), _stored_files(site)
    # Eleven files of 1 MB: more than ten files' worth (waitress reads the body first).
    many = [
        (f"{n}.pdf", b"%PDF-" + bytes([n]) * (1024 * 1024 - 10), "application/pdf")
        for n in range(11)
    ]
    answer = site.post(http, many, _token(page.text), item="T11")
    assert answer.status_code == 413 and "一次上传的文件合计太大" in answer.text
    assert 'name="files"' in answer.text  # the form again, to try with fewer
    assert len(_evidence()) == rows and _stored_files(site) == before


def test_names_and_captions_are_shown_as_text_not_markup(site):
    http, page = site.sign_in(LIAISON)
    answer = site.post(
        http,
        [("<img src=x onerror=alert(1)>.pdf", PDF, "application/pdf")],
        _token(page.text),
        item="T11",
    )
    assert answer.status_code == 200
    assert (
        "<img src=x" not in answer.text and "&lt;img src=x onerror=alert(1)&gt;.pdf" in answer.text
    )
    again = site.post(http, [], _token(page.text), item="T11", caption='"><script>x</script>')
    assert again.status_code == 400 and "请选择要上传的文件或图片" in again.text
    assert "<script>x" not in again.text and "&lt;script&gt;x" in again.text
