"""The office's commands about deadlines and responsibility: setting deadlines (期限), adding
responsible units (分配), and deciding extension requests (批准, 驳回)."""

from __future__ import annotations

from datetime import date

from bot.commands.args import DateArg, IntArg, ItemArg, RestArg, UnitArg, UnitsArg
from bot.commands.common import (
    audit,
    calendar,
    deadline_label,
    liaisons_by_unit,
)
from bot.commands.registry import CommandError, Context, command
from models.plan import MILESTONE, Assignment, Item
from models.progress import ExtensionRequest
from models.schedule import ReminderSent
from reminders.ladder import LadderSettings, due_steps, overdue_workdays

EARLIEST_DEADLINE = date(2023, 1, 1)  # the plan was issued in 2023: earlier dates are typos


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
    if new_deadline < EARLIEST_DEADLINE:
        raise CommandError(f"期限 {new_deadline} 早于方案印发的 2023 年，请检查年份。")
    if item.is_recurring:
        raise CommandError(
            f"{item.code} 是定期报送（{item.recurrence}），每期的期限按周期自动计算。",
            show_usage=False,
        )
    if args.item.seq is not None:
        return _milestone_deadline(ctx, args.item, args.unit, new_deadline)
    query = Assignment.select().where((Assignment.item == item) & Assignment.shares())
    target = "全部责任单位"
    if args.unit is not None:
        match = args.unit
        target = match.unit.name if match.unit else match.group.name
        query = query.where(Assignment.unit.in_([u.id for u in match.units] or [0]))
    assignments = list(query.order_by(Assignment.id))
    if not assignments:
        raise CommandError(f"{item.code} 没有分配给{target}。可先用“分配”添加责任单位。")
    changed = [a for a in assignments if a.deadline != new_deadline or a.ongoing]
    for a in changed:
        Assignment.update(
            deadline=new_deadline,
            ongoing="",  # a date now: no longer 长期坚持
            updated_at=ctx.now,
            deadline_set_on=a.deadline_set_on or ctx.today,
        ).where(Assignment.id == a.id).execute()
        audit(
            ctx,
            "deadline",
            f"{item.code} {a.unit.name}期限：{deadline_label(a.deadline, a.ongoing)} → {new_deadline}",
            item_code=item.code,
            unit_name=a.unit.name,
            before={"deadline": str(a.deadline) if a.deadline else None},
            after={"deadline": str(new_deadline)},
        )
    open_changed = [a for a in changed if a.status == "open"]
    people = liaisons_by_unit(sorted({a.unit_id for a in assignments if a.status == "open"}))
    text = ctx.renderer.render("deadline_notice.j2", item=item, deadline=new_deadline)
    notified = 0
    for unit_id in sorted({a.unit_id for a in open_changed}):
        for m in people[unit_id]:
            notified += ctx.outbox.to_members(
                [m.wecom_userid],
                text,
                f"deadline:{ctx.inbound.id if ctx.inbound else 0}:{m.wecom_userid}",
            )
    overdue = overdue_workdays(new_deadline, ctx.today, calendar(ctx))
    if overdue and open_changed:
        _start_ladder_tomorrow(ctx, open_changed, new_deadline)
    unbound = sorted(
        {a.unit.name for a in assignments if a.status == "open" and not people[a.unit_id]}
    )
    return ctx.say(
        "replies.j2",
        "deadline_set",
        item=item,
        deadline=new_deadline,
        target=target,
        count=len(assignments),
        changed=len(changed),
        notified=notified,
        unbound=unbound,
        overdue=overdue,
        past=new_deadline < ctx.today,
    )


def _start_ladder_tomorrow(ctx: Context, assignments: list[Assignment], deadline: date) -> None:
    """A deadline back-filled in the past joins the overdue ladder from the next round: the
    notice just sent stands for today's reminder."""
    cal = calendar(ctx)
    settings = LadderSettings(tuple(ctx.config.remind_days_before), ctx.config.escalate_after)
    steps = due_steps(deadline, ctx.today, cal, settings)
    rows = [
        {
            "assignment": a.id,
            "step": step.step,
            "day": ctx.today,
            "recipients": "",
            "sent_at": ctx.now,
        }
        for a in assignments
        for step in steps
    ]
    if rows:
        ReminderSent.insert_many(rows).on_conflict_ignore().execute()


@command(
    "分配",
    aliases=("assign",),
    access="admin",
    args=(ItemArg(), UnitsArg()),
    help="给任务或指标增加责任单位（可写单位组）",
    example="分配 T7 审批局",
)
def assign_cmd(ctx: Context, args) -> str:
    item = args.item
    has_lead = (
        Assignment.select().where((Assignment.item == item) & (Assignment.role == "lead")).exists()
    )
    existing = {a.unit_id for a in Assignment.select().where(Assignment.item == item)}
    added, already = [], []
    for match in args.units:
        via = match.group.name if match.group else ""
        for unit in match.units:
            if unit.id in existing:
                already.append(unit.name)
                continue
            role = "lead" if not has_lead and match.unit is not None else "co"
            has_lead = has_lead or role == "lead"
            Assignment.create(item=item, unit=unit, role=role, via_group=via, updated_at=ctx.now)
            existing.add(unit.id)
            added.append(unit.name)
            audit(
                ctx,
                "assign",
                f"{item.code} 增加责任单位 {unit.name}（{'牵头' if role == 'lead' else '配合'}）",
                item_code=item.code,
                unit_name=unit.name,
                after={"role": role},
            )
    if not added:
        raise CommandError(
            f"这些单位都已是 {item.code} 的责任单位：" + "、".join(already), show_usage=False
        )
    return ctx.say("replies.j2", "assigned", item=item, added=added, already=already)


REQUEST = IntArg("request", "申请编号", what="申请编号")


def _pending_request(number: int) -> ExtensionRequest:
    request = ExtensionRequest.get_or_none(ExtensionRequest.id == number)
    if request is None:
        raise CommandError(f"没有编号为 {number} 的延期申请。")
    if request.status != "pending":
        raise CommandError(
            f"延期申请 {number} {request.status_label}，不能再次处理。", show_usage=False
        )
    return request


@command(
    "批准",
    aliases=("approve", "同意"),
    access="admin",
    args=(REQUEST,),
    help="批准延期申请，期限随之改为申请的日期",
)
def approve_cmd(ctx: Context, args) -> str:
    return _decide_extension(ctx, _pending_request(args.request), approved=True, note="")


@command(
    "驳回",
    aliases=("reject", "不同意"),
    access="admin",
    args=(REQUEST, RestArg("reason", "原因")),
    help="驳回延期申请，期限不变",
)
def reject_cmd(ctx: Context, args) -> str:
    request = _pending_request(args.request)
    return _decide_extension(ctx, request, approved=False, note=args.reason or "")


def _decide_extension(ctx: Context, request: ExtensionRequest, *, approved: bool, note: str):
    """Record the decision, move the deadline if approved (or, for a milestone's removal, remove
    it), tell the requester, log it."""
    if request.kind == "removal":
        return _decide_removal(ctx, request, approved=approved, note=note)
    assignment = request.assignment
    item = assignment.item
    _record_decision(ctx, request, approved, note)
    if approved:
        Assignment.update(
            deadline=request.requested_deadline, ongoing="", updated_at=ctx.now
        ).where(Assignment.id == assignment.id).execute()
        summary = (
            f"批准延期申请 {request.id}：{item.code} {assignment.unit.name}期限 "
            f"{deadline_label(assignment.deadline, assignment.ongoing)} → {request.requested_deadline}"
        )
        before = {"deadline": str(assignment.deadline) if assignment.deadline else None}
        after = {"deadline": str(request.requested_deadline)}
    else:
        summary = f"驳回延期申请 {request.id}（{item.code} {assignment.unit.name}）" + (
            f"：{note}" if note else ""
        )
        before, after = {"status": "pending"}, {"status": "rejected", "note": note}
    audit(
        ctx,
        "extension_approved" if approved else "extension_rejected",
        summary,
        item_code=item.code,
        unit_name=assignment.unit.name,
        before=before,
        after=after,
    )
    text = ctx.renderer.render(
        "extension_decided.j2", request=request, item=item, approved=approved, note=note
    )
    ctx.outbox.to_members([request.wecom_userid], text, f"extension-decided:{request.id}")
    return ctx.say(
        "replies.j2",
        "extension_decided",
        request=request,
        item=item,
        approved=approved,
        unit=assignment.unit,
    )


def _record_decision(ctx: Context, request: ExtensionRequest, approved: bool, note: str) -> None:
    ExtensionRequest.update(
        status="approved" if approved else "rejected",
        decided_by=ctx.userid,
        decided_at=ctx.now,
        decision_note=note,
    ).where(ExtensionRequest.id == request.id).execute()


def _decide_removal(ctx: Context, request: ExtensionRequest, *, approved: bool, note: str):
    from bot.commands.milestones import remove

    milestone = request.assignment
    _record_decision(ctx, request, approved, note)
    if approved:
        remove(ctx, milestone, request.reason)
    else:
        audit(
            ctx,
            "removal_rejected",
            f"驳回删除节点 {milestone.code} 的申请 {request.id}" + (f"：{note}" if note else ""),
            item_code=milestone.item.code,
            unit_name=milestone.unit.name,
            after={"request": request.id, "note": note},
        )
    text = ctx.renderer.render(
        "removal_decided.j2", request=request, m=milestone, approved=approved, note=note
    )
    ctx.outbox.to_members([request.wecom_userid], text, f"removal-decided:{request.id}")
    return ctx.say("replies.j2", "removal_decided", request=request, m=milestone, approved=approved)


def _milestone_deadline(ctx: Context, ref, unit_match, new_deadline: date) -> str:
    """The office moves a milestone's date directly (units ask with 延期 T7-1 …)."""
    query = Assignment.select().where(
        (Assignment.item == ref.item)
        & (Assignment.kind == MILESTONE)
        & (Assignment.seq == ref.seq)
        & (Assignment.status != "cancelled")
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
    if milestone.deadline == new_deadline and not milestone.ongoing:
        return f"{milestone.code} 的期限已经是 {new_deadline}，没有改动。"
    Assignment.update(deadline=new_deadline, ongoing="", updated_at=ctx.now).where(
        Assignment.id == milestone.id
    ).execute()
    before = deadline_label(milestone.deadline, milestone.ongoing)
    audit(
        ctx,
        "deadline",
        f"节点 {milestone.code}（{milestone.unit.name}）期限：{before} → {new_deadline}",
        item_code=ref.item.code,
        unit_name=milestone.unit.name,
        before={"deadline": str(milestone.deadline) if milestone.deadline else None},
        after={"deadline": str(new_deadline), "milestone": milestone.code},
    )
    people = {m.wecom_userid for m in liaisons_by_unit([milestone.unit_id])[milestone.unit_id]}
    if milestone.owner_userid:
        people.add(milestone.owner_userid)
    text = (
        f"【期限通知】办公室已将节点 {milestone.code} {milestone.title} 的期限改为 {new_deadline}。"
    )
    if people:
        ctx.outbox.to_members(
            sorted(people), text, f"deadline:{ctx.inbound.id if ctx.inbound else 0}:m{milestone.id}"
        )
    return f"已设定：节点 {milestone.code} {milestone.title}（{milestone.unit.name}）期限 {new_deadline}。"


def items_without_lead() -> list[Item]:
    """Plan items with responsible units but no lead: the office must settle who leads."""
    led = Assignment.select(Assignment.item).where(
        Assignment.shares() & (Assignment.role == "lead")
    )
    return list(
        Item.select()
        .where(
            (Item.kind != "assigned")
            & Item.id.not_in(led)
            & Item.id.in_(Assignment.select(Assignment.item).where(Assignment.shares()))
        )
        .order_by(Item.position)
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
    shares = list(Assignment.select().where((Assignment.item == item) & Assignment.shares()))
    chosen = next((a for a in shares if a.unit_id == unit.id), None)
    if chosen is None:
        raise CommandError(
            f"{unit.name}不是 {item.code} 的责任单位，请先“分配 {item.code} {unit.short_name or unit.name}”。",
            show_usage=False,
        )
    before = next((a.unit.name for a in shares if a.role == "lead"), None)
    if before == unit.name:
        raise CommandError(f"{unit.name}已经是 {item.code} 的牵头单位。", show_usage=False)
    Assignment.update(role="co").where(
        (Assignment.item == item) & (Assignment.role == "lead") & (Assignment.unit != unit)
    ).execute()
    Assignment.update(role="lead", via_group="").where(
        (Assignment.item == item) & (Assignment.unit == unit)
    ).execute()
    audit(
        ctx,
        "lead",
        f"{item.code} 牵头单位：{before or '未指定'} → {unit.name}",
        item_code=item.code,
        unit_name=unit.name,
        before={"lead": before},
        after={"lead": unit.name},
    )
    left = len(items_without_lead())
    return (
        f"已指定 {unit.name} 牵头 {item.code} {item.title}（其余 {len(shares) - 1} 个单位配合）。"
        + (f"还有 {left} 项没有牵头单位，发送“牵头”查看。" if left else "所有事项都已有牵头单位。")
    )
