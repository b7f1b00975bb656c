"""办结审核 in chat: 通过, 退回 (with a reason, asked for after a card's 退回 click and taken
from the admin's next message), and the list of what waits. The decisions are actions
(bot/actions/review.py)."""

from __future__ import annotations

from bot.actions import questions
from bot.actions.base import Refused
from bot.actions.lookup import short
from bot.actions.review import approve, not_waiting, send_back
from bot.commands.args import ItemArg, RestArg, UnitArg
from bot.commands.common import unit_on_item
from bot.commands.registry import CommandError, Context, command
from models.plan import Assignment, Item, Part, Status


def passed_reply(ctx: Context, assignment: Assignment) -> str:
    reviewed = approve(ctx, assignment)
    return ctx.say(
        "replies.j2",
        "review_passed",
        a=assignment,
        short=short(assignment),
        scores=reviewed.scores,
    )


def returned_reply(ctx: Context, assignment: Assignment, reason: str) -> str:
    send_back(ctx, assignment, reason)
    return ctx.say("replies.j2", "review_returned", a=assignment, short=short(assignment))


def _waiting(item: Item, unit_ids: list[int] | None = None) -> list[Assignment]:
    query = Assignment.select().where(
        (Assignment.item == item) & (Assignment.status == Status.REVIEW)
    )
    if unit_ids is not None:
        query = query.where(Assignment.unit.in_(unit_ids or [0]))
    return list(query.order_by(Assignment.reported_at))


def _one_waiting(ref, unit_match) -> Assignment:
    item = ref.item
    unit_ids = [u.id for u in unit_match.units] if unit_match is not None else None
    waiting = [
        a
        for a in _waiting(item, unit_ids)
        if (a.seq == ref.seq if ref.seq is not None else a.kind != Part.MILESTONE)
    ]
    if not waiting:
        where = unit_match.unit.name if unit_match is not None and unit_match.unit else ""
        raise CommandError(
            f"{item.code} {where}没有待审核的完成报告。发送“待审核”查看。", show_usage=False
        )
    if len(waiting) > 1:
        names = "、".join(a.unit.short_name or a.unit.name for a in waiting)
        raise CommandError(
            f"{item.code} 有 {len(waiting)} 个单位待审核（{names}），请写明单位，如：通过 {item.code} "
            f"{waiting[0].unit.short_name or waiting[0].unit.name}。"
        )
    return waiting[0]


@command(
    "通过",
    aliases=("pass", "审核通过"),
    access="admin",
    args=(ItemArg(parts=True), UnitArg(optional=True)),
    help="审核通过一个单位的完成报告（办结）",
    example="通过 T7 市监局",
)
def pass_cmd(ctx: Context, args) -> str:
    return passed_reply(ctx, _one_waiting(args.item, args.unit))


@command(
    "退回",
    aliases=("return", "审核退回"),
    access="admin",
    args=(ItemArg(parts=True), RestArg("reason", "[单位] 原因", optional=False)),
    help="退回一个单位的完成报告，写明原因，该项回到“进行中”",
    example="退回 T7 市监局 缺少会议纪要",
)
def return_cmd(ctx: Context, args) -> str:
    unit_match, reason = _unit_and_reason(args.item.item, args.reason)
    return returned_reply(ctx, _one_waiting(args.item, unit_match), reason)


def _unit_and_reason(item: Item, text: str):
    """The reason may begin with any word: its first word is taken as the unit only when it
    names a unit responsible for this item (退回 J1 县长批示要求… is all reason)."""
    first, _, rest = text.strip().partition(" ")
    match = unit_on_item(item, first) if rest.strip() else None
    if match is None:
        return None, text.strip()
    return match, rest.strip()


@command(
    "待审核",
    aliases=("reviews", "审核"),
    access="admin",
    help="列出等待审核的完成报告，最早的在前",
)
def waiting_cmd(ctx: Context, args) -> str:
    rows = list(
        Assignment.select(Assignment, Item)
        .join(Item)
        .where(Assignment.status == Status.REVIEW)
        .order_by(Assignment.reported_at)
    )
    cal = ctx.calendar
    return ctx.renderer.render(
        "review_list.j2",
        rows=[
            {
                "a": a,
                "short": short(a),
                "days": cal.workdays_between(
                    a.reported_at.astimezone(ctx.config.timezone).date(), ctx.today
                )
                if a.reported_at
                else 0,
            }
            for a in rows
        ],
    )


# ---------------------------------------------------------------- a reason asked for in chat


def ask_reason(ctx: Context, assignment: Assignment) -> str:
    """After a 退回 click: the admin's next message is the reason."""
    if assignment.status != Status.REVIEW:
        return not_waiting(assignment)
    questions.ask(ctx, {"return": assignment.id})
    return ctx.say("replies.j2", "review_ask_reason", short=short(assignment))


def take_reason(ctx: Context, text: str, question: dict, is_command: bool) -> str | None:
    """This admin was asked for a reason (`question`, already taken): the message is it, or
    取消, or a command, which drops the question. Returns the reply, or None when the message
    is to be read as usual."""
    assignment = Assignment.get_or_none(Assignment.id == question["return"])
    if assignment is None:
        return None
    reason = text.strip()
    if reason in ("取消", "算了", "不退回", "cancel"):
        return ctx.say("replies.j2", "review_return_cancelled", short=short(assignment))
    if is_command or not reason:
        return None  # a command: run it; the question is dropped
    try:
        return returned_reply(ctx, assignment, reason[:500])
    except Refused as exc:
        return exc.message


def on_card(ctx: Context, key: str, subject: str) -> str | None:
    """A click on a review card: 通过 at once; 退回 asks for the reason."""
    if not subject.startswith("a") or not subject[1:].isdigit() or not ctx.is_admin:
        return None
    assignment = Assignment.get_or_none(Assignment.id == int(subject[1:]))
    if assignment is None:
        return None
    try:
        if key == "pass":
            return passed_reply(ctx, assignment)
        if key == "return":
            return ask_reason(ctx, assignment)
    except Refused as exc:
        return exc.message
    return None
