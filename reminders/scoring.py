"""The scorecard, pure: scores per level-2 and level-1 category, the total, and both pass tests
of the plan (total >= 85 and every level-1 category >= 75 % of its points).

"Not yet scored" is kept apart from 0 everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

PASS_TOTAL = Decimal(85)
PASS_RATIO = Decimal("0.75")


@dataclass(frozen=True)
class IndicatorScore:
    code: str
    title: str
    max_points: Decimal
    points: Decimal | None  # None: not yet scored
    partial: bool = False  # computed from figures in part; the office has still to judge the rest
    # A score computed from a unit's figures that waits for the office (待审核): not counted.
    waiting: Decimal | None = None

    @property
    def scored(self) -> bool:
        return self.points is not None


@dataclass(frozen=True)
class CategoryScore:
    name: str
    max_points: Decimal
    points: Decimal
    indicators: tuple[IndicatorScore, ...]
    children: tuple[CategoryScore, ...] = ()
    pass_ratio: Decimal = PASS_RATIO

    @property
    def line(self) -> Decimal:
        return self.max_points * self.pass_ratio

    @property
    def passed(self) -> bool:
        return self.points >= self.line

    @property
    def unscored(self) -> int:
        return sum(1 for i in self.indicators if not i.scored)

    @property
    def zeros(self) -> int:
        return sum(1 for i in self.indicators if i.scored and not i.partial and i.points == 0)

    @property
    def partial(self) -> int:
        return sum(1 for i in self.indicators if i.partial)

    @property
    def waiting(self) -> int:
        return sum(1 for i in self.indicators if i.waiting is not None)


@dataclass(frozen=True)
class Scorecard:
    categories: tuple[CategoryScore, ...]
    pass_total: Decimal = PASS_TOTAL

    @property
    def total(self) -> Decimal:
        return sum((c.points for c in self.categories), Decimal(0))

    @property
    def max_points(self) -> Decimal:
        return sum((c.max_points for c in self.categories), Decimal(0))

    @property
    def total_passed(self) -> bool:
        return self.total >= self.pass_total

    @property
    def categories_passed(self) -> bool:
        return all(c.passed for c in self.categories)

    @property
    def passed(self) -> bool:
        return self.total_passed and self.categories_passed

    @property
    def unscored(self) -> int:
        return sum(c.unscored for c in self.categories)

    @property
    def partial(self) -> int:
        return sum(c.partial for c in self.categories)

    @property
    def waiting(self) -> tuple[IndicatorScore, ...]:
        """Indicators with a computed score waiting for the office (shown beside the total)."""
        return tuple(i for c in self.categories for i in c.indicators if i.waiting is not None)

    @property
    def fully_scored(self) -> int:
        return self.indicator_count - self.unscored - self.partial

    @property
    def indicator_count(self) -> int:
        return sum(len(c.indicators) for c in self.categories)


def build_scorecard(
    level1: list[tuple[str, Decimal]],
    level2: list[tuple[str, Decimal, str]],
    indicators: list[tuple[str, str, Decimal, str]],
    scores: dict[str, Decimal],
    *,
    partial: set[str] | frozenset[str] = frozenset(),
    waiting: dict[str, Decimal] | None = None,
    pass_total: Decimal = PASS_TOTAL,
    pass_ratio: Decimal = PASS_RATIO,
) -> Scorecard:
    """level1: (name, points); level2: (name, points, parent); indicators: (code, title, max,
    level2 name); scores: code -> points for scored indicators only; partial: codes whose score
    is computed only in part; waiting: code -> a computed score not yet accepted (not counted)."""
    waiting = waiting or {}
    by_level2: dict[str, list[IndicatorScore]] = {name: [] for name, _, _ in level2}
    for code, title, maximum, parent in indicators:
        by_level2[parent].append(
            IndicatorScore(
                code,
                title,
                Decimal(maximum),
                scores.get(code),
                code in partial,
                waiting.get(code),
            )
        )
    tops = []
    for name, points in level1:
        children = []
        for child_name, child_points, parent in level2:
            if parent != name:
                continue
            inds = tuple(by_level2[child_name])
            children.append(
                CategoryScore(
                    child_name,
                    Decimal(child_points),
                    sum((i.points for i in inds if i.points is not None), Decimal(0)),
                    inds,
                    pass_ratio=pass_ratio,
                )
            )
        all_inds = tuple(i for c in children for i in c.indicators)
        tops.append(
            CategoryScore(
                name,
                Decimal(points),
                sum((c.points for c in children), Decimal(0)),
                all_inds,
                tuple(children),
                pass_ratio=pass_ratio,
            )
        )
    return Scorecard(tuple(tops), pass_total=pass_total)


def format_points(value: Decimal) -> str:
    """12.50 -> '12.5', 15.00 -> '15', 1E+1 -> '10' (at most two decimals)."""
    value = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
