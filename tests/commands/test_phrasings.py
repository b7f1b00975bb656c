"""The phrasing table: what county staff really type, and what the bot makes of each message.

Each row is (who, text, reading). The reading is the reader's stable account (`describe`):
the command and its values ("进度 T7 60% 已完成初稿"), a question back ("反问:ask_progress"),
a greeting ("问候"/"致谢"), or a refusal ("拒绝:…", compared by its start). Then a few rows run
end to end through the pipeline to show that what is read is what is done.

People: li (县市场监管局 liaison), lead (领导, 县人民政府), head (工信局 head and 领导), boss (admin).
Time: the fixed clock of the suite, Thursday 2026-11-26 10:00 Beijing time.
"""

import io

import pytest
from helpers import snapshot

from bot.commands import REGISTRY
from bot.commands.reader import describe
from bot.pipeline import Incoming
from models.plan import Assignment, Item
from models.progress import Evidence, ProgressReport

PHRASINGS = [
    # ---- progress, command first, with Chinese punctuation and spaces anywhere
    ("li", "进度 T7 60% 已完成初稿", "进度 T7 60 已完成初稿"),
    ("li", "进度：T7 50%，已完成初稿", "进度 T7 50 已完成初稿"),
    ("li", "进度 T7：50%", "进度 T7 50"),
    ("li", "进度T7 60%", "进度 T7 60"),
    ("li", "进度，T7，60%，正在汇总", "进度 T7 60 正在汇总"),
    ("li", "进度　Ｔ７　６０％", "进度 T7 60"),
    ("li", "进度 t07 60", "进度 T7 60"),
    ("li", "进度 T7 百分之六十", "进度 T7 60"),
    ("li", "进度 T7 六成 初稿", "进度 T7 60 初稿"),
    ("li", "进展 T7 30%", "进度 T7 30"),
    ("li", "progress T7 30%", "进度 T7 30"),
    ("li", "进度 T7 60%（已报县政府）", "进度 T7 60 （已报县政府）"),
    ("li", "进度 T7 100%", "进度 T7 100"),
    ("li", "进度 T7 60% 已完成初稿！", "进度 T7 60 已完成初稿！"),
    # ---- progress, item first
    ("li", "T7 进度50%", "进度 T7 50"),
    ("li", "T7进度 50%", "进度 T7 50"),
    ("li", "T7 60% 已报送", "进度 T7 60 已报送"),
    ("li", "T7 百分之六十", "进度 T7 60"),
    ("li", "T7：60%，已完成初稿", "进度 T7 60 已完成初稿"),
    ("li", "T7 完成80%", "进度 T7 80"),
    ("li", "T7完成了80%", "进度 T7 80"),
    ("li", "T7 进展 40%，正在征求意见", "进度 T7 40 正在征求意见"),
    ("li", "t7 60％", "进度 T7 60"),
    # ---- done
    ("li", "完成 T7", "完成 T7"),
    ("li", "完成 T7 材料已报送", "完成 T7 材料已报送"),
    ("li", "T7完成了", "完成 T7"),
    ("li", "T7 已完成", "完成 T7"),
    ("li", "T7 已完成。", "完成 T7"),
    ("li", "T7 已完成，材料已报送", "完成 T7 材料已报送"),
    ("li", "完成了T7", "完成 T7"),
    ("li", "已完成 T7", "完成 T7"),
    ("li", "T7 办结", "完成 T7"),
    ("li", "done T7", "完成 T7"),
    # ---- unclear: ask back, never guess a change
    ("li", "T7 60", "确认:进度 T7 60"),
    ("li", "T7 已完成初稿", "反问:not_done"),
    ("li", "进度 T7 七八成", "确认:进度 T7 70"),
    ("li", "T7大概完成了70-80%", "确认:进度 T7 70"),
    ("li", "T7 完成一半了", "进度 T7 50"),
    ("li", "T7 怎么报", "反问:about"),
    ("li", "T7 T8 完成", "确认:完成 T7|完成 T8"),
    ("li", "T7、T8 都完成了", "多条:完成 T7|完成 T8"),
    ("li", "60%", "反问:ask_which_item"),
    ("li", "已完成60%", "反问:ask_which_item"),
    ("li", "Z3 1200 9800", "确认:数据 Z3 1200,9800"),
    ("li", "完成 T7 80%", "进度 T7 80"),
    ("li", "关于T7的情况说明", "任务 T7"),
    # ---- details
    ("li", "T7", "任务 T7"),
    ("li", "任务 T7", "任务 T7"),
    ("li", "任务T7", "任务 T7"),
    ("li", "查看 Z11", "任务 Z11"),
    ("li", "详情：Z3", "任务 Z3"),
    ("lead", "T7", "任务 T7"),
    ("li", "T99", "拒绝:T99 不存在"),
    # ---- the unit's list
    ("li", "我的任务", "我的任务"),
    ("li", "我的任务 全部", "我的任务 全部"),
    ("li", "我的任务全部", "我的任务 全部"),
    ("li", "待办", "我的任务"),
    ("head", "我的任务", "我的任务"),
    # ---- extensions, with the dates people write
    ("li", "延期 T7 2026-12-31 等待上级文件", "延期 T7 2026-12-31 等待上级文件"),
    ("li", "延期 T7 12月31日 等待上级文件", "延期 T7 2026-12-31 等待上级文件"),
    ("li", "延期 T7 2027年1月15日 省里数据未下发", "延期 T7 2027-01-15 省里数据未下发"),
    ("li", "延期 T7 1月15日 省里数据未下发", "延期 T7 2027-01-15 省里数据未下发"),
    ("li", "延期 T7 月底 材料在盖章", "延期 T7 2026-11-30 材料在盖章"),
    ("li", "延期 T7 下周五 材料在盖章", "延期 T7 2026-12-04 材料在盖章"),
    ("li", "T7 延期 2026-12-31 等待上级文件", "延期 T7 2026-12-31 等待上级文件"),
    ("li", "T7 延期到12月31日，等待上级文件", "延期 T7 2026-12-31 等待上级文件"),
    ("li", "申请延期 T7 12月20日前 系统升级", "延期 T7 2026-12-20 系统升级"),
    # ---- figures
    ("li", "数据 Z3 1200 9800", "数据 Z3 1200,9800"),
    ("li", "数据：Z3，1200，9800", "数据 Z3 1200,9800"),
    ("li", "数据 Z3 1,200 9,800", "数据 Z3 1200,9800"),
    ("li", "Z3 数据 1200 9800", "数据 Z3 1200,9800"),
    # ---- evidence
    ("li", "佐证 T7", "佐证 T7"),
    ("li", "佐证 Z12 第2项", "佐证 Z12 2"),
    ("li", "佐证 Z12 第二项", "佐证 Z12 2"),
    ("li", "T7 佐证", "佐证 T7"),
    ("li", "T7的佐证材料", "佐证 T7"),
    ("li", "这是T7的材料", "佐证 T7"),
    ("li", "佐证 列表", "佐证 列表"),
    ("li", "佐证 列表 T7", "佐证 列表 T7"),
    ("li", "佐证 改归 12 T8", "佐证 改归 12 T8"),
    ("li", "佐证 撤回 12 传错了", "佐证 撤回 12 传错了"),
    # ---- greetings, thanks, politeness around a request
    ("li", "你好", "问候"),
    ("li", "您好！", "问候"),
    ("li", "在吗", "问候"),
    ("li", "在吗？", "问候"),
    ("li", "谢谢", "致谢"),
    ("li", "好的，谢谢！", "致谢"),
    ("li", "收到", "收到"),
    ("li", "好的好的", "收到"),
    ("li", "收到，马上办", "收到"),
    ("lead", "你好", "问候"),
    ("li", "你好，进度 T7 60%", "进度 T7 60"),
    ("li", "您好！T7 已完成，谢谢", "完成 T7"),
    ("li", "请问 T7 怎么报", "反问:about"),
    ("li", "麻烦 进度 T7 60%", "进度 T7 60"),
    ("li", "进度 T7 60% 谢谢", "进度 T7 60"),
    ("li", "帮助", "帮助"),
    ("li", "help", "帮助"),
    ("li", "？", "帮助"),
    ("li", "帮助 进度", "帮助 进度"),
    # ---- unknown words get the closest commands
    ("li", "近度 T7 50%", "进度 T7 50"),
    ("li", "我的任物", "反问:unknown_command"),
    ("li", "飞行 T7", "反问:about"),
    # ---- leaders
    ("lead", "总览", "总览"),
    ("lead", "得分", "总览"),
    ("lead", "逾期", "逾期"),
    ("lead", "周报 预览", "周报 预览"),
    ("lead", "周报预览", "周报 预览"),
    ("lead", "单位 工信局", "单位 县工信科技局"),
    ("lead", "单位：市监局", "单位 县市场监管局"),
    ("lead", "单位", "单位"),
    ("lead", "进度 T7 60%", "拒绝:“进度”只有各单位联络员和负责人可以使用"),
    ("lead", "周报 发布", "拒绝:“周报 发布”只有管理员可以使用"),
    ("head", "总览", "总览"),
    ("head", "进度 T17 50% 已部署", "进度 T17 50 已部署"),
    # ---- the office
    ("boss", "绑定 zhangsan 市监局", "绑定 zhangsan 县市场监管局"),
    ("boss", "绑定 zhangsan 市监局 联络员 张三", "绑定 zhangsan 县市场监管局 liaison 张三"),
    ("boss", "绑定 wang 工信局 领导 负责人", "绑定 wang 县工信科技局 leader,head"),
    ("boss", "绑定：zhangsan，市监局", "绑定 zhangsan 县市场监管局"),
    ("boss", "期限 T7 2026-12-31", "期限 T7 2026-12-31"),
    ("boss", "期限 T7 市监局 12月31日", "期限 T7 县市场监管局 2026-12-31"),
    ("boss", "期限：T7，2026年12月31日", "期限 T7 2026-12-31"),
    ("boss", "T7 期限 本周五", "期限 T7 2026-11-27"),
    ("boss", "期限 T7 下周", "拒绝:“下周”不是日期"),
    ("boss", "催办 T11", "催办 T11"),
    ("boss", "催办 工信局", "催办 县工信科技局"),
    ("boss", "催办：各镇", "催办 各镇人民政府"),
    ("boss", "T11 催办", "催办 T11"),
    ("boss", "评分 Z11 2.5 平台已对接", "评分 Z11 2.5 平台已对接"),
    ("boss", "评分 Z11 2.5分", "评分 Z11 2.5"),
    ("boss", "批准 3", "批准 3"),
    ("boss", "驳回 3 理由不充分", "驳回 3 理由不充分"),
    ("boss", "日志 T7", "日志 T7"),
    ("boss", "日志 市监局", "日志 县市场监管局"),
    ("boss", "日历 2027 已录入", "日历 2027 done"),
    ("boss", "日历 2027-02-07 班 春节调休", "日历 2027-02-07 work 春节调休"),
    ("boss", "群组 各镇 加 横桥乡", "群组 各镇人民政府 加 横桥乡人民政府"),
    ("boss", "周报 发布", "周报 发布"),
    ("boss", "导出", "导出"),
    ("boss", "自检", "自检"),
]


@pytest.fixture
def people(bot):
    bot.bind("li", "市监局")
    bot.bind("lead", "县政府", "领导")
    bot.say("boss", "绑定 head 工信局 领导 负责人")
    bot.deliver()
    return bot


def test_the_table_is_large_and_has_no_repeats():
    assert len(PHRASINGS) >= 80
    assert len({(who, text) for who, text, _ in PHRASINGS}) == len(PHRASINGS)


@pytest.mark.parametrize(("who", "text", "reading"), PHRASINGS)
def test_each_phrasing_is_read_as_people_mean_it(people, services, who, text, reading):
    ctx = services.pipeline.context_for(who)
    got = describe(REGISTRY, ctx, text)
    if reading.startswith("拒绝:"):
        assert got.startswith(reading), got
    else:
        assert got == reading


def test_reading_changes_nothing(people, services):
    before = snapshot()
    for who, text, _ in PHRASINGS:
        describe(REGISTRY, services.pipeline.context_for(who), text)
    assert snapshot() == before


def _assignment(code: str) -> Assignment:
    return Assignment.get((Assignment.item == Item.get(Item.code == code)) & (Assignment.unit == 1))


def test_item_first_reports_are_recorded_as_written(people):
    assert "进度 60%" in people.say("li", "T7 60% 已报送")
    report = ProgressReport.select().order_by(ProgressReport.id.desc()).first()
    assert (report.percent, report.note) == (60, "已报送")
    assert "已报告完成" in people.say("li", "您好！T7 已完成，谢谢")
    assert Assignment.get_by_id(report.assignment_id).status == "review"  # 办结审核


def test_a_note_keeps_its_chinese_punctuation(people):
    people.say("li", "进度：T11 50%，已完成初稿，待审核。")
    report = ProgressReport.select().order_by(ProgressReport.id.desc()).first()
    assert report.note == "已完成初稿，待审核。"


def test_an_unclear_message_asks_yes_or_no_and_changes_nothing(people):
    before = snapshot()
    reply = people.say("li", "T7 60")
    assert reply.startswith("是要报告 T7 进度 60%吗？") and "进度 T7 60%" in reply
    assert people.say("li", "不是") == "好的，没有记录。"
    reply = people.say("li", "T7 已完成初稿")  # a draft is no 完成
    assert "还没有全部完成，所以没有记为完成" in reply and "进度 T7 百分比" in reply
    assert snapshot() == before


def test_a_greeting_lists_the_open_items_and_how_to_report(people):
    people.say("boss", "期限 T7 2026-12-10")
    people.say("boss", "期限 T11 2026-11-20")
    reply = people.say("li", "你好")
    assert reply.startswith("您好")
    assert "T11" in reply and "已逾期" in reply and "T7" in reply
    assert "进度 T7 60% 说明" in reply
    assert people.say("li", "谢谢").startswith("不客气")
    leader = people.say("lead", "在吗")
    assert "总览" in leader and "进度 T7" not in leader


def test_an_unknown_command_offers_the_closest_ones(people):
    reply = people.say("li", "近度")
    assert "没有“近度”这个命令" in reply and "· 进度 <编号> <百分比> [说明]" in reply
    reply = people.say("li", "我的任物")
    assert "· 我的任务 [全部]" in reply
    # Only what the person may use is offered.
    assert "评分 <Z编号>" not in people.say("li", "评份 Z1 2")
    assert "评分 <Z编号>" in people.say("boss", "评份 Z1 2")


def test_files_first_then_the_code_files_them(people, services):
    from conftest import START

    services.clock.set(START.replace(hour=15))  # long after any code the liaison typed
    stored = services.evidence.save(io.BytesIO(b"%PDF-1.4 x"), "方案.pdf")
    handled = services.pipeline.handle(
        Incoming("test", "file-first", "li", kind="file", text="", file=stored)
    )
    assert "佐证 编号" in handled.reply
    reply = people.say("li", "这是T7的材料")
    assert "已归到 T7" in reply
    assert Evidence.get().item.code == "T7"


def test_an_ack_after_a_reminder_is_answered_and_changes_nothing(people):
    people.say("boss", "期限 T7 2026-11-30")
    before = snapshot()
    for said in ("收到", "好的好的", "收到，马上办！", "嗯嗯 收到"):
        reply = people.say("li", said)
        assert reply.startswith("好的") and "收到" in reply, (said, reply)
        assert "进度 T7 60%" in reply  # the nearest item, to report on when there is news
    assert snapshot() == before


def test_an_ack_names_the_assigned_work_still_to_sign_and_signs_only_when_said(people):
    people.say("boss", "交办 市监局 2026-12-25 报送阶段性总结")
    reply = people.say("li", "收到")
    assert "J1 还没签收" in reply and "签收 J1" in reply
    share = Assignment.get((Assignment.item == Item.get(Item.code == "J1")) & Assignment.shares())
    assert share.signed_at is None
    assert "已签收" in people.say("li", "交办的那个事收到了，马上安排")
    assert Assignment.get_by_id(share.id).signed_at is not None
