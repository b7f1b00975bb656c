"""交办: work beyond the plan (leaders' instructions, meeting decisions, the office's own), each
item with a code of its own (J1, J2…), signed for (签收) by every unit, chased like plan items,
possibly recurring (每月5日…), and withdrawn (撤销) without ever being deleted."""

from __future__ import annotations

from typing import Any

from bot.actions.assigned import (
    AssignSpec,
    assign_item,
    cancel_item,
    default_source,
    leader_named,
    leads_first,
    sign,
)
from bot.commands.args import AssigneesArg, DueArg, ItemArg, RestArg
from bot.commands.common import status_label
from bot.commands.registry import Context, command
from bot.text import read_instruction, read_source
from models.plan import Assignment, Item, ItemKind, Part, Status, Urgency
from reminders.ladder import is_overdue
from reminders.recurrence import Recurrence
from reminders.state import deadline_label


@command(
    "交办",
    aliases=("dispatch", "交办事项"),
    access="leader",
    args=(AssigneesArg(), DueArg(), RestArg("title", "事项", optional=False, limit=500)),
    help="交办方案以外的工作（领导批示、会议议定、办公室交办），可写期限或周期，各单位须签收；"
    "可加（紧急）或（特急）、文号：…、批示领导：…、原文：…",
    example="交办 市监局（牵头）,工信局 2026-12-15 报送创建工作阶段性总结",
)
def assign_cmd(ctx: Context, args) -> str:
    doc = read_instruction(args.title)
    mark = read_source(doc.title)
    rule = args.due if isinstance(args.due, Recurrence) else None
    named = [
        (unit, lead and match.unit is not None, match.group.name if match.group else "")
        for match, lead in args.assignees
        for unit in match.units
    ]
    spec = AssignSpec(
        title=mark.title,
        source=mark.source or default_source(ctx),
        units=leads_first(named),
        deadline=None if rule else args.due,
        rule=rule,
        body=args.title,
        doc_no=doc.doc_no,
        instructed_by=leader_userid(doc.leader),
        instruction=doc.instruction,
        urgency=doc.urgency or Urgency.NORMAL,
    )
    done = assign_item(ctx, spec)
    return ctx.say(
        "replies.j2",
        "item_assigned",
        item=done.item,
        units=[(u, r == "lead", g) for u, r, g in spec.units],
        deadline=spec.deadline,
        rule=rule.text if rule else "",
        first=done.first,
        notified=done.notified,
        unbound=done.unbound,
    )


def leader_userid(written: str) -> str:
    """The 批示领导 as written in chat (a bound leader's name or userid) -> the userid; what
    matches no leader is passed on as written, for the action to refuse with its reason."""
    leader = leader_named(written)
    return leader.wecom_userid if leader is not None else written


def sign_reply(ctx: Context, item: Item) -> str:
    signed = sign(ctx, item)
    if signed.already:
        return ctx.say("replies.j2", "already_signed", item=item, share=signed.share)
    return ctx.say("replies.j2", "signed", item=item, unit=signed.share.unit)


@command(
    "签收",
    aliases=("sign", "已签收", "收到"),
    access="unit",
    args=(ItemArg(),),
    help="签收交办给本单位的事项",
    example="签收 J1",
)
def sign_cmd(ctx: Context, args) -> str:
    return sign_reply(ctx, args.item)


@command(
    "撤销",
    aliases=("cancel", "撤回交办"),
    access="leader",
    args=(ItemArg(), RestArg("reason", "原因", optional=False)),
    help="撤销不再需要的交办事项（留痕，不删除）",
    example="撤销 J3 已并入年度总结",
)
def cancel_cmd(ctx: Context, args) -> str:
    cancelled = cancel_item(ctx, args.item, args.reason)
    return ctx.say("replies.j2", "item_cancelled", item=args.item, told=cancelled.told)


@command(
    "交办",
    access="leader",
    help="列出进行中的交办事项，逾期的在前",
)
def assigned_list(ctx: Context, args) -> str:
    items = list(
        Item.select()
        .where((Item.kind == ItemKind.ASSIGNED) & Item.cancelled_at.is_null())
        .order_by(Item.position)
    )
    shares: dict[int, list[Assignment]] = {}
    for a in Assignment.select().where(
        (Assignment.kind == Part.SHARE) & Assignment.item.in_([i.id for i in items] or [0])
    ):
        shares.setdefault(a.item_id, []).append(a)
    rows: list[dict[str, Any]] = []
    for item in items:
        mine = shares.get(item.id, [])
        open_ones = [a for a in mine if a.status == Status.OPEN]
        if not open_ones and mine:
            continue  # everything done: out of the list
        overdue = [a for a in open_ones if is_overdue(a.deadline, ctx.today)]
        rows.append(
            {
                "item": item,
                "units": len(mine),
                "signed": sum(1 for a in mine if a.signed_at is not None),
                "done": sum(1 for a in mine if a.status == Status.DONE),
                "overdue": len(overdue),
                "deadline": deadline_label(
                    min((a.deadline for a in mine if a.deadline), default=None)
                ),
                "statuses": [(a.unit, status_label(ctx, a)) for a in mine[:4]],
                "unsigned": [
                    a.unit.short_name or a.unit.name for a in open_ones if a.signed_at is None
                ],
            }
        )
    rows.sort(key=lambda r: (-r["overdue"], r["item"].position))
    return ctx.renderer.render("assigned_list.j2", rows=rows)
