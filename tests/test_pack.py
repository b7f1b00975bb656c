"""材料包: the inspection's evidence pack. The zip is opened and checked: the index against the
files by SHA-256, every name against Windows' rules, the UTF-8 flag, gaps first, and parts
below the size WeCom accepts."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import PurePosixPath

from conftest import TZ
from openpyxl import load_workbook

from bot.evidence import EvidenceStore
from bot.pack import FORBIDDEN, INDEX, MAX_PATH, RESERVED, ROOT, build, safe_name, utf16_len
from bot.pipeline import Incoming
from models.progress import Evidence

NAMES = {
    "e1": ("Z12 第2项", "信用信息归集情况.pdf", b"%PDF-1.4 credit"),
    "e2": ("Z12 第2项", "信用信息归集情况.pdf", b"%PDF-1.4 credit, second version"),  # same name
    "e3": ("Z11 第1项", 'a<b>:c"d|e?f*g.pdf', b"%PDF-1.4 odd name"),
    "e4": ("Z11", "CON.txt", b"device name"),
    "e5": ("Z11 第3项", "很长的文件名" * 30 + ".docx", b"PK\x03\x04 long"),
    "e6": ("Z11 第2项", "尾部有点和空格. . .", b"trailing"),
}


def _file(services, userid, caption, name, data, ext):
    stored = services.evidence.save(io.BytesIO(data), name)
    services.pipeline.handle(Incoming("test", ext, userid, kind="file", text=caption, file=stored))
    return stored


def _evidence(services, bot):
    bot.bind("li", "市监局")
    for ext, (caption, name, data) in NAMES.items():
        _file(services, "li", caption, name, data, ext)
    assert Evidence.select().where(Evidence.item.is_null(False)).count() == len(NAMES)


def _check_windows_name(path: str) -> None:
    assert utf16_len(path) <= MAX_PATH, path
    for part in PurePosixPath(path).parts:
        assert part and utf16_len(part) <= 255, path
        assert not set(part) & set(FORBIDDEN), path
        assert all(ord(ch) >= 32 for ch in part), path
        assert not part.endswith((".", " ")), path
        assert part.split(".")[0].upper().rstrip() not in RESERVED, path


def _check_zip(data: bytes) -> tuple[zipfile.ZipFile, dict]:
    """Every name Windows-safe and flagged UTF-8; the index's rows match the files by SHA-256."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.testzip() is None
    for info in zf.infolist():
        _check_windows_name(info.filename)
        if not info.filename.isascii():
            assert info.flag_bits & 0x800, info.filename  # Explorer reads the name as UTF-8
    book = load_workbook(io.BytesIO(zf.read(f"{ROOT}/{INDEX}")))
    rows = list(book["文件"].iter_rows(min_row=2, values_only=True))
    listed = {}
    for path, _part, _code, _point, _unit, _sender, _when, _size, size, sha, _original in rows:
        if path in zf.namelist():
            content = zf.read(path)
            assert hashlib.sha256(content).hexdigest() == sha and len(content) == size
            listed[path] = sha
    return zf, {"book": book, "listed": listed, "rows": rows}


def test_the_pack_in_chat_lists_gaps_first_and_its_index_matches_the_files(services, bot, config):
    _evidence(services, bot)
    reply = bot.say("boss", "材料包")
    assert reply.startswith("【迎检材料包】全部：41 项指标，6 份佐证材料。")
    gaps_at = reply.index("缺少佐证")
    assert gaps_at < reply.index("随后发送")
    assert "✗ Z1 网上零售额同比增速：没有任何佐证材料" in reply
    assert "Z12 发挥信用监管的基础作用：第1项" in reply  # Z12 has point 2 only
    sent = [m for m in bot.deliver() if m.msg_type == "file"]
    assert len(sent) == 1 and sent[0].recipients == ("boss",)
    meta = sent[0].content["file"]
    assert meta["size"] < 20 * 1024 * 1024
    data = EvidenceStore(config.data_dir / "exports", 0).path_for(meta["sha256"]).read_bytes()
    zf, index = _check_zip(data)
    files = [n for n in zf.namelist() if not n.endswith(INDEX)]
    assert len(files) == len(NAMES) == len(index["listed"])
    assert all(n.startswith(f"{ROOT}/2 规范监管/Z1") for n in files)
    z12 = sorted(n for n in files if "/Z12 " in n)
    assert [PurePosixPath(n).name for n in z12] == [
        "市监局_第2项_20261126_信用信息归集情况.pdf",
        "市监局_第2项_20261126_信用信息归集情况（2）.pdf",
    ]
    odd = next(n for n in files if "a＜b＞" in n)
    assert PurePosixPath(odd).name == "市监局_第1项_20261126_a＜b＞：c＂d｜e？f＊g.pdf"
    book = index["book"]
    assert book.sheetnames == ["缺项", "指标", "文件"]
    gaps = [r[0] for r in book["缺项"].iter_rows(min_row=2, values_only=True)]
    assert gaps[0] == "Z1" and "Z12" in gaps
    checklist = {
        (r[0], r[2][:3]): r[3] for r in book["指标"].iter_rows(min_row=2, values_only=True)
    }
    assert checklist[("Z12", "第2项")] == "✓" and checklist[("Z12", "第1项")] == "✗"
    assert checklist[("Z1", "（整项")] == "✗"
    first = next(r for r in index["rows"] if r[2] == "Z12")
    assert (first[4], first[5]) == ("县市场监管局", "li")


def test_a_scope_a_missing_file_and_the_log(services, bot, config):
    _evidence(services, bot)
    missing = Evidence.get(Evidence.original_name == "CON.txt")
    services.evidence.path_for(missing.sha256).unlink()
    reply = bot.say("boss", "材料包 Z11")
    assert reply.startswith("【迎检材料包】Z11：1 项指标，4 份佐证材料。")
    assert "CON.txt" in reply and "找不到" in reply
    data = (
        EvidenceStore(config.data_dir / "exports", 0)
        .path_for([m for m in bot.deliver() if m.msg_type == "file"][-1].content["file"]["sha256"])
        .read_bytes()
    )
    _zf, index = _check_zip(data)
    assert len(index["listed"]) == 3
    assert any(r[0] == "（文件缺失）" and r[10] == "CON.txt" for r in index["rows"])
    assert "【迎检材料包】规范监管：9 项指标" in bot.say("boss", "材料包 规范监管")
    assert "没有“考核”这一指标或类别" in bot.say("boss", "材料包 考核")
    assert "只有管理员" in bot.say("li", "材料包")
    from models.audit import AuditEntry

    assert (
        AuditEntry.select()
        .where((AuditEntry.action == "pack") & (AuditEntry.actor == "boss"))
        .count()
        == 2
    )


def test_large_packs_are_split_below_the_limit_and_the_cli_pack_is_whole(
    services, bot, config, clock, tmp_path
):
    bot.bind("li", "市监局")
    for n in range(6):  # 6 files of 100 KB that do not compress
        data = hashlib.sha256(str(n).encode()).digest() * 3200
        _file(services, "li", f"Z{11 + n % 3}", f"材料{n}.bin", data, f"big{n}")
    limit = 450 * 1024
    built = build(
        "全部", config.data_dir / "evidence", tmp_path / "parts", TZ, clock.now(), limit=limit
    )
    assert len(built.parts) >= 2
    seen = set()
    for name, path in built.parts:
        assert path.stat().st_size < limit, name
        assert "_第" in name and "包共" in name
        _check_windows_name(name)
        _zf, index = _check_zip(path.read_bytes())
        seen |= set(index["listed"])
    assert len(seen) == 6  # every file in exactly one part; each part has the whole index
    whole = build(
        None, config.data_dir / "evidence", tmp_path / "whole", TZ, clock.now(), limit=None
    )
    ((_name, path),) = whole.parts
    _zf, index = _check_zip(path.read_bytes())
    assert len(index["listed"]) == 6


def test_safe_names_keep_to_windows_rules():
    assert safe_name("CON.txt") == "_CON.txt"
    assert safe_name("lpt1") == "_lpt1"
    assert safe_name("报告. ") == "报告"
    assert safe_name("a/b\\c.pdf") == "a／b＼c.pdf"
    assert safe_name("\x00\x1f标题.pdf") == "标题.pdf"
    long = safe_name("很" * 300 + ".pdf", 80)
    assert long.endswith(".pdf") and utf16_len(long) == 80
    assert safe_name("") == "未命名"
    assert utf16_len(safe_name("😀" * 100, 40)) <= 40  # characters beyond the BMP count twice


def test_the_pack_reply_with_every_gap_fits_in_few_wecom_messages(bot):
    from bot.text import split_utf8

    reply = bot.say("boss", "材料包")
    assert "……另有" in reply
    assert len(split_utf8(reply, 2048)) <= 2
