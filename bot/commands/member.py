"""Commands for the units' liaisons and heads (and help and item details for everyone bound):
the unit's list, an item's details, progress, completion, extensions, figures."""

from __future__ import annotations

from decimal import Decimal

from bot.commands.args import (
    DateArg,
    ItemArg,
    Keyword,
    NumbersArg,
    PercentArg,
    RestArg,
    WordArg,
)
from bot.commands.common import (
    admin_userids,
    audit,
    deadline_label,
    milestones_of,
    open_work,
    overdue_days,
    own_assignment,
    own_target,
    pending_extensions,
    refuse_if_request_pending,
    require_unit,
    status_label,
)
from bot.commands.registry import (
    REGISTRY,
    CommandError,
    Context,
    command,
    summary_help,
    summary_usage,
)
from bot.render import format_points
from models.plan import DONE, MILESTONE, OPEN, REVIEW, Assignment, Item
from models.progress import Evidence, ExtensionRequest, ProgressReport
from models.scores import FigureReport, Score
from reminders.ladder import is_overdue
from reminders.rules import RuleError, compute, figure_problem

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


def _open_rows(unit) -> list[Assignment]:
    return open_work([unit.id])


def _row(ctx: Context, a: Assignment, pending: set[int]) -> dict:
    status = status_label(ctx, a, a.id in pending)
    if a.kind == "share":
        parts = milestones_of(a)
        if parts:  # the share's progress derived from its milestones, beside any direct report
            done = sum(1 for m in parts if m.status == DONE)
            status += f"｜节点 {done}/{len(parts)}"
    return {"a": a, "status": status, "deadline": deadline_label(a.deadline, a.ongoing)}


@command(
    "我的任务",
    aliases=("tasks", "任务清单", "我的", "待办", "本单位任务"),
    access="unit",
    args=(Keyword(words=("全部", "all", "所有"), optional=True),),
    help="本单位未完成的事项，期限近的在前（“我的任务 全部”含未设期限的）",
)
def my_tasks(ctx: Context, args) -> str:
    unit = require_unit(ctx)
    open_rows = _open_rows(unit)
    pending = pending_extensions([a.id for a in open_rows])
    dated = [a for a in open_rows if a.deadline is not None]
    undated = [a for a in open_rows if a.deadline is None]
    shown = dated + undated if args.keyword else dated
    done_count = (
        Assignment.select()
        .where((Assignment.unit == unit) & (Assignment.status == DONE) & Assignment.shares())
        .count()
    )
    return ctx.renderer.render(
        "my_tasks.j2",
        unit=unit,
        rows=[_row(ctx, a, pending) for a in shown],
        hidden_undated=0 if args.keyword else len(undated),
        open_count=len(open_rows),
        done_count=done_count,
    )


def open_items_summary(ctx: Context) -> dict | None:
    """For a greeting: the unit's open items, the overdue count and the three nearest."""
    if ctx.member is None or ctx.member.unit is None:
        return None
    rows = _open_rows(ctx.member.unit)
    dated = [a for a in rows if a.deadline is not None]
    pending = pending_extensions([a.id for a in dated[:3]])
    return {
        "unit": ctx.member.unit,
        "open": len(rows),
        "overdue": sum(1 for a in dated if is_overdue(a.deadline, ctx.today)),
        "nearest": [_row(ctx, a, pending) for a in dated[:3]],
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
    from bot.commands.evidence import checklist_coverage  # (evidence's commands list after these)

    item = args.item
    assignments = list(
        Assignment.select(Assignment)
        .where((Assignment.item == item) & Assignment.shares())
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
    pending = pending_extensions([a.id for a in assignments])
    done = sum(1 for a in assignments if a.status == "done")
    overdue = sum(1 for a in assignments if a.status == "open" and overdue_days(ctx, a))
    return ctx.renderer.render(
        "task_detail.j2",
        item=item,
        assignments=[_row(ctx, a, pending) for a in assignments],
        list_units=len(assignments) <= 8,
        done=done,
        overdue=overdue,
        mine=mine,
        mine_status=status_label(ctx, mine, mine.id in pending) if mine else "",
        mine_deadline=deadline_label(mine.deadline, mine.ongoing) if mine else "",
        latest=latest,
        evidence_total=evidence_total,
        evidence_mine=len(mine_files),
        recent_files=mine_files[:5],
        coverage=checklist_coverage(item, mine.unit_id if mine else None)
        if item.is_indicator
        else [],
        score=Score.current_for(item) if item.is_indicator else None,
        reports=ctx.may("unit"),
        milestones=[
            {
                "m": m,
                "status": status_label(ctx, m),
                "deadline": deadline_label(m.deadline, m.ongoing),
            }
            for m in (milestones_of(mine) if mine else [])
        ],
    )


def record_progress(
    ctx: Context, assignment: Assignment, percent: int, note: str, kind: str
) -> bool:
    """Record a report. At 100 % the unit reports it done: 待审核 when the office reviews this
    kind (the admins get a card), else done at once. Returns True when it awaits review."""
    from bot.commands.review import needs_review, request_review  # (help lists review later)

    before = {"progress": assignment.progress, "status": assignment.status}
    finished = percent == 100
    review = finished and needs_review(ctx, assignment)
    status = REVIEW if review else DONE if finished else OPEN
    Assignment.update(
        progress=percent,
        status=status,
        updated_at=ctx.now,
        reported_at=ctx.now if finished else None,
        done_at=ctx.now if status == DONE else None,
    ).where(Assignment.id == assignment.id).execute()
    ProgressReport.create(
        assignment=assignment,
        wecom_userid=ctx.userid,
        percent=percent,
        note=note,
        kind=kind,
        created_at=ctx.now,
    )
    after = {"progress": percent, "status": status}
    verb = "报告完成" if kind == "done" else f"报告进度 {percent}%"
    audit(
        ctx,
        kind,
        f"{assignment.unit.name}{verb}" + (f"：{note}" if note else ""),
        item_code=assignment.item.code,
        unit_name=assignment.unit.name,
        before=before,
        after=after,
    )
    if review:
        assignment = Assignment.get_by_id(assignment.id)
        request_review(ctx, assignment, note)
    return review


@command(
    "进度",
    aliases=("progress", "进展", "报告进度"),
    access="unit",
    args=(ItemArg(parts=True), PercentArg(), NOTE),
    help="报告本单位某项任务的进度",
    example="进度 T7 60% 已完成初稿",
)
def progress_cmd(ctx: Context, args) -> str:
    assignment = _reportable(ctx, args.item.item, args.item.seq)
    note = args.note or ""
    review = record_progress(
        ctx, assignment, args.percent, note, "done" if args.percent == 100 else "progress"
    )
    return ctx.say(
        "replies.j2",
        "progress_recorded",
        item=args.item.item,
        percent=args.percent,
        note=note,
        review=review,
        label=assignment.label,
        title=_title(assignment),
    )


def _title(assignment: Assignment) -> str:
    """The words after a code in a reply: a milestone's label already holds its work."""
    return "" if assignment.kind == MILESTONE else assignment.item.title


def _reportable(ctx: Context, item: Item, seq: int | None = None) -> Assignment:
    """The caller's unit's part of `item` that a report is about, if it can be reported on."""
    target = own_target(ctx, item, seq)
    if target.status == REVIEW:
        raise CommandError(
            f"{target.label} 已于 {target.reported_at.astimezone(ctx.config.timezone):%m-%d %H:%M} "
            "报告完成，正在等待办公室审核。",
            show_usage=False,
        )
    return target


@command(
    "完成",
    aliases=("done", "已完成", "完成了", "办结", "已办结"),
    access="unit",
    args=(ItemArg(parts=True), NOTE),
    help="报告本单位某项任务（或节点）已全部完成",
    example="完成 T7 材料已报送",
)
def done_cmd(ctx: Context, args) -> str:
    item = args.item.item
    note = args.note or ""
    assignment = _reportable(ctx, item, args.item.seq)
    if assignment.status == DONE:
        raise CommandError(
            f"{assignment.label} 已经是“已完成”状态，无需重复报告。", show_usage=False
        )
    review = record_progress(ctx, assignment, 100, note, "done")
    return ctx.say(
        "replies.j2",
        "done_recorded",
        item=item,
        note=note,
        review=review,
        label=assignment.label,
        title=_title(assignment),
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
    item, new_deadline, reason = args.item.item, args.date, args.reason
    assignment = _reportable(ctx, item, args.item.seq)
    code = assignment.code
    if assignment.status == DONE:
        raise CommandError(f"{code} 已完成，无需延期。", show_usage=False)
    if assignment.deadline is None:
        raise CommandError(f"{code} 还没有设定期限，无需申请延期。", show_usage=False)
    if new_deadline <= assignment.deadline:
        raise CommandError(f"新期限 {new_deadline} 应晚于现在的期限 {assignment.deadline}。")
    if new_deadline < ctx.today:
        raise CommandError(f"新期限 {new_deadline} 已经过去，请写今天以后的日期。")
    refuse_if_request_pending(assignment)
    request = ExtensionRequest.create(
        assignment=assignment,
        wecom_userid=ctx.userid,
        old_deadline=assignment.deadline,
        requested_deadline=new_deadline,
        reason=reason,
        created_at=ctx.now,
    )
    audit(
        ctx,
        "extension_request",
        f"{assignment.unit.name}申请将 {code} 延期至 {new_deadline}：{reason}（申请 {request.id}）",
        item_code=item.code,
        unit_name=assignment.unit.name,
        before={"deadline": str(assignment.deadline)},
        after={"requested_deadline": str(new_deadline), "request": request.id},
    )
    notice = ctx.renderer.render(
        "extension_to_admins.j2",
        request=request,
        item=item,
        unit=assignment.unit,
        requester=ctx.member.label if ctx.member else ctx.userid,
    )
    admins = admin_userids(ctx)
    if admins:
        ctx.outbox.to_members(admins, notice, f"extension-request:{request.id}")
    return ctx.say("replies.j2", "extension_requested", request=request, item=item)


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
    if not item.is_quantitative:
        raise CommandError(
            f"{item.code} 是定性指标，由办公室评定，无需上报数据。", show_usage=False
        )
    inputs = item.inputs
    labels = "、".join(
        f"{i['label']}" + (f"（{i['unit']}）" if i.get("unit") else "") for i in inputs
    )
    if len(args.figures) != len(inputs):
        raise CommandError(
            f"{item.code} 需要按顺序上报 {len(inputs)} 个数：{labels}；您写了 {len(args.figures)} 个。"
        )
    values = {}
    for spec, value in zip(inputs, args.figures, strict=True):
        problem = figure_problem(spec, value)
        if problem:
            raise CommandError(f"{spec['label']}：{problem}")
        values[spec["key"]] = str(value)
    unit = ctx.member.unit if ctx.member is not None and ctx.member.unit is not None else None
    if not ctx.is_admin:
        own_assignment(ctx, item)
    try:  # impossible figures (a zero denominator…) are refused before anything is stored
        computed = compute(
            item.rule or {},
            inputs,
            {key: Decimal(value) for key, value in values.items()},
            item.max_points_value(),
        )
    except RuleError as exc:
        raise CommandError(f"{item.code} 的数据有误：{exc}") from None
    report = FigureReport.create(
        item=item, unit=unit, wecom_userid=ctx.userid, values=values, created_at=ctx.now
    )
    shown = [
        {"label": spec["label"], "unit": spec.get("unit", ""), "value": values[spec["key"]]}
        for spec in inputs
    ]
    audit(
        ctx,
        "figures",
        f"{unit.name if unit else ctx.userid}上报 {item.code} 数据："
        + "；".join(f"{s['label']} {s['value']}{s['unit']}" for s in shown),
        item_code=item.code,
        unit_name=unit.name if unit else "",
        after={"values": values, "report": report.id},
    )
    if computed is not None:
        _record_computed_score(ctx, item, computed)
    office = (
        Score.select()
        .where((Score.item == item) & (Score.source == "office"))
        .order_by(Score.id.desc())
        .first()
    )
    return ctx.renderer.render(
        "figures_recorded.j2", item=item, shown=shown, computed=computed, office=office
    )


def _record_computed_score(ctx: Context, item: Item, computed) -> None:
    """A new computed score when the figures change it; the office's own score still wins."""
    previous = (
        Score.select()
        .where((Score.item == item) & (Score.source == "computed"))
        .order_by(Score.id.desc())
        .first()
    )
    if previous is not None and Decimal(previous.points) == computed.points:
        return
    Score.create(
        item=item,
        points=computed.points,
        reason="按上报数据计算：" + "；".join(computed.lines),
        source="computed",
        wecom_userid=ctx.userid,
        created_at=ctx.now,
    )
    audit(
        ctx,
        "score_computed",
        f"{item.code} 按上报数据计算得分："
        f"{format_points(previous.points) if previous else '未评分'} → {format_points(computed.points)}",
        item_code=item.code,
        before={"points": str(previous.points) if previous else None},
        after={"points": str(computed.points), "lines": list(computed.lines)},
    )
