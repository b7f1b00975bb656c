"""总览: the score so far against both pass tests, with 未评分 kept apart from 0."""

from models.plan import Item


def _score_all_at_max(bot):
    for item in Item.select().where(Item.kind == "indicator"):
        bot.say("boss", f"评分 {item.code} {item.max_points}")


def test_all_indicators_at_max_is_100_and_passes(bot):
    _score_all_at_max(bot)
    reply = bot.say("boss", "总览")
    assert "总分：100 / 100 分" in reply
    assert reply.strip().endswith("结论：合格")
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
