"""The merged reply to a flood (pure): identical replies once, long ones cut, within 2048 bytes,
and what did not fit counted and named."""

from datetime import timedelta

from conftest import START

from bot.flood import ENTRY_LIMIT, Owed, group_replies, merged_text
from bot.render import Renderer


def render(**context) -> str:
    return Renderer(START.tzinfo).snippet("outbox.j2", "merged_replies", **context)


def owed(texts, asked=None):
    asked = asked or [f"问{n}" for n in range(len(texts))]
    return [
        Owed(n, text, q, START + timedelta(minutes=n))
        for n, (text, q) in enumerate(zip(texts, asked, strict=True))
    ]


def test_identical_replies_are_one_group_with_a_few_of_their_questions():
    groups = group_replies(owed(["甲", "乙", "甲", "甲"], ["你好", "任务 T7", "在吗", "你好"]))
    assert [(g.text, g.count, g.asked) for g in groups] == [
        ("甲", 3, ("你好", "在吗")),
        ("乙", 1, ("任务 T7",)),
    ]


def test_a_long_reply_is_cut_and_long_questions_are_shortened():
    (group,) = group_replies(owed(["县" * 2000], ["进度 T7 60% " + "说明" * 40]))
    assert len(group.text.encode()) <= ENTRY_LIMIT and group.text.endswith("……")
    assert group.asked[0].endswith("…") and len(group.asked[0]) == 17


def test_the_largest_flood_fits_and_says_what_was_left_out():
    texts = [f"T{n % 63} " + "县市场监管局的未完成事项" * 30 for n in range(1000)]
    text = merged_text(owed(texts, [f"任务 T{n % 63}" for n in range(1000)]), render, 2048)
    assert len(text.encode()) <= 2048
    assert text.startswith("【合并回复】您在 11-26 10:00 至 11-27 02:39 连续发来 1000 条消息")
    assert "另有" in text and "“任务 T" in text.split("另有")[1], "names some not answered"


def test_a_short_flood_is_answered_in_full():
    text = merged_text(owed(["已记录：T7 进度 60%。"] * 6), render, 2048)
    assert "连续发来 6 条消息" in text and "10:00–10:05" in text
    assert text.count("已记录：T7 进度 60%。") == 1 and "等 6 条消息的回复（相同）" in text
    assert "另有" not in text
