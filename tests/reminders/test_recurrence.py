"""Recurring report rules: what people type, the periods they give, and their due days on the real
State Council schedule (chinese-calendar) with the office's own entries."""

from __future__ import annotations

import calendar
import itertools
from datetime import date, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text import ParseError
from reminders.calendar import WorkCalendar
from reminders.recurrence import (
    Period,
    Recurrence,
    due_date,
    next_period,
    parse_recurrence,
    periods,
)

CAL = WorkCalendar()
FRIDAY = Recurrence("weekly", weekday=4)
FIFTH = Recurrence("monthly", day=5)
MONTH_END = Recurrence("month_end")
QUARTER_END = Recurrence("quarter_end")
DEC_10 = Recurrence("yearly", month=12, day=10)


def nominals(found: list[Period]) -> list[date]:
    return [period.nominal for period in found]


# ---------------------------------------------------------------- reading what people type

ACCEPTED = [
    ("每周五", "每周五"),
    ("每星期五", "每周五"),
    ("每礼拜五", "每周五"),
    ("每周周五", "每周五"),
    ("每周星期五", "每周五"),
    ("每个星期五", "每周五"),
    ("每周五前", "每周五"),
    ("每周一", "每周一"),
    ("每周日", "每周日"),
    ("每星期天", "每周日"),
    ("每礼拜天之前", "每周日"),
    ("每周5", "每周五"),
    ("每周7", "每周日"),
    ("每月5日", "每月5日"),
    ("每月5号", "每月5日"),
    ("每月 5 日前", "每月5日"),
    ("每月5日之前", "每月5日"),
    ("每月5日以前", "每月5日"),
    ("每个月5号", "每月5日"),
    ("每月05日", "每月5日"),
    ("每月五日", "每月5日"),
    ("每月十日", "每月10日"),
    ("每月十五日", "每月15日"),
    ("每月二十日", "每月20日"),
    ("每月三十一日", "每月31日"),
    ("每月５日", "每月5日"),  # full-width digit
    ("每月　５　日前", "每月5日"),  # full-width spaces
    ("每月底", "每月末"),
    ("每月末", "每月末"),
    ("每月月底", "每月末"),
    ("每月最后一天", "每月末"),
    ("每月底前", "每月末"),
    ("每季度末", "每季度末"),
    ("每季末", "每季度末"),
    ("每个季度末", "每季度末"),
    ("每季度最后一天", "每季度末"),
    ("每季度末前", "每季度末"),
    ("每年12月10日", "每年12月10日"),
    ("每年 12 月 10 日前", "每年12月10日"),
    ("每年１２月１０日", "每年12月10日"),
    ("每年十二月十日", "每年12月10日"),
    ("每年1月15号", "每年1月15日"),
    ("每年6月底", "每年6月30日"),
    ("每年底", "每年12月31日"),
    ("每年年末", "每年12月31日"),
]


@pytest.mark.parametrize(("typed", "canonical"), ACCEPTED)
def test_accepted_phrasings_read_as_one_canonical_rule(typed, canonical):
    rule = parse_recurrence(typed)
    assert rule is not None and rule.text == canonical
    assert parse_recurrence(canonical) == rule


def test_the_fields_of_each_kind():
    assert parse_recurrence("每周五") == FRIDAY
    assert parse_recurrence("每月5日") == FIFTH
    assert parse_recurrence("每月末") == MONTH_END
    assert parse_recurrence("每季度末") == QUARTER_END
    assert parse_recurrence("每年12月10日") == DEC_10
    assert parse_recurrence("每周日") == Recurrence("weekly", weekday=6)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "12月10日",
        "2026-12-31",
        "月底",
        "本周五",
        "下周一",
        "年底",
        "市监局",
        "每",
        "每个单位",
        "T7",
    ],
)
def test_text_that_is_no_rule_is_none_so_the_caller_can_read_a_date(text):
    assert parse_recurrence(text) is None


REFUSED = [
    ("每月32日", "每月没有32日"),
    ("每月0日", "每月没有0日"),
    ("每月三十二日", "每月没有32日"),
    ("每年2月30日", "2月没有30日"),
    ("每年4月31日", "4月没有31日"),
    ("每年13月1日", "没有13月"),
    ("每年2月29日", "只有闰年才有"),
    ("每年2月底", "2月底的天数逐年不同"),
    ("每周八", "没有“周八”"),
    ("每周8", "没有“周8”"),
    ("每周零", "没有“周零”"),
    ("每周", "每周哪一天"),
    ("每月", "每月几日"),
    ("每年", "每年几月几日"),
    ("每季度", "暂只支持季度末"),
    ("每季度10日", "暂只支持季度末"),
    ("每天", "暂不支持"),
    ("每个工作日", "暂不支持"),
    ("每两周五", "暂不支持"),
    ("每半月", "暂不支持"),
    ("每周一次", "看不懂定期规则“每周一次”"),
    ("每月中旬", "看不懂定期规则"),
]


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_a_rule_that_cannot_be_is_refused_in_chinese(text, reason):
    with pytest.raises(ValueError, match=reason) as caught:
        parse_recurrence(text)
    # The command layer answers every ParseError with its message and the usage line.
    assert isinstance(caught.value, ParseError)


def test_the_29th_of_february_refusal_says_why_and_what_to_write_instead():
    with pytest.raises(ValueError) as caught:
        parse_recurrence("每年2月29日")
    expected = "2月29日只有闰年才有，不能每年报送；请写 每年2月28日 或 每年3月1日。"
    assert str(caught.value) == expected
    with pytest.raises(ValueError, match="闰年"):
        Recurrence("yearly", month=2, day=29)


def test_a_rule_built_by_hand_is_checked_too():
    for bad in (
        dict(kind="monthly", day=32),
        dict(kind="monthly"),
        dict(kind="weekly", weekday=7),
        dict(kind="weekly", weekday=4, day=5),
        dict(kind="month_end", day=31),
        dict(kind="yearly", month=12),
        dict(kind="daily"),
    ):
        with pytest.raises(ValueError):
            Recurrence(**bad)


# ---------------------------------------------------------------- periods and due days


def test_fifth_of_the_month_around_national_day_2026():
    assert not chinese_calendar.is_workday(date(2026, 10, 5))  # inside the National Day holiday
    found = periods(FIFTH, date(2026, 9, 1), date(2026, 11, 30))
    assert found == [
        Period("2026-09", "2026年9月", date(2026, 9, 5)),
        Period("2026-10", "2026年10月", date(2026, 10, 5)),
        Period("2026-11", "2026年11月", date(2026, 11, 5)),
    ]
    due = [due_date(p.nominal, CAL) for p in found]  # "previous" is the default
    assert due == [date(2026, 9, 4), date(2026, 9, 30), date(2026, 11, 5)]
    nxt = [due_date(p.nominal, CAL, "next") for p in found]
    assert nxt == [date(2026, 9, 7), date(2026, 10, 8), date(2026, 11, 5)]
    keep = [due_date(p.nominal, CAL, "keep") for p in found]
    assert keep == nominals(found)


def test_the_range_is_inclusive_at_both_ends():
    assert nominals(periods(FIFTH, date(2026, 9, 5), date(2026, 10, 5))) == [
        date(2026, 9, 5),
        date(2026, 10, 5),
    ]
    assert periods(FIFTH, date(2026, 9, 6), date(2026, 10, 4)) == []
    assert periods(FIFTH, date(2026, 10, 5), date(2026, 9, 5)) == []


def test_office_entries_move_the_due_day():
    cal = WorkCalendar({date(2026, 11, 5): False})  # the office closed that Thursday
    assert due_date(date(2026, 11, 5), cal) == date(2026, 11, 4)
    assert due_date(date(2026, 11, 5), cal, "next") == date(2026, 11, 6)


def test_fridays_across_the_spring_festival_2026_and_its_makeup_saturdays():
    found = periods(FRIDAY, date(2026, 2, 9), date(2026, 3, 1))
    assert found == [
        Period("2026-W07", "2026年第7周", date(2026, 2, 13)),
        Period("2026-W08", "2026年第8周", date(2026, 2, 20)),
        Period("2026-W09", "2026年第9周", date(2026, 2, 27)),
    ]
    # 20 Feb is a holiday; the working day before it is Saturday 14 Feb (调休), and after it
    # Tuesday 24 Feb (the 23rd is a holiday too).
    assert [due_date(p.nominal, CAL) for p in found] == [
        date(2026, 2, 13),
        date(2026, 2, 14),
        date(2026, 2, 27),
    ]
    assert due_date(date(2026, 2, 20), CAL, "next") == date(2026, 2, 24)
    assert due_date(date(2026, 2, 20), CAL, "keep") == date(2026, 2, 20)


def test_a_saturday_rule_on_a_makeup_saturday_is_due_that_day():
    saturday = Recurrence("weekly", weekday=5)
    found = periods(saturday, date(2026, 2, 9), date(2026, 2, 22))
    assert nominals(found) == [date(2026, 2, 14), date(2026, 2, 21)]
    # Two weeks can share one due day: the 21st falls back past the whole holiday to the 14th.
    assert [due_date(p.nominal, CAL) for p in found] == [date(2026, 2, 14), date(2026, 2, 14)]


def test_week_keys_are_iso_weeks_across_the_new_year():
    found = periods(FRIDAY, date(2026, 12, 20), date(2027, 1, 10))
    assert [(p.key, p.label, p.nominal) for p in found] == [
        ("2026-W52", "2026年第52周", date(2026, 12, 25)),
        ("2026-W53", "2026年第53周", date(2027, 1, 1)),  # ISO: Friday 1 Jan 2027 is 2026's
        ("2027-W01", "2027年第1周", date(2027, 1, 8)),
    ]
    assert periods(FRIDAY, date(2026, 12, 1), date(2026, 12, 7))[0].key == "2026-W49"


def test_month_end_over_february():
    found = periods(MONTH_END, date(2026, 1, 1), date(2026, 3, 31))
    assert nominals(found) == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    assert [p.label for p in found] == ["2026年1月", "2026年2月", "2026年3月"]
    # 31 Jan is a Saturday; 28 Feb is a Saturday but a 调休 working day, so it stays.
    assert [due_date(p.nominal, CAL) for p in found] == [
        date(2026, 1, 30),
        date(2026, 2, 28),
        date(2026, 3, 31),
    ]
    leap = periods(MONTH_END, date(2024, 2, 1), date(2024, 2, 29))
    assert nominals(leap) == [date(2024, 2, 29)]


def test_a_day_past_the_months_end_is_its_last_day():
    the_31st = Recurrence("monthly", day=31)
    found = periods(the_31st, date(2026, 1, 1), date(2026, 4, 30))
    assert nominals(found) == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    the_30th = Recurrence("monthly", day=30)
    assert nominals(periods(the_30th, date(2024, 2, 1), date(2024, 3, 1))) == [date(2024, 2, 29)]


def test_quarter_ends_over_2023_with_national_day_and_new_year():
    found = periods(QUARTER_END, date(2023, 1, 1), date(2023, 12, 31))
    assert [(p.key, p.label) for p in found] == [
        ("2023-Q1", "2023年第一季度"),
        ("2023-Q2", "2023年第二季度"),
        ("2023-Q3", "2023年第三季度"),
        ("2023-Q4", "2023年第四季度"),
    ]
    assert nominals(found) == [
        date(2023, 3, 31),
        date(2023, 6, 30),
        date(2023, 9, 30),
        date(2023, 12, 31),
    ]
    assert [due_date(p.nominal, CAL) for p in found] == [
        date(2023, 3, 31),
        date(2023, 6, 30),
        date(2023, 9, 28),  # 29 Sep – 6 Oct off
        date(2023, 12, 29),  # a Sunday
    ]
    assert [due_date(p.nominal, CAL, "next") for p in found][2:] == [
        date(2023, 10, 7),  # the 调休 Saturday
        date(2024, 1, 2),  # 1 Jan 2024 is New Year's Day
    ]


def test_the_10th_of_december_every_year():
    found = periods(DEC_10, date(2024, 1, 1), date(2028, 12, 31))
    assert [p.key for p in found] == ["2024", "2025", "2026", "2027", "2028"]
    assert found[2] == Period("2026", "2026年", date(2026, 12, 10))
    # 2028 is past the package's data: Monday–Friday; the 10th is a Sunday.
    assert due_date(date(2028, 12, 10), CAL) == date(2028, 12, 8)
    assert due_date(date(2028, 12, 10), CAL, "next") == date(2028, 12, 11)
    assert periods(DEC_10, date(2026, 12, 11), date(2027, 12, 9)) == []


def test_next_period():
    assert next_period(FIFTH, date(2026, 10, 4)).key == "2026-10"
    november = Period("2026-11", "2026年11月", date(2026, 11, 5))
    assert next_period(FIFTH, date(2026, 10, 5)) == november
    the_31st, the_1st = Recurrence("monthly", day=31), Recurrence("monthly", day=1)
    assert next_period(the_31st, date(2026, 1, 31)).nominal == date(2026, 2, 28)
    assert next_period(the_1st, date(2026, 1, 1)).nominal == date(2026, 2, 1)  # the longest gap
    assert next_period(FRIDAY, date(2026, 12, 4)).nominal == date(2026, 12, 11)
    assert next_period(FRIDAY, date(2026, 12, 3)).nominal == date(2026, 12, 4)
    assert next_period(MONTH_END, date(2026, 2, 27)).nominal == date(2026, 2, 28)
    assert next_period(QUARTER_END, date(2026, 3, 31)).key == "2026-Q2"
    assert next_period(QUARTER_END, date(2026, 12, 31)).key == "2027-Q1"
    assert next_period(DEC_10, date(2026, 12, 10)) == Period("2027", "2027年", date(2027, 12, 10))
    assert next_period(DEC_10, date(2026, 12, 9)).key == "2026"


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="顺延方式"):
        due_date(date(2026, 10, 5), CAL, "nearest")


# ---------------------------------------------------------------- properties


def _is_nominal(rule: Recurrence, day: date) -> bool:
    """An independent statement of which days a rule names."""
    last = calendar.monthrange(day.year, day.month)[1]
    if rule.kind == "weekly":
        return day.weekday() == rule.weekday
    if rule.kind == "monthly":
        return day.day == min(rule.day, last)
    if rule.kind == "month_end":
        return day.day == last
    if rule.kind == "quarter_end":
        return day.day == last and day.month % 3 == 0
    return (day.month, day.day) == (rule.month, rule.day)


RULES = st.one_of(
    st.integers(0, 6).map(lambda weekday: Recurrence("weekly", weekday=weekday)),
    st.integers(1, 31).map(lambda day: Recurrence("monthly", day=day)),
    st.just(MONTH_END),
    st.just(QUARTER_END),
    # every day of a common year
    st.dates(date(2001, 1, 1), date(2001, 12, 31)).map(
        lambda d: Recurrence("yearly", month=d.month, day=d.day)
    ),
)
DAYS = st.dates(date(2018, 1, 1), date(2032, 12, 31))


@settings(max_examples=300, deadline=None)
@given(RULES, DAYS, st.integers(-3, 800))
def test_periods_are_ordered_unique_in_range_and_due_on_working_days(rule, start, span):
    end = start + timedelta(days=span)
    found = periods(rule, start, end)
    days = [start + timedelta(days=n) for n in range(span + 1)]
    assert nominals(found) == [day for day in days if _is_nominal(rule, day)]
    assert all(a.nominal < b.nominal for a, b in itertools.pairwise(found))
    keys = [p.key for p in found]
    assert len(set(keys)) == len(keys) and keys == sorted(keys)
    for period in found:
        assert start <= period.nominal <= end
        before, after = due_date(period.nominal, CAL), due_date(period.nominal, CAL, "next")
        assert CAL.is_workday(before) and before <= period.nominal
        assert CAL.is_workday(after) and after >= period.nominal
        assert due_date(period.nominal, CAL, "keep") == period.nominal
        if CAL.is_workday(period.nominal):
            assert before == after == period.nominal


@settings(max_examples=300, deadline=None)
@given(RULES, DAYS)
def test_next_period_is_the_first_one_after_the_day(rule, after):
    found = next_period(rule, after)
    assert found.nominal > after
    assert periods(rule, after + timedelta(days=1), found.nominal) == [found]


@settings(max_examples=200, deadline=None)
@given(RULES)
def test_the_canonical_text_reads_back_as_the_same_rule(rule):
    assert parse_recurrence(rule.text) == rule
    full_width = "".join(chr(ord(ch) + 0xFEE0) if ch.isdigit() else ch for ch in rule.text)
    assert parse_recurrence(f" {full_width} 前") == rule


TYPED = "每个周星期礼拜月季度年日号天底末前之以最后一二三四五六七八九十零两0123456789 "


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=TYPED, max_size=12))
def test_any_text_is_a_rule_none_or_a_chinese_refusal(text):
    try:
        rule = parse_recurrence(text)
    except ParseError as exc:
        assert str(exc) and not str(exc).isascii()
    else:
        assert rule is None or parse_recurrence(rule.text) == rule
