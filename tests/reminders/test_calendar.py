"""Working-day arithmetic on the real State Council schedule, office entries, and the fallback."""

from datetime import date

from reminders.calendar import WorkCalendar
from reminders.ladder import LadderSettings, colour, due_steps, effective_deadline, for_urgency


def test_national_day_2026_and_its_makeup_saturday():
    cal = WorkCalendar()
    assert not cal.is_workday(date(2026, 10, 1))
    assert cal.is_workday(date(2026, 10, 10))  # 调休 Saturday
    assert cal.is_workday(date(2026, 9, 20))  # 调休 Sunday
    assert cal.next_workday(date(2026, 9, 30)) == date(2026, 10, 8)
    assert cal.previous_workday(date(2026, 10, 8)) == date(2026, 9, 30)
    assert cal.add_workdays(date(2026, 9, 29), 3) == date(2026, 10, 9)
    assert cal.workdays_between(date(2026, 9, 29), date(2026, 10, 9)) == 3
    assert cal.workdays_between(date(2026, 10, 9), date(2026, 9, 29)) == -3


def test_office_entries_win_and_a_marked_year_is_covered():
    cal = WorkCalendar({date(2027, 1, 1): False, date(2026, 10, 10): False})
    assert not cal.is_workday(date(2027, 1, 1)) and not cal.is_workday(date(2026, 10, 10))
    assert cal.is_workday(date(2027, 1, 4))  # Monday, past the package: weekdays
    assert not cal.is_workday(date(2027, 1, 9))
    # One entry is not the whole year: covered only once the office marks it as entered.
    assert not WorkCalendar.package_covers(2027) and not cal.covers(2027)
    marked = WorkCalendar({date(2027, 1, 1): False}, complete_years=[2027])
    assert marked.covers(2027) and marked.missing_year_warning(date(2026, 12, 1)) is None


def test_missing_year_warning_from_1_december():
    cal = WorkCalendar()
    assert cal.missing_year_warning(date(2026, 11, 30)) is None
    assert cal.missing_year_warning(date(2026, 12, 1)) == 2027
    assert cal.missing_year_warning(date(2026, 12, 7)) == 2027
    assert cal.missing_year_warning(date(2027, 3, 1)) == 2027


def test_a_deadline_on_a_day_off_is_due_the_working_day_before():
    cal = WorkCalendar()
    settings = LadderSettings()
    sunday = date(2026, 10, 11)
    assert effective_deadline(sunday, cal) == date(2026, 10, 10)
    assert [d.step for d in due_steps(sunday, date(2026, 10, 10), cal, settings)] == ["due"]
    assert [d.step for d in due_steps(sunday, date(2026, 10, 12), cal, settings)] == ["overdue"]


def test_colours():
    cal = WorkCalendar()
    today = date(2026, 11, 2)
    assert colour(date(2026, 10, 30), today, 50, cal) == "红"
    assert colour(date(2026, 11, 4), today, 90, cal) == "黄"  # 2 working days left
    assert colour(date(2026, 11, 9), today, 90, cal) == "蓝"
    assert colour(date(2026, 12, 31), today, 90, cal) == ""
    # Behind schedule: half the time gone since the deadline was set, 10 % done.
    assert colour(date(2026, 12, 31), today, 10, cal, started_on=date(2026, 9, 3)) == "黄"
    assert colour(None, today, 0, cal) == ""


def test_urgency_shortens_the_ladder():
    """紧急 adds a reminder 2 working days before and escalates a day earlier; 特急 reminds on
    each of the last 3 working days and escalates on the first overdue working day."""
    cal = WorkCalendar()
    plain = LadderSettings()
    assert for_urgency(plain, "一般") == plain and for_urgency(plain, "") == plain
    urgent, critical = for_urgency(plain, "紧急"), for_urgency(plain, "特急")
    assert urgent == LadderSettings((7, 3, 2, 1), 2)
    assert critical == LadderSettings((7, 3, 2, 1), 1)
    friday = date(2026, 12, 4)  # due on a Friday
    wednesday, monday = date(2026, 12, 2), date(2026, 12, 7)
    assert due_steps(friday, wednesday, cal, plain) == []
    assert [d.step for d in due_steps(friday, wednesday, cal, urgent)] == ["before_2"]
    assert [d.step for d in due_steps(friday, monday, cal, plain)] == ["overdue"]
    assert [d.step for d in due_steps(friday, monday, cal, critical)] == ["overdue", "escalate"]
    # A shorter ladder set by the office is never made longer.
    assert for_urgency(LadderSettings((1,), 1), "紧急") == LadderSettings((2, 1), 1)
