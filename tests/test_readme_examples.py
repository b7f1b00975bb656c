"""The README's "怎么跟机器人说话" table is true: every message in it is read as the table says
(the reading is checked here, the words of the table are for people), and a few are carried out
end to end."""

import re

import pytest
from helpers import ROOT, snapshot

from bot.commands import REGISTRY
from bot.commands.reader import describe
from models.org import Member
from models.plan import Assignment, Item

WHO = {"联络员": "li", "领导": "lead", "督查室": "boss"}

# What each README message must be read as (the reader's account, see reader.describe).
READINGS = {
    "T7完成六成了": "进度 T7 60",
    "王主任好！T11 已完成，材料已报送": "完成 T11 材料已报送",
    "T12申请延期到12月18日，执法检查还没结束": "延期 T12 2026-12-18 执法检查还没结束",
    "市监局本周进度：\nT7 70%\nT11 40%，正在汇总": "多条:进度 T7 70|进度 T11 40 正在汇总",
    "刚才T12报错了，应该是40%": "更正 T12 40",
    "T7 执法检查45次，进度80%": "进度 T7 80 执法检查45次",
    "T7 60": "确认:进度 T7 60",
    "Z3 网络交易经营者3560户，市场主体41200户": "确认:数据 Z3 3560,41200",
    "现在总分多少": "总览",
    "哪些单位没报": "排名",
    "T7期限定到12月31号": "期限 T7 2026-12-31",
    "T17退回，佐证材料不全": "退回 T17 佐证材料不全",
    "J1收到了": "签收 J1",
    "收到": "收到",
}


def readme_examples() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("<!-- examples:start -->")[1].split("<!-- examples:end -->")[0]
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] not in WHO:
            continue
        said = "\n".join(re.findall(r"`([^`]*)`", cells[1]))
        rows.append((WHO[cells[0]], said))
    return rows


def test_the_readme_shows_ten_or_more_examples_of_every_role():
    rows = readme_examples()
    assert len(rows) >= 10
    assert {who for who, _ in rows} == set(WHO.values())
    assert [said for _, said in rows] == list(READINGS)


@pytest.fixture
def office(bot):
    bot.bind("li", "市监局")
    bot.bind("lead", "县政府", "领导")
    bot.say("boss", "交办 市监局 2026-12-25 报送阶段性总结")
    bot.say("li", "进度 T12 60% 排查中")
    bot.say("li", "完成 T17 已报县政府")  # in 办结审核, for 退回
    bot.deliver()
    return bot


@pytest.mark.parametrize(("who", "said"), readme_examples())
def test_each_readme_example_is_read_as_the_readme_says(office, services, who, said):
    assert describe(REGISTRY, services.pipeline.context_for(who), said) == READINGS[said]


def test_the_readme_examples_do_what_they_say(office):
    assert "进度 60%" in office.say("li", "T7完成六成了")
    before = snapshot()
    assert office.say("li", "T7 60").startswith("是要报告 T7 进度 60%吗？")
    assert office.say("li", "收到").startswith("好的")
    assert snapshot() == before
    assert "已签收" in office.say("li", "J1收到了")
    assert "已退回" in office.say("boss", "T17退回，佐证材料不全")
    unit = Member.get(Member.wecom_userid == "li").unit
    share = Assignment.get(
        (Assignment.item == Item.get(Item.code == "T17")) & (Assignment.unit == unit)
    )
    assert share.status == "open"
    reply = office.say("li", "市监局本周进度：\nT7 70%\nT11 40%，正在汇总")
    assert "T7" in reply and "T11" in reply and "70%" in reply and "40%" in reply
