import pytest

from models.org import match_unit


@pytest.mark.parametrize(
    ("typed", "unit"),
    [
        ("市监局", "县市场监管局"),
        ("县市场监管局", "县市场监管局"),
        ("新绛县市场监管局", "县市场监管局"),
        ("工信局", "县工信科技局"),
        ("科技局", "县工信科技局"),
        ("审批局", "县行政审批局"),
        ("12315", "县12315申诉举报中心"),
        ("人民银行", "人行新绛支行"),
        ("邮政", "新绛县邮政分公司"),
        ("　市监局 ", "县市场监管局"),
        ("统计", "县统计局"),
    ],
)
def test_units_match_forgivingly(db, typed, unit):
    match = match_unit(typed)
    assert match.unit is not None and match.unit.name == unit


def test_groups_match_and_expand(db):
    match = match_unit("各镇")
    assert match.group.name == "各镇人民政府" and len(match.units) == 9
    assert match_unit("联席会议").group is not None


def test_ambiguous_and_unknown(db):
    assert len(match_unit("局").candidates) > 2
    assert match_unit("火星局").candidates == ()
    assert match_unit("各镇", allow_groups=False).unit is None
