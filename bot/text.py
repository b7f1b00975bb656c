"""Folding and parsing what people type: codes (T7, t07, Ｔ７), percents, dates, points."""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from reminders.words import ParseError, chinese_number, fold

__all__ = ["ParseError", "chinese_number", "fold"]  # also the chat's, from reminders.words

# T7 (a main task), Z11 (an indicator), J3 (an item the office assigned, 交办): one pattern for
# every place that reads a code. Whether the item exists is the database's question.
CODE_PATTERN = r"([TZJtzj])0*([1-9][0-9]{0,2})"
_CODE = re.compile(rf"^{CODE_PATTERN}$")
_CODE_ANYWHERE = re.compile(rf"(?<![A-Za-z0-9]){CODE_PATTERN}(?![0-9])")


# What may stand between the words of a command: spaces and the punctuation people type, in
# both widths (full-width forms are folded to ASCII first).
SEPARATORS = frozenset(" ,:;!?。、()[]{}【】「」『』<>《》“”‘’\"'~…|")


def _fold_char(ch: str) -> str:
    category = unicodedata.category(ch)
    if category == "Cf":  # zero-width characters copied along with text
        return ""
    if category in ("Cc", "Zs", "Zl", "Zp"):
        return " "
    return unicodedata.normalize("NFKC", ch)


class Scan:
    """A message folded for reading (full-width to ASCII, zero-width characters gone), with each
    folded position mapped back to the original, so free text (a note) keeps what was typed."""

    def __init__(self, original: str):
        folded: list[str] = []
        index: list[int] = []
        for position, ch in enumerate(original or ""):
            for piece in _fold_char(ch):
                folded.append(piece)
                index.append(position)
        index.append(len(original or ""))
        self.original = original or ""
        self.text = "".join(folded)
        self._index = index

    def __len__(self) -> int:
        return len(self.text)

    def skip(self, pos: int) -> int:
        """The first position at or after `pos` that is not a separator."""
        while pos < len(self.text) and self.text[pos] in SEPARATORS:
            pos += 1
        return pos

    def word(self, pos: int) -> tuple[str, int]:
        """The run of non-separators starting at `pos`, and where it ends."""
        end = pos
        while end < len(self.text) and self.text[end] not in SEPARATORS:
            end += 1
        return self.text[pos:end], end

    def original_between(self, start: int, end: int | None = None) -> str:
        """What the person typed between two folded positions, as typed."""
        end = len(self.text) if end is None else end
        return self.original[self._index[start] : self._index[end]]


def parse_code(token: str) -> str | None:
    """'T7', 't07', 'Ｔ７' -> 'T7'; anything else -> None."""
    match = _CODE.match(fold(token))
    if not match:
        return None
    return f"{match.group(1).upper()}{int(match.group(2))}"


def find_code(text: str) -> str | None:
    """The first task or indicator code mentioned anywhere in a text (for file captions)."""
    match = _CODE_ANYWHERE.search(fold(text))
    if not match:
        return None
    return f"{match.group(1).upper()}{int(match.group(2))}"


def find_codes(text: str) -> list[str]:
    """Every task or indicator code a text mentions, each once, in order ("T7、T18的材料")."""
    codes: list[str] = []
    for match in _CODE_ANYWHERE.finditer(fold(text)):
        code = f"{match.group(1).upper()}{int(match.group(2))}"
        if code not in codes:
            codes.append(code)
    return codes


_PERCENT_FORMS = (
    re.compile(r"^(-?[0-9]+(?:\.[0-9]+)?)\s*%?$"),
    re.compile(r"^百分之\s*(\S+)$"),
    re.compile(r"^(\S+?)成$"),
)


def parse_percent(token: str) -> int:
    """'60%', '60', '百分之六十', '百分之60', '六成' -> 60. A whole number from 0 to 100."""
    raw = fold(token)
    value: float | int | None = None
    match = _PERCENT_FORMS[0].match(raw)
    if match:
        value = float(match.group(1))
    else:
        for form, scale in ((_PERCENT_FORMS[1], 1), (_PERCENT_FORMS[2], 10)):
            match = form.match(raw)
            if match:
                number = chinese_number(match.group(1))
                value = None if number is None else number * scale
                break
    if value is None:
        raise ParseError(f"“{token}”不是百分比，请写 0 到 100 的整数，如 60%。")
    if value != int(value):
        raise ParseError(f"进度请写整数百分比，如 60%（您写的是 {token}）。")
    value = int(value)
    if not 0 <= value <= 100:
        raise ParseError(f"进度 {value}% 超出范围，应在 0 到 100 之间。")
    return value


_DATE_FORMS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_MONTH_DAY = re.compile(r"^(\d{1,2})月(\d{1,2})[日号]?$")
_MONTH_END = re.compile(r"^(?:(\d{4})年)?(\d{1,2})月(?:底|末|份?结束)$")
_WEEKDAY = re.compile(r"^(本|这|下下个?|下|下个)?(?:周|星期|礼拜)([一二三四五六日天])$")
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_RELATIVE_DAYS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2}
_BEFORE = ("之前", "以前", "前")
# 本月20号, 下个月10号, 20号: a day of this month, of the next, or the next such day.
_DAY_OF_MONTH = re.compile(r"^(本月|这个?月|下个?月)?(\d{1,2})[日号]$")
# Chinese numerals in a date (十二月十八日, 一月底) and the year said in words (明年, 今年).
_CN_MONTH_DAY = re.compile(r"([零〇一二两三四五六七八九十]{1,3})(?=月|[日号])")
_YEAR_WORDS = {"今年": 0, "明年": 1}


def looks_like_date(token: str) -> bool:
    token = _date_in_digits(_strip_before(fold(token)), date(2000, 1, 1))  # the shape only
    return (
        any(form.match(token) for form in _DATE_FORMS)
        or bool(_MONTH_DAY.match(token) or _MONTH_END.match(token) or _WEEKDAY.match(token))
        or bool(_DAY_OF_MONTH.match(token))
        or token in _RELATIVE_DAYS
        or token in ("月底", "本月底", "月末", "本月末", "下月底", "年底", "年末", "今年底")
    )


def _strip_before(token: str) -> str:
    for suffix in _BEFORE:
        if token.endswith(suffix) and len(token) > len(suffix):
            return token[: -len(suffix)]
    return token


def _month_end(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


def parse_date(token: str, today: date | None = None) -> date:
    """A date as people write it: 2026-12-31, 2026/12/31, 2026年12月31日, 20261231; with `today`
    also 12月31日 (the nearest such day), 本周五, 下周一, 月底, 12月底, 年底, 明天; a trailing
    前/之前 ("12月20日前") is the same day."""
    raw = fold(token)
    token = _strip_before(raw)
    if today is not None:
        token = _date_in_digits(token, today)
    for form in _DATE_FORMS:
        match = form.match(token)
        if match:
            year, month, day = (int(g) for g in match.groups())
            return _make_date(raw, year, month, day)
    if today is not None:
        found = _relative_date(raw, token, today)
        if found is not None:
            return found
    raise ParseError(f"“{raw}”不是日期，请写成 2026-12-31 这样的格式。")


def _date_in_digits(token: str, today: date) -> str:
    """明年一月十五号 -> 2027年1月15号: the year in words and Chinese numerals as digits."""
    for word, ahead in _YEAR_WORDS.items():
        if token.startswith(word):
            token = f"{today.year + ahead}年" + token[len(word) :]
    return _CN_MONTH_DAY.sub(lambda m: str(chinese_number(m.group(1)) or m.group(1)), token)


def _make_date(raw: str, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ParseError(f"日期“{raw}”不存在，请检查年月日。") from None


def _relative_date(raw: str, token: str, today: date) -> date | None:
    match = _MONTH_DAY.match(token)
    if match:
        month, day = int(match.group(1)), int(match.group(2))
        # The nearest such day: "1月15日" written in December is next January's.
        options = []
        for year in (today.year - 1, today.year, today.year + 1):
            with contextlib.suppress(ValueError):
                options.append(date(year, month, day))
        if not options:
            raise ParseError(f"日期“{raw}”不存在，请检查月和日。")
        return min(options, key=lambda d: (abs((d - today).days), d < today))
    match = _MONTH_END.match(token)
    if match:
        month = int(match.group(2))
        if not 1 <= month <= 12:
            raise ParseError(f"日期“{raw}”不存在，请检查月份。")
        year = int(match.group(1)) if match.group(1) else today.year
        if not match.group(1) and month < today.month - 6:
            year += 1
        return _month_end(year, month)
    if token in ("月底", "本月底", "月末", "本月末"):
        return _month_end(today.year, today.month)
    if token == "下月底":
        return _month_end(today.year + today.month // 12, today.month % 12 + 1)
    if token in ("年底", "年末", "今年底"):
        return date(today.year, 12, 31)
    if token in _RELATIVE_DAYS:
        return today + timedelta(days=_RELATIVE_DAYS[token])
    match = _DAY_OF_MONTH.match(token)
    if match:
        day = int(match.group(2))
        year, month = today.year, today.month
        said = match.group(1) or ""
        # 下个月10号; or "20号" on the 26th: next month's.
        if said.startswith("下") or (not said and day < today.day):
            year, month = year + month // 12, month % 12 + 1
        return _make_date(raw, year, month, day)
    match = _WEEKDAY.match(token)
    if match:
        monday = today - timedelta(days=today.weekday())
        if match.group(1) in ("下", "下个"):
            monday += timedelta(days=7)
        elif match.group(1) in ("下下", "下下个"):  # the week after next
            monday += timedelta(days=14)
        return monday + timedelta(days=_WEEKDAYS[match.group(2)])
    return None


def parse_points(token: str) -> Decimal:
    raw = fold(token).removesuffix("分")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ParseError(f"“{token}”不是分数，请写数字，如 2 或 1.5。") from None
    if not value.is_finite():
        raise ParseError(f"“{token}”不是分数，请写数字，如 2 或 1.5。")
    if value < 0:
        raise ParseError(f"分数“{token}”不能为负数。")
    if value > 1000:
        raise ParseError(f"分数 {token} 太大了。")
    if (value * 2) != (value * 2).to_integral_value():
        raise ParseError(f"分数 {value} 只能是整数或 .5 的半分。")
    value = value + 0  # -0 becomes 0
    return value.normalize() if value != value.to_integral_value() else value.quantize(Decimal(1))


def parse_number(token: str) -> Decimal:
    raw = fold(token).replace(",", "").rstrip("%")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ParseError(f"“{token}”不是数字。") from None
    if not value.is_finite() or abs(value) >= Decimal("1e15"):
        raise ParseError(f"“{token}”不是有效的数字。")
    return value + 0  # -0 becomes 0


def split_utf8(text: str, limit: int) -> list[str]:
    """Split a message into parts of at most `limit` UTF-8 bytes, at line boundaries where it
    can (a single longer line is cut between characters), keeping the order."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate.encode()) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        while len(line.encode()) > limit:
            cut = limit
            while len(line[:cut].encode()) > limit:
                cut -= 1
            # characters are at most 4 bytes: step down to a character boundary
            head = line[:cut]
            while len(head.encode()) > limit:
                head = head[:-1]
            parts.append(head)
            line = line[len(head) :]
        current = line
    if current or not parts:
        parts.append(current)
    return parts


_CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_POINT = re.compile(
    r"第\s*([0-9]{1,2}|[一二三四五六七八九])\s*项|[TZtz]0*[1-9][0-9]?\s*[-.#]\s*([0-9]{1,2})"
)


def find_point(text: str) -> int | None:
    """Which point of an indicator's checklist a caption names: "第2项", "第二项", "Z12-2"."""
    match = _POINT.search(fold(text))
    if not match:
        return None
    raw = match.group(1) or match.group(2)
    return _CHINESE_DIGITS.get(raw) or int(raw)


# ------------------------------------------------------------------ where 交办 work comes from

_BRACKETED = re.compile(r"[（(【\[]\s*([^（()）【】\[\]]{1,80}?)\s*[）)】\]]")
_SOURCE_LABEL = re.compile(r"(?:来源|出处)\s*[:：]\s*([^\s，,。；;]+)")
# The words that name a source, in the order they are tried (批示 before 会议: 会议上的批示 is
# a leader's). Values are models.plan.Source's stored words.
SOURCE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("领导批示", ("批示", "领导交办", "领导指示", "领导要求")),
    ("会议议定", ("常务会议", "联席会议", "会议议定", "会议决定", "会议纪要", "专题会议")),
    ("上级交办", ("上级交办", "上级部署", "市级交办", "省级交办", "市里交办", "省里交办")),
    ("群众诉求", ("群众诉求", "群众反映", "12345", "信访件")),
    ("办公室", ("办公室交办",)),
)


def source_of(words: str) -> str | None:
    """The source a bracket's words name (县长批示 → 领导批示), or None."""
    for source, keys in SOURCE_WORDS:
        if any(key in words for key in keys):
            return source
    return None


@dataclass(frozen=True)
class SourceMark:
    source: str | None  # None: the text names none
    title: str  # the text without the marker
    words: str  # what the marker said (县长批示：请抓紧推进), "" when none


def read_source(text: str) -> SourceMark:
    """Where a 交办 item comes from, as written anywhere in brackets (（联席会议议定）,
    【县长批示：…】) or after 来源：; the title keeps everything outside the marker."""
    for match in _BRACKETED.finditer(text):
        source = source_of(match.group(1))
        if source is not None:
            title = (text[: match.start()] + text[match.end() :]).strip(" ，,。；;：:")
            return SourceMark(source, title or text, match.group(1).strip())
    label = _SOURCE_LABEL.search(text)
    if label is not None:
        source = source_of(label.group(1))
        if source is not None:
            title = (text[: label.start()] + text[label.end() :]).strip(" ，,。；;：:")
            return SourceMark(source, title or text, label.group(1))
    return SourceMark(None, text.strip(), "")


# ------------------------------------------------------------------ 立项 in a 交办 message

_URGENCY_MARK = re.compile(r"[（(【\[]\s*(特急|紧急)\s*[)）】\]]")
_DOC_NO = re.compile(
    r"(?:文号\s*[:：]\s*)?([\u4e00-\u9fa5A-Za-z]{2,20}[〔\[［(（]\d{4}[〕\]］)）]\d{1,4}号)"
)
_LEADER_MARK = re.compile(r"批示领导\s*[:：]\s*([^\s，,；;。]+)")
_ORIGINAL = re.compile(r"(?:批示)?原文\s*[:：]\s*(.+)$", re.S)


@dataclass(frozen=True)
class InstructionMark:
    """The source document a 交办 message may carry: 文号, 紧急程度, 批示领导 (as written: a name
    or userid) and 原文, each "" when not written; `title` is what remains."""

    title: str
    doc_no: str = ""
    urgency: str = ""
    leader: str = ""
    instruction: str = ""


def read_instruction(text: str) -> InstructionMark:
    """交办 …（特急） 文号：新政办批〔2026〕8号 批示领导：王县长 原文：请… — the markers are taken
    out of the title; 原文 runs to the end of the message."""
    rest = text
    instruction = ""
    found = _ORIGINAL.search(rest)
    if found:
        instruction = found.group(1).strip()
        rest = rest[: found.start()]
    urgency = ""
    found = _URGENCY_MARK.search(rest)
    if found:
        urgency = found.group(1)
        rest = rest[: found.start()] + rest[found.end() :]
    leader = ""
    found = _LEADER_MARK.search(rest)
    if found:
        leader = found.group(1)
        rest = rest[: found.start()] + rest[found.end() :]
    doc_no = ""
    found = _DOC_NO.search(rest)
    if found:
        doc_no = found.group(1)
        rest = rest[: found.start()] + rest[found.end() :]
    title = " ".join(rest.split()).strip(" ，,。；;：:")
    return InstructionMark(title or text.strip(), doc_no, urgency, leader, instruction)
