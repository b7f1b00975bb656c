"""What the command handlers share: reading the caller's units and the status words. Every
change of state goes through bot/actions; refusals are CommandErrors in Chinese."""

from __future__ import annotations

from bot.commands.registry import Context
from models.org import UnitMatch, match_unit
from models.plan import Assignment, Item, Part
from reminders.calendar import WorkCalendar
from reminders.state import state_of, states


def calendar(ctx: Context) -> WorkCalendar:
    """The working-day calendar, read once per message."""
    return ctx.calendar


def unit_on_item(item: Item, token: str) -> UnitMatch | None:
    """The unit (or group) `token` names, if it names one responsible for `item`; else None."""
    if not token:
        return None
    match = match_unit(token)
    units = {u.id for u in match.units}
    if not units:
        return None
    on_item = {
        a.unit_id
        for a in Assignment.select(Assignment.unit).where(
            (Assignment.item == item) & (Assignment.kind == Part.SHARE)
        )
    }
    return match if units & on_item else None


def status_label(ctx: Context, assignment: Assignment, extension: bool = False) -> str:
    """The status as chat shows it: 未开始 / 进行中 60% / 已逾期 3 个工作日（40%） / 延期审批中 /
    待审核 / 已完成. Overdue is counted in working days, as everywhere (reminders.state)."""
    if assignment.kind == Part.SHARE:  # its milestones decide its progress
        return states([assignment], ctx.today, ctx.calendar, ctx.config.timezone)[
            assignment.id
        ].text()
    return state_of(
        assignment, ctx.today, ctx.calendar, ctx.config.timezone, extension_pending=extension
    ).text()


def status_labels(ctx: Context, rows: list[Assignment]) -> dict[int, str]:
    """The status words of many rows, read at once (milestones and pending requests)."""
    found = states(rows, ctx.today, ctx.calendar, ctx.config.timezone)
    return {a_id: state.text() for a_id, state in found.items()}
