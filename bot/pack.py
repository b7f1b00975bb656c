"""The inspection's evidence pack (迎检材料包): every indicator's evidence in a zip, one folder per
level-1 category and one per indicator, each file under a readable name, with 目录.xlsx (each
indicator's checklist ✓/✗, and each file's unit, sender, date, size and SHA-256). What has no
evidence comes first. Names keep to Windows' rules; packs for chat are split below WeCom's file
size limit. Reads the database and the evidence store; writes only the zips it is given."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from bot.render import format_size
from models.org import Unit
from models.plan import Category, Item, ItemKind
from models.progress import Evidence

WECOM_FILE_LIMIT = 20 * 1024 * 1024  # WeCom refuses larger files
PART_LIMIT = WECOM_FILE_LIMIT - 1024 * 1024  # room for the zip's own records and the index
ROOT = "迎检材料包"
INDEX = "目录.xlsx"
# Explorer's limit is 260 characters for the whole path; the pack's own paths keep to 150, so
# the folder it is unpacked into may take 100 more (C:\Users\…\Downloads\迎检材料包_…\).
MAX_PATH = 150
MAX_FOLDER = 40
MAX_FILE = 80
FORBIDDEN = '<>:"/\\|?*'
_FULL_WIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in FORBIDDEN})
RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{n}" for p in ("COM", "LPT") for n in "123456789¹²³"
}
# openpyxl is imported when a workbook is made (20 MB less in every process that makes none).
HEADER_COLOUR = "DDEBF7"
GAP_COLOUR = "FCE4D6"


def utf16_len(text: str) -> int:
    """Length as Windows counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def safe_name(name: str, limit: int = MAX_FILE) -> str:
    """A file or folder name Explorer accepts: no <>:"/\\|?* (their full-width forms read the
    same), no control characters, no trailing dot or space, no device name (CON, NUL, COM1…),
    at most `limit` characters, the extension kept."""
    name = unicodedata.normalize("NFC", name or "")
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.translate(_FULL_WIDTH).strip().rstrip(". ")
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > 10 or " " in ext:
        stem, ext = name, ""
    ext = f".{ext}" if ext else ""
    while stem and utf16_len(stem + ext) > limit:
        stem = stem[:-1]
    stem = stem.rstrip(". ") or "未命名"
    if stem.split(".")[0].upper().rstrip() in RESERVED:
        stem = f"_{stem}"
    return stem + ext


def _unique(name: str, taken: set[str]) -> str:
    """Explorer compares names without case: the second 报告.pdf becomes 报告（2）.pdf."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem}（{n}）" + (f".{ext}" if ext else "")
    taken.add(candidate.lower())
    return candidate


@dataclass
class PackFile:
    evidence: Evidence
    item: Item
    point: int | None
    point_text: str
    unit: str
    path: str  # inside the zip
    on_disk: Path
    exists: bool
    part: int = 0


@dataclass
class Gap:
    item: Item
    text: str  # what is missing


@dataclass
class Pack:
    label: str
    indicators: list[Item] = field(default_factory=list)
    assigned: list[Item] = field(default_factory=list)  # 交办 items: their files, no checklist
    files: list[PackFile] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    coverage: dict[int, list[tuple[int, str, int]]] = field(default_factory=dict)
    too_large: list[PackFile] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(f.evidence.size for f in self.files if f.exists)


def categories() -> tuple[dict[int, Category], list[Category]]:
    rows = list(Category.select().order_by(Category.position, Category.id))
    return {c.id: c for c in rows}, [c for c in rows if c.parent_id is None]


ASSIGNED_SCOPES = ("交办", "交办事项")


def select(scope: str | None) -> tuple[str, list[Item]] | None:
    """The items a scope names: 全部 (or nothing: every indicator and every 交办 item not
    withdrawn), a code (Z12, J3), 交办, a level-1 or level-2 category's name. None when it
    names nothing."""
    query = Item.select().where(Item.kind == ItemKind.INDICATOR).order_by(Item.position, Item.id)
    indicators = list(query)
    assigned = list(
        Item.select()
        .where((Item.kind == ItemKind.ASSIGNED) & Item.cancelled_at.is_null())
        .order_by(Item.position, Item.id)
    )
    if not scope or scope in ("全部", "all"):
        return "全部", indicators + assigned
    if scope in ASSIGNED_SCOPES:
        return "交办事项", assigned
    by_id, _ = categories()
    found = [i for i in indicators + assigned if i.code == scope.upper()]
    if found:
        return found[0].code, found
    for category in by_id.values():
        if category.name == scope:
            chosen = [
                i
                for i in indicators
                if i.category_id == category.id
                or by_id[i.category_id or 0].parent_id == category.id
            ]
            return category.name, chosen
    return None


def gather(label: str, chosen: list[Item], evidence_root: Path, tz: ZoneInfo) -> Pack:
    """What goes into the pack, named and ordered: gaps first, then each indicator's files, then
    each 交办 item's (in a folder of their own after the scorecard's)."""
    indicators = [i for i in chosen if i.is_indicator]
    pack = Pack(label, indicators, [i for i in chosen if i.is_assigned])
    by_id, level1 = categories()
    numbers = {c.id: n for n, c in enumerate(level1, start=1)}
    assigned_folder = safe_name(f"{len(level1) + 1} 交办事项", MAX_FOLDER)
    units = {u.id: u for u in Unit.select()}
    files: dict[int, list[Evidence]] = {}
    for e in (
        Evidence.select()
        .where(Evidence.item.in_([i.id for i in chosen] or [0]) & Evidence.active())
        .order_by(Evidence.created_at, Evidence.id)
    ):
        files.setdefault(e.item_id or 0, []).append(e)
    for item in pack.assigned:
        folder = f"{ROOT}/{assigned_folder}/{safe_name(f'{item.code} {item.title}', MAX_FOLDER)}"
        _add_files(pack, item, files.get(item.id, []), [], folder, units, evidence_root, tz)
    for item in indicators:
        parent = by_id[by_id[item.category_id or 0].parent_id or 0]
        folder = (
            f"{ROOT}/{safe_name(f'{numbers[parent.id]} {parent.name}', MAX_FOLDER)}/"
            f"{safe_name(f'{item.code} {item.title}', MAX_FOLDER)}"
        )
        checklist = item.checklist()
        mine = files.get(item.id, [])
        counts = {n: sum(1 for e in mine if e.point == n) for n in range(1, len(checklist) + 1)}
        if len(checklist) == 1:
            counts[1] = len(mine)
        pack.coverage[item.id] = [(n, text, counts[n]) for n, text in enumerate(checklist, 1)]
        if not mine:
            pack.gaps.append(Gap(item, "没有任何佐证材料"))
        elif len(checklist) > 1:
            for n, text, count in pack.coverage[item.id]:
                if not count:
                    pack.gaps.append(Gap(item, f"第{n}项 {text} 缺佐证"))
        _add_files(pack, item, mine, checklist, folder, units, evidence_root, tz)
    # The scorecard's folders first, then the 交办 items', as the folders are numbered.
    order = {item.id: n for n, item in enumerate(indicators + pack.assigned)}
    pack.files.sort(key=lambda f: order[f.item.id])
    return pack


def _add_files(pack, item, mine, checklist, folder, units, evidence_root, tz) -> None:
    taken: set[str] = set()
    for e in mine:
        unit = units.get(e.unit_id)
        point = e.point if len(checklist) > 1 else None
        when = e.created_at.astimezone(tz)
        parts = [unit.short_name or unit.name if unit else "未知单位"]
        if point:
            parts.append(f"第{point}项")
        parts += [f"{when:%Y%m%d}", e.original_name or "未命名文件"]
        budget = min(MAX_FILE, MAX_PATH - utf16_len(folder) - 1)
        name = _unique(safe_name("_".join(parts), budget), taken)
        on_disk = evidence_root / e.sha256[:2] / e.sha256
        pack.files.append(
            PackFile(
                e,
                item,
                point,
                checklist[point - 1] if point else "",
                unit.name if unit else "",
                f"{folder}/{name}",
                on_disk,
                on_disk.is_file(),
            )
        )
        if not on_disk.is_file():
            pack.gaps.append(Gap(item, f"文件“{e.original_name}”在服务器上找不到（文件 {e.id}）"))


def split(pack: Pack, limit: int | None) -> int:
    """Number each file's part so that no part (with its index) exceeds `limit` bytes; an
    indicator's files stay together when they fit. A file larger than a part on its own is
    left out (pack.too_large). Returns the number of parts."""
    present = [f for f in pack.files if f.exists]
    if limit is None:
        for f in present:
            f.part = 1
        return 1
    budget = limit - 256 * 1024  # the index and the zip's directory
    part, used = 1, 0
    by_item: dict[int, list[PackFile]] = {}
    for f in present:
        by_item.setdefault(f.item.id, []).append(f)
    for group in by_item.values():
        total = sum(_cost(f) for f in group)
        if used and used + total > budget:
            part, used = part + 1, 0
        for f in group:
            cost = _cost(f)
            if cost > budget:
                pack.too_large.append(f)
                f.part = 0
                continue
            if used and used + cost > budget:
                part, used = part + 1, 0
            f.part = part
            used += cost
    return part if any(f.part for f in present) else 1


def _cost(f: PackFile) -> int:
    # Stored evidence is mostly compressed already (PDF, JPEG): count it whole, plus headers.
    return f.evidence.size + 2 * len(f.path.encode()) + 200


def index_workbook(pack: Pack, tz: ZoneInfo, now: datetime, parts: int) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import PatternFill

    book = Workbook()
    gaps = book.active
    gaps.title = "缺项"
    _header(gaps, ["编号", "指标", "缺少的内容"], [8, 40, 70])
    for gap in pack.gaps:
        gaps.append([gap.item.code, gap.item.title, gap.text])
        for cell in gaps[gaps.max_row]:
            cell.fill = PatternFill("solid", fgColor=GAP_COLOUR)
    for f in pack.too_large:
        gaps.append(
            [
                f.item.code,
                f.item.title,
                f"文件“{f.evidence.original_name}”过大，未放入分包，请用 run.py pack 导出",
            ]
        )
    if not pack.gaps and not pack.too_large:
        gaps.append(["", "各指标及其评分标准各项都有佐证材料", ""])
    checklist = book.create_sheet("指标")
    _header(checklist, ["编号", "指标", "评分标准各项", "有无佐证", "份数"], [8, 40, 60, 10, 8])
    for item in pack.indicators:
        for n, text, count in pack.coverage[item.id]:
            label = f"第{n}项 {text}" if len(pack.coverage[item.id]) > 1 else "（整项）"
            checklist.append([item.code, item.title, label, "✓" if count else "✗", count])
    listing = book.create_sheet("文件")
    _header(
        listing,
        [
            "包内路径",
            "所在分包",
            "编号",
            "评分项",
            "单位",
            "提交人",
            "提交时间",
            "大小",
            "字节数",
            "SHA-256",
            "原文件名",
        ],
        [60, 8, 8, 30, 20, 14, 18, 10, 12, 66, 30],
    )
    for f in pack.files:
        e = f.evidence
        listing.append(
            [
                f.path if f.exists else "（文件缺失）",
                f"第{f.part}包" if f.part and parts > 1 else ("" if not f.part else "—"),
                f.item.code,
                f"第{f.point}项 {f.point_text}" if f.point else "",
                f.unit,
                e.wecom_userid,
                e.created_at.astimezone(tz).replace(tzinfo=None),
                format_size(e.size),
                e.size,
                e.sha256,
                e.original_name,
            ]
        )
    book.properties.title = f"迎检材料包目录（{pack.label}）"
    book.properties.created = now.astimezone(tz).replace(tzinfo=None)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _header(ws, headers: list[str], widths: list[int]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    ws.append(headers)
    for index, cell in enumerate(ws[1]):
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor=HEADER_COLOUR)
        cell.alignment = Alignment(wrap_text=True)
        ws.column_dimensions[cell.column_letter].width = widths[index]
    ws.freeze_panes = "A2"


def write_zip(
    out: BinaryIO, pack: Pack, index: bytes, tz: ZoneInfo, part: int | None = None
) -> int:
    """Write one zip (the files of `part`, or all of them) with the index; returns file count.
    Python's zipfile marks non-ASCII names as UTF-8 (flag 0x800), which Windows' Explorer reads."""
    count = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{ROOT}/{INDEX}", index)
        for f in pack.files:
            if not f.exists or (part is not None and f.part != part):
                continue
            info = zipfile.ZipInfo(f.path, date_time=_zip_time(f.evidence.created_at, tz))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            with f.on_disk.open("rb") as src, zf.open(info, "w") as dst:
                while chunk := src.read(1024 * 1024):
                    dst.write(chunk)
            count += 1
    return count


def _zip_time(when: datetime, tz: ZoneInfo) -> tuple:
    moment = max(when.astimezone(tz).replace(tzinfo=None), datetime(1980, 1, 1))
    return moment.timetuple()[:6]


_SCOPE = re.compile(r"^[Zz]0*([1-9][0-9]?)$")


def normalize_scope(scope: str | None) -> str | None:
    """Z012, z12 -> Z12; other words as written."""
    scope = unicodedata.normalize("NFKC", scope or "").strip()
    match = _SCOPE.match(scope)
    return f"Z{int(match.group(1))}" if match else (scope or None)


@dataclass(frozen=True)
class Built:
    pack: Pack
    parts: list[tuple[str, Path]]  # (file name, the zip on disk), in order


def build(
    scope: str | None,
    evidence_root: Path,
    out_dir: Path,
    tz: ZoneInfo,
    now: datetime,
    limit: int | None = PART_LIMIT,
) -> Built | None:
    """The pack for a scope written as zips under `out_dir` (one, or parts below `limit`);
    None when the scope names no indicator or category."""
    chosen = select(normalize_scope(scope))
    if chosen is None:
        return None
    label, items = chosen
    pack = gather(label, items, evidence_root, tz)
    count = split(pack, limit)
    index = index_workbook(pack, tz, now, count)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = []
    for part in range(1, count + 1):
        suffix = f"_第{part}包共{count}包" if count > 1 else ""
        name = safe_name(f"{ROOT}_{label}_{now.astimezone(tz):%Y%m%d_%H%M}{suffix}.zip")
        path = out_dir / name
        with path.open("wb") as out:
            write_zip(out, pack, index, tz, part if limit is not None else None)
        parts.append((name, path))
    return Built(pack, parts)
