"""Argument shapes, declared with each command: what a word must look like (`shapes`, no
database), and what it becomes (`convert`, which may look things up and refuse).

The registry builds the parser, the usage line and the help from these declarations; a handler
receives the converted values by name and does not re-check their form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.text import (
    CODE_PATTERN,
    SEPARATORS,
    ParseError,
    Scan,
    chinese_number,
    looks_like_date,
    parse_date,
    parse_number,
    parse_percent,
    parse_points,
)
from models import userids
from models.org import UnitMatch, match_unit
from models.plan import Item
from reminders.recurrence import parse_recurrence

if TYPE_CHECKING:
    from bot.actions.base import Acting

_CODE = re.compile(CODE_PATTERN + r"(?![0-9A-Za-z])")
_PART = re.compile(CODE_PATTERN + r"-([1-9][0-9]?)(?![0-9A-Za-z%.])")  # T7-2: a milestone
_NUMBER = re.compile(r"-?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?%?")
_PERCENT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?\s*%|百分之\s*[0-9零〇一二两三四五六七八九十百]+")
_TENTHS = re.compile(r"[一二两三四五六七八九十]成")
_BARE_INT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?![0-9A-Za-z.%])")

_OPENERS = "([【「『《“‘"
_PUNCTUATION = " ,:;!?。、()[]{}【】「」『』<>《》“”‘’\"'~…|."
ITEM_HELP = "编号形如 T7（主要任务 T1–T22）、Z11（评估指标 Z1–Z41）或 J3（交办事项）"


class ArgError(Exception):
    """A value that has the right shape but cannot be used (T99, 150 %, an unknown unit…)."""

    def __init__(self, message: str, *, show_usage: bool = True):
        super().__init__(message)
        self.message = message
        self.show_usage = show_usage


@dataclass(frozen=True)
class Arg:
    """One argument: `name` is the attribute the handler reads, `label` the word in the usage."""

    name: str
    label: str
    optional: bool = False

    @property
    def usage(self) -> str:
        return f"[{self.label}]" if self.optional else f"<{self.label}>"

    def shapes(self, scan: Scan, pos: int) -> list[tuple[Any, int]]:
        """Ways this argument can be read at `pos`: (raw value, end), longest first."""
        raise NotImplementedError

    def bad_shape(self, word: str) -> str:
        return f"“{word}”不是{self.label}。"

    def convert(self, ctx: Acting, raw: Any) -> Any:
        return raw


def _parsed(parser, *args):
    """A value parsed by one of bot.text's parsers; its Chinese refusal becomes an ArgError."""
    try:
        return parser(*args)
    except ParseError as exc:
        raise ArgError(str(exc)) from None


def _regex_shape(pattern: re.Pattern, scan: Scan, pos: int) -> list[tuple[str, int]]:
    match = pattern.match(scan.text, pos)
    return [(match.group(0), match.end())] if match else []


def _whole_word(scan: Scan, pos: int, test: Callable[[str], bool]) -> list[tuple[str, int]]:
    word, end = scan.word(pos)
    return [(word, end)] if word and test(word) else []


@dataclass(frozen=True)
class ItemArg(Arg):
    """A main task (T7), an indicator (Z11) or a 交办 item (J3) code; `kind` limits it to one
    of them. With `parts`, a unit's milestone too (T7-2), converted to an ItemRef."""

    name: str = "item"
    label: str = "编号"
    kind: str = ""  # "" | "indicator" | "task"
    parts: bool = False

    def shapes(self, scan, pos):
        if self.parts:
            match = _PART.match(scan.text, pos)
            if match:
                code = f"{match.group(1).upper()}{int(match.group(2))}-{int(match.group(3))}"
                return [(code, match.end())]
        match = _CODE.match(scan.text, pos)
        if not match:
            return []
        return [(f"{match.group(1).upper()}{int(match.group(2))}", match.end())]

    def bad_shape(self, word):
        return f"“{word}”不是任务或指标编号，{ITEM_HELP}。"

    def convert(self, ctx, raw):
        code, _, seq = raw.partition("-")
        item = Item.get_or_none(Item.code == code)
        if item is None:
            raise ArgError(f"{code} 不存在：{ITEM_HELP}。")
        if self.kind == "indicator" and not item.is_indicator:
            raise ArgError(f"{code} 是主要任务，这里需要评估指标编号（Z1–Z41）。")
        if self.kind == "task" and item.is_indicator:
            raise ArgError(f"{code} 是评估指标，这里需要主要任务编号（T1–T22）。")
        return ItemRef(item, int(seq) if seq else None) if self.parts else item


@dataclass(frozen=True)
class ItemsArg(ItemArg):
    """One or more codes: "T7 T18", "T7、T18", "T7和T18"."""

    name: str = "items"
    label: str = "编号…"

    def shapes(self, scan, pos):
        found = []
        codes: list[str] = []
        end = pos
        while True:
            one = ItemArg.shapes(self, scan, end)
            if not one:
                break
            codes.append(one[0][0])
            found.append((tuple(codes), one[0][1]))
            end = scan.skip(one[0][1])
            for joiner in ("和", "与", "及"):
                if scan.text.startswith(joiner, end):
                    end = scan.skip(end + len(joiner))
        return list(reversed(found))

    def convert(self, ctx, raw):
        items = []
        for code in raw:
            item = ItemArg.convert(self, ctx, code)
            if item not in items:
                items.append(item)
        return items


@dataclass(frozen=True)
class ItemRef:
    """An item, or one of a unit's milestones of it (seq: T7-<seq>)."""

    item: Item
    seq: int | None = None

    @property
    def code(self) -> str:
        return f"{self.item.code}-{self.seq}" if self.seq else self.item.code


@dataclass(frozen=True)
class PercentArg(Arg):
    """A progress percentage: 60%, 60, 百分之六十, 六成."""

    name: str = "percent"
    label: str = "百分比"

    def shapes(self, scan, pos):
        for pattern in (_PERCENT, _TENTHS, _BARE_INT):
            found = _regex_shape(pattern, scan, pos)
            if found:
                return found
        return []

    def bad_shape(self, word):
        return f"“{word}”不是百分比，请写 0 到 100 的整数，如 60%。"

    def convert(self, ctx, raw):
        return _parsed(parse_percent, raw)


@dataclass(frozen=True)
class DateArg(Arg):
    """A date as people write it (2026-12-31, 12月31日, 本周五, 月底, 12月20日前…)."""

    name: str = "date"
    label: str = "日期"

    def shapes(self, scan, pos):
        return _whole_word(scan, pos, looks_like_date)

    def bad_shape(self, word):
        return (
            f"“{word}”不是日期，请写成 2026-12-31 这样的格式（也可以写 12月31日、本周五、月底）。"
        )

    def convert(self, ctx, raw):
        return _parsed(parse_date, raw, ctx.today)


@dataclass(frozen=True)
class NumbersArg(Arg):
    """One or more figures (1200, 1,200, 8.5, 95%), as reported for a quantitative indicator."""

    name: str = "figures"
    label: str = "数值…"

    def shapes(self, scan, pos):
        found: list[tuple[tuple[str, ...], int]] = []
        values: list[str] = []
        end = pos
        while end < len(scan):
            match = _NUMBER.match(scan.text, end)
            if not match:
                break
            stop = match.end()
            if stop < len(scan) and scan.text[stop] not in SEPARATORS:
                break  # "1200abc" is not a figure
            values.append(match.group(0))
            found.append((tuple(values), stop))
            end = scan.skip(stop)
        return list(reversed(found))

    def bad_shape(self, word):
        return f"“{word}”不是数字（请写阿拉伯数字，如 1200 或 8.5）。"

    def convert(self, ctx, raw):
        return [_parsed(parse_number, value) for value in raw]


@dataclass(frozen=True)
class PointsArg(Arg):
    name: str = "points"
    label: str = "分数"

    def shapes(self, scan, pos):
        return _whole_word(scan, pos, lambda w: bool(re.fullmatch(r"-?[0-9.]+分?", w)))

    def bad_shape(self, word):
        return f"“{word}”不是分数，请写数字，如 2 或 1.5。"

    def convert(self, ctx, raw):
        return _parsed(parse_points, raw)


@dataclass(frozen=True)
class IntArg(Arg):
    """A whole number (a request number, a file number, a year)."""

    what: str = "编号"

    def shapes(self, scan, pos):
        return _whole_word(scan, pos, lambda w: w.isascii() and w.isdigit() and len(w) <= 9)

    def bad_shape(self, word):
        return f"“{word}”不是{self.label}，{self.what}是数字。"

    def convert(self, ctx, raw):
        return int(raw)


@dataclass(frozen=True)
class UserIdArg(Arg):
    name: str = "userid"
    label: str = "userid"

    def shapes(self, scan, pos):
        word, end = scan.word(pos)
        return [(word, end)] if word else []

    def convert(self, ctx, raw):
        why = userids.problem(raw)
        if why:
            raise ArgError(f"{why}。")
        return raw


def resolve_units(token: str, *, allow_groups: bool = True) -> UnitMatch:
    """The unit or group a typed name means, or an ArgError naming the candidates."""
    match = match_unit(token, allow_groups=allow_groups)
    if match.unit is None and match.group is None:
        if match.candidates:
            shown = "、".join(match.candidates[:6])
            more = f"等 {len(match.candidates)} 个" if len(match.candidates) > 6 else ""
            raise ArgError(f"“{token}”能对应多个单位：{shown}{more}，请写得更完整些。")
        raise ArgError(f"找不到单位“{token}”。发送“单位”查看所有单位及简称。")
    return match


@dataclass(frozen=True)
class UnitArg(Arg):
    """A unit (or, with `groups`, a unit group) as people write it: 市监局, 县工信局, 各镇…"""

    name: str = "unit"
    label: str = "单位"
    groups: bool = True
    single: bool = False  # a group is refused where one unit is needed

    def shapes(self, scan, pos):
        return _whole_word(scan, pos, lambda w: not looks_like_date(w) and not _CODE.fullmatch(w))

    def convert(self, ctx, raw):
        match = resolve_units(raw, allow_groups=self.groups)
        if self.single and match.unit is None:
            raise ArgError(f"“{raw}”是单位组（{match.group.name}），这里需要一个具体单位。")
        return match


@dataclass(frozen=True)
class UnitsArg(UnitArg):
    """One or more units or groups."""

    name: str = "units"
    label: str = "单位…"

    def shapes(self, scan, pos):
        found = []
        words: list[str] = []
        end = pos
        while True:
            word, word_end = scan.word(end)
            if not word or looks_like_date(word) or _CODE.fullmatch(word):
                break
            words.append(word)
            found.append((tuple(words), word_end))
            end = scan.skip(word_end)
            if end >= len(scan):
                break
        return list(reversed(found))

    def convert(self, ctx, raw):
        return [UnitArg.convert(self, ctx, word) for word in raw]


@dataclass(frozen=True)
class Keyword(Arg):
    """One of a few fixed words (全部, 预览, 加…); the value is the first word, its canonical form."""

    words: tuple[str, ...] = ()
    name: str = "keyword"
    label: str = ""

    @property
    def usage(self) -> str:
        shown = self.label or self.words[0]
        return f"[{shown}]" if self.optional else shown

    def shapes(self, scan, pos):
        lowered = scan.text[pos:].lower()
        for word in sorted(self.words, key=len, reverse=True):
            if lowered.startswith(word.lower()):
                end = pos + len(word)
                nxt = scan.text[end : end + 1]
                if word.isascii() and nxt.isascii() and nxt.isalnum():
                    continue
                return [(self.words[0], end)]
        return []

    def bad_shape(self, word):
        return f"“{word}”看不懂，这里可以写：" + "、".join(f"“{w}”" for w in self.words[:4]) + "。"


@dataclass(frozen=True)
class ChoiceArg(Arg):
    """One word of several meanings: `choices` maps each accepted word to its meaning."""

    choices: tuple[tuple[str, str], ...] = ()

    @property
    def usage(self) -> str:
        shown = self.label or "|".join(dict.fromkeys(m for _, m in self.choices))
        return f"[{shown}]" if self.optional else shown

    def shapes(self, scan, pos):
        lowered = scan.text[pos:].lower()
        for word, meaning in sorted(self.choices, key=lambda c: len(c[0]), reverse=True):
            if lowered.startswith(word.lower()):
                end = pos + len(word)
                nxt = scan.text[end : end + 1]
                if word.isascii() and nxt.isascii() and nxt.isalnum():
                    continue
                return [(meaning, end)]
        return []

    def bad_shape(self, word):
        shown = "、".join(f"“{w}”" for w in dict.fromkeys(m for _, m in self.choices))
        return f"“{word}”看不懂，这里可以写{shown}。"


@dataclass(frozen=True)
class RolesArg(Arg):
    """Zero or more role words (管理员 领导 负责人 联络员), as a tuple of role keys."""

    name: str = "roles"
    label: str = "角色…"
    optional: bool = True
    words: tuple[tuple[str, str], ...] = ()

    def shapes(self, scan, pos):
        found = []
        roles: list[str] = []
        end = pos
        while True:
            word, word_end = scan.word(end)
            role = dict(self.words).get(word.lower())
            if role is None:
                break
            roles.append(role)
            found.append((tuple(roles), word_end))
            end = scan.skip(word_end)
        return list(reversed(found))


@dataclass(frozen=True)
class RestArg(Arg):
    """Free text to the end, as typed (its punctuation kept), cut to `limit` characters."""

    name: str = "note"
    label: str = "说明"
    optional: bool = True
    limit: int = 500

    def shapes(self, scan, pos):
        if pos >= len(scan):
            return []
        # The separators before a note are not part of it, but an opening bracket is.
        start = pos
        while start > 0 and scan.text[start - 1] in _OPENERS:
            start -= 1
        text = scan.original_between(start).strip()
        if not scan.text[start:].strip(_PUNCTUATION):
            return []  # only punctuation ("T7 已完成。"): no note
        return [(text[: self.limit], len(scan))]


@dataclass(frozen=True)
class WordArg(Arg):
    """Any one word (a group name, a year…), checked by the handler's converter."""

    check: Callable[[str], bool] | None = None
    message: str = ""

    def shapes(self, scan, pos):
        return _whole_word(scan, pos, self.check or (lambda w: True))

    def bad_shape(self, word):
        return self.message.format(word=word) if self.message else super().bad_shape(word)


def year_word(word: str) -> bool:
    return word.isascii() and word.isdigit() and len(word) == 4


def percent_like(scan: Scan, pos: int) -> bool:
    """Whether a percentage (with % or in words) starts at `pos` (for the phrasing reader)."""
    return bool(_PERCENT.match(scan.text, pos) or _TENTHS.match(scan.text, pos))


def number_at(scan: Scan, pos: int) -> str | None:
    match = _BARE_INT.match(scan.text, pos)
    return match.group(0) if match else None


def code_at(scan: Scan, pos: int) -> tuple[str, int] | None:
    match = _CODE.match(scan.text, pos)
    if not match:
        return None
    return f"{match.group(1).upper()}{int(match.group(2))}", match.end()


__all__ = [
    "Arg",
    "ArgError",
    "ChoiceArg",
    "DateArg",
    "IntArg",
    "ItemArg",
    "Keyword",
    "NumbersArg",
    "PercentArg",
    "PointsArg",
    "RestArg",
    "RolesArg",
    "UnitArg",
    "UnitsArg",
    "UserIdArg",
    "WordArg",
    "chinese_number",
    "code_at",
    "number_at",
    "percent_like",
    "year_word",
]


_RULE_START = re.compile(r"^每")


@dataclass(frozen=True)
class AssigneesArg(UnitArg):
    """The units an item is assigned to, as people write them: 市监局,工信局 / 市监局（牵头）、
    工信局 / 各镇. The word 牵头 after a unit makes it the lead; 配合 changes nothing."""

    name: str = "assignees"
    label: str = "单位…"

    def shapes(self, scan, pos):
        found = []
        words: list[str] = []
        end = pos
        while True:
            word, word_end = scan.word(end)
            if (
                not word
                or looks_like_date(word)
                or _CODE.fullmatch(word)
                or _RULE_START.match(word)
            ):
                break
            words.append(word)
            if word not in ("牵头", "配合"):
                found.append((tuple(words), word_end))
            end = scan.skip(word_end)
            if end >= len(scan):
                break
        return list(reversed(found))

    def convert(self, ctx, raw):
        """[(UnitMatch, lead?)] in the order written."""
        picked: list[list] = []
        for word in raw:
            if word in ("牵头", "牵头单位"):
                if not picked:
                    raise ArgError("“牵头”要写在单位后面，如：市监局（牵头）。")
                picked[-1][1] = True
                continue
            if word == "配合":
                continue
            for part in (word[:-2], "牵头") if word.endswith("牵头") and len(word) > 2 else (word,):
                if part == "牵头":
                    picked[-1][1] = True
                else:
                    picked.append([UnitArg.convert(self, ctx, part), False])
        if sum(1 for _, lead in picked if lead) > 1:
            raise ArgError("只能有一个牵头单位。")
        return [(match, lead) for match, lead in picked]


@dataclass(frozen=True)
class DueArg(Arg):
    """A deadline (a date, as DateArg reads it) or a recurrence rule (每月5日, 每周五…)."""

    name: str = "due"
    label: str = "期限或周期"

    def shapes(self, scan, pos):
        word, end = scan.word(pos)
        if word and (looks_like_date(word) or _RULE_START.match(word)):
            return [(word, end)]
        return []

    def bad_shape(self, word):
        return (
            f"“{word}”不是期限或周期：期限写 2026-12-15、12月20日前、本周五、月底；"
            "定期报送写 每周五、每月5日、每月末、每季度末、每年12月10日。"
        )

    def convert(self, ctx, raw):
        """A date, or a Recurrence."""
        if looks_like_date(raw):
            return DateArg.convert(self, ctx, raw)
        try:
            rule = parse_recurrence(raw)
        except ValueError as exc:
            raise ArgError(str(exc)) from None
        if rule is None:
            raise ArgError(self.bad_shape(raw))
        return rule
