"""The reminder ladder and the colour levels, pure: given a deadline, progress and today, which
steps are due today and what colour the item is. The same colours are used everywhere.

Steps: N working days before the deadline (default 7, 3, 1), the deadline day, every working day
while overdue, and from the 3rd overdue working day an escalation to the unit's head.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from reminders.calendar import Workdays

BLUE, YELLOW, RED = "蓝", "黄", "红"


class Step(StrEnum):
    """The ladder's steps, as stored (ReminderSent.step); BEFORE is stored as before_<N>."""

    BEFORE = "before"  # N working days before the deadline
    DUE = "due"  # the deadline's day
    OVERDUE = "overdue"  # every working day while overdue
    ESCALATE = "escalate"  # the unit's head, from the ESCALATE_AFTER-th overdue working day
    LEADER = "leader"  # the leader who assigned a 交办 item, while it is overdue
    SIGN = "sign"  # a 交办 share not yet signed for (签收)


class Audience(StrEnum):
    UNIT = "unit"  # the unit's liaisons (and a milestone's 责任人)
    HEADS = "heads"  # the unit's heads
    LEADER = "leader"  # the leader who assigned the item


# Who hears each step: the ladder as a table.
LADDER: dict[Step, Audience] = {
    Step.BEFORE: Audience.UNIT,
    Step.DUE: Audience.UNIT,
    Step.OVERDUE: Audience.UNIT,
    Step.ESCALATE: Audience.HEADS,
    Step.LEADER: Audience.LEADER,
    Step.SIGN: Audience.UNIT,
}


def step_of(stored: str) -> Step:
    """ "before_3" -> Step.BEFORE; the other steps are stored by their own name."""
    return Step.BEFORE if stored.startswith(Step.BEFORE + "_") else Step(stored)


def audience_of(stored: str) -> Audience:
    return LADDER[step_of(stored)]


@dataclass(frozen=True)
class LadderSettings:
    days_before: tuple[int, ...] = (7, 3, 1)
    escalate_after: int = 3  # the overdue working day from which the unit head hears too


# 紧急程度 (as stored on a 交办 item) -> how it shortens the ladder: extra working days before
# the deadline to remind on, and the overdue working day from which the unit's head hears.
URGENT_LADDER: dict[str, tuple[tuple[int, ...], int]] = {
    "紧急": ((2,), 2),
    "特急": ((3, 2, 1), 1),
}


def for_urgency(settings: LadderSettings, urgency: str) -> LadderSettings:
    """The ladder of an item as pressing as `urgency`: 一般 (or anything unknown) keeps it;
    紧急 adds a reminder 2 working days before and escalates from the 2nd overdue working day;
    特急 reminds on each of the last 3 working days and escalates on the first overdue one."""
    extra = URGENT_LADDER.get(urgency)
    if extra is None:
        return settings
    days, escalate = extra
    return LadderSettings(
        tuple(sorted(set(settings.days_before) | set(days), reverse=True)),
        min(settings.escalate_after, escalate),
    )


@dataclass(frozen=True)
class Due:
    step: str  # before_7 … | due | overdue | escalate
    workdays_left: int  # > 0 before the deadline, 0 on it, < 0 overdue (working days)


def effective_deadline(deadline: date, cal: Workdays) -> date:
    """A deadline that falls on a day off is due on the working day before it."""
    return deadline if cal.is_workday(deadline) else cal.previous_workday(deadline)


def due_steps(deadline: date, today: date, cal: Workdays, settings: LadderSettings) -> list[Due]:
    """The ladder steps reached today (none on a day off)."""
    if not cal.is_workday(today):
        return []
    due_day = effective_deadline(deadline, cal)
    if today < due_day:
        left = cal.workdays_between(today, due_day)
        return [Due(f"{Step.BEFORE}_{left}", left)] if left in settings.days_before else []
    if today == due_day:
        return [Due(Step.DUE, 0)]
    if today <= deadline:  # a day-off deadline: the days until it are not overdue yet
        return []
    overdue = cal.workdays_between(deadline, today)
    steps = [Due(Step.OVERDUE, -overdue)]
    if overdue >= settings.escalate_after:
        steps.append(Due(Step.ESCALATE, -overdue))
    return steps


def colour(
    deadline: date | None,
    today: date,
    progress: int,
    cal: Workdays,
    started_on: date | None = None,
) -> str:
    """红 overdue; 黄 due within 3 working days or behind schedule; 蓝 due within 7; else ""."""
    if deadline is None:
        return ""
    if is_overdue(deadline, today):
        return RED
    left = cal.workdays_between(today, effective_deadline(deadline, cal))
    if left <= 3 or behind_schedule(deadline, today, progress, started_on):
        return YELLOW
    if left <= 7:
        return BLUE
    return ""


def behind_schedule(deadline: date, today: date, progress: int, started_on: date | None) -> bool:
    """Progress below the share of the time (from the deadline being set) already gone."""
    if started_on is None or deadline <= started_on:
        return False
    share = (today - started_on).days / (deadline - started_on).days
    return progress / 100 < min(max(share, 0.0), 1.0)


def overdue_workdays(deadline: date | None, today: date, cal: Workdays) -> int:
    """How many working days an open item is past its deadline (0 if it is not): the working
    days after the deadline up to today, as the ladder counts them."""
    if deadline is None or today <= deadline:
        return 0
    return cal.workdays_between(deadline, today)


def is_overdue(deadline: date | None, today: date) -> bool:
    return deadline is not None and today > deadline


def overdue_text(days: int) -> str:
    """ "已逾期 3 个工作日", or just "已逾期" on a day off before the first overdue working day."""
    return f"已逾期 {days} 个工作日" if days else "已逾期"
