"""Pure text rules shared by the campaign's rules and the chat: folding what people type,
Chinese numerals, and the error whose message is shown to the person. No chat, no data."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """NFKC (full-width letters, digits and spaces become ASCII), one space between words."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zs", "Zl", "Zp") else ch for ch in text
    )
    return _SPACES.sub(" ", text).strip()


class ParseError(ValueError):
    """The message is the Chinese explanation shown to the person."""


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_CN_DIGITS.update({"七": 7, "八": 8, "九": 9})


def chinese_number(text: str) -> int | None:
    """'六十' -> 60, '一百' -> 100, '十五' -> 15, '60' -> 60; None for anything else (0..100)."""
    text = fold(text)
    if text.isascii() and text.isdigit():
        return int(text)
    if not text or any(ch not in _CN_DIGITS and ch not in "十百" for ch in text):
        return None
    if text in ("一百", "百"):
        return 100
    if "百" in text:
        return None
    if "十" in text:
        tens, _, ones = text.partition("十")
        if "十" in ones or (tens and tens not in _CN_DIGITS) or (ones and ones not in _CN_DIGITS):
            return None
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
    return _CN_DIGITS[text] if len(text) == 1 else None
