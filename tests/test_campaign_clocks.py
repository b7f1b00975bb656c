"""The pinned moments that time-sensitive tests run under (`campaign_clock` in conftest) are what
their names say, by chinesecalendar, so a test parametrised over them covers those cases."""

from __future__ import annotations

from datetime import timedelta

import chinese_calendar
from conftest import CAMPAIGN_MOMENTS, HOLIDAY_EVE, SUNDAY_NIGHT, WORKING_MORNING


def test_a_working_day_morning_after_the_reminders_hour():
    assert WORKING_MORNING.working_day and WORKING_MORNING.reminders_due
    assert WORKING_MORNING.at.isoweekday() not in (1, 6, 7), "not the week's first day"


def test_a_sunday_night_in_quiet_hours():
    assert SUNDAY_NIGHT.at.isoweekday() == 7 and not SUNDAY_NIGHT.working_day
    assert SUNDAY_NIGHT.quiet and not SUNDAY_NIGHT.reminders_due


def test_the_eve_of_a_holiday():
    tomorrow = HOLIDAY_EVE.at.date() + timedelta(days=1)
    assert HOLIDAY_EVE.working_day and HOLIDAY_EVE.reminders_due
    on_holiday, name = chinese_calendar.get_holiday_detail(tomorrow)
    assert on_holiday and name == chinese_calendar.Holiday.national_day.value


def test_the_moments_differ_where_it_matters():
    assert len({(m.working_day, m.quiet, m.next_year_missing) for m in CAMPAIGN_MOMENTS}) == 3
    assert all(m.at.tzinfo is not None for m in CAMPAIGN_MOMENTS)
