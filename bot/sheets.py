"""Reading the office's spreadsheets as people make them, pure (no database): the cells of an
.xlsx (openpyxl) or .xls (xlrd) with merged cells filled, the table on each sheet (title rows,
a one- or two-row header found by synonyms, data rows, notes under the table), and deadlines as
written (dates, month ends, quarters, recurring rules, 长期坚持)."""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.text import ParseError, fold, parse_date
from reminders.recurrence import Recurrence, parse_recurrence

SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls")
HEADER_SCAN_ROWS = 20  # the header is within the first rows: title rows sit above it


def column_letter(n: int) -> str:
    """Excel's name of column n (1 -> A, 27 -> AA), for the cell named in an error."""
    name = ""
    while n > 0:
        n, rest = divmod(n - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


class SheetError(ValueError):
    """The file is not a workbook we can read; the message is Chinese, for the person."""


@dataclass
class Grid:
    """One sheet's cells (1-based rows and columns), with each merged range's value filled into
    all of its cells: a task merged over its measures' rows applies to each of them."""

    name: str
    cells: dict[tuple[int, int], object] = field(default_factory=dict)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2
    rows: int = 0
    cols: int = 0

    def fill_merged(self) -> None:
        for r1, c1, r2, c2 in self.merged:
            value = self.cells.get((r1, c1))
            for r in range(r1, r2 + 1):
                for c in range(c1, c2 + 1):
                    if value is None:
                        self.cells.pop((r, c), None)
                    else:
                        self.cells[(r, c)] = value

    def value(self, row: int, col: int):
        return self.cells.get((row, col))

    def spans_columns(self, row: int, col: int) -> bool:
        """Whether the cell is part of a merge across several columns (a parent header)."""
        return any(
            r1 <= row <= r2 and c1 <= col <= c2 and c2 > c1 for r1, c1, r2, c2 in self.merged
        )


def is_spreadsheet(name: str) -> bool:
    return (name or "").lower().endswith(SPREADSHEET_SUFFIXES)


def read_workbook(data: bytes) -> list[Grid]:
    """Every sheet of an .xlsx or .xls, judged by the content (a renamed file still reads)."""
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _read_xls(data)
    raise SheetError("这不是 Excel 文件（.xlsx 或 .xls），无法导入。")


def _clean(value):
    if isinstance(value, str):
        value = value.replace("\x00", "").strip()
        return value or None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _read_xlsx(data: bytes) -> list[Grid]:
    from openpyxl import load_workbook

    try:
        # Not read-only: merged ranges are only known to a fully loaded workbook.
        book = load_workbook(io.BytesIO(data), data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise SheetError(
            f"Excel 文件无法打开（{type(exc).__name__}），请另存为 .xlsx 后再试。"
        ) from None
    grids = []
    for ws in book.worksheets:
        grid = Grid(ws.title, rows=ws.max_row or 0, cols=ws.max_column or 0)
        for row in ws.iter_rows():
            for cell in row:
                value = _clean(cell.value)
                if value is not None:
                    grid.cells[(cell.row, cell.column)] = value
        for rng in ws.merged_cells.ranges:
            grid.merged.append((rng.min_row, rng.min_col, rng.max_row, rng.max_col))
        grid.fill_merged()
        grids.append(grid)
    return grids


def _read_xls(data: bytes) -> list[Grid]:
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, formatting_info=True)
    except Exception as exc:
        raise SheetError(
            f".xls 文件无法打开（{type(exc).__name__}），请另存为 .xlsx 后再试。"
        ) from None
    grids = []
    for sheet in book.sheets():
        grid = Grid(sheet.name, rows=sheet.nrows, cols=sheet.ncols)
        for r in range(sheet.nrows):
            for c in range(sheet.ncols):
                cell = sheet.cell(r, c)
                if cell.ctype == xlrd.XL_CELL_DATE:
                    value = xlrd.xldate.xldate_as_datetime(cell.value, book.datemode)
                elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
                    value = None
                else:
                    value = _clean(cell.value)
                if value is not None:
                    grid.cells[(r + 1, c + 1)] = value
        for rlo, rhi, clo, chi in sheet.merged_cells:  # 0-based, half-open
            grid.merged.append((rlo + 1, clo + 1, rhi, chi))
        grid.fill_merged()
        grids.append(grid)
    return grids


# ---------------------------------------------------------------- the table on a sheet

# Header names as the office writes them, by what the column holds.
FIELDS: dict[str, tuple[str, ...]] = {
    "code": ("编号", "序号", "任务编号", "指标编号", "节点编号"),
    "task": (
        "重点任务",
        "工作任务",
        "任务内容",
        "工作内容",
        "事项",
        "主要任务",
        "任务名称",
        "事项名称",
        "交办事项",
        "名称",
        "任务",
        "评估指标",
        "指标名称",
    ),
    "measure": ("具体措施", "工作措施", "实施细则", "措施", "节点内容", "推进措施", "具体工作"),
    "units": ("责任单位", "责任部门", "承办单位", "单位"),
    "lead": ("牵头单位", "牵头部门", "牵头"),
    "co": ("配合单位", "配合部门", "协办单位", "配合"),
    "deadline": (
        "完成时限",
        "时间节点",
        "完成时间",
        "期限",
        "时限",
        "完成期限",
        "办结时限",
        "时间要求",
    ),
    "person": ("责任人", "联系人", "分管领导", "具体责任人"),
    "note": ("备注",),
    "role": ("分工",),  # the ledger's 牵头/配合 column
    "period": ("期次",),  # the ledger's 交办事项: one row per period of a recurring report
    "source": ("来源", "交办来源"),
    # 立项 of a 交办 item with its source document (issue 22)
    "doc_no": ("文号", "批示文号", "来文文号"),
    "urgency": ("紧急程度", "缓急"),
    "leader": ("批示领导",),
    "instruction": ("批示原文", "批示内容", "原文"),
}
FIELD_LABELS = {
    "code": "编号",
    "task": "任务",
    "measure": "具体措施",
    "units": "责任单位",
    "lead": "牵头单位",
    "co": "配合单位",
    "deadline": "完成时限",
    "person": "责任人",
    "note": "备注",
    "role": "分工",
    "period": "期次",
    "source": "来源",
    "doc_no": "文号",
    "urgency": "紧急程度",
    "leader": "批示领导",
    "instruction": "批示原文",
}
_BY_NAME = {name: f for f, names in FIELDS.items() for name in names}
_BY_LENGTH = sorted(_BY_NAME, key=len, reverse=True)
_NOTE_START = re.compile(r"^(注|说明|备注\s*[:：]|填表说明|填报说明|制表|填表人|审核人|联系电话)")
_HEADING = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十]+[）)]|第.{1,3}部分)"
)
_IGNORED_SHEETS = {"评估得分", "佐证材料", "操作记录"}  # the ledger's sheets that hold no plan


def header_name(value) -> str:
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    return re.sub(r"\s+", "", text)


def field_of(name: str) -> str | None:
    """The field a header names: exactly, or (a short header) by the longest synonym in it,
    so 完成时限（2026年） and 责任单位及责任人 are understood."""
    if not name:
        return None
    if name in _BY_NAME:
        return _BY_NAME[name]
    if len(name) > 12 or "：" in name or ":" in name:
        return None
    bare = re.sub(r"[（(].*?[）)]", "", name)
    if bare in _BY_NAME:
        return _BY_NAME[bare]
    for synonym in _BY_LENGTH:
        if len(synonym) >= 2 and synonym in bare:
            return _BY_NAME[synonym]
    return None


@dataclass(frozen=True)
class Cell:
    value: object
    ref: str  # "C7", as Excel shows it


@dataclass
class Row:
    number: int
    cells: dict[str, Cell]

    def text(self, name: str) -> str:
        cell = self.cells.get(name)
        if cell is None or cell.value is None:
            return ""
        return str(cell.value).strip()

    def ref(self, name: str) -> str:
        cell = self.cells.get(name)
        return cell.ref if cell else ""


@dataclass
class Table:
    sheet: str
    title: str = ""
    columns: dict[str, int] = field(default_factory=dict)  # field -> column
    extra: list[str] = field(default_factory=list)  # header names not imported
    rows: list[Row] = field(default_factory=list)
    header_rows: tuple[int, int] = (0, 0)
    notes_from: int | None = None  # the first row of the notes under the table
    skipped: str = ""  # why the sheet holds no table (empty: it does)


def _is_header(fields: set[str]) -> bool:
    return (
        bool(fields & {"task", "code", "measure"})
        and bool(fields & {"units", "lead", "co", "deadline", "measure"})
        and len(fields) >= 2
    )


def find_table(grid: Grid) -> Table:
    table = Table(grid.name)
    if grid.name in _IGNORED_SHEETS:
        table.skipped = "导出台账中的这张表不含期限和分工，不导入"
        return table
    header = None
    for r in range(1, min(grid.rows, HEADER_SCAN_ROWS) + 1):
        fields = {field_of(header_name(grid.value(r, c))) for c in range(1, grid.cols + 1)}
        if _is_header({f for f in fields if f is not None}):
            header = r
            break
    if header is None:
        table.skipped = "没有找到表头（如 重点任务、责任单位、完成时限）"
        return table
    table.title = " ".join(
        dict.fromkeys(
            str(grid.value(r, c))
            for r in range(1, header)
            for c in range(1, grid.cols + 1)
            if grid.value(r, c) is not None
        )
    )
    names = _column_names(grid, header)
    last = header + 1 if _has_subheader(grid, header) else header
    table.header_rows = (header, last)
    for col, (parent, child) in names.items():
        name = parent if last == header or not child or child == parent else f"{parent}/{child}"
        chosen = _field_for(parent, child if last > header else "")
        if chosen is None or chosen in table.columns:
            if name:
                table.extra.append(name)
            continue
        table.columns[chosen] = col
    table.rows = _data_rows(grid, table, last + 1)
    return table


def _column_names(grid: Grid, header: int) -> dict[int, tuple[str, str]]:
    return {
        c: (header_name(grid.value(header, c)), header_name(grid.value(header + 1, c)))
        for c in range(1, grid.cols + 1)
        if grid.value(header, c) is not None or grid.value(header + 1, c) is not None
    }


def _has_subheader(grid: Grid, header: int) -> bool:
    """A second header row: under a parent merged across columns (责任单位 over 牵头 | 配合)
    stand names of their own, and nothing in the row looks like data."""
    below = header + 1
    found = False
    for c in range(1, grid.cols + 1):
        value = grid.value(below, c)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > 8:
            return False
        if grid.spans_columns(header, c) and header_name(value) != header_name(
            grid.value(header, c)
        ):
            found = True
    return found


def _field_for(parent: str, child: str) -> str | None:
    parent_field, child_field = field_of(parent), field_of(child)
    if child and child != parent:
        if parent_field == "units" and child_field in ("lead", "co", "units"):
            return child_field
        if child_field is not None:
            return child_field
    return parent_field


def _data_rows(grid: Grid, table: Table, start: int) -> list[Row]:
    rows: list[Row] = []
    columns = table.columns
    previous: dict[str, Cell] = {}
    for r in range(start, grid.rows + 1):
        values = [grid.value(r, c) for c in range(1, grid.cols + 1)]
        present = [v for v in values if v is not None]
        if not present:
            continue
        distinct = list(dict.fromkeys(str(v) for v in present))
        first = str(present[0])
        if _NOTE_START.match(first) and (len(distinct) == 1 or first.startswith(("注", "说明"))):
            table.notes_from = r
            break
        if len(distinct) == 1 and (len(present) > 1 or _HEADING.match(first)):
            continue  # a heading across the table (一、促进发展) or a merged section line
        cells = {
            name: Cell(grid.value(r, col), f"{column_letter(col)}{r}")
            for name, col in columns.items()
            if grid.value(r, col) is not None
        }
        if not cells:
            continue  # only ignored columns hold something
        if "measure" in cells and "task" not in cells and "code" not in cells:
            # A measure under its task, the task cell left blank rather than merged.
            for name in ("task", "code", "units", "lead", "co"):
                if name in previous and name not in cells:
                    cells[name] = previous[name]
            if "code" in cells:  # the task's code, not the milestone's above (T7-1 -> T7)
                code = re.sub(r"-[0-9]+$", "", str(cells["code"].value))
                cells["code"] = Cell(code, cells["code"].ref)
        rows.append(Row(r, cells))
        previous = cells
    return rows


def read_tables(data: bytes) -> list[Table]:
    return [find_table(grid) for grid in read_workbook(data)]


# ---------------------------------------------------------------- deadlines as written

ONGOING_WORDS = ("长期坚持", "持续推进", "常态化", "长期", "持续开展", "常态化推进", "长期推进")
_QUARTER = re.compile(r"^(?:(\d{4})年)?第?([一二三四1-4])季度(?:末|底)?$")
_HALF = re.compile(r"^(?:(\d{4})年)?(上|下)半年(?:底|末)?$")
_YEAR_END = re.compile(r"^(\d{4})年(?:底|末|年底|内|全年)?$")
_YEAR_MONTH = re.compile(r"^(\d{4})[-/.年](\d{1,2})月?(?:底|末|份)?$")
_BEFORE = ("之前", "以前", "前")
_QUARTERS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}


@dataclass(frozen=True)
class Due:
    """What a deadline cell says: a date, a recurring rule (交办 only), or ongoing work."""

    date: date | None = None
    rule: Recurrence | None = None
    ongoing: str = ""

    @property
    def label(self) -> str:
        if self.rule is not None:
            return self.rule.text
        if self.ongoing:
            return self.ongoing
        return self.date.isoformat() if self.date else ""


def _month_end(year: int, month: int) -> date:
    if not 1 <= month <= 12:
        raise ParseError(f"没有{month}月。")
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


def parse_due(value, today: date) -> Due:
    """A deadline cell: an Excel date, 2026/12/31, 2026.12, 2026年12月底前, 12月20日前,
    2026年第四季度, 年底前, 上半年; 每季度末, 每月5日前 (a rule); 长期坚持, 持续推进, 常态化.
    Raises ParseError with the reason for anything else: nothing is guessed."""
    if isinstance(value, datetime):
        return Due(date=value.date())
    if isinstance(value, date):
        return Due(date=value)
    if isinstance(value, int | float):
        raise ParseError(f"“{value}”是数字，不是日期（请写 2026-12-31 或设为日期格式）")
    raw = fold(str(value)).replace(" ", "")
    text = raw.rstrip("。.;；")
    for word in ONGOING_WORDS:
        if text == word or (text.startswith(word) and len(text) <= len(word) + 2):
            return Due(ongoing=word)
    try:
        rule = parse_recurrence(text)
    except ValueError as exc:
        raise ParseError(str(exc)) from None
    if rule is not None:
        return Due(rule=rule)
    bare = text.removesuffix("完成")
    for suffix in _BEFORE:
        if bare.endswith(suffix) and len(bare) > len(suffix):
            bare = bare[: -len(suffix)]
            break
    match = _QUARTER.match(bare)
    if match:
        year = int(match.group(1)) if match.group(1) else today.year
        return Due(date=_month_end(year, _QUARTERS[match.group(2)] * 3))
    match = _HALF.match(bare)
    if match:
        year = int(match.group(1)) if match.group(1) else today.year
        return Due(date=_month_end(year, 6 if match.group(2) == "上" else 12))
    match = _YEAR_END.match(bare)
    if match:
        return Due(date=date(int(match.group(1)), 12, 31))
    match = _YEAR_MONTH.match(bare)
    if match:
        return Due(date=_month_end(int(match.group(1)), int(match.group(2))))
    try:
        return Due(date=parse_date(bare, today))
    except ParseError:
        pass
    raise ParseError(
        f"“{raw}”看不懂：请写 2026-12-31、2026年12月底前、2026年第四季度，"
        "定期报送写 每月5日前、每季度末，没有期限的写 长期坚持"
    )
