"""The phrasebook's harness (tests/commands/phrasebook.py): one fixture with a person of every
role, a *meaning view* of the state, and one row run end to end and judged. Pytest-free, so that
bench/phrasebook_score.py runs the same rows on the same fixture.

How a row runs: the fixture is built once (SETUP, through the real pipeline, as SQLite file); each
row gets a fresh copy of that file. The row's message goes through `ChatDriver.say`; if the reply
is a yes/no question (a card, or a text asking "…吗？"), "是" is answered, whatever the row
expects, to see what the question proposed. The state's meaning after that is compared with the
meaning after the row's canonical commands, typed on another fresh copy by the same person.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from conftest import START, make_config
from fakes.transport import RecordingTransport
from helpers import ChatDriver

from bot.clock import FakeClock
from bot.services import build_services
from models.db import database, make_database
from models.loader import load_plan
from models.messages import OutboxMessage
from models.migrations import migrate
from models.org import GroupMember, Member, Unit, UnitGroup
from models.plan import Assignment, Item
from models.progress import Evidence, ExtensionRequest, ProgressReport
from models.schedule import CalendarDay, CalendarYear, DigestSnapshot
from models.scores import FigureReport, Score

# The rows are typed at the fixed clock (Thursday 2026-11-26 10:00); the fixture was made
# 40 minutes before, so its reports are "just now" (刚才) but not this very minute.
SETUP_AT = START - timedelta(minutes=40)
ROWS_AT = START

# Who is who (all bound by the admin `boss`, BOT_ADMINS):
#   li   县市场监管局 联络员   T7 30% (deadline 12-20, node T7-1 12-10), T11 (12-10, just nudged),
#                            T12 60% (the last report, to correct), T17 (co-unit, overdue 11-20),
#                            J1 (assigned, 12-15, not signed)
#   hd   县市场监管局 负责人
#   gx   县工信科技局 联络员   T3 50% (12-31), T18 20% (12-15), T17 (lead) reported done → 待审核,
#                            J2 (assigned, 12-11, not signed)
#   wang 县工信科技局 领导 and 负责人
#   sp   县行政审批局 联络员   T13 40% (12-25) with an extension request pending (编号 1, to 2027-01-15),
#                            T22 (12-05 for 审批局 only)
#   tj   县统计局 联络员       no deadlines; Z1, Z2, Z4, Z6 are its figures
#   lead 县人民政府 领导
#   boss the office (admin)
#   nobody is not bound at all.
SETUP: tuple[tuple[str, str, str], ...] = (
    # (who, text, what the reply must contain)
    ("boss", "绑定 li 市监局 联络员", "已绑定"),
    ("boss", "绑定 hd 市监局 负责人", "已绑定"),
    ("boss", "绑定 gx 工信局 联络员", "已绑定"),
    ("boss", "绑定 wang 工信局 领导 负责人", "已绑定"),
    ("boss", "绑定 sp 审批局 联络员", "已绑定"),
    ("boss", "绑定 tj 统计局 联络员", "已绑定"),
    ("boss", "绑定 lead 县政府 领导", "已绑定"),
    ("boss", "期限 T7 2026-12-20", "已设定"),
    ("boss", "期限 T11 2026-12-10", "已设定"),
    ("boss", "期限 T17 2026-11-20", "已设定"),
    ("boss", "期限 T3 2026-12-31", "已设定"),
    ("boss", "期限 T18 2026-12-15", "已设定"),
    ("boss", "期限 T13 2026-12-25", "已设定"),
    ("boss", "期限 T22 审批局 2026-12-05", "已设定"),
    ("boss", "交办 市监局 2026-12-15 开展网络交易监管业务培训", "已交办 J1"),
    ("boss", "交办 工信局 2026-12-11 报送电商企业名录", "已交办 J2"),
    ("li", "节点 T7 2026-12-10 完成全县网络经营主体摸底", "T7-1"),
    ("li", "进度 T7 30% 已部署", "已记录"),
    ("li", "进度 T12 60%", "已记录"),
    ("gx", "进度 T3 50%", "已记录"),
    ("gx", "进度 T18 20%", "已记录"),
    ("sp", "进度 T13 40%", "已记录"),
    ("gx", "完成 T17 公共服务平台已升级", "等待办公室审核"),
    ("sp", "延期 T13 2027-01-15 系统对接未完成", "编号 1"),
    ("boss", "催办 T11", "已催办"),  # the last message li got is this reminder
)

KINDS = ("run", "confirm", "either", "nochange")
CRASHED = "处理这条消息时系统出错"  # the reply when a handler raised (templates/errors.j2)
NO_REPLY = "(the bot did not answer exactly once)"
SENT = "发出 "  # the meaning view's keys for messages sent besides replies
YES = "是"

# Failure categories, worst first. WRONG QUESTION is a kind of MISSED: the bot asked, but what
# it proposed is not what was meant (the person would say 不是).
OK = "OK"
WRONG_CHANGE = "WRONG CHANGE"
WRONG_QUESTION = "WRONG QUESTION"
MISSED = "MISSED"
ASKED_WHEN_SURE = "ASKED-WHEN-SURE"
ACTED_WHEN_UNSURE = "ACTED-WHEN-UNSURE"
CATEGORIES = (OK, WRONG_CHANGE, WRONG_QUESTION, MISSED, ASKED_WHEN_SURE, ACTED_WHEN_UNSURE)


# ---------------------------------------------------------------- the expectation DSL


@dataclass(frozen=True)
class Expect:
    """A row's `expect`, parsed (the DSL is described in tests/commands/phrasebook.py)."""

    kind: str
    commands: tuple[str, ...] = ()
    words: tuple[tuple[str, ...], ...] = ()  # each word: its alternatives

    @classmethod
    def parse(cls, text: str) -> Expect:
        kind, _, rest = text.partition(":")
        kind, rest = kind.strip(), rest.strip()
        if kind not in KINDS:
            raise ValueError(f"unknown expectation {text!r}")
        if kind == "nochange":
            words = tuple(
                tuple(alt.strip() for alt in word.split("|") if alt.strip())
                for word in rest.split("/")
                if word.strip()
            )
            return cls(kind, (), words)
        commands = tuple(c.strip() for c in rest.split(" | ") if c.strip())
        if not commands:
            raise ValueError(f"{kind} needs at least one command: {text!r}")
        return cls(kind, commands)


# ---------------------------------------------------------------- the meaning view


def _day(value) -> str | None:
    return value.isoformat() if value is not None else None


def _points(value) -> str:
    return format(Decimal(value).normalize(), "f")


def _figures(values) -> str:
    if isinstance(values, dict):
        return json.dumps(values, ensure_ascii=False, sort_keys=True, default=str)
    return json.dumps(values, ensure_ascii=False, default=str)


def meaning() -> dict[str, object]:
    """What the state means to the people using it, as flat keys, e.g. "T7/市监局 进度" -> 60.

    Per unit's share of an item (and per node or period): status, percent, deadline, signed,
    role, the reports (percent and kind, a done report and a report of 100 % alike), extension
    requests (date and state); figures and scores per indicator; people, items, groups,
    calendar, digests; and the messages sent besides replies (催办, notices to the office…) as
    counts per kind and recipient. Ids, times, notes and reasons, the audit log and the
    inbound/outbox/card/prompt rows themselves are left out."""
    view: dict[str, object] = {}
    units = {u.id: u.short_name or u.name for u in Unit.select()}
    items = {i.id: i for i in Item.select()}
    names: dict[int, str] = {}
    for a in Assignment.select().order_by(Assignment.id):
        code = items[a.item_id].code
        if a.kind == "milestone":
            code = f"{code}-{a.seq}"
        elif a.kind == "occurrence":
            code = f"{code}@{a.period}"
        key = f"{code}/{units[a.unit_id]}"
        names[a.id] = key
        view[f"{key} 状态"] = a.status
        view[f"{key} 进度"] = a.progress
        view[f"{key} 期限"] = _day(a.deadline)
        view[f"{key} 长期"] = a.ongoing
        view[f"{key} 牵头"] = a.role
        if items[a.item_id].kind == "assigned":
            view[f"{key} 签收"] = a.signed_at is not None
        if a.kind == "milestone":
            view[f"{key} 责任人"] = a.owner_userid
    reports: dict[str, list] = defaultdict(list)
    for r in ProgressReport.select().order_by(ProgressReport.id):
        kind = "done" if r.kind == "done" or (r.kind == "progress" and r.percent == 100) else r.kind
        reports[names[r.assignment_id]].append((r.percent, kind))
    for key, rows in reports.items():
        view[f"{key} 报告"] = tuple(rows)
    requests: dict[str, list] = defaultdict(list)
    for e in ExtensionRequest.select().order_by(ExtensionRequest.id):
        requests[names[e.assignment_id]].append((e.kind, _day(e.requested_deadline), e.status))
    for key, rows in requests.items():
        view[f"{key} 申请"] = tuple(rows)
    figures: dict[str, list] = defaultdict(list)
    for f in FigureReport.select().order_by(FigureReport.id):
        figures[f"{items[f.item_id].code}/{units.get(f.unit_id, '办公室')}"].append(
            _figures(f.values)
        )
    for key, rows in figures.items():
        view[f"{key} 数据"] = tuple(rows)
    scores: dict[str, list] = defaultdict(list)
    for s in Score.select().order_by(Score.id):
        scores[items[s.item_id].code].append(
            (_points(s.points), s.source, s.state, units.get(s.unit_id, ""))
        )
    for code, rows in scores.items():
        view[f"{code} 评分"] = tuple(rows)
    evidence: Counter = Counter()
    for e in Evidence.select():
        item = items[e.item_id].code if e.item_id in items else "?"
        evidence[(item, units.get(e.unit_id, ""), e.point, e.withdrawn_at is not None)] += 1
    for (item, unit, point, withdrawn), count in evidence.items():
        view[f"{item}/{unit} 佐证 第{point}项{' 撤回' if withdrawn else ''}"] = count
    for m in Member.select():
        view[f"人员 {m.wecom_userid}"] = (units.get(m.unit_id, ""), m.role, m.active)
    for item in items.values():
        view[f"事项 {item.code}"] = (
            item.kind,
            item.source,
            item.recurrence,
            item.cancelled_at is not None,
        )
    groups: dict[str, list] = defaultdict(list)
    group_names = {g.id: g for g in UnitGroup.select()}
    for gm in GroupMember.select():
        groups[group_names[gm.group_id].name].append(units[gm.unit_id])
    for group in group_names.values():
        view[f"单位组 {group.name}"] = (
            tuple(sorted(groups.get(group.name, []))),
            group.confirmed_at is not None,
        )
    for day in CalendarDay.select():
        view[f"日历 {day.day}"] = day.workday
    for year in CalendarYear.select():
        view[f"日历 {year.year} 已录入"] = True
    for snap in DigestSnapshot.select():
        view[f"周报 {snap.week}"] = bool(snap.published_by)
    sent: Counter = Counter()
    for row in OutboxMessage.select(OutboxMessage.dedupe_key, OutboxMessage.recipient):
        prefix = row.dedupe_key.split(":", 1)[0]
        if prefix in ("reply", "send-notice"):
            continue
        sent[(prefix, row.recipient)] += 1
    for (prefix, recipient), count in sent.items():
        view[f"{SENT}{prefix} → {recipient or '群'}"] = count
    return view


def changes(before: dict, after: dict) -> dict[str, tuple[object, object]]:
    """key -> (before, after) for every key whose value differs (None: absent)."""
    return {
        key: (before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def compare(actual: dict, expected: dict) -> str:
    """right | none | partial (a part of what was expected, nothing else) | wrong."""
    if actual == expected:
        return "right"
    if not actual:
        return "none"
    for key, (old, new) in actual.items():
        if key in expected and expected[key][1] == new:
            continue
        if key.startswith(SENT) and key in expected and _fewer(old, new, expected[key][1]):
            continue  # some of the expected messages went out: a part, not a wrong change
        return "wrong"
    return "partial"


def _fewer(old, new, wanted) -> bool:
    counts = (old or 0, new, wanted)
    return all(isinstance(c, int) for c in counts) and counts[0] < counts[1] < counts[2]


def show_changes(diff: dict) -> str:
    if not diff:
        return "（无变化）"
    return "；".join(f"{k}: {_short(old)} → {_short(new)}" for k, (old, new) in diff.items())


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 80 else "…" + text[-77:]


def is_question(reply: str | None) -> bool:
    """A yes/no question: sent as a card with buttons, or a text asking "…吗？"."""
    if reply is None:
        return False
    return bool(getattr(reply, "card", None)) or "吗？" in reply or "吗?" in reply


# ---------------------------------------------------------------- one row, judged


@dataclass(frozen=True)
class Outcome:
    category: str
    right: bool  # understood, or met with the right question (the score counts these)
    detail: str
    reply: str
    answer: str | None  # the reply to "是", when the bot asked

    @property
    def passed(self) -> bool:
        return self.category == OK


def without_echo(reply: str, typed: str) -> str:
    """The reply without what it quotes back from the message (“T7截止啥时候…”), so a word
    the row wants cannot come from the person's own words."""

    def drop(match: re.Match) -> str:
        inner = match.group(1).rstrip("…").strip()
        return "" if inner and inner in typed else match.group(0)

    return re.sub(r"“([^”]*)”", drop, reply)


def judge(
    expect: Expect,
    typed: str,
    reply: str,
    asked: bool,
    acted: dict,
    final: dict,
    expected: dict,
    answer: str | None,
) -> tuple[str, bool, str]:
    """(category, right, detail) for one row: `acted` what changed on the message itself,
    `final` what changed after "是" (when asked), `expected` what the canonical commands change."""
    for said in (reply, answer):
        broke = "the bot crashed (see the log)" if said and CRASHED in said else ""
        if said and said.startswith(NO_REPLY):
            broke = said
        if broke:  # never an answer, whatever the row expects
            if acted or final:
                return WRONG_CHANGE, False, f"{broke}, and changed: " + show_changes(final)
            return MISSED, False, broke
    if expect.kind == "nochange":
        if acted:
            return WRONG_CHANGE, False, "changed: " + show_changes(acted)
        if asked and final:
            return WRONG_QUESTION, False, "the question proposed: " + show_changes(final)
        said = without_echo(reply, typed)
        missing = [w for w in expect.words if not any(alt in said for alt in w)]
        if not missing:
            return OK, True, ""
        if asked and answer is not None:
            answered = without_echo(answer, typed)
            if all(any(alt in answered for alt in w) for w in missing):
                return ASKED_WHEN_SURE, True, "the answer came only after 是"
        return MISSED, False, "reply lacks " + "、".join("|".join(w) for w in missing)
    first = compare(acted, expected)
    if not asked:
        if first == "wrong":
            return WRONG_CHANGE, False, _versus(acted, expected)
        if first == "none":
            return MISSED, False, "nothing changed, no question"
        if first == "partial":
            if expect.kind == "confirm":
                return (
                    ACTED_WHEN_UNSURE,
                    False,
                    "acted at once, and only in part: " + _versus(acted, expected),
                )
            return MISSED, False, "only in part: " + _versus(acted, expected)
        if expect.kind == "confirm":
            return ACTED_WHEN_UNSURE, True, "acted at once (right)"
        return OK, True, ""
    # It asked (perhaps after doing a part at once).
    if acted and first == "wrong":
        return WRONG_CHANGE, False, "before asking: " + _versus(acted, expected)
    last = compare(final, expected)
    if last == "wrong":
        return WRONG_QUESTION, False, "after 是: " + _versus(final, expected)
    if last == "none":
        return MISSED, False, "asked, but 是 changed nothing"
    if last == "partial":
        return MISSED, False, "after 是, only in part: " + _versus(final, expected)
    if expect.kind == "run":
        return ASKED_WHEN_SURE, True, "asked, and 是 gave the right result"
    if expect.kind == "confirm" and acted:
        return ACTED_WHEN_UNSURE, True, "acted in part before asking"
    return OK, True, ""


def _versus(actual: dict, expected: dict) -> str:
    text = f"got {show_changes(actual)} | expected {show_changes(expected)}"
    return text + _same_percent_other_kind(actual, expected)


def _same_percent_other_kind(actual: dict, expected: dict) -> str:
    """A note when the percents reported are the ones expected but the kind of report is not
    (a correction recorded as a new progress report, or the reverse)."""
    for key, (_, got) in actual.items():
        wanted = expected.get(key, (None, None))[1]
        if not (key.endswith(" 报告") and isinstance(got, tuple) and isinstance(wanted, tuple)):
            continue
        if got != wanted and [p for p, _ in got] == [p for p, _ in wanted]:
            kinds = f"{got[-1][1]} instead of {wanted[-1][1]}"
            return f" (the percents are right; the report is a {kinds})"
    return ""


# ---------------------------------------------------------------- the fixture


class Phrasebook:
    """The fixture, built once under `workdir`, and rows run on fresh copies of it."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._copies = itertools.count(1)
        self.clock = FakeClock(SETUP_AT)
        self.services = build_services(
            make_config(self.workdir, "sqlite:///unused.db"), self.clock, RecordingTransport()
        )
        self.bot = ChatDriver(self.services)
        self.template = self._build()
        with self.copy():
            self.base = meaning()
        self._expected: dict[tuple[str, tuple[str, ...]], tuple[dict, list[str]]] = {}

    def _build(self) -> Path:
        path = self.workdir / "phrasebook.db"
        db = make_database(f"sqlite:///{path}")
        database.initialize(db)
        with db.connection_context():
            migrate(db)
            load_plan(START)
            self.clock.set(SETUP_AT)
            for who, text, wanted in SETUP:
                reply = self.bot.say(who, text)
                if wanted not in reply:
                    raise RuntimeError(f"fixture step {who}: {text!r} answered {reply!r}")
            db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        return path

    @contextlib.contextmanager
    def copy(self) -> Iterator[ChatDriver]:
        """A fresh copy of the fixture, connected, the clock at ROWS_AT; removed afterwards."""
        path = self.workdir / f"row{next(self._copies)}.db"
        shutil.copy(self.template, path)
        db = make_database(f"sqlite:///{path}")
        database.initialize(db)
        db.connect()
        self.clock.set(ROWS_AT)
        try:
            yield self.bot
        finally:
            db.close()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

    def expected(self, who: str, commands: tuple[str, ...]) -> tuple[dict, list[str]]:
        """What the canonical commands change, typed by `who` on a fresh copy, and their replies."""
        key = (who, commands)
        if key not in self._expected:
            with self.copy() as bot:
                replies = [str(bot.say(who, command)) for command in commands]
                self._expected[key] = (changes(self.base, meaning()), replies)
        return self._expected[key]

    def run(self, who: str, text: str, expect: Expect | str) -> Outcome:
        if isinstance(expect, str):
            expect = Expect.parse(expect)
        wanted = self.expected(who, expect.commands)[0] if expect.commands else {}
        with self.copy() as bot:
            reply = _say(bot, who, text)
            acted = changes(self.base, meaning())
            asked = is_question(reply)
            answer = None
            final = acted
            if asked:
                answer = str(_say(bot, who, YES))
                final = changes(self.base, meaning())
        category, right, detail = judge(
            expect, text, str(reply), asked, acted, final, wanted, answer
        )
        return Outcome(category, right, detail, str(reply), answer)


def _say(bot: ChatDriver, who: str, text: str) -> str:
    """The reply; a message answered not exactly once is a finding, not a harness error."""
    try:
        return bot.say(who, text)
    except AssertionError as exc:
        return f"{NO_REPLY} {exc}"


def describe(who: str, text: str, expect: str, outcome: Outcome) -> str:
    """The failure message: what was typed, what was expected, what happened."""
    lines = [
        f"{outcome.category}: {who} typed {text!r}",
        f"expected: {expect}",
        f"reply: {one_line(outcome.reply)}",
    ]
    if outcome.answer is not None:
        lines.append(f"after 是: {one_line(outcome.answer)}")
    if outcome.detail:
        lines.append(outcome.detail)
    return "\n".join(lines)


def one_line(text: str | None, limit: int = 160) -> str:
    flat = " ⏎ ".join(line.strip() for line in (text or "").splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def row_ids(rows) -> list[str]:
    """A readable test id per row: section, its number in the section, who typed it."""
    counts: Counter = Counter()
    ids = []
    for section, who, _, _ in rows:
        counts[section] += 1
        ids.append(f"{section}-{counts[section]:03d}-{who}")
    return ids


def refused_canonical(book: Phrasebook, rows) -> list[str]:
    """The expected commands that change nothing when typed alone (a refused canonical command
    would make its rows expect nothing), once each."""
    refused = []
    for _, who, _, expect in rows:
        for command in Expect.parse(expect).commands:
            changed, replies = book.expected(who, (command,))
            if not changed:
                refused.append(f"{who}: {command} → {replies[0]}")
    return list(dict.fromkeys(refused))
