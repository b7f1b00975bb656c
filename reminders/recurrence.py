"""Recurring reports (定期报送), pure: read a rule as people type it (每月5日, 每周五, 每季度末…),
list its periods between two dates, and move a period's nominal day onto a working day.
No database, no chat, no clock: every date is an argument.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from reminders.calendar import WorkCalendar
from reminders.words import ParseError, chinese_number, fold

WEEKLY, MONTHLY, MONTH_END, QUARTER_END, YEARLY = (
    "weekly",
    "monthly",
    "month_end",
    "quarter_end",
    "yearly",
)
KINDS = (WEEKLY, MONTHLY, MONTH_END, QUARTER_END, YEARLY)
POLICIES = ("previous", "next", "keep")

_WEEKDAY_NAMES = "一二三四五六日"
_QUARTER_NAMES = "一二三四"
_EXAMPLES = "每周五、每月5日、每月末、每季度末、每年12月10日"

# Longest gap between two consecutive nominal days of each kind: a window this long after any day
# holds the next one (monthly day 1: 31 days from 1 Jan to 1 Feb; a quarter: at most 92 days).
_LONGEST_GAP = {WEEKLY: 7, MONTHLY: 31, MONTH_END: 31, QUARTER_END: 92, YEARLY: 366}


@dataclass(frozen=True)
class Recurrence:
    kind: str  # weekly | monthly | month_end | quarter_end | yearly
    weekday: int | None = None  # weekly: 0 = Monday … 6 = Sunday
    day: int | None = None  # monthly: 1..31 (past the month's end: its last day); yearly: day
    month: int | None = None  # yearly: 1..12

    def __post_init__(self):
        fields = {"weekday": self.weekday, "day": self.day, "month": self.month}
        needed = {
            WEEKLY: ("weekday",),
            MONTHLY: ("day",),
            MONTH_END: (),
            QUARTER_END: (),
            YEARLY: ("month", "day"),
        }.get(self.kind)
        if needed is None:
            raise ParseError(f"未知的定期规则类型“{self.kind}”。")
        if any((value is None) == (name in needed) for name, value in fields.items()):
            raise ParseError(f"定期规则“{self.kind}”的字段不符：{fields}。")
        if self.kind == WEEKLY and not 0 <= self.weekday <= 6:
            raise ParseError("星期应在周一到周日之间。")
        if self.kind == MONTHLY:
            _check_day_of_month(self.day)
        if self.kind == YEARLY:
            _check_day_of_year(self.month, self.day)

    @property
    def text(self) -> str:
        """The canonical Chinese form; parse_recurrence(rule.text) == rule."""
        if self.kind == WEEKLY:
            return f"每周{_WEEKDAY_NAMES[self.weekday or 0]}"
        if self.kind == MONTHLY:
            return f"每月{self.day}日"
        if self.kind == MONTH_END:
            return "每月末"
        if self.kind == QUARTER_END:
            return "每季度末"
        return f"每年{self.month}月{self.day}日"


@dataclass(frozen=True)
class Period:
    key: str  # stable, sortable, unique per rule: "2026-W49", "2026-03", "2026-Q1", "2026"
    label: str  # "2026年第49周", "2026年3月", "2026年第一季度", "2026年"
    nominal: date  # the day the rule names, before any move onto a working day


def _check_day_of_month(day: int) -> None:
    if not 1 <= day <= 31:
        raise ParseError(f"每月没有{day}日：日期应在 1 到 31 之间（写 31 日的，小月按月末算）。")


def _check_day_of_year(month: int, day: int) -> None:
    if not 1 <= month <= 12:
        raise ParseError(f"没有{month}月：月份应在 1 到 12 之间。")
    if (month, day) == (2, 29):
        raise ParseError("2月29日只有闰年才有，不能每年报送；请写 每年2月28日 或 每年3月1日。")
    length = calendar.monthrange(2026, month)[1]  # a common year: February has 28 days
    if not 1 <= day <= length:
        leap = "（闰年29天）" if month == 2 else ""
        raise ParseError(f"{month}月没有{day}日：{month}月只有{length}天{leap}。")


# ---------------------------------------------------------------- reading what people type

# Everything that starts like this is meant as a rule: it is understood or refused, never passed
# on to be read as a date.
_RULE_START = re.compile(r"^每(?:个)?(?:周|星期|礼拜|月|季|年|天|日|工作日|两|二|半|双|隔)")
_UNSUPPORTED = re.compile(r"^每(?:个)?(?:天|日|工作日|两|二|半|双|隔)")
_NUM = r"([0-9]+|[零〇一二两三四五六七八九十]+)"
_WEEKLY = re.compile(r"^每(?:个)?(?:周|星期|礼拜)(?:周|星期|礼拜)?(.*)$")
_MONTHLY = re.compile(r"^每(?:个)?月(?:份)?(?:的)?(.*)$")
_MONTH_END_WORDS = ("底", "末", "月底", "月末", "最后一天", "最后1天")
_QUARTERLY = re.compile(r"^每(?:个)?季(?:度)?(?:的)?(.*)$")
_QUARTER_END_WORDS = ("末", "底", "最后一天", "最后1天")
_YEARLY = re.compile(r"^每年(?:的)?(.*)$")
_DAY = re.compile(rf"^{_NUM}[日号]?$")
_MONTH_DAY = re.compile(rf"^{_NUM}月{_NUM}[日号]?$")
_MONTH_OF_YEAR_END = re.compile(rf"^{_NUM}月(?:底|末|最后一天|最后1天)$")
_YEAR_END_WORDS = ("底", "末", "年底", "年末", "最后一天")
_BEFORE = ("之前", "以前", "前")  # "每月5日前" is the 5th, as for a single deadline


def parse_recurrence(text: str) -> Recurrence | None:
    """A recurring rule as people type it (either width, spaces anywhere, 前/之前/以前 allowed),
    or None when the text is not a rule at all. A text that is clearly meant as a rule but names
    an impossible or unsupported one raises ParseError (a ValueError) with a Chinese message."""
    raw = fold(text)
    token = raw.replace(" ", "")
    if not _RULE_START.match(token):
        return None
    for suffix in _BEFORE:
        if token.endswith(suffix):
            token = token[: -len(suffix)]
            break
    if _UNSUPPORTED.match(token):
        raise ParseError(f"暂不支持“{raw}”这样的周期，可以这样写：{_EXAMPLES}。")
    rule = _weekly(token) or _monthly(token) or _quarterly(token) or _yearly(token)
    if rule is None:
        raise ParseError(f"看不懂定期规则“{raw}”，可以这样写：{_EXAMPLES}。")
    return rule


def _number(word: str) -> int:
    value = chinese_number(word)
    if value is None:  # a run of numerals that is no number, such as 十十
        raise ParseError(f"“{word}”不是数字。")
    return value


def _weekly(token: str) -> Recurrence | None:
    match = _WEEKLY.match(token)
    if not match:
        return None
    name = match.group(1)
    if not name:
        raise ParseError("请写明每周哪一天，如 每周五。")
    if len(name) == 1 and name in "一二三四五六日天":
        return Recurrence(WEEKLY, weekday=_WEEKDAY_NAMES.index(name.replace("天", "日")))
    if name.isascii() and name.isdigit():  # 每周5; 7 is Sunday, as people count
        if 1 <= int(name) <= 7:
            return Recurrence(WEEKLY, weekday=int(name) - 1)
        raise ParseError(f"没有“周{name}”，请写周一到周日，如 每周五。")
    if re.fullmatch(r"[零〇七八九十]+", name):
        raise ParseError(f"没有“周{name}”，请写周一到周日，如 每周五。")
    return None


def _monthly(token: str) -> Recurrence | None:
    match = _MONTHLY.match(token)
    if not match:
        return None
    rest = match.group(1)
    if rest in _MONTH_END_WORDS:
        return Recurrence(MONTH_END)
    found = _DAY.match(rest)
    if not found:
        if not rest:
            raise ParseError("请写明每月几日，如 每月5日 或 每月末。")
        return None
    day = _number(found.group(1))
    _check_day_of_month(day)
    return Recurrence(MONTHLY, day=day)


def _quarterly(token: str) -> Recurrence | None:
    match = _QUARTERLY.match(token)
    if not match:
        return None
    if match.group(1) in _QUARTER_END_WORDS:
        return Recurrence(QUARTER_END)
    raise ParseError(f"每季度的报送暂只支持季度末（每季度末），可以这样写：{_EXAMPLES}。")


def _yearly(token: str) -> Recurrence | None:
    match = _YEARLY.match(token)
    if not match:
        return None
    rest = match.group(1)
    if rest in _YEAR_END_WORDS:
        return Recurrence(YEARLY, month=12, day=31)
    found = _MONTH_DAY.match(rest)
    if found:
        month, day = _number(found.group(1)), _number(found.group(2))
        _check_day_of_year(month, day)
        return Recurrence(YEARLY, month=month, day=day)
    found = _MONTH_OF_YEAR_END.match(rest)
    if found:
        month = _number(found.group(1))
        _check_day_of_year(month, 1)
        if month == 2:  # 28 or 29 days: no one yearly day says "the end of February"
            raise ParseError("2月底的天数逐年不同，请写 每年2月28日 或 每年3月1日。")
        return Recurrence(YEARLY, month=month, day=calendar.monthrange(2026, month)[1])
    if not rest:
        raise ParseError("请写明每年几月几日，如 每年12月10日。")
    return None


# ---------------------------------------------------------------- periods


def _month_day(year: int, month: int, day: int) -> date:
    """The day-th of the month, or its last day when the month is shorter."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _months(start: date, end: date):
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def periods(rule: Recurrence, start: date, end: date) -> list[Period]:
    """The rule's periods whose nominal day lies in [start, end], in order (none if end < start)."""
    if rule.kind == WEEKLY:
        found = []
        day = start + timedelta(days=((rule.weekday or 0) - start.weekday()) % 7)
        while day <= end:
            year, week, _ = day.isocalendar()
            found.append(Period(f"{year}-W{week:02d}", f"{year}年第{week}周", day))
            day += timedelta(days=7)
        return found
    candidates: list[Period] = []
    if rule.kind in (MONTHLY, MONTH_END):
        day_of_month = 31 if rule.kind == MONTH_END else (rule.day or 1)
        for year, month in _months(start, end):
            nominal = _month_day(year, month, day_of_month)
            candidates.append(Period(f"{year}-{month:02d}", f"{year}年{month}月", nominal))
    elif rule.kind == QUARTER_END:
        for year, month in _months(start, end):
            if month % 3 == 0:
                quarter = month // 3
                label = f"{year}年第{_QUARTER_NAMES[quarter - 1]}季度"
                candidates.append(Period(f"{year}-Q{quarter}", label, _month_day(year, month, 31)))
    else:
        for year in range(start.year, end.year + 1):
            nominal = date(year, rule.month or 1, rule.day or 1)
            candidates.append(Period(f"{year}", f"{year}年", nominal))
    return [period for period in candidates if start <= period.nominal <= end]


def next_period(rule: Recurrence, after: date) -> Period:
    """The first period whose nominal day is after `after`."""
    start = after + timedelta(days=1)
    return periods(rule, start, start + timedelta(days=_LONGEST_GAP[rule.kind] - 1))[0]


def due_date(nominal: date, cal: WorkCalendar, policy: str = "previous") -> date:
    """The day a period is due: its nominal day if that is a working day; otherwise the working
    day before ("previous", what the office wants, as for any deadline), the one after ("next"),
    or the nominal day all the same ("keep")."""
    if policy not in POLICIES:
        raise ParseError(
            f"未知的顺延方式“{policy}”，应为 previous（提前）、next（顺延）或 keep（不变）。"
        )
    if policy == "keep" or cal.is_workday(nominal):
        return nominal
    return cal.previous_workday(nominal) if policy == "previous" else cal.next_workday(nominal)
