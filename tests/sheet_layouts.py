"""Sheets written the way county offices write them, for the import tests: title rows, two-row
headers, merged cells, notes under the table, units and deadlines as people write them.

`python3 tests/sheet_layouts.py` regenerates tests/fixtures/联席会议分工表.xls from the
xlsx built here, with LibreOffice (`soffice --convert-to xls`): the .xls is committed, so the
tests need no .xls writer."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook

FIXTURES = Path(__file__).resolve().parent / "fixtures"
XLS_FIXTURE = FIXTURES / "联席会议分工表.xls"


def _save(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def task_breakdown() -> bytes:
    """任务分解表: two title rows, 责任单位 over 牵头 | 配合, a task merged over its measures,
    a task without measures, a unit misspelt, work beyond the plan, notes under the table."""
    book = Workbook()
    ws = book.active
    ws.title = "任务分解表"
    ws.append(["新绛县创建全国网络市场监管与服务示范区重点任务分解表"])
    ws.merge_cells("A1:F1")
    ws.append(["（2026年11月）"])
    ws.merge_cells("A2:F2")
    ws.append(["序号", "重点任务", "具体措施", "责任单位", None, "完成时限"])
    ws.append([None, None, None, "牵头", "配合", None])
    for col in "ABCF":
        ws.merge_cells(f"{col}3:{col}4")
    ws.merge_cells("D3:E3")
    ws.append(
        [
            "1",
            "在全系统推行线上线下一体化监管",
            "完成全县网络经营主体摸底",
            "县市场监管局",
            None,
            "2026年12月底前",
        ]
    )  # row 5
    ws.append([None, None, "建立线上线下一体化监管台账", "县市场监管局", None, "长期坚持"])  # row 6
    ws.merge_cells("A5:A6")
    ws.merge_cells("B5:B6")
    ws.append(["2", "强化监督执法", None, "市场监管局", None, "2026/12/31"])  # row 7
    ws.append(
        ["3", "开展“双十一”网络促销专项检查", None, "市场监管局", "县商贸局", "12月20日前"]
    )  # row 8
    ws.append(
        ["4", "开展网络市场监管业务培训", None, "县市场监管局", "县工信局", "2026年第四季度"]
    )  # row 9
    ws.append(["5", "加强数字化监管", None, "市监局", None, "尽快"])  # row 10
    ws.append(["注：1.完成时限为最迟时间；2.各单位于每月5日前报送进展。"])  # row 11
    ws.merge_cells("A11:F11")
    ws.append(["填表人：王某", None, "联系电话：0359-0000000"])
    return _save(book)


def unit_rules() -> bytes:
    """One unit's 实施细则 for one task: the task and unit only in the title rows, Excel date
    cells, 2026.12, a 责任人 who is bound and one who is not, extra columns."""
    book = Workbook()
    ws = book.active
    ws.title = "实施细则"
    ws.append(["县市场监管局关于T11强化监督执法的实施细则"])
    ws.merge_cells("A1:F1")
    ws.append(["填报单位：县市场监管局", None, None, "填报日期：2026年11月20日"])
    ws.append(["序号", "工作措施", "时间节点", "责任人", "进展情况", "备注"])
    ws.append([1, "开展网络交易违法行为专项整治", datetime(2026, 12, 15), "李四", "已启动", None])
    ws.append([2, "办结投诉举报案件并归档", "2026.12", "张三", None, None])
    ws.append([3, "建立执法案卷评查制度", "常态化", None, None, None])
    ws.append([4, "每月通报执法情况", "每月5日前", None, None, None])
    return _save(book)


def meeting_sheet() -> bytes:
    """The deadline sheet after a 联席会议 (saved as .xls by the office): codes, lead and co
    columns, several units in one cell, a group, a recurring report, a wrong code."""
    book = Workbook()
    ws = book.active
    ws.title = "议定事项"
    ws.append(["县网络市场监管局际联席会议第二次会议议定事项分工表"])
    ws.merge_cells("A1:E1")
    ws.append(["编号", "事项", "牵头单位", "配合单位", "完成期限"])
    ws.append(["T12", "推动社会共治格局", "县市场监管局", "县住建局、县教育局", "2027年6月底前"])
    ws.append([None, "每月报送网络市场监管工作进展", "市监局", "各镇人民政府", "每月5日前"])
    ws.append(["T99", "不存在的任务", "市监局", None, "2026-12-31"])
    ws.append(["Z20", None, "县行政审批局", None, "2026年底前"])
    return _save(book)


def assigned_sheet() -> bytes:
    """交办 work in another order of columns: 完成时间 first, units split by / and line breaks,
    联席会议成员单位, a quarterly report, an extra column."""
    book = Workbook()
    ws = book.active
    ws.title = "交办清单"
    ws.append(["完成时间", "责任部门", "工作任务", "序号", "联系电话"])
    ws.append(["每季度末", "县市场监管局/县统计局", "报送网络交易额统计分析", 1, "123"])
    ws.append(
        [
            "2027/3/31",
            "市场监管局（牵头）\n县税务局",
            "开展平台经营者涉税信息核查（领导批示）",
            2,
            None,
        ]
    )
    ws.append(["持续推进", "联席会议成员单位", "开展网络市场监管宣传", 3, None])
    return _save(book)


def indicator_sheet() -> bytes:
    """Indicators by code and by a title written a little differently; a code that does not
    exist; 常态化."""
    book = Workbook()
    ws = book.active
    ws.title = "指标分解"
    ws.append(["示范区评估指标任务分解"])
    ws.append(["指标编号", "评估指标", "责任单位", "时限", "备注"])
    ws.append(["Z11", "强化智慧监管", "县市场监管局", "2026/12/31", None])
    ws.append([None, "网上零售额增速", "县统计局", "2027-01-31", "按名称"])
    ws.append(["Z99", "不存在", "县统计局", "2026-12-31", None])
    ws.append(["Z35", "加强领导统筹推进", None, "常态化", None])
    return _save(book)


def make_xls_fixture() -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        sys.exit("需要 LibreOffice（apt-get install libreoffice-calc-nogui）")
    FIXTURES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "联席会议分工表.xlsx"
        source.write_bytes(meeting_sheet())
        subprocess.run(
            [soffice, "--headless", "--convert-to", "xls", "--outdir", tmp, str(source)],
            check=True,
            capture_output=True,
        )
        shutil.copy(Path(tmp) / "联席会议分工表.xls", XLS_FIXTURE)
    print(XLS_FIXTURE)


if __name__ == "__main__":
    make_xls_fixture()
