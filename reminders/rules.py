"""Scoring rules, pure: the points an indicator's rule gives for the figures a unit reported, and
the smallest set of indicators whose full marks would make a scorecard pass.

The rule types are described in the header of `models/plans/xinjiang_2023_17.toml`. Everything is
Decimal; no figure can make this module raise anything but `RuleError` (a ValueError).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation, getcontext, localcontext

from reminders.scoring import Scorecard

ZERO = Decimal(0)
HUNDRED = Decimal(100)

_OPS = {">": ">", ">=": "≥", "<": "<", "<=": "≤", "==": "="}


class RuleError(ValueError):
    """Figures the rule cannot score (a zero denominator, a negative count…), or a broken rule.
    The message is Chinese and can be shown as is."""


@dataclass(frozen=True)
class Computed:
    points: Decimal  # points computable from the figures (0 if none)
    complete: bool  # every point of the indicator is computable (no office-judged part)
    lines: tuple[str, ...]  # one Chinese explanation line per rule part


# ---------------------------------------------------------------- computing from figures


class _Missing(Exception):
    """A figure the rule needs was not reported."""


class _Rule:
    """One compute() call: the rule, the inputs' labels and units, and the figures."""

    def __init__(self, rule: Mapping, inputs: Iterable[Mapping], values: Mapping):
        self.rule = rule
        self.specs = {i["key"]: i for i in inputs if isinstance(i, Mapping) and "key" in i}
        self.values = values

    def label(self, key: str) -> str:
        return str(self.specs.get(key, {}).get("label") or key)

    def unit(self, key: str) -> str:
        return str(self.specs.get(key, {}).get("unit") or "")

    def figure(self, key) -> Decimal:
        if not isinstance(key, str):
            raise RuleError(f"计分规则有误：数据项 {key!r} 不是名称。")
        raw = self.values.get(key)
        if raw is None:
            raise _Missing(key)
        try:
            value = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
        except (InvalidOperation, ValueError):
            raise RuleError(f"{self.label(key)}“{raw}”不是数字。") from None
        if not value.is_finite():
            raise RuleError(f"{self.label(key)}“{raw}”不是有效的数字。")
        return value

    def shown(self, key: str, value: Decimal) -> str:
        return _with_unit(_num(value), self.unit(key))

    def ratio(self, pair) -> tuple[Decimal, str]:
        """num/den × 100 and its label; RuleError for a zero or negative denominator."""
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise RuleError(f"计分规则有误：比例 {pair!r} 应为两个数据项。")
        num_key, den_key = pair
        num, den = self.figure(num_key), self.figure(den_key)
        label = _ratio_label(self.label(num_key), self.label(den_key))
        if den == 0:
            raise RuleError(f"{self.label(den_key)}为 0，无法计算{label}。")
        if den < 0:
            raise RuleError(f"{self.label(den_key)}不能为负数（{_num(den)}）。")
        if num < 0:
            raise RuleError(f"{self.label(num_key)}不能为负数（{_num(num)}）。")
        with _quiet():
            percent = num / den * HUNDRED
        if not percent.is_finite():
            raise RuleError(f"{label}无法计算：数据超出范围。")
        return percent, label


def compute(
    rule: dict, inputs: list[dict], values: dict[str, Decimal], max_points: Decimal
) -> Computed | None:
    """The points `rule` gives for the reported `values` (key -> Decimal), at most `max_points`.

    None when the rule has nothing computable (manual, any_of, items without checks, an unknown
    type) or a figure it needs is missing. RuleError for figures no rule can score.
    """
    if not isinstance(rule, Mapping):
        return None
    kind = str(rule.get("type") or "")
    handler = _HANDLERS.get(kind)
    if handler is None:
        return None
    context = _Rule(rule, inputs or [], values or {})
    try:
        result = handler(context)
    except _Missing:
        return None
    if result is None:
        return None
    points, complete, lines = result
    maximum = _dec(max_points, "满分")
    if points > maximum:
        lines.append(f"合计超过本项满分，按 {_num(maximum)} 分计")
        points = maximum
    points = max(points, ZERO)
    return Computed(points, complete, tuple(lines))


def computes_fully(rule: Mapping | None) -> bool:
    """Whether figures alone can give every point of the rule (no office-judged part)."""
    if not isinstance(rule, Mapping):
        return False
    kind = rule.get("type")
    if kind == "items":
        items = rule.get("items") or []
        return bool(items) and all(isinstance(i, Mapping) and i.get("checks") for i in items)
    return kind in ("bands", "years_beat", "count")


def rule_max(rule: dict) -> Decimal | None:
    """The most points the rule's own definition can give; None for manual and any_of, whose
    full points are the indicator's."""
    kind = rule.get("type")
    if kind == "items":
        return sum((_dec(i.get("points", 0), "分值") for i in _items(rule)), ZERO)
    if kind == "bands":
        return max((_dec(b.get("points", 0), "分值") for b in _bands(rule)), default=ZERO)
    if kind == "years_beat":
        return _dec(rule.get("points_per_year", 1), "分值") * len(_pairs(rule))
    if kind == "count":
        return _dec(rule.get("cap"), "封顶分值")
    return None


def _items(rule: Mapping) -> list[Mapping]:
    items = rule.get("items") or []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise RuleError("计分规则有误：items 应为子项列表。")
    return items


def _bands(rule: Mapping) -> list[Mapping]:
    bands = rule.get("bands") or []
    if not isinstance(bands, list) or not all(isinstance(b, Mapping) for b in bands):
        raise RuleError("计分规则有误：bands 应为区间列表。")
    return bands


def _pairs(rule: Mapping) -> list:
    pairs = rule.get("pairs") or []
    if not isinstance(pairs, list) or not all(
        isinstance(p, list | tuple) and len(p) == 2 for p in pairs
    ):
        raise RuleError("计分规则有误：pairs 应为成对的数据项。")
    return pairs


def _items_rule(r: _Rule):
    items = _items(r.rule)
    if not any(item.get("checks") for item in items):
        return None
    points, complete, lines = ZERO, True, []
    for number, item in enumerate(items, start=1):
        checks = item.get("checks")
        if not checks:
            complete = False
            lines.append(f"第{number}项由办公室评定")
            continue
        if not isinstance(checks, list):
            checks = [checks]
        results = [_check(r, check) for check in checks]
        held = all(ok for ok, _ in results)
        gained = _dec(item.get("points", 0), "分值") if held else ZERO
        points += gained
        lines.append(_arrow(f"第{number}项：" + "，".join(text for _, text in results), gained))
    return points, complete, lines


def _check(r: _Rule, check) -> tuple[bool, str]:
    if not isinstance(check, Mapping):
        raise RuleError(f"计分规则有误：条件 {check!r} 格式不对。")
    op = check.get("op")
    if op not in _OPS:
        raise RuleError(f"计分规则有误：比较符“{op}”不认识。")
    if "ratio" in check:
        value, label = r.ratio(check["ratio"])
        shown, unit = f"{label} {_pct(value)}%", "%"
    elif "input" in check:
        key = check["input"]
        value = r.figure(key)
        shown, unit = f"{r.label(key)} {r.shown(key, value)}", r.unit(key)
    else:
        raise RuleError(f"计分规则有误：条件 {dict(check)!r} 缺少数据项。")
    if "other" in check:
        other_key = check["other"]
        target = r.figure(other_key)
        wanted = f"{r.label(other_key)} {r.shown(other_key, target)}"
    elif "value" in check:
        target = _dec(check["value"], "比较值")
        wanted = _with_unit(_num(target), unit)
    else:
        raise RuleError(f"计分规则有误：条件 {dict(check)!r} 缺少比较值。")
    ok = _compare(value, op, target)
    return ok, f"{shown}（须 {_OPS[op]} {wanted}，{'达到' if ok else '未达到'}）"


def _compare(left: Decimal, op: str, right: Decimal) -> bool:
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    return left == right


def _bands_rule(r: _Rule):
    spec = r.rule.get("value")
    if not isinstance(spec, Mapping):
        raise RuleError("计分规则有误：bands 缺少 value。")
    if "ratio" in spec:
        value, label = r.ratio(spec["ratio"])
        shown, unit = f"{_pct(value)}%", "%"
    elif "input" in spec:
        key = spec["input"]
        value, label = r.figure(key), r.label(key)
        shown, unit = r.shown(key, value), r.unit(key)
    else:
        raise RuleError("计分规则有误：bands 的 value 应为 ratio 或 input。")
    bands = _bands(r.rule)
    best: Mapping | None = None
    best_points = ZERO
    for band in bands:
        low, high = band.get("min"), band.get("max")
        if low is not None and value < _dec(low, "区间下限"):
            continue
        if high is not None and value > _dec(high, "区间上限"):
            continue
        points = _dec(band.get("points", 0), "分值")
        if best is None or points > best_points:
            best, best_points = band, points
    if best is None:
        listed = "；".join(_band_text(b, unit) for b in bands) or "无"
        return ZERO, True, [_arrow(f"{label} {shown}（不在计分区间：{listed}）", ZERO)]
    return best_points, True, [_arrow(f"{label} {shown}（{_band_text(best, unit)}）", best_points)]


def _band_text(band: Mapping, unit: str) -> str:
    low, high = band.get("min"), band.get("max")
    points = _num(_dec(band.get("points", 0), "分值"))
    if low is not None and high is not None:
        low_text = _with_unit(_num(_dec(low, "区间下限")), unit)
        span = f"{low_text}–{_with_unit(_num(_dec(high, '区间上限')), unit)}"
    elif low is not None:
        span = _spaced(_with_unit(_num(_dec(low, "区间下限")), unit), "及以上")
    elif high is not None:
        span = _spaced(_with_unit(_num(_dec(high, "区间上限")), unit), "及以下")
    else:
        span = "任何数值"
    return _spaced(span, f"得 {points} 分")


def _years_beat_rule(r: _Rule):
    per_year = _dec(r.rule.get("points_per_year", 1), "分值")
    points, lines = ZERO, []
    for ours_key, theirs_key in _pairs(r.rule):
        ours, theirs = r.figure(ours_key), r.figure(theirs_key)
        if ours > theirs:
            gained, relation = per_year, ">"
        else:
            gained, relation = ZERO, "=" if ours == theirs else "<"
        note = "（须超过）" if ours == theirs else ""
        points += gained
        lines.append(
            _arrow(
                f"{r.label(ours_key)} {r.shown(ours_key, ours)} {relation} "
                f"{r.label(theirs_key)} {r.shown(theirs_key, theirs)}{note}",
                gained,
            )
        )
    return points, True, lines


def _count_rule(r: _Rule):
    key = str(r.rule.get("input") or "")
    count = r.figure(key)
    label = r.label(key)
    if count < 0:
        raise RuleError(f"{label}不能为负数（{_num(count)}）。")
    if count != count.to_integral_value():
        raise RuleError(f"{label}应为整数（{_num(count)}）。")
    per = _dec(r.rule.get("points_per", 1), "分值")
    cap = _dec(r.rule.get("cap"), "封顶分值")
    with _quiet():
        raw = count * per
    points = min(raw, cap) if raw.is_finite() else cap
    each = r.unit(key) or "个"
    text = f"{label} {r.shown(key, count)}（每{each} {_num(per)} 分，最高 {_num(cap)} 分）"
    return points, True, [_arrow(text, points)]


_HANDLERS = {
    "items": _items_rule,
    "bands": _bands_rule,
    "years_beat": _years_beat_rule,
    "count": _count_rule,
}


# ---------------------------------------------------------------- formatting


def _dec(raw, what: str) -> Decimal:
    """A number from the rule (TOML int/float, or JSON from the database) as Decimal."""
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, bool) or raw is None:
        raise RuleError(f"计分规则有误：{what}缺失或不是数字。")
    else:
        try:
            value = Decimal(str(raw))
        except (InvalidOperation, ValueError):
            raise RuleError(f"计分规则有误：{what}“{raw}”不是数字。") from None
    if not value.is_finite():
        raise RuleError(f"计分规则有误：{what}“{raw}”不是有效的数字。")
    return value


def _quiet():
    """A decimal context where overflow and the like give Infinity or NaN instead of raising."""
    return localcontext(traps=dict.fromkeys(getcontext().traps, False))


def _num(value: Decimal) -> str:
    """A figure as written, without exponent or trailing zeros: 8, 12.5, 1200 (absurd magnitudes
    in scientific notation)."""
    if value and not -8 <= value.adjusted() <= 18:
        return f"{value.normalize():E}"
    integral = value.to_integral_value()
    return f"{integral if integral == value else value.normalize():f}"


def _with_unit(number: str, unit: str) -> str:
    """8% but 1200 户."""
    if not unit or unit == "%":
        return f"{number}{unit}"
    return f"{number} {unit}"


def _spaced(left: str, right: str) -> str:
    """A space between a figure and Chinese text ('15% 及以上'), none after Chinese ('3 个及以上')."""
    return f"{left} {right}" if left[-1:].isascii() else f"{left}{right}"


def _arrow(text: str, points: Decimal) -> str:
    """'… 8.1% > 7.5% → 1 分'; no space after a closing bracket."""
    return f"{text}{'' if text.endswith('）') else ' '}→ {_num(points)} 分"


def _pct(value: Decimal) -> str:
    """A percent with 2 decimals, cut (not rounded) so 7.999 shows as 7.99 and never as a bound
    it did not reach."""
    if value and value.adjusted() > 18:
        return f"{value:.2E}"
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_DOWN):f}"


def _ratio_label(num_label: str, den_label: str) -> str:
    if num_label.endswith("数量"):
        return num_label.removesuffix("数量") + "占比"
    return f"{num_label}占{den_label}的比例"


# ---------------------------------------------------------------- the gap to pass


@dataclass(frozen=True)
class Gain:
    code: str
    title: str
    category: str  # level-1 name
    points: Decimal  # what scoring it fully would add (max - current, unscored = 0)


@dataclass(frozen=True)
class GapPlan:
    gains: tuple[Gain, ...]  # the chosen indicators, largest gain first within each need
    reachable: bool  # False if even full marks everywhere cannot pass
    total_after: Decimal


def _code_number(code: str) -> tuple[int, str]:
    match = re.search(r"\d+", code)
    return (int(match.group()) if match else sys.maxsize, code)


def _order(gain: Gain) -> tuple:
    return (-gain.points, _code_number(gain.code))


def gap_to_pass(card: Scorecard) -> GapPlan:
    """The fewest indicators which, scored fully, make every level-1 category reach its line and
    the total reach the pass total.

    Each failing category takes its own largest gains until its deficit is covered (the fewest
    for that category, and the largest sum for that count); if the total is still short, the
    largest remaining gains from any category follow. Any valid set has at least as many
    indicators per failing category and, by exchange, no larger sum for its size, so this count
    is the smallest. Ties go to the lower indicator number.
    """
    if card.passed:
        return GapPlan((), True, card.total)
    by_category: dict[str, list[Gain]] = {}
    for category in card.categories:
        gains = by_category.setdefault(category.name, [])
        for indicator in category.indicators:
            current = indicator.points if indicator.points is not None else ZERO
            if indicator.max_points > current:
                gains.append(
                    Gain(
                        indicator.code,
                        indicator.title,
                        category.name,
                        indicator.max_points - current,
                    )
                )
        gains.sort(key=_order)
    chosen: list[Gain] = []
    taken: set[int] = set()
    reachable = True
    for category in card.categories:
        if category.passed:
            continue
        deficit = category.line - category.points
        for gain in by_category[category.name]:
            if deficit <= 0:
                break
            chosen.append(gain)
            taken.add(id(gain))
            deficit -= gain.points
        if deficit > 0:
            reachable = False
    total = card.total + sum((g.points for g in chosen), ZERO)
    if total < card.pass_total:
        rest = sorted(
            (g for gains in by_category.values() for g in gains if id(g) not in taken),
            key=_order,
        )
        for gain in rest:
            if total >= card.pass_total:
                break
            chosen.append(gain)
            total += gain.points
        if total < card.pass_total:
            reachable = False
    return GapPlan(tuple(chosen), reachable, total)


# ---------------------------------------------------------------- plausible figures

_COUNT_UNITS = ("户", "家", "人", "个", "项", "件", "次", "条", "所", "名")
_RATE_WORDS = ("增速", "增长率", "增幅", "同比", "环比")


def figure_kind(spec: Mapping) -> str:
    """What a reported figure is: count (a whole number, not negative), share (a percentage from
    0 to 100), rate (a growth rate: any sign, any size), or amount (not negative). An input may
    say so itself (`kind = …` in the plan); otherwise its unit and label tell."""
    kind = str(spec.get("kind") or "")
    if kind in ("count", "share", "rate", "amount"):
        return kind
    unit = str(spec.get("unit") or "")
    label = str(spec.get("label") or "")
    if unit == "%":
        return "rate" if any(word in label for word in _RATE_WORDS) else "share"
    if unit in _COUNT_UNITS:
        return "count"
    return "amount"


def figure_problem(spec: Mapping, value: Decimal) -> str:
    """Why `value` cannot be this figure (Chinese), or "" if it can."""
    kind = figure_kind(spec)
    unit = str(spec.get("unit") or "")
    if kind == "share" and not ZERO <= value <= HUNDRED:
        return f"{_num(value)}% 不可能：比例应在 0 到 100 之间。"
    if kind == "count":
        if value < 0:
            return f"数量不能为负数（{_num(value)}）。"
        if value != value.to_integral_value():
            return f"数量应为整数（{_num(value)}{unit}）。"
    if kind == "amount" and value < 0:
        return f"不能为负数（{_num(value)}{unit}）。"
    return ""


def figures_problem(inputs: Iterable[Mapping], values: Mapping[str, Decimal]) -> str:
    """Why these figures cannot be reported together (Chinese), or "": each figure on its own
    (`figure_problem`), then a part larger than its whole (`part_of` in the plan: 网络交易经营者
    are some of the 市场主体, so the ratio of the two cannot pass 100 %)."""
    specs = list(inputs)
    for spec in specs:
        problem = figure_problem(spec, values[spec["key"]])
        if problem:
            return f"{spec['label']}：{problem}"
    labels = {spec["key"]: spec["label"] for spec in specs}
    for spec in specs:
        whole = spec.get("part_of")
        if whole and whole in values and values[spec["key"]] > values[whole]:
            return (
                f"{spec['label']}（{_num(values[spec['key']])}）不能大于"
                f"{labels.get(whole, whole)}（{_num(values[whole])}）：前者是后者的一部分。"
            )
    return ""
