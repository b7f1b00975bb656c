"""Admin commands: bindings, groups, deadlines, scores, assignments, nudges, overdue, the log."""

from datetime import date
from decimal import Decimal

from helpers import snapshot

from models.audit import AuditEntry
from models.org import GroupMember, Member, Unit, UnitGroup
from models.plan import Assignment, Item
from models.scores import Score
from reminders.stored import load_calendar


def test_bind_defaults_to_liaison_and_welcomes_the_person(bot):
    reply = bot.say("boss", "绑定 zhangsan 市监局")
    assert "zhangsan → 县市场监管局（联络员）" in reply
    member = Member.get(Member.wecom_userid == "zhangsan")
    assert (member.unit.name, member.role, member.bound_by) == ("县市场监管局", "liaison", "boss")
    welcome = [m for m in bot.deliver() if m.recipients == ("zhangsan",)]
    assert len(welcome) == 1 and "县市场监管局的联络员" in welcome[0].content["text"]


def test_rebind_changes_unit_and_role_and_logs_before_after(bot):
    bot.bind("zhangsan", "市监局")
    assert "重新绑定" in bot.say("boss", "绑定 zhangsan 工信局 负责人 张三")
    member = Member.get(Member.wecom_userid == "zhangsan")
    assert (member.unit.name, member.role, member.display_name) == ("县工信科技局", "head", "张三")
    entry = (
        AuditEntry.select().where(AuditEntry.action == "bind").order_by(AuditEntry.id.desc()).get()
    )
    assert entry.before["unit"] == "县市场监管局" and entry.after["unit"] == "县工信科技局"


def test_unbind_turns_the_person_away(bot):
    bot.bind("zhangsan", "市监局")
    assert "已解绑" in bot.say("boss", "解绑 zhangsan")
    assert "还没有绑定" in bot.say("zhangsan", "我的任务")


def test_bound_admin_may_run_admin_commands(bot):
    bot.bind("office2", "市监局", "管理员")
    assert "已绑定" in bot.say("office2", "绑定 li 审批局")


def test_admin_commands_are_refused_to_liaisons(bot):
    bot.bind("li", "市监局")
    before = snapshot()
    assert "只有管理员可以使用" in bot.say("li", "期限 T7 2026-12-31")
    assert snapshot() == before


def test_deadline_for_all_units_and_for_one(bot):
    reply = bot.say("boss", "期限 T1 2026-12-31")
    assert "共 5 个责任单位" in reply
    assert {a.deadline for a in Assignment.select().join(Item).where(Item.code == "T1")} == {
        date(2026, 12, 31)
    }
    assert "县财政局期限" in bot.say("boss", "期限 T1 财政局 2027-01-15")
    fin = Assignment.get(
        (Assignment.item == Item.get(Item.code == "T1"))
        & (Assignment.unit == Unit.get(Unit.name == "县财政局"))
    )
    assert fin.deadline == date(2027, 1, 15)
    assert AuditEntry.select().where(AuditEntry.action == "deadline").count() == 6


def test_deadline_notifies_the_liaisons(bot):
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2026-12-31")
    texts = [m.content["text"] for m in bot.deliver() if m.recipients == ("li",)]
    assert any("期限通知" in t and "2026-12-31" in t for t in texts)


def test_deadline_for_a_unit_not_assigned_is_refused(bot):
    before = snapshot()
    assert "没有分配给县财政局" in bot.say("boss", "期限 T7 财政局 2026-12-31")
    assert snapshot() == before


def test_score_halves_and_history(bot):
    assert "2.5 / 3 分" in bot.say("boss", "评分 Z11 2.5 接口已提供")
    assert "原 2.5 分" in bot.say("boss", "评分 Z11 3")
    scores = list(Score.select().order_by(Score.id))
    assert [s.points for s in scores] == [Decimal("2.5"), Decimal(3)]
    assert scores[0].reason == "接口已提供"


def test_assign_adds_units_and_groups(bot):
    reply = bot.say("boss", "分配 T7 审批局 统计局")
    assert "县行政审批局、县统计局" in reply
    roles = {
        a.unit.name: a.role
        for a in Assignment.select().where(Assignment.item == Item.get(code="T7"))
    }
    assert roles == {"县市场监管局": "lead", "县行政审批局": "co", "县统计局": "co"}
    assert "原已是责任单位" in bot.say("boss", "分配 T7 各镇 市监局")
    assert Assignment.select().where(Assignment.item == Item.get(code="T7")).count() == 12


def test_assign_checks_every_unit_before_changing_anything(bot):
    before = snapshot()
    assert "找不到单位" in bot.say("boss", "分配 T7 审批局 火星局")
    assert snapshot() == before


def test_group_add_expands_the_groups_items(bot):
    town = Unit.create(name="新设镇人民政府", short_name="新设镇", position=99)
    towns = UnitGroup.get(UnitGroup.name == "各镇人民政府")
    items_for_group = [i for i in Item.select() if "各镇人民政府" in i.units_text.split("、")]
    assert items_for_group
    reply = bot.say("boss", "群组 各镇 加 新设镇")
    assert "已加入：新设镇人民政府" in reply
    assert GroupMember.get_or_none(group=towns, unit=town) is not None
    assert Assignment.select().where(Assignment.unit == town).count() == len(items_for_group)
    assert "已移出" in bot.say("boss", "群组 各镇 减 新设镇")
    assert Assignment.select().where(Assignment.unit == town).count() == 0


def test_group_remove_keeps_assignments_with_reported_work(bot):
    bot.bind("town", "龙兴镇")
    bot.say("town", "进度 T2 50%")
    reply = bot.say("boss", "群组 各镇 减 龙兴镇")
    assert "保留" in reply
    unit = Unit.get(Unit.name == "龙兴镇人民政府")
    assert Assignment.get(Assignment.unit == unit).progress == 50


def test_nudge_by_code_sends_one_message_per_liaison(bot):
    bot.bind("li1", "市监局")
    bot.bind("li2", "市监局")
    bot.deliver()
    reply = bot.say("boss", "催办 T7")
    assert "发给 2 人" in reply
    nudges = [m for m in bot.deliver() if "【催办】" in m.content["text"]]
    assert sorted(m.recipients for m in nudges) == [("li1",), ("li2",)]


def test_nudge_by_unit_lists_its_open_items_and_names_units_without_liaison(bot):
    bot.bind("li", "市监局")
    bot.deliver()
    bot.say("boss", "期限 T7 2026-12-01")
    bot.deliver()
    assert "发给 1 人" in bot.say("boss", "催办 市监局")
    text = next(m.content["text"] for m in bot.deliver() if "【催办】" in m.content["text"])
    assert text.index("T7 ") < text.index("T11 ")
    reply = bot.say("boss", "催办 T1")
    assert "都还没有绑定联络员" in reply


def test_overdue_lists_by_unit(bot, clock):
    bot.say("boss", "期限 T7 2026-11-27")
    assert "目前没有逾期" in bot.say("boss", "逾期")
    clock.set(clock.now().replace(day=30))
    reply = bot.say("boss", "逾期")
    # Friday's deadline, read on Monday: one working day overdue, not three calendar days.
    assert "县市场监管局" in reply and "已逾期 1 个工作日" in reply


def test_log_filters_by_code_and_unit(bot):
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2026-12-31")
    bot.say("li", "进度 T7 60% 初稿")
    by_code = bot.say("boss", "日志 T7")
    assert "报告进度 60%" in by_code and "2026-12-31" in by_code
    assert "绑定" not in by_code
    by_unit = bot.say("boss", "日志 市监局")
    assert "绑定 li" in by_unit and "报告进度 60%" in by_unit
    assert by_unit.index("报告进度") < by_unit.index("绑定 li"), "newest first"


def test_units_lists_bindings(bot):
    bot.bind("li", "市监局")
    reply = bot.say("boss", "单位")
    assert "县市场监管局（市监局）：联络员 li" in reply
    assert "各镇人民政府（9 个单位）" in reply


def test_the_same_deadline_again_changes_nothing_and_notifies_nobody(bot):
    bot.bind("li", "市监局")
    bot.deliver()
    bot.say("boss", "期限 T7 2026-12-31")
    assert len(bot.deliver()) == 2  # the reply and the liaison's notice
    before = snapshot()
    reply = bot.say("boss", "期限 T7 2026-12-31")
    assert "已经是 2026-12-31，没有改动，未通知任何人" in reply
    assert snapshot() == before
    assert [m.recipients for m in bot.deliver()] == [("boss",)]


def test_a_deadline_names_the_units_nobody_is_bound_to(bot):
    bot.bind("li", "市监局")
    reply = bot.say("boss", "期限 T17 2026-12-31")
    assert "以下单位还没有绑定联络员" in reply and "县工信科技局" in reply
    assert "县市场监管局" not in reply.split("以下单位还没有绑定联络员")[1]


def test_a_past_deadline_is_back_filled_and_joins_the_ladder_next_round(bot, services, clock):
    from bot.outbox import Outbox
    from reminders.jobs import reminder_round

    bot.bind("li", "市监局")
    clock.set(clock.now().replace(hour=10))
    reply = bot.say("boss", "期限 T11 2026-11-20")
    assert "补录的过去期限" in reply and "已逾期 4 个工作日" in reply
    unit = Unit.get(Unit.name == "县市场监管局")
    t11 = Assignment.get(
        (Assignment.item == Item.get(Item.code == "T11")) & (Assignment.unit == unit)
    )
    assert t11.deadline == date(2026, 11, 20)
    bot.deliver()

    def round_now():
        reminder_round(
            clock.now(), services.config, load_calendar(), Outbox(clock),
            services.renderer,
        )  # fmt: skip
        return [m for m in bot.deliver() if "T11" in m.content.get("text", "")]

    assert round_now() == [], "the deadline notice stands for today's reminder"
    clock.set(clock.now().replace(day=27, hour=9, minute=30))  # the next working day
    reminders = round_now()
    assert len(reminders) == 1 and "已逾期 5 个工作日" in reminders[0].content["text"]


def test_an_extension_decided_twice_says_so_plainly(bot):
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2026-12-10")
    bot.say("li", "延期 T7 2026-12-31 等待上级文件")
    request = bot.say("li", "我的任务")
    assert "延期审批中" in request
    bot.say("boss", "批准 1")
    reply = bot.say("boss", "批准 1")
    assert "延期申请 1 已批准，不能再次处理" in reply and "已已" not in reply


def test_selfcheck_runs_outside_any_transaction(bot, services, monkeypatch):
    """自检 calls WeCom; it must not hold the database's write lock while it does."""
    import bot.commands.office as office
    from models.db import database

    seen = []

    def fake_checks(config, now, client):
        seen.append(database.in_transaction())
        return []

    monkeypatch.setattr(office, "run_checks", fake_checks)
    bot.say("boss", "自检")
    assert seen == [False]


def test_the_plans_open_questions_are_listed_and_settled_by_the_office(bot):
    """26 items have no lead (a group named first); the towns and the 联席会议 are unconfirmed."""
    leadless = bot.say("boss", "牵头")
    assert leadless.startswith("以下 26 项没有牵头单位") and "T8 " in leadless
    overview = bot.say("boss", "总览")
    assert "单位组未确认：县网络市场监管局际联席会议各成员单位、各镇人民政府" in overview
    check = bot.say("boss", "自检")
    assert "【注意】方案待定事项" in check and "26 项没有牵头单位" in check
    reply = bot.say("boss", "牵头 T8 市监局")
    assert "已指定 县市场监管局 牵头 T8" in reply and "还有 25 项" in reply
    t8 = {a.unit.name: a.role for a in Assignment.select().where(
        (Assignment.item == Item.get(Item.code == "T8")) & Assignment.shares()
    )}  # fmt: skip
    assert t8["县市场监管局"] == "lead" and sum(r == "lead" for r in t8.values()) == 1
    assert "已经是 T8 的牵头单位" in bot.say("boss", "牵头 T8 市监局")
    assert "是单位组" in bot.say("boss", "牵头 T8 各镇")
    assert "不是 T1 的责任单位" in bot.say("boss", "牵头 T1 统计局")
    assert "已确认单位组“各镇人民政府”" in bot.say("boss", "群组 各镇 确认")
    assert "已确认单位组" in bot.say("boss", "群组 联席会议 确认")
    assert "单位组未确认" not in bot.say("boss", "总览")
    assert "已于" in bot.say("boss", "群组 各镇 确认")
    actions = {e.action for e in AuditEntry.select()}
    assert {"lead", "group_confirm"} <= actions


def test_the_gap_advice_names_the_lead_unit(bot, services, clock):
    from reminders import digest
    from reminders.calendar import WorkCalendar

    gains = {
        g["code"]: g
        for g in digest.build(clock.now(), services.config, WorkCalendar())["gap"]["gains"]
    }
    assert gains["Z3"]["units"] == ["市监局"] and gains["Z3"]["lead"]
    leadless = next(g for g in gains.values() if not g["lead"])
    assert len(leadless["units"]) > 1  # no lead: every unit is named
