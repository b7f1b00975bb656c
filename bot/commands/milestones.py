"""实施细则: a unit breaks its share of an item into milestones (节点 T7-1, T7-2… per unit), each
with a date, the work, and optionally a 责任人 who gets its reminders (the liaison in copy).
Milestones are edited directly; their dates move by request (延期 T7-1 …) or by the office
(期限 T7-1 …); removing one is asked of the office (节点 删除 …) unless the office does it."""

from __future__ import annotations

import re

from bot.actions.lookup import milestone_of, own_share, share_of
from bot.actions.milestones import (
    add_milestone,
    edit_milestone,
    may_change,
    remove_milestone,
    request_removal,
)
from bot.commands.args import DateArg, ItemArg, Keyword, RestArg, UnitArg
from bot.commands.common import status_labels
from bot.commands.registry import CommandError, Context, command
from models import userids
from models.plan import Assignment, Item, Part, Status
from reminders.state import deadline_label

_OWNER = re.compile(r"[（(\[【]?\s*责任人\s*[:：]?\s*(" + userids.CHARS + r")\s*[）)\]】]?\s*$")


def _share(ctx: Context, item: Item, unit_match) -> Assignment:
    """The share a milestone belongs to: the caller's unit's, or (for the office) the unit named."""
    if unit_match is None:
        return own_share(ctx, item)
    if not ctx.is_admin and not (ctx.member and ctx.member.unit_id == unit_match.unit.id):
        raise CommandError("只能为本单位设节点；办公室可以为任何单位设。", show_usage=False)
    share = share_of(item, unit_match.unit)
    if share is None:
        raise CommandError(f"{item.code} 不是{unit_match.unit.name}的责任事项。", show_usage=False)
    return share


def _split_owner(text: str) -> tuple[str, str]:
    """ "完成摸底 [责任人 wang]" -> ("完成摸底", "wang")."""
    match = _OWNER.search(text)
    if not match:
        return text.strip(), ""
    return text[: match.start()].strip(" ，,；;"), match.group(1)


@command(
    "节点",
    aliases=("milestone", "实施细则", "时间节点"),
    access="unit",
    args=(
        ItemArg(),
        UnitArg(optional=True, single=True),
        DateArg(),
        RestArg("work", "工作内容 [责任人 userid]", optional=False, limit=300),
    ),
    help="把本单位承担的事项分解为节点（实施细则），每个节点单独提醒",
    example="节点 T7 2026-12-20 完成全县网络经营主体摸底 责任人 wangwu",
)
def add_milestone_cmd(ctx: Context, args) -> str:
    share = _share(ctx, args.item, args.unit)
    work, owner = _split_owner(args.work)
    added = add_milestone(ctx, share, args.date, work, owner)
    return ctx.say(
        "replies.j2",
        "milestone_added",
        m=added.milestone,
        owner=owner,
        owner_bound=added.owner_bound,
        count=added.count,
    )


@command(
    "节点",
    access="member",
    args=(ItemArg(), UnitArg(optional=True, single=True)),
    help="查看一项事项的节点（本单位的；领导和办公室可看各单位的）",
    example="节点 T7",
)
def list_milestones(ctx: Context, args) -> str:
    item = args.item
    query = Assignment.select().where(
        (Assignment.item == item)
        & (Assignment.kind == Part.MILESTONE)
        & (Assignment.status != Status.CANCELLED)
    )
    if args.unit is not None:
        query = query.where(Assignment.unit == args.unit.unit)
    elif not ctx.may("leader"):
        if ctx.member is None or ctx.member.unit_id is None:
            raise CommandError("您还没有绑定单位。", show_usage=False)
        query = query.where(Assignment.unit == ctx.member.unit_id)
    rows = list(query.order_by(Assignment.unit, Assignment.seq))
    labels = status_labels(ctx, rows)
    return ctx.renderer.render(
        "milestone_list.j2",
        item=item,
        rows=[
            {"m": m, "status": labels[m.id], "deadline": deadline_label(m.deadline, m.ongoing)}
            for m in rows
        ],
        many_units=len({m.unit_id for m in rows}) > 1,
    )


@command(
    "节点",
    access="unit",
    args=(
        Keyword(words=("改", "修改", "edit")),
        ItemArg(parts=True),
        RestArg("work", "新内容 [责任人 userid]", optional=False, limit=300),
    ),
    help="修改节点的工作内容或责任人（日期请用“延期 T7-1 …”申请）",
    example="节点 改 T7-1 责任人 zhaoliu",
)
def edit_milestone_cmd(ctx: Context, args) -> str:
    share, milestone = _milestone(ctx, args.item)
    may_change(ctx, share)
    work, owner = _split_owner(args.work)
    milestone = edit_milestone(ctx, milestone, work, owner)
    return ctx.say("replies.j2", "milestone_edited", m=milestone)


@command(
    "节点",
    access="unit",
    args=(
        Keyword(words=("删除", "取消", "remove")),
        ItemArg(parts=True),
        RestArg("reason", "原因", optional=False),
    ),
    help="删除节点：联络员提出申请，办公室批准后删除（办公室可直接删除）",
    example="节点 删除 T7-2 并入 T7-1",
)
def remove_milestone_cmd(ctx: Context, args) -> str:
    share, milestone = _milestone(ctx, args.item)
    may_change(ctx, share)
    if ctx.is_admin:
        remove_milestone(ctx, milestone, args.reason)
        return ctx.say("replies.j2", "milestone_removed", m=milestone)
    request = request_removal(ctx, milestone, args.reason)
    return ctx.say("replies.j2", "removal_requested", request=request, m=milestone)


def _milestone(ctx: Context, ref) -> tuple[Assignment, Assignment]:
    if ref.seq is None:
        raise CommandError(f"请写节点编号，如 {ref.item.code}-1。")
    if ctx.member is not None and ctx.member.unit_id is not None and not ctx.is_admin:
        share = own_share(ctx, ref.item)
        return share, milestone_of(share, ref.seq)
    # The office: the milestone number is per unit, so it must be unique across units.
    found = list(
        Assignment.select().where(
            (Assignment.item == ref.item)
            & (Assignment.kind == Part.MILESTONE)
            & (Assignment.seq == ref.seq)
            & (Assignment.status != Status.CANCELLED)
        )
    )
    if len(found) == 1:
        return found[0].parent, found[0]
    if not found:
        raise CommandError(f"{ref.code} 不存在。发送“节点 {ref.item.code}”查看。", show_usage=False)
    names = "、".join(m.unit.name for m in found)
    raise CommandError(
        f"{ref.code} 在 {len(found)} 个单位都有（{names}），请让该单位联络员操作，"
        "或先发送“节点 编号 单位”查看。",
        show_usage=False,
    )
