"""What each desk page shows, read from the campaign's data: nothing here writes. Statuses come
from reminders/state.py (as in chat and on the board); people are shown by name, not userid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import peewee

from bot.board.pages import Moment
from models import userids
from models.audit import AuditEntry
from models.org import Member, Unit, UnitGroup
from models.plan import (
    ITEM_SOURCES,
    URGENCIES,
    Assignment,
    Item,
    ItemKind,
    Part,
    Status,
)
from models.progress import Evidence, ExtensionRequest, ProgressReport, RequestStatus
from models.schedule import ReminderSent
from reminders.ladder import audience_of, is_overdue
from reminders.state import WorkState, checklist_coverage, deadline_label, states

PLAN_SOURCE = "方案"  # the filter's word for the plan's own tasks and indicators
STATUS_FILTERS = {
    "open": "未完成",
    "review": "待审核",
    "done": "已办结",
    "cancelled": "已撤销",
}
STEP_LABELS = {
    "due": "到期当日提醒",
    "overdue": "逾期提醒",
    "escalate": "逾期升级（单位负责人）",
    "leader": "报批示领导",
    "sign": "签收提醒",
}


class NotFound(Exception):
    """No such item, unit or request."""


def names() -> dict[str, str]:
    """userid -> the person's name (bound or once bound); the office's admins by userid."""
    return Member.names()


def name_of(userid: str, known: dict[str, str] | None = None) -> str:
    if not userid:
        return ""
    if userid == "方案":
        return userid
    return (known if known is not None else names()).get(userid, userid)


def leaders() -> list[Member]:
    return list(Member.select().where(Member.having("leader")).order_by(Member.id))


def units() -> list[Unit]:
    return list(Unit.select().order_by(Unit.position, Unit.id))


def groups() -> list[dict[str, Any]]:
    return [
        {"group": g, "units": g.units()}
        for g in UnitGroup.select().order_by(UnitGroup.position, UnitGroup.id)
    ]


def form_choices() -> dict[str, Any]:
    return {
        "sources": ITEM_SOURCES,
        "urgencies": URGENCIES,
        "leaders": leaders(),
        "units": units(),
        "groups": [g["group"] for g in groups()],
    }


def _state_rows(rows: list[Assignment], at: Moment) -> dict[int, WorkState]:
    return states(rows, at.today, at.cal, at.config.timezone)


def home(at: Moment) -> dict[str, Any]:
    review = Assignment.select().where(Assignment.status == Status.REVIEW).count()
    extensions = (
        ExtensionRequest.select().where(ExtensionRequest.status == RequestStatus.PENDING).count()
    )
    overdue = (
        Assignment.select()
        .join(Item)
        .where(
            (Assignment.status == Status.OPEN)
            & Item.cancelled_at.is_null()
            & (Assignment.deadline < at.today)
        )
        .count()
    )
    assigned = (
        Item.select().where((Item.kind == ItemKind.ASSIGNED) & Item.cancelled_at.is_null()).count()
    )
    return {"review": review, "extensions": extensions, "overdue": overdue, "assigned": assigned}


# ------------------------------------------------------------------------ the review queue


def history(item: Item, unit: Unit | None = None, limit: int = 0) -> list[dict[str, Any]]:
    query = AuditEntry.select().where(AuditEntry.item_code == item.code)
    if unit is not None:
        query = query.where(AuditEntry.unit_name.in_([unit.name, ""]))
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if limit:
        query = query.limit(limit)
    known = names()
    return [{"e": e, "who": name_of(e.actor, known)} for e in query]


def files_of(item: Item, unit_id: int | None = None) -> list[Evidence]:
    query = Evidence.select().where((Evidence.item == item) & Evidence.active())
    if unit_id is not None:
        query = query.where(Evidence.unit == unit_id)
    return list(query.order_by(Evidence.created_at, Evidence.id))


def review_queue(at: Moment) -> dict[str, Any]:
    waiting = list(
        Assignment.select(Assignment, Item, Unit)
        .join(Item)
        .switch(Assignment)
        .join(Unit)
        .where(Assignment.status == Status.REVIEW)
        .order_by(Assignment.reported_at, Assignment.id)
    )
    found = _state_rows(waiting, at)
    known = names()
    rows = []
    for a in waiting:
        note = (
            ProgressReport.select()
            .where(ProgressReport.assignment == a)
            .order_by(ProgressReport.created_at.desc(), ProgressReport.id.desc())
            .first()
        )
        rows.append(
            {
                "a": a,
                "state": found[a.id],
                "files": files_of(a.item, a.unit_id),
                "coverage": checklist_coverage(a.item, a.unit_id) if a.item.is_indicator else [],
                "note": note.note if note else "",
                "reporter": name_of(note.wecom_userid, known) if note else "",
                "history": history(a.item, a.unit, limit=6),
            }
        )
    requests = [
        {"r": r, "who": name_of(r.wecom_userid, known)}
        for r in ExtensionRequest.select()
        .where(ExtensionRequest.status == RequestStatus.PENDING)
        .order_by(ExtensionRequest.created_at, ExtensionRequest.id)
    ]
    return {"rows": rows, "requests": requests}


# ------------------------------------------------------------------------------- items


@dataclass(frozen=True)
class Filters:
    unit: int | None = None
    source: str = ""
    status: str = ""
    overdue: bool = False

    @classmethod
    def read(cls, args) -> Filters:
        unit = args.get("unit", "")
        source = args.get("source", "")
        status = args.get("status", "")
        return cls(
            unit=int(unit) if unit.isdigit() and len(unit) < 10 else None,
            source=source if source in (*ITEM_SOURCES, PLAN_SOURCE) else "",
            status=status if status in STATUS_FILTERS else "",
            overdue=args.get("overdue") == "1",
        )


def items(at: Moment, f: Filters) -> dict[str, Any]:
    query = (
        Assignment.select(Assignment, Item, Unit)
        .join(Item)
        .switch(Assignment)
        .join(Unit)
        .where(Assignment.kind == Part.SHARE)
    )
    if f.unit is not None:
        query = query.where(Assignment.unit == f.unit)
    if f.source == PLAN_SOURCE:
        query = query.where(Item.kind != ItemKind.ASSIGNED)
    elif f.source:
        query = query.where(Item.source == f.source)
    if f.status:
        query = query.where(Assignment.status == f.status)
    if f.overdue:
        query = query.where(
            (Assignment.status == Status.OPEN)
            & (Assignment.deadline < at.today)
            & Item.cancelled_at.is_null()
        )
    rows = list(query.order_by(Item.position, Item.id, Unit.position, Unit.id))
    found = _state_rows(rows, at)
    return {
        "rows": [
            {
                "a": a,
                "state": found[a.id],
                "deadline": deadline_label(a.deadline, a.ongoing),
                "source": a.item.source or PLAN_SOURCE,
            }
            for a in rows
        ],
        "filters": f,
        "units": units(),
        "sources": (*ITEM_SOURCES, PLAN_SOURCE),
        "statuses": STATUS_FILTERS,
    }


def item_by_code(code: str) -> Item:
    item = Item.get_or_none(Item.code == code.upper())
    if item is None:
        raise NotFound(code)
    return item


def item_page(code: str, at: Moment) -> dict[str, Any]:
    item = item_by_code(code)
    known = names()
    parts = list(
        Assignment.select(Assignment, Unit)
        .join(Unit)
        .where(Assignment.item == item)
        .order_by(Assignment.kind.desc(), Unit.position, Unit.id, Assignment.seq, Assignment.id)
    )
    found = _state_rows(parts, at)
    shares: list[dict[str, Any]] = [
        {
            "a": a,
            "state": found[a.id],
            "deadline": deadline_label(a.deadline, a.ongoing),
            "signed_by": name_of(a.signed_by, known),
            "reviewed_by": name_of(a.reviewed_by, known),
        }
        for a in parts
    ]
    reminders = [
        {
            "r": r,
            "a": r.assignment,
            "step": _step_label(r.step),
            "to": "、".join(name_of(u, known) for u in r.recipients.split("|") if u)
            or "（当日已另行通知）",
        }
        for r in ReminderSent.select(ReminderSent, Assignment)
        .join(Assignment)
        .where(Assignment.item == item)
        .order_by(ReminderSent.day.desc(), ReminderSent.id.desc())
    ]
    reports = [
        {"p": p, "who": name_of(p.wecom_userid, known)}
        for p in ProgressReport.select(ProgressReport, Assignment)
        .join(Assignment)
        .where(Assignment.item == item)
        .order_by(ProgressReport.created_at.desc(), ProgressReport.id.desc())
    ]
    log = history(item)
    reviews = [h for h in log if h["e"].action in ("review_pass", "review_return", "review_reopen")]
    requests = [
        {"r": r, "who": name_of(r.wecom_userid, known), "by": name_of(r.decided_by, known)}
        for r in ExtensionRequest.select(ExtensionRequest, Assignment)
        .join(Assignment)
        .where(Assignment.item == item)
        .order_by(ExtensionRequest.created_at.desc())
    ]
    return {
        "item": item,
        "assigned_by": name_of(item.assigned_by, known),
        "instructed_by": name_of(instructing_leader(item), known),
        "shares": shares,
        "files": [{"f": f, "who": name_of(f.wecom_userid, known)} for f in files_of(item)],
        "reminders": reminders,
        "reports": reports,
        "history": log,
        "reviews": reviews,
        "requests": requests,
        "open": [s for s in shares if s["a"].status == Status.OPEN and s["a"].kind == Part.SHARE],
    }


def instructing_leader(item: Item) -> str:
    """The 批示领导's userid: as registered, or the leader who assigned a 领导批示 item."""
    if item.instructed_by:
        return item.instructed_by
    if item.source == "领导批示" and item.assigned_by:
        leader = Member.get_or_none(
            userids.matches(Member.wecom_userid, item.assigned_by) & Member.having("leader")
        )
        return leader.wecom_userid if leader else ""
    return ""


def _step_label(step: str) -> str:
    if step.startswith("before_"):
        return f"到期前 {step.removeprefix('before_')} 个工作日提醒"
    try:
        audience_of(step)
    except (KeyError, ValueError):
        return step
    return STEP_LABELS.get(step, step)


def overdue_sheet(at: Moment) -> dict[str, Any]:
    """催办单: every overdue open share, grouped by unit."""
    rows = list(
        Assignment.select(Assignment, Item, Unit)
        .join(Item)
        .switch(Assignment)
        .join(Unit)
        .where(
            (Assignment.status == Status.OPEN)
            & Item.cancelled_at.is_null()
            & (Assignment.deadline < at.today)
        )
        .order_by(Unit.position, Unit.id, Assignment.deadline, Item.position)
    )
    found = _state_rows(rows, at)
    by_unit: dict[int, dict[str, Any]] = {}
    for a in rows:
        if not is_overdue(a.deadline, at.today):
            continue
        entry = by_unit.setdefault(a.unit_id, {"unit": a.unit, "rows": []})
        entry["rows"].append({"a": a, "state": found[a.id]})
    return {"units": list(by_unit.values())}


# ------------------------------------------------------------------------ units and people


def people() -> dict[str, Any]:
    known = names()
    members = list(
        Member.select(Member, Unit)
        .join(Unit, peewee.JOIN.LEFT_OUTER, on=(Member.unit == Unit.id))
        .where(Member.active == True)  # noqa: E712
        .order_by(Unit.position, Member.id)
    )
    return {
        "members": [{"m": m, "by": name_of(m.bound_by, known)} for m in members],
        "units": units(),
        "groups": groups(),
    }


def today_label(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
