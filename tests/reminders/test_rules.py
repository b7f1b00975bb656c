"""Scoring rules against the real plan, and the gap to pass against brute force."""

from __future__ import annotations

from decimal import Decimal
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.loader import read_plan
from reminders.rules import Computed, Gain, GapPlan, RuleError, compute, gap_to_pass, rule_max
from reminders.scoring import build_scorecard

D = Decimal
PLAN = read_plan()
INDICATORS = {i["code"]: i for i in PLAN["indicators"]}
WITH_INPUTS = [code for code, i in INDICATORS.items() if i.get("inputs")]


def score(code: str, **figures) -> Computed | None:
    indicator = INDICATORS[code]
    values = {key: D(str(value)) for key, value in figures.items()}
    return compute(indicator["rule"], indicator.get("inputs", []), values, D(indicator["points"]))


def points(code: str, **figures) -> Decimal:
    result = score(code, **figures)
    assert result is not None
    return result.points


# ---------------------------------------------------------------- the plan's rules


def test_no_rule_of_the_plan_can_exceed_its_points():
    for code, indicator in INDICATORS.items():
        most = rule_max(indicator["rule"])
        if most is not None:
            assert most == D(indicator["points"]), code


def test_bands_z3_bounds_are_inclusive():
    assert points("Z3", online_traders=8, market_entities=100) == 1
    assert points("Z3", online_traders=15, market_entities=100) == 2
    assert points("Z3", online_traders=14, market_entities=100) == 1
    assert points("Z3", online_traders=799, market_entities=10000) == 0
    assert points("Z3", online_traders=60, market_entities=100) == 2
    result = score("Z3", online_traders=1200, market_entities=9800)
    assert result == Computed(D(1), True, ("网络交易经营者占比 12.24%（8%–15% 得 1 分）→ 1 分",))
    low = score("Z3", online_traders=799, market_entities=10000)
    assert low.lines[0].startswith("网络交易经营者占比 7.99%（不在计分区间")
    assert low.lines[0].endswith("→ 0 分")


def test_percent_is_cut_not_rounded_so_it_never_shows_a_bound_it_missed():
    # 7.9999…% must not be shown as 8.00% next to 0 points
    result = score("Z3", online_traders=79999, market_entities=1000000)
    assert result.points == 0 and "7.99%" in result.lines[0]


@pytest.mark.parametrize(
    ("code", "num", "den", "expected"),
    [
        ("Z7", "online_jobs", "total_jobs", [(2.99, 0), (3, 1), (5, 2), (4.5, 1), (80, 2)]),
        ("Z8", "ecommerce_tax", "total_tax", [(2, 0), (3, 1), (4.99, 1), (5, 2)]),
        ("Z9", "traders_2y", "traders_total", [(29.99, 0), (30, 1), (50, 2), (49, 1), (100, 2)]),
    ],
)
def test_bands_z7_z8_z9(code, num, den, expected):
    for percent, want in expected:
        assert points(code, **{num: percent, den: 100}) == want, (code, percent)


def test_bands_on_an_input_and_an_open_lower_band():
    rule = {
        "type": "bands",
        "value": {"input": "k"},
        "bands": [
            {"max": 3, "points": 1},
            {"min": 3, "max": 6, "points": 2},
            {"min": 9, "points": 3},
        ],
    }
    inputs = [{"key": "k", "label": "数量", "unit": "个"}]

    def run(value):
        return compute(rule, inputs, {"k": D(value)}, D(3))

    assert run("-1").points == 1  # no min: no lower bound
    assert run("3").points == 2  # highest matching band wins
    assert run("7").points == 0
    assert run("7").lines == (
        "数量 7 个（不在计分区间：3 个及以下得 1 分；3 个–6 个得 2 分；9 个及以上得 3 分）→ 0 分",
    )
    assert run("9").points == 3


def test_years_beat_z1_is_strictly_greater():
    one = score("Z1", county_y1=8.1, national_y1=7.5, county_y2=7.5, national_y2=7.5)
    assert one.points == 1 and one.complete
    assert one.lines == (
        "前年本县网上零售额增速 8.1% > 前年全国网上零售额增速 7.5% → 1 分",
        "去年本县网上零售额增速 7.5% = 去年全国网上零售额增速 7.5%（须超过）→ 0 分",
    )
    assert points("Z1", county_y1=1, national_y1=2, county_y2=3, national_y2=3) == 0
    assert points("Z1", county_y1=9, national_y1=2, county_y2=9, national_y2=3) == 2
    # growth can be negative: -1% beats -2%
    assert points("Z1", county_y1=-1, national_y1=-2, county_y2=0, national_y2=1) == 1
    assert points("Z2", online_y1=10, retail_y1=5, online_y2=10, retail_y2=5) == 2


def test_count_z4_and_z34():
    assert points("Z4", new_large_traders=0) == 0
    assert points("Z4", new_large_traders=1) == 1
    assert points("Z4", new_large_traders=5) == 2
    result = score("Z34", outcomes=3)
    assert result == Computed(
        D(2), True, ("制度化、标准化成果数量 3 项（每项 1 分，最高 2 分）→ 2 分",)
    )
    assert points("Z34", outcomes=1) == 1
    with pytest.raises(RuleError, match="不能为负数"):
        score("Z4", new_large_traders=-1)
    with pytest.raises(RuleError, match="应为整数"):
        score("Z34", outcomes="1.5")
    assert points("Z34", outcomes="2.0") == 2


def test_items_z11_ratio_and_at_least_with_an_office_part():
    result = score("Z11", platform_users=6, staff=10, claim_rate=100)
    assert result.points == 2 and not result.complete
    assert result.lines == (
        "第1项：国家网络交易监管平台用户数占在编监管人员数的比例 60.00%（须 > 50%，达到）→ 1 分",
        "第2项：主体身份信息认领处置率 100%（须 ≥ 100%，达到）→ 1 分",
        "第3项由办公室评定",
    )
    assert points("Z11", platform_users=5, staff=10, claim_rate=100) == 1  # 50% is not > 50%
    assert points("Z11", platform_users=6, staff=10, claim_rate=99.9) == 1
    assert points("Z11", platform_users=0, staff=10, claim_rate=0) == 0
    with pytest.raises(RuleError, match="在编监管人员数为 0"):
        score("Z11", platform_users=6, staff=0, claim_rate=100)


def test_items_z17_z18_z19():
    assert score("Z17", check_rate=96, assigned_timely_rate=91, assigned_done_rate=91).points == 2
    assert points("Z17", check_rate=95, assigned_timely_rate=91, assigned_done_rate=91) == 1
    assert points("Z17", check_rate=96, assigned_timely_rate=91, assigned_done_rate=90) == 1
    assert not score("Z17", check_rate=96, assigned_timely_rate=91, assigned_done_rate=91).complete
    assert points("Z18", upheld_rate=96, win_rate=100) == 1
    assert points("Z18", upheld_rate=96, win_rate=95) == 0
    z19 = score("Z19", monitor_timely_rate=91, monitor_done_rate=90)
    assert z19.points == 1 and z19.complete  # every sub-item of Z19 is computed
    assert points("Z19", monitor_timely_rate=100, monitor_done_rate=100) == 2


def test_items_z25_z26_compare_two_figures():
    z25 = score(
        "Z25", initial_check_rate=96, closing_rate=97, mediation_rate=80, national_mediation_rate=75
    )
    assert z25.points == 2 and not z25.complete
    assert (
        z25.lines[1]
        == "第2项：本县网络消费调解成功率 80%（须 > 全国网络消费调解成功率 75%，达到）→ 1 分"
    )
    assert (
        points(
            "Z25",
            initial_check_rate=96,
            closing_rate=97,
            mediation_rate=75,
            national_mediation_rate=75,
        )
        == 1
    )
    assert (
        points(
            "Z25",
            initial_check_rate=96,
            closing_rate=95,
            mediation_rate=70,
            national_mediation_rate=75,
        )
        == 0
    )
    figures = {
        "odr_closing_rate": 90,
        "national_odr_closing_rate": 85,
        "odr_settle_rate": 60,
        "national_odr_settle_rate": 55,
    }
    assert points("Z26", **figures) == 1
    assert points("Z26", **{**figures, "odr_settle_rate": 55}) == 0


def test_items_z38_two_at_least_checks():
    assert points("Z38", training_coverage=100, training_hours=50) == 1
    assert points("Z38", training_coverage=99, training_hours=80) == 0
    assert points("Z38", training_coverage=100, training_hours=49.5) == 0
    result = score("Z38", training_coverage=100, training_hours=50)
    assert result.lines == (
        "第1项由办公室评定",
        "第2项：业务培训覆盖率 100%（须 ≥ 100%，达到），每人每年培训学时 50 学时（须 ≥ 50 学时，达到）→ 1 分",
    )


def test_missing_figures_give_none():
    assert score("Z3", online_traders=10) is None
    assert score("Z1", county_y1=1, national_y1=1, county_y2=1) is None
    assert score("Z4") is None
    assert score("Z11", platform_users=6, staff=10) is None
    assert score("Z26", odr_closing_rate=90, national_odr_closing_rate=85) is None


def test_zero_or_negative_denominators_and_negative_numerators_are_rule_errors():
    with pytest.raises(RuleError, match="市场主体数量为 0"):
        score("Z3", online_traders=0, market_entities=0)
    with pytest.raises(RuleError, match="不能为负数"):
        score("Z7", online_jobs=1, total_jobs=-5)
    with pytest.raises(RuleError, match="不能为负数"):
        score("Z9", traders_2y=-1, traders_total=5)
    assert issubclass(RuleError, ValueError)


def test_office_judged_rules_give_none():
    for code in ("Z10", "Z16", "Z32", "Z35"):
        assert INDICATORS[code]["rule"]["type"] == "manual"
        assert score(code) is None
    for code in ("Z28", "Z29", "Z30", "Z31"):
        assert INDICATORS[code]["rule"]["type"] == "any_of"
        assert score(code) is None
    assert score("Z12") is None  # items without any checks
    assert compute({"type": "unknown"}, [], {}, D(2)) is None


def test_points_are_clipped_to_the_indicator_maximum():
    rule = {"type": "count", "input": "k", "points_per": 1, "cap": 5}
    result = compute(rule, [{"key": "k", "label": "成果数量", "unit": "项"}], {"k": D(4)}, D(2))
    assert result.points == 2 and result.lines[-1] == "合计超过本项满分，按 2 分计"


def test_figures_as_strings_and_absurd_magnitudes_do_not_crash():
    rule = INDICATORS["Z3"]
    inputs = rule["inputs"]
    assert (
        compute(
            rule["rule"], inputs, {"online_traders": "15", "market_entities": "100"}, D(2)
        ).points
        == 2
    )
    with pytest.raises(RuleError):
        compute(
            rule["rule"],
            inputs,
            {"online_traders": D("1e14"), "market_entities": D("1e-999999")},
            D(2),
        )
    with pytest.raises(RuleError, match="不是数字"):
        compute(rule["rule"], inputs, {"online_traders": "abc", "market_entities": "1"}, D(2))
    with pytest.raises(RuleError, match="不是有效的数字"):
        compute(rule["rule"], inputs, {"online_traders": D("NaN"), "market_entities": D(1)}, D(2))


FIGURES = st.one_of(
    st.integers(min_value=0, max_value=10**14).map(D),
    st.decimals(min_value=0, max_value=D("999999999999999"), allow_nan=False, allow_infinity=False),
    st.sampled_from([D(0), D("0.0"), D(100), D("1E-30"), D("8"), D("15")]),
)


@st.composite
def indicator_and_figures(draw, figures=FIGURES):
    code = draw(st.sampled_from(WITH_INPUTS))
    keys = [i["key"] for i in INDICATORS[code]["inputs"]]
    return code, {key: draw(figures) for key in keys}


def _never_beyond(code: str, values: dict) -> None:
    indicator = INDICATORS[code]
    maximum = D(indicator["points"])
    try:
        result = compute(indicator["rule"], indicator["inputs"], values, maximum)
    except RuleError:
        return
    assert result is not None, code  # every input reported: every rule with inputs computes
    assert D(0) <= result.points <= maximum
    assert result.lines


@settings(max_examples=300, deadline=None)
@given(indicator_and_figures())
def test_random_non_negative_figures_only_raise_rule_errors_and_stay_within_points(case):
    _never_beyond(*case)


@settings(max_examples=150, deadline=None)
@given(
    indicator_and_figures(
        st.decimals(
            min_value=D("-999999999999999"),
            max_value=D("999999999999999"),
            allow_nan=False,
            allow_infinity=False,
        )
    )
)
def test_random_signed_figures_only_raise_rule_errors(case):
    _never_beyond(*case)


# ---------------------------------------------------------------- the gap to pass


def card_of(
    categories: dict[str, list[tuple[str, int, int | None]]], *, points=None, pass_total=85
):
    """categories: level-1 name -> [(code, max, current or None)]; one level-2 per level-1."""
    level1, level2, indicators, scores = [], [], [], {}
    for name, inds in categories.items():
        total = sum(m for _, m, _ in inds)
        level1.append((name, D((points or {}).get(name, total))))
        level2.append((f"{name}·二级", D((points or {}).get(name, total)), name))
        for code, maximum, current in inds:
            indicators.append((code, f"指标{code}", D(maximum), f"{name}·二级"))
            if current is not None:
                scores[code] = D(current)
    return build_scorecard(level1, level2, indicators, scores, pass_total=D(pass_total))


def test_a_passing_card_needs_nothing():
    card = card_of({"甲": [("Z1", 50, 45), ("Z2", 50, 45)]})
    assert card.passed
    assert gap_to_pass(card) == GapPlan((), True, D(90))


def test_one_failing_category_takes_its_largest_gains():
    # 甲 (40): 20 of a 30 line; 乙 (60): 60/60. Total 80 < 85.
    card = card_of(
        {
            "甲": [("Z1", 10, 10), ("Z2", 10, 10), ("Z3", 10, None), ("Z4", 4, 0), ("Z5", 6, 0)],
            "乙": [("Z6", 30, 30), ("Z7", 30, 30)],
        }
    )
    plan = gap_to_pass(card)
    assert plan == GapPlan((Gain("Z3", "指标Z3", "甲", D(10)),), True, D(90))


def test_failing_only_the_total_prefers_the_lower_indicator_number_on_ties():
    # four categories of 25, each at 20 (80 % >= 75 %): total 80 < 85, four gains of 5
    card = card_of(
        {
            "甲": [("Z1", 5, 5), ("Z2", 5, 5), ("Z3", 5, 5), ("Z4", 5, 5), ("Z10", 5, 0)],
            "乙": [("Z5", 5, 5), ("Z6", 5, 5), ("Z7", 5, 5), ("Z8", 5, 5), ("Z9", 5, None)],
            "丙": [("Z11", 5, 5), ("Z12", 5, 5), ("Z13", 5, 5), ("Z14", 5, 5), ("Z24", 5, 0)],
            "丁": [("Z15", 5, 5), ("Z16", 5, 5), ("Z17", 5, 5), ("Z18", 5, 5), ("Z31", 5, 0)],
        }
    )
    assert card.categories_passed and not card.total_passed
    plan = gap_to_pass(card)
    # by number Z9 comes before Z10 (as text "Z10" would sort first)
    assert plan == GapPlan((Gain("Z9", "指标Z9", "乙", D(5)),), True, D(85))


def test_a_failing_category_and_then_the_total():
    card = card_of(
        {
            "甲": [("Z1", 10, 0), ("Z2", 5, 5), ("Z3", 5, 5)],  # 10 of a 15 line
            "乙": [("Z4", 40, 38), ("Z5", 40, 30)],  # 68 of 80, passes
        }
    )
    plan = gap_to_pass(card)
    # 甲 needs Z1 (+10) -> total 88 >= 85
    assert [g.code for g in plan.gains] == ["Z1"] and plan.total_after == 88
    harder = card_of(
        {
            "甲": [("Z1", 10, 0), ("Z2", 5, 5), ("Z3", 5, 5)],
            "乙": [("Z4", 40, 30), ("Z5", 40, 30)],  # 60 of 80, passes
        }
    )
    plan = gap_to_pass(harder)
    # 甲 takes Z1 (total 80), then the total needs 5 more: Z4 and Z5 both give 10, Z4 first
    assert [g.code for g in plan.gains] == ["Z1", "Z4"] and plan.total_after == 90
    assert [g.category for g in plan.gains] == ["甲", "乙"]


def test_an_unreachable_card():
    # 甲 is worth 40 on paper but its indicators only carry 20: the 30 line can't be reached
    card = card_of(
        {"甲": [("Z1", 10, 0), ("Z2", 10, 5)], "乙": [("Z3", 60, 60)]}, points={"甲": 40}
    )
    plan = gap_to_pass(card)
    assert not plan.reachable
    assert [g.code for g in plan.gains] == ["Z1", "Z2"]
    # and a total no score can reach
    card = card_of({"甲": [("Z1", 10, 10)]}, pass_total=11)
    assert gap_to_pass(card) == GapPlan((), False, D(10))


def test_the_real_plan_unscored_is_reachable():
    names = {c["name"]: c for c in PLAN["categories"]}
    level1 = [(name, D(c["points"])) for name, c in names.items()]
    level2 = [
        (ch["name"], D(ch["points"]), name) for name, c in names.items() for ch in c["children"]
    ]
    inds = [(i["code"], i["title"], D(i["points"]), i["level2"]) for i in PLAN["indicators"]]
    plan = gap_to_pass(build_scorecard(level1, level2, inds, {}))
    assert plan.reachable and plan.total_after >= 85
    assert 29 <= len(plan.gains) <= 41


def _valid(card, chosen) -> bool:
    extra = {}
    for gain in chosen:
        extra[gain.category] = extra.get(gain.category, D(0)) + gain.points
    if card.total + sum(extra.values(), D(0)) < card.pass_total:
        return False
    return all(c.points + extra.get(c.name, D(0)) >= c.line for c in card.categories)


@st.composite
def small_cards(draw):
    level1, level2, indicators, scores = [], [], [], {}
    number = 0
    for a in range(draw(st.integers(1, 3))):
        top = f"一级{a}"
        top_points = D(0)
        for b in range(draw(st.integers(1, 2))):
            child = f"{top}-{b}"
            child_points = D(0)
            for _ in range(draw(st.integers(1, 2))):
                number += 1
                code = f"Z{draw(st.integers(1, 3)) * 100 + number}"
                maximum = D(draw(st.sampled_from([1, 2, 3, 5])))
                child_points += maximum
                indicators.append((code, code, maximum, child))
                current = draw(st.one_of(st.none(), st.sampled_from([0, D("0.5"), 1, 2, 3, 5])))
                if current is not None:
                    scores[code] = min(D(current), maximum)
            level2.append((child, child_points, top))
            top_points += child_points
        level1.append((top, top_points + draw(st.sampled_from([0, 0, 0, 2]))))
    full = sum((p for _, p in level1), D(0))
    pass_total = draw(st.sampled_from([full * D("0.85"), full * D("0.5"), full, full + 1]))
    return build_scorecard(level1, level2, indicators, scores, pass_total=pass_total)


@settings(max_examples=250, deadline=None)
@given(small_cards())
def test_gap_to_pass_is_minimal_by_brute_force(card):
    plan = gap_to_pass(card)
    if card.passed:
        assert plan == GapPlan((), True, card.total)
        return
    candidates = []
    for category in card.categories:
        for ind in category.indicators:
            current = ind.points if ind.points is not None else D(0)
            if ind.max_points > current:
                candidates.append(
                    Gain(ind.code, ind.title, category.name, ind.max_points - current)
                )
    smallest = next(
        (
            size
            for size in range(1, len(candidates) + 1)
            if any(_valid(card, subset) for subset in combinations(candidates, size))
        ),
        None,
    )
    assert plan.total_after == card.total + sum((g.points for g in plan.gains), D(0))
    assert len({g.code for g in plan.gains}) == len(plan.gains)
    if smallest is None:
        assert not plan.reachable
        return
    assert plan.reachable and _valid(card, plan.gains)
    assert len(plan.gains) == smallest
