"""交办: work beyond the plan (leaders' instructions, meeting decisions, the office's own), each
item with a code of its own (J1, J2…), signed for (签收) by every unit, chased like plan items,
possibly recurring (每月5日…), and withdrawn (撤销) without ever being deleted."""

from __future__ import annotations

import re
from datetime import date

import peewee

from bot.cards import queue_card, task_id_for
from bot.commands.args import AssigneesArg, DueArg, ItemArg, RestArg
from bot.commands.common import (
    audit,
    calendar,
    deadline_label,
    liaisons_by_unit,
    own_assignment,
    status_label,
)
from bot.commands.registry import CommandError, Context, command
from models.plan import CANCELLED, DONE, OPEN, SHARE, Assignment, Item
from reminders.ladder import is_overdue

_SOURCE_MARK = re.compile(
    r"[（(【\[]?\s*(?:来源\s*[:：]?\s*)?(领导批示|会议议定事项|会议议定|会议决定|办公室交办)\s*[）)】\]]?"
)
_SOURCES = {
    "领导批示": "领导批示",
    "会议议定事项": "会议议定",
    "会议议定": "会议议定",
    "会议决定": "会议议定",
    "办公室交办": "办公室",
}
ASSIGNED_POSITION = 10_000  # after the plan's items in every list


def _source(ctx: Context, title: str) -> tuple[str, str]:
    """The source named in the text (（领导批示）, 来源：会议议定…) and the text without it; by
    default 领导批示 when a leader assigns, 办公室 when the office does."""
    match = _SOURCE_MARK.search(title)
    if match:
        rest = (title[: match.start()] + title[match.end() :]).strip(" ，,。；;")
        return _SOURCES[match.group(1)], rest or title
    return ("领导批示" if not ctx.is_admin else "办公室"), title


def _next_code() -> str:
    numbers = [
        int(code[1:])
        for (code,) in Item.select(Item.code).where(Item.code.startswith("J")).tuples()
        if code[1:].isdigit()
    ]
    return f"J{max(numbers, default=0) + 1}"


@command(
    "交办",
    aliases=("dispatch", "交办事项"),
    access="leader",
    args=(AssigneesArg(), DueArg(), RestArg("title", "事项", optional=False, limit=500)),
    help="交办方案以外的工作（领导批示、会议议定、办公室交办），可写期限或周期，各单位须签收",
    example="交办 市监局（牵头）,工信局 2026-12-15 报送创建工作阶段性总结",
)
def assign_item(ctx: Context, args) -> str:
    from reminders.recurrence import Recurrence

    source, title = _source(ctx, args.title)
    rule = args.due if isinstance(args.due, Recurrence) else None
    deadline = None if rule else args.due
    if deadline is not None and deadline < ctx.today:
        raise CommandError(f"期限 {deadline} 已经过去，请写今天或以后的日期。")
    units, seen = [], set()
    for match, lead in args.assignees:
        for unit in match.units:
            if unit.id not in seen:
                seen.add(unit.id)
                units.append((unit, lead and match.unit is not None, match.group))
    if not units:
        raise CommandError("这些单位组里还没有单位。", show_usage=False)
    if len(units) == 1:
        units = [(units[0][0], True, units[0][2])]
    code = _next_code()
    item = Item.create(
        code=code,
        kind="assigned",
        position=ASSIGNED_POSITION + int(code[1:]),
        title=title[:200],
        body=title,
        section=source,
        units_text="、".join(u.name for u, _, _ in units),
        source=source,
        assigned_by=ctx.userid,
        created_at=ctx.now,
        recurrence=rule.text if rule else "",
    )
    for unit, lead, group in units:
        Assignment.create(
            item=item,
            unit=unit,
            role="lead" if lead else "co",
            via_group=group.name if group is not None and not lead else "",
            deadline=deadline,
            deadline_set_on=ctx.today,
            updated_at=ctx.now,
        )
    if rule is not None:
        from reminders.jobs import ensure_occurrences

        ensure_occurrences(ctx.now, ctx.config, calendar(ctx), item_ids=[item.id])
    first = _first_due(item)
    audit(
        ctx,
        "assign_item",
        f"交办 {code}（{source}）：{title[:100]}；"
        + "、".join(u.name + ("（牵头）" if lead else "") for u, lead, _ in units)
        + f"；{rule.text if rule else '期限 ' + str(deadline)}",
        item_code=code,
        after={
            "units": [u.name for u, _, _ in units],
            "lead": next((u.name for u, lead, _ in units if lead), None),
            "deadline": str(deadline) if deadline else None,
            "recurrence": rule.text if rule else "",
            "source": source,
        },
    )
    notified = _notify(ctx, item, [u for u, _, _ in units], rule, first)
    unbound = [u.name for u, _, _ in units if u.id not in notified]
    return ctx.say(
        "replies.j2",
        "item_assigned",
        item=item,
        units=units,
        deadline=deadline,
        rule=rule.text if rule else "",
        first=first,
        notified=sum(len(v) for v in notified.values()),
        unbound=unbound,
    )


def _first_due(item: Item) -> date | None:
    """The first deadline of a recurring item (its earliest occurrence)."""
    return (
        Assignment.select(peewee.fn.MIN(Assignment.deadline))
        .where((Assignment.item == item) & (Assignment.kind != SHARE))
        .scalar()
    )


def _notify(ctx: Context, item: Item, units, rule, first) -> dict[int, list]:
    """A card to each liaison of each unit: what is asked, by when, and a 签收 button."""
    liaisons = liaisons_by_unit([u.id for u in units])
    ref = ctx.inbound.id if ctx.inbound else 0
    when = f"{rule.text}（首次 {first}）" if rule else f"期限 {item.assignments[0].deadline}"
    for unit in units:
        text = ctx.renderer.render(
            "assigned_notice.j2", item=item, unit=unit, when=when, by=_assigner(ctx)
        )
        for member in liaisons[unit.id]:
            queue_card(
                ctx.outbox,
                ctx.now,
                kind="assign",
                userid=member.wecom_userid,
                title=f"【交办】{item.code} {item.title}",
                description=f"{item.source}｜请签收",
                rows=[(item.code, when)],
                text=text,
                task_id=task_id_for("assign", item.code, member.id),
                dedupe_key=f"assign:{item.code}:{ref}:{member.wecom_userid}",
            )
    return {uid: members for uid, members in liaisons.items() if members}


def _assigner(ctx: Context) -> str:
    if ctx.member is not None:
        return f"{ctx.member.label}（{ctx.member.role_label}）"
    return "领导小组办公室"


def sign(ctx: Context, item: Item) -> str:
    """签收 of the caller's unit's share of a 交办 item (a card's button or a chat reply)."""
    if not item.is_assigned:
        raise CommandError(f"{item.code} 是方案中的任务或指标，无需签收。", show_usage=False)
    if item.cancelled_at is not None:
        raise CommandError(f"{item.code} 已撤销，无需签收。", show_usage=False)
    share = own_assignment(ctx, item)
    if share.signed_at is not None:
        return ctx.say("replies.j2", "already_signed", item=item, share=share)
    Assignment.update(signed_at=ctx.now, signed_by=ctx.userid).where(
        Assignment.id == share.id
    ).execute()
    audit(
        ctx,
        "sign",
        f"{share.unit.name}签收 {item.code}",
        item_code=item.code,
        unit_name=share.unit.name,
        after={"signed": True},
    )
    return ctx.say("replies.j2", "signed", item=item, unit=share.unit)


@command(
    "签收",
    aliases=("sign", "已签收", "收到"),
    access="unit",
    args=(ItemArg(),),
    help="签收交办给本单位的事项",
    example="签收 J1",
)
def sign_cmd(ctx: Context, args) -> str:
    return sign(ctx, args.item)


@command(
    "撤销",
    aliases=("cancel", "撤回交办"),
    access="leader",
    args=(ItemArg(), RestArg("reason", "原因", optional=False)),
    help="撤销不再需要的交办事项（留痕，不删除）",
    example="撤销 J3 已并入年度总结",
)
def cancel_cmd(ctx: Context, args) -> str:
    item = args.item
    if not item.is_assigned:
        raise CommandError(f"{item.code} 是方案中的任务或指标，不能撤销。", show_usage=False)
    if item.cancelled_at is not None:
        raise CommandError(
            f"{item.code} 已于 {item.cancelled_at.astimezone(ctx.config.timezone):%m-%d} 撤销。",
            show_usage=False,
        )
    if not ctx.is_admin and item.assigned_by != ctx.userid:
        raise CommandError(
            f"{item.code} 不是您交办的，只有交办人或办公室可以撤销。", show_usage=False
        )
    Item.update(cancelled_at=ctx.now, cancel_reason=args.reason).where(Item.id == item.id).execute()
    open_rows = list(
        Assignment.select().where((Assignment.item == item) & (Assignment.status != DONE))
    )
    Assignment.update(status=CANCELLED, updated_at=ctx.now).where(
        Assignment.id.in_([a.id for a in open_rows] or [0])
    ).execute()
    audit(
        ctx,
        "cancel_item",
        f"撤销 {item.code}：{args.reason}",
        item_code=item.code,
        before={"cancelled": False},
        after={"cancelled": True, "reason": args.reason, "rows": len(open_rows)},
    )
    units = sorted({a.unit_id for a in open_rows if a.kind == SHARE})
    text = ctx.renderer.render("assigned_cancelled.j2", item=item, reason=args.reason)
    told = 0
    for members in liaisons_by_unit(units).values():
        for member in members:
            told += ctx.outbox.to_members(
                [member.wecom_userid], text, f"cancel:{item.code}:{member.wecom_userid}"
            )
    return ctx.say("replies.j2", "item_cancelled", item=item, told=told)


@command(
    "交办",
    access="leader",
    help="列出进行中的交办事项，逾期的在前",
)
def assigned_list(ctx: Context, args) -> str:
    items = list(
        Item.select()
        .where((Item.kind == "assigned") & Item.cancelled_at.is_null())
        .order_by(Item.position)
    )
    shares: dict[int, list[Assignment]] = {}
    for a in Assignment.select().where(
        Assignment.shares() & Assignment.item.in_([i.id for i in items] or [0])
    ):
        shares.setdefault(a.item_id, []).append(a)
    rows = []
    for item in items:
        mine = shares.get(item.id, [])
        open_ones = [a for a in mine if a.status == OPEN]
        if not open_ones and mine:
            continue  # everything done: out of the list
        overdue = [a for a in open_ones if is_overdue(a.deadline, ctx.today)]
        rows.append(
            {
                "item": item,
                "units": len(mine),
                "signed": sum(1 for a in mine if a.signed_at is not None),
                "done": sum(1 for a in mine if a.status == DONE),
                "overdue": len(overdue),
                "deadline": deadline_label(
                    min((a.deadline for a in mine if a.deadline), default=None)
                ),
                "statuses": [(a.unit, status_label(ctx, a)) for a in mine[:4]],
            }
        )
    rows.sort(key=lambda r: (-r["overdue"], r["item"].position))
    return ctx.renderer.render("assigned_list.j2", rows=rows)
