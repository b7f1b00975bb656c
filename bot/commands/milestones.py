"""实施细则: a unit breaks its share of an item into milestones (节点 T7-1, T7-2… per unit), each
with a date, the work, and optionally a 责任人 who gets its reminders (the liaison in copy).
Milestones are edited directly; their dates move by request (延期 T7-1 …) or by the office
(期限 T7-1 …); removing one is asked of the office (节点 删除 …) unless the office does it."""

from __future__ import annotations

import re

import peewee

from bot.commands.args import DateArg, ItemArg, Keyword, RestArg, UnitArg
from bot.commands.common import (
    admin_userids,
    audit,
    deadline_label,
    milestone_of,
    milestones_of,
    own_assignment,
    refuse_if_request_pending,
    status_label,
)
from bot.commands.registry import CommandError, Context, command
from models.org import Member
from models.plan import CANCELLED, DONE, MILESTONE, REVIEW, Assignment, Item
from models.progress import ExtensionRequest

_OWNER = re.compile(r"[（(\[【]?\s*责任人\s*[:：]?\s*([A-Za-z0-9_.@-]{1,64})\s*[）)\]】]?\s*$")


def _share(ctx: Context, item: Item, unit_match) -> Assignment:
    """The share a milestone belongs to: the caller's unit's, or (for the office) the unit named."""
    if unit_match is None:
        return own_assignment(ctx, item)
    if not ctx.is_admin and not (ctx.member and ctx.member.unit_id == unit_match.unit.id):
        raise CommandError("只能为本单位设节点；办公室可以为任何单位设。", show_usage=False)
    share = Assignment.get_or_none(
        (Assignment.item == item) & (Assignment.unit == unit_match.unit) & Assignment.shares()
    )
    if share is None:
        raise CommandError(f"{item.code} 不是{unit_match.unit.name}的责任事项。", show_usage=False)
    return share


def _split_owner(text: str) -> tuple[str, str]:
    """ "完成摸底 [责任人 wang]" -> ("完成摸底", "wang")."""
    match = _OWNER.search(text)
    if not match:
        return text.strip(), ""
    return text[: match.start()].strip(" ，,；;"), match.group(1)


def _may_change(ctx: Context, share: Assignment) -> None:
    if ctx.is_admin:
        return
    if ctx.member is None or ctx.member.unit_id != share.unit_id:
        raise CommandError("只能修改本单位的节点。", show_usage=False)


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
def add_milestone(ctx: Context, args) -> str:
    item = args.item
    share = _share(ctx, item, args.unit)
    if share.status in (DONE, CANCELLED):
        raise CommandError(
            f"{item.code} 已{'完成' if share.status == DONE else '撤销'}，无需再设节点。",
            show_usage=False,
        )
    work, owner = _split_owner(args.work)
    if not work:
        raise CommandError("请写明节点的工作内容。")
    if args.date < ctx.today:
        raise CommandError(f"节点日期 {args.date} 已经过去，请写今天或以后的日期。")
    seq = (
        Assignment.select(peewee.fn.MAX(Assignment.seq))
        .where((Assignment.parent == share) & (Assignment.kind == MILESTONE))
        .scalar()
        or 0
    ) + 1
    milestone = Assignment.create(
        item=item,
        unit=share.unit_id,
        role=share.role,
        kind=MILESTONE,
        slot=f"m{seq}",
        parent=share,
        seq=seq,
        title=work[:200],
        owner_userid=owner,
        deadline=args.date,
        deadline_set_on=ctx.today,
        updated_at=ctx.now,
    )
    audit(
        ctx,
        "milestone",
        f"{share.unit.name}为 {item.code} 设节点 {milestone.code}：{args.date} {work}"
        + (f"（责任人 {owner}）" if owner else ""),
        item_code=item.code,
        unit_name=share.unit.name,
        after={"milestone": milestone.code, "deadline": str(args.date), "owner": owner},
    )
    bound = owner and Member.get_or_none((Member.wecom_userid == owner) & (Member.active == True))  # noqa: E712
    if bound and owner != ctx.userid:
        text = ctx.renderer.render("milestone_owner.j2", m=milestone, unit=share.unit)
        ctx.outbox.to_members([owner], text, f"milestone-owner:{milestone.id}:{owner}")
    return ctx.say(
        "replies.j2",
        "milestone_added",
        m=milestone,
        owner=owner,
        owner_bound=bool(bound),
        count=len(milestones_of(share)),
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
        & (Assignment.kind == MILESTONE)
        & (Assignment.status != CANCELLED)
    )
    if args.unit is not None:
        query = query.where(Assignment.unit == args.unit.unit)
    elif not ctx.may("leader"):
        if ctx.member is None or ctx.member.unit_id is None:
            raise CommandError("您还没有绑定单位。", show_usage=False)
        query = query.where(Assignment.unit == ctx.member.unit_id)
    rows = list(query.order_by(Assignment.unit, Assignment.seq))
    return ctx.renderer.render(
        "milestone_list.j2",
        item=item,
        rows=[
            {
                "m": m,
                "status": status_label(ctx, m),
                "deadline": deadline_label(m.deadline, m.ongoing),
            }
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
def edit_milestone(ctx: Context, args) -> str:
    share, milestone = _milestone(ctx, args.item)
    _may_change(ctx, share)
    work, owner = _split_owner(args.work)
    before = {"work": milestone.title, "owner": milestone.owner_userid}
    changes = {}
    if work:
        changes["title"] = work[:200]
    if owner:
        changes["owner_userid"] = owner
    same = (
        changes.get("title", milestone.title) == milestone.title
        and changes.get("owner_userid", milestone.owner_userid) == milestone.owner_userid
    )
    if not changes or same:
        raise CommandError(f"{milestone.code} 没有变化。", show_usage=False)
    Assignment.update(updated_at=ctx.now, **changes).where(Assignment.id == milestone.id).execute()
    milestone = Assignment.get_by_id(milestone.id)
    audit(
        ctx,
        "milestone_edit",
        f"修改节点 {milestone.code}：{milestone.title}"
        + (f"（责任人 {milestone.owner_userid}）" if milestone.owner_userid else ""),
        item_code=milestone.item.code,
        unit_name=milestone.unit.name,
        before=before,
        after={"work": milestone.title, "owner": milestone.owner_userid},
    )
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
def remove_milestone(ctx: Context, args) -> str:
    share, milestone = _milestone(ctx, args.item)
    _may_change(ctx, share)
    if milestone.status in (DONE, REVIEW):
        raise CommandError(f"{milestone.code} 已报告完成，不能删除。", show_usage=False)
    if ctx.is_admin:
        return remove(ctx, milestone, args.reason)
    refuse_if_request_pending(milestone)
    request = ExtensionRequest.create(
        assignment=milestone,
        kind="removal",
        wecom_userid=ctx.userid,
        old_deadline=milestone.deadline,
        requested_deadline=None,
        reason=args.reason,
        created_at=ctx.now,
    )
    audit(
        ctx,
        "removal_request",
        f"{share.unit.name}申请删除节点 {milestone.code}：{args.reason}（申请 {request.id}）",
        item_code=milestone.item.code,
        unit_name=share.unit.name,
        after={"request": request.id},
    )
    notice = ctx.renderer.render(
        "removal_to_admins.j2",
        request=request,
        m=milestone,
        requester=ctx.member.label if ctx.member else ctx.userid,
    )
    admins = admin_userids(ctx)
    if admins:
        ctx.outbox.to_members(admins, notice, f"removal-request:{request.id}")
    return ctx.say("replies.j2", "removal_requested", request=request, m=milestone)


def remove(ctx: Context, milestone: Assignment, reason: str) -> str:
    """Remove a milestone: kept on record as 已撤销, no longer reminded or counted."""
    Assignment.update(status=CANCELLED, updated_at=ctx.now).where(
        Assignment.id == milestone.id
    ).execute()
    audit(
        ctx,
        "milestone_remove",
        f"删除节点 {milestone.code}：{reason}",
        item_code=milestone.item.code,
        unit_name=milestone.unit.name,
        before={"status": milestone.status},
        after={"status": CANCELLED, "reason": reason},
    )
    return ctx.say("replies.j2", "milestone_removed", m=milestone)


def _milestone(ctx: Context, ref) -> tuple[Assignment, Assignment]:
    if ref.seq is None:
        raise CommandError(f"请写节点编号，如 {ref.item.code}-1。")
    if ctx.member is not None and ctx.member.unit_id is not None and not ctx.is_admin:
        share = own_assignment(ctx, ref.item)
        return share, milestone_of(share, ref.seq)
    # The office: the milestone number is per unit, so it must be unique across units.
    found = list(
        Assignment.select().where(
            (Assignment.item == ref.item)
            & (Assignment.kind == MILESTONE)
            & (Assignment.seq == ref.seq)
            & (Assignment.status != CANCELLED)
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


def derived_progress(share: Assignment) -> tuple[int, int] | None:
    """(done, all) of the share's milestones, or None when it has none."""
    rows = milestones_of(share)
    if not rows:
        return None
    return sum(1 for m in rows if m.status == DONE), len(rows)
