"""Commands for the units' liaisons and heads (and help and item details for everyone bound):
the unit's list, an item's details, progress, completion, extensions, figures."""

from __future__ import annotations

from bot.actions.deadlines import request_extension
from bot.actions.lookup import current_occurrence, own_share, own_target, require_unit
from bot.actions.progress import Reported, report_done, report_progress, reportable
from bot.actions.scores import record_figures
from bot.commands.args import (
    DateArg,
    ItemArg,
    Keyword,
    NumbersArg,
    PercentArg,
    RestArg,
    WordArg,
)
from bot.commands.common import status_labels
from bot.commands.registry import (
    REGISTRY,
    CommandError,
    Context,
    command,
    summary_help,
    summary_usage,
)
from models.plan import Assignment, Item, Part, Role, Status
from models.progress import Evidence, ProgressReport
from models.scores import Score
from reminders.ladder import is_overdue
from reminders.state import (
    checklist_coverage,
    deadline_label,
    milestones_of,
    open_work,
    unit_counts,
)

NOTE = RestArg("note", "说明")


@command(
    "帮助",
    aliases=("help", "?", "菜单", "命令"),
    access="member",
    args=(WordArg("topic", "命令", optional=True),),
    help="查看可用的命令；“帮助 命令”查看一个命令的全部写法",
)
def help_cmd(ctx: Context, args) -> str:
    if args.topic:
        cmd = REGISTRY.get(args.topic)
        if cmd is None or not cmd.visible_forms(ctx):
            raise CommandError(f"没有“{args.topic}”这个命令。", show_usage=False)
        return ctx.renderer.render("help_one.j2", cmd=cmd, forms=cmd.visible_forms(ctx))
    return ctx.renderer.render(
        "help.j2",
        commands=[
            (summary_usage(c.name, c.visible_forms(ctx)), summary_help(c.visible_forms(ctx)))
            for c in REGISTRY.visible_to(ctx)
        ],
        member=ctx.member,
        is_admin=ctx.is_admin,
        reports=ctx.may("unit"),
    )


def _rows(ctx: Context, rows: list[Assignment]) -> list[dict]:
    labels = status_labels(ctx, rows)
    return [
        {
            "a": a,
            "current": a if a.kind == Part.OCCURRENCE else None,
            "status": labels[a.id],
            "deadline": deadline_label(a.deadline, a.ongoing),
        }
        for a in rows
    ]


@command(
    "我的任务",
    aliases=("tasks", "任务清单", "我的", "待办", "本单位任务"),
    access="unit",
    args=(Keyword(words=("全部", "all", "所有"), optional=True),),
    help="本单位未完成的事项，期限近的在前（“我的任务 全部”含未设期限的）",
)
def my_tasks(ctx: Context, args) -> str:
    unit = require_unit(ctx)
    open_rows = open_work([unit.id])
    dated = [a for a in open_rows if a.deadline is not None]
    undated = [a for a in open_rows if a.deadline is None]
    shown = dated + undated if args.keyword else dated
    counts = unit_counts([unit.id], ctx.today, ctx.calendar)[unit.id]
    return ctx.renderer.render(
        "my_tasks.j2",
        unit=unit,
        rows=_rows(ctx, shown),
        hidden_undated=0 if args.keyword else len(undated),
        counts=counts,
    )


def open_items_summary(ctx: Context) -> dict | None:
    """For a greeting: the unit's open items, the overdue count and the three nearest."""
    if ctx.member is None or ctx.member.unit is None:
        return None
    rows = open_work([ctx.member.unit.id])
    dated = [a for a in rows if a.deadline is not None]
    return {
        "unit": ctx.member.unit,
        "open": len(rows),
        "overdue": sum(
            1 for a in dated if a.status == Status.OPEN and is_overdue(a.deadline, ctx.today)
        ),
        "nearest": _rows(ctx, dated[:3]),
    }


@command(
    "任务",
    aliases=("task", "详情", "查看"),
    access="member",
    args=(ItemArg(),),
    help="查看一项任务或指标的详情、责任单位、期限和进度",
    example="任务 T7",
)
def task_detail(ctx: Context, args) -> str:
    item = args.item
    assignments = list(
        Assignment.select(Assignment)
        .where((Assignment.item == item) & (Assignment.kind == Part.SHARE))
        .order_by(Assignment.role.desc(), Assignment.id)
    )
    mine = None
    if ctx.member is not None and ctx.member.unit_id is not None:
        mine = next((a for a in assignments if a.unit_id == ctx.member.unit_id), None)
    latest = None
    if mine is not None:
        latest = (
            ProgressReport.select()
            .where(ProgressReport.assignment == mine)
            .order_by(ProgressReport.id.desc())
            .first()
        )
    active = Evidence.active()
    evidence_total = Evidence.select().where((Evidence.item == item) & active).count()
    mine_files = (
        list(
            Evidence.select()
            .where((Evidence.item == item) & (Evidence.unit == mine.unit_id) & active)
            .order_by(Evidence.id.desc())
        )
        if mine
        else []
    )
    if item.is_recurring:  # each unit's current period stands for its share
        shown = [current_occurrence(a) or a for a in assignments]
        rows = _rows(ctx, shown)
        for a, row in zip(assignments, rows, strict=True):
            row["a"] = a
            current = row.pop("current", None)
            row["deadline"] = _due_text(item, a, current)
    else:
        rows = _rows(ctx, assignments)
    states = {r["a"].id: r for r in rows}
    lead = next((a for a in assignments if a.role == Role.LEAD), None)
    nxt = _next_due(item, mine)
    return ctx.renderer.render(
        "task_detail.j2",
        item=item,
        assignments=rows,
        list_units=len(assignments) <= 8,
        lead=lead.unit.name if lead else "",
        done=sum(1 for a in assignments if a.status == Status.DONE),
        review=sum(1 for a in assignments if a.status == Status.REVIEW),
        overdue=sum(1 for r in rows if "已逾期" in r["status"]),
        signing=_signing(item, assignments),
        next_due=nxt,
        mine=mine,
        mine_status=states[mine.id]["status"] if mine else "",
        mine_deadline=states[mine.id]["deadline"]
        if mine and item.is_recurring
        else (_due_text(item, mine, nxt) if mine else ""),
        latest=latest,
        evidence_total=evidence_total,
        evidence_mine=len(mine_files),
        recent_files=mine_files[:5],
        coverage=checklist_coverage(item, mine.unit_id if mine else None)
        if item.is_indicator
        else [],
        score=Score.current_for(item) if item.is_indicator else None,
        waiting=Score.waiting_for(item) if item.is_indicator else None,
        reports=ctx.may("unit"),
        milestones=_rows(ctx, milestones_of(mine)) if mine else [],
    )


def _signing(item: Item, shares: list[Assignment]) -> dict | None:
    """Who has signed for a 交办 item (签收) and who has not."""
    if not item.is_assigned:
        return None
    signed = [a for a in shares if a.signed_at is not None]
    return {
        "signed": signed,
        "unsigned": [a.unit.name for a in shares if a.signed_at is None],
        "total": len(shares),
    }


def _next_due(item: Item, mine: Assignment | None) -> Assignment | None:
    """A recurring report's next occurrence due (the unit's own, else any unit's)."""
    if not item.is_recurring:
        return None
    query = Assignment.select().where(
        (Assignment.item == item)
        & (Assignment.kind == Part.OCCURRENCE)
        & (Assignment.status.in_((Status.OPEN, Status.REVIEW)))
    )
    if mine is not None:
        query = query.where(Assignment.unit == mine.unit_id)
    return query.order_by(Assignment.deadline).first()


def _due_text(item: Item, a: Assignment, nxt: Assignment | None) -> str:
    if item.is_recurring:
        return f"{item.recurrence}" + (f"（本期 {nxt.deadline}）" if nxt and nxt.deadline else "")
    return deadline_label(a.deadline, a.ongoing)


@command(
    "进度",
    aliases=("progress", "进展", "报告进度"),
    access="unit",
    args=(ItemArg(parts=True), PercentArg(), NOTE),
    help="报告本单位某项任务的进度",
    example="进度 T7 60% 已完成初稿",
)
def progress_cmd(ctx: Context, args) -> str:
    target = reportable(ctx, own_target(ctx, args.item.item, args.item.seq))
    reported = report_progress(ctx, target, args.percent, args.note or "")
    return progress_reply(ctx, reported, args.note or "")


def progress_reply(ctx: Context, reported: Reported, note: str) -> str:
    a = reported.assignment
    return ctx.say(
        "replies.j2",
        "progress_recorded",
        item=a.item,
        percent=reported.percent,
        note=note,
        review=reported.review,
        label=a.label,
        title=_title(a),
    )


def _title(assignment: Assignment) -> str:
    """The words after a code in a reply: a milestone's label already holds its work."""
    return "" if assignment.kind == Part.MILESTONE else assignment.item.title


@command(
    "更正",
    aliases=("correct", "改正", "纠正"),
    access="unit",
    args=(ItemArg(parts=True), PercentArg(), NOTE),
    help="更正本单位刚才报错的进度（日志记为更正）",
    example="更正 T12 40%",
)
def correct_cmd(ctx: Context, args) -> str:
    # report_progress decides what a correction may change (a "done" awaiting review too).
    target = own_target(ctx, args.item.item, args.item.seq)
    reported = report_progress(ctx, target, args.percent, args.note or "", correction=True)
    a = reported.assignment
    return ctx.say(
        "replies.j2",
        "progress_corrected",
        label=a.label,
        title=_title(a),
        previous=reported.previous,
        percent=reported.percent,
        review=reported.review,
    )


@command(
    "完成",
    aliases=("done", "已完成", "完成了", "办结", "已办结"),
    access="unit",
    args=(ItemArg(parts=True), NOTE),
    help="报告本单位某项任务（或节点）已全部完成",
    example="完成 T7 材料已报送",
)
def done_cmd(ctx: Context, args) -> str:
    note = args.note or ""
    reported = report_done(ctx, own_target(ctx, args.item.item, args.item.seq), note)
    a = reported.assignment
    return ctx.say(
        "replies.j2",
        "done_recorded",
        item=a.item,
        note=note,
        review=reported.review,
        label=a.label,
        title=_title(a),
    )


@command(
    "延期",
    aliases=("extend", "申请延期", "延期到", "延期至", "延到"),
    access="unit",
    args=(
        ItemArg(parts=True),
        DateArg("date", "新期限"),
        RestArg("reason", "原因", optional=False),
    ),
    help="为本单位的任务（或节点）申请延期，由办公室审批",
    example="延期 T7 2026-12-31 等待上级文件",
)
def extend_cmd(ctx: Context, args) -> str:
    target = reportable(ctx, own_target(ctx, args.item.item, args.item.seq))
    request = request_extension(ctx, target, args.date, args.reason)
    return ctx.say("replies.j2", "extension_requested", request=request, item=args.item.item)


@command(
    "数据",
    aliases=("data", "上报数据"),
    access="unit",
    args=(ItemArg(label="Z编号", kind="indicator"), NumbersArg()),
    help="上报定量指标的数据，按指标要求的顺序",
    example="数据 Z3 1200 9800",
)
def data_cmd(ctx: Context, args) -> str:
    item = args.item
    unit = ctx.member.unit if ctx.member is not None else None
    if not ctx.is_admin:
        own_share(ctx, item)
    recorded = record_figures(ctx, item, list(args.figures), unit)
    return ctx.renderer.render(
        "figures_recorded.j2",
        item=item,
        shown=recorded.shown,
        computed=recorded.computed,
        office=recorded.office,
        waiting=recorded.waiting,
    )
