"""实施细则: a unit breaks its share of an item into milestones (节点 T7-1, T7-2… numbered per
unit), each with a date, the work and optionally a 责任人. The share's progress follows the
milestones passed (reminders.state). Removing one is asked of the office unless the office
does it; a removed milestone is kept on record as 已撤销."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import peewee

from bot.actions.base import Acting, Refused, liaison_ids
from bot.actions.lookup import refuse_if_request_pending
from models import userids
from models.org import find_member, stored_userid
from models.plan import Assignment, Part, Status
from models.progress import ExtensionRequest, RequestKind
from reminders.state import milestones_of


def may_change(acting: Acting, share: Assignment) -> None:
    if acting.is_admin:
        return
    if acting.member is None or acting.member.unit_id != share.unit_id:
        raise Refused("只能修改本单位的节点；办公室可以修改任何单位的。")


@dataclass(frozen=True)
class MilestoneAdded:
    milestone: Assignment
    owner_bound: bool
    count: int  # the share's milestones, this one included


def _owner(owner: str) -> str:
    """A 责任人 as WeCom's rule allows (never @all), in the form the member is bound under."""
    if not owner:
        return ""
    why = userids.problem(owner)
    if why:
        raise Refused(f"责任人{why}。")
    return stored_userid(owner)


def add_milestone(
    acting: Acting,
    share: Assignment,
    deadline: date | None,
    work: str,
    owner: str = "",
    *,
    ongoing: str = "",
    seq: int | None = None,
    allow_past: bool = False,
) -> MilestoneAdded:
    """A new milestone of the unit's share. `seq`: the number an import's dry run fixed;
    `allow_past`: a sheet may record milestones already behind (chat asks for a future date)."""
    may_change(acting, share)
    owner = _owner(owner)
    item = share.item
    if share.status in (Status.DONE, Status.CANCELLED):
        state = "完成" if share.status == Status.DONE else "撤销"
        raise Refused(f"{item.code} 已{state}，无需再设节点。")
    work = work.strip()
    if not work:
        raise Refused("请写明节点的工作内容。")
    if deadline is not None and deadline < acting.today and not allow_past:
        raise Refused(f"节点日期 {deadline} 已经过去，请写今天或以后的日期。")
    if seq is None:
        seq = (
            Assignment.select(peewee.fn.MAX(Assignment.seq))
            .where((Assignment.parent == share) & (Assignment.kind == Part.MILESTONE))
            .scalar()
            or 0
        ) + 1
    milestone = Assignment.create(
        item=item,
        unit=share.unit_id,
        role=share.role,
        kind=Part.MILESTONE,
        slot=f"m{seq}",
        parent=share,
        seq=seq,
        title=work[:200],
        owner_userid=owner,
        deadline=deadline,
        ongoing="" if deadline else ongoing,
        deadline_set_on=acting.today,
        updated_at=acting.now,
    )
    when = str(deadline) if deadline else ongoing or "未设期限"
    acting.audit(
        "milestone",
        f"{share.unit.name}为 {item.code} 设节点 {milestone.code}：{when} {work}"
        + (f"（责任人 {owner}）" if owner else ""),
        item_code=item.code,
        unit_name=share.unit.name,
        after={
            "milestone": milestone.code,
            "deadline": str(deadline) if deadline else None,
            "ongoing": ongoing,
            "owner": owner,
        },
    )
    bound = bool(owner) and find_member(owner, active=True) is not None
    if bound and not userids.same(owner, acting.userid):
        text = acting.renderer.render("milestone_owner.j2", m=milestone, unit=share.unit)
        acting.tell([owner], text, f"milestone-owner:{milestone.id}:{owner}")
    if acting.userid not in liaison_ids(share.unit_id):
        line = f"新节点 {milestone.code} {work}（{when}）"
        acting.tell_unit(
            share.unit_id, liaison_ids(share.unit_id), line, f"milestone:{milestone.id}", line=line
        )
    return MilestoneAdded(milestone, bound, len(milestones_of(share)))


def edit_milestone(acting: Acting, milestone: Assignment, work: str, owner: str) -> Assignment:
    """Change a milestone's work or 责任人 (its date moves by 延期 or by the office's 期限)."""
    may_change(acting, milestone)
    if milestone.status in (Status.DONE, Status.CANCELLED):
        raise Refused(
            f"{milestone.code} 已{'完成' if milestone.status == Status.DONE else '删除'}，不能再改。"
        )
    owner = _owner(owner)
    before = {"work": milestone.title, "owner": milestone.owner_userid}
    changes = {}
    if work.strip():
        changes["title"] = work.strip()[:200]
    if owner:
        changes["owner_userid"] = owner
    same = (
        changes.get("title", milestone.title) == milestone.title
        and changes.get("owner_userid", milestone.owner_userid) == milestone.owner_userid
    )
    if not changes or same:
        raise Refused(f"{milestone.code} 没有变化。")
    Assignment.update(updated_at=acting.now, **changes).where(
        Assignment.id == milestone.id
    ).execute()
    milestone = Assignment.get_by_id(milestone.id)
    acting.audit(
        "milestone_edit",
        f"修改节点 {milestone.code}：{milestone.title}"
        + (f"（责任人 {milestone.owner_userid}）" if milestone.owner_userid else ""),
        item_code=milestone.item.code,
        unit_name=milestone.unit.name,
        before=before,
        after={"work": milestone.title, "owner": milestone.owner_userid},
    )
    return milestone


def request_removal(acting: Acting, milestone: Assignment, reason: str) -> ExtensionRequest:
    """A unit asks the office to remove one of its milestones."""
    may_change(acting, milestone)
    if milestone.status in (Status.DONE, Status.REVIEW):
        raise Refused(f"{milestone.code} 已报告完成，不能删除。")
    if not reason.strip():
        raise Refused("请写明删除节点的原因。")
    refuse_if_request_pending(milestone)
    request = ExtensionRequest.create(
        assignment=milestone,
        kind=RequestKind.REMOVAL,
        wecom_userid=acting.userid,
        old_deadline=milestone.deadline,
        requested_deadline=None,
        reason=reason,
        created_at=acting.now,
    )
    acting.audit(
        "removal_request",
        f"{milestone.unit.name}申请删除节点 {milestone.code}：{reason}（申请 {request.id}）",
        item_code=milestone.item.code,
        unit_name=milestone.unit.name,
        after={"request": request.id},
    )
    notice = acting.renderer.render(
        "removal_to_admins.j2", request=request, m=milestone, requester=acting.name
    )
    acting.tell(acting.admins(), notice, f"removal-request:{request.id}")
    return request


def remove_milestone(acting: Acting, milestone: Assignment, reason: str) -> None:
    """Remove a milestone (the office): kept on record as 已撤销, no longer reminded or counted."""
    if not acting.is_admin:
        raise Refused("删除节点须经办公室批准：发送“节点 删除 编号 原因”提出申请。")
    if milestone.status in (Status.DONE, Status.REVIEW):
        raise Refused(f"{milestone.code} 已报告完成，不能删除。")
    if milestone.status == Status.CANCELLED:
        raise Refused(f"{milestone.code} 已删除。")
    Assignment.update(status=Status.CANCELLED, updated_at=acting.now).where(
        Assignment.id == milestone.id
    ).execute()
    acting.audit(
        "milestone_remove",
        f"删除节点 {milestone.code}：{reason}",
        item_code=milestone.item.code,
        unit_name=milestone.unit.name,
        before={"status": milestone.status},
        after={"status": Status.CANCELLED, "reason": reason},
    )
