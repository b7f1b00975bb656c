"""The registry: commands and their forms declared once, as data; the parser, the usage line and
the help all come from the declaration; duplicates fail at import; role filtering."""

import pytest

from bot.commands import REGISTRY
from bot.commands.args import ItemArg, PercentArg, RestArg
from bot.commands.registry import ACCESS_LEVELS, Registry, summary_usage


def _noop(ctx, args):
    return "ok"


def test_duplicate_alias_fails_at_declaration():
    registry = Registry()
    registry.command("甲", aliases=("a",), access="member", help="h")(_noop)
    with pytest.raises(ValueError, match="declared twice"):
        registry.command("乙", aliases=("Ａ",), access="member", help="h")(_noop)


def test_a_second_form_adds_to_the_command_but_may_not_repeat_one():
    registry = Registry()
    registry.command("甲", access="member", help="h")(_noop)
    registry.command("甲", access="admin", args=(ItemArg(),), help="h2")(_noop)
    assert [f.usage for f in registry.get("甲").forms] == ["甲", "甲 <编号>"]
    with pytest.raises(ValueError, match="same arguments"):
        registry.command("甲", access="member", args=(ItemArg(),), help="h3")(_noop)
    with pytest.raises(ValueError, match="aliases"):
        registry.command("甲", aliases=("b",), access="member", help="h4")(_noop)


def test_unknown_access_level_fails():
    with pytest.raises(ValueError, match="access level"):
        Registry().command("甲", access="root", help="h")


def test_usage_comes_from_the_argument_shapes():
    registry = Registry()
    registry.command("进", access="unit", args=(ItemArg(), PercentArg(), RestArg()), help="h")(
        _noop
    )
    assert registry.get("进").usage == "进 <编号> <百分比> [说明]"


def test_several_forms_summarise_into_one_usage_line():
    def forms(name):
        return REGISTRY.get(name).forms

    assert summary_usage("单位", forms("单位")) == "单位 [单位]"
    assert summary_usage("催办", forms("催办")) == "催办 <编号|单位>"
    assert summary_usage("日志", forms("日志")) == "日志 [编号|单位]"
    assert summary_usage("周报", forms("周报")) == "周报 预览|发布"
    assert summary_usage("群组", forms("群组")) == "群组（另有 3 种写法，见“帮助 群组”）"
    assert summary_usage("佐证", forms("佐证")).startswith("佐证 <编号…> [第N项]（另有 佐证 列表")


def test_longest_alias_wins_and_english_needs_a_boundary():
    cmd, rest = REGISTRY.find("我的任务 全部")
    assert (cmd.name, rest) == ("我的任务", "全部")
    cmd, rest = REGISTRY.find("任务T7")
    assert (cmd.name, rest) == ("任务", "T7")
    assert REGISTRY.find("tasksx")[0] is None
    assert REGISTRY.find("TASKS")[0].name == "我的任务"
    assert REGISTRY.find("完成了T7")[0].name == "完成"


def test_every_command_is_declared_with_forms_help_and_known_roles():
    names = [c.name for c in REGISTRY.commands]
    expected = {
        "帮助", "我的任务", "任务", "进度", "完成", "延期", "数据", "佐证", "绑定", "解绑",
        "单位", "期限", "评分", "批准", "驳回", "分配", "催办", "日志", "总览", "逾期",
        "周报", "日历", "自检", "导出", "群组",
    }  # fmt: skip
    assert expected <= set(names)
    for cmd in REGISTRY.commands:
        assert cmd.forms
        for form in cmd.forms:
            assert form.access in ACCESS_LEVELS and form.help
            assert form.usage.startswith(cmd.name)
            assert form.transactional or cmd.name in ("自检", "建群")  # they call WeCom
