"""What a message holds, wherever it is written: item codes, percents (60%, 六成, 一半),
figures with their units (45次, 1286户: counts, never percents), dates (12月18日, 下周五,
月底), the words that say what is meant (进度, 完成, 延期, 签收, 退回…), negations and hedges
(还没完成, 差不多), corrections (刚才报错了), questions (多少, 怎么样, 吗). Pure: it reads the
text, it knows no database and no command; bot/commands/intents.py decides what the message
asks for.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.text import ParseError, Scan, chinese_number, parse_date

_NUM = r"[0-9]+(?:\.[0-9]+)?"
_CN = r"[零〇一二两三四五六七八九十百]+"

# A code as people write it: T7, t07, Ｔ７ (folded), T7-2 (a milestone), "T 7".
_CODE = re.compile(
    r"(?<![A-Za-z0-9])([TZJtzj])\s?0*([1-9][0-9]{0,2})(?:\s?-\s?([1-9][0-9]?))?(?![0-9])"
)

_CODE_CN = re.compile(
    r"(?<![A-Za-z])([TZJtzj])([一二三四五六七八九十]{1,3})(?![一二三四五六七八九十百千万成])"
)
# The code said in words.
_CODE_IN_WORDS = re.compile(
    r"(?:主要)?(?:任务|指标)\s*([1-9][0-9]?)(?![0-9%％.])|第\s*([1-9][0-9]?)\s*[项条个]?(?:主要)?(?:任务|指标)"
)
# Slips of the thumb on a phone's pinyin keyboard, put right (same length: positions hold).
_TYPOS = {
    "完城": "完成",
    "完层": "完成",
    "近度": "进度",
    "进渡": "进度",
    "延其": "延期",
    "签手": "签收",
    "更证": "更正",
    "跟正": "更正",
    "更政": "更正",
}


def _untypo(text: str) -> str:
    for wrong, right in _TYPOS.items():
        text = text.replace(wrong, right)
    return text


# Percents, strongest first. Each pattern's group 1 holds the number.
_PERCENT_SIGN = re.compile(r"(" + _NUM + r")\s*(?:%|％|个?百分点)(?:左右|上下)?")
_PERCENT_WORD = re.compile(r"百分之\s*(" + _NUM + "|" + _CN + ")")
_TENTHS = re.compile(
    r"(?<![完形达组构赞])(" + r"[0-9]|[一二两三四五六七八九十]" + r")\s*成"
    r"(?:左右|多|半|([1-9一二三四五六七八九])(?![0-9一二三四五六七八九十百千万个户家人次项件]))?"
)
# Ranges, read before single percents: 七八成, 六七十%, 百分之七八十, 70-80%, 70%到80%.
_DIGIT_CN = "一二三四五六七八九"
_RANGE_TENTHS = re.compile(r"([一二三四五六七八九])([一二三四五六七八九])\s*成")
_RANGE_TENS = re.compile(
    r"(?:百分之\s*([一二三四五六七八九])([一二三四五六七八九])十|"
    r"([一二三四五六七八九])([一二三四五六七八九])十\s*(?:%|％))"
)
_RANGE_DIGITS = re.compile(
    r"(?<![0-9.])([0-9]{1,3})\s*(?:%|％)?\s*(?:-|~|～|—|–|到|至)\s*([0-9]{1,3})\s*(?:%|％)"
)
_HALF = re.compile(r"(一大半|一半|过半|大半|多半|半数|大部分|小部分|一部分)")
# 一半 is 50 %; 过半 is at least 50 % (asked); the others say no number at all (asked for one).
_HALF_VALUES = {"一半": 50, "半数": 50, "过半": 50}
_HALF_RANGES = {"过半": 60}

# Units that make a number a count or an amount, never a percent.
COUNT_UNITS = (
    "家次", "人次", "户次", "平方米", "公里", "万元", "亿元", "千元", "小时",
    "次", "个", "户", "家", "人", "名", "项", "件", "场", "期", "篇", "条", "份", "所", "处",
    "元", "万", "亿", "天", "批", "轮", "起", "宗", "单", "笔", "台", "套", "本", "册", "张",
    "米", "吨", "位", "支", "队", "站", "点", "座", "辆", "周", "分", "岁", "届",
)  # fmt: skip
_COUNT = re.compile(
    r"(" + _NUM + r"|" + _CN + r")\s*(" + "|".join(sorted(COUNT_UNITS, key=len, reverse=True)) + ")"
)
_BARE = re.compile(
    r"(?<![0-9.])(-?" + r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|-?" + _NUM + r")(?![0-9A-Za-z])"
)

# Dates: tried in this order on the text; parse_date decides what each means.
_CN_DAY = r"[一二三四五六七八九十]{1,3}"
_YEAR = r"(?:[0-9]{4}年|明年|今年)?"
_DATE_TOKENS = (
    re.compile(r"[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}"),
    re.compile(_YEAR + r"[0-9]{1,2}月[0-9]{1,2}[日号]?"),
    re.compile(_YEAR + r"(?:十[一二]?|[一二三四五六七八九]|[0-9]{1,2})月" + _CN_DAY + r"[日号]"),
    re.compile(_YEAR + r"(?:[0-9]{1,2}|十[一二]?|[一二三四五六七八九])月(?:底|末|份?结束)"),
    re.compile(r"(?:本|这|下下个?|下个?)?(?:周|星期|礼拜)[一二三四五六日天]"),
    re.compile(r"(?<![0-9])20[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?![0-9])"),
    re.compile(r"(?:本|这个?|下个?)月(?:底|末|[0-9]{1,2}[日号]|" + _CN_DAY + r"[日号])"),
    re.compile(r"(?:今天|明天|后天|月底|月末|年底|年末)"),
    # "20号", "二十号": a day of the month (not 3号楼: a building is no date)
    re.compile(
        r"(?<![0-9月一二三四五六七八九十])(?:[0-9]{1,2}|" + _CN_DAY + r")[号日](?![楼院线室])"
    ),
)
# "延到12.25", "截止12.31": month.day, only right after a word about a date.
_DOT_DATE = re.compile(
    r"(?:(?<=到)|(?<=至)|(?<=止)|(?<=限)|(?<=延期)|(?<=延期申请)|(?<=申请延期)|(?<=延期:)|(?<=申请:))\s*"
    r"((?:1[0-2]|0?[1-9])[./-](?:3[01]|[12][0-9]|0?[1-9]))(?![0-9%.％/-])"
)
_BEFORE = re.compile(r"(?:之前|以前|前)")  # matched at a position: no ^

# What the message says it is about. Each intent: the words that say it.
INTENT_WORDS: dict[str, tuple[str, ...]] = {
    "progress": ("进度", "进展", "推进到", "推进了", "完成了约", "已完成约", "做了", "干了"),
    "done": (
        "全部完成", "已经完成", "已完成", "完成了", "完成", "做完", "弄完", "干完", "办完",
        "搞定", "办结", "完工", "完毕", "结束了", "都好了", "已落实", "落实完",
        "办妥", "弄妥", "妥了", "弄好了", "做好了", "办好了", "整完", "整好了", "搞掂",
    ),
    "extend": ("申请延期", "延期", "延到", "延至", "推迟", "推后", "延长", "顺延", "往后推", "宽限", "晚几天",
               "往后挪", "挪到", "往后延", "推到"),
    "sign": ("签收", "收到了", "收到", "已收到", "收悉", "知悉", "知道了", "晓得了", "晓得",
             "接了", "接收了", "认领"),
    "return": ("退回", "打回", "退回去", "不通过", "不予通过"),
    "pass": ("审核通过", "通过", "同意办结", "可以办结", "验收合格"),
    "score": ("打分", "评分", "打了", "给分", "评为", "记分", "计分"),
    "deadline": (
        "期限", "截止", "截至", "定到", "定在", "定为", "设到", "设为", "改到", "改为", "到期",
        "时限", "调整为", "调整到", "调到",
    ),
    "nudge": ("催办", "催一下", "催促", "催一催", "督促", "提醒"),
    "data": ("数据", "上报数据"),
    "evidence": ("佐证", "证明材料", "附件", "照片", "截图", "材料"),
    "correct": (
        "报错了", "报错", "写错了", "写错", "填错", "弄错", "打错", "输错", "搞错", "手滑", "有误",
        "更正", "纠正", "应该是", "应为", "不对", "错了",
    ),
    "submitted": ("已报送", "已上报", "已提交", "已报县政府", "已报市里", "已交"),
    "assign": ("交办",),
    "detail": ("详情", "情况", "怎么样", "咋样", "如何", "进展如何", "看看", "看一下", "查查", "查一下", "瞧瞧"),
}  # fmt: skip
# Words that say a thing is not (yet) done, or only partly: never read as done.
NEGATIONS = (
    "没完成", "未完成", "没有完成", "尚未", "还没", "没有", "未能", "还未", "未", "没",
    "不能", "无法", "还差", "差一", "差个", "剩", "剩下", "只完成", "仅完成", "部分",
    "基本", "差不多", "大概", "快要", "快完成", "即将", "马上", "争取", "计划", "准备",
    "打算", "预计", "将于", "正在", "在做", "进行中", "推进中", "完成一半", "还要", "还需",
    "不了", "不完", "来不及", "赶不上", "卡住", "暂停", "停滞", "搁置", "待完成", "有待",
    "初稿", "草稿", "阶段性", "第一阶段", "第一批", "一期",
    "莫", "冇", "要是", "如果", "假如", "希望", "但愿", "就好了", "还在", "在推进",
    "完成情况", "会按时", "会完成", "会尽快", "保证", "确保", "一定",
)  # fmt: skip
QUESTION_WORDS = (
    "多少", "几", "啥", "什么", "哪些", "哪个", "哪家", "谁", "怎么", "咋", "如何", "是否",
    "吗", "呢", "么", "?", "？", "有没有", "能不能", "可不可以", "行不行", "哪", "了没", "没有?",
    "没有？", "何时", "要不要", "需不需要", "该不该", "用不用",
)  # fmt: skip
CORRECTION_MARKERS = ("刚才", "刚刚", "刚报", "刚发", "之前", "上次", "前面", "早上", "昨天")

# Said before or around a request and meaning nothing about it.
_SALUTATION = re.compile(
    r"(?:[^\s，,。！!：:]{1,8}(?:好|您好|你好)|各位(?:领导|同志|同事)?(?:好)?|领导|老师|主任|您好|你好)"
    r"[\s，,。！!~～：:]+"
)
_MENTION = re.compile(r"@\S+\s*")
_FILLER_END = re.compile(r"[吧呢啊呀哈哦嘛啦哟咧嘞喽]+$")


def _emoji(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category in ("So", "Sk", "Cs", "Co") or 0x1F000 <= ord(ch) <= 0x1FAFF


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    text: str
    value: Any
    high: int | None = None  # a range's upper end ("七八成", "70-80%"); value is its lower end


@dataclass
class Slots:
    """A message's parts, positions into `text` (the folded message, cleaned)."""

    text: str
    scan: Scan | None = None  # the message as typed, and where `text` begins in it
    offset: int = 0
    codes: list[Found] = field(default_factory=list)  # value: "T7" or "T7-2"
    percents: list[Found] = field(default_factory=list)  # value: int 0–100
    counts: list[Found] = field(default_factory=list)  # value: (number text, unit)
    numbers: list[Found] = field(default_factory=list)  # bare numbers left over; value: text
    dates: list[Found] = field(default_factory=list)  # value: date
    vague: list[Found] = field(default_factory=list)  # 大部分, 一大半: an amount without a number
    intents: dict[str, list[Found]] = field(default_factory=dict)
    negated: bool = False
    planned: bool = False  # a plan or target (预计, 力争, 12月10日前能…), not a report
    plans: list[tuple[int, int]] = field(default_factory=list)  # where plans are said
    statistics: list[Found] = field(default_factory=list)  # percents that are statistics
    question: bool = False
    correction: bool = False

    def has(self, intent: str) -> bool:
        return bool(self.intents.get(intent))

    def first(self, intent: str) -> Found | None:
        found = self.intents.get(intent)
        return found[0] if found else None

    def typed(self, start: int, end: int) -> str:
        """What the person typed between two positions of `text` (their punctuation kept)."""
        if self.scan is None:
            return self.text[start:end]
        return self.scan.original_between(self.offset + start, self.offset + end)


def clean(text: str) -> tuple[Scan, int, int]:
    """The message without what means nothing: @mentions and emoji anywhere, salutations in
    front (王主任好！各位领导好，), particles at the end (吧 了 啊). Returns the folded message and
    where its meaningful part begins and ends."""
    text = _MENTION.sub("", text or "")
    text = "".join(ch for ch in text if not _emoji(ch))
    scan = Scan(text)
    folded = scan.text
    start, end = 0, len(folded)
    while start < end and folded[start] in " ":
        start += 1
    while True:
        match = _SALUTATION.match(folded, start)
        if not match or match.end() >= end:
            break
        start = match.end()
    tail = folded[start:end].rstrip("。.!！~～ ")
    stripped = _FILLER_END.sub("", tail)
    end = start + len(stripped or tail)
    return scan, start, end


def _overlaps(found: list[Found], start: int, end: int) -> bool:
    return any(f.start < end and start < f.end for f in found)


def read(text: str, today: date) -> Slots:
    """Every part of `text` found and valued (cleaned first: see `clean`)."""
    scan, start, end = clean(text)
    slots = Slots(_untypo(scan.text[start:end]), scan, start)
    text = slots.text
    taken: list[Found] = []
    for match in _CODE.finditer(text):
        code = f"{match.group(1).upper()}{int(match.group(2))}"
        if match.group(3):
            code += f"-{int(match.group(3))}"
        slots.codes.append(Found(match.start(), match.end(), match.group(0), code))
    if not slots.codes:  # "T三", "T十八": voice input writes the number in words
        for match in _CODE_CN.finditer(text):
            number = chinese_number(match.group(2))
            if number is not None and 1 <= number <= 99:
                code = f"{match.group(1).upper()}{number}"
                slots.codes.append(Found(match.start(), match.end(), match.group(0), code))
    if not slots.codes:  # "任务7", "第7项任务", "指标11": the code without its letter
        for match in _CODE_IN_WORDS.finditer(text):
            letter = "Z" if "指标" in match.group(0) else "T"
            code = f"{letter}{int(match.group(1) or match.group(2))}"
            slots.codes.append(Found(match.start(), match.end(), match.group(0), code))
    taken += slots.codes
    for pattern in _DATE_TOKENS:
        for match in pattern.finditer(text):
            if _overlaps(taken, match.start(), match.end()):
                continue
            end = match.end()
            before = _BEFORE.match(text, end)
            if before:
                end = before.end()
            try:
                value = parse_date(text[match.start() : end], today)
            except ParseError:
                continue
            found = Found(match.start(), end, text[match.start() : end], value)
            slots.dates.append(found)
            taken.append(found)
    for match in _DOT_DATE.finditer(text):
        if _overlaps(taken, match.start(1), match.end(1)):
            continue
        month, day = re.split(r"[./-]", match.group(1))
        try:
            value = parse_date(f"{int(month)}月{int(day)}日", today)
        except ParseError:
            continue
        found = Found(match.start(1), match.end(1), match.group(1), value)
        slots.dates.append(found)
        taken.append(found)
    slots.dates.sort(key=lambda f: f.start)
    _percents(slots, taken)
    for match in _COUNT.finditer(text):
        if _overlaps(taken, match.start(), match.end()):
            continue
        if match.group(2) in ("天", "周", "小时") and (
            re.search(r"(?:过|再过|等|这|近|最近|需要|还要|还需|要)$", text[: match.start()])
            or re.match(r"(?:后|内|以后|之后|以内|之内|左右)", text[match.end() :])
        ):
            # "过两天报", "三天内", "还需要15天左右": a time, not a figure (nor a bare number)
            taken.append(Found(match.start(), match.end(), match.group(0), None))
            continue
        found = Found(match.start(), match.end(), match.group(0), (match.group(1), match.group(2)))
        slots.counts.append(found)
        taken.append(found)
    for match in _BARE.finditer(text):
        if _overlaps(taken, match.start(), match.end()):
            continue
        slots.numbers.append(Found(match.start(), match.end(), match.group(0), match.group(1)))
    for intent, words in INTENT_WORDS.items():
        for word in sorted(words, key=len, reverse=True):
            for match in re.finditer(re.escape(word), text):
                if _overlaps(slots.intents.get(intent, []), match.start(), match.end()):
                    continue
                slots.intents.setdefault(intent, []).append(
                    Found(match.start(), match.end(), word, intent)
                )
    for spans in slots.intents.values():
        spans.sort(key=lambda f: f.start)
    # "材料马上报": the files follow; the work is not said to be unfinished.
    said = _FILES_FOLLOW.sub("", text)
    slots.negated = any(word in said for word in NEGATIONS)
    # "12月15日前完成培训": done by a date is a plan, not a report that it is done.
    for done in slots.intents.get("done", []):
        if any(d.end <= done.start <= d.end + 3 for d in slots.dates):
            slots.negated = True
    slots.question = any(word in text for word in QUESTION_WORDS)
    # "12月10日前能完成60%", "本周内力争达到70%", "3天内完成": a plan or a target, not a report.
    slots.plans = [(m.start(), m.end()) for m in _PLANNED.finditer(text)] + [
        (d.start, d.end)
        for d in slots.dates
        if re.match(r"\s*(?:之前|以前|前)", text[d.end :]) or d.text.endswith("前")
    ]
    slots.planned = bool(slots.plans)
    # "问题占比百分之二十", "审批时限压缩了50%": a statistic, not how far the work has come.
    slots.statistics = [
        p for p in slots.percents if _STATISTIC.search(text[max(0, p.start - 5) : p.start])
    ]
    slots.negated = slots.negated or slots.planned
    # A correction: a word that says the last report was wrong (报错, 填错…), or a weaker one
    # (不对, 应该是) with a word about the earlier report (刚才, 上次…).
    strong = (
        "报错",
        "写错",
        "填错",
        "弄错",
        "打错",
        "输错",
        "搞错",
        "手滑",
        "有误",
        "更正",
        "纠正",
        "是错的",
        "多报",
        "少报",
        "报多了",
        "报少了",
        "报高了",
        "报低了",
        "报早了",
        "报早",
        "重新报",
        "重报",
        "重新填",
        "重新上报",
    )
    slots.correction = any(w in text for w in strong) or (
        slots.has("correct") and any(m in text for m in CORRECTION_MARKERS)
    )
    return slots


def _ranges(slots: Slots, taken: list[Found]) -> None:
    text = slots.text
    for match in _RANGE_TENTHS.finditer(text):
        low, high = (_DIGIT_CN.index(g) + 1 for g in match.groups())
        _add_range(slots, taken, match, low * 10, high * 10)
    for match in _RANGE_TENS.finditer(text):
        first, second = match.group(1) or match.group(3), match.group(2) or match.group(4)
        low, high = _DIGIT_CN.index(first) + 1, _DIGIT_CN.index(second) + 1
        _add_range(slots, taken, match, low * 10, high * 10)
    for match in _RANGE_DIGITS.finditer(text):
        _add_range(slots, taken, match, int(match.group(1)), int(match.group(2)))


def _add_range(slots: Slots, taken: list[Found], match: re.Match[str], low: int, high: int) -> None:
    if not 0 <= low < high <= 100 or _overlaps(taken, match.start(), match.end()):
        return
    found = Found(match.start(), match.end(), match.group(0), low, high)
    slots.percents.append(found)
    taken.append(found)


def _percents(slots: Slots, taken: list[Found]) -> None:
    text = slots.text
    _ranges(slots, taken)
    for pattern, scale in ((_PERCENT_SIGN, 1), (_PERCENT_WORD, 1), (_TENTHS, 10)):
        for match in pattern.finditer(text):
            if _overlaps(taken, match.start(), match.end()):
                continue
            raw = match.group(1)
            number = float(raw) if re.fullmatch(_NUM, raw) else chinese_number(raw)
            if number is None:
                continue
            value = number * scale
            if "成半" in match.group(0):
                value += 5
            elif pattern is _TENTHS and match.group(2):  # 六成五: 65 %
                digit = match.group(2)
                value += int(digit) if digit.isdigit() else _DIGIT_CN.index(digit) + 1
            if value != int(value) or not 0 <= value <= 100:
                continue
            found = Found(match.start(), match.end(), match.group(0), int(value))
            slip = text[match.end() : match.end() + 1]
            if pattern is _PERCENT_WORD and slip and slip in _TEN_SLIPS and value < 10:
                # "百分之七时": 七十 slipped on the keyboard; asked as 70 %, never taken as 7 %.
                said = text[match.start() : match.end() + 1]
                tens = int(value) * 10
                found = Found(match.start(), match.end() + 1, said, tens, tens)
            _add_percent(slots, taken, found)
    for match in _HALF.finditer(text):
        if _overlaps(taken, match.start(), match.end()):
            continue
        word = match.group(1)
        bound = _BOUND.search(text, 0, match.start())
        if word not in _HALF_VALUES or bound:  # 大部分, 一大半, 不到一半: an amount, not a number
            start = bound.start() if bound else match.start()
            said = text[start : match.end()]
            slots.vague.append(Found(start, match.end(), said, said))
            continue
        found = Found(match.start(), match.end(), word, _HALF_VALUES[word], _HALF_RANGES.get(word))
        _add_percent(slots, taken, found)
    slots.percents.sort(key=lambda f: f.start)


_PLANNED = re.compile(
    r"力争|争取|预计|计划(?!的)|目标|打算|有望|应该能|应该可以|能完成|能做完|能弄完|能达到|能做到|可以完成"
    r"|将达到|会达到|要达到|要完成|[0-9一二两三四五六七八九十]+\s*(?:天|日|周|个月|月)(?:内|之内|以内|后)"
    r"|(?:本周|这周|下周|本月|这个月|下个?月|月底|年底)(?:内|之内|以内|前|之前)"
)
_STATISTIC = re.compile(
    r"(?:占比|比例|比重|(?<!完成)(?<!完成了)率|占|同比|环比|增长了?|下降了?|压缩了?|减少了?|降低了?"
    r"|提高了?|提升了?)\s*(?:了|为|是|约|达)?\s*$"
)
_FILES_FOLLOW = re.compile(
    r"(?:马上|随后|稍后|尽快)(?:就)?(?:报|发|交|补|上传|提交|送)(?:过来|上来|给您)?"
)
_TEN_SLIPS = set("时实石拾食使事室")  # 十 as a phone's pinyin keyboard slips it
# "不到一半", "不足50%", "低于六成": a bound, not the number done (asked for the number).
_BOUND = re.compile(
    r"(?:不到|不足|没到|没有到|未到|未达到|没达到|不满|低于|少于|不超过|不及)(?:的)?\s*$"
)


def _add_percent(slots: Slots, taken: list[Found], found: Found) -> None:
    taken.append(found)
    bound = _BOUND.search(slots.text, 0, found.start)
    if bound:
        said = slots.text[bound.start() : found.end]
        slots.vague.append(Found(bound.start(), found.end, said, said))
    else:
        slots.percents.append(found)


_NUMBERED = re.compile(
    r"(?:^|(?<=[\s；;。，,]))(?:[0-9]{1,2}(?:[、．)）]|\.(?![0-9]))|[（(][0-9]{1,2}[)）]|[①②③④⑤⑥⑦⑧⑨⑩])\s*"
)


_GROUPED = re.compile(r"[\s、,，;；和与及跟/&+]*(?:还有|以及)?[\s、,，]*")


def items_of(line: str, today: date) -> list[str]:
    """One line that reports on several items, cut where each item's code begins: "T7进度60%，
    T11完成了" is two; "T7、T11都是百分之五十" is one (the codes share what follows)."""
    if len(_CODE.findall(unicodedata.normalize("NFKC", line))) < 2:
        return [line]  # the common case, without reading the line
    found = read(line, today)
    codes = sorted(found.codes, key=lambda f: f.start)
    if len({c.value for c in codes}) < 2:
        return [line]
    bounds = [0]
    for before, code in itertools.pairwise(codes):
        if _GROUPED.fullmatch(found.text[before.end : code.start]):
            continue  # "T7、T11": said of both
        bounds.append(code.start)
    if len(bounds) < 2:
        return [line]
    ends = [*bounds[1:], len(found.text)]
    return [found.typed(a, b).strip() for a, b in zip(bounds, ends, strict=True)]


def _unnumbered(line: str) -> str:
    match = _NUMBERED.match(line)
    return (line[match.end() :].strip() or line) if match else line


def lines_of(text: str) -> list[str]:
    """A message split into its items: one per line, or numbered 1、2、3、/（1）/① when it
    starts with such a number."""
    parts = [p.strip() for p in re.split(r"[\r\n]+", text or "") if p.strip()]
    if len(parts) == 1 and _NUMBERED.match(parts[0]):
        numbered = [p.strip() for p in _NUMBERED.split(parts[0]) if p.strip()]
        if len(numbered) > 1:
            return numbered
    if len(parts) > 1:  # "1.T3 70%": the list's numbers are no part of what each line says
        parts = [_unnumbered(p) for p in parts]
    return parts
