"""The registry: declared once, duplicates fail at import, longest alias first, role filtering."""

import pytest

from bot.commands import REGISTRY
from bot.commands.registry import ACCESS_LEVELS, Registry


def _noop(ctx, args):
    return "ok"


def test_duplicate_alias_fails_at_declaration():
    registry = Registry()
    registry.command("甲", aliases=("a",), access="member", usage="甲", help="h")(_noop)
    with pytest.raises(ValueError, match="declared twice"):
        registry.command("乙", aliases=("Ａ",), access="member", usage="乙", help="h")(_noop)


def test_unknown_access_level_fails():
    with pytest.raises(ValueError, match="access level"):
        Registry().command("甲", access="root", usage="甲", help="h")


def test_longest_alias_wins_and_english_needs_a_boundary():
    cmd, rest = REGISTRY.find("我的任务 全部")
    assert (cmd.name, rest) == ("我的任务", "全部")
    cmd, rest = REGISTRY.find("任务T7")
    assert (cmd.name, rest) == ("任务", "T7")
    assert REGISTRY.find("tasksx")[0] is None
    assert REGISTRY.find("TASKS")[0].name == "我的任务"


def test_every_command_is_declared_with_usage_help_and_a_known_role():
    names = [c.name for c in REGISTRY.commands]
    expected = {
        "帮助",
        "我的任务",
        "任务",
        "进度",
        "完成",
        "延期",
        "数据",
        "绑定",
        "解绑",
        "单位",
        "期限",
        "评分",
        "批准",
        "驳回",
        "分配",
        "催办",
        "日志",
        "总览",
    }
    assert expected <= set(names)
    for cmd in REGISTRY.commands:
        assert cmd.access in ACCESS_LEVELS
        assert cmd.usage.startswith(cmd.name) and cmd.help
