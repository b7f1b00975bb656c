"""Properties of reading people's words, over generated messages: the three wrong changes the
reader must never make. A message that says something is not done is never read as done; a
count (45次, 3个, 1286户) is never read as a percent; a report never lands on an item or a
unit the message did not name, nor on an item that is not the sender's.

The messages are put together from parts, the way people string them: a salutation or none,
the code in any of its forms, the words around it in any order, filler, full-width digits,
no spaces or too many. Reading changes nothing, so each example only reads (`describe`)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands import REGISTRY
from bot.commands.reader import describe
from models.org import Member, Unit
from models.plan import Assignment, Item
from models.progress import ExtensionRequest, ProgressReport

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

FULL_WIDTH = str.maketrans("0123456789%TZJ", "０１２３４５６７８９％ＴＺＪ")

SALUTATIONS = ("", "王主任好，", "各位领导好！", "@督查室 ", "您好 ", "李科长：", "报告：")
FILLERS = ("", "。", "！", "吧", "哈", "了", "呢", "👌", "~", "，谢谢", "，辛苦了")
WORK = ("方案", "总结报告", "验收材料", "台账", "宣传册", "培训", "现场检查", "数据汇总")
CN_TENTHS = ("一", "二", "两", "三", "四", "五", "六", "七", "八", "九")


def _code_forms(code: str) -> st.SearchStrategy[str]:
    letter, number = code[0], code[1:]
    return st.sampled_from(
        [code, code.lower(), code.translate(FULL_WIDTH), f"{letter}0{number}", f"{letter} {number}"]
    )


@st.composite
def not_done(draw, code: str) -> str:
    """A message saying the work is not (all) done."""
    work = draw(st.sampled_from(WORK))
    tenth = draw(st.sampled_from(CN_TENTHS))
    percent = draw(st.integers(1, 95))
    phrase = draw(
        st.sampled_from(
            [
                "还没完成",
                "还未完成",
                "尚未完成",
                "没做完",
                "还没弄完",
                f"差不多做完了，还差一个{work}",
                f"基本完成，还差{work}",
                f"完成了{tenth}成",
                f"完成{percent}%",
                f"已完成{percent}%",
                "完成了一半",
                f"{work}还没完成",
                f"快完成了，{work}在弄",
                "即将完成",
                "预计下周完成",
                f"争取月底前完成{work}",
                f"正在收尾，{work}还没交",
                f"只完成了{work}，其他的还在做",
                "没有完成",
                f"完成不了，{work}卡住了",
            ]
        )
    )
    salutation = draw(st.sampled_from(SALUTATIONS))
    filler = draw(st.sampled_from(FILLERS))
    form = draw(_code_forms(code))
    gap = draw(st.sampled_from(["", " ", "，", "：", "  "]))
    text = f"{salutation}{form}{gap}{phrase}{filler}"
    if draw(st.booleans()):
        text = text.translate(FULL_WIDTH)
    return text


@st.composite
def count_report(draw, code: str) -> tuple[str, int, int | None]:
    """A message with a count (never a percent) and perhaps a real percent: (text, the count,
    the percent or None)."""
    count = draw(st.integers(1, 2000))
    unit = draw(st.sampled_from(["次", "个", "户", "家", "人次", "场", "份", "件", "家次", "名"]))
    doing = draw(st.sampled_from(["执法检查", "建成服务站", "走访企业", "开展培训", "发放宣传册"]))
    counted = draw(
        st.sampled_from(
            [f"{doing}{count}{unit}", f"已{doing}{count}{unit}", f"完成{doing}{count}{unit}"]
        )
    )
    percent = draw(st.one_of(st.none(), st.integers(1, 99)))
    form = draw(_code_forms(code))
    parts = [counted]
    if percent is not None:
        said = draw(st.sampled_from([f"进度{percent}%", f"完成{percent}%", f"总体进度{percent}%"]))
        parts.insert(draw(st.integers(0, 1)), said)
    text = f"{form} " + "，".join(parts) + draw(st.sampled_from(FILLERS))
    return text, count, percent


@st.composite
def bounded(draw, code: str) -> tuple[str, int]:
    """A message giving only a bound ("不到一半", "不足60%"): (text, the bound's number)."""
    percent = draw(st.integers(1, 9)) * 10
    tenth = CN_TENTHS[percent // 10 - 1] if percent != 20 else "两"
    said, value = draw(
        st.sampled_from(
            [
                (f"{percent}%", percent),
                (f"百分之{percent}", percent),
                (f"{tenth}成", percent),
                ("一半", 50),
            ]
        )
    )
    bound = draw(st.sampled_from(["不到", "不足", "没到", "低于", "还不到", "没达到"]))
    lead = draw(st.sampled_from(["", "进度", "完成度", "完成了", "目前"]))
    form = draw(_code_forms(code))
    text = f"{draw(st.sampled_from(SALUTATIONS))}{form}{lead}{bound}{said}"
    return text + draw(st.sampled_from(FILLERS)), value


# ---------------------------------------------------------------- reading what was proposed

_COMMAND = re.compile(
    r"^\??(进度|完成|延期|数据|签收|更正|佐证|评分|期限|退回|通过) (\S+)(?: (\S+))?"
)


def proposed(reading: str) -> list[tuple[str, str, str]]:
    """The commands a reading would carry out, at once or once confirmed: (name, code, value)."""
    if reading.startswith(("反问:", "拒绝:", "问候", "致谢", "收到", "空")):
        return []
    body = reading.split(":", 1)[1] if reading.startswith(("确认:", "多条:")) else reading
    found = []
    for part in body.split("|"):
        match = _COMMAND.match(part)
        if match:
            found.append((match.group(1), match.group(2), match.group(3) or ""))
    return found


@pytest.fixture
def li(bot, services):
    bot.bind("li", "市监局")
    bot.bind("lead", "县政府", "领导")
    return services.pipeline.context_for("li")


def _items_of(userid: str) -> set[str]:
    unit = Member.get(Member.wecom_userid == userid).unit
    query = Assignment.select(Assignment, Item).join(Item).where(Assignment.unit == unit)
    return {a.item.code for a in query}


def _read(ctx, text: str) -> str:
    return describe(REGISTRY, ctx, text)


# ---------------------------------------------------------------- the properties


@SETTINGS
@given(data=st.data())
def test_not_done_is_never_read_as_done(li, data):
    code = data.draw(st.sampled_from(sorted(_items_of("li"))))
    text = data.draw(not_done(code))
    reading = _read(li, text)
    for name, _, value in proposed(reading):
        assert name != "完成", (text, reading)
        if name == "进度":
            assert value != "100", (text, reading)


@SETTINGS
@given(data=st.data())
def test_a_bound_is_never_recorded_as_the_progress(li, data):
    code = data.draw(st.sampled_from(sorted(_items_of("li"))))
    text, value = data.draw(bounded(code))
    reading = _read(li, text)
    for name, _, said in proposed(reading):
        assert name != "完成", (text, reading)
        assert not (name in ("进度", "更正") and said == str(value)), (text, reading)


@SETTINGS
@given(data=st.data())
def test_a_count_is_never_read_as_a_percent(li, data):
    code = data.draw(st.sampled_from(sorted(_items_of("li"))))
    text, count, percent = data.draw(count_report(code))
    reading = _read(li, text)
    for name, _, value in proposed(reading):
        if name in ("进度", "更正"):
            assert value != str(count) or count == percent, (text, reading)
            assert value == str(percent), (text, reading)  # only the percent said as one
        assert name != "完成", (text, reading)


@SETTINGS
@given(data=st.data())
def test_a_report_lands_only_on_an_item_named_and_the_senders_own(li, bot, data):
    """Read, and carried out as far as the bot will go (a question answered 是): what is
    recorded is on the item the message named, and only if it is the sender's unit's."""
    code = data.draw(st.sampled_from(sorted(i.code for i in Item.select())))
    mine = _items_of("li")
    percent = data.draw(st.integers(1, 99))
    form = data.draw(_code_forms(code))
    said = data.draw(
        st.sampled_from(
            [
                f"{form}进度{percent}%",
                f"{form} 完成{percent}%了",
                f"进度 {form} {percent}%",
                f"{form}已完成",
                f"我们{form}的进展是百分之{percent}",
                f"{form}申请延期到12月30日，材料还没齐",
                f"{form}这块做了{percent}%左右",
            ]
        )
    )
    text = data.draw(st.sampled_from(SALUTATIONS)) + said + data.draw(st.sampled_from(FILLERS))
    for name, named, _ in proposed(_read(li, text)):
        assert named.split("-")[0] == code, (text, name, named)
    before = ProgressReport.select().count(), ExtensionRequest.select().count()
    reply = bot.say("li", text)
    if "回复“是”确认" in reply:
        bot.say("li", "是")
    reports = list(ProgressReport.select().order_by(ProgressReport.id).offset(before[0]))
    requests = list(ExtensionRequest.select().order_by(ExtensionRequest.id).offset(before[1]))
    for row in [*reports, *requests]:
        item = row.assignment.item.code
        assert item == code and code in mine, (text, reply, item)


@SETTINGS
@given(data=st.data())
def test_a_leader_asking_about_a_unit_gets_that_unit(li, services, data):
    lead = services.pipeline.context_for("lead")
    unit = data.draw(st.sampled_from([u for u in Unit.select() if u.short_name]))
    name = data.draw(st.sampled_from([unit.short_name, unit.name]))
    text = data.draw(
        st.sampled_from(
            [f"{name}情况怎么样", f"{name}现在咋样了", f"看看{name}", f"{name}进度如何？"]
        )
    )
    reading = _read(lead, text)
    assert reading in (f"单位 {unit.name}", "反问:unknown_command"), (text, reading)
    assert proposed(reading) == []
