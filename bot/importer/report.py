"""What the clerk sees of an import: each planned change in a line (the dry run's reply, the
report workbook), the counts, and the problems by sheet, row and cell."""

from __future__ import annotations

import io

from bot.importer.changes import (
    Change,
    EditMilestone,
    NewAssigned,
    NewMilestone,
    NewShare,
    SetDeadline,
    SetLead,
)
from bot.importer.plan import Problem
from models.plan import Role


def due_text(change: Change) -> str:
    if getattr(change, "recurrence", ""):
        return change.recurrence  # type: ignore[attr-defined]
    if getattr(change, "ongoing", ""):
        return change.ongoing  # type: ignore[attr-defined]
    return getattr(change, "deadline", None) or "未设期限"


def change_line(change: Change) -> str:
    """One planned change as the dry run shows it."""
    where = change.where
    if isinstance(change, SetDeadline):
        before = change.before or change.before_ongoing or "未设期限"
        undo = (
            f"（撤销已批准的延期，申请 {change.undoes_extension}）"
            if change.undoes_extension
            else ""
        )
        return f"{where}：{change.code} {change.unit}期限 {before} → {due_text(change)}{undo}"
    if isinstance(change, NewShare):
        role = "牵头" if change.role == Role.LEAD else "配合"
        due = f"，期限 {due_text(change)}" if change.deadline or change.ongoing else ""
        return f"{where}：{change.code} 增加责任单位 {change.unit}（{role}）{due}"
    if isinstance(change, SetLead):
        return f"{where}：{change.code} 牵头单位 {change.before or '未指定'} → {change.unit}"
    if isinstance(change, NewMilestone):
        return (
            f"{where}：{change.unit}新节点 {change.code}-{change.seq} "
            f"{change.title}（{due_text(change)}）"
        )
    if isinstance(change, EditMilestone):
        return f"{where}：节点 {change.code}（{change.unit}）" + "；".join(edit_parts(change))
    assert isinstance(change, NewAssigned)
    units = "、".join(n + ("（牵头）" if r == "lead" else "") for _, n, r, _ in change.units)
    if len(change.units) > 4:
        lead = [n for _, n, r, _ in change.units if r == "lead"]
        units = (f"{lead[0]}（牵头）等 " if lead else "") + f"{len(change.units)} 个单位"
    return (
        f"{where}：新交办 {change.code}（{change.source}）{change.title}；"
        f"{units}；{due_text(change)}"
    )


def edit_parts(change: EditMilestone) -> list[str]:
    parts = []
    if change.new_deadline:
        before = change.before or change.before_ongoing or "未设期限"
        parts.append(f"期限 {before} → {due_text(change)}")
    if change.title is not None:
        parts.append(f"内容改为“{change.title}”")
    if change.owner is not None:
        parts.append(f"责任人改为 {change.owner}")
    return parts


def undone_extensions(changes: list[Change]) -> list[SetDeadline]:
    """Changes that would undo an extension the office approved: shown in a section of their
    own, never as ordinary lines."""
    return [c for c in changes if isinstance(c, SetDeadline) and c.undoes_extension]


COUNT_LABELS = (
    ("milestone", "新增节点 {} 个"),
    ("milestone_edit", "修改节点 {} 个"),
    ("deadline", "设定或修改期限 {} 处"),
    ("share", "增加责任单位 {} 个"),
    ("lead", "指定牵头单位 {} 项"),
    ("assigned", "新增交办事项 {} 项"),
)


def count_text(changes: list[Change]) -> str:
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.op] = counts.get(change.op, 0) + 1
    return "，".join(label.format(counts[op]) for op, label in COUNT_LABELS if counts.get(op))


def report_workbook(
    file_name: str, changes: list[Change], problems: list[dict], notes: list[str]
) -> bytes:
    """The whole dry run as a workbook, for when the chat reply cannot show all of it."""
    # openpyxl costs about 20 MB per process: imported only when a workbook is made.
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    ws = book.active
    ws.title = "将要改动"
    ws.append(["序号", "改动", "来源位置"])
    for n, change in enumerate(changes, start=1):
        ws.append([n, change_line(change).split("：", 1)[-1], change.where])
    problems_ws = book.create_sheet("问题")
    problems_ws.append(["工作表", "行", "单元格", "问题（这些行不会导入）"])
    for p in problems:
        problems_ws.append([p["sheet"], p["row"], p["cell"], p["message"]])
    notes_ws = book.create_sheet("说明")
    notes_ws.append([f"导入预览：{file_name}"])
    for note in notes:
        notes_ws.append([note])
    for sheet, widths in ((ws, (6, 90, 30)), (problems_ws, (16, 6, 8, 90))):
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for index, width in enumerate(widths):
            sheet.column_dimensions["ABCD"[index]].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def problem_dicts(problems: list[Problem]) -> list[dict]:
    return [
        {"sheet": p.sheet, "row": p.row, "cell": p.cell, "message": p.message} for p in problems
    ]


def problem_text(p: dict) -> str:
    return Problem(p["sheet"], p["row"], p["cell"], p["message"]).text
