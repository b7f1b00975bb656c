"""导入: the office's spreadsheets brought in. An admin's .xlsx/.xls file starts a dry run that
changes nothing (bot/importer.py plans it); `导入 确认` applies exactly what was shown, or refuses
when the data changed in between; `导入 取消` drops it."""

from __future__ import annotations

import io

from bot.commands.args import Keyword
from bot.commands.registry import CommandError, Context, Reply, command, file_message
from bot.evidence import EvidenceStore, StoredFile
from bot.importer import (
    Change,
    batch_changes,
    cancel_batch,
    change_line,
    confirm,
    count_text,
    dry_run,
    pending_batch,
    problem_dicts,
    problem_text,
    report_workbook,
    undone_extensions,
)
from bot.sheets import SheetError, is_spreadsheet
from bot.text import find_code

SHOWN = 8  # changes and problems listed in the chat reply; the rest in the report file
CONFIRM_HINT = (
    "回复“导入 确认”执行以上改动，“导入 取消”放弃。确认前数据如有变化，需要重新发送文件预览。"
)


def is_import(ctx: Context, stored: StoredFile, caption: str) -> bool:
    """An admin's spreadsheet is an import, unless its caption names an item (Z12 佐证: a
    spreadsheet as evidence) without saying 导入."""
    if not ctx.is_admin or not is_spreadsheet(stored.original_name):
        return False
    return "导入" in (caption or "") or find_code(caption or "") is None


def import_file(ctx: Context, stored: StoredFile) -> str:
    """The dry run of a spreadsheet an admin sent; the reply shows what would change."""
    store = EvidenceStore(ctx.config.data_dir / "evidence", max_bytes=0)
    data = store.path_for(stored.sha256).read_bytes()
    try:
        run = dry_run(data, stored.original_name, ctx.now, ctx.today, ctx.userid)
    except SheetError as exc:
        return f"“{stored.original_name}”无法导入：{exc}"
    return render_dry_run(ctx, run, stored.original_name)


def render_dry_run(ctx: Context, run, name: str) -> str:
    plan = run.plan
    report, after = "", []
    if max(len(plan.changes), len(plan.problems), len(plan.notes)) > SHOWN:
        report = f"导入预览_{run.batch.id if run.batch else run.sha256[:8]}.xlsx"
        after.append(_report_file(ctx, run, report))
    text = report_text(ctx.renderer, run, name, limit=SHOWN, report_file=report)
    return Reply(text, after=after)  # the whole dry run follows the reply, as a workbook


def report_text(
    renderer, run, name: str, *, limit: int | None = None, report_file: str = "", hint: str = ""
) -> str:
    """The dry run in words: every change and problem (the CLI), or the first `limit`."""
    plan = run.plan
    undone, lines = change_lines(plan.changes)
    problems = [p.text for p in plan.problems]
    shown = lines if limit is None else lines[:limit]
    shown_problems = problems if limit is None else problems[:limit]
    return renderer.render(
        "import_report.j2",
        file_name=name,
        heading=f"读取 {plan.rows_read} 行。",
        counts=count_text(plan.changes),
        undone=undone,
        changes=shown,
        more_changes=len(lines) - len(shown),
        problems=shown_problems,
        more_problems=len(problems) - len(shown_problems),
        notes=plan.notes if limit is None else plan.notes[:limit],
        more_notes=0 if limit is None else max(0, len(plan.notes) - limit),
        report_file=report_file,
        confirm_hint=hint or CONFIRM_HINT,
    )


def change_lines(changes: list[Change]) -> tuple[list[str], list[str]]:
    """The lines that undo an approved extension (a section of their own), and the others."""
    undoing = {id(c) for c in undone_extensions(changes)}
    return (
        [change_line(c) for c in changes if id(c) in undoing],
        [change_line(c) for c in changes if id(c) not in undoing],
    )


def _report_file(ctx: Context, run, name: str) -> dict:
    """The whole dry run as a workbook, when the reply shows only the first lines of it."""
    plan = run.plan
    data = report_workbook(plan.file_name, plan.changes, problem_dicts(plan.problems), plan.notes)
    store = EvidenceStore(ctx.config.data_dir / "exports", max_bytes=200 * 1024 * 1024)
    stored = store.save(io.BytesIO(data), name)
    return file_message(ctx.userid, name, stored, f"import-report:{ctx.cause}")


@command(
    "导入",
    aliases=("import",),
    access="admin",
    help="查看等待确认的导入预览（发送 Excel 文件即开始导入预览）",
)
def import_status(ctx: Context, args) -> str:
    batch = pending_batch(ctx.userid)
    if batch is None:
        return (
            "没有等待确认的导入。把 Excel 文件（.xlsx 或 .xls：任务分解表、实施细则、期限表，"
            "或导出的台账）发给我，先看预览，再回复“导入 确认”。"
        )
    changes = batch_changes(batch)
    undone, lines = change_lines(changes)
    problems = [problem_text(p) for p in batch.problems or []]
    return ctx.renderer.render(
        "import_report.j2",
        file_name=batch.file_name,
        heading=f"预览于 {batch.created_at.astimezone(ctx.config.timezone):%m-%d %H:%M}，尚未确认。",
        counts=count_text(changes),
        undone=undone,
        changes=lines[:SHOWN],
        more_changes=max(0, len(lines) - SHOWN),
        problems=problems[:SHOWN],
        more_problems=max(0, len(problems) - SHOWN),
        notes=[],
        more_notes=0,
        report_file="",
        confirm_hint=CONFIRM_HINT,
    )


@command(
    "导入",
    access="admin",
    args=(Keyword(words=("确认", "apply", "执行")),),
    help="执行刚才预览的导入（只执行预览中列出的改动）",
    example="导入 确认",
)
def import_confirm(ctx: Context, args) -> str:
    batch = pending_batch(ctx.userid)
    if batch is None:
        raise CommandError(
            "没有等待确认的导入：请先把 Excel 文件发给我，看过预览再确认。", show_usage=False
        )
    done = confirm(
        batch, ctx.now, ctx.today, ctx.userid, ctx.outbox, ctx.renderer, ctx.config, ctx.calendar
    )
    if done.refused is not None:
        return (
            f"未导入：“{batch.file_name}”{done.refused.where}的改动已无法按预览执行："
            f"{done.refused.message}请重新发送文件，看过新的预览再确认。"
        )
    if done.applied is None:
        # Not a CommandError: the batch's "stale" mark must stay.
        return (
            f"未导入：预览“{batch.file_name}”之后，系统中的期限、分工或节点已有变化，"
            "预览中的改动可能不再准确。请重新发送文件，看过新的预览再确认。"
        )
    codes = "、".join(done.applied.items)
    return (
        f"已导入“{batch.file_name}”：{count_text(batch_changes(batch))}。"
        + (f"新交办事项 {codes}，已请各单位签收。" if codes else "")
        + (f"已通知 {done.told} 位联络员。" if done.told else "")
        + "每项改动都已记入日志。"
    )


@command(
    "导入",
    access="admin",
    args=(Keyword(words=("取消", "cancel", "放弃")),),
    help="放弃刚才预览的导入",
)
def import_cancel(ctx: Context, args) -> str:
    batch = pending_batch(ctx.userid)
    if batch is None:
        raise CommandError("没有等待确认的导入。", show_usage=False)
    cancel_batch(batch)
    return f"已放弃导入“{batch.file_name}”，什么也没有改动。"
