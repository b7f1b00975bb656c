"""What a message asks for, from its parts (bot/commands/slots.py) and who sends it: a command
in the bot's own grammar ("进度 T7 60% 初稿已完成") that the registry then parses like a typed
one, and whether the bot is sure of it. When it is not sure it proposes the command as a yes/no
question; when it cannot even propose one, it asks what it needs. A change is never made on a
guess: only a sure reading acts at once.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher
from typing import Any

from bot.commands.registry import Context
from bot.commands.slots import Found, Slots
from bot.text import chinese_number
from models import userids
from models.org import Unit, match_unit, units_in
from models.plan import Assignment, Item, Part, Status
from models.progress import ExtensionRequest, ProgressReport, RequestStatus
from reminders.state import unsigned_codes

# Leaders' and the office's questions, in their own words.
_SCORE_QUESTION = re.compile(
    r"(总分|得分|多少分|几分|分数|还差多少|差几分|能不能过|合格|达标|过线|及格)"
)
_RANKING_QUESTION = re.compile(
    r"(哪些|哪个|哪几个|哪家|谁).{0,10}(?:没有?|未|不)(?:报|交|完成|上报|动)"
    r"|排名|排行|排.{0,2}名|最差|落后|倒数|拖后腿|谁最慢|哪些单位落后|最拖拉|拖拉|最慢|垫底|掉队"
)
_OVERDUE_QUESTION = re.compile(
    r"(逾期|超期|过期|拖期|延误)(?:的|了)?(?:有哪些|哪些|事项|情况|多少)?"
)
_DIGEST_QUESTION = re.compile(r"(周报|通报|本周情况)")
_ASSIGNED_QUESTION = re.compile(r"交办.{0,8}(签收|收到|怎么样|情况|进展|哪些)")
_REVIEW_QUESTION = re.compile(r"(待审核|等审核|要审核|审核的|办结审核|待审)")
# 交办 in words: "请市监局12月15日前报一个…方案", "交办工信局：下周五前把…报上来".
_ASSIGN_WORDS = re.compile(r"(交办|交给|交由|请|让|要求|布置|安排)")
_ASSIGN_TASK = re.compile(r"(报|报送|提交|上报|完成|拿出|制定|起草|准备|整理|梳理|开展)")
_MY_LIST = re.compile(
    r"(我们|我|本单位|咱们?|我单位|俺们?)(?:单位)?.{0,6}(还有|有没有|还剩|剩|哪些|啥|什么)"
    r".{0,6}(没交|没报|没完成|未完成|没做|要做|要交|要报|任务|事项|没弄|没干|活)"
)
# "我的任务有哪些", "我们单位哪些逾期了", "我们统计局要报啥": the person's own unit's list.
_MY_LIST_TOO = re.compile(
    r"(?:我的|我们?(?:单位)?的|本单位的?)任务(?:都|还)?(?:有|是)?(?:哪些|啥|什么|多少)"
    r"|^(?:我们|咱们?|俺们?|本单位|我单位)[^\s，,。?？]{0,6}?"
    r"(?:(?:哪些|啥|什么)[^\s，,]{0,3}(?:逾期|超期|过期|没报|没交|要报|要交)"
    r"|(?:要报|要交|要做|该报|该交)(?:啥|什么|哪些))"
)
_STATE_QUESTION = re.compile(
    r"(截止|期限|到期|啥时候|什么时候|哪天|几号|批了|批没|批准了|审批|签收了|通过了|审核了"
    r"|(?:完成|做完|弄完|办完|干完|搞定|办结)了?(?:吗|么|没有?|不)\s*[?？]?\s*$)"
)
_NOT_SIGNED = re.compile(r"(?:没|未|还没|尚未)(?:有)?(?:签收|收到)")
_HOW = re.compile(
    r"(怎么|如何|咋)(?:样)?(上报|报|填|写|交|申请|提交|弄|发|使用|用|操作)"
    r"|往哪(?:里|儿)?报|报到哪|报哪里|什么格式|啥格式|格式是(?:啥|什么)"
    r"|能(?:干|做)(?:啥|什么)|会(?:干|做)?(?:啥|什么)|有(?:什么|啥)(?:功能|用)"
)
# "怎么传文件", "文件发不过去", "上传材料": the upload page (`上传`).
_UPLOAD_QUESTION = re.compile(
    r"上传|传文件|传材料|传附件"
    r"|(?:文件|材料|附件|文档|pdf|word|图片|照片).{0,6}(?:发不|传不|交不|发送不|上传不)"
    r"|(?:发不|传不)(?:过去|上去|出去|了|上).{0,4}(?:文件|材料|附件|文档|pdf|word)"
    r"|(?:怎么|如何|咋|在哪).{0,4}(?:发|交|提交|传|报).{0,2}(?:文件|材料|附件|文档|pdf|word)",
    re.I,
)
# "材料已上传", "稍后上传": a report about files, not a question (the report is read as usual).
_ALREADY_SENT = re.compile(
    r"(?:已|已经|都)(?:上传|传|发|交|提交)|(?:上传|传|发|交)(?:了|完|好)"
    r"|(?:稍后|随后|之后|待会|回头|晚点|明天|下午|马上|尽快)(?:再)?(?:上传|传|发|交|提交|补)"
)
_SCORE_GIVEN = re.compile(r"(?:打|给|评|记|得)\s*([0-9]+(?:\.[0-9]+)?)\s*分")
_PLAIN_ACK = re.compile(
    r"^(?:收到|收到了|好的|好|嗯+|明白|明白了|知道了|ok|okay|了解|已阅|已知悉|知悉)$"
)
_YES = re.compile(r"^(?:是|是的|对|对的|确认|好|好的|嗯|嗯嗯|可以|行|没错|yes|y|ok)$", re.I)
_NO = re.compile(r"^(?:不是|不对|不|否|取消|算了|不用|错了|no|n)$", re.I)
_DONE_CLEAN = re.compile(r"^(?:$|[\s,.:;!?。、()~…]|了|啦|啊|的|咧|喽|嘞|[0-9])")
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
        last = max(last, end)
    out.append(slots.typed(last, len(slots.text)))
    note = " ".join(part.strip() for part in out if part.strip())
    note = _FILLER.sub("", note).strip()
    note = re.sub(r"^(?:的|了|为|是|到|达到|约|大约|大概|有)+", "", note)
    note = _FILLER.sub("", note).strip()
    # What only joined the numbers taken out ("由 提高到", "没有完成 ，只有"): no note.
    return "" if _CONNECTORS_ONLY.fullmatch(note) else note


_CONNECTORS_ONLY = re.compile(
    r"(?:[\s，,、。；;：:]|由|从|提高到|提升到|增加到|增长到|上升到|升到|推进到|达到|到了|变成|到|"
    r"没有完成|没完成|未完成|没有达到|没达到|未达到|没有到|没到|不是|而是|只有|仅有|才|是|了|的)*"
)


def _code_spans(slots: Slots) -> list[Found]:
    return list(slots.codes)


def propose(ctx: Context, slots: Slots) -> Proposal:
    """The reading of one message (or line) that is not a command written in full."""
    codes = list(dict.fromkeys(f.value for f in slots.codes))
    unit = ctx.may("unit")
    admin = ctx.is_admin
    leader = ctx.may("leader")
    text = slots.text

    if slots.correction and unit and not slots.percents and not slots.counts:
        bare = [n for n in slots.numbers if _is_percent_like(n.value)]
        if 1 <= len(bare) <= 3 and len(bare) == len(slots.numbers):
            # "T3报错了，应该是55", "写错了 是65 不是60": percents without their sign
            for number in bare:
                slots.percents.append(
                    Found(number.start, number.end, number.text, int(float(number.value)))
                )
            current = current_percent(slots) if len(bare) > 1 else slots.percents[0]
            if current is None:
                return Proposal(
                    ask="two_percents",
                    values={
                        "code": codes[0] if codes else "",
                        "values": "、".join(n.value for n in bare),
                    },
                )
            proposal = _correction(ctx, slots, codes)
            before = slots.text[max(0, current.start - 6) : current.start]
            proposal.sure = proposal.sure and bool(_RIGHT_BEFORE.search(before.rstrip(" ，,:：")))
            return proposal
    if slots.correction and slots.percents and unit:
        return _correction(ctx, slots, codes)
    if (
        unit
        and not codes  # "T7 已完成，材料稍后上传" is about T7
        and not slots.percents
        and _UPLOAD_QUESTION.search(text)
        and not _ALREADY_SENT.search(text)
    ):
        return Proposal(["上传"], sure=True)
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
    if leader:
        assigned = _assign_in_words(ctx, slots)
        if assigned is not None:
            return assigned
    if leader and _ASSIGNED_QUESTION.search(text):
        return Proposal(["交办"], sure=True)
    if leader and _SCORE_QUESTION.search(text):
        return Proposal(["总览"], sure=True)
    if unit and (_MY_LIST.search(text) or _MY_LIST_TOO.search(text)):
        return Proposal(["我的任务"], sure=True)
    ranked = re.search(r"排.{0,3}名|排名|排行", text)
    if leader and _OVERDUE_QUESTION.search(text) and not ranked:  # "有哪些超期没完成的"
        return Proposal(["逾期"], sure=True)
    if leader and _RANKING_QUESTION.search(text):
        return Proposal(["排名"], sure=True)
    if leader and _DIGEST_QUESTION.search(text):
        return Proposal(["周报 预览"], sure=True)
    if admin and _REVIEW_QUESTION.search(text):
        return Proposal(["待审核"], sure=True)
    if unit and _MY_LIST.search(text):
        return Proposal(["我的任务"], sure=True)
    how = _HOW.search(text)
    if how is not None:
        topic = _help_topic(slots)
        return Proposal([f"帮助 {topic}" if topic else "帮助"], sure=True)
    named = _unit_named(slots) or _unit_asked_about(slots)
    if named and leader:
        return Proposal([f"单位 {named}"], sure=True)
    if unit and slots.has("sign"):
        if slots.question or _NOT_SIGNED.search(text):  # "是不是还有个交办的没签收"
            waiting = (
                unsigned_codes(ctx.member.unit_id) if ctx.member and ctx.member.unit_id else []
            )
            return Proposal(ask="unsigned", values={"codes": waiting})
        return _sign_the_one(ctx, slots)
    if slots.percents and unit:
        return Proposal(ask="ask_which_item", values={"said": slots.percents[0].text})
    if is_plain_ack(text):
        return Proposal(ask="ack")
    return Proposal(ask="unknown", values={"word": slots.typed(0, len(text))[:20]})


# ------------------------------------------------------------------ one item


def _about_item(ctx: Context, slots: Slots, code: str, *, unit: bool, leader: bool) -> Proposal:
    item_code = code.split("-")[0]
    item = Item.get_or_none(Item.code == item_code)
    code_found = slots.codes[0]
    if slots.statistics and not (item is not None and item.is_quantitative):
        # "问题占比百分之二十": a statistic about the work, not how far it has come.
        slots.percents = [p for p in slots.percents if p not in slots.statistics]
    percent = slots.percents[0] if slots.percents else None
    if item is None:
        return Proposal([f"任务 {code}"], sure=True)  # the registry says it does not exist
    mine = unit and _is_mine(ctx, item)
    quantitative = (
        [i.get("label", "数值") for i in item.inputs or []] if item.is_quantitative else []
    )
    if _HOW.search(slots.text):  # "T7 怎么报": how to report it, with its code
        return Proposal(ask="about", values={"code": code, "said": "", "data": quantitative})
    reports = bool(
        percent
        or slots.vague
        or slots.has("done")
        or slots.has("extend")
        or slots.has("submitted")
        or (slots.has("sign") and item.is_assigned)
    )
    # Questions about an item: read at once, whoever asks ("T18截止是哪天", "T13的延期批了没").
    asking = slots.question or slots.has("detail") or slots.text.endswith(("进度", "进展"))
    requesting = slots.has("extend") and bool(slots.dates)  # "期限能不能往后推到12月18号？"
    if asking and not percent and (not reports or (_asks_about(slots) and not requesting)):
        return Proposal([f"任务 {item_code}"], sure=True)
    if not mine:
        if unit and reports and not slots.has("evidence"):
            kind = "延期" if slots.has("extend") else "报告"
            return Proposal(ask="not_yours", values={"code": item_code, "kind": kind})
        if not (unit and slots.has("evidence")):
            return Proposal([f"任务 {item_code}"], sure=True)
    # A unit's own item.
    if slots.has("extend"):
        return _extension(ctx, slots, item, code, code_found)
    # "J1收到了", "J1收到了，12月15日前完成培训" (a plan, not done): signed.
    signing = (
        slots.has("sign") and item.is_assigned and not percent and not slots.question
    ) and not _NOT_SIGNED.search(slots.text)
    if signing and (not slots.has("done") or slots.negated):
        return Proposal([f"签收 {item_code}"], sure=True)
    if item.is_quantitative and _several_figures(slots):
        return _figures(item, slots)
    if percent is not None and _plan_before(slots, percent) and not slots.correction:
        return Proposal(ask="plan_not_progress", values={"code": code, "said": slots.text[:30]})
    if percent is not None:
        same = []
        if len({(p.value, p.high) for p in slots.percents}) == 1:  # "六成了，60%左右": one
            same = slots.percents[1:]
            del slots.percents[1:]
        if len(slots.percents) > 1 and not slots.has("progress"):
            current = current_percent(slots)
            if current is None:
                values = "、".join(f"{p.value}%" for p in slots.percents)
                return Proposal(ask="two_percents", values={"code": code, "values": values})
            percent = current
        chosen = current_percent(slots) or _marked_percent(slots) or percent
        # "完成了80%", "完成 T7 80%": how far it came; the word goes with the number.
        attached = [d for d in slots.intents.get("done", []) if _leads_to(slots, d, chosen)]
        skip = [p for p in slots.percents if p is not chosen] + same
        note = _note(
            slots, code_found, chosen, *skip, *slots.intents.get("progress", []), *attached
        )
        if typo_of_command(note):
            note = ""
        if chosen.value == 100 and slots.has("done") and not slots.negated:
            return Proposal([_with_note(f"完成 {code}", note)], sure=True)
        command = _with_note(f"进度 {code} {chosen.value}%", note)
        if chosen.high is not None:  # "七八成", "过半": the lower end, asked
            return Proposal([command], sure=False, reason="a range")
        return Proposal([command], sure=True)
    if slots.vague:  # "完成了大部分": how much is that?
        return Proposal(ask="vague_percent", values={"code": code, "word": slots.vague[0].text})
    if slots.has("evidence") and not slots.has("done") and not slots.has("progress"):
        return Proposal([f"佐证 {item_code}"], sure=True)
    if slots.has("done"):
        done = slots.first("done")
        assert done is not None
        # "T7完成了3轮检查": what was done, counted; "T7完成60": a percent without its sign.
        counted = [c for c in slots.counts if _in_clause_after(slots, done, c)]
        if counted:
            return Proposal(
                ask="about", values={"code": code, "said": slots.text[:30], "data": quantitative}
            )
        number = next((n for n in slots.numbers if _right_after(slots, done, n)), None)
        if number is not None and _is_percent_like(number.value):
            command = f"进度 {code} {int(float(number.value))}%"
            return Proposal([command], sure=False, reason="a number after 完成")
        if slots.negated:
            return Proposal(ask="not_done", values={"code": code, "said": slots.text[:30]})
        note = _note(slots, code_found, done)
        clean = _DONE_CLEAN.match(slots.text[done.end :]) is not None
        command = _with_note(f"完成 {code}", note)
        if clean:
            return Proposal([command], sure=True)
        return Proposal([command], sure=False, reason="done, more words after")
    if slots.has("submitted") and not slots.negated:  # "J2名录已报送": done, perhaps
        note = _note(slots, code_found)
        return Proposal([_with_note(f"完成 {code}", note)], sure=False, reason="submitted")
    if item.is_quantitative and (slots.counts or slots.numbers):
        return _figures(item, slots)
    if slots.numbers and not _plan_before(slots, slots.numbers[0]):
        number = slots.numbers[0]
        if _is_percent_like(number.value):
            command = f"进度 {code} {int(float(number.value))}%"
            return Proposal([command], sure=False, reason="a bare number")
    if slots.has("progress"):
        return Proposal([f"任务 {item_code}"], sure=True)
    rest = _note(slots, code_found)
    if not rest:
        return Proposal([f"任务 {item_code}"], sure=True)
    return Proposal(ask="about", values={"code": code, "said": rest[:30], "data": quantitative})


def _plan_before(slots: Slots, found: Found) -> bool:
    """A plan said before this number in its clause: "12月10日前能完成60%" (not "完成了七成，
    剩下的年底前完成", where the plan is for the rest)."""
    return any(
        end <= found.start and not re.search(r"[，,。；;!！\n]", slots.text[end : found.start])
        for _, end in slots.plans
    )


def _right_after(slots: Slots, word: Found, number: Found) -> bool:
    """ "完成了3轮检查", "完成60": the number is what 完成 governs (not "完成了 12家平台…")."""
    return number.start >= word.end and slots.text[word.end : number.start] in ("", "了", "约")


def _in_clause_after(slots: Slots, word: Found, number: Found) -> bool:
    """ "完成培训60人次", "办结投诉98件": a count in the same clause after 完成 is what was
    done, not the item done."""
    between = slots.text[word.end : number.start]
    return number.start >= word.end and not re.search(r"[\s，,。；;!！?？]", between)


def _is_percent_like(value: str) -> bool:
    try:
        number = float(value.replace(",", ""))
    except ValueError:
        return False
    return number == int(number) and 0 <= number <= 100


def _asks_about(slots: Slots) -> bool:
    """A question about the item's state, not a report: 截止啥时候, 延期批了没, 签收了吗."""
    return bool(_STATE_QUESTION.search(slots.text))


def _several_figures(slots: Slots) -> bool:
    """Numbers enough to be an indicator's figures: a count, or two numbers or more."""
    return bool(slots.counts) or len(slots.percents) + len(slots.numbers) >= 2


# Of several percents, the ones said to be past or wrong, and the one said to be right now.
_PAST_BEFORE = re.compile(
    r"(上周|上次|之前|原来|原先|以前|上月|刚才那个|刚才报的|不是|由|从|"
    r"没有完成|没完成|未完成|没有达到|没达到|未达到|没有到|没到)\s*[（(]?\s*$"
)
_WRONG_AFTER = re.compile(r"^\s*(?:是)?(?:不对|有误|错了|是错的|报错了|不准确)")
_RIGHT_BEFORE = re.compile(
    r"(应该是|应为|应是|改成|改为|更正为|实际是|实际|现在是|本周|目前|现在|才对|是|只有|仅有|才|"
    r"提高到|提升到|增加到|增长到|上升到|升到|推进到|达到|到了|变成)\s*$"
)


def current_percent(slots: Slots) -> Found | None:
    """Of several percents, the one that holds now: 本周 60% beside 上周 50%, 70%（上周50%）,
    实际40% beside 60%不对, 是40% 不是60%. None when no word tells them apart."""
    if len(slots.percents) < 2:
        return None
    codes = re.compile("|".join(re.escape(c.text) for c in slots.codes) or "$^")
    alive = []
    for p in slots.percents:
        before = codes.sub("", slots.text[max(0, p.start - 10) : p.start])
        if _PAST_BEFORE.search(before) or _WRONG_AFTER.match(slots.text[p.end : p.end + 6]):
            continue
        alive.append(p)
    if len(alive) == 1:
        return alive[0]
    right = [
        p
        for p in alive
        if _RIGHT_BEFORE.search(codes.sub("", slots.text[max(0, p.start - 6) : p.start]))
        or slots.text[p.end : p.end + 2] == "才对"
    ]
    return right[0] if len(right) == 1 else None


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


_DURATION = re.compile(
    r"(?:推迟|延期|延后|延长|顺延|往后推|推后|延)\s*(?:了)?\s*"
    r"([0-9]{1,2}|[一二两三四五六七八九十]{1,3}|半)\s*(?:个)?\s*(天|日|周|星期|礼拜|月)"
)
_DURATION_DAYS = {"天": 1, "日": 1, "周": 7, "星期": 7, "礼拜": 7}


def _extension(ctx: Context, slots: Slots, item: Item, code: str, code_found: Found) -> Proposal:
    """延期: the date said after the word (延到1月20号, not the 12月31号 that cannot be met);
    a length (推迟一周) counts from the unit's deadline and is asked."""
    marker = slots.first("extend")
    after = [d for d in slots.dates if marker is not None and d.start >= marker.start]
    date_found = after[0] if after else (slots.dates[-1] if slots.dates else None)
    extend = slots.intents.get("extend", [])
    if date_found is None:
        moved = _moved_deadline(ctx, slots, item)
        if moved is None:
            return Proposal(ask="extension_date", values={"code": code})
        new_date, span = moved
        # "延期一个月，专项行动延长了": a word of the reason after the length stays in it.
        words = [w for w in extend if w.start < span.end]
        reason = _reason(slots, code_found, span, *words, *slots.dates)
        command = f"延期 {code} {new_date.isoformat()}"
        if not reason:
            return Proposal(ask="extension_reason", values={"command": command})
        return Proposal([f"{command} {reason}"], sure=False, reason="a length of time")
    words = [w for w in extend if w.start < date_found.end] or extend
    reason = _reason(slots, code_found, *words, *slots.dates)
    command = f"延期 {code} {date_found.value.isoformat()}"
    if not reason:
        return Proposal(ask="extension_reason", values={"command": command})
    return Proposal([f"{command} {reason}"], sure=True)


def _reason(slots: Slots, *skip: Found | None) -> str:
    reason = _note(slots, *skip)
    said = re.search(r"(?:原因是|原因：|原因:|因为|由于)\s*(.+)$", reason)
    if said:  # "…申请延到1月20号 原因是农业局数据没给": the reason itself
        reason = said.group(1)
    reason = re.sub(
        r"^(?:[，,\s]|到|至|延到|延至|为|改为|申请|能否|能不能|可否|要|想|需要|因为|因|原因是|原因|是)+",
        "",
        reason,
    )
    reason = re.sub(r"^(?:完成不了|完不成|之前完不成)[，,\s]*", "", reason)
    return reason.strip(" ，,。吗？?")


def _moved_deadline(ctx: Context, slots: Slots, item: Item) -> tuple[Any, Found] | None:
    """ "推迟一周", "延期两周": the unit's deadline moved by that much."""
    match = _DURATION.search(slots.text)
    if match is None or ctx.member is None or ctx.member.unit_id is None:
        return None
    share = Assignment.get_or_none(
        (Assignment.item == item)
        & (Assignment.unit == ctx.member.unit_id)
        & (Assignment.kind == Part.SHARE)
    )
    if share is None or share.deadline is None:
        return None
    amount = 0.5 if match.group(1) == "半" else chinese_number(match.group(1))
    if amount is None:
        return None
    unit = match.group(2)
    if unit == "月" and amount == int(amount):  # 一个月: the same day of a later month
        new_date = _months_later(share.deadline, int(amount))
    elif unit == "月":
        new_date = share.deadline + timedelta(days=round(30 * amount))
    else:
        new_date = share.deadline + timedelta(days=round(_DURATION_DAYS[unit] * amount))
    span = Found(match.start(), match.end(), match.group(0), new_date)
    return new_date, span


def _months_later(day: date, months: int) -> date:
    """The same day `months` later; the month's last day when it has no such day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    following = date(year + (month == 12), month % 12 + 1, 1)
    return min(
        day.replace(year=year, month=month, day=1) + timedelta(days=day.day - 1),
        following - timedelta(days=1),
    )


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
        [(f.start, _counted(f.value, inputs)) for f in slots.counts]
        + [(f.start, str(f.value)) for f in slots.percents if f.high is None]
        + [(f.start, f.value) for f in slots.numbers]
    )
    if len(numbers) != len(inputs):
        shown = " ".join(n for _, n in numbers)
        labels = [spec["label"] for spec in inputs]
        values = {"code": item.code, "figures": shown, "inputs": labels}
        return Proposal(ask="figures_count", values=values)
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
    figures = [str(v) for v in by_label] if labelled else [n for _, n in numbers]
    cleaned = []
    for value in figures:
        try:
            cleaned.append(str(Decimal(value.replace(",", ""))))
        except InvalidOperation:
            cleaned.append(value)
    return Proposal(
        [f"数据 {item.code} {' '.join(cleaned)}"], sure=False, reason="figures in prose"
    )


def _counted(value: tuple[str, str], inputs: list[dict]) -> str:
    """A count as the plan wants it: "1.2万" (人) is 12000; "3560户" is 3560; 万元 stays."""
    number, unit = value
    if not re.fullmatch(r"[0-9.,]+", number):  # "两家", "十二户": the number in digits
        said = chinese_number(number)
        number = str(said) if said is not None else number
    if unit in ("万", "亿") and not any(
        str(spec.get("unit", "")).startswith(unit) for spec in inputs
    ):
        scale = Decimal(10000) if unit == "万" else Decimal(100000000)
        with contextlib.suppress(InvalidOperation):
            return str((Decimal(number.replace(",", "")) * scale).normalize().__format__("f"))
    return number


def _correction(ctx: Context, slots: Slots, codes: list[str]) -> Proposal:
    percent = current_percent(slots) or _marked_percent(slots) or slots.percents[-1]
    if codes:
        return Proposal([f"更正 {codes[0]} {percent.value}%"], sure=True)
    last = (
        ProgressReport.select()
        .where(
            userids.matches(ProgressReport.wecom_userid, ctx.userid)
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
    if len(slots.percents) == 1 and "都" in slots.text:  # "T7、T11都是百分之五十"
        value = slots.percents[0].value
        return Proposal([f"进度 {c} {value}%" for c in codes], sure=False, reason="both")
    if slots.has("done") and not slots.percents:  # "T7和T11都完成了" is plain; "T7 T8 完成" asked
        return Proposal([f"完成 {c}" for c in codes], sure="都" in slots.text, reason="several")
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
    bare = re.fullmatch(r"(?:已|我)?签收(?:了|一下)?", slots.text.strip(" 。.!！"))
    if ctx.member is None or ctx.member.unit_id is None or not ("交办" in slots.text or bare):
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


def _unit_asked_about(slots: Slots) -> str:
    """ "市监局那边咋样了", "市监局最近的情况怎么样啊": one unit named, and a question about it."""
    if not (slots.has("detail") or slots.question):
        return ""
    named = units_in(slots.text)
    return named[0][2].name if len({u.id for _, _, u in named}) == 1 else ""


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
    """An admin's 期限 / 评分 / 退回 / 通过 / 催办 / 批准 / 驳回 / 绑定 written as a sentence."""
    named = units_in(slots.text)
    unbinding = re.search(
        r"(?<![A-Za-z0-9_.@-])([A-Za-z][A-Za-z0-9_.@-]{1,63}).{0,12}?解绑"
        r"|解绑.{0,4}?(?<![A-Za-z0-9_.@-])([A-Za-z][A-Za-z0-9_.@-]{1,63})",
        slots.text,
    )
    if unbinding is not None and not codes:  # "tj调走了，解绑": asked first
        return Proposal([f"解绑 {unbinding.group(1) or unbinding.group(2)}"], sure=False)
    bound = _bind_in_words(slots, named)
    if bound is not None:
        return bound
    if _HOLD.search(slots.text):  # "T13的延期先不批", "通过还是退回，等我开完会再说"
        return Proposal(ask="on_hold")
    decided = _decision_in_words(slots, codes, named)
    if decided is not None:
        return decided
    if not codes:
        if slots.has("nudge") and named:
            return Proposal([f"催办 {named[0][2].name}"], sure=True)
        return None
    if len(codes) > 1:
        return None  # several items: one segment each (bot/commands/reader.py)
    code = codes[0]
    item_code = code.split("-")[0]
    code_found = slots.codes[0]
    if slots.has("nudge") or _URGE.search(slots.text):  # "催办一下工信局T18": the item
        # "要不要催一下T18": asked back, not done.
        return Proposal([f"催办 {item_code}"], sure=not slots.question)
    if slots.has("return"):
        marker = slots.first("return")
        reason = _note(slots, code_found, marker)
        # "T17要退回": 要 is no reason; ask for one.
        if not _RETURN_FILLER.sub("", reason).strip(" ，,。.!！"):
            return Proposal(ask="return_reason", values={"code": code})
        return Proposal([f"退回 {code} {reason}"], sure=True)
    closing = slots.has("pass") or (_CLOSE_WORDS.search(slots.text) and _in_review(item_code))
    if closing and not _NOT_PASSED.search(slots.text):
        rest = _note(slots, code_found, slots.first("pass"))
        note = rest if _is_unit(rest) else ""
        return Proposal([_with_note(f"通过 {code}", note)], sure=slots.has("pass"))
    score = _score_in_words(slots, item_code, code_found)
    if score is not None:
        return score
    if slots.has("deadline") and slots.dates:
        date_found = slots.dates[0]
        # "T3发改局那块期限定到…", "把工信局T3的截止时间调到…": one unit named anywhere.
        units = list(dict.fromkeys(u.name for _, _, u in named))
        unit_named = units[0] if len(units) == 1 else ""
        unit_named = unit_named or _unit_between(slots, code_found, date_found)
        middle = f" {unit_named}" if unit_named else ""
        # Words left that name no unit (or several units): perhaps a unit written as we do not
        # know it. Setting every unit's deadline on that guess is asked first.
        spans = [(code_found.start, code_found.end), (date_found.start, date_found.end)]
        spans += [(s, e) for s, e, _ in named]
        sure = len(units) <= 1 and not _leftover(slots, spans)
        return Proposal([f"期限 {code}{middle} {date_found.value.isoformat()}"], sure=sure)
    return None


_DEADLINE_FILLER = re.compile(
    r"(期限|截止|截至|时间|日期|定到|定在|定为|设到|设为|改到|改为|改成|调到|调整为|调整到|延到|到期|"
    r"提前到|提前|推迟到|延后到|节点|时限|完成时限|办结时限|统一|所有单位|全部单位|各单位|所有|"
    r"统一|全部|都|的|那块|那边|这边|那个|这个|就|把|给|一下|先|再|也|请|麻烦|帮忙|一律)"
)


def _leftover(slots: Slots, spans: list[tuple[int, int]]) -> bool:
    """Words in the message beyond the given parts and a deadline's usual words."""
    text = list(slots.text)
    for start, end in spans:
        text[start:end] = [" "] * (end - start)
    words = _DEADLINE_FILLER.sub("", "".join(text))
    return bool(re.sub(r"[\s，,:：;；。.、!！]", "", words))


_RETURN_FILLER = re.compile(r"(要|需要|得|请|予以|给|一下|吧|掉|了|这个|那个|先|再|就|把|它)")


# "让审批局赶紧把T13报上来": the office urging a unit is 催办.
_URGE = re.compile(
    r"(?:让|叫|要求|通知|请|喊).{0,10}(?:赶紧|抓紧|尽快|马上|赶快|快点)"
    r"|再催|催一次|催一下|催下|催催|去催|催他们|催它"
)
# The office not deciding yet: "先不批", "等我开完会再说", "通过还是退回", "打2分？还是1.5分".
_HOLD = re.compile(
    r"先不|暂不|先别|先放|再说|等.{0,8}再|考虑一下|再看看|还没想好|还是.{0,6}(?:吧|[?？])?$"
    r"|(?:通过|批准|同意).{0,2}还是.{0,2}(?:退回|驳回|不)|分.{0,2}还是"
)
_CLOSE_WORDS = re.compile(r"(办结|没问题|可以了|合格|同意办结)")
_NOT_PASSED = re.compile(
    r"(不通过|不予通过|不行|不合格|不同意|不能办结|还不能|别通过|先别|不要通过|先不|暂不|暂缓|再看看|等等再)"
)
_POINTS = re.compile(
    r"(?:打|给|评|记|得|评分|打分)?\s*(?:个)?\s*([0-9]+(?:\.[0-9]+)?|[零一二两三四五六七八九十]+(?:点五|半)?)\s*分"
)
# A request by its number: "1号延期", "延期申请1", "第1个申请", "编号1的申请", "驳回1号申请".
_REQUEST_NUMBER = re.compile(
    r"^\s*([0-9]{1,5})\s*号|(?:申请|编号|第)\s*([0-9]{1,5})(?![0-9月.%])\s*(?:号|个|条)?"
    r"|(?<![0-9])([0-9]{1,5})\s*号?\s*(?:的)?(?:延期)?申请"
)
_APPROVE = re.compile(r"(同意|批准|准予|准了|批了|可以延)")
_REJECT = re.compile(r"(不同意|驳回|不批|不予|不准|不行)")
_ROLES = ("管理员", "领导", "负责人", "联络员")


def _score_in_words(slots: Slots, item_code: str, code_found: Found) -> Proposal | None:
    """ "Z11打两分", "Z11评分2分", "Ｚ１１　２分", "Z33给个满分"."""
    if not item_code.startswith("Z"):
        return None
    item = Item.get_or_none(Item.code == item_code)
    if item is None:
        return None
    spans: list[Found | None] = [code_found, *slots.intents.get("score", [])]
    if "满分" in slots.text:
        points = str(item.max_points_value().normalize())
        sure = slots.has("score")
        full = slots.text.index("满分")
        spans.append(Found(full, full + 2, "满分", None))
    else:
        match = _POINTS.search(slots.text)
        if match is None or not (slots.has("score") or match.group(0).endswith("分")):
            return None
        said = _points_value(match.group(1))
        if said is None:
            return None
        points = said
        sure = slots.has("score") or bool(re.match(r"\s*(打|给|评|记)", match.group(0)))
        spans.append(Found(match.start(), match.end(), match.group(0), None))
        spans += [c for c in slots.counts if c.value[1] == "分"]
    reason = _note(slots, *spans)
    reason = re.sub(r"^(?:打|给|评|记|得|个)+", "", reason).strip(" ，,")
    # "Z11 2分", "Z28满分", "Z35 得2分": an admin's code and points and nothing else is a score.
    sure = sure or (not reason and not slots.question)
    return Proposal([_with_note(f"评分 {item_code} {points}", reason)], sure=sure)


def _points_value(said: str) -> str | None:
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", said):
        return said
    half = said.endswith(("点五", "半"))
    whole = chinese_number(said.removesuffix("点五").removesuffix("半") or "零")
    if whole is None:
        return None
    return f"{whole}.5" if half else str(whole)


def _in_review(item_code: str) -> bool:
    return (
        Assignment.select()
        .join(Item)
        .where((Item.code == item_code) & (Assignment.status == Status.REVIEW))
        .exists()
    )


def _decision_in_words(
    slots: Slots, codes: list[str], named: list[tuple[int, int, Unit]]
) -> Proposal | None:
    """ "T13延期同意", "同意审批局的延期申请", "T13延期不同意，年底前必须完成": 批准 / 驳回 the one
    pending request of that item or unit."""
    if not (slots.has("extend") or "申请" in slots.text):
        return None
    rejected = _REJECT.search(slots.text)
    approved = None if rejected else _APPROVE.search(slots.text)
    if rejected is None and approved is None:
        return None
    numbered = _REQUEST_NUMBER.search(slots.text)
    if numbered is not None and not codes:  # "1号延期批准", "驳回延期申请1": that request
        number = numbered.group(1) or numbered.group(2) or numbered.group(3)
        if approved is not None:
            return Proposal([f"批准 {number}"], sure=True)
        assert rejected is not None
        spans = [*slots.intents.get("extend", []), *slots.dates, *slots.numbers]
        spans.append(Found(numbered.start(), numbered.end(), numbered.group(0), None))
        spans.append(Found(rejected.start(), rejected.end(), rejected.group(0), None))
        reason = _note(slots, *spans).strip(" ，,")
        reason = re.sub(r"^(?:理由是|理由：|理由:|原因是|原因：|原因:|因为)\s*", "", reason)
        return Proposal([_with_note(f"驳回 {number}", reason)], sure=True)
    query = (
        ExtensionRequest.select(ExtensionRequest, Assignment)
        .join(Assignment)
        .switch(ExtensionRequest)
        .where(ExtensionRequest.status == RequestStatus.PENDING)
    )
    if codes:
        query = query.where(Assignment.item.in_(Item.select(Item.id).where(Item.code.in_(codes))))
    elif named:
        query = query.where(Assignment.unit.in_([u.id for _, _, u in named]))
    else:
        return None
    pending = list(query)
    if len(pending) != 1:
        return Proposal(ask="which_request", values={"count": len(pending)})
    request = pending[0]
    if approved is not None:  # the one pending request of that item or unit: sure
        return Proposal([f"批准 {request.id}"], sure=True)
    assert rejected is not None
    spans = [*slots.codes, *slots.intents.get("extend", [])]
    spans.append(Found(rejected.start(), rejected.end(), rejected.group(0), None))
    reason = _note(slots, *spans).strip(" ，,")
    return Proposal([_with_note(f"驳回 {request.id}", reason)], sure=True)


_BIND_WORDS = re.compile(r"绑")


def _bind_in_words(slots: Slots, named: list[tuple[int, int, Unit]]) -> Proposal | None:
    """ "把zhangwei绑定到审批局当联络员": 绑定."""
    if not _BIND_WORDS.search(slots.text) or not named:
        return None
    match = re.search(r"(?<![A-Za-z0-9_.@-])([A-Za-z][A-Za-z0-9_.@-]{1,63})", slots.text)
    if match is None:
        return None
    roles = [r for r in _ROLES if r in slots.text] or ["联络员"]
    unit = named[0][2]
    command = f"绑定 {match.group(1)} {unit.short_name or unit.name} {' '.join(roles)}"
    return Proposal([command], sure=True)


def _assign_in_words(ctx: Context, slots: Slots) -> Proposal | None:
    """ "请市监局12月15日前报一个…方案", "交办工信局：下周五前把…报上来": 交办, asked first."""
    if slots.codes or not slots.dates or not _ASSIGN_WORDS.search(slots.text):
        return None
    if not _ASSIGN_TASK.search(slots.text):
        return None
    named = units_in(slots.text)
    if not named:
        return None
    date_found = slots.dates[0]
    first_unit = named[0]
    if first_unit[0] > date_found.start:
        return None  # the unit comes before its deadline
    title = slots.typed(date_found.end, len(slots.text))
    title = re.sub(r"^[\s，,:：]*(?:之前|以前|前)?[\s，,:：]*(?:把|将)?", "", title)
    title = re.sub(r"(?:报上来|交上来|发过来|报过来)[。！!]*$", "", title).strip(" 。！!")
    if not title:
        return None
    units = "、".join(u.short_name or u.name for start, _, u in named if start < date_found.start)
    deadline = date_found.value.isoformat()
    return Proposal([f"交办 {units} {deadline} {title}"], reason="交办 in words")


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
