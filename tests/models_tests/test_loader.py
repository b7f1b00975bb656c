"""`init` loads the plan; loading again updates texts but never resets people's work."""

from datetime import date

from conftest import START

from models.audit import AuditEntry
from models.loader import PLAN_FILE, load_plan
from models.migrations import migrate
from models.org import GroupMember, Member, Unit, UnitGroup
from models.plan import Assignment, Item
from models.scores import Score


def test_first_load_builds_the_campaign(empty_db):
    migrate(empty_db)
    result = load_plan(START)
    assert (result.units, result.groups, result.items) == (32, 3, 63)
    t1 = Item.get(Item.code == "T1")
    roles = {a.unit.name: a.role for a in t1.assignments}
    assert roles["县发改局"] == "lead" and roles["人行新绛支行"] == "co"
    t8 = {a.unit.name: (a.role, a.via_group) for a in Item.get(Item.code == "T8").assignments}
    assert len(t8) == 21 and all(role == "co" and via for role, via in t8.values())
    t2 = {a.unit.name: (a.role, a.via_group) for a in Item.get(Item.code == "T2").assignments}
    assert t2["县工信科技局"] == ("co", "") and t2["龙兴镇人民政府"] == ("co", "各镇人民政府")


def test_reload_updates_text_and_keeps_work(empty_db, tmp_path):
    migrate(empty_db)
    load_plan(START)
    t7 = Item.get(Item.code == "T7")
    unit = Unit.get(Unit.name == "县市场监管局")
    Member.create(wecom_userid="li", unit=unit, role="liaison", bound_at=START)
    Assignment.update(deadline=date(2026, 12, 31), progress=60).where(
        Assignment.item == t7
    ).execute()
    Score.create(item=Item.get(Item.code == "Z1"), points=2, created_at=START)
    towns = UnitGroup.get(UnitGroup.name == "各镇人民政府")
    GroupMember.delete().where(GroupMember.group == towns).execute()  # the office emptied it
    entries = AuditEntry.select().count()

    edited = tmp_path / "plan.toml"
    text = PLAN_FILE.read_text(encoding="utf-8")
    edited.write_text(
        text.replace(
            'title = "在全系统推行线上线下一体化监管"',
            'title = "在全系统推行线上线下一体化监管（修订）"',
        ),
        encoding="utf-8",
    )
    result = load_plan(START, path=edited)

    assert result.assignments_added == 0
    assert Item.get(Item.code == "T7").title.endswith("（修订）")
    a = Assignment.get(Assignment.item == t7)
    assert (a.deadline, a.progress) == (date(2026, 12, 31), 60)
    assert Member.get(Member.wecom_userid == "li").unit.name == "县市场监管局"
    assert Score.select().count() == 1
    assert GroupMember.select().where(GroupMember.group == towns).count() == 0
    assert AuditEntry.select().count() == entries + 1
