"""The command line's parser in Chinese: argparse's own words (usage, section titles, -h, its
error messages) are English; this parser says them in Chinese. The commands themselves are
declared in `bot/runtime/cli.py`."""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from datetime import datetime

_ERRORS = (
    (re.compile(r"the following arguments are required: (.+)"), "缺少参数：{0}"),
    (re.compile(r"unrecognized arguments: (.+)"), "无法识别的参数：{0}"),
    (re.compile(r"invalid choice: (.+?) \(choose from (.+)\)"), "没有 {0} 这一项（可选：{1}）"),
    (re.compile(r"expected one argument"), "后面需要一个值"),
    (re.compile(r"expected at least one argument"), "后面至少需要一个值"),
    (re.compile(r"expected at most one argument"), "后面最多只能有一个值"),
    (re.compile(r"one of the arguments (.+) is required"), "{0} 必须选一个"),
    (re.compile(r"invalid (?:int|float) value: (.+)"), "{0} 不是数字"),
    (re.compile(r"invalid \S+ value: (.+)"), "{0} 格式不对"),
    (re.compile(r"ambiguous option: (\S+) could match (.+)"), "选项 {0} 不明确，可能是：{1}"),
    (re.compile(r"ignored explicit argument (.+)"), "不需要值：{0}"),
    (re.compile(r"not allowed with argument (.+)"), "不能与 {0} 同时使用"),
)
_ARGUMENT = re.compile(r"argument (\S+?): (.+)", re.DOTALL)


def translate_error(message: str) -> str:
    """argparse's English error message in Chinese (left as it is when not recognised)."""
    match = _ARGUMENT.fullmatch(message)
    if match:
        return f"参数 {match.group(1)}：{translate_error(match.group(2))}"
    for pattern, chinese in _ERRORS:
        match = pattern.fullmatch(message)
        if match:
            return chinese.format(*match.groups())
    return message


def display_width(text: str) -> int:
    """Columns on a terminal: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


class ChineseHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of descriptions and epilogs; says 用法 instead of usage; keeps the
    help column straight when an argument's name holds Chinese (argparse pads by len())."""

    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)

    def add_argument(self, action):
        super().add_argument(action)
        if action.help is not argparse.SUPPRESS:
            width = display_width(self._format_action_invocation(action)) + self._current_indent
            self._action_max_length = max(self._action_max_length, width)

    def _format_action(self, action):
        text = super()._format_action(action)
        header = self._format_action_invocation(action)
        extra = display_width(header) - len(header)
        start = text.find(header)
        if extra and start >= 0:
            end = start + len(header)
            padding = len(text) - end - len(text[end:].lstrip(" "))
            if padding - extra >= 2 and text[end + padding] != "\n":
                text = text[:end] + " " * (padding - extra) + text[end + padding :]
        return text


class ChineseArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose help and errors are Chinese; subcommands use it too."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", ChineseHelpFormatter)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._positionals.title = "位置参数"
        self._optionals.title = "选项"
        self.add_argument("-h", "--help", action="help", help="显示本帮助并退出")

    def format_help(self) -> str:
        # argparse ends each section title with an ASCII colon.
        text = super().format_help()
        return re.sub(r"^(\S[^\n]*?):$", r"\1：", text, flags=re.MULTILINE)

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}：错误：{translate_error(message)}\n")


def moment(text: str) -> datetime:
    """An --at value: 2026-10-09T09:00 or 2026-10-09 09:00, with or without a UTC offset."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} 不是时间，请写成 2026-10-09T09:00（也可以写 2026-10-09 09:00）"
        ) from None
