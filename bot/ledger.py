"""The ledger (台账) for the office and the assessors, as an Excel workbook: every assignment with
its deadline and progress, the scorecard with each score's source, the evidence files per item,
and the audit log."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.render import format_size
from models.audit import AuditEntry
from models.org import Member, Unit
from models.plan import SHARE, Assignment, Item, ItemKind, Part, Status, period_label
from models.progress import Evidence, ProgressReport
from models.scores import Score
from reminders.calendar import WorkCalendar
from reminders.scorecard import load_scorecard
from reminders.state import states

HEADER_COLOUR = "DDEBF7"  # (openpyxl is imported when a ledger is made: 20 MB less a process)
SOURCES = {"office": "办公室评分", "computed": "按上报数据计算"}
MAX_LOG_ROWS = 20000
# The audit log's actions, as the office reads them.
ACTIONS = {
    "init": "载入方案",
    "demo": "载入演示数据",
    "bind": "绑定人员",
    "unbind": "解除绑定",
    "group": "调整单位组",
    "deadline": "设定期限",
    "assign": "增加责任单位",
    "progress": "报告进度",
    "done": "报告完成",
    "extension_request": "申请延期",
    "extension_approved": "批准延期",
    "extension_rejected": "驳回延期",
    "figures": "上报数据",
    "score": "办公室评分",
    "score_computed": "按数据计分",
    "evidence": "提交佐证材料",
    "evidence_pending": "文件待取回",
    "evidence_refile": "佐证材料改归",
    "evidence_withdraw": "撤回佐证材料",
    "nudge": "催办",
    "digest": "发布周报",
    "calendar": "录入节假日",
    "calendar_year": "标记全年已录入",
    "calendar_notice": "导入国务院节假日安排",
    "export": "导出台账",
    "card_ack": "卡片：已收到",
    "card_coordinate": "卡片：需协调",
    "card_extend": "卡片：申请延期",
    "assign_item": "交办",
    "sign": "签收",
    "cancel_item": "撤销交办",
    "review_pass": "审核通过",
    "review_return": "审核退回",
    "milestone": "设节点",
    "milestone_edit": "修改节点",
    "milestone_remove": "删除节点",
    "removal_request": "申请删除节点",
    "removal_rejected": "驳回删除节点",
    "lead": "指定牵头单位",
    "group_confirm": "确认单位组",
    "resend": "重发消息",
    "import": "导入",
    "pack": "迎检材料包",
}


LEDGER_TITLE = "新绛县示范区创建督办台账"


def build_ledger(now: datetime, tz: ZoneInfo, cal: WorkCalendar | None = None) -> bytes:
    # openpyxl costs about 20 MB per process: imported only when a ledger is made.
    from openpyxl import Workbook

    cal = cal or WorkCalendar()
    today = now.astimezone(tz).date()
    book = Workbook()
    _assignments(book.active, tz, today, cal)
    _assigned(book.create_sheet("交办事项"), tz, today, cal)
    _milestones(book.create_sheet("节点"), tz, today, cal)
    _scores(book.create_sheet("评估得分"))
    _evidence(book.create_sheet("佐证材料"), tz)
    _log(book.create_sheet("操作记录"), tz)
    book.properties.title = LEDGER_TITLE
    book.properties.created = now.astimezone(tz).replace(tzinfo=None)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _names() -> dict[str, str]:
    """userid -> name, for people bound now or before (the ledger shows names, not userids)."""
    return {
        m.wecom_userid: m.label for m in Member.select(Member.wecom_userid, Member.display_name)
    }


def _who(userid: str, names: dict[str, str]) -> str:
    return names.get(userid, userid) if userid else ""


def _print_setup(ws, title: str) -> None:
    """How each sheet prints: A4 landscape, every column on one page's width, the column
    headers repeated on every page, and the ledger's title with the sheet's name printed at the
    top of each page (a page header, so the sheet's first row stays its column headers and an
    exported ledger still imports as it is)."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"
    ws.oddHeader.center.text = f"{LEDGER_TITLE}·{title}"
    ws.oddHeader.center.size = 14
    ws.oddHeader.center.font = "宋体,Bold"
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.print_options.gridLines = True


def _sheet(ws, title: str, headers: list[str], widths: list[int]) -> None:
    # (openpyxl: imported with the ledger, see build_ledger)
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws.title = title
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor=HEADER_COLOUR)
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    _print_setup(ws, title)


def _local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    return value.astimezone(tz).replace(tzinfo=None) if value else None


def _assignments(ws, tz: ZoneInfo, today, cal: WorkCalendar) -> None:
    _sheet(
        ws,
        "任务台账",
        [
            "编号",
            "类型",
            "名称",
            "责任单位",
            "分工",
            "期限",
            "状态",
            "逾期（工作日）",  # past the deadline: still open, or when it was reported done
            "进度%",
            "最近报告",
            "报告时间",
            "佐证材料（份）",
        ],
        [8, 10, 40, 22, 8, 12, 12, 10, 8, 40, 18, 12],
    )
    latest: dict[int, ProgressReport] = {}
    for report in ProgressReport.select().order_by(ProgressReport.id):
        latest[report.assignment_id] = report
    files: dict[int, int] = defaultdict(int)
    for evidence in Evidence.select(Evidence.assignment).where(
        Evidence.assignment.is_null(False) & Evidence.active()
    ):
        files[evidence.assignment_id or 0] += 1
    query = (
        Assignment.select(Assignment, Item, Unit)
        .join(Item)
        .switch(Assignment)
        .join(Unit)
        .where((Assignment.kind == Part.SHARE) & (Item.kind != ItemKind.ASSIGNED))
        .order_by(Item.position, Assignment.role.desc(), Unit.position)
    )
    rows = list(query)
    found = states(rows, today, cal, tz)
    for a in rows:
        latest_report = latest.get(a.id)
        state = found[a.id]
        ws.append(
            [
                a.item.code,
                "评估指标" if a.item.is_indicator else "主要任务",
                a.item.title,
                a.unit.name,
                a.role_label,
                due_cell(a),
                state.label,
                state.overdue or state.late,
                state.progress,
                latest_report.note if latest_report else "",
                _local(latest_report.created_at, tz) if latest_report else None,
                files.get(a.id, 0),
            ]
        )
    for row in ws.iter_rows(min_row=2, min_col=6, max_col=6):
        for cell in row:
            cell.number_format = "yyyy-mm-dd"
    for row in ws.iter_rows(min_row=2, min_col=11, max_col=11):
        for cell in row:
            cell.number_format = "yyyy-mm-dd hh:mm"


def due_cell(a: Assignment):
    """The deadline as the 期限 column holds it: a date, or the word for ongoing work, so that
    the ledger imported back (bot/importer.py) reads what it wrote."""
    return a.ongoing or a.deadline


def _milestones(ws, tz: ZoneInfo, today, cal: WorkCalendar) -> None:
    """Each unit's milestones (实施细则 节点). Imported back, a row with a new 具体措施 under an
    item's code is a new milestone; a changed 完成时限 on a T7-1 row moves that milestone."""
    names = _names()
    _sheet(
        ws,
        "节点",
        ["编号", "事项", "具体措施", "责任单位", "完成时限", "责任人", "状态"],
        [8, 36, 40, 22, 12, 14, 12],
    )
    query = (
        Assignment.select(Assignment, Item, Unit)
        .join(Item)
        .switch(Assignment)
        .join(Unit)
        .where((Assignment.kind == Part.MILESTONE) & (Assignment.status != Status.CANCELLED))
        .order_by(Item.position, Unit.position, Assignment.seq)
    )
    rows = list(query)
    found = states(rows, today, cal, tz)
    for m in rows:
        ws.append(
            [
                m.code,
                m.item.title,
                m.title,
                m.unit.name,
                due_cell(m),
                _who(m.owner_userid, names),
                found[m.id].label,
            ]
        )
    for row in ws.iter_rows(min_row=2, min_col=5, max_col=5):
        for cell in row:
            cell.number_format = "yyyy-mm-dd"


def _assigned(ws, tz: ZoneInfo, today, cal: WorkCalendar) -> None:
    """交办 items, apart from the plan: each unit's share, and each occurrence of a recurring one."""
    names = _names()
    _sheet(
        ws,
        "交办事项",
        [
            "编号",
            "期次",
            "事项",
            "来源",
            "交办人",
            "交办时间",
            "责任单位",
            "分工",
            "期限",
            "签收",
            "状态",
            "逾期（工作日）",
            "进度%",
            "报告完成",
            "审核",
            "撤销原因",
            "文号",
            "紧急程度",
            "批示领导",
            "批示原文",
        ],
        [8, 14, 40, 10, 12, 18, 22, 8, 12, 18, 12, 10, 8, 18, 18, 30, 20, 8, 12, 40],
    )
    query = (
        Assignment.select(Assignment, Item, Unit)
        .join(Item)
        .switch(Assignment)
        .join(Unit)
        .where((Item.kind == ItemKind.ASSIGNED) & (Assignment.kind != Part.MILESTONE))
        .order_by(Item.position, Assignment.period, Assignment.role.desc(), Unit.position)
    )
    rows = list(query)
    found = states(rows, today, cal, tz)
    for a in rows:
        state = found[a.id]
        if a.item.is_recurring and a.kind == SHARE:
            period = f"周期：{a.item.recurrence}"
        else:
            period = period_label(a.period) if a.period else ""
        ws.append(
            [
                a.item.code,
                period,
                a.item.title,
                a.item.source,
                _who(a.item.assigned_by, names),
                _local(a.item.created_at, tz),
                a.unit.name,
                a.role_label,
                due_cell(a),
                _local(a.signed_at, tz)
                if a.kind == SHARE and a.signed_at
                else ("" if a.kind != SHARE else "未签收"),
                state.label,
                state.overdue or state.late,
                state.progress,
                _local(a.reported_at, tz),
                f"{_who(a.reviewed_by, names)} {_local(a.reviewed_at, tz):%Y-%m-%d %H:%M}"
                if a.reviewed_at
                else "",
                a.item.cancel_reason,
                a.item.doc_no,
                a.item.urgency or "一般",
                _who(a.item.instructed_by, names),
                a.item.instruction,
            ]
        )


def _scores(ws) -> None:
    _sheet(
        ws,
        "评估得分",
        ["一级指标", "二级指标", "编号", "性质", "指标", "满分", "得分", "来源", "说明"],
        [12, 14, 8, 10, 40, 8, 8, 14, 50],
    )
    card = load_scorecard()
    items = {i.code: i for i in Item.select().where(Item.kind == ItemKind.INDICATOR)}
    for category in card.categories:
        for child in category.children:
            for indicator in child.indicators:
                score = Score.current_for(items[indicator.code])
                ws.append(
                    [
                        category.name,
                        child.name,
                        indicator.code,
                        items[indicator.code].nature,
                        indicator.title,
                        float(indicator.max_points),
                        float(indicator.points) if indicator.points is not None else None,
                        _source(score, indicator),
                        score.reason if score else _waiting(indicator),
                    ]
                )
    ws.append([])
    for category in card.categories:
        ws.append(
            [
                category.name,
                "合计",
                "",
                "",
                f"75% 线 {float(category.line):g} 分：{'达标' if category.passed else '未达标'}",
                float(category.max_points),
                float(category.points),
                f"未评分 {category.unscored} 项" if category.unscored else "",
                "",
            ]
        )
    verdict = "合格" if card.passed else "不合格"
    ws.append(
        [
            "总分",
            "",
            "",
            "",
            f"合格标准：总分 ≥ 85 且各一级指标 ≥ 75%：{verdict}",
            float(card.max_points),
            float(card.total),
            "",
            "",
        ]
    )


def _source(score: Score | None, indicator) -> str:
    if score is not None:
        return SOURCES.get(score.source, score.source)
    return "待审核" if indicator.waiting is not None else "未评分"


def _waiting(indicator) -> str:
    if indicator.waiting is None:
        return ""
    return f"按单位上报数据计算 {float(indicator.waiting):g} 分，办公室审核通过后计入"


def _evidence(ws, tz: ZoneInfo) -> None:
    names = _names()
    _sheet(
        ws,
        "佐证材料",
        [
            "编号",
            "名称",
            "支撑要点",
            "单位",
            "文件名",
            "大小",
            "类型",
            "SHA-256",
            "提交人",
            "提交时间",
            "状态",
        ],
        [8, 36, 30, 22, 36, 10, 22, 66, 14, 18, 16],
    )
    items = {
        i.id: i
        for i in Item.select(Item.id, Item.code, Item.title, Item.position, Item.rule, Item.kind)
    }
    units = {u.id: u.name for u in Unit.select(Unit.id, Unit.name)}
    files = sorted(
        Evidence.select(),
        key=lambda e: (items[e.item_id].position if e.item_id in items else 10**6, e.id),
    )
    for e in files:
        item = items.get(e.item_id or 0)
        ws.append(
            [
                item.code if item else "（待归档）",
                item.title if item else "",
                _point_text(item, e.point),
                units.get(e.unit_id or 0, ""),
                e.original_name,
                format_size(e.size),
                e.content_type,
                e.sha256,
                _who(e.wecom_userid, names),
                _local(e.created_at, tz),
                f"已撤回（{e.withdrawn_by}）" if e.withdrawn_at else "有效",
            ]
        )


def _point_text(item, point: int | None) -> str:
    if item is None or point is None:
        return ""
    points = item.checklist()
    return f"第{point}项 {points[point - 1]}" if 1 <= point <= len(points) else ""


def _log(ws, tz: ZoneInfo) -> None:
    names = _names()
    _sheet(
        ws, "操作记录", ["时间", "操作人", "操作", "编号", "单位", "内容"], [18, 14, 16, 8, 22, 80]
    )
    for entry in AuditEntry.select().order_by(AuditEntry.id.desc()).limit(MAX_LOG_ROWS):
        ws.append(
            [
                _local(entry.at, tz),
                _who(entry.actor, names),
                ACTIONS.get(entry.action, entry.action),
                entry.item_code,
                entry.unit_name,
                entry.summary,
            ]
        )
