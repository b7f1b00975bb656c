"""Every bad input gets a short, specific answer with the usage line, and changes nothing."""

import pytest
from helpers import outbox_besides_replies, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# (who, text, a phrase the answer must contain)
BAD_INPUTS = [
    ("li", "飞行 T7", "关于 T7（“飞行”），您是要"),
    ("li", "helpme", "没有“helpme”这个命令"),
    ("li", "进度", "请写明编号和百分比"),
    ("li", "进度 T99 50%", "T99 不存在"),
    ("li", "进度 X7 50%", "不是任务或指标编号"),
    ("li", "进度 T1 50%", "不是县市场监管局的责任事项"),
    ("li", "进度 T7 150%", "超出范围"),
    ("li", "进度 T7 -5%", "超出范围"),
    ("li", "进度 T7 60.5%", "整数百分比"),
    ("li", "完成", "请写明编号"),
    ("li", "延期 T7 2026-02-30 原因", "不存在"),
    ("li", "延期 T7 过几天 原因", "不是日期"),
    ("li", "延期 T7 2026-12-31", "须写明原因"),
    ("li", "延期 T7 2026-12-31 原因", "还没有设定期限"),
    ("li", "数据 T7 1 2", "需要评估指标编号"),
    ("li", "数据 Z3 1", "需要按顺序上报 2 个数"),
    ("li", "数据 Z3 一千 2", "不是数字"),
    ("li", "数据 Z3 100 0", "不能大于市场主体数量"),
    ("li", "数据 Z3 0 0", "数据有误"),
    ("li", "数据 Z3 100.5 2000", "数量应为整数"),
    ("li", "数据 Z3 -3 2000", "不能为负数"),
    ("li", "数据 Z11 10 5 120", "比例应在 0 到 100 之间"),
    ("li", "数据 Z11 10 5 -1", "比例应在 0 到 100 之间"),
    ("li", "任务", "请写明编号"),
    ("li", "任务 T7 T8", "多写了“T8”"),
    ("li", "我的任务 明天", "看不懂"),
    ("li", "佐证 T7", "没有待归档的文件"),
    ("li", "佐证 撤回 999", "没有文件号为 999"),
    ("li", "佐证 改归 abc T7", "文件号是数字"),
    ("li", "佐证 T7 第2项", "T7 不分项"),
    ("li", "评分 Z1 2", "只有管理员可以使用"),
    ("li", "周报 发布", "“周报 发布”只有管理员可以使用"),
    ("li", "逾期", "只有领导和管理员可以使用"),
    ("li", "总览", "只有领导和管理员可以使用"),
    ("boss", "绑定 zhangsan", "请写明单位"),
    ("boss", "绑定 zhang/san 市监局", "不是有效的企业微信 userid"),
    ("boss", "绑定 @all 市监局", "@all 在企业微信里表示应用可见范围内的所有人"),
    ("boss", "绑定 @ALL 市监局 联络员", "不能作为一个人的 userid"),
    ("boss", "绑定 zhangsan 火星局", "找不到单位“火星局”"),
    ("boss", "绑定 zhangsan 局", "能对应多个单位"),
    ("boss", "绑定 zhangsan 各镇", "是单位组"),
    ("boss", "解绑 nobody", "没有绑定任何单位"),
    ("boss", "期限 T7 2026-13-01", "不存在"),
    ("boss", "期限 T7 2020-01-01", "早于方案印发"),
    ("boss", "期限 T7 下周", "不是日期"),
    ("boss", "期限 T7 火星局 2026-12-31", "找不到单位"),
    ("boss", "评分 Z1 3", "满分 2 分，不能打 3 分"),
    ("boss", "评分 Z1 1.3", "半分"),
    ("boss", "评分 Z1 -1", "不能为负数"),
    ("boss", "评分 T1 1", "是主要任务"),
    ("boss", "评分 Z1 很好", "不是分数"),
    ("boss", "批准 999", "没有编号为 999 的延期申请"),
    ("boss", "批准 abc", "不是申请编号"),
    ("boss", "驳回", "请写明申请编号"),
    ("boss", "分配 T7", "请写明单位"),
    ("boss", "分配 T7 市监局", "都已是 T7 的责任单位"),
    ("boss", "催办 火星局", "找不到单位"),
    ("boss", "催办", "请写明编号或单位"),
    ("boss", "日志 火星局", "找不到单位"),
    ("boss", "群组 市监局", "是单位，不是单位组"),
    ("boss", "群组 各镇 删", "这里可以写“确认”、“加”、“减”"),
    ("boss", "总览 全部", "不需要参数"),
]


@pytest.fixture
def ready(bot):
    bot.bind("li", "市监局")
    bot.deliver()
    return bot


@pytest.mark.parametrize(("who", "text", "expected"), BAD_INPUTS)
def test_bad_input_is_answered_and_changes_nothing(ready, who, text, expected):
    before, queued = snapshot(), outbox_besides_replies()
    reply = ready.say(who, text)
    assert expected in reply, reply
    assert "Traceback" not in reply and "系统出错" not in reply
    assert snapshot() == before
    assert outbox_besides_replies() == queued


def test_usage_line_follows_a_refusal(ready):
    reply = ready.say("li", "进度 T7 150%")
    assert reply.splitlines()[-1] == "用法：进度 <编号> <百分比> [说明]"
    reply = ready.say("boss", "群组 各镇 删 横桥乡")
    assert reply.splitlines()[-1] == "用法：群组 <组名> 加|减 <单位…>", "the form that came closest"


def test_a_long_argument_is_not_echoed_at_length(ready):
    reply = ready.say("li", "进度 T7 " + "很" * 3000)
    assert len(reply) < 200 and "…" in reply


def test_unbound_person_gets_a_polite_refusal_and_nothing_changes(bot):
    before = snapshot()
    reply = bot.say("stranger", "进度 T7 50%")
    assert "还没有绑定" in reply and "stranger" in reply
    assert snapshot() == before


_TOKENS = [
    "进度",
    "完成",
    "延期",
    "数据",
    "任务",
    "我的任务",
    "帮助",
    "绑定",
    "解绑",
    "评分",
    "总览",
    "催办",
    "日志",
    "期限",
    "批准",
    "驳回",
    "分配",
    "群组",
    "单位",
    "佐证",
    "逾期",
    "全部",
    "加",
    "减",
    *list("TZtzＴＺ０１２３４５６７８９0123456789%％ -/.年月日\u3000\n\t"),
    "市监局",
    "各镇",
    "联络员",
    "管理员",
    "2026-12-31",
    "T7",
    "Z3",
    "1",
    "\x00",
    "🙂",
    "<b>",
]
_texts = st.one_of(
    st.lists(st.sampled_from(_TOKENS), max_size=12).map("".join),
    st.lists(st.sampled_from(_TOKENS), max_size=6).map(" ".join),
    st.text(max_size=30),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_texts, who=st.sampled_from(["li", "boss", "stranger"]))
def test_no_text_makes_the_dispatcher_crash(ready, text, who):
    reply = ready.say(who, text)
    assert reply and "系统出错" not in reply
