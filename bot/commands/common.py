"""Look-ups and wording the command handlers share; each refusal is a CommandError in Chinese."""

from __future__ import annotations

from datetime import date

from bot.commands.registry import CommandError, Context
from models import org
from models.audit import AuditEntry
from models.org import Member, Unit, UnitMatch, match_unit
from models.plan import CANCELLED, MILESTONE, OCCURRENCE, OPEN, REVIEW, Assignment, Item
from models.progress import ExtensionRequest
from reminders.calendar import WorkCalendar
from reminders.ladder import (
    DONE,
    EXTENSION,
    IN_PROGRESS,
    OVERDUE,
    REVIEWING,
    STATUS_LABELS,
    WITHDRAWN,
    overdue_text,
    overdue_workdays,
    status_of,
)
from reminders.stored import load_calendar


def calendar(ctx: Context) -> WorkCalendar:
    """The working-day calendar, read once per message."""
    if getattr(ctx, "_calendar", None) is None:
        ctx._calendar = load_calendar()
    return ctx._calendar


def require_unit(ctx: Context) -> Unit:
    if ctx.member is None or ctx.member.unit is None:
        raise CommandError("您还没有绑定单位，请联系领导小组办公室绑定。", show_usage=False)
    return ctx.member.unit


def own_assignment(ctx: Context, item: Item) -> Assignment:
    """The caller's unit's share of `item`."""
    unit = require_unit(ctx)
    assignment = Assignment.get_or_none(
        (Assignment.item == item) & (Assignment.unit == unit) & Assignment.shares()
    )
    if assignment is None:
        raise CommandError(
            f"{item.code} 不是{unit.name}的责任事项，只能报告本单位承担的任务。发送“我的任务”查看。",
            show_usage=False,
        )
    assignment.item, assignment.unit = item, unit  # already loaded: not read again
    return assignment


def current_occurrence(share: Assignment) -> Assignment | None:
    """A recurring item's occurrence the unit reports now: the earliest one not yet done."""
    return (
        Assignment.select()
        .where(
            (Assignment.parent == share)
            & (Assignment.kind == OCCURRENCE)
            & (Assignment.status.in_((OPEN, REVIEW)))
        )
        .order_by(Assignment.deadline)
        .first()
    )


def milestones_of(share: Assignment, *, with_removed: bool = False) -> list[Assignment]:
    """A unit's milestones (实施细则 节点) of its share, by number."""
    query = Assignment.select().where((Assignment.parent == share) & (Assignment.kind == MILESTONE))
    if not with_removed:
        query = query.where(Assignment.status != CANCELLED)
    return list(query.order_by(Assignment.seq))


def milestone_of(share: Assignment, seq: int) -> Assignment:
    """The share's milestone number `seq`, or a refusal naming the ones there are."""
    found = [m for m in milestones_of(share) if m.seq == seq]
    if found:
        return found[0]
    others = "、".join(m.code for m in milestones_of(share))
    code = f"{share.item.code}-{seq}"
    if others:
        raise CommandError(
            f"{code} 不存在：{share.unit.name}的 {share.item.code} 节点有 {others}。"
        )
    raise CommandError(
        f"{code} 不存在：{share.unit.name}的 {share.item.code} 还没有节点。"
        f"添加：节点 {share.item.code} 日期 工作内容。"
    )


def own_target(ctx: Context, item: Item, seq: int | None = None) -> Assignment:
    """What a report about `item` is about: the unit's share, one of its milestones (seq), or
    for a recurring item the occurrence due now (a report for March's does not answer April's)."""
    share = own_assignment(ctx, item)
    if share.status == CANCELLED or item.cancelled_at is not None:
        raise CommandError(f"{item.code} 已撤销，无需再报告。", show_usage=False)
    if seq is not None:
        return milestone_of(share, seq)
    if not item.is_recurring:
        return share
    occurrence = current_occurrence(share)
    if occurrence is None:
        raise CommandError(
            f"{item.code}（{item.recurrence}）目前没有待报送的一期。", show_usage=False
        )
    return occurrence


def open_work(unit_ids: list[int], *, with_review: bool = True) -> list[Assignment]:
    """What units still owe, one row each: their shares of plan items and of one-off 交办 items,
    and the occurrence due now of each recurring 交办 item (milestones are listed under their
    share). Nearest deadline first; withdrawn items are gone."""
    statuses = (OPEN, REVIEW) if with_review else (OPEN,)
    rows = list(
        Assignment.select(Assignment, Item)
        .join(Item)
        .where(
            Assignment.unit.in_(unit_ids or [0])
            & Assignment.status.in_(statuses)
            & Item.cancelled_at.is_null()
            & (Assignment.kind != MILESTONE)
        )
        .order_by(Assignment.deadline.asc(nulls="LAST"), Item.position, Assignment.id)
    )
    current: set[tuple[int, int]] = set()
    work = []
    for a in rows:
        if a.item.is_recurring:
            if a.kind != OCCURRENCE or (a.item_id, a.unit_id) in current:
                continue  # the share itself, or a later occurrence
            current.add((a.item_id, a.unit_id))
        work.append(a)
    return work


def resolve_units(token: str, *, allow_groups: bool = True) -> UnitMatch:
    from bot.commands.args import ArgError

    match = match_unit(token, allow_groups=allow_groups)
    if match.unit is None and match.group is None:
        if match.candidates:
            shown = "、".join(match.candidates[:6])
            more = f"等 {len(match.candidates)} 个" if len(match.candidates) > 6 else ""
            raise ArgError(f"“{token}”能对应多个单位：{shown}{more}，请写得更完整些。")
        raise ArgError(f"找不到单位“{token}”。发送“单位”查看所有单位及简称。")
    return match


def audit(ctx: Context, action: str, summary: str, **kwargs) -> AuditEntry:
    return AuditEntry.record(ctx.now, ctx.userid, action, summary, **kwargs)


def admin_userids(ctx: Context) -> list[str]:
    return org.admin_userids(ctx.config.admins)


def liaisons_by_unit(unit_ids: list[int]) -> dict[int, list[Member]]:
    """Active liaison officers per unit id."""
    result: dict[int, list[Member]] = {uid: [] for uid in unit_ids}
    if not unit_ids:
        return result
    query = Member.select().where(Member.unit.in_(unit_ids) & Member.having("liaison"))
    for member in query.order_by(Member.id):
        result[member.unit_id].append(member)
    return result


def deadline_label(deadline: date | None, ongoing: str = "") -> str:
    """2026-12-31, or the word for ongoing work (长期坚持, from an imported sheet), or 未设期限."""
    if deadline:
        return deadline.isoformat()
    return ongoing or "未设期限"


def pending_extensions(assignment_ids: list[int]) -> set[int]:
    """The assignments among these with an extension request waiting for the office."""
    if not assignment_ids:
        return set()
    query = ExtensionRequest.select(ExtensionRequest.assignment).where(
        (ExtensionRequest.status == "pending") & ExtensionRequest.assignment.in_(assignment_ids)
    )
    return {row.assignment_id for row in query}


def refuse_if_request_pending(assignment: Assignment) -> None:
    """One request at a time per deadline (an extension, or a milestone's removal)."""
    pending = ExtensionRequest.get_or_none(
        (ExtensionRequest.assignment == assignment) & (ExtensionRequest.status == "pending")
    )
    if pending is not None:
        raise CommandError(
            f"{assignment.code} 已有一份待审批的申请（编号 {pending.id}），请等待办公室审批。",
            show_usage=False,
        )


def status_key(ctx: Context, assignment: Assignment, extension: bool = False) -> str:
    return status_of(
        assignment.status,
        assignment.progress,
        assignment.deadline,
        ctx.today,
        extension_pending=extension,
    )


def status_label(ctx: Context, assignment: Assignment, extension: bool = False) -> str:
    """The status as chat shows it: 未开始 / 进行中 60% / 已逾期 3 个工作日（40%） / 延期审批中 /
    已完成. Overdue is counted in working days, as reminders, the digest and the ledger count it."""
    return status_text(assignment, ctx.today, calendar(ctx), extension)


def status_text(assignment, today: date, cal: WorkCalendar, extension: bool = False) -> str:
    """`status_label` without a chat message around it (the board shows the same words)."""
    key = status_of(
        assignment.status,
        assignment.progress,
        assignment.deadline,
        today,
        extension_pending=extension,
    )
    if key in (DONE, REVIEWING, WITHDRAWN):
        return STATUS_LABELS[key]
    overdue = overdue_workdays(assignment.deadline, today, cal)
    parts = []
    if key == OVERDUE or (key == EXTENSION and assignment.deadline and today > assignment.deadline):
        parts.append(f"{overdue_text(overdue)}（{assignment.progress}%）")
    elif assignment.progress:
        parts.append(f"{STATUS_LABELS[IN_PROGRESS]} {assignment.progress}%")
    else:
        parts.append(STATUS_LABELS["not_started"])
    if key == EXTENSION:
        parts.append(STATUS_LABELS[EXTENSION])
    return "｜".join(parts)


def overdue_days(ctx: Context, assignment: Assignment) -> int:
    if assignment.status == "done":
        return 0
    return overdue_workdays(assignment.deadline, ctx.today, calendar(ctx))
