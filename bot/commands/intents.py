"""What a message asks for, from its parts (bot/commands/slots.py) and who sends it: a command
in the bot's own grammar ("进度 T7 60% 初稿已完成") that the registry then parses like a typed
one, and whether the bot is sure of it. When it is not sure it proposes the command as a yes/no
question; when it cannot even propose one, it asks what it needs. A change is never made on a
guess: only a sure reading acts at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher
from typing import Any

from bot.commands.registry import Context
from bot.commands.slots import Found, Slots
from models.org import match_unit
from models.plan import Assignment, Item, Part
from models.progress import ProgressReport
from reminders.state import unsigned_codes

# Leaders' and the office's questions, in their own words.
_SCORE_QUESTION = re.compile(
    r"(总分|得分|多少分|几分|分数|还差多少|差几分|能不能过|合格|达标|过线|及格)"
)
_RANKING_QUESTION = re.compile(
    r"(哪些单位|哪个单位|哪几个单位|哪家|谁)(?:还)?(?:没|未|不)(?:报|交|完成|上报|动)"
    r"|排名|排行|最差|落后|倒数|拖后腿|谁最慢|哪些单位落后"
)
_OVERDUE_QUESTION = re.compile(
    r"(逾期|超期|过期|拖期|延误)(?:的|了)?(?:有哪些|哪些|事项|情况|多少)?"
)
_MY_LIST = re.compile(
    r"(我们|我|本单位|咱们?|我单位)(?:单位)?.{0,6}(还有|有没有|还剩|剩|哪些|啥|什么)"
    r".{0,6}(没交|没报|没完成|未完成|没做|要做|要交|要报|任务|事项|没弄)"
)
_HOW = re.compile(r"(怎么|如何|咋)(?:样)?(上报|报|填|写|交|申请|提交|弄|发)")
_SCORE_GIVEN = re.compile(r"(?:打|给|评|记|得)\s*([0-9]+(?:\.[0-9]+)?)\s*分")
_PLAIN_ACK = re.compile(
    r"^(?:收到|收到了|好的|好|嗯+|明白|明白了|知道了|ok|okay|了解|已阅|已知悉|知悉)$"
)
_YES = re.compile(r"^(?:是|是的|对|对的|确认|好|好的|嗯|嗯嗯|可以|行|没错|yes|y|ok)$", re.I)
_NO = re.compile(r"^(?:不是|不对|不|否|取消|算了|不用|错了|no|n)$", re.I)
_DONE_CLEAN = re.compile(r"^(?:$|[\s,.:;!?。、()~…]|了|啦|啊|的|[0-9])")
_FILLER = re.compile(r"^[\s,.:;!?。、()~…，：；！？]+|[\s,.:;!?。、()~…，：；！？]+$")


@dataclass
class Proposal:
    """What a message (or one line of it) asks for."""

    commands: list[str] = field(default_factory=list)  # in the bot's own grammar
    sure: bool = False
    ask: str = ""  # a question (reader.j2 macro) when no command can be proposed
    values: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # why unsure: shown nowhere, kept for the tests' account

    @property
    def command(self) -> str:
        return self.commands[0] if self.commands else ""


def is_yes(text: str) -> bool:
    return bool(_YES.match(_FILLER.sub("", text).strip()))


def is_no(text: str) -> bool:
    return bool(_NO.match(_FILLER.sub("", text).strip()))


def is_plain_ack(text: str) -> bool:
    return bool(_PLAIN_ACK.match(_FILLER.sub("", text).strip().lower()))


def _note(slots: Slots, *skip: Found | None) -> str:
    """What is left of the message once the given parts are taken out, as it was typed: the
    note a report keeps."""
    spans = sorted((f.start, f.end) for f in skip if f is not None)
    last, out = 0, []
    for start, end in spans:
        if start >= last:
            out.append(slots.typed(last, start))
            last = end
    out.append(slots.typed(last, len(slots.text)))
    note = " ".join(part.strip() for part in out if part.strip())
    note = _FILLER.sub("", note).strip()
    note = re.sub(r"^(?:的|了|为|是|到|达到|约|大约|大概|有)+", "", note)
    return _FILLER.sub("", note).strip()


def _code_spans(slots: Slots) -> list[Found]:
    return list(slots.codes)


def propose(ctx: Context, slots: Slots) -> Proposal:
    """The reading of one message (or line) that is not a command written in full."""
    codes = list(dict.fromkeys(f.value for f in slots.codes))
    unit = ctx.may("unit")
    admin = ctx.is_admin
    leader = ctx.may("leader")
    text = slots.text

    if slots.correction and slots.percents and unit:
        return _correction(ctx, slots, codes)
    if admin:
        office = _office(ctx, slots, codes)
        if office is not None:
            return office
    if len(codes) > 1:
        return _several(ctx, slots, codes)
    code = codes[0] if codes else ""
    if code:
        return _about_item(ctx, slots, code, unit=unit, leader=leader)
    # No code: questions and lists in people's words.
    if leader and _SCORE_QUESTION.search(text):
        return Proposal(["总览"], sure=True)
    if leader and _RANKING_QUESTION.search(text):
        return Proposal(["排名"], sure=True)
    if leader and _OVERDUE_QUESTION.search(text):
        return Proposal(["逾期"], sure=True)
    if unit and _MY_LIST.search(text):
        return Proposal(["我的任务"], sure=True)
    how = _HOW.search(text)
    if how is not None:
        topic = _help_topic(slots)
        return Proposal([f"帮助 {topic}" if topic else "帮助"], sure=True)
    named = _unit_named(slots)
    if named and leader:
        return Proposal([f"单位 {named}"], sure=True)
    if unit and slots.has("sign"):
        return _sign_the_one(ctx, slots)
    if slots.percents and unit:
        return Proposal(ask="ask_which_item", values={"said": slots.percents[0].text})
    if is_plain_ack(text):
        return Proposal(ask="ack")
    return Proposal(ask="unknown", values={"word": text[:20]})


# ------------------------------------------------------------------ one item


def _about_item(ctx: Context, slots: Slots, code: str, *, unit: bool, leader: bool) -> Proposal:
    item_code = code.split("-")[0]
    item = Item.get_or_none(Item.code == item_code)
    code_found = slots.codes[0]
    percent = slots.percents[0] if slots.percents else None
    date_found = slots.dates[0] if slots.dates else None
    if item is None:
        return Proposal([f"任务 {code}"], sure=True)  # the registry says it does not exist
    mine = unit and _is_mine(ctx, item)
    if _HOW.search(slots.text):  # "T7 怎么报": how to report it, with its code
        return Proposal(ask="about", values={"code": code, "said": ""})
    # Questions about an item: read at once, whoever asks.
    reading = slots.question or slots.has("detail") or slots.text.endswith(("进度", "进展"))
    if (
        not mine or (reading and not percent and not slots.has("done") and not slots.has("extend"))
    ) and not (mine and slots.has("evidence")):
        if slots.has("extend") and mine is False and unit:
            return Proposal(ask="not_yours", values={"code": item_code})
        return Proposal([f"任务 {item_code}"], sure=True)
    # A unit's own item.
    if slots.has("extend"):
        return _extension(slots, code, code_found, date_found)
    if slots.has("sign") and item.is_assigned and not percent and not slots.has("done"):
        return Proposal([f"签收 {item_code}"], sure=True)
    if percent is not None:
        if len(slots.percents) > 1 and not slots.has("progress"):
            values = "、".join(f"{p.value}%" for p in slots.percents)
            return Proposal(ask="two_percents", values={"code": code, "values": values})
        chosen = _marked_percent(slots) or percent
        # "完成了80%", "完成 T7 80%": how far it came; the word goes with the number.
        attached = [d for d in slots.intents.get("done", []) if _leads_to(slots, d, chosen)]
        note = _note(slots, code_found, chosen, *slots.intents.get("progress", []), *attached)
        if typo_of_command(note):
            note = ""
        if chosen.value == 100 and slots.has("done") and not slots.negated:
            return Proposal([_with_note(f"完成 {code}", note)], sure=True)
        command = _with_note(f"进度 {code} {chosen.value}%", note)
        if chosen.high is not None:  # "七八成": the lower end, asked
            return Proposal([command], sure=False, reason="a range")
        return Proposal([command], sure=True)
    if slots.has("evidence") and not slots.has("done") and not slots.has("progress"):
        return Proposal([f"佐证 {item_code}"], sure=True)
    if slots.has("done"):
        done = slots.first("done")
        assert done is not None
        if slots.negated:
            return Proposal(ask="not_done", values={"code": code, "said": slots.text[:30]})
        note = _note(slots, code_found, done)
        clean = _DONE_CLEAN.match(slots.text[done.end :]) is not None
        command = _with_note(f"完成 {code}", note)
        if clean:
            return Proposal([command], sure=True)
        return Proposal([command], sure=False, reason="done, more words after")
    if item.is_quantitative and (slots.counts or slots.numbers):
        return _figures(item, slots)
    if slots.numbers and slots.has("progress"):
        number = slots.numbers[0]
        return Proposal([f"进度 {code} {number.value}%"], sure=False, reason="a bare number")
    if slots.numbers:
        number = slots.numbers[0]
        return Proposal([f"进度 {code} {number.value}%"], sure=False, reason="a bare number")
    if slots.has("progress"):
        return Proposal([f"任务 {item_code}"], sure=True)
    rest = _note(slots, code_found)
    if not rest:
        return Proposal([f"任务 {item_code}"], sure=True)
    return Proposal(ask="about", values={"code": code, "said": rest[:30]})


def _leads_to(slots: Slots, word: Found, number: Found) -> bool:
    """Nothing but the code, separators and 了/约 between a word and a number after it."""
    if word.end > number.start:
        return False
    between = slots.text[word.end : number.start]
    for code in slots.codes:
        between = between.replace(code.text, "")
    return not re.sub(r"[\s,.:;，：、了约大概有到达]", "", between)


def _with_note(command: str, note: str) -> str:
    return f"{command} {note}".strip()


def typo_of_command(note: str) -> bool:
    """ "近度 T7 50%": the note is only a mistyped 进度 or 完成."""
    return len(note) <= 3 and any(
        SequenceMatcher(None, note, word).ratio() >= 0.5 for word in ("进度", "进展", "完成")
    )


def _marked_percent(slots: Slots) -> Found | None:
    """Of several numbers, the one marked 进度 (the nearest after the word) or by a % sign."""
    marker = slots.first("progress")
    if marker is not None:
        after = [p for p in slots.percents if p.start >= marker.end]
        if after:
            return after[0]
    signed = [p for p in slots.percents if "%" in p.text or "百分" in p.text]
    return signed[0] if len(signed) == 1 else None


def _extension(slots: Slots, code: str, code_found: Found, date_found: Found | None) -> Proposal:
    if date_found is None:
        return Proposal(ask="extension_date", values={"code": code})
    reason = _note(slots, code_found, date_found, *slots.intents.get("extend", []))
    reason = re.sub(r"^(?:到|至|延到|延至|为|改为|申请)+", "", reason).strip(" ，,")
    command = f"延期 {code} {date_found.value.isoformat()}"
    if not reason:
        return Proposal(ask="extension_reason", values={"command": command})
    return Proposal([f"{command} {reason}"], sure=True)


def _figures(item: Item, slots: Slots) -> Proposal:
    proposal = _figures_read(item, slots)
    # "Z3 数据 1200 9800": said to be figures, in the plan's order: sure.
    plain = not slots.counts and len(slots.numbers) == len(item.inputs or [])
    if proposal.commands and slots.has("data") and plain:
        proposal.sure = True
    return proposal


def _figures_read(item: Item, slots: Slots) -> Proposal:
    """Figures in prose for a quantitative indicator: the plan's inputs in order, matched by
    their labels when the message names them; always confirmed before they are recorded."""
    inputs = item.inputs or []
    numbers = sorted(
        [(f.start, f.value[0]) for f in slots.counts] + [(f.start, f.value) for f in slots.numbers]
    )
    if len(numbers) != len(inputs):
        shown = " ".join(n for _, n in numbers)
        return Proposal(ask="figures_count", values={"code": item.code, "figures": shown})
    by_label: list[str | None] = [None] * len(inputs)
    used: set[int] = set()
    for i, spec in enumerate(inputs):
        words = [w for w in re.split(r"[数量额率总]", spec["label"]) if len(w) >= 2]
        for start, value in numbers:
            if start in used:
                continue
            before = slots.text[max(0, start - 12) : start]
            if any(w in before for w in words):
                by_label[i] = value
                used.add(start)
                break
    labelled = all(v is not None for v in by_label)
    values = [str(v) for v in by_label] if labelled else [n for _, n in numbers]
    cleaned = []
    for value in values:
        try:
            cleaned.append(str(Decimal(value.replace(",", ""))))
        except InvalidOperation:
            cleaned.append(value)
    return Proposal(
        [f"数据 {item.code} {' '.join(cleaned)}"], sure=False, reason="figures in prose"
    )


def _correction(ctx: Context, slots: Slots, codes: list[str]) -> Proposal:
    percent = _marked_percent(slots) or slots.percents[-1]
    if codes:
        return Proposal([f"更正 {codes[0]} {percent.value}%"], sure=True)
    last = (
        ProgressReport.select()
        .where(
            (ProgressReport.wecom_userid == ctx.userid)
            & (ProgressReport.created_at >= ctx.now - timedelta(days=2))
        )
        .order_by(ProgressReport.id.desc())
        .first()
    )
    if last is None:
        return Proposal(ask="which_correction", values={"percent": percent.value})
    code = last.assignment.code
    return Proposal([f"更正 {code} {percent.value}%"], sure=False, reason="the last report's item")


def _several(ctx: Context, slots: Slots, codes: list[str]) -> Proposal:
    """Several codes in one line: the same thing said of each, confirmed first."""
    if slots.negated or not (slots.has("done") or slots.percents):
        return Proposal(ask="one_at_a_time", values={"codes": codes})
    if slots.percents and len(slots.percents) == len(codes):
        pairs = list(zip(codes, slots.percents, strict=True))
        return Proposal([f"进度 {c} {p.value}%" for c, p in pairs], sure=False, reason="several")
    if slots.has("done") and not slots.percents:
        return Proposal([f"完成 {c}" for c in codes], sure=False, reason="several done")
    return Proposal(ask="one_at_a_time", values={"codes": codes})


def _is_mine(ctx: Context, item: Item) -> bool:
    if ctx.member is None or ctx.member.unit_id is None:
        return False
    return (
        Assignment.select()
        .where(
            (Assignment.item == item)
            & (Assignment.unit == ctx.member.unit_id)
            & (Assignment.kind == Part.SHARE)
        )
        .exists()
    )


def _sign_the_one(ctx: Context, slots: Slots) -> Proposal:
    """ "交办的那个事收到了": sign it when exactly one 交办 item waits for this unit's 签收."""
    if ctx.member is None or ctx.member.unit_id is None or "交办" not in slots.text:
        return Proposal(ask="ack")
    waiting = unsigned_codes(ctx.member.unit_id)
    if len(waiting) == 1:
        return Proposal([f"签收 {waiting[0]}"], sure=True)
    if not waiting:
        return Proposal(ask="nothing_to_sign")
    return Proposal(ask="which_sign", values={"codes": waiting})


def _unit_named(slots: Slots) -> str:
    """A unit named in the message (the words before 情况/怎么样…), by its full name."""
    match = re.match(
        r"^(.{2,12}?)(?:的|最近|现在|目前)?(?:情况|怎么样|咋样|进展|如何|报了没|报没报)", slots.text
    )
    if not match:
        return ""
    found = match_unit(match.group(1))
    if found.unit is not None:
        return found.unit.name
    if found.group is not None:
        return found.group.name
    return ""


def _help_topic(slots: Slots) -> str:
    for intent, topic in (
        ("data", "数据"),
        ("extend", "延期"),
        ("evidence", "佐证"),
        ("sign", "签收"),
        ("progress", "进度"),
        ("done", "完成"),
    ):
        if slots.has(intent):
            return topic
    return ""


# ------------------------------------------------------------------ the office


def _office(ctx: Context, slots: Slots, codes: list[str]) -> Proposal | None:
    """An admin's 期限 / 评分 / 退回 / 通过 / 催办 written as a sentence."""
    if not codes:
        if slots.has("nudge"):
            named = _unit_after(slots, slots.first("nudge"))
            if named:
                return Proposal([f"催办 {named}"], sure=True)
        return None
    code = codes[0]
    item_code = code.split("-")[0]
    code_found = slots.codes[0]
    if slots.has("return"):
        marker = slots.first("return")
        reason = _note(slots, code_found, marker)
        if not reason:
            return Proposal(ask="return_reason", values={"code": code})
        return Proposal([f"退回 {code} {reason}"], sure=True)
    if slots.has("pass") and not slots.negated:
        rest = _note(slots, code_found, slots.first("pass"))
        return Proposal([_with_note(f"通过 {code}", rest if _is_unit(rest) else "")], sure=True)
    given = _SCORE_GIVEN.search(slots.text)
    if item_code.startswith("Z") and (given or slots.has("score")):
        points = given.group(1) if given else (slots.numbers[0].value if slots.numbers else "")
        if not points:
            return None
        spans = [code_found, *slots.intents.get("score", [])]
        spans += [c for c in slots.counts if c.value[1] == "分"]
        reason = _note(slots, *spans)
        reason = re.sub(r"^(?:打|给|评|记|得)", "", reason).strip(" ，,")
        return Proposal([_with_note(f"评分 {item_code} {points}", reason)], sure=True)
    if slots.has("deadline") and slots.dates:
        named = _unit_between(slots, code_found, slots.dates[0])
        middle = f" {named}" if named else ""
        return Proposal([f"期限 {code}{middle} {slots.dates[0].value.isoformat()}"], sure=True)
    if slots.has("nudge"):
        return Proposal([f"催办 {item_code}"], sure=True)
    return None


def _is_unit(words: str) -> bool:
    return bool(words) and match_unit(words).unit is not None


def _unit_after(slots: Slots, marker: Found | None) -> str:
    if marker is None:
        return ""
    words = slots.text[marker.end :].strip(" ，,:：一下")
    found = match_unit(words.split(" ")[0][:12]) if words else None
    if found is None:
        return ""
    return found.unit.name if found.unit else found.group.name if found.group else ""


def _unit_between(slots: Slots, first: Found, second: Found) -> str:
    """ "T7 市监局 期限…": a unit named between the code and the date."""
    words = re.sub(
        r"(期限|截止|截至|定到|定在|定为|设到|设为|改到|改为|到期|的)",
        " ",
        slots.text[first.end : second.start],
    ).strip(" ，,:：")
    if not words:
        return ""
    found = match_unit(words.split(" ")[0])
    return found.unit.name if found.unit is not None else ""
