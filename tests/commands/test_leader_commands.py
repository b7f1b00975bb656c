"""总览: the score so far against both pass tests, with 未评分 kept apart from 0."""

from models.plan import Item


def _score_all_at_max(bot):
    for item in Item.select().where(Item.kind == "indicator"):
        bot.say("boss", f"评分 {item.code} {item.max_points}")


def test_all_indicators_at_max_is_100_and_passes(bot):
    _score_all_at_max(bot)
    reply = bot.say("boss", "总览")
    assert "总分：100 / 100 分" in reply
    assert "结论：合格" in reply
    assert "未评分 0 项" in reply.splitlines()[0]


def test_a_category_under_75_percent_fails_even_with_total_over_85(bot):
    _score_all_at_max(bot)
    # 综合保障 has 15 points; taking 6.5 away leaves 8.5 < 11.25, while the total 93.5 >= 85.
    for code in ("Z35", "Z36"):
        bot.say("boss", f"评分 {code} 0")
    bot.say("boss", "评分 Z37 0.5")
    reply = bot.say("boss", "总览")
    assert "综合保障：8.5 / 15 分，75% 线 11.25 分 ✗ 未达标" in reply
    assert "（0 分 2 项）" in reply
    assert "总分：93.5 / 100 分，合格线 85 分 ✓ 达标" in reply
    assert "结论：不合格" in reply


def test_unscored_is_not_zero(bot):
    bot.say("boss", "评分 Z1 0")
    reply = bot.say("boss", "总览")
    assert "已评 1 项，未评分 40 项" in reply
    assert "促进发展：0 / 20 分，75% 线 15 分 ✗ 未达标（未评分 9 项）（0 分 1 项）" in reply


def test_leader_may_see_overview_but_liaison_may_not(bot):
    bot.bind("lead", "县政府", "领导")
    bot.bind("li", "市监局")
    assert "创建评估得分总览" in bot.say("lead", "总览")
    assert "只有领导和管理员可以使用" in bot.say("li", "总览")


def test_a_partly_computed_indicator_is_not_counted_as_scored(bot):
    bot.bind("li", "市监局")
    # Z11: points 1 and 2 come from figures, point 3 is the office's judgement.
    assert "其余部分由办公室评定" in bot.say("li", "数据 Z11 50 10 80")
    waiting = bot.say("boss", "总览")
    assert "已评 0 项，未评分 41 项" in waiting.splitlines()[0]
    assert "待审核：Z11 1 分" in waiting, "a unit's figures count once the office accepts them"
    bot.say("li", "完成 Z11 数据已报")
    assert "计入总分" in bot.say("boss", "通过 Z11")
    reply = bot.say("boss", "总览")
    assert "已评 0 项，部分评分 1 项，未评分 40 项" in reply.splitlines()[0]
    assert "规范监管：1 / 25 分，75% 线 18.75 分 ✗ 未达标（部分评分 1 项）" in reply
    assert "部分评分：Z11" in reply
    bot.say("boss", "评分 Z11 2")  # the office settles the whole indicator
    assert "已评 1 项，未评分 40 项" in bot.say("boss", "总览").splitlines()[0]


def test_minus_zero_is_zero(bot):
    assert "0 / 2 分" in bot.say("boss", "评分 Z1 -0")
    assert "-0" not in bot.say("boss", "总览") and "-0" not in bot.say("boss", "日志 Z1")


# ---------------------------------------------------------------- what leaders can do


def _leaders(bot):
    bot.bind("li", "市监局")
    bot.bind("lead", "县政府", "领导")
    bot.say("boss", "绑定 head 工信局 领导 负责人")
    bot.deliver()


def test_a_leaders_help_lists_only_what_leaders_do(bot):
    _leaders(bot)
    reply = bot.say("lead", "帮助")
    listed = {line.split()[1] for line in reply.splitlines() if line.startswith("· ")}
    # Issue 7's set, and since issue 8 a leader assigns work (交办) and withdraws it (撤销);
    # since issue 18 the units' ranking (排名).
    expected = {
        "帮助",
        "任务",
        "总览",
        "排名",
        "逾期",
        "周报",
        "单位",
        "交办",
        "撤销",
        "节点",
        "催办",
    }
    assert listed == expected
    for command in ("进度 <", "完成 <", "数据 <", "我的任务", "延期 <", "佐证 <"):
        assert command not in reply, command
    assert "佐证材料" not in reply  # no "send files with a code" line either
    # A leader who heads a unit also reports for it.
    head = bot.say("head", "帮助")
    assert "· 进度 <编号>" in head and "· 总览" in head


def test_leaders_see_overdue_items_and_the_preview_but_may_not_publish(bot, clock):
    _leaders(bot)
    bot.say("boss", "期限 T7 2026-11-20")  # back-filled: 4 working days overdue
    overdue = bot.say("lead", "逾期")
    assert "T7" in overdue and "已逾期 4 个工作日" in overdue and "催办" not in overdue
    preview = bot.say("lead", "周报 预览")
    assert preview.startswith("【预览，尚未发布】")
    assert "只有管理员可以使用" in bot.say("lead", "周报 发布")


def test_the_preview_in_a_persons_chat_is_plain_text(bot):
    _leaders(bot)
    bot.say("boss", "期限 T7 2026-11-20")
    preview = bot.say("lead", "周报 预览")
    for mark in ("##", "**", "<font", "</font>", "\n>"):
        assert mark not in preview, mark
    assert "【示范区创建周报" in preview and "预计得分" in preview


def test_a_unit_summary_shows_items_colours_last_report_and_silence(bot, clock):
    _leaders(bot)
    bot.say("boss", "期限 T11 2026-11-20")
    bot.say("boss", "期限 T7 2026-12-01")
    bot.say("li", "进度 T11 40% 起草中")
    clock.set(clock.now().replace(day=30))  # the Monday after: 2 working days of silence
    reply = bot.say("lead", "单位 市监局")
    assert reply.startswith("县市场监管局（市监局）：已完成 0 项，未完成 46 项\n")
    assert "红（逾期）1｜黄（临期或滞后）1" in reply
    assert "T11 报告进度 40%（li），已 2 个工作日没有报告" in reply
    assert "【红】T11" in reply and "已逾期 6 个工作日（40%）" in reply
    assert "【黄】T7" in reply
    assert "人员：联络员 li" in reply
    nobody = bot.say("lead", "单位 统计局")
    assert "还没有报告过" in nobody and "未绑定" in nobody
    assert "是单位组" in bot.say("lead", "单位 各镇")


def test_leaders_read_any_item_and_liaisons_may_not_use_leader_commands(bot):
    _leaders(bot)
    detail = bot.say("lead", "任务 T7")
    assert detail.startswith("T7 ") and "上报数据" not in detail
    for text in ("逾期", "单位 市监局", "周报 预览"):
        assert "只有领导和管理员可以使用" in bot.say("li", text), text


def test_a_head_sees_the_units_items_and_reports_for_it(bot):
    _leaders(bot)
    bot.say("boss", "期限 T17 2026-12-10")
    assert "T17" in bot.say("head", "我的任务")
    assert "已记录" in bot.say("head", "进度 T17 50% 已部署")
    assert "不是县工信科技局的责任事项" in bot.say("head", "进度 T11 50%")
