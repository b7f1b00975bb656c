"""Look-ups and checks the command handlers share; each refusal is a CommandError in Chinese."""

from __future__ import annotations

from datetime import date

from bot.commands.registry import CommandError, Context
from bot.text import parse_code
from models import org
from models.audit import AuditEntry
from models.org import Member, Unit, UnitMatch, match_unit
from models.plan import Assignment, Item


def require_item(token: str | None, *, indicator_only: bool = False) -> Item:
    if not token:
        raise CommandError("请写明任务或指标编号，如 T7 或 Z11。")
    code = parse_code(token)
    if code is None:
        raise CommandError(
            f"“{token}”不是任务或指标编号，编号形如 T7（主要任务）或 Z11（评估指标）。"
        )
    item = Item.get_or_none(Item.code == code)
    if item is None:
        raise CommandError(f"没有编号为 {code} 的任务或指标（主要任务 T1–T22，评估指标 Z1–Z41）。")
    if indicator_only and not item.is_indicator:
        raise CommandError(f"{code} 是主要任务，这里需要评估指标编号（Z1–Z41）。")
    return item


def require_unit(ctx: Context) -> Unit:
    if ctx.member is None or ctx.member.unit is None:
        raise CommandError("您还没有绑定单位，请联系领导小组办公室绑定。", show_usage=False)
    return ctx.member.unit


def own_assignment(ctx: Context, item: Item) -> Assignment:
    unit = require_unit(ctx)
    assignment = Assignment.get_or_none((Assignment.item == item) & (Assignment.unit == unit))
    if assignment is None:
        raise CommandError(
            f"{item.code} 不是{unit.name}的责任事项，只能报告本单位承担的任务。发送“我的任务”查看。"
        )
    return assignment


def resolve_units(token: str, *, allow_groups: bool = True) -> UnitMatch:
    match = match_unit(token, allow_groups=allow_groups)
    if match.unit is None and match.group is None:
        if match.candidates:
            shown = "、".join(match.candidates[:6])
            more = f"等 {len(match.candidates)} 个" if len(match.candidates) > 6 else ""
            raise CommandError(f"“{token}”能对应多个单位：{shown}{more}，请写得更完整些。")
        raise CommandError(f"找不到单位“{token}”。发送“单位”查看所有单位及简称。")
    return match


def require_single_unit(token: str) -> Unit:
    match = resolve_units(token)
    if match.unit is None:
        raise CommandError(f"“{token}”是单位组（{match.group.name}），这里需要一个具体单位。")
    return match.unit


def audit(ctx: Context, action: str, summary: str, **kwargs) -> AuditEntry:
    return AuditEntry.record(ctx.now, ctx.userid, action, summary, **kwargs)


def admin_userids(ctx: Context) -> list[str]:
    return org.admin_userids(ctx.config.admins)


def liaisons_by_unit(unit_ids: list[int]) -> dict[int, list[Member]]:
    """Active liaison officers per unit id."""
    result: dict[int, list[Member]] = {uid: [] for uid in unit_ids}
    if not unit_ids:
        return result
    query = Member.select().where(
        (Member.unit.in_(unit_ids)) & (Member.role == "liaison") & (Member.active == True)  # noqa: E712
    )
    for member in query.order_by(Member.id):
        result[member.unit_id].append(member)
    return result


def deadline_label(deadline: date | None) -> str:
    return deadline.isoformat() if deadline else "未设期限"


def status_label(assignment: Assignment, today: date) -> str:
    if assignment.status == "done":
        return "已完成"
    overdue = assignment.days_overdue(today)
    if overdue:
        return f"已逾期 {overdue} 天（{assignment.progress}%）"
    if assignment.progress == 0:
        return "未开始"
    return f"进行中 {assignment.progress}%"
