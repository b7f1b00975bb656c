"""What a person may act on: their unit's share of an item, one of its milestones, the occurrence
of a recurring report due now. Each look-up refuses in Chinese when there is nothing to act on."""

from __future__ import annotations

from bot.actions.base import Acting, Refused
from models.org import Unit
from models.plan import Assignment, Item, Part, Status
from models.progress import ExtensionRequest, RequestStatus
from reminders.state import milestones_of


def require_unit(acting: Acting) -> Unit:
    if acting.member is None or acting.member.unit is None:
        raise Refused("您还没有绑定单位，请联系领导小组办公室绑定。")
    return acting.member.unit


def share_of(item: Item, unit: Unit | int) -> Assignment | None:
    share = Assignment.get_or_none(
        (Assignment.item == item) & (Assignment.unit == unit) & (Assignment.kind == Part.SHARE)
    )
    if share is not None:
        share.item = item  # already loaded: not read again
    return share


def own_share(acting: Acting, item: Item) -> Assignment:
    """The acting person's unit's share of `item`."""
    unit = require_unit(acting)
    share = share_of(item, unit)
    if share is None:
        raise Refused(
            f"{item.code} 不是{unit.name}的责任事项，只能报告本单位承担的任务。发送“我的任务”查看。"
        )
    share.unit = unit
    return share


def current_occurrence(share: Assignment) -> Assignment | None:
    """A recurring item's occurrence the unit reports now: the earliest one not yet done."""
    found: Assignment | None = (
        Assignment.select()
        .where(
            (Assignment.parent == share)
            & (Assignment.kind == Part.OCCURRENCE)
            & (Assignment.status.in_((Status.OPEN, Status.REVIEW)))
        )
        .order_by(Assignment.deadline)
        .first()
    )
    return found


def milestone_of(share: Assignment, seq: int) -> Assignment:
    """The share's milestone number `seq`, or a refusal naming the ones there are."""
    found = [m for m in milestones_of(share) if m.seq == seq]
    if found:
        return found[0]
    others = "、".join(m.code for m in milestones_of(share))
    code = f"{share.item.code}-{seq}"
    if others:
        raise Refused(f"{code} 不存在：{share.unit.name}的 {share.item.code} 节点有 {others}。")
    raise Refused(
        f"{code} 不存在：{share.unit.name}的 {share.item.code} 还没有节点。"
        f"添加：节点 {share.item.code} 日期 工作内容。"
    )


def own_target(acting: Acting, item: Item, seq: int | None = None) -> Assignment:
    """What a report about `item` is about: the unit's share, one of its milestones (seq), or
    for a recurring item the occurrence due now (a report for March's does not answer April's)."""
    share = own_share(acting, item)
    if share.status == Status.CANCELLED or item.cancelled_at is not None:
        raise Refused(f"{item.code} 已撤销，无需再报告。")
    if seq is not None:
        return milestone_of(share, seq)
    if not item.is_recurring:
        return share
    occurrence = current_occurrence(share)
    if occurrence is None:
        raise Refused(f"{item.code}（{item.recurrence}）目前没有待报送的一期。")
    occurrence.item, occurrence.unit = item, share.unit
    return occurrence


def refuse_if_request_pending(assignment: Assignment) -> None:
    """One request at a time per deadline (an extension, or a milestone's removal)."""
    pending = ExtensionRequest.get_or_none(
        (ExtensionRequest.assignment == assignment)
        & (ExtensionRequest.status == RequestStatus.PENDING)
    )
    if pending is not None:
        raise Refused(
            f"{assignment.code} 已有一份待审批的申请（编号 {pending.id}），请等待办公室审批。"
        )


def short(assignment: Assignment) -> str:
    """How to name one unit's part in a reply: "T7 市监局", "T7-2 市监局"."""
    return f"{assignment.code} {assignment.unit.short_name or assignment.unit.name}"
