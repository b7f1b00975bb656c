"""The State Council's yearly holiday notice (国务院办公厅关于YYYY年部分节假日安排的通知) read
into days: every holiday range (放假, 补休) and every make-up working day (上班), with the
weekdays the notice states checked against the dates. Pure: text in, dates out.

It reads the notice as published and as it arrives pasted: full-width or half-width digits and
punctuation, line breaks anywhere (a web page or WeChat copy), 星期X or 周X, a lunar date in the
same brackets ("（农历腊月二十八、周日）"), ranges across months ("9月29日至10月6日", "5月31日至
6月2日") and across the year end ("2022年12月31日至2023年1月2日"), and the title, 文号,
addressees, closing paragraph and signature around the numbered items ("一、元旦：…").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta

WEEKDAYS = "一二三四五六日"
FESTIVALS = ("元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节")

_SPACE = re.compile(r"\s+")
_YEAR = re.compile(r"关于(\d{4})年(?:部分)?节假日")
_YEAR_BODY = re.compile(r"现将(\d{4})年")
_ITEM = re.compile(r"([一二三四五六七八九十]{1,3})、([\u4e00-\u9fff、]{2,15}?):")
_DATE = re.compile(r"(?:(\d{4})年)?(?:(\d{1,2})月)?(\d{1,2})日(?:\(([^()]{0,24})\))?")
_STATED = re.compile(r"(?:星期|周|礼拜)([一二三四五六日天])")
_COUNT = re.compile(r"共(\d{1,2})天")
_SENTENCE_END = re.compile(r"[。.]")  # a copy may have lost its full-width stops
_WORK, _OFF = "上班", ("放假", "补休")


class NoticeError(ValueError):
    """The text is not a holiday notice this parser can read whole (a Chinese message)."""


@dataclass(frozen=True)
class Holiday:
    """One holiday range as the notice gives it ("春节：2月15日至23日放假调休，共9天")."""

    name: str
    start: date
    end: date

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(n) for n in range((self.end - self.start).days + 1)]


@dataclass(frozen=True)
class MakeUpDay:
    """A weekend day worked instead (调休上班)."""

    name: str
    day: date


@dataclass(frozen=True)
class Notice:
    year: int
    holidays: tuple[Holiday, ...]
    workdays: tuple[MakeUpDay, ...]
    # Where the notice disagrees with itself: a stated weekday or day count that does not fit.
    warnings: tuple[str, ...] = ()
    # Dated sentences that set no day ("安排职工在除夕（2月9日）休息": encouraged, not a holiday).
    skipped: tuple[str, ...] = ()

    def days(self) -> dict[date, tuple[bool, str]]:
        """Every day the notice sets: day -> (a working day?, what for), in date order."""
        found: dict[date, tuple[bool, str]] = {}
        for holiday in self.holidays:
            for day in holiday.days:
                found[day] = (False, holiday.name)
        for made in self.workdays:
            found[made.day] = (True, f"{made.name}调休上班")
        return dict(sorted(found.items()))


def weekday_name(day: date) -> str:
    return "星期" + WEEKDAYS[day.weekday()]


def normalize(text: str) -> str:
    """Full-width digits and punctuation to half-width, and no whitespace at all: a copy from a
    page or a chat breaks lines anywhere, even inside a date, and Chinese needs no spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("〔", "[").replace("〕", "]").replace("：", ":")
    return _SPACE.sub("", text)


def looks_like_notice(text: str) -> bool:
    """Cheap: does this text mean to be a holiday notice (its title, or two numbered festival
    items)? A text that does is answered as one, readable or not."""
    if "节假日" not in text and "放假" not in text:
        return False
    flat = normalize(text)
    if "节假日安排" in flat and ("放假" in flat or "上班" in flat):
        return True
    items = [m.group(2) for m in _ITEM.finditer(flat)]
    return sum(1 for name in items if any(f in name for f in FESTIVALS)) >= 2


def notice_year(flat: str) -> int:
    found = _YEAR.search(flat) or _YEAR_BODY.search(flat)
    if found is None:
        raise NoticeError(
            "没有找到通知的年份：请粘贴通知全文，包括标题“国务院办公厅关于XXXX年部分节假日安排的通知”。"
        )
    return int(found.group(1))


@dataclass
class _Cursor:
    """The year and month a date without them inherits: "2月15日至23日" is February's 23rd."""

    year: int
    month: int = 0


@dataclass
class _Reading:
    year: int
    holidays: list[Holiday] = field(default_factory=list)
    workdays: list[MakeUpDay] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def parse_notice(text: str) -> Notice:
    """Read a notice; NoticeError (a Chinese message) when it is not one, or is not whole."""
    flat = normalize(text)
    year = notice_year(flat)
    items = list(_ITEM.finditer(flat))
    items = [m for m in items if any(f in m.group(2) for f in FESTIVALS)]
    if not items:
        raise NoticeError(
            "没有找到“一、元旦：…”这样的放假安排条目，请粘贴通知全文（或发送 .txt / .docx 文件）。"
        )
    reading = _Reading(year)
    for index, item in enumerate(items):
        end = items[index + 1].start() if index + 1 < len(items) else len(flat)
        _read_item(reading, item.group(2), flat[item.end() : end])
    if not reading.holidays:
        raise NoticeError("通知里没有读出任何放假日期，请核对粘贴的内容是否完整。")
    _check_overlaps(reading)
    return Notice(
        year,
        tuple(reading.holidays),
        tuple(sorted(reading.workdays, key=lambda m: m.day)),
        tuple(reading.warnings),
        tuple(reading.skipped),
    )


def _read_item(reading: _Reading, name: str, body: str) -> None:
    """One numbered item: its sentences up to the first without a date (the closing paragraph,
    the signature). A sentence with dates but no 放假 / 补休 / 上班 sets nothing and is noted."""
    seen = False
    for sentence in _SENTENCE_END.split(body):
        if not sentence:
            continue
        if sentence.startswith("国务院办公厅") or "节假日期间" in sentence:
            break  # the signature and its date, or the closing paragraph
        if not _DATE.search(sentence):
            if seen:
                break
            continue
        seen = True
        if not any(word in sentence for word in (_WORK, *_OFF)):
            reading.skipped.append(sentence + "。")
            continue
        _read_sentence(reading, name, sentence)


def _read_sentence(reading: _Reading, name: str, sentence: str) -> None:
    """Dates joined by 至 are a range; dates (or ranges) joined by 、 share the word after the
    last of them: 放假 / 补休 (days off) or 上班 (working days)."""
    cursor = _Cursor(reading.year)
    group: list[tuple[date, date]] = []
    pos = 0
    while True:
        found = _DATE.search(sentence, pos)
        if found is None:
            break
        between = sentence[pos : found.start()]
        if group and between not in ("、", "和", "及"):
            if between.startswith("至") and len(between) <= 2 and group:
                start, _ = group.pop()
                end = _date_of(reading, cursor, found, sentence, continued=True)
                if end is None:
                    pos = found.end()
                    continue
                if end < start:
                    raise NoticeError(
                        f"“{_short(sentence)}”中的日期范围有误：{_md(start)}至{_md(end)}。"
                    )
                group.append((start, end))
                pos = found.end()
                continue
            _settle(reading, name, group, between)
            group = []
        day = _date_of(reading, cursor, found, sentence, continued=False)
        if day is not None:
            group.append((day, day))
        pos = found.end()
    if group:
        _settle(reading, name, group, sentence[pos:])


def _date_of(reading, cursor: _Cursor, found, sentence: str, *, continued: bool) -> date | None:
    year_text, month_text, day_text, brackets = found.groups()
    if month_text is None and not (continued and cursor.month):
        return None  # "23日" alone is no date; only after 至 does it take the month before it
    year = int(year_text) if year_text else cursor.year
    month = int(month_text) if month_text else cursor.month
    try:
        day = date(year, month, int(day_text))
    except ValueError:
        raise NoticeError(
            f"“{_short(sentence)}”中的日期不存在：{year}年{month}月{day_text}日。"
        ) from None
    if abs(day.year - reading.year) > 1:
        raise NoticeError(f"“{_short(sentence)}”中的日期 {day} 不在 {reading.year} 年前后。")
    cursor.year, cursor.month = year, month
    stated = _STATED.search(brackets or "")
    if stated is not None:
        said = "日" if stated.group(1) == "天" else stated.group(1)
        if WEEKDAYS.index(said) != day.weekday():
            reading.warnings.append(
                f"{_md(day)}通知写的是“星期{said}”，但这一天是{weekday_name(day)}，请核对原文。"
            )
    return day


def _settle(reading: _Reading, name: str, group: list[tuple[date, date]], after: str) -> None:
    """The dates just read take the first of 放假 / 补休 / 上班 written after them."""
    marks = [(after.find(w), w) for w in (_WORK, *_OFF) if w in after]
    if not marks:
        reading.skipped.append("、".join(_md(a) for a, _ in group))
        return
    word = min(marks)[1]
    if word == _WORK:
        for start, end in group:
            day = start
            while day <= end:
                reading.workdays.append(MakeUpDay(name, day))
                day += timedelta(1)
        return
    count = _COUNT.search(_SENTENCE_END.split(after)[0])
    for start, end in group:
        reading.holidays.append(Holiday(name, start, end))
        span = (end - start).days + 1
        if count is not None and len(group) == 1 and int(count.group(1)) != span:
            reading.warnings.append(
                f"{name}：{_md(start)}至{_md(end)}是 {span} 天，通知写的是“共{count.group(1)}天”，请核对原文。"
            )


def _check_overlaps(reading: _Reading) -> None:
    off: dict[date, str] = {}
    for holiday in reading.holidays:
        for day in holiday.days:
            if day in off:
                raise NoticeError(
                    f"{_md(day)}在“{off[day]}”和“{holiday.name}”中都放假，请核对原文。"
                )
            off[day] = holiday.name
    for made in reading.workdays:
        if made.day in off:
            raise NoticeError(f"{_md(made.day)}既放假又上班（{made.name}），请核对原文。")
        if made.day.weekday() < 5:
            reading.warnings.append(
                f"{_md(made.day)}（{weekday_name(made.day)}）本来就是工作日，通知却写它“上班”，请核对原文。"
            )


def _md(day: date) -> str:
    return f"{day.month}月{day.day}日"


def _short(sentence: str) -> str:
    return sentence if len(sentence) <= 30 else sentence[:30] + "…"
