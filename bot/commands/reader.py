"""Reading what people type. A command written in full ("进度 T7 60% 初稿") is parsed as it
is; anything else is read whole (bot/commands/slots.py: codes, percents, dates, counts, the
words that say what is meant, negations) and turned into a command in the bot's own grammar
(bot/commands/intents.py), which the registry parses like a typed one. A message of several
lines (a weekly report) is read line by line.

Sure readings act at once and the reply says exactly what was recorded. An unsure one is asked
as one yes/no question that states the command (a card with 是 / 不是 where WeCom shows
cards); 是, 对, 确认, 好 or the button carries it out, anything else drops it. Nothing is
changed on a guess. What cannot be read gets a question about what is missing, or the
commands this person may use that fit the words.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from difflib import SequenceMatcher
from typing import Protocol

from bot.actions import questions
from bot.actions.evidence import waiting_files
from bot.actions.greetings import first_entry_today
from bot.cards import CONFIRM_BUTTONS, task_id_for
from bot.commands import holidays, intents, slots
from bot.commands.args import ArgError, UnitArg, code_at
from bot.commands.intents import Proposal
from bot.commands.member import open_items_summary
from bot.commands.registry import (
    Command,
    Context,
    Parsed,
    Refusal,
    Registry,
    Reply,
    echo,
    summary_usage,
)
from bot.commands.review import take_reason
from bot.text import Scan
from models.db import database
from reminders.state import unsigned_codes

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
    "各位领导好",
    "各位领导",
    "各位好",
    "大家好",
    "领导们好",
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
    "谢谢提醒",
    "感谢提醒",
    "多谢提醒",
    "谢谢通知",
    "谢谢提示",
)
ACKS = ("好的", "好", "收到", "收到了", "嗯", "嗯嗯", "明白", "明白了", "知道了", "ok", "okay")
# Words in front of a request that change nothing about it.
POLITE = (
    "请问", "麻烦你", "麻烦您", "麻烦", "请帮我", "帮我", "我要", "我想",
    "给我看看", "给我看一下", "帮我看看", "看一下", "看看", "查一下", "查看一下", "我看看",
)  # fmt: skip

_SEP = r"[\s,:;!?。、()\[\]【】~…·.\u2600-\u27bf\U0001f000-\U0001faff\ufe0f]*"
_PREFIX = re.compile(  # used with .match(text, pos): no ^, which would hold at 0 only
    r"(?:"
    + "|".join(re.escape(w) for w in sorted(GREETINGS + THANKS, key=len, reverse=True))
    + r")(?:呀|啊|哈|哦|啦|呢)*"
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
_POLITE = re.compile(r"(?:" + "|".join(POLITE) + r")" + _SEP)  # .match(text, pos): no ^
_ACK_WORD = r"(?:" + "|".join(re.escape(w) for w in sorted(ACKS, key=len, reverse=True)) + r")"
# What people add to a 收到: "马上办", "尽快落实", "我们抓紧".
_ACK_PROMISE = (
    r"(?:我们|我|这边|我这边)?(?:会|就)?(?:马上|尽快|抓紧|立即|立刻|随后|稍后|这就|及时|认真)"
    r"(?:去)?(?:办理|办|落实|处理|安排|上报|报送|报|整改|推进|弄|做|对接)?(?:好)?"
)
_ONLY_ACK = re.compile(
    r"^"
    + _ACK_WORD
    + r"(?:"
    + _SEP
    + _ACK_WORD
    + r")*(?:"
    + _SEP
    + _ACK_PROMISE
    + r")?"
    + _SEP
    + "$",
    re.IGNORECASE,
)
# "T7的佐证材料", "这是T7的材料": the files just sent belong to T7.
_EVIDENCE_WORDS = re.compile(
    r"^(?:这是|这个是|以上是|下面是|上面是|刚才的?|刚发的)?(?:[TZJ]\d+(?:[、,，和与及/]|都是)*)*(?:的|之)?"
    r"(?:佐证材料|佐证|证明材料|材料|附件|文件|照片|图片|截图)?(?:如下|见上|已发送|已上传|已发|请查收)?$",
    re.IGNORECASE,
)
CONFIRM_TTL = timedelta(minutes=30)


@dataclass
class Outcome:
    """How a message is read, before anything is done."""

    kind: str  # run | confirm | ask | batch | greeting | thanks | ack | empty | refuse
    parsed: Parsed | None = None
    commands: list[str] = field(default_factory=list)
    ask: str = ""
    values: dict = field(default_factory=dict)
    lines: list[tuple[str, Proposal]] = field(default_factory=list)
    message: str = ""


# ------------------------------------------------------------------ answering


class SecondOpinion(Protocol):
    """A second reader (bot/second_reader.py): one command in the bot's grammar, or None."""

    def propose(self, text: str, *, today: str, who: str, commands: list[str]) -> str | None: ...


def dispatch(
    registry: Registry, ctx: Context, text: str, second: SecondOpinion | None = None
) -> str:
    """The answer to a message. With `second` (only ever outside a transaction), a message the
    rules did not understand is shown to the second reader, whose command is always asked."""
    question = questions.take(ctx)
    if question is not None:
        if "return" in question:  # asked for a reason (退回 on a card): this message may be it
            scan = Scan(text)
            is_command = registry.find_at(scan, scan.skip(0))[0] is not None
            answered = take_reason(ctx, text, question, is_command)
            if answered is not None:
                return answered
        elif "confirm" in question or "notice" in question:
            if intents.is_yes(text):
                if "notice" in question:
                    return holidays.confirm_notice(ctx, question)
                return run_commands(registry, ctx, question["confirm"])
            if intents.is_no(text):
                return ctx.say("reader.j2", "dropped")
    if holidays.is_notice(text):  # the State Council's holiday notice, pasted whole
        return holidays.notice_reply(ctx, text)
    outcome = understand(registry, ctx, text)
    if second is not None and not_understood(outcome):
        outcome = second_opinion(registry, ctx, text, second) or outcome
    return answer(registry, ctx, outcome)


def not_understood(outcome: Outcome) -> bool:
    """The rules found no command and no question of their own: only a menu or "没有这个命令"."""
    return outcome.kind == "ask" and outcome.ask in ("unknown", "about")


def wants_second_opinion(registry: Registry, ctx: Context, text: str) -> bool:
    """Whether a message would be shown to a second reader: no question waits for its answer
    and the rules do not understand it. Read before the transaction that answers it."""
    if questions.waiting(ctx):
        return False
    try:
        return not_understood(understand(registry, ctx, text))
    except Exception:  # answered inside the transaction, as always
        return False


def second_opinion(
    registry: Registry, ctx: Context, text: str, second: SecondOpinion
) -> Outcome | None:
    """The second reader's command, parsed like a typed one, to be confirmed; None when it had
    none, or one this person may not use, or one that does not parse."""
    forms = [f for cmd in registry.visible_to(ctx) for f in cmd.visible_forms(ctx)]
    usages = list(dict.fromkeys(f"{f.usage} —— {f.help}" for f in forms))
    unit = ctx.member.unit.name if ctx.member is not None and ctx.member.unit else ""
    who = f"{ctx.name}（{ROLE_WORDS.get(ctx.role, ctx.role)}{'，' + unit if unit else ''}）"
    line = second.propose(text, today=ctx.today.isoformat(), who=who, commands=usages)
    if line is None:
        return None
    parsed = _parse(registry, ctx, line)
    if isinstance(parsed, str) or not parsed.form.transactional:
        return None
    if not _would_run(registry, ctx, parsed):  # "进度 T1 60%" for another unit's item: not offered
        return None
    return Outcome("confirm", commands=[_canonical(registry, ctx, parsed)])


class _Undo(Exception):
    pass


def _would_run(registry: Registry, ctx: Context, parsed: Parsed) -> bool:
    """Whether a command would be carried out, not refused: run, then rolled back whole."""
    try:
        with database.atomic():
            done, _ = registry.try_run(ctx, parsed)
            raise _Undo(done)
    except _Undo as undone:
        return bool(undone.args[0])


ROLE_WORDS = {"admin": "办公室管理员", "leader": "领导", "head": "单位负责人", "liaison": "联络员"}


def answer(registry: Registry, ctx: Context, outcome: Outcome) -> str:
    if outcome.kind == "run":
        assert outcome.parsed is not None
        return registry.run(ctx, outcome.parsed)
    if outcome.kind == "confirm":
        return _confirm(ctx, outcome.commands, registry)
    if outcome.kind == "batch":
        return _batch(registry, ctx, outcome.lines)
    if outcome.kind == "refuse":
        return outcome.message
    if outcome.kind in ("greeting", "thanks"):
        return greeting(ctx, thanks=outcome.kind == "thanks")
    if outcome.kind == "empty":
        return ctx.say("errors.j2", "empty")
    if outcome.kind == "ack":
        return _ack(ctx)
    return _ask(registry, ctx, outcome.ask, outcome.values)


def _ack(ctx: Context) -> str:
    """ "收到" (after a reminder, say): a short word back, with the 交办 still to sign or the
    nearest item to report on."""
    summary = open_items_summary(ctx) if ctx.may("unit") else None
    nearest = summary["nearest"][0]["a"].item.code if summary and summary["nearest"] else ""
    unit_id = ctx.member.unit_id if summary and ctx.member else None
    unsigned = unsigned_codes(unit_id) if unit_id is not None else []
    return ctx.say("reader.j2", "ack", name=ctx.name, code=nearest, unsigned=unsigned)


def run_commands(registry: Registry, ctx: Context, commands: list[str]) -> str:
    """Carry out commands written in the bot's grammar (confirmed, or a weekly report's lines);
    each in its own savepoint. The answer lists what was done and what was refused."""
    replies = []
    for command in commands:
        parsed = _parse(registry, ctx, command)
        if isinstance(parsed, str):
            replies.append(parsed)
            continue
        replies.append(registry.run(ctx, parsed))
    return "\n".join(replies)


def _confirm(ctx: Context, commands: list[str], registry: Registry) -> str:
    token = secrets.token_hex(4)
    questions.ask(ctx, {"confirm": commands, "token": token}, CONFIRM_TTL)
    phrases = [phrase(registry, ctx, c) for c in commands]
    text = ctx.say("reader.j2", "confirm", phrases=phrases, commands=commands)
    card = {
        "kind": "confirm",
        "title": "请确认" if len(commands) == 1 else f"请确认 {len(commands)} 项",
        "description": phrases[0][:30],
        "rows": [
            (c.split(" ")[1] if " " in c else c, p[:26])
            for c, p in zip(commands, phrases, strict=True)
        ][:6],
        "task_id": task_id_for("confirm", ctx.cause, token),
        "buttons": CONFIRM_BUTTONS,
        "subject": f"q{token}",
    }
    return Reply(text, card=card)


def on_card(registry: Registry, ctx: Context, key: str, subject: str) -> str | None:
    """是 / 不是 on a question's card: carries out the question still waiting, if it is the
    one this card asked (a newer question has replaced an older card's)."""
    question = questions.take(ctx)
    if question is None or f"q{question.get('token')}" != subject:
        return ctx.say("reader.j2", "stale")
    if "confirm" not in question and "notice" not in question:
        return ctx.say("reader.j2", "stale")
    if key == "yes":
        if "notice" in question:
            return holidays.confirm_notice(ctx, question)
        return run_commands(registry, ctx, question["confirm"])
    return ctx.say("reader.j2", "dropped")


def _batch(registry: Registry, ctx: Context, lines: list[tuple[str, Proposal]]) -> str:
    """A report of several lines: each sure line recorded, the unsure ones asked together, and
    what was not understood listed."""
    done, refused, unsure, unclear = [], [], [], []
    for line, proposal in lines:
        if proposal.command.startswith("任务 "):  # a look at an item is no report
            unclear.append(line)
            continue
        if proposal.ask == "refused":
            refused.append((line, proposal.values["message"]))
            continue
        if not proposal.commands and proposal.ask not in ("", "unknown", "about", "unclear"):
            refused.append((line, _ask(registry, ctx, proposal.ask, proposal.values)))
            continue
        if proposal.sure and proposal.commands:
            for command in proposal.commands:
                parsed = _parse(registry, ctx, command)
                if isinstance(parsed, str):
                    refused.append((line, parsed))
                    continue
                ok, reply = registry.try_run(ctx, parsed)
                if ok:
                    done.append(phrase(registry, ctx, command))
                else:
                    refused.append((line, reply))
        elif proposal.commands:
            unsure.extend(proposal.commands)
        else:
            unclear.append(line)
    text = ctx.say("reader.j2", "batch", done=done, refused=refused, unclear=unclear)
    if unsure:
        question = _confirm(ctx, unsure, registry)
        return Reply(f"{text}\n{question}", card=getattr(question, "card", None))
    return text


def _parse(registry: Registry, ctx: Context, command: str) -> Parsed | str:
    """A command in the bot's own grammar, parsed; or the refusal, as its reply."""
    scan = Scan(command)
    cmd, end = registry.find_at(scan, 0)
    if cmd is None:
        return ctx.say("errors.j2", "with_usage", message=f"看不懂“{echo(command)}”。", usage="")
    try:
        return registry.parse(ctx, cmd, scan, end)
    except Refusal as refusal:
        return ctx.say("errors.j2", "with_usage", message=refusal.message, usage=refusal.usage)


def phrase(registry: Registry, ctx: Context, command: str) -> str:
    """A command as a person would say it: "报告 T7 进度 60%（说明：初稿）"."""
    parsed = _parse(registry, ctx, command)
    if isinstance(parsed, str):
        return command
    raw = parsed.raw
    name = parsed.form.command
    note = raw.get("note") or ""
    extra = f"（说明：{note}）" if note else ""
    code = raw.get("item") or ""
    if name == "进度":
        return f"报告 {code} 进度 {_percent_text(raw.get('percent'))}{extra}"
    if name == "完成":
        return f"报告 {code} 已全部完成{extra}"
    if name == "更正":
        return f"把 {code} 的进度更正为 {_percent_text(raw.get('percent'))}{extra}"
    if name == "延期":
        return f"申请 {code} 延期到 {raw.get('date')}（原因：{raw.get('reason') or ''}）"
    if name == "数据":
        figures = "、".join(str(f) for f in raw.get("figures") or [])
        return f"上报 {code} 的数据：{figures}"
    if name == "签收":
        return f"签收 {code}"
    if name == "佐证":
        return f"把刚发的文件归到 {code}"
    return command


def _percent_text(raw) -> str:
    text = str(raw or "")
    return text if text.endswith("%") else f"{text}%"


def _ask(registry: Registry, ctx: Context, kind: str, values: dict) -> str:
    if kind == "unknown":
        return _unknown(registry, ctx, values.get("word", ""), values)
    if kind == "ack":
        return _ack(ctx)
    return ctx.say("reader.j2", kind, **values)


# ------------------------------------------------------------------ reading


def runs_in_transaction(registry: Registry, ctx: Context, text: str) -> bool:
    """Whether answering `text` runs inside a transaction (all but 自检, which calls out)."""
    try:
        outcome = understand(registry, ctx, text)
    except Exception:  # answered inside: refusals and questions
        return True
    return outcome.parsed.form.transactional if outcome.parsed is not None else True


def understand(registry: Registry, ctx: Context, text: str) -> Outcome:
    """How `text` is read, without doing anything."""
    lines = [part for line in slots.lines_of(text) for part in _items(registry, ctx, line)]
    if len(lines) > 1:
        readings = [(line, read_line(registry, ctx, line)) for line in lines]
        meant = [(line, p) for line, p in readings if p.commands or p.ask not in ("", "skip")]
        if len(meant) >= 2 and any(p.commands for _, p in meant):
            return Outcome("batch", lines=meant)
        if "\n" in text or "\r" in text:
            text = " ".join(re.split(r"[\r\n]+", text))
    scan = Scan(text)
    if scan.text.strip() in ("?", "??", "???"):
        scan = Scan("帮助")  # "?" is both a command and punctuation
    trimmed, greeted = _trim(scan)
    if not trimmed.text.strip(" .。!！~"):
        if _is_thanks(scan.text):
            return Outcome("thanks")
        if _ONLY_ACK.match(scan.text.strip()):
            return Outcome("ack")  # "收到" (after a reminder, say): a short word back
        return Outcome("greeting") if greeted else Outcome("empty")
    if _ONLY_ACK.match(trimmed.text.strip()):  # "收到，谢谢提醒": the 收到 is answered
        received = re.match(r"(收到|知道了|明白)", trimmed.text.strip())
        return Outcome("thanks" if _is_thanks(scan.text) and not received else "ack")
    return _read_one(registry, ctx, trimmed)


def _items(registry: Registry, ctx: Context, line: str) -> list[str]:
    """A line cut into one part per item it reports on; a command written in full whose own
    grammar takes several codes ("分配", "交办 … 报送T7、T8材料") stays whole."""
    parts = slots.items_of(line, ctx.today)
    if len(parts) < 2:
        return parts
    scan = Scan(line)
    cmd, end = registry.find_at(scan, scan.skip(0))
    if cmd is not None:
        try:
            registry.parse(ctx, cmd, scan, end)
            return [line]
        except Refusal:
            pass
    return parts


def read_line(registry: Registry, ctx: Context, line: str) -> Proposal:
    """One line of a report: a proposal (sure or not), or what to ask; "skip" for a heading."""
    outcome = _read_one(registry, ctx, _trim(Scan(line))[0])
    if outcome.kind == "run":
        return Proposal([_canonical(registry, ctx, outcome.parsed)], sure=True)
    if outcome.kind == "confirm":
        return Proposal(outcome.commands, sure=False)
    found = slots.read(line, ctx.today)
    if not (found.codes or found.percents or found.dates):
        return Proposal(ask="skip")
    if outcome.kind == "refuse":
        return Proposal(ask="refused", values={"message": outcome.message})
    return Proposal(ask=outcome.ask or "unclear", values=outcome.values)


def _canonical(registry: Registry, ctx: Context, parsed: Parsed | None) -> str:
    assert parsed is not None
    return describe_parsed(registry, ctx, parsed, typed=True)


def _read_one(registry: Registry, ctx: Context, scan: Scan) -> Outcome:
    pos = scan.skip(0)
    cmd, end = registry.find_at(scan, pos)
    if cmd is not None and scan.text.startswith("一下", scan.skip(end)):
        end = scan.skip(end) + len("一下")  # "绑定一下：liuyang 农业局", "催办一下 T7"
    if cmd is not None:
        try:
            parsed = registry.parse(ctx, cmd, scan, end)
            if _unit_with_code(parsed):  # "催办一下工信局T18": no unit of that name
                try:
                    registry.convert(ctx, parsed)
                except ArgError as exc:
                    raise Refusal(exc.message, parsed.form.usage) from None
        except Refusal as refusal:
            return _refused(registry, ctx, scan, pos, cmd, end, refusal)
        # A command written in full is read whole only when its own words may take it back.
        if parsed.form.command == "完成":
            found = slots.read(scan.original_between(pos), ctx.today)
            if _contradicts(found):
                return _from_slots(registry, ctx, found)
        return Outcome("run", parsed=parsed)
    found = slots.read(scan.original_between(pos), ctx.today)
    leading = _LEADING_WORD.match(found.text)
    said = any(found.intents.values()) or found.percents or found.dates
    if leading and not said:
        word = leading.group(1)
        close = closest_commands(registry, ctx, word, cutoff=0.5)
        # "评份 Z1 2": a command mistyped ("近度 T7 50%" is read as the report it plainly is)
        if close and not intents.typo_of_command(word):
            return Outcome("ask", ask="unknown", values={"word": found.text})
    if found.codes and _files_waiting_and_named(ctx, found):
        codes = dict.fromkeys(c.value.split("-")[0] for c in found.codes)
        return _outcome(registry, ctx, Proposal([f"佐证 {' '.join(codes)}"], sure=True))
    return _from_slots(registry, ctx, found)


_CODE_INSIDE = re.compile(r"[TZJtzj]\s?[0-9]")


def _unit_with_code(parsed: Parsed) -> bool:
    """A unit argument that holds an item code: the sentence was not written in the grammar."""
    return any(
        isinstance(arg, UnitArg) and _CODE_INSIDE.search(str(parsed.raw.get(arg.name) or ""))
        for arg in parsed.form.args
    )


def _refused(
    registry: Registry,
    ctx: Context,
    scan: Scan,
    pos: int,
    cmd: Command,
    end: int,
    refusal: Refusal,
) -> Outcome:
    """A message that starts with a command word but is not written in its grammar."""
    found = slots.read(scan.original_between(pos), ctx.today)
    if refusal.forbidden:  # written right, not theirs to use: say so
        message = ctx.say("errors.j2", "with_usage", message=refusal.message, usage="")
        if refusal.fits:
            return Outcome("refuse", message=message)
        # "交办的那个事收到了": not the command at all; read whole, or say it is not theirs
        outcome = _from_slots(registry, ctx, found)
        if outcome.kind == "ask" and outcome.ask in ("unknown", "about", "ack"):
            return Outcome("refuse", message=message)
        return outcome
    grammar = ctx.say("errors.j2", "with_usage", message=refusal.message, usage=refusal.usage)
    if registry.names_a_form(ctx, cmd, scan, end):  # "佐证 改归 abc T7"
        return Outcome("refuse", message=grammar)
    # Read the whole message instead; when that finds nothing but another look at the item,
    # the grammar's refusal says more.
    outcome = _from_slots(registry, ctx, found, fallback=refusal)
    viewing = outcome.parsed is not None and outcome.parsed.form.command == "任务"
    if outcome.kind in ("confirm", "batch") or (outcome.kind == "run" and not viewing):
        return outcome
    # "我的任物": the alias "我的" ran into a mistyped word; offer the closest commands.
    typo = end < len(scan) and _is_cjk(scan.text[end]) and not found.codes
    if typo and closest_commands(registry, ctx, scan.text[pos:], cutoff=0.6):
        return Outcome("ask", ask="unknown", values={"word": scan.text[pos:]})
    if viewing and cmd.name != "任务":
        return Outcome("refuse", message=grammar)
    return outcome


# A word of two or three characters before a code: perhaps a command mistyped.
_LEADING_WORD = re.compile(r"^([\u4e00-\u9fff]{2,3})\s*(?=[TZJtzj]\s?[0-9])")


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _contradicts(found: slots.Slots) -> bool:
    """完成 written in full that its own words take back: with 还没 or a percent."""
    return found.negated or bool(found.percents)


def _files_waiting_and_named(ctx: Context, found: slots.Slots) -> bool:
    """ "T7" or "这个是T18的" right after files were sent: they are T18's evidence. Also
    "这个是T7的" or "刚发的图片归到T11" with no file waiting: `佐证` says there is none."""
    compact = "".join(found.text.split()).rstrip("。.!！")
    said = _EVIDENCE_WORDS.match(compact) or _EVIDENCE_TO.match(compact)
    if not said or not found.codes or not ctx.may("unit"):
        return False
    if waiting_files(ctx, timedelta(minutes=max(ctx.config.evidence_attach_minutes, 5))):
        return True
    return not _CODES_ONLY.fullmatch(compact)  # "T7" alone with nothing waiting: the item


_EVIDENCE_TO = re.compile(
    r"^(?:刚发的|刚才发的|刚才的|刚刚发的|这个|这些|这张|这份|上面的|以上)?"
    r"(?:图片|文件|照片|材料|附件|截图|东西)?(?:归到|放到|算到|归入|放进|放在|算在|是)"
    r"(?:[TZJ]\d+(?:[、,，和与及/])*)+(?:的|里|下|名下|里面)?(?:佐证|材料)?$",
    re.IGNORECASE,
)
_CODES_ONLY = re.compile(r"(?:[TZJ]\d+[、,，和与及/]*)+", re.IGNORECASE)


# Questions that say more than the grammar's refusal of a message that named a command.
_BETTER_THAN_GRAMMAR = (
    "two_percents",
    "not_done",
    "extension_reason",
    "ask_which_item",
    "which_sign",
    "nothing_to_sign",
)
_CODE_LIKE = re.compile(r"(?<![A-Za-z])[A-Za-z]{1,2}\s?[0-9]{1,3}(?![0-9])")


def _from_slots(
    registry: Registry, ctx: Context, found: slots.Slots, fallback: Refusal | None = None
) -> Outcome:
    proposal = intents.propose(ctx, found)
    outcome = _outcome(registry, ctx, proposal)
    better = outcome.ask in _BETTER_THAN_GRAMMAR
    if outcome.ask == "ask_which_item" and _CODE_LIKE.search(found.text):
        better = False  # "进度 X7 50%": the grammar says X7 is no code
    if fallback is not None and outcome.kind == "ask" and not better:
        message = ctx.say("errors.j2", "with_usage", message=fallback.message, usage=fallback.usage)
        return Outcome("refuse", message=message)
    return outcome


def _outcome(registry: Registry, ctx: Context, proposal: Proposal) -> Outcome:
    if not proposal.commands:
        return Outcome("ask", ask=proposal.ask or "unknown", values=proposal.values)
    if proposal.sure and len(proposal.commands) == 1:
        parsed = _parse(registry, ctx, proposal.command)
        if isinstance(parsed, str):
            return Outcome("refuse", message=parsed)
        return Outcome("run", parsed=parsed)
    if proposal.sure:  # "T7和T11都完成了": each recorded, the answer lists them
        return Outcome("batch", lines=[(c, Proposal([c], sure=True)) for c in proposal.commands])
    # Unsure: ask about the commands this person may run; a refusal is said at once.
    for command in proposal.commands:
        parsed = _parse(registry, ctx, command)
        if isinstance(parsed, str):
            return Outcome("refuse", message=parsed)
    return Outcome("confirm", commands=proposal.commands)


# ------------------------------------------------------------------ the tests' account


def describe(registry: Registry, ctx: Context, text: str) -> str:
    """A short, stable account of how `text` is read (the phrasing tables compare it):
    "进度 T7 60 已完成初稿" (done at once), "确认:进度 T7 60" (asked as yes/no),
    "多条:进度 T3 70|进度 T18 40" (a report of several lines), "反问:ask_progress" (a question
    about what is missing), "问候"/"致谢"/"收到", "拒绝:…"."""
    outcome = understand(registry, ctx, text)
    if outcome.kind == "run":
        assert outcome.parsed is not None
        return describe_parsed(registry, ctx, outcome.parsed)
    if outcome.kind == "confirm":
        return "确认:" + "|".join(_described(registry, ctx, c) for c in outcome.commands)
    if outcome.kind == "batch":
        parts = []
        for _, p in outcome.lines:
            if p.commands:
                mark = "" if p.sure else "?"
                parts += [mark + _described(registry, ctx, c) for c in p.commands]
            else:
                parts.append("未懂")
        return "多条:" + "|".join(parts)
    if outcome.kind == "refuse":
        return "拒绝:" + outcome.message
    if outcome.kind in ("greeting", "thanks"):
        return "致谢" if outcome.kind == "thanks" else "问候"
    if outcome.kind == "empty":
        return "空"
    if outcome.kind == "ack":
        return "收到"
    return "反问:" + (outcome.ask if outcome.ask != "unknown" else "unknown_command")


def _described(registry: Registry, ctx: Context, command: str) -> str:
    parsed = _parse(registry, ctx, command)
    return command if isinstance(parsed, str) else describe_parsed(registry, ctx, parsed)


def describe_parsed(registry: Registry, ctx: Context, parsed: Parsed, typed: bool = False) -> str:
    """The parsed command and its values; `typed`: in the grammar (to be parsed again)."""
    if typed:
        words = [parsed.form.command] + [
            str(parsed.raw[a.name]) for a in parsed.form.args if parsed.raw.get(a.name) is not None
        ]
        return " ".join(words)
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


# ------------------------------------------------------------------ around a request


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


def _unknown(registry: Registry, ctx: Context, word: str, values: dict) -> str:
    """Nothing understood: the commands this person may use that fit the words, with the
    numbers and dates they wrote filled in."""
    scan = Scan(word)
    code = code_at(scan, 0)
    close = closest_commands(registry, ctx, word)
    return ctx.say(
        "reader.j2",
        "unknown_command",
        word=echo(word),
        suggestions=[summary_usage(c.name, c.visible_forms(ctx)) for c in close],
        code=code[0] if code else "",
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


def entered(ctx: Context) -> str | None:
    """Someone opened the app (enter_agent): a short greeting the first time today, else
    nothing. WeCom sends the event on every entry; the full help waits until it is asked for."""
    if not first_entry_today(ctx):
        return None
    summary = open_items_summary(ctx) if ctx.may("unit") and ctx.member else None
    return ctx.renderer.render(
        "entered.j2", who=ctx.member.label if ctx.member else "", summary=summary
    )


__all__ = ["closest_commands", "describe", "dispatch", "entered", "greeting", "understand"]
