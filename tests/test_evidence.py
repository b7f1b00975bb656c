"""Evidence files: stored by content hash, atomically, with a size cap; names never reach paths."""

import hashlib
import io

import pytest

from bot.evidence import EvidenceStore, EvidenceTooLarge, clean_name, sniff_type
from bot.pipeline import Incoming
from models.messages import OutboxMessage
from models.progress import Evidence

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10


def test_store_by_sha256_byte_for_byte(tmp_path):
    store = EvidenceStore(tmp_path, max_bytes=1 << 20)
    stored = store.save(io.BytesIO(PNG), "../../etc/passwd")
    assert stored.sha256 == hashlib.sha256(PNG).hexdigest()
    assert store.path_for(stored.sha256).read_bytes() == PNG
    assert stored.original_name == "passwd" and stored.content_type == "image/png"
    assert not list((tmp_path / "tmp").iterdir()), "no temp file left behind"


def test_too_large_leaves_nothing(tmp_path):
    store = EvidenceStore(tmp_path, max_bytes=100)
    with pytest.raises(EvidenceTooLarge):
        store.save(io.BytesIO(b"x" * 101), "big.bin")
    assert not list((tmp_path / "tmp").iterdir())
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_names_and_types():
    assert clean_name("C:\\Users\\a\\报告.docx") == "报告.docx"
    assert clean_name("\x00\x1f") == "未命名文件"
    assert sniff_type(b"%PDF-1.7") == "application/pdf"
    assert sniff_type(b"\xff\xd8\xff\xe0") == "image/jpeg"


def _send_file(services, userid, caption, ext_id):
    stored = services.evidence.save(io.BytesIO(PNG), "现场照片.png")
    return services.pipeline.handle(
        Incoming("test", ext_id, userid, kind="image", text=caption, file=stored)
    )


def test_file_with_a_code_in_its_caption_is_attached(services, bot):
    bot.bind("li", "市监局")
    handled = _send_file(services, "li", "T7 佐证", "f1")
    assert "已归到 T7" in handled.reply and "共 1 份" in handled.reply
    assert Evidence.get().item.code == "T7"
    detail = bot.say("li", "任务 T7")
    assert "本单位 1 份" in detail
    assert "\n· 现场照片.png（" in detail


def test_file_after_a_progress_message_goes_to_that_item(services, bot):
    bot.bind("li", "市监局")
    bot.say("li", "进度 T11 30%")
    assert "已归到 T11" in _send_file(services, "li", "", "f2").reply


def test_file_without_an_item_waits_for_zuozheng(services, bot, clock):
    bot.bind("li", "市监局")
    clock.advance(hours=2)
    handled = _send_file(services, "li", "", "f3")
    assert "佐证 编号" in handled.reply
    assert Evidence.get().item is None
    assert "已归到 T7" in bot.say("li", "佐证 T7")
    assert Evidence.get().item.code == "T7"


def test_indicator_evidence_is_checked_against_its_checklist(services, bot):
    bot.bind("li", "市监局")
    reply = _send_file(services, "li", "Z12 第2项 信用信息归集", "c1").reply
    assert "已归到 Z12" in reply
    assert "✗ 第1项" in reply and "✓ 第2项" in reply and "：1 份" in reply and "✗ 第3项" in reply
    assert Evidence.get().point == 2
    reply = _send_file(services, "li", "Z12-3", "c2").reply
    assert "✓ 第3项" in reply
    detail = bot.say("li", "任务 Z12")
    assert "评分标准各项的佐证：" in detail and "✗ 第1项" in detail and "✓ 第2项" in detail


def test_zuozheng_with_a_point_and_a_wrong_point(services, bot, clock):
    bot.bind("li", "市监局")
    clock.advance(hours=2)
    _send_file(services, "li", "", "c3")
    before = [(e.id, e.item_id, e.point) for e in Evidence.select()]
    assert "共 3 项" in bot.say("li", "佐证 Z12 第9项")
    assert [(e.id, e.item_id, e.point) for e in Evidence.select()] == before
    assert "✓ 第1项" in bot.say("li", "佐证 Z12 第一项")
    assert Evidence.get().point == 1


def test_a_caption_naming_an_item_that_does_not_exist_says_so(services, bot):
    bot.bind("li", "市监局")
    reply = _send_file(services, "li", "T99 佐证", "u1").reply
    assert "T99 不存在" in reply and "不是本单位的责任事项" not in reply
    reply = _send_file(services, "li", "T1 佐证", "u2").reply  # T1 belongs to other units
    assert "T1 不是本单位的责任事项" in reply


def test_a_misfiled_file_is_refiled_by_its_sender_and_logged(services, bot):
    from models.audit import AuditEntry

    bot.bind("li", "市监局")
    _send_file(services, "li", "T7 佐证", "r1")
    listing = bot.say("li", "佐证 列表")
    number = Evidence.get().id
    assert f"[{number}] 现场照片.png｜T7" in listing
    reply = bot.say("li", f"佐证 改归 {number} T11")
    assert f"文件 {number}“现场照片.png”由 T7 改归到 T11" in reply
    assert Evidence.get().item.code == "T11"
    assert "本单位 0 份" in bot.say("li", "任务 T7") and "本单位 1 份" in bot.say("li", "任务 T11")
    entry = AuditEntry.select().where(AuditEntry.action == "evidence_refile").get()
    assert entry.before == {"item": "T7", "point": None} and entry.after["item"] == "T11"
    assert "不是县市场监管局的责任事项" in bot.say("li", f"佐证 改归 {number} T1")
    assert "没有变化" in bot.say("li", f"佐证 改归 {number} T11")


def test_a_withdrawn_file_no_longer_counts_but_stays_on_disk(services, bot):
    bot.bind("li", "市监局")
    _send_file(services, "li", "Z12 第2项", "w1")
    evidence = Evidence.get()
    reply = bot.say("li", f"佐证 撤回 {evidence.id} 传错了")
    assert "已撤回" in reply and "原件仍保留" in reply
    evidence = Evidence.get_by_id(evidence.id)
    assert evidence.withdrawn_at is not None and evidence.withdrawn_by == "li"
    assert services.evidence.path_for(evidence.sha256).read_bytes() == PNG
    detail = bot.say("li", "任务 Z12")
    assert "本单位 0 份" in detail and "✗ 第2项" in detail
    assert "已撤回" in bot.say("li", "佐证 列表")
    assert "已撤回，不能再改动" in bot.say("li", f"佐证 撤回 {evidence.id}")


def test_only_the_sender_or_an_admin_may_refile_or_withdraw(services, bot):
    bot.bind("li", "市监局")
    bot.bind("li2", "市监局")
    _send_file(services, "li", "T7", "p1")
    number = Evidence.get().id
    assert "不是您提交的" in bot.say("li2", f"佐证 撤回 {number}")
    assert Evidence.get().withdrawn_at is None
    assert "已改归" in bot.say("boss", f"佐证 改归 {number} T11")
    assert "已撤回" in bot.say("boss", f"佐证 撤回 {number} 重复提交")
    assert "没有文件号为 999" in bot.say("li", "佐证 撤回 999")


def test_the_same_file_twice_is_one_piece_of_evidence(services, bot, clock):
    bot.bind("li", "市监局")
    _send_file(services, "li", "T7 佐证", "d1")
    clock.advance(minutes=5)
    reply = _send_file(services, "li", "T7", "d2").reply
    assert "此文件已于 2026-11-26 10:00 提交过" in reply and "不再重复计入" in reply
    assert Evidence.select().count() == 1
    # The same bytes for another item are evidence for that item too.
    assert "已归到 T11" in _send_file(services, "li", "T11", "d3").reply
    assert Evidence.select().count() == 2


def test_a_long_file_name_whose_download_fails_is_kept(services, bot):
    """Over 255 characters: cut to fit wherever a name is stored, on both databases."""
    from bot.pipeline import MediaError
    from models.messages import MediaDownload

    class Failing:
        def fetch(self, media_id, name_hint, check):
            raise MediaError("企业微信暂时不可用")

    bot.bind("li", "市监局")
    services.pipeline.media = Failing()
    name = "关于全县网络市场监管工作的情况报告" * 20 + ".pdf"
    handled = services.pipeline.handle(
        Incoming(
            "wecom",
            "long-name",
            "li",
            kind="file",
            text="",
            payload={"media_id": "m" * 300, "file_name": name},
        )
    )
    assert handled.reply is None, "a file is answered when its download is settled"
    assert services.downloader.run_due() == 1
    told = OutboxMessage.get(OutboxMessage.dedupe_key.startswith("download-wait:"))
    assert "暂时未能从企业微信取回" in told.content["text"] and name[:20] in told.content["text"]
    download = MediaDownload.get()
    assert 0 < len(download.file_name) <= 200 and name.startswith(download.file_name[:10])


def test_stale_temp_files_are_swept_and_young_ones_kept(tmp_path):
    """A process killed mid-save leaves `tmp/upload-*` behind; the worker sweeps them at start.
    One younger than the cut-off may be a save in progress in the web process."""
    import os
    from datetime import UTC, datetime, timedelta

    store = EvidenceStore(tmp_path, max_bytes=1 << 20)
    kept = store.save(io.BytesIO(PNG), "a.png")
    tmp = tmp_path / "tmp"
    now = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    stale, young, other = tmp / "upload-dead1", tmp / "upload-busy2", tmp / "notes.txt"
    for path, age in (
        (stale, timedelta(hours=2)),
        (young, timedelta(minutes=5)),
        (other, timedelta(days=9)),
    ):
        path.write_bytes(b"half a file")
        at = (now - age).timestamp()
        os.utime(path, (at, at))
    assert store.sweep_temp(now, timedelta(hours=1)) == 1
    assert sorted(p.name for p in tmp.iterdir()) == ["notes.txt", "upload-busy2"]
    assert store.path_for(kept.sha256).read_bytes() == PNG, "stored evidence is never touched"
    assert EvidenceStore(tmp_path / "new", 1).sweep_temp(now, timedelta(hours=1)) == 0


def test_a_read_that_fails_midway_leaves_no_temp_file(tmp_path):
    class Broken(io.BytesIO):
        def read(self, size=-1):
            if self.tell() > 1000:
                raise ConnectionResetError("peer went away")
            return super().read(500)

    store = EvidenceStore(tmp_path, max_bytes=1 << 20)
    with pytest.raises(ConnectionResetError):
        store.save(Broken(PNG), "a.png")
    assert list((tmp_path / "tmp").iterdir()) == []
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def _filed():
    return sorted(
        (e.item.code if e.item else "", e.withdrawn_at is None) for e in Evidence.select()
    )


def test_a_caption_naming_two_of_the_units_items_files_it_under_both(services, bot):
    from models.audit import AuditEntry

    bot.bind("li", "市监局")
    reply = _send_file(services, "li", "t7、Ｔ11的佐证材料", "two1").reply
    assert "归到 2 项" in reply and "· T7 " in reply and "· T11 " in reply
    assert reply.count("共 1 份") == 2
    assert _filed() == [("T11", True), ("T7", True)]
    assert AuditEntry.select().where(AuditEntry.action == "evidence").count() == 2
    # The same file again under both: counted nowhere twice.
    again = _send_file(services, "li", "T7和T11", "two2").reply
    assert again.count("已有相同文件，不重复计入") == 2 and again.count("共 1 份") == 2
    assert _filed() == [("T11", True), ("T7", True)]


def test_a_caption_naming_an_item_of_another_unit_files_nothing_and_says_which(services, bot):
    bot.bind("li", "市监局")
    reply = _send_file(services, "li", "T7 T1 材料", "two3").reply
    assert "T1 不是本单位的责任事项" in reply and "佐证 编号" in reply
    assert _filed() == [("", True)]


def test_this_is_for_two_items_after_a_file_without_caption(services, bot, clock):
    bot.bind("li", "市监局")
    clock.advance(hours=2)
    _send_file(services, "li", "", "two4")
    reply = bot.say("li", "这个是T7和T11的")
    assert "归到 2 项" in reply and "· T7 " in reply and "· T11 " in reply
    assert _filed() == [("T11", True), ("T7", True)]
    # Asked again with nothing waiting: said so, nothing changes.
    assert "没有待归档的文件" in bot.say("li", "佐证 T7 T11")
    assert _filed() == [("T11", True), ("T7", True)]


def test_zuozheng_with_two_items_where_one_already_has_the_file(services, bot, clock):
    bot.bind("li", "市监局")
    _send_file(services, "li", "T7", "two5")
    clock.advance(hours=2)
    _send_file(services, "li", "", "two6")  # the same bytes, waiting
    reply = bot.say("li", "佐证 T7、T11")
    assert "· T7 " in reply and "已有相同文件，不重复计入" in reply
    assert "· T11 " in reply and "已归入 现场照片.png" in reply
    # The waiting copy is set aside as T7's repeat (kept, not counted); T11 gets its own.
    assert _filed() == [("", False), ("T11", True), ("T7", True)]


def test_zuozheng_naming_an_item_of_another_unit_changes_nothing(services, bot, clock):
    bot.bind("li", "市监局")
    clock.advance(hours=2)
    _send_file(services, "li", "", "two7")
    reply = bot.say("li", "佐证 T7 T1")
    assert "T1" in reply and "归到" not in reply
    assert _filed() == [("", True)]
