"""交办: work beyond the plan (leaders' instructions, meeting decisions, superiors' and the
office's own), each with a code (J1, J2…), signed for (签收) by every unit, chased like plan
items, possibly recurring (每月5日…), and withdrawn (撤销) without ever being deleted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import peewee

from bot.actions.base import Acting, Refused, liaisons_by_unit
from bot.actions.leader_loop import report_back
from bot.actions.lookup import own_share
from bot.cards import queue_card, task_id_for
from models import userids
from models.db import tuples
from models.org import Member, Unit
from models.plan import Assignment, Item, ItemKind, Part, Role, Source, Status, Urgency
from reminders.jobs import ensure_occurrences
from reminders.recurrence import Recurrence
from reminders.state import deadline_label

ASSIGNED_POSITION = 10_000  # after the plan's items in every list


def default_source(acting: Acting) -> Source:
    """领导批示 when a leader assigns; the office's own work when the office does."""
    return Source.OFFICE if acting.is_admin else Source.LEADER


def next_code() -> str:
    numbers = [
        int(code[1:])
        for (code,) in tuples(Item.select(Item.code).where(Item.code.startswith("J")))
        if code[1:].isdigit()
    ]
    return f"J{max(numbers, default=0) + 1}"


def leads_first(named: list[tuple[Unit, bool, str]]) -> list[tuple[Unit, Role, str]]:
    """(unit, marked 牵头?, group) in the order written → roles, each unit once (a unit named
    itself wins over the same unit reached through a group). The unit marked 牵头 leads; when
    none is marked, the first unit named directly (not through a group) leads, as the plan's
    own brackets read; a single unit always leads."""
    units: dict[int, list[Any]] = {}
    for unit, marked, group in named:
        seen = units.get(unit.id)
        if seen is None:
            units[unit.id] = [unit, marked, group]
            continue
        seen[1] = seen[1] or marked
        if not group:
            seen[2] = ""
    rows = list(units.values())
    if sum(1 for _, marked, _ in rows if marked) > 1:
        raise Refused("只能有一个牵头单位。")
    lead = next((u.id for u, marked, _ in rows if marked), None)
    if lead is None:
        lead = next((u.id for u, _, group in rows if not group), None)
    if lead is None and len(rows) == 1:
        lead = rows[0][0].id
    return [(u, Role.LEAD if u.id == lead else Role.CO, g) for u, _, g in rows]


@dataclass(frozen=True)
class AssignSpec:
    title: str
    source: str
    units: list[tuple[Unit, Role, str]]  # unit, role, the group it was reached through
    deadline: date | None = None
    ongoing: str = ""
    rule: Recurrence | None = None
    body: str = ""  # the whole text as written (with the source marker)
    code: str = ""  # fixed by an import's dry run; "" for the next free J<n>
    allow_past: bool = False  # a sheet may record work already due
    # 立项 with the source document (the desk's form; chat may give them too).
    doc_no: str = ""  # 文号
    instructed_by: str = ""  # 批示领导: a bound leader's userid
    instruction: str = ""  # 原文: the instruction's words
    urgency: str = Urgency.NORMAL  # 紧急程度


@dataclass(frozen=True)
class Assigned:
    item: Item
    first: date | None  # a recurring item's first deadline
    notified: int
    unbound: list[str] = field(default_factory=list)


def assign_item(acting: Acting, spec: AssignSpec) -> Assigned:
    """交办 an item to units: every liaison gets a card to sign for it."""
    if not (acting.is_admin or (acting.member and "leader" in acting.member.roles)):
        raise Refused("只有领导和领导小组办公室可以交办事项。")
    title = spec.title.strip()
    if not title:
        raise Refused("请写明交办的事项。")
    if spec.source not in set(Source):
        raise Refused(f"来源“{spec.source}”不对，可写：{'、'.join(Source)}。")
    if not spec.units:
        raise Refused("这些单位组里还没有单位。")
    if spec.deadline is not None and spec.deadline < acting.today and not spec.allow_past:
        raise Refused(f"期限 {spec.deadline} 已经过去，请写今天或以后的日期。")
    if spec.deadline is None and spec.rule is None and not spec.ongoing:
        raise Refused("请写明期限或报送周期。")
    leader = check_instruction(spec)
    seen: set[int] = set()
    units = []
    for unit, role, group in spec.units:
        if unit.id not in seen:
            seen.add(unit.id)
            units.append((unit, role, group))
    code = spec.code or next_code()
    if Item.select().where(Item.code == code).exists():
        raise Refused(f"编号 {code} 已被占用。")
    item = Item.create(
        code=code,
        kind=ItemKind.ASSIGNED,
        position=ASSIGNED_POSITION + int(code[1:]),
        title=title[:200],
        body=spec.body or title,
        section=spec.source,
        units_text="、".join(u.name for u, _, _ in units),
        source=spec.source,
        assigned_by=acting.userid,
        created_at=acting.now,
        recurrence=spec.rule.text if spec.rule else "",
        doc_no=spec.doc_no.strip(),
        instructed_by=leader.wecom_userid if leader else "",
        instruction=spec.instruction.strip(),
        urgency=spec.urgency,
    )
    for unit, role, group in units:
        Assignment.create(
            item=item,
            unit=unit,
            role=role,
            via_group=group if role != Role.LEAD else "",
            deadline=None if spec.rule else spec.deadline,
            ongoing="" if spec.rule or spec.deadline else spec.ongoing,
            deadline_set_on=acting.today,
            updated_at=acting.now,
        )
    if spec.rule is not None:
        ensure_occurrences(acting.now, acting.config, acting.calendar, item_ids=[item.id])
    first = (
        Assignment.select(peewee.fn.MIN(Assignment.deadline))
        .where((Assignment.item == item) & (Assignment.kind != Part.SHARE))
        .scalar()
    )
    when_log = (
        spec.rule.text if spec.rule else "期限 " + deadline_label(spec.deadline, spec.ongoing)
    )
    acting.audit(
        "assign_item",
        f"交办 {code}（{spec.source}"
        + (f"，{spec.doc_no.strip()}" if spec.doc_no.strip() else "")
        + (f"，{spec.urgency}" if spec.urgency != Urgency.NORMAL else "")
        + (f"，批示领导 {leader.label}" if leader else "")
        + f"）：{title[:100]}；"
        + "、".join(u.name + ("（牵头）" if r == Role.LEAD else "") for u, r, _ in units)
        + f"；{when_log}",
        item_code=code,
        after={
            "units": [u.name for u, _, _ in units],
            "lead": next((u.name for u, r, _ in units if r == Role.LEAD), None),
            "deadline": str(spec.deadline) if spec.deadline else None,
            "ongoing": spec.ongoing,
            "recurrence": spec.rule.text if spec.rule else "",
            "source": spec.source,
            "doc_no": spec.doc_no.strip(),
            "instructed_by": leader.wecom_userid if leader else "",
            "urgency": spec.urgency,
        },
    )
    when = (
        f"{spec.rule.text}（首次 {first}）"
        if spec.rule
        else f"期限 {deadline_label(spec.deadline, spec.ongoing)}"
    )
    notified = _notify(acting, item, [u for u, _, _ in units], when)
    unbound = [u.name for u, _, _ in units if not notified.get(u.id)]
    return Assigned(item, first, sum(notified.values()), unbound)


def leader_named(written: str) -> Member | None:
    """A bound leader as people write them: their name or userid (None: no such leader)."""
    written = written.strip()
    if not written:
        return None
    found: Member | None = Member.get_or_none(
        Member.having("leader")
        & ((Member.display_name == written) | userids.matches(Member.wecom_userid, written))
    )
    return found


def check_instruction(spec: AssignSpec) -> Member | None:
    """The 立项 fields: a known 紧急程度, a 文号 and 原文 of sensible length, and a 批示领导 who
    is a bound, active leader (returned; None when none is named)."""
    if spec.urgency not in set(Urgency):
        raise Refused(f"紧急程度“{spec.urgency}”不对，可选：{'、'.join(Urgency)}。")
    if len(spec.doc_no.strip()) > 64:
        raise Refused("文号太长（最多 64 个字）。")
    if len(spec.instruction) > 5000:
        raise Refused("批示原文太长（最多 5000 个字）。")
    userid = spec.instructed_by.strip()
    if not userid:
        return None
    leader = Member.get_or_none(
        userids.matches(Member.wecom_userid, userid) & Member.having("leader")
    )
    if leader is None:
        raise Refused(f"批示领导“{userid}”不是已绑定的领导，请先绑定（角色：领导）。")
    return leader


def _notify(acting: Acting, item: Item, units: list[Unit], when: str) -> dict[int, int]:
    """A card to each liaison of each unit: what is asked, by when, and a 签收 button."""
    liaisons = liaisons_by_unit(u.id for u in units)
    told: dict[int, int] = {}
    for unit in units:
        if acting.letters is not None:
            acting.letters.add(
                unit.id, f"新交办 {item.code} {item.title}（{when}），请发送“签收 {item.code}”"
            )
            told[unit.id] = len(liaisons[unit.id])
            continue
        text = acting.renderer.render(
            "assigned_notice.j2", item=item, unit=unit, when=when, by=acting.label
        )
        for member in liaisons[unit.id]:
            queue_card(
                acting.outbox,
                acting.now,
                kind="assign",
                userid=member.wecom_userid,
                title=f"【交办】{item.code} {item.title}",
                description=f"{item.source}｜请签收",
                rows=[(item.code, when)],
                text=text,
                task_id=task_id_for("assign", item.code, member.id),
                dedupe_key=f"assign:{item.code}:{acting.cause}:{member.wecom_userid}",
            )
            told[unit.id] = told.get(unit.id, 0) + 1
    return told


@dataclass(frozen=True)
class Signed:
    share: Assignment
    already: bool


def sign(acting: Acting, item: Item) -> Signed:
    """签收 of the acting person's unit's share of a 交办 item (a card's button or chat)."""
    if not item.is_assigned:
        raise Refused(f"{item.code} 是方案中的任务或指标，无需签收。")
    if item.cancelled_at is not None:
        raise Refused(f"{item.code} 已撤销，无需签收。")
    share = own_share(acting, item)
    if share.signed_at is not None:
        return Signed(share, True)
    Assignment.update(signed_at=acting.now, signed_by=acting.userid).where(
        Assignment.id == share.id
    ).execute()
    acting.audit(
        "sign",
        f"{share.unit.name}签收 {item.code}",
        item_code=item.code,
        unit_name=share.unit.name,
        after={"signed": True},
    )
    when = acting.now.astimezone(acting.config.timezone)
    report_back(
        acting,
        item,
        "签收",
        f"{share.unit.name}已于 {when:%m-%d %H:%M} 签收。",
        f"sign:{share.id}",
    )
    return Signed(Assignment.get_by_id(share.id), False)


@dataclass(frozen=True)
class Cancelled:
    item: Item
    told: int


def cancel_item(acting: Acting, item: Item, reason: str) -> Cancelled:
    """撤销 a 交办 item: it and its open parts are cancelled (kept, never deleted)."""
    if not item.is_assigned:
        raise Refused(f"{item.code} 是方案中的任务或指标，不能撤销。")
    if item.cancelled_at is not None:
        when = item.cancelled_at.astimezone(acting.config.timezone)
        raise Refused(f"{item.code} 已于 {when:%m-%d} 撤销。")
    if not acting.is_admin and item.assigned_by != acting.userid:
        raise Refused(f"{item.code} 不是您交办的，只有交办人或办公室可以撤销。")
    if not reason.strip():
        raise Refused("请写明撤销的原因。")
    Item.update(cancelled_at=acting.now, cancel_reason=reason).where(Item.id == item.id).execute()
    open_rows = list(
        Assignment.select().where((Assignment.item == item) & (Assignment.status != Status.DONE))
    )
    Assignment.update(status=Status.CANCELLED, updated_at=acting.now).where(
        Assignment.id.in_([a.id for a in open_rows] or [0])
    ).execute()
    acting.audit(
        "cancel_item",
        f"撤销 {item.code}：{reason}",
        item_code=item.code,
        before={"cancelled": False},
        after={"cancelled": True, "reason": reason, "rows": len(open_rows)},
    )
    units = sorted({a.unit_id for a in open_rows if a.kind == Part.SHARE})
    text = acting.renderer.render("assigned_cancelled.j2", item=item, reason=reason)
    told = 0
    for unit_id, members in liaisons_by_unit(units).items():
        told += acting.tell_unit(
            unit_id,
            [m.wecom_userid for m in members],
            text,
            f"cancel:{item.code}",
            line=f"{item.code} {item.title} 已撤销：{reason}",
        )
    return Cancelled(item, told)
