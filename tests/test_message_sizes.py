"""The longest realistic messages still reach WeCom: split at line boundaries into few parts."""

import pytest

from bot.text import split_utf8
from models.org import Unit

APP_LIMIT = 2048


@pytest.fixture
def busy(bot, clock):
    """Every unit bound, 市监局 with a deadline on every item, many log entries."""
    for n, unit in enumerate(Unit.select().order_by(Unit.id)):
        bot.bind(f"liaison{n:02d}", unit.name)
        bot.bind(f"head{n:02d}", unit.name, "负责人")
    bot.say("boss", "分配 T1 各成员单位")
    for code in [f"T{n}" for n in range(1, 23)] + [f"Z{n}" for n in range(1, 42)]:
        bot.say("boss", f"期限 {code} 2026-12-31")
    bot.deliver()
    return bot


LONG_REPLIES = [
    ("boss", "帮助", 2),
    ("boss", "单位", 3),
    ("boss", "日志", 2),
    ("boss", "群组", 2),
    ("boss", "总览", 1),
    ("boss", "任务 T1", 2),
    ("boss", "任务 Z12", 2),
    ("liaison13", "我的任务 全部", 3),  # 县市场监管局: 47 open items
    ("boss", "催办 市监局", 1),
]


def test_long_replies_split_into_few_parts(busy):
    """One campaign for all cases: building it is the slow part."""
    too_long = []
    for who, text, max_parts in LONG_REPLIES:
        reply = busy.say(who, text)
        assert "系统出错" not in reply, text
        if text == "我的任务 全部":
            assert reply.startswith("县市场监管局的未完成事项（47 项")
        parts = split_utf8(reply, APP_LIMIT)
        if len(parts) > max_parts:
            too_long.append((text, len(reply.encode()), len(parts)))
    assert too_long == []


def test_the_nudge_itself_fits(busy):
    busy.say("boss", "催办 市监局")
    nudges = [m for m in busy.deliver() if "【催办】" in m.content.get("text", "")]
    assert nudges and all(len(split_utf8(m.content["text"], APP_LIMIT)) == 1 for m in nudges)
