"""Reading what people type, deterministically: the command first ("进度 T7 60%"), or the item
first ("T7 完成了", "T7 60% 已报送", "完成了T7"), with Chinese punctuation, greetings and thanks
around it. When the meaning is not clear it asks back with the exact reply to send; it never
guesses a change to data. An unknown command is answered with the closest ones.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from difflib import SequenceMatcher
from typing import TYPE_CHECKING

from bot.actions.evidence import waiting_files
from bot.commands.args import ArgError, ItemArg, code_at, number_at, percent_like
from bot.commands.member import open_items_summary
from bot.commands.registry import (
    Command,
    Context,
    Parsed,
    Refusal,
    Registry,
    echo,
    summary_usage,
)
from bot.commands.review import take_reason
from bot.text import Scan
from models.plan import Item

if TYPE_CHECKING:
    pass

GREETINGS = (
    "你好",
    "您好",
    "你好呀",
    "哈喽",
    "hello",
    "hi",
    "在吗",
    "在么",
    "在不在",
    "早上好",
    "上午好",
    "中午好",
    "下午好",
    "晚上好",
    "早",
    "老师好",
    "领导好",
)
THANKS = (
    "谢谢你",
    "谢谢您",
    "谢谢",
    "多谢",
    "感谢",
    "谢了",
    "辛苦了",
    "辛苦",
    "thanks",
    "thank you",
)
ACKS = ("好的", "好", "收到", "收到了", "嗯", "嗯嗯", "明白", "明白了", "知道了", "ok", "okay")
# Words in front of a request that change nothing about it.
POLITE = ("请问", "麻烦你", "麻烦您", "麻烦", "请帮我", "帮我", "我要", "我想")

_SEP = r"[\s,:;!?。、()\[\]【】~…·.]*"
_PREFIX = re.compile(
    r"^(?:"
    + "|".join(re.escape(w) for w in sorted(GREETINGS + THANKS, key=len, reverse=True))
    + r")"
    + _SEP,
    re.IGNORECASE,
)
_SUFFIX = re.compile(
    _SEP
    + r"(?:"
    + "|".join(re.escape(w) for w in sorted(THANKS, key=len, reverse=True))
    + r")(?:了|啦|哈|呀)?"
    + _SEP
    + "$",
    re.IGNORECASE,
)
_POLITE = re.compile(r"^(?:" + "|".join(POLITE) + r")" + _SEP)
_ONLY_ACK = re.compile(
    r"^(?:" + "|".join(re.escape(w) for w in ACKS) + r")" + _SEP + "$", re.IGNORECASE
)
# Item-first: the words that may follow a code and name what to do with it.
_ITEM_COMMANDS = ("任务", "进度", "完成", "延期", "数据", "佐证", "期限", "评分", "催办", "日志")
# After a Chinese command word, what may come next for the phrase to be read as that command:
# "T7 已完成，材料已报送" is done; "T7 已完成初稿" is not (it is progress, of unknown size).
_CLEAN_AFTER = re.compile(r"^(?:$|[\s,:;!?。、()~…]|[0-9]|了|啦|啊|的)")
# "T7的佐证材料", "这是T7的材料": the files just sent belong to T7.
_EVIDENCE_WORDS = re.compile(
    r"^(?:这是|以上是|下面是|上面是)?(?:[TZ]\d+)?(?:的|之)?(?:佐证材料|佐证|证明材料|材料|附件|文件|照片|图片|截图)"
    r"(?:如下|见上|已发送|已上传|已发|请查收)?$",
    re.IGNORECASE,
)


def dispatch(registry: Registry, ctx: Context, text: str) -> str:
    if ctx.is_admin:  # asked for a reason (退回 on a card): this message may be it
        scan = Scan(text)
        is_command = registry.find_at(scan, scan.skip(0))[0] is not None
        answered = take_reason(ctx, text, is_command)
        if answered is not None:
            return answered
    try:
        parsed = understand(registry, ctx, text)
    except Refusal as refusal:
        return ctx.say("errors.j2", "with_usage", message=refusal.message, usage=refusal.usage)
    except AskBack as question:
        return question.message
    except _Greeting as hello:
        return greeting(ctx, thanks=hello.thanks)
    except _Empty:
        return ctx.say("errors.j2", "empty")
    return registry.run(ctx, parsed)


class _Greeting(Exception):
    def __init__(self, thanks: bool):
        super().__init__("greeting")
        self.thanks = thanks


class _Empty(Exception):
    pass


def runs_in_transaction(registry: Registry, ctx: Context, text: str) -> bool:
    """Whether answering `text` runs inside a transaction (all but 自检, which calls out)."""
    try:
        return understand(registry, ctx, text).form.transactional
    except Exception:  # not a runnable command: refusals and questions are answered inside
        return True


def understand(registry: Registry, ctx: Context, text: str) -> Parsed:
    """What `text` asks for, without doing it: a parsed form, or Refusal / AskBack / a greeting
    (raised)."""
    scan = Scan(text)
    if scan.text.strip() in ("?", "??", "???"):
        scan = Scan("帮助")  # "?" is both a command and punctuation
    trimmed, greeted = _trim(scan)
    if not trimmed.text.strip(" .。!！~"):
        if greeted or _ONLY_ACK.match(scan.text.strip()):
            raise _Greeting(_is_thanks(scan.text))
        raise _Empty()
    if _ONLY_ACK.match(trimmed.text.strip()):
        raise _Greeting(_is_thanks(scan.text))
    return read(registry, ctx, trimmed)


def describe(registry: Registry, ctx: Context, text: str) -> str:
    """A short, stable account of how `text` is read (the phrasing table's tests compare it):
    "进度 T7 60% 已完成初稿", "反问:ask_progress", "问候", "拒绝:…"."""
    try:
        parsed = understand(registry, ctx, text)
    except Refusal as refusal:
        return "拒绝:" + refusal.message
    except AskBack as question:
        return "反问:" + question.kind
    except _Greeting as hello:
        return "致谢" if hello.thanks else "问候"
    except _Empty:
        return "空"
    try:
        values = registry.convert(ctx, parsed)
    except ArgError as exc:
        return "拒绝:" + exc.message
    words = [parsed.form.command]
    for arg in parsed.form.args:
        value = getattr(values, arg.name)
        if value is not None:
            words.append(_shown(value))
    return " ".join(words)


def _shown(value) -> str:
    if hasattr(value, "code"):
        return value.code
    if hasattr(value, "units") and hasattr(value, "group"):  # a UnitMatch
        return value.unit.name if value.unit else value.group.name
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ",".join(_shown(v) for v in value)
    return str(value)


class AskBack(Exception):
    """The meaning is not clear: a question with the exact reply to send."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def _ask(ctx: Context, kind: str, **values) -> AskBack:
    return AskBack(kind, ctx.say("reader.j2", kind, **values))


def _trim(scan: Scan) -> tuple[Scan, bool]:
    """Drop greetings and politeness in front, and thanks at the end."""
    text = scan.text
    start, end, greeted = 0, len(text), False
    while True:
        start = scan.skip(start)
        match = _PREFIX.match(text, start) or _POLITE.match(text, start)
        if not match or match.end() == start:
            break
        greeted = greeted or not _POLITE.match(text, start)
        start = match.end()
    suffix = _SUFFIX.search(text, start)
    if suffix:
        end = suffix.start()
        greeted = True
    return Scan(scan.original_between(start, end)), greeted


def _is_thanks(text: str) -> bool:
    return any(word in text.lower() for word in THANKS)


def read(registry: Registry, ctx: Context, scan: Scan) -> Parsed:
    """What the text asks for, as a parsed form; Refusal or AskBack otherwise."""
    pos = scan.skip(0)
    cmd, end = registry.find_at(scan, pos)
    if cmd is not None:
        after = scan.skip(end)
        if _takes_item(cmd) and percent_like(scan, after):
            raise _ask(ctx, "ask_which_item", said=echo(scan.text[after:].strip()))
        try:
            parsed = registry.parse(ctx, cmd, scan, end)
        except Refusal:
            # "我的任物": the alias "我的" ran into a mistyped word; offer the closest commands.
            if end < len(scan) and _is_cjk(scan.text[end]):
                close = closest_commands(registry, ctx, scan.text[pos:], cutoff=0.6)
                if close:
                    raise _not_understood(registry, ctx, scan, pos) from None
            raise
        _check_done(ctx, parsed)
        return parsed
    code = code_at(scan, pos)
    if code is not None:
        return _item_first(registry, ctx, scan, code[0], code[1])
    outcome = _not_understood(registry, ctx, scan, pos)
    if isinstance(outcome, _Reparse):
        return _reparse(registry, ctx, outcome.command, outcome.code, "")
    raise outcome


class _Reparse(Exception):
    """Read again as "<command> <code>" (a sentence about a code, such as "这是T7的材料")."""

    def __init__(self, command: str, code: str):
        super().__init__(command)
        self.command = command
        self.code = code


def _takes_item(cmd: Command) -> bool:
    return any(form.args and isinstance(form.args[0], ItemArg) for form in cmd.forms)


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _check_done(ctx: Context, parsed: Parsed) -> None:
    """ "完成 T7 80%": 80 % done is progress; never guess which was meant."""
    if parsed.form.command != "完成" or not parsed.raw.get("note"):
        return
    note = Scan(parsed.raw["note"])
    start = note.skip(0)
    if percent_like(note, start):
        raise _ask(
            ctx,
            "done_with_percent",
            code=parsed.raw["item"],
            percent=echo(note.word(start)[0]),
        )


def _reparse(registry: Registry, ctx: Context, name: str, code: str, rest: str) -> Parsed:
    """Read "<name> <code> <rest>" as if typed in that order (the rest keeps its punctuation)."""
    text = Scan(f"{name} {code} {rest}".strip())
    cmd, end = registry.find_at(text, 0)
    assert cmd is not None, name  # `name` is a command's own name
    parsed = registry.parse(ctx, cmd, text, end)
    _check_done(ctx, parsed)
    return parsed


def _item_first(registry: Registry, ctx: Context, scan: Scan, code: str, end: int) -> Parsed:
    after = scan.skip(end)
    rest_text = scan.original_between(after)
    if after >= len(scan):
        if ctx.may("unit") and _has_waiting_files(ctx):
            return _reparse(registry, ctx, "佐证", code, "")  # files first, then "T7"
        return _reparse(registry, ctx, "任务", code, "")
    if _EVIDENCE_WORDS.match("".join(scan.text[after:].split()).rstrip("。.!！")):
        return _reparse(registry, ctx, "佐证", code, "")
    other = code_at(scan, after)
    if other is not None:
        raise _ask(ctx, "one_at_a_time", codes=[code, other[0]])
    cmd, cmd_end = registry.find_at(scan, after)
    if cmd is not None and cmd.name in _ITEM_COMMANDS:
        following = scan.text[cmd_end:]
        if cmd.name == "完成" and percent_like(scan, scan.skip(cmd_end)):
            # "T7 完成80%": 80 % of it is done, which is progress.
            return _reparse(registry, ctx, "进度", code, scan.original_between(scan.skip(cmd_end)))
        word = scan.text[after:cmd_end]
        if not word.isascii() and not _CLEAN_AFTER.match(following):
            if cmd.name == "完成":
                raise _ask(ctx, "ask_done", code=code, said=echo(rest_text))
            raise _ask(ctx, "ask_about", code=code, said=echo(rest_text))
        return _reparse(registry, ctx, cmd.name, code, scan.original_between(cmd_end))
    if percent_like(scan, after):
        return _reparse(registry, ctx, "进度", code, rest_text)
    number = number_at(scan, after)
    if number is not None:
        if _quantitative(code) and ctx.may("unit"):
            figures = " ".join(scan.text[after:].split())
            raise _ask(ctx, "ask_data", code=code, figures=echo(figures))
        raise _ask(ctx, "ask_progress", code=code, number=echo(number))
    raise _ask(ctx, "ask_about", code=code, said=echo(rest_text))


def _has_waiting_files(ctx: Context) -> bool:
    return bool(waiting_files(ctx, timedelta(minutes=max(ctx.config.evidence_attach_minutes, 5))))


def _quantitative(code: str) -> bool:
    item = Item.get_or_none(Item.code == code)
    return item is not None and item.is_quantitative


def _not_understood(registry: Registry, ctx: Context, scan: Scan, pos: int) -> Exception:
    """An unknown first word: the closest commands this person may use, or what to do with a
    code named further on."""
    word = scan.word(pos)[0] or scan.text[pos : pos + 8]
    mentioned = None
    for index in range(pos, len(scan)):
        found = code_at(scan, index)
        before = scan.text[index - 1] if index else ""
        if found is not None and not (before.isascii() and before.isalnum()):
            mentioned = found[0]
            break
    compact = "".join(scan.text[pos:].split()).rstrip("。.!！")
    if mentioned and ctx.may("unit") and _EVIDENCE_WORDS.match(compact):
        return _Reparse("佐证", mentioned)
    if mentioned is None and percent_like(scan, scan.skip(pos)):
        return _ask(ctx, "ask_which_item", said=echo(scan.text.strip()))
    close = closest_commands(registry, ctx, scan.text[pos:])
    return _ask(
        ctx,
        "unknown_command",
        word=echo(word),
        suggestions=[summary_usage(c.name, c.visible_forms(ctx)) for c in close],
        code=mentioned or "",
        may_report=ctx.may("unit"),
    )


def closest_commands(
    registry: Registry, ctx: Context, text: str, limit: int = 3, cutoff: float = 0.5
) -> list[Command]:
    """Commands whose name or alias is closest to the start of `text` (did-you-mean)."""
    lowered = text.lower()
    scores: dict[str, tuple[float, Command]] = {}
    for alias, cmd in registry.aliases.items():
        if len(alias) < 2 or not cmd.visible_forms(ctx):
            continue
        head = lowered[: len(alias)]
        ratio = SequenceMatcher(None, head, alias).ratio()
        if alias.isascii() != head.isascii():
            ratio *= 0.5
        if ratio >= cutoff and ratio > scores.get(cmd.name, (0.0, cmd))[0]:
            scores[cmd.name] = (ratio, cmd)
    ranked = sorted(scores.values(), key=lambda pair: (-pair[0], pair[1].position))
    return [cmd for _, cmd in ranked[:limit]]


def greeting(ctx: Context, *, thanks: bool) -> str:
    """A polite answer with the person's open items and how to report."""
    summary = open_items_summary(ctx) if ctx.may("unit") and ctx.member else None
    return ctx.renderer.render(
        "greeting.j2",
        thanks=thanks,
        who=ctx.member.label if ctx.member else "",
        role=ctx.role,
        summary=summary,
    )


__all__ = ["AskBack", "closest_commands", "describe", "dispatch", "greeting", "read", "understand"]
