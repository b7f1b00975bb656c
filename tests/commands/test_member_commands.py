"""Member commands through the real pipeline: the liaison's list, details, progress, extensions,
figures and evidence."""

from datetime import date

from helpers import snapshot

from models.audit import AuditEntry
from models.org import Unit
from models.plan import Assignment, Item
from models.progress import ExtensionRequest, ProgressReport
from models.scores import FigureReport, Score


def _assignment(code: str, unit: str) -> Assignment:
    return Assignment.get(
        (Assignment.item == Item.get(Item.code == code))
        & (Assignment.unit == Unit.get(Unit.name == unit))
    )


def test_help_shows_only_what_the_role_may_run(bot):
    bot.bind("li", "市监局")
    liaison_help = bot.say("li", "帮助")
    assert "进度 <编号>" in liaison_help
    assert "· 绑定 " not in liaison_help and "· 评分 " not in liaison_help
    assert "· 总览" not in liaison_help
    bot.bind("lead", "县政府", "领导")
    leader_help = bot.say("lead", "help")
    assert "· 总览" in leader_help and "· 绑定 " not in leader_help
    admin_help = bot.say("boss", "帮助")
    assert "· 绑定 " in admin_help and "· 总览" in admin_help and "· 我的任务" in admin_help


def test_help_for_one_command(bot):
    reply = bot.say("boss", "帮助 进度")
    assert "· 进度 <编号> <百分比> [说明]" in reply and "例：进度 T7 60%" in reply
    assert "progress" in reply


def test_my_tasks_lists_dated_items_first_and_counts_the_rest(bot):
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T11 2026-12-20")
    bot.say("boss", "期限 T7 2026-12-10")
    reply = bot.say("li", "我的任务")
    lines = reply.splitlines()
    assert lines[0].startswith("县市场监管局的未完成事项")
    t7 = next(i for i, line in enumerate(lines) if line.startswith("T7 "))
    t11 = next(i for i, line in enumerate(lines) if line.startswith("T11 "))
    assert t7 < t11, "nearest deadline first"
    assert "期限 2026-12-10" in lines[t7] and "未开始" in lines[t7] and "牵头" in lines[t7]
    assert "尚未设定期限" in reply
    everything = bot.say("li", "我的任务 全部")
    assert "Z11 " in everything and "尚未设定期限" not in everything


def test_my_tasks_shows_overdue_and_hides_done(bot, clock):
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2026-11-27")
    bot.say("boss", "期限 T11 2026-11-30")
    bot.say("li", "完成 T11")
    clock.set(clock.now().replace(day=30))
    reply = bot.say("li", "我的任务")
    assert "已逾期 1 个工作日" in reply  # Friday to Monday
    assert "T11 " in reply and "待审核" in reply  # reported done, not yet checked by the office
    bot.say("boss", "通过 T11")
    assert "T11 " not in bot.say("li", "我的任务")


def test_progress_is_recorded_folded_and_visible_in_details(bot):
    bot.bind("li", "市监局")
    reply = bot.say("li", "进度  ｔ０７  ６０％  已完成初稿")
    assert "已记录" in reply and "60%" in reply
    a = _assignment("T7", "县市场监管局")
    assert (a.progress, a.status) == (60, "open")
    report = ProgressReport.get(ProgressReport.assignment == a)
    assert (report.percent, report.note, report.wecom_userid) == (60, "已完成初稿", "li")
    detail = bot.say("li", "任务 T7")
    assert "进行中 60%" in detail and "已完成初稿" in detail and "县市场监管局（牵头）" in detail


def test_chinese_command_may_run_into_its_argument(bot):
    bot.bind("li", "市监局")
    assert "已记录" in bot.say("li", "进度T7 30%")


def test_done_then_done_again_is_refused(bot):
    bot.bind("li", "市监局")
    assert "已报告完成，等待办公室审核" in bot.say("li", "完成 T7 材料已报送")
    assert _assignment("T7", "县市场监管局").status == "review"
    before = snapshot()
    assert "正在等待办公室审核" in bot.say("li", "完成 T7")
    assert snapshot() == before
    bot.say("boss", "通过 T7")
    assert _assignment("T7", "县市场监管局").status == "done"
    before = snapshot()
    assert "无需重复报告" in bot.say("li", "完成 T7")
    assert snapshot() == before


def test_co_unit_progress_is_its_own(bot):
    bot.bind("fa", "发改局")
    bot.bind("gx", "工信局")
    bot.say("gx", "进度 T1 40%")
    assert _assignment("T1", "县工信科技局").progress == 40
    assert _assignment("T1", "县发改局").progress == 0


def test_extension_request_reaches_admins_and_approval_moves_deadline(bot):
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2026-12-10")
    reply = bot.say("li", "延期 T7 2026-12-31 需要等待上级文件")
    request = ExtensionRequest.get()
    assert f"编号 {request.id}" in reply
    sent = bot.deliver()
    to_admin = [m for m in sent if m.recipients == ("boss",) and "延期申请" in m.content["text"]]
    assert to_admin and f"批准 {request.id}" in to_admin[0].content["text"]
    assert "延期审批中" in bot.say("li", "我的任务")
    assert "已批准" in bot.say("boss", f"批准 {request.id}")
    assert _assignment("T7", "县市场监管局").deadline == date(2026, 12, 31)
    notified = [m for m in bot.deliver() if m.recipients == ("li",)]
    assert any("已批准" in m.content["text"] for m in notified)
    assert "不能再次处理" in bot.say("boss", f"驳回 {request.id}")


def test_extension_rejected_keeps_deadline(bot):
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2026-12-10")
    bot.say("li", "延期 T7 2026-12-31 人手不足")
    request = ExtensionRequest.get()
    assert "已驳回" in bot.say("boss", f"驳回 {request.id} 时间不能再推")
    assert _assignment("T7", "县市场监管局").deadline == date(2026, 12, 10)
    texts = [m.content["text"] for m in bot.deliver() if m.recipients == ("li",)]
    assert any("未获批准" in t and "时间不能再推" in t for t in texts)


def test_second_pending_extension_is_refused(bot):
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2026-12-10")
    bot.say("li", "延期 T7 2026-12-31 原因一")
    before = snapshot()
    assert "待审批" in bot.say("li", "延期 T7 2027-01-15 原因二")
    assert snapshot() == before


def test_figures_are_stored_for_quantitative_indicators(bot):
    bot.bind("tj", "市监局")
    reply = bot.say("tj", "数据 Z3 1,200 9800")
    assert "网络交易经营者数量" in reply and "1200" in reply
    report = FigureReport.get()
    keys = [spec["key"] for spec in Item.get(Item.code == "Z3").inputs]
    assert [report.values[k] for k in keys] == ["1200", "9800"]
    assert AuditEntry.select().where(AuditEntry.action == "figures").count() == 1


def test_figures_for_a_qualitative_indicator_are_refused(bot):
    bot.bind("tj", "市监局")
    assert "定性指标" in bot.say("tj", "数据 Z12 1")


def test_task_detail_of_an_indicator_shows_score_state(bot):
    bot.bind("li", "市监局")
    reply = bot.say("li", "任务 Z11")
    assert "满分 3 分" in reply and "未评分" in reply
    assert "\n上报数据：数据 Z11 <国家网络交易监管平台用户数（人）>" in reply
    assert "上报数据" not in bot.say("li", "任务 Z12"), "qualitative: scored by the office"
    bot.say("boss", "评分 Z11 2.5 平台用户数达标")
    assert "2.5 分" in bot.say("li", "任务 z11")


def test_figures_compute_a_score_that_the_office_can_override(bot):
    bot.bind("tj", "市监局")
    reply = bot.say("tj", "数据 Z3 1200 8000")  # 15 %: the bound is inclusive -> 2 points
    assert "15.00%" in reply and "计算得分 2 / 2 分" in reply
    assert "待办公室审核后计入总分" in reply
    waiting = bot.say("boss", "总览")
    assert "促进发展：0 / 20 分" in waiting and "待审核：Z3 2 分" in waiting
    bot.say("tj", "完成 Z3 数据已报")
    bot.say("boss", "通过 Z3")
    assert "促进发展：2 / 20 分" in bot.say("boss", "总览")
    bot.say("tj", "数据 Z3 1200 8000")  # the same figures: no second computed score
    assert Score.select().where(Score.source == "computed").count() == 1
    assert "原 2 分" in bot.say("boss", "评分 Z3 1 核实后经营者数量有误")
    assert "促进发展：1 / 20 分" in bot.say("boss", "总览")
    reply = bot.say("tj", "数据 Z3 1300 8000")
    assert "以办公室评分为准" in reply
    assert "促进发展：1 / 20 分" in bot.say("boss", "总览")
    log = bot.say("boss", "日志 Z3")
    assert "按上报数据计算得分" in log and "评分：2 → 1" in log


def test_partly_computable_indicator_says_the_rest_is_the_offices(bot):
    bot.bind("li", "市监局")
    reply = bot.say("li", "数据 Z11 30 50 100")
    assert "其余部分由办公室评定" in reply and "计算得分 2 / 3 分" in reply
