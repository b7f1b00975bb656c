"""The working-day calendar the office keeps: a day's arrangement (班 / 休) that overrides the
State Council schedule, and a year marked as fully entered (no more warnings for it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.actions.base import Acting, Refused
from models.schedule import CalendarDay, CalendarYear


def _check_year(year: int) -> int:
    if not 2000 <= year <= 2100:
        raise Refused(f"年份 {year} 不对。")
    return year


def mark_year(acting: Acting, year: int) -> int:
    """`日历 2027 已录入`; returns how many days the office entered for it."""
    _check_year(year)
    existing = CalendarYear.get_or_none(CalendarYear.year == year)
    if existing is not None:
        when = existing.marked_at.astimezone(acting.config.timezone)
        raise Refused(f"{year} 年已于 {when:%m-%d} 标记为已录入。")
    entries = acting.calendar.office_entries(year)
    if not entries and not acting.calendar.package_covers(year):
        raise Refused(
            f"{year} 年还没有录入任何节假日或调休，请先逐日录入："
            "日历 日期 休 说明（调休上班：日历 日期 班 说明）。"
        )
    CalendarYear.create(year=year, marked_by=acting.userid, marked_at=acting.now)
    acting.audit(
        "calendar_year",
        f"标记 {year} 年节假日和调休已全部录入（{entries} 天）",
        after={"year": year},
    )
    return entries


def unmark_year(acting: Acting, year: int) -> None:
    _check_year(year)
    existing = CalendarYear.get_or_none(CalendarYear.year == year)
    if existing is None:
        raise Refused(f"{year} 年没有标记为已录入。")
    existing.delete_instance()
    acting.audit("calendar_year", f"撤销 {year} 年“已录入”标记", before={"year": year})


@dataclass(frozen=True)
class DaySet:
    day: date
    workday: bool
    note: str
    year_known: bool  # the year is the package's, or marked as entered


def set_day(acting: Acting, day: date, workday: bool, note: str = "") -> DaySet:
    """One day's arrangement: 班 (a 调休 working day) or 休 (a day off)."""
    existing = CalendarDay.get_or_none(CalendarDay.day == day)
    before = {"workday": existing.workday, "note": existing.note} if existing else None
    if existing is None:
        CalendarDay.create(
            day=day, workday=workday, note=note, created_by=acting.userid, created_at=acting.now
        )
    else:
        CalendarDay.update(workday=workday, note=note, created_by=acting.userid).where(
            CalendarDay.id == existing.id
        ).execute()
    label = "上班" if workday else "放假"
    acting.audit(
        "calendar",
        f"日历：{day} {label}" + (f"（{note}）" if note else ""),
        before=before,
        after={"workday": workday, "note": note},
    )
    known = CalendarYear.get_or_none(CalendarYear.year == day.year) is not None
    return DaySet(day, workday, note, known or acting.calendar.package_covers(day.year))


def delete_day(acting: Acting, day: date) -> None:
    existing = CalendarDay.get_or_none(CalendarDay.day == day)
    if existing is None:
        raise Refused(f"{day} 没有办公室录入的安排。")
    before = {"workday": existing.workday, "note": existing.note}
    existing.delete_instance()
    acting.audit("calendar", f"删除日历安排 {day}", before=before)


@dataclass(frozen=True)
class NoticeApplied:
    year: int
    changed: int  # days written (new or different from the office's entry)
    unchanged: int  # days the office had already entered the same way
    marked: bool  # the year was marked as fully entered by this


def apply_notice(acting: Acting, year: int, days: dict[date, tuple[bool, str]]) -> NoticeApplied:
    """A State Council notice confirmed (`确认` after its preview): each day it sets becomes the
    office's entry for that day (through `set_day`, logged one by one), and its year is marked
    as fully entered. Days the office entered that the notice does not name are kept."""
    _check_year(year)
    if not days:
        raise Refused("通知里没有任何日期，没有录入。")
    changed = unchanged = 0
    for day, (workday, note) in sorted(days.items()):
        existing = CalendarDay.get_or_none(CalendarDay.day == day)
        if existing is not None and existing.workday == workday and existing.note == note[:100]:
            unchanged += 1
            continue
        set_day(acting, day, workday, note[:100])
        changed += 1
    marked = CalendarYear.get_or_none(CalendarYear.year == year) is None
    if marked:
        CalendarYear.create(year=year, marked_by=acting.userid, marked_at=acting.now)
    off = sum(1 for workday, _ in days.values() if not workday)
    acting.audit(
        "calendar_notice",
        f"按国务院通知录入 {year} 年节假日安排：放假 {off} 天、调休上班 {len(days) - off} 天"
        f"（新录入或改动 {changed} 天）" + ("，并标记全年已录入" if marked else ""),
        after={"year": year, "days": {d.isoformat(): w for d, (w, _) in sorted(days.items())}},
    )
    acting._calendar = None  # read again: what this message does next sees the new days
    return NoticeApplied(year, changed, unchanged, marked)
