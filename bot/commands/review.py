"""办结审核: a unit's "done" waits for the office (待审核) before it counts. Each report reaches the
admins as a card (通过 / 退回); 退回 needs a reason, asked for in chat and taken from the admin's
next message. The office can switch review off per kind (REVIEW)."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.cards import REVIEW_BUTTONS, queue_card, task_id_for
from bot.commands.args import ItemArg, RestArg, UnitArg
from bot.commands.common import (
    admin_userids,
    audit,
    calendar,
    liaisons_by_unit,
)
from bot.commands.registry import CommandError, Context, command
from models.messages import KeyValue
from models.plan import DONE, MILESTONE, OPEN, REVIEW, Assignment, Item
from models.progress import Evidence

PROMPT_TTL = timedelta(minutes=30)  # how long "reply with the reason" waits for the reply


def review_kind(assignment: Assignment) -> str:
    """Which REVIEW switch governs this assignment: plan, assigned or milestone."""
    if assignment.kind == MILESTONE:
        return "milestone"
    return "assigned" if assignment.item.is_assigned else "plan"


def needs_review(ctx: Context, assignment: Assignment) -> bool:
    return review_kind(assignment) in ctx.config.review_kinds


def request_review(ctx: Context, assignment: Assignment, note: str) -> int:
    """Tell the admins, one card each, that a unit reports this done. Returns how many."""
    item = assignment.item
    files = (
        Evidence.select()
        .where((Evidence.item == item) & (Evidence.unit == assignment.unit_id) & Evidence.active())
        .count()
    )
    coverage = []
    if item.is_indicator:
        from bot.commands.evidence import checklist_coverage

        coverage = checklist_coverage(item, assignment.unit_id)
    text = ctx.renderer.render(
        "review_request.j2",
        a=assignment,
        unit=assignment.unit,
        note=note,
        files=files,
        coverage=coverage,
        who=ctx.member.label if ctx.member else ctx.userid,
        short=_short(assignment),
    )
    ref = ctx.inbound.id if ctx.inbound else 0
    sent = 0
    for userid in admin_userids(ctx):
        sent += queue_card(
            ctx.outbox,
            ctx.now,
            kind="review",
            userid=userid,
            title=f"【待审核】{assignment.code} {assignment.unit.short_name or assignment.unit.name}",
            description=f"报告完成｜佐证 {files} 份",
            rows=[(assignment.code, (note or "（无说明）")[:26])],
            text=text,
            task_id=task_id_for("review", assignment.id, ref),
            dedupe_key=f"review:{assignment.id}:{ref}:{userid}",
            buttons=REVIEW_BUTTONS,
            subject=f"a{assignment.id}",
        )
    return sent


def _short(assignment: Assignment) -> str:
    """How to name it in a reply: "T7 县市场监管局"."""
    return f"{assignment.code} {assignment.unit.short_name or assignment.unit.name}"


def approve(ctx: Context, assignment: Assignment) -> str:
    reported = assignment.reported_at or ctx.now
    _decide(
        ctx,
        assignment,
        {"status": DONE, "done_at": reported},
        "review_pass",
        f"审核通过：{assignment.label} {assignment.unit.name}",
        {"status": DONE, "reported_at": str(reported)},
        "review_passed.j2",
        reason="",
    )
    return ctx.say("replies.j2", "review_passed", a=assignment, short=_short(assignment))


def send_back(ctx: Context, assignment: Assignment, reason: str) -> str:
    _decide(
        ctx,
        assignment,
        {"status": OPEN, "reported_at": None},
        "review_return",
        f"审核退回：{assignment.label} {assignment.unit.name}：{reason}",
        {"status": OPEN, "reason": reason},
        "review_returned.j2",
        reason=reason,
    )
    return ctx.say("replies.j2", "review_returned", a=assignment, short=_short(assignment))


def _decide(ctx, assignment, values, action, summary, after, template, *, reason) -> None:
    """Record the office's decision on a report of "done", log it, tell the unit."""
    if assignment.status != REVIEW:
        raise CommandError(_not_waiting(ctx, assignment), show_usage=False)
    Assignment.update(reviewed_at=ctx.now, reviewed_by=ctx.userid, **values).where(
        Assignment.id == assignment.id
    ).execute()
    audit(
        ctx,
        action,
        summary,
        item_code=assignment.item.code,
        unit_name=assignment.unit.name,
        before={"status": REVIEW},
        after=after,
    )
    _tell_unit(ctx, assignment, template, reason=reason)


def _not_waiting(ctx: Context, assignment: Assignment) -> str:
    if assignment.status == DONE:
        return f"{_short(assignment)} 已审核通过（已办结）。"
    return f"{_short(assignment)} 没有待审核的完成报告。"


def _tell_unit(ctx: Context, assignment: Assignment, template: str, reason: str) -> None:
    text = ctx.renderer.render(template, a=assignment, reason=reason)
    people = liaisons_by_unit([assignment.unit_id])[assignment.unit_id]
    userids = {m.wecom_userid for m in people}
    if assignment.owner_userid:
        userids.add(assignment.owner_userid)
    ref = ctx.inbound.id if ctx.inbound else 0
    if userids:
        ctx.outbox.to_members(sorted(userids), text, f"{template}:{assignment.id}:{ref}")


def _waiting(item: Item, unit_match=None, seq: int | None = None) -> list[Assignment]:
    query = Assignment.select().where((Assignment.item == item) & (Assignment.status == REVIEW))
    if unit_match is not None:
        query = query.where(Assignment.unit.in_([u.id for u in unit_match.units] or [0]))
    return list(query.order_by(Assignment.reported_at))


def _one_waiting(ref, unit_match) -> Assignment:
    item = ref.item
    waiting = [
        a
        for a in _waiting(item, unit_match)
        if (a.seq == ref.seq if ref.seq is not None else a.kind != MILESTONE)
    ]
    if not waiting:
        where = f"{unit_match.unit.name if unit_match and unit_match.unit else ''}"
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
    return approve(ctx, _one_waiting(args.item, args.unit))


@command(
    "退回",
    aliases=("return", "审核退回"),
    access="admin",
    args=(ItemArg(parts=True), UnitArg(optional=True), RestArg("reason", "原因", optional=False)),
    help="退回一个单位的完成报告，写明原因，该项回到“进行中”",
    example="退回 T7 市监局 缺少会议纪要",
)
def return_cmd(ctx: Context, args) -> str:
    return send_back(ctx, _one_waiting(args.item, args.unit), args.reason)


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
        .where(Assignment.status == REVIEW)
        .order_by(Assignment.reported_at)
    )
    cal = calendar(ctx)
    return ctx.renderer.render(
        "review_list.j2",
        rows=[
            {
                "a": a,
                "short": _short(a),
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


def _prompt_key(userid: str) -> str:
    return f"prompt:{userid}"


def ask_reason(ctx: Context, assignment: Assignment) -> str:
    """After a 退回 click: the admin's next message is the reason."""
    if assignment.status != REVIEW:
        return _not_waiting(ctx, assignment)
    KeyValue.delete().where(KeyValue.key == _prompt_key(ctx.userid)).execute()
    KeyValue.create(
        key=_prompt_key(ctx.userid),
        value=json.dumps({"return": assignment.id}),
        expires_at=ctx.now + PROMPT_TTL,
    )
    return ctx.say("replies.j2", "review_ask_reason", short=_short(assignment))


def take_reason(ctx: Context, text: str, is_command: bool) -> str | None:
    """If this admin was asked for a reason, the message is it (or 取消, or a command, which
    drops the question). Returns the reply, or None when no question was pending."""
    row = KeyValue.get_or_none(KeyValue.key == _prompt_key(ctx.userid))
    if row is None:
        return None
    KeyValue.delete().where(KeyValue.key == row.key).execute()
    if row.expires_at is not None and row.expires_at <= ctx.now:
        return None
    assignment = Assignment.get_or_none(Assignment.id == json.loads(row.value).get("return"))
    if assignment is None:
        return None
    reason = text.strip()
    if reason in ("取消", "算了", "不退回", "cancel"):
        return ctx.say("replies.j2", "review_return_cancelled", short=_short(assignment))
    if is_command or not reason:
        return None  # a command: run it; the question is dropped
    return send_back(ctx, assignment, reason[:500])


def on_card(ctx: Context, key: str, subject: str) -> str | None:
    """A click on a review card: 通过 at once; 退回 asks for the reason."""
    if not subject.startswith("a") or not subject[1:].isdigit() or not ctx.is_admin:
        return None
    assignment = Assignment.get_or_none(Assignment.id == int(subject[1:]))
    if assignment is None:
        return None
    try:
        if key == "pass":
            return approve(ctx, assignment)
        if key == "return":
            return ask_reason(ctx, assignment)
    except CommandError as exc:
        return exc.message
    return None
