"""Working days: the State Council schedule (chinese-calendar: holidays and 调休 workdays) plus the
office's own entries, which win. Past the package's data (today: 2027 onwards) it falls back to
Monday–Friday plus the office's entries, and never raises. All "N working days" arithmetic is here.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Protocol

import chinese_calendar

# From this day of a year on (1 December), a missing schedule for the next year is warned about:
# the State Council publishes it between late October and early December.
WARN_NEXT_YEAR_FROM = (12, 1)


class Workdays(Protocol):
    """What the rules ask of a calendar (a WorkCalendar, or the board's memoising wrapper)."""

    def is_workday(self, day: date) -> bool: ...

    def previous_workday(self, day: date) -> date: ...

    def workdays_between(self, start: date, end: date) -> int: ...


class WorkCalendar:
    def __init__(self, overrides: dict[date, bool] | None = None, complete_years=()):
        """overrides: day -> True (a working day) / False (a day off), from the office;
        complete_years: years the office marked as fully entered (`日历 2027 已录入`)."""
        self.overrides = dict(overrides or {})
        self.complete_years = frozenset(complete_years)
        self._cache: dict[date, bool] = {}  # chinese-calendar scans its tables on every call

    @staticmethod
    def package_covers(year: int) -> bool:
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def office_entries(self, year: int) -> int:
        return sum(1 for day in self.overrides if day.year == year)

    def covers(self, year: int) -> bool:
        """True when the State Council schedule for `year` is known: the package has it, or the
        office marked the year as fully entered (a single entry is not the whole year)."""
        return self.package_covers(year) or year in self.complete_years

    def is_workday(self, day: date) -> bool:
        known = self._cache.get(day)
        if known is None:
            known = self._cache[day] = self._lookup(day)
        return known

    def _lookup(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            return day.weekday() < 5

    def next_workday(self, day: date) -> date:
        """The first working day after `day`."""
        day += timedelta(days=1)
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def previous_workday(self, day: date) -> date:
        day -= timedelta(days=1)
        while not self.is_workday(day):
            day -= timedelta(days=1)
        return day

    def add_workdays(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n >= 0; 0 gives `day` itself)."""
        for _ in range(n):
            day = self.next_workday(day)
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: how many working days `end` lies after `start`
        (negative when end is before start)."""
        if end < start:
            return -self.workdays_between(end, start)
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_workday(day)
        return count

    def first_workday_of_week(self, day: date) -> date | None:
        """The first working day of the ISO week holding `day`, or None if it has none."""
        monday = day - timedelta(days=day.weekday())
        for offset in range(7):
            candidate = monday + timedelta(days=offset)
            if self.is_workday(candidate):
                return candidate
        return None

    def missing_year_warning(self, today: date) -> int | None:
        """The year whose schedule is missing and should be warned about now, if any: the current
        year at once, next year from 1 December."""
        if not self.covers(today.year):
            return today.year
        if (today.month, today.day) >= WARN_NEXT_YEAR_FROM and not self.covers(today.year + 1):
            return today.year + 1
        return None
