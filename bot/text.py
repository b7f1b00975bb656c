"""Folding and parsing what people type: codes (T7, t07, Ｔ７), percents, dates, points."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation

_SPACES = re.compile(r"\s+")
_CODE = re.compile(r"^([TZ])0*([1-9][0-9]?)$", re.IGNORECASE)
_CODE_ANYWHERE = re.compile(r"(?<![A-Za-z0-9])([TZtz])0*([1-9][0-9]?)(?![0-9])")


def fold(text: str) -> str:
    """NFKC (full-width letters, digits and spaces become ASCII), one space between words."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zs", "Zl", "Zp") else ch for ch in text
    )
    return _SPACES.sub(" ", text).strip()


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


class ParseError(ValueError):
    """The message is the Chinese explanation shown to the person."""


def parse_percent(token: str) -> int:
    raw = fold(token).rstrip("%").strip()
    if not re.fullmatch(r"-?[0-9]+", raw):
        raise ParseError(f"“{token}”不是百分比，请写 0 到 100 的整数，如 60%。")
    value = int(raw)
    if not 0 <= value <= 100:
        raise ParseError(f"进度 {value}% 超出范围，应在 0 到 100 之间。")
    return value


_DATE_FORMS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def looks_like_date(token: str) -> bool:
    token = fold(token)
    return any(form.match(token) for form in _DATE_FORMS)


def parse_date(token: str) -> date:
    token = fold(token)
    for form in _DATE_FORMS:
        match = form.match(token)
        if match:
            year, month, day = (int(g) for g in match.groups())
            try:
                return date(year, month, day)
            except ValueError:
                raise ParseError(f"日期“{token}”不存在，请检查年月日。") from None
    raise ParseError(f"“{token}”不是日期，请写成 2026-12-31 这样的格式。")


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
    return value.normalize() if value != value.to_integral_value() else value.quantize(Decimal(1))


def parse_number(token: str) -> Decimal:
    raw = fold(token).replace(",", "").rstrip("%")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ParseError(f"“{token}”不是数字。") from None
    if not value.is_finite() or abs(value) >= Decimal("1e15"):
        raise ParseError(f"“{token}”不是有效的数字。")
    return value


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
