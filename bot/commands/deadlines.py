"""The office's commands about deadlines and responsibility: setting deadlines (期限), adding
responsible units (分配), naming the lead (牵头) and deciding requests (批准, 驳回). The
changes are actions (bot/actions/deadlines.py)."""

from __future__ import annotations

from bot.actions.deadlines import (
    add_units,
    decide_request,
    items_without_lead,
    pending_request,
    set_deadline,
    set_lead,
    set_milestone_deadline,
)
from bot.commands.args import DateArg, IntArg, ItemArg, RestArg, UnitArg, UnitsArg
from bot.commands.registry import CommandError, Context, command
from models.plan import Assignment, Part, Status
from models.progress import RequestKind


@command(
    "期限",
    aliases=("deadline", "设期限"),
    access="admin",
    args=(ItemArg(parts=True), UnitArg(optional=True), DateArg()),
    help="设定或修改期限（也可以是某单位的节点 T7-1）；不写单位即所有责任单位；可补录已过去的期限",
    example="期限 T7 市监局 2026-12-31",
)
def deadline_cmd(ctx: Context, args) -> str:
    item, new_deadline = args.item.item, args.date
    if args.item.seq is not None:
        return _milestone_deadline(ctx, args.item, args.unit, new_deadline)
    units, target = None, ""
    if args.unit is not None:
        units = args.unit.units
        target = args.unit.unit.name if args.unit.unit else args.unit.group.name
    done = set_deadline(ctx, item, new_deadline, units, target)
    return ctx.say(
        "replies.j2",
        "deadline_set",
        item=item,
        deadline=new_deadline,
        target=done.target,
        count=done.count,
        changed=done.changed,
        notified=done.notified,
        unbound=done.unbound,
        overdue=done.overdue,
        past=new_deadline < ctx.today,
    )


def _milestone_deadline(ctx: Context, ref, unit_match, new_deadline) -> str:
    query = Assignment.select().where(
        (Assignment.item == ref.item)
        & (Assignment.kind == Part.MILESTONE)
        & (Assignment.seq == ref.seq)
        & (Assignment.status != Status.CANCELLED)
    )
    if unit_match is not None:
        query = query.where(Assignment.unit.in_([u.id for u in unit_match.units] or [0]))
    found = list(query)
    if len(found) != 1:
        where = "、".join(m.unit.name for m in found)
        raise CommandError(
            f"{ref.code} 不存在。"
            if not found
            else f"{ref.code} 在几个单位都有（{where}），请写明单位。"
        )
    milestone = found[0]
    if not set_milestone_deadline(ctx, milestone, new_deadline):
        return f"{milestone.code} 的期限已经是 {new_deadline}，没有改动。"
    return f"已设定：节点 {milestone.code} {milestone.title}（{milestone.unit.name}）期限 {new_deadline}。"


@command(
    "分配",
    aliases=("assign",),
    access="admin",
    args=(ItemArg(), UnitsArg()),
    help="给任务或指标增加责任单位（可写单位组）；没有牵头单位时，写在第一个的单位牵头",
    example="分配 T7 审批局",
)
def assign_cmd(ctx: Context, args) -> str:
    named = [(match.units, match.group.name if match.group else "") for match in args.units]
    added = add_units(ctx, args.item, named)
    return ctx.say(
        "replies.j2", "assigned", item=args.item, added=added.added, already=added.already
    )


REQUEST = IntArg("request", "申请编号", what="申请编号")


@command(
    "批准",
    aliases=("approve", "同意"),
    access="admin",
    args=(REQUEST,),
    help="批准延期申请，期限随之改为申请的日期",
)
def approve_cmd(ctx: Context, args) -> str:
    return _decided(ctx, decide_request(ctx, pending_request(args.request), approved=True))


@command(
    "驳回",
    aliases=("reject", "不同意"),
    access="admin",
    args=(REQUEST, RestArg("reason", "原因")),
    help="驳回延期申请，期限不变",
)
def reject_cmd(ctx: Context, args) -> str:
    request = pending_request(args.request)
    return _decided(ctx, decide_request(ctx, request, approved=False, note=args.reason or ""))


def _decided(ctx: Context, decided) -> str:
    request = decided.request
    target = request.assignment
    if request.kind == RequestKind.REMOVAL:
        return ctx.say(
            "replies.j2", "removal_decided", request=request, m=target, approved=decided.approved
        )
    return ctx.say(
        "replies.j2",
        "extension_decided",
        request=request,
        a=target,
        approved=decided.approved,
        unit=target.unit,
    )


@command(
    "牵头",
    aliases=("lead",),
    access="admin",
    help="列出还没有牵头单位的事项（方案在单位组打头时未指明牵头）",
)
def leads_cmd(ctx: Context, args) -> str:
    return ctx.renderer.render("leads.j2", items=items_without_lead())


@command(
    "牵头",
    access="admin",
    args=(ItemArg(), UnitArg(single=True)),
    help="指定一项事项的牵头单位（其余单位为配合）",
    example="牵头 T8 市监局",
)
def set_lead_cmd(ctx: Context, args) -> str:
    item, unit = args.item, args.unit.unit
    set_lead(ctx, item, unit)
    shares = Assignment.select().where((Assignment.item == item) & (Assignment.kind == Part.SHARE))
    left = len(items_without_lead())
    return (
        f"已指定 {unit.name} 牵头 {item.code} {item.title}（其余 {shares.count() - 1} 个单位配合）。"
        + (f"还有 {left} 项没有牵头单位，发送“牵头”查看。" if left else "所有事项都已有牵头单位。")
    )
