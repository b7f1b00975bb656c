"""The rules' inputs read from the database. The rules themselves (calendar, ladder, scoring)
read nothing; this is where the office's entries come in."""

from __future__ import annotations

from models.schedule import CalendarDay, CalendarYear
from reminders.calendar import WorkCalendar


def load_calendar() -> WorkCalendar:
    """The working-day calendar with the office's own entries (`日历 …`), which win."""
    return WorkCalendar(
        {row.day: row.workday for row in CalendarDay.select()},
        [row.year for row in CalendarYear.select(CalendarYear.year)],
    )
