"""Deadlines and responsibility: the office sets deadlines (期限, or an imported sheet), adds
responsible units (分配) and names the lead (牵头); units ask for more time (延期) or to drop a
milestone, and the office decides (批准 / 驳回)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from bot.actions.base import Acting, Refused, liaison_ids, liaisons_by_unit
from bot.actions.leader_loop import report_back
from bot.actions.lookup import refuse_if_request_pending
from bot.actions.milestones import remove_milestone
from models.org import Unit
from models.plan import Assignment, Item, ItemKind, Part, Role, Status
from models.progress import ExtensionRequest, RequestKind, RequestStatus
from reminders.jobs import told_today
from reminders.ladder import overdue_workdays
from reminders.state import deadline_label

EARLIEST_DEADLINE = date(2023, 1, 1)  # the plan was issued in 2023: earlier dates are typos


def check_deadline(acting: Acting, item: Item, deadline: date | None) -> None:
    if deadline is not None and deadline < EARLIEST_DEADLINE:
        raise Refused(f"期限 {deadline} 早于方案印发的 2023 年，请检查年份。")
    if item.is_recurring:
        raise Refused(f"{item.code} 是定期报送（{item.recurrence}），每期的期限按周期自动计算。")
    if item.cancelled_at is not None:
        raise Refused(f"{item.code} 已撤销，不能再设期限。")


def _write_deadline(acting: Acting, a: Assignment, deadline: date | None, ongoing: str) -> None:
    before = deadline_label(a.deadline, a.ongoing)
    Assignment.update(
        deadline=deadline,
        ongoing="" if deadline else ongoing,  # a date now: no longer 长期坚持
        updated_at=acting.now,
        deadline_set_on=a.deadline_set_on or (acting.today if deadline else None),
    ).where(Assignment.id == a.id).execute()
    what = (
        f"节点 {a.code}（{a.unit.name}）" if a.kind == Part.MILESTONE else f"{a.code} {a.unit.name}"
    )
    acting.audit(
        "deadline",
        f"{what}期限：{before} → {deadline_label(deadline, ongoing)}",
        item_code=a.item.code,
        unit_name=a.unit.name,
        before={"deadline": str(a.deadline) if a.deadline else None, "ongoing": a.ongoing},
        after={
            "deadline": str(deadline) if deadline else None,
            "ongoing": "" if deadline else ongoing,
            **({"milestone": a.code} if a.kind == Part.MILESTONE else {}),
        },
    )


def _notice(acting: Acting, changed: list[Assignment], deadline: date | None, ongoing: str) -> int:
    """Tell the people of each unit whose open work changed; their notice stands for today's
    reminder. Returns how many people were told."""
    open_rows = [a for a in changed if a.status == Status.OPEN]
    people = liaisons_by_unit(a.unit_id for a in open_rows)
    told = 0
    reminded = []
    for a in open_rows:
        userids = {m.wecom_userid for m in people[a.unit_id]}
        if a.owner_userid:
            userids.add(a.owner_userid)
        if not userids:
            continue
        reminded.append(Assignment.get_by_id(a.id))
        when = deadline_label(deadline, ongoing)
        if a.kind == Part.MILESTONE:
            text = acting.renderer.render("milestone_deadline_notice.j2", m=a, deadline=when)
        else:
            text = acting.renderer.render("deadline_notice.j2", item=a.item, deadline=when)
        line = f"{a.code} 期限改为 {when}"
        told += acting.tell_unit(
            a.unit_id, userids, text, f"deadline:{acting.cause}:{a.id}", line=line
        )
    told_today(reminded, acting.now, acting.config, acting.calendar)
    return told


def set_share_deadline(
    acting: Acting, share: Assignment, deadline: date | None, ongoing: str = ""
) -> bool:
    """Set one unit's deadline (a date, or 长期坚持 with none); False when it already was."""
    check_deadline(acting, share.item, deadline)
    if share.deadline == deadline and bool(share.ongoing) == bool(ongoing and not deadline):
        return False
    _write_deadline(acting, share, deadline, ongoing)
    _notice(acting, [share], deadline, ongoing)
    return True


@dataclass(frozen=True)
class DeadlineSet:
    item: Item
    deadline: date
    target: str  # 全部责任单位, or the unit or group named
    count: int  # shares named
    changed: int
    notified: int
    unbound: list[str]  # units whose open share changed but have no liaison
    overdue: int  # working days the new deadline is already past


def set_deadline(
    acting: Acting, item: Item, deadline: date, units: list[Unit] | None = None, target: str = ""
) -> DeadlineSet:
    """期限: the deadline of the units' shares of `item` (all of them when none is named)."""
    check_deadline(acting, item, deadline)
    query = Assignment.select().where((Assignment.item == item) & (Assignment.kind == Part.SHARE))
    if units is not None:
        query = query.where(Assignment.unit.in_([u.id for u in units] or [0]))
    target = target or "全部责任单位"
    shares = list(query.order_by(Assignment.id))
    if not shares:
        raise Refused(f"{item.code} 没有分配给{target}。可先用“分配”添加责任单位。")
    changed = [a for a in shares if a.deadline != deadline or a.ongoing]
    for a in changed:
        _write_deadline(acting, a, deadline, "")
    notified = _notice(acting, changed, deadline, "")
    people = liaisons_by_unit(a.unit_id for a in shares)
    unbound = sorted(
        {a.unit.name for a in shares if a.status == Status.OPEN and not people[a.unit_id]}
    )
    return DeadlineSet(
        item,
        deadline,
        target,
        len(shares),
        len(changed),
        notified,
        unbound,
        overdue_workdays(deadline, acting.today, acting.calendar),
    )


def set_milestone_deadline(
    acting: Acting, milestone: Assignment, deadline: date | None, ongoing: str = ""
) -> bool:
    """The office moves a milestone's date directly (units ask with 延期 T7-1 …)."""
    if deadline is not None and deadline < EARLIEST_DEADLINE:
        raise Refused(f"期限 {deadline} 早于方案印发的 2023 年，请检查年份。")
    if milestone.status == Status.CANCELLED:
        raise Refused(f"节点 {milestone.code} 已删除。")
    if milestone.deadline == deadline and bool(milestone.ongoing) == bool(ongoing and not deadline):
        return False
    _write_deadline(acting, milestone, deadline, ongoing)
    _notice(acting, [milestone], deadline, ongoing)
    return True


# ------------------------------------------------------------------------------ extensions


def request_extension(
    acting: Acting, target: Assignment, new_deadline: date, reason: str
) -> ExtensionRequest:
    """延期: the unit asks the office for a later deadline; nothing moves until it is approved."""
    code = target.code
    if target.status == Status.DONE:
        raise Refused(f"{code} 已完成，无需延期。")
    if target.deadline is None:
        raise Refused(f"{code} 还没有设定期限，无需申请延期。")
    if new_deadline <= target.deadline:
        raise Refused(f"新期限 {new_deadline} 应晚于现在的期限 {target.deadline}。")
    if new_deadline < acting.today:
        raise Refused(f"新期限 {new_deadline} 已经过去，请写今天以后的日期。")
    if not reason.strip():
        raise Refused("请写明延期的原因。")
    refuse_if_request_pending(target)
    request = ExtensionRequest.create(
        assignment=target,
        wecom_userid=acting.userid,
        old_deadline=target.deadline,
        requested_deadline=new_deadline,
        reason=reason,
        created_at=acting.now,
    )
    acting.audit(
        "extension_request",
        f"{target.unit.name}申请将 {code} 延期至 {new_deadline}：{reason}（申请 {request.id}）",
        item_code=target.item.code,
        unit_name=target.unit.name,
        before={"deadline": str(target.deadline)},
        after={"requested_deadline": str(new_deadline), "request": request.id},
    )
    notice = acting.renderer.render(
        "extension_to_admins.j2",
        request=request,
        item=target.item,
        unit=target.unit,
        requester=acting.name,
    )
    acting.tell(acting.admins(), notice, f"extension-request:{request.id}")
    return request


def pending_request(number: int) -> ExtensionRequest:
    request = ExtensionRequest.get_or_none(ExtensionRequest.id == number)
    if request is None:
        raise Refused(f"没有编号为 {number} 的延期申请。")
    if request.status != RequestStatus.PENDING:
        raise Refused(f"延期申请 {number} {request.status_label}，不能再次处理。")
    return request


@dataclass(frozen=True)
class Decided:
    request: ExtensionRequest
    approved: bool


def decide_request(
    acting: Acting, request: ExtensionRequest, *, approved: bool, note: str = ""
) -> Decided:
    """批准 / 驳回 a unit's request: move the deadline (or remove the milestone) if approved,
    tell the requester, log it."""
    if not acting.is_admin:
        raise Refused("只有领导小组办公室可以审批申请。")
    if request.status != RequestStatus.PENDING:
        raise Refused(f"申请 {request.id} {request.status_label}，不能再次处理。")
    target = request.assignment
    ExtensionRequest.update(
        status=RequestStatus.APPROVED if approved else RequestStatus.REJECTED,
        decided_by=acting.userid,
        decided_at=acting.now,
        decision_note=note,
    ).where(ExtensionRequest.id == request.id).execute()
    what = f"节点 {target.code}" if target.kind == Part.MILESTONE else target.code
    if request.kind == RequestKind.REMOVAL:
        if approved:
            remove_milestone(acting, target, request.reason)
        else:
            acting.audit(
                "removal_rejected",
                f"驳回删除节点 {target.code} 的申请 {request.id}" + (f"：{note}" if note else ""),
                item_code=target.item.code,
                unit_name=target.unit.name,
                after={"request": request.id, "note": note},
            )
        text = acting.renderer.render(
            "removal_decided.j2", request=request, m=target, approved=approved, note=note
        )
        acting.tell([request.wecom_userid], text, f"removal-decided:{request.id}")
        return Decided(request, approved)
    if approved:
        Assignment.update(
            deadline=request.requested_deadline, ongoing="", updated_at=acting.now
        ).where(Assignment.id == target.id).execute()
        summary = (
            f"批准延期申请 {request.id}：{what} {target.unit.name}期限 "
            f"{deadline_label(target.deadline, target.ongoing)} → {request.requested_deadline}"
        )
        before = {"deadline": str(target.deadline) if target.deadline else None}
        after = {"deadline": str(request.requested_deadline), "request": request.id}
    else:
        summary = f"驳回延期申请 {request.id}（{what} {target.unit.name}）" + (
            f"：{note}" if note else ""
        )
        before, after = (
            {"status": RequestStatus.PENDING},
            {"status": RequestStatus.REJECTED, "note": note},
        )
    acting.audit(
        "extension_approved" if approved else "extension_rejected",
        summary,
        item_code=target.item.code,
        unit_name=target.unit.name,
        before=before,
        after=after,
    )
    text = acting.renderer.render(
        "extension_decided.j2", request=request, item=target.item, approved=approved, note=note
    )
    acting.tell([request.wecom_userid], text, f"extension-decided:{request.id}")
    if approved:
        told_today([Assignment.get_by_id(target.id)], acting.now, acting.config, acting.calendar)
        report_back(
            acting,
            target.item,
            "延期",
            f"{target.unit.name}的{what}期限延至 {request.requested_deadline}"
            f"（原 {request.old_deadline}）：{request.reason}",
            f"extend:{request.id}",
        )
    return Decided(request, approved)


def approved_extension(share: Assignment) -> ExtensionRequest | None:
    """The approved extension the share's current deadline comes from, if it does."""
    if share.deadline is None:
        return None
    found: ExtensionRequest | None = (
        ExtensionRequest.select()
        .where(
            (ExtensionRequest.assignment == share)
            & (ExtensionRequest.kind == RequestKind.EXTENSION)
            & (ExtensionRequest.status == RequestStatus.APPROVED)
            & (ExtensionRequest.requested_deadline == share.deadline)
        )
        .order_by(ExtensionRequest.id.desc())
        .first()
    )
    return found


# ------------------------------------------------------------------- units, leads


def add_share(
    acting: Acting,
    item: Item,
    unit: Unit,
    role: Role,
    *,
    via_group: str = "",
    deadline: date | None = None,
    ongoing: str = "",
) -> Assignment:
    """Make `unit` responsible for `item` (its share), telling its liaisons."""
    if (
        Assignment.select()
        .where(
            (Assignment.item == item) & (Assignment.unit == unit) & (Assignment.kind == Part.SHARE)
        )
        .exists()
    ):
        raise Refused(f"{unit.name}已是 {item.code} 的责任单位。")
    if role == Role.LEAD:
        Assignment.update(role=Role.CO).where(
            (Assignment.item == item) & (Assignment.role == Role.LEAD)
        ).execute()
    share = Assignment.create(
        item=item,
        unit=unit,
        role=role,
        via_group=via_group if role != Role.LEAD else "",
        deadline=deadline,
        ongoing="" if deadline else ongoing,
        deadline_set_on=acting.today if deadline else None,
        updated_at=acting.now,
    )
    label = "牵头" if role == Role.LEAD else "配合"
    when = f"，期限 {deadline_label(deadline, ongoing)}" if deadline or ongoing else ""
    acting.audit(
        "assign",
        f"{item.code} 增加责任单位 {unit.name}（{label}）{when}",
        item_code=item.code,
        unit_name=unit.name,
        after={
            "role": role,
            "deadline": str(deadline) if deadline else None,
            "ongoing": ongoing,
        },
    )
    line = f"{item.code} {item.title} 增加本单位为责任单位（{label}）{when}"
    acting.tell_unit(
        unit.id,
        liaison_ids(unit.id),
        f"【分工】{line}",
        f"share:{acting.cause}:{share.id}",
        line=line,
    )
    return share


@dataclass(frozen=True)
class UnitsAdded:
    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)


def add_units(acting: Acting, item: Item, named: list[tuple[list[Unit], str]]) -> UnitsAdded:
    """分配: more responsible units, each (units, group name or ""). When the item has no lead,
    the first unit named directly (not through a group) leads, as the plan's own brackets read."""
    has_lead = (
        Assignment.select()
        .where((Assignment.item == item) & (Assignment.role == Role.LEAD))
        .exists()
    )
    existing = {a.unit_id for a in Assignment.select().where(Assignment.item == item)}
    result = UnitsAdded()
    for units, group in named:
        for unit in units:
            if unit.id in existing:
                result.already.append(unit.name)
                continue
            role = Role.LEAD if not has_lead and not group else Role.CO
            has_lead = has_lead or role == Role.LEAD
            add_share(acting, item, unit, role, via_group=group)
            existing.add(unit.id)
            result.added.append(unit.name)
    if not result.added:
        raise Refused(f"这些单位都已是 {item.code} 的责任单位：" + "、".join(result.already))
    return result


def set_lead(acting: Acting, item: Item, unit: Unit) -> str | None:
    """牵头: `unit` leads `item`, the unit that led it (returned, or None) becomes a co unit."""
    shares = list(
        Assignment.select().where((Assignment.item == item) & (Assignment.kind == Part.SHARE))
    )
    chosen = next((a for a in shares if a.unit_id == unit.id), None)
    if chosen is None:
        raise Refused(
            f"{unit.name}不是 {item.code} 的责任单位，请先“分配 {item.code} {unit.short_name or unit.name}”。"
        )
    before = next((a.unit.name for a in shares if a.role == Role.LEAD), None)
    if before == unit.name:
        raise Refused(f"{unit.name}已经是 {item.code} 的牵头单位。")
    Assignment.update(role=Role.CO).where(
        (Assignment.item == item) & (Assignment.role == Role.LEAD) & (Assignment.unit != unit)
    ).execute()
    Assignment.update(role=Role.LEAD, via_group="").where(
        (Assignment.item == item) & (Assignment.unit == unit)
    ).execute()
    acting.audit(
        "lead",
        f"{item.code} 牵头单位：{before or '未指定'} → {unit.name}",
        item_code=item.code,
        unit_name=unit.name,
        before={"lead": before},
        after={"lead": unit.name},
    )
    return before


def items_without_lead() -> list[Item]:
    """Plan items with responsible units but no lead: the office must settle who leads."""
    led = Assignment.select(Assignment.item).where(
        (Assignment.kind == Part.SHARE) & (Assignment.role == Role.LEAD)
    )
    return list(
        Item.select()
        .where(
            (Item.kind != ItemKind.ASSIGNED)
            & Item.id.not_in(led)
            & Item.id.in_(Assignment.select(Assignment.item).where(Assignment.kind == Part.SHARE))
        )
        .order_by(Item.position)
    )
