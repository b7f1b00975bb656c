"""The built-in plan checked against the verified scorecard structure in product.md."""

import re
from decimal import Decimal
from pathlib import Path

import pytest

from models.loader import PLAN_FILE, PlanError, read_plan, validate_plan

# product.md, "The campaign data": level-1 (points) / level-2 (points) / indicators and points.
STRUCTURE = {
    "促进发展": (20, {"发展规模": (10, [2, 2, 2, 2, 2]), "发展质量": (10, [2, 2, 2, 2, 2])}),
    "规范监管": (25, {"完善监管": (15, [3, 3, 3, 3, 3]), "规范执法": (10, [3, 3, 2, 2])}),
    "优化服务": (20, {"服务网络经营": (11, [3, 2, 3, 3]), "服务网络消费": (9, [2, 3, 2, 2])}),
    "探索创新": (20, {"创新工作": (12, [3, 3, 3, 3]), "创新效果": (8, [3, 3, 2])}),
    "综合保障": (15, {"组织机制保障": (7, [2, 3, 2]), "工作基础保障": (8, [2, 2, 2, 2])}),
}


@pytest.fixture(scope="module")
def plan():
    return read_plan()


def test_indicators_match_the_structure_table(plan):
    indicators = plan["indicators"]
    assert [i["code"] for i in indicators] == [f"Z{n}" for n in range(1, 42)]
    expected = []
    for level1, (_, children) in STRUCTURE.items():
        for level2, (_, points) in children.items():
            expected += [(level1, level2, p) for p in points]
    actual = [(i["level1"], i["level2"], i["points"]) for i in indicators]
    assert actual == expected


def test_category_points_and_total(plan):
    tops = {c["name"]: c for c in plan["categories"]}
    assert list(tops) == list(STRUCTURE)
    for name, (points, children) in STRUCTURE.items():
        assert tops[name]["points"] == points
        assert {c["name"]: c["points"] for c in tops[name]["children"]} == {
            k: v[0] for k, v in children.items()
        }
    assert sum(i["points"] for i in plan["indicators"]) == 100
    assert (plan["plan"]["pass_total"], plan["plan"]["pass_ratio"]) == (85, 0.75)


def test_tasks_and_units(plan):
    assert [t["code"] for t in plan["tasks"]] == [f"T{n}" for n in range(1, 23)]
    members = [u["name"] for u in plan["units"] if u.get("member")]
    assert len(members) == 21 and "县市场监管局" in members
    shorts = {u["short"]: u["name"] for u in plan["units"] if u.get("short")}
    assert shorts["市监局"] == "县市场监管局"
    assert shorts["工信局"] == "县工信科技局"
    assert shorts["审批局"] == "县行政审批局"
    t7 = next(t for t in plan["tasks"] if t["code"] == "T7")
    assert t7["units"] == ["县市场监管局"] and t7["title"] == "在全系统推行线上线下一体化监管"


def test_rules_add_up_to_the_indicator_points(plan):
    for ind in plan["indicators"]:
        rule, points = ind["rule"], Decimal(str(ind["points"]))
        keys = {i["key"] for i in ind.get("inputs", [])}
        if rule["type"] == "items":
            assert sum(Decimal(str(i["points"])) for i in rule["items"]) == points, ind["code"]
        elif rule["type"] == "bands":
            assert max(Decimal(str(b["points"])) for b in rule["bands"]) == points
        elif rule["type"] == "years_beat":
            assert len(rule["pairs"]) * rule["points_per_year"] == points
            assert {k for pair in rule["pairs"] for k in pair} == keys
        elif rule["type"] == "count":
            assert rule["cap"] == points and rule["input"] in keys
        else:
            assert rule["type"] in ("manual", "any_of"), ind["code"]
        if ind["nature"] in ("定量", "定性+定量"):
            assert keys, f"{ind['code']} is quantitative but has no inputs"


def test_no_person_from_the_leading_group_is_in_the_plan_file():
    seed = Path(__file__).resolve().parents[2] / "shared" / "seed"
    files = list(seed.glob("*.txt")) if seed.is_dir() else []
    if not files:
        pytest.skip("the seed document (../shared/seed) is not beside this checkout")
    text = files[0].read_text(encoding="utf-8")
    section = text[text.index("附件 1") : text.index("附件 2", text.index("附件 1") + 5)]
    names = set()
    for line in section.splitlines():
        match = re.match(
            r"^[-\s]*(?:组\s*长|副组长|成\s*员)?[：:\s]*([\u4e00-\u9fa5]\s?[\u4e00-\u9fa5]{1,2})\s+(?:县|人行|新绛)",
            line,
        )
        if match:
            names.add(match.group(1).replace(" ", ""))
    assert len(names) >= 20, names
    plan_text = PLAN_FILE.read_text(encoding="utf-8").replace(" ", "")
    assert not [n for n in names if n in plan_text]


def test_validation_names_broken_references():
    plan = read_plan()
    plan["tasks"][0]["units"] = ["火星局"]
    plan["indicators"][0]["points"] = 5
    with pytest.raises(PlanError) as caught:
        validate_plan(plan)
    assert "火星局" in str(caught.value) and "发展规模" in str(caught.value)
