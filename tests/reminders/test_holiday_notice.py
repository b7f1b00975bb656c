"""The holiday notice parser on the State Council's real notices for 2017–2026, each compared day
by day with chinesecalendar (the reference for those years), and on the ways a notice arrives
pasted: full-width digits, line breaks from a web page or WeChat, 周 for 星期, page chrome."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from reminders.holiday_notice import (
    NoticeError,
    looks_like_notice,
    normalize,
    parse_notice,
)

NOTICES = Path(__file__).resolve().parent.parent / "fixtures" / "holiday_notices"
YEARS = range(2017, 2027)
NAMES = {
    "元旦": "New Year's Day",
    "春节": "Spring Festival",
    "清明节": "Tomb-sweeping Day",
    "劳动节": "Labour Day",
    "端午节": "Dragon Boat Festival",
    "中秋节": "Mid-autumn Festival",
    "国庆节": "National Day",
}
# Later notices that changed a year after its main notice (see the fixtures' README): the only
# days where a main notice and chinesecalendar may differ.
AMENDED = {
    # 国办发明电〔2019〕3号: 劳动节 5月1日至4日, 4月28日（星期日）、5月5日（星期日）上班.
    2019: {
        date(2019, 4, 28): True,
        date(2019, 5, 2): False,
        date(2019, 5, 3): False,
        date(2019, 5, 5): True,
    },
    # 国办发明电〔2020〕1号: the Spring Festival extended to 2月2日 (2月1日 no longer worked).
    2020: {date(2020, 1, 31): False, date(2020, 2, 1): False},
}


def notice_text(year: int) -> str:
    return (NOTICES / f"{year}.txt").read_text(encoding="utf-8")


def year_days(year: int) -> dict[date, tuple[bool, str]]:
    """What the notices say about `year`: its own notice, and the next year's for the days of
    its 元旦 that fall in this one (2019's notice: 2018-12-29 上班, 2018-12-30/31 放假)."""
    days = {d: v for d, v in parse_notice(notice_text(year)).days().items() if d.year == year}
    if (NOTICES / f"{year + 1}.txt").exists():
        following = parse_notice(notice_text(year + 1)).days()
        days.update({d: v for d, v in following.items() if d.year == year})
    return days


def every_day(year: int):
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += timedelta(days=1)


def test_chinesecalendar_has_every_year_of_the_fixtures_and_not_2027():
    for year in YEARS:
        chinese_calendar.is_workday(date(year, 6, 1))
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 6, 1))


@pytest.mark.parametrize("year", YEARS)
def test_each_notice_matches_chinesecalendar_day_by_day(year):
    notice = parse_notice(notice_text(year))
    assert notice.year == year
    assert notice.warnings == ()
    days = year_days(year)
    differences = {}
    for day in every_day(year):
        ours = days[day][0] if day in days else day.weekday() < 5
        if ours != chinese_calendar.is_workday(day):
            differences[day] = chinese_calendar.is_workday(day)
    assert differences == AMENDED.get(year, {})
    # Every holiday the notice names is that festival in chinesecalendar too.
    for day, (workday, what) in days.items():
        if workday or day in AMENDED.get(year, {}):
            continue
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
        assert on_holiday and name in {NAMES[f] for f in NAMES if f in what}, (day, what, name)


@pytest.mark.parametrize("year", YEARS)
def test_each_notice_has_seven_festivals_and_its_make_up_days_are_weekends(year):
    notice = parse_notice(notice_text(year))
    named = {f for h in notice.holidays for f in NAMES if f in h.name}
    assert named == set(NAMES)
    assert all(m.day.weekday() >= 5 for m in notice.workdays)


def test_the_2026_notice_read_exactly():
    notice = parse_notice(notice_text(2026))
    assert [(h.name, h.start, h.end) for h in notice.holidays] == [
        ("元旦", date(2026, 1, 1), date(2026, 1, 3)),
        ("春节", date(2026, 2, 15), date(2026, 2, 23)),
        ("清明节", date(2026, 4, 4), date(2026, 4, 6)),
        ("劳动节", date(2026, 5, 1), date(2026, 5, 5)),
        ("端午节", date(2026, 6, 19), date(2026, 6, 21)),
        ("中秋节", date(2026, 9, 25), date(2026, 9, 27)),
        ("国庆节", date(2026, 10, 1), date(2026, 10, 7)),
    ]
    assert [m.day for m in notice.workdays] == [
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    ]


def test_ranges_across_months_and_the_year_end():
    n2023 = parse_notice(notice_text(2023))
    assert (n2023.holidays[0].start, n2023.holidays[0].end) == (
        date(2022, 12, 31),
        date(2023, 1, 2),
    )
    national = n2023.holidays[-1]
    assert (national.name, national.start, national.end) == (
        "中秋节、国庆节",
        date(2023, 9, 29),
        date(2023, 10, 6),
    )
    n2019 = parse_notice(notice_text(2019))
    assert date(2018, 12, 29) in {m.day for m in n2019.workdays}
    n2025 = parse_notice(notice_text(2025))
    dragon = next(h for h in n2025.holidays if h.name == "端午节")
    assert (dragon.start, dragon.end) == (date(2025, 5, 31), date(2025, 6, 2))


def test_bu_xiu_is_a_day_off_and_an_encouraged_rest_is_no_holiday():
    n2017 = parse_notice(notice_text(2017))
    assert n2017.days()[date(2017, 1, 2)] == (False, "元旦")
    n2024 = parse_notice(notice_text(2024))
    assert date(2024, 2, 9) not in n2024.days()  # 除夕: only encouraged
    assert len(n2024.skipped) == 1 and "除夕" in n2024.skipped[0]


# ---------------------------------------------------------------- as it arrives pasted

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def web_copy(text: str) -> str:
    """A copy from a news page: chrome around it, lines broken every 17 characters (inside dates
    too), spaces and non-breaking spaces, full-width digits."""
    flat = text.translate(FULL_WIDTH).replace("\n", " ")
    broken = "\n".join(flat[i : i + 17] for i in range(0, len(flat), 17))
    return (
        "首页 > 时政 > 正文\n来源：新华网 2025-11-04 22:15\n字号：大 中 小\n"
        + broken.replace("　", "\u00a0")
        + "\n[责任编辑：某某]\n分享到：微信 微博\n相关阅读：国务院办公厅关于调整放假的答问"
    )


@pytest.mark.parametrize("year", YEARS)
def test_a_web_copy_reads_the_same(year):
    assert (
        parse_notice(web_copy(notice_text(year))).days() == parse_notice(notice_text(year)).days()
    )


@pytest.mark.parametrize("year", [2018, 2023, 2026])
def test_zhou_for_xingqi_and_half_width_punctuation_read_the_same(year):
    text = notice_text(year)
    half = text.replace("星期", "周")
    for full, half_char in zip("：，（）。", ":,().", strict=True):
        half = half.replace(full, half_char)
    assert parse_notice(half).days() == parse_notice(text).days()


def test_the_body_alone_without_title_reads_its_year_from_the_first_sentence():
    body = notice_text(2022).split("各直属机构：", 1)[1]
    assert parse_notice(body).days() == parse_notice(notice_text(2022)).days()


def test_a_paste_ending_at_the_signature_reads_no_date_from_it():
    text = notice_text(2026).split("鼓励单位", 1)[0] + "国务院办公厅\n2025年11月4日\n"
    notice = parse_notice(text)
    assert notice.days() == parse_notice(notice_text(2026)).days()
    assert notice.skipped == ()


def test_a_wrong_weekday_is_flagged_but_the_dates_stand():
    text = notice_text(2026).replace("2月14日（周六）", "2月14日（周日）")
    notice = parse_notice(text)
    assert notice.days() == parse_notice(notice_text(2026)).days()
    assert notice.warnings == ("2月14日通知写的是“星期日”，但这一天是星期六，请核对原文。",)


def test_a_wrong_day_count_is_flagged():
    text = notice_text(2026).replace("共9天", "共8天")
    assert parse_notice(text).warnings == (
        "春节：2月15日至2月23日是 9 天，通知写的是“共8天”，请核对原文。",
    )


def test_a_2027_notice_in_the_same_shape_reads():
    """The shape 2027's notice will most likely have (2026's layout, its own dates)."""
    text = (
        "国务院办公厅关于2027年部分节假日安排的通知\n"
        "一、元旦：1月1日（周五）至3日（周日）放假，共3天。\n"
        "二、春节：2月5日（农历除夕、周五）至13日（农历正月初八、周六）放假调休，共9天。"
        "2月14日（周日）上班。\n"
        "三、国庆节：10月1日（周五）至7日（周四）放假调休，共7天。9月26日（周日）、10月9日（周六）上班。\n"
        "国务院办公厅\n2026年11月10日"
    )
    notice = parse_notice(text)
    assert notice.year == 2027 and notice.warnings == ()
    days = notice.days()
    assert days[date(2027, 2, 13)] == (False, "春节")
    assert days[date(2027, 10, 9)] == (True, "国庆节调休上班")
    assert len([d for d, (w, _) in days.items() if not w]) == 3 + 9 + 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("关于2027年部分节假日安排：一、元旦：放假。", "没有读出任何放假日期"),
        ("关于2027年部分节假日安排，放假前请做好值班。", "没有找到“一、元旦：…”"),
        ("一、元旦：1月1日放假。二、春节：2月6日至12日放假。", "没有找到通知的年份"),
        ("国务院办公厅关于2027年部分节假日安排的通知 一、元旦：2月30日放假。", "日期不存在"),
        ("国务院办公厅关于2027年部分节假日安排的通知 一、春节：2月13日至5日放假。", "日期范围有误"),
        (
            "国务院办公厅关于2027年部分节假日安排的通知 一、春节：2月6日至12日放假。2月7日（周日）上班。",
            "既放假又上班",
        ),
    ],
)
def test_what_is_not_a_whole_notice_is_refused_with_the_reason(text, message):
    with pytest.raises(NoticeError) as caught:
        parse_notice(text)
    assert message in str(caught.value)


def test_looks_like_notice_is_about_notices_only():
    assert all(looks_like_notice(notice_text(y)) for y in YEARS)
    assert looks_like_notice(web_copy(notice_text(2024)))
    for everyday in ("T7 60% 初稿已完成", "国庆放假期间照常报送进度", "节假日值班表已上传", ""):
        assert not looks_like_notice(everyday)


def test_normalize_removes_every_kind_of_break_and_width():
    assert normalize("１０月\n１日（周四）\u3000至\r\n７日") == "10月1日(周四)至7日"
    assert re.fullmatch(r"\S*", normalize(web_copy(notice_text(2020))))
