"""One reading of the campaign's state, used by every view (chat, digest, ledger, board, pack):
what is done, waiting for review, in progress or overdue (in working days), signed for, who
leads, and each share's progress, derived from its milestones when it has them.

It reads the database and applies the pure rules (calendar, ladder); it changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import StrEnum
from typing import Any

import peewee

from models.db import tuples
from models.plan import Assignment, Item, ItemKind, Part, Role, Status
from models.progress import Evidence, ExtensionRequest, ProgressReport, RequestStatus
from models.scores import FigureReport
from reminders.calendar import Workdays
from reminders.ladder import BLUE, RED, YELLOW, colour, is_overdue, overdue_text, overdue_workdays


class Shown(StrEnum):
    """One meaning of a piece of work's status everywhere (chat, reminders, digest, ledger,
    board), with its words."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    OVERDUE = "overdue"
    EXTENSION = "extension"  # a request waits for the office
    REVIEWING = "reviewing"  # reported done, waiting for 办结审核
    DONE = "done"
    WITHDRAWN = "withdrawn"


STATUS_LABELS = {
    Shown.NOT_STARTED: "未开始",
    Shown.IN_PROGRESS: "进行中",
    Shown.OVERDUE: "已逾期",
    Shown.EXTENSION: "延期审批中",
    Shown.REVIEWING: "待审核",
    Shown.DONE: "已完成",
    Shown.WITHDRAWN: "已撤销",
}


def status_of(
    status: str,
    progress: int,
    deadline: date | None,
    today: date,
    *,
    extension_pending: bool = False,
) -> Shown:
    """done, withdrawn, reported done and awaiting review, a pending extension, overdue, then
    in progress or not started."""
    if status == Status.DONE:
        return Shown.DONE
    if status == Status.CANCELLED:
        return Shown.WITHDRAWN
    if status == Status.REVIEW:
        return Shown.REVIEWING
    if extension_pending:
        return Shown.EXTENSION
    if is_overdue(deadline, today):
        return Shown.OVERDUE
    return Shown.IN_PROGRESS if progress > 0 else Shown.NOT_STARTED


@dataclass(frozen=True)
class Milestones:
    done: int
    total: int

    @property
    def percent(self) -> int:
        return self.done * 100 // self.total if self.total else 0


@dataclass(frozen=True)
class WorkState:
    """How one assignment stands today, as every view shows it."""

    key: Shown
    progress: int  # the share's milestones decide it when it has any; else the last report
    reported_progress: int
    milestones: Milestones | None
    overdue: int  # working days past the deadline while open (0 on time or closed)
    late: int  # working days past the deadline when it was reported done (0 on time)
    extension_pending: bool
    colour: str  # 红 / 黄 / 蓝 / ""

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.key]

    @property
    def is_overdue(self) -> bool:
        return self.key == Shown.OVERDUE or (self.key == Shown.EXTENSION and self.overdue > 0)

    def text(self) -> str:
        """未开始 / 进行中 60% / 已逾期 3 个工作日（40%） / 延期审批中 / 待审核 / 已完成, with the
        milestones passed where the share has them."""
        if self.key in (Shown.DONE, Shown.REVIEWING, Shown.WITHDRAWN):
            text = STATUS_LABELS[self.key]
        else:
            parts = []
            if self.is_overdue:
                parts.append(f"{overdue_text(self.overdue)}（{self.progress}%）")
            elif self.progress:
                parts.append(f"{STATUS_LABELS[Shown.IN_PROGRESS]} {self.progress}%")
            else:
                parts.append(STATUS_LABELS[Shown.NOT_STARTED])
            if self.key == Shown.EXTENSION:
                parts.append(STATUS_LABELS[Shown.EXTENSION])
            text = "｜".join(parts)
        if self.milestones is not None:
            text += f"｜节点 {self.milestones.done}/{self.milestones.total}"
        return text


MANY = 500  # more ids than this: read the whole (small) table rather than send the ids


def milestone_counts(share_ids: Iterable[int]) -> dict[int, Milestones]:
    """share id -> its milestones passed (done) and in all, for shares that have any."""
    ids = set(share_ids)
    if not ids:
        return {}
    done = peewee.fn.SUM(peewee.Case(None, [(Assignment.status == Status.DONE, 1)], 0))
    where = (Assignment.kind == Part.MILESTONE) & (Assignment.status != Status.CANCELLED)
    if len(ids) <= MANY:
        where &= Assignment.parent.in_(sorted(ids))
    query = (
        Assignment.select(Assignment.parent, peewee.fn.COUNT(Assignment.id), done)
        .where(where)
        .group_by(Assignment.parent)
    )
    return {p: Milestones(int(d or 0), int(n)) for p, n, d in tuples(query) if p in ids}


def pending_extensions(assignment_ids: Iterable[int] | None = None) -> set[int]:
    """The assignments (among these, or all) with a request waiting for the office: always a
    handful, so they are read whole and filtered here."""
    query = ExtensionRequest.select(ExtensionRequest.assignment).where(
        ExtensionRequest.status == RequestStatus.PENDING
    )
    waiting = {assignment_id for (assignment_id,) in tuples(query)}
    return waiting if assignment_ids is None else waiting & set(assignment_ids)


def states(
    rows: Sequence[Assignment], today: date, cal: Workdays, tz: tzinfo
) -> dict[int, WorkState]:
    """assignment id -> its state today, read with two queries whatever the number of rows."""
    shares = [a.id for a in rows if a.kind == Part.SHARE]
    parts = milestone_counts(shares)
    pending = pending_extensions(a.id for a in rows)
    return {a.id: state_of(a, today, cal, tz, parts.get(a.id), a.id in pending) for a in rows}


def state_of(
    a: Assignment,
    today: date,
    cal: Workdays,
    tz: tzinfo,
    milestones: Milestones | None = None,
    extension_pending: bool = False,
) -> WorkState:
    progress = a.progress
    if milestones is not None and a.status in (Status.OPEN,):
        # Milestones passed move it on; a report further than they are is not hidden.
        progress = max(progress, milestones.percent)
    key = status_of(a.status, progress, a.deadline, today, extension_pending=extension_pending)
    overdue = 0
    if a.status == Status.OPEN:
        overdue = overdue_workdays(a.deadline, today, cal)
    late = 0
    if a.status in (Status.DONE, Status.REVIEW) and a.deadline and a.reported_at:
        late = overdue_workdays(a.deadline, a.reported_at.astimezone(tz).date(), cal)
    shade = ""
    if a.status == Status.OPEN:
        shade = colour(a.deadline, today, progress, cal, a.deadline_set_on)
    return WorkState(
        key=key,
        progress=100 if a.status in (Status.DONE, Status.REVIEW) else progress,
        reported_progress=a.progress,
        milestones=milestones,
        overdue=overdue,
        late=late,
        extension_pending=extension_pending,
        colour=shade,
    )


def deadline_label(deadline: date | None, ongoing: str = "") -> str:
    """2026-12-31, or the word for ongoing work (长期坚持, from an imported sheet), or 未设期限."""
    if deadline:
        return deadline.isoformat()
    return ongoing or "未设期限"


def open_work(unit_ids: list[int], *, with_review: bool = True) -> list[Assignment]:
    """What units still owe, one row each: their shares of plan items and of one-off 交办 items,
    and the occurrence due now of each recurring 交办 item (milestones are listed under their
    share). Nearest deadline first; withdrawn items are gone."""
    statuses = (Status.OPEN, Status.REVIEW) if with_review else (Status.OPEN,)
    rows = list(
        Assignment.select(Assignment, Item)
        .join(Item)
        .where(
            Assignment.unit.in_(unit_ids or [0])
            & Assignment.status.in_(statuses)
            & Item.cancelled_at.is_null()
            & (Assignment.kind != Part.MILESTONE)
        )
        .order_by(Assignment.deadline.asc(nulls="LAST"), Item.position, Assignment.id)
    )
    current: set[tuple[int, int]] = set()
    work = []
    for a in rows:
        if a.item.is_recurring:
            if a.kind != Part.OCCURRENCE or (a.item_id, a.unit_id) in current:
                continue  # the share itself, or a later occurrence
            current.add((a.item_id, a.unit_id))
        work.append(a)
    return work


def upload_choices(unit_id: int) -> list[tuple[Assignment, date | None, bool]]:
    """The items a unit may file evidence under on the upload page, as (its share, the deadline
    it works to, still open): what it still owes first, nearest deadline first (a recurring
    item by its occurrence due now), then the rest of its shares in the plan's order."""
    chosen: list[tuple[Assignment, date | None, bool]] = []
    seen: set[int] = set()
    for work in open_work([unit_id]):
        if work.item_id in seen:
            continue
        share = work if work.kind == Part.SHARE else work.parent
        if share is None or share.kind != Part.SHARE:
            continue
        share.item = work.item
        seen.add(work.item_id)
        chosen.append((share, work.deadline, True))
    rest = (
        Assignment.select(Assignment, Item)
        .join(Item)
        .where(
            (Assignment.unit == unit_id)
            & (Assignment.kind == Part.SHARE)
            & (Assignment.status != Status.CANCELLED)
            & Item.cancelled_at.is_null()
        )
        .order_by(Item.position, Item.id)
    )
    for share in rest:
        if share.item_id not in seen:
            seen.add(share.item_id)
            chosen.append((share, share.deadline, False))
    return chosen


@dataclass
class UnitCounts:
    """A unit's work as every view counts it (chat's 我的任务 and 单位, the board, the digest):
    shares of one-off items and occurrences of recurring reports, a recurring report open only
    in its current period; milestones are parts of shares, counted apart as overdue ones;
    withdrawn items are not counted. 待审核 is reported but not yet 已完成."""

    open: int = 0  # not reported done
    review: int = 0  # reported done, waiting for the office
    done: int = 0
    overdue: int = 0  # open and past the deadline
    undated: int = 0  # open without a deadline
    red: int = 0
    yellow: int = 0
    blue: int = 0
    milestones_overdue: int = 0
    milestones_review: int = 0

    @property
    def unfinished(self) -> int:
        return self.open + self.review

    @property
    def total(self) -> int:
        return self.open + self.review + self.done


def _day(value: object) -> date | None:
    """A date column as the driver gave it (SQLite: text; PostgreSQL: a date)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def unit_counts(unit_ids: list[int] | None, today: date, cal: Workdays) -> dict[int, UnitCounts]:
    """unit id -> its counts (every unit asked for is present; None: every unit).

    One query of plain columns, read without peewee's per-row conversion (the board shows every
    unit of a campaign of 10,000 assignments); colours are worked out once per (deadline,
    progress, start) and a share's progress follows its milestones."""
    query = (
        Assignment.select(
            Assignment.id,
            Assignment.unit,
            Assignment.kind,
            Assignment.status,
            Assignment.deadline,
            Assignment.progress,
            Assignment.deadline_set_on,
            Assignment.parent,
            Assignment.item,
            Item.recurrence,
        )
        .join(Item)
        .where(Item.cancelled_at.is_null() & (Assignment.status != Status.CANCELLED))
    )
    if unit_ids is not None:
        query = query.where(Assignment.unit.in_(unit_ids or [0]))
    rows = [
        (aid, unit, kind, status, _day(deadline), progress, _day(set_on), parent, item, rule)
        for aid, unit, kind, status, deadline, progress, set_on, parent, item, rule in (
            Assignment._meta.database.execute_sql(*query.sql())
        )
    ]
    counts: dict[int, UnitCounts] = {uid: UnitCounts() for uid in unit_ids or []}
    parts: dict[int, list[int]] = {}  # share id -> [done, all] of its milestones
    current: dict[tuple[int, int], tuple[date, int]] = {}  # (item, unit) -> open occurrence
    for aid, unit, kind, status, deadline, _, _, parent, item, _ in rows:
        if kind == Part.MILESTONE:
            done_all = parts.setdefault(parent, [0, 0])
            done_all[0] += status == Status.DONE
            done_all[1] += 1
            c = counts.setdefault(unit, UnitCounts())
            if status == Status.REVIEW:
                c.milestones_review += 1
            elif status == Status.OPEN and overdue_workdays(deadline, today, cal):
                c.milestones_overdue += 1
        elif kind == Part.OCCURRENCE and status in (Status.OPEN, Status.REVIEW):
            known = current.get((item, unit))
            if known is None or (deadline or date.max, aid) < known:
                current[(item, unit)] = (deadline or date.max, aid)
    now_due = {aid for _, aid in current.values()}
    shades: dict[tuple[date, int, date | None], str] = {}
    for aid, unit, kind, status, deadline, progress, set_on, _, _, rule in rows:
        if kind == Part.MILESTONE or (kind == Part.SHARE and rule):
            continue  # a recurring report counts by its occurrences
        c = counts.setdefault(unit, UnitCounts())
        if status == Status.DONE:
            c.done += 1
            continue
        if kind == Part.OCCURRENCE and aid not in now_due:
            continue  # a later period, not due yet (or an earlier one superseded)
        if status == Status.REVIEW:
            c.review += 1
            continue
        c.open += 1
        if deadline is None:
            c.undated += 1
            continue
        if today > deadline:
            c.overdue += 1
        tally = parts.get(aid)
        if tally and tally[1]:
            progress = tally[0] * 100 // tally[1]
        key = (deadline, progress, set_on)
        shade = shades.get(key)
        if shade is None:
            shade = shades[key] = colour(deadline, today, progress, cal, set_on)
        if shade == RED:
            c.red += 1
        elif shade == YELLOW:
            c.yellow += 1
        elif shade == BLUE:
            c.blue += 1
    return counts


def milestones_of(share: Assignment, *, with_removed: bool = False) -> list[Assignment]:
    """A unit's milestones (实施细则 节点) of its share, by number."""
    query = Assignment.select().where(
        (Assignment.parent == share) & (Assignment.kind == Part.MILESTONE)
    )
    if not with_removed:
        query = query.where(Assignment.status != Status.CANCELLED)
    return list(query.order_by(Assignment.seq))


def last_reports(unit_ids: list[int] | None) -> dict[int, tuple[datetime, str]]:
    """Each unit's newest report of any kind (progress, a file, figures, an extension request):
    four grouped queries, whatever the number of units (None: every unit)."""
    found: dict[int, tuple[datetime, str]] = {}

    def among(column: peewee.Field) -> peewee.Expression:
        return column.is_null(False) if unit_ids is None else column.in_(unit_ids)

    def take(query: peewee.SelectBase, what: str) -> None:
        for unit_id, when in tuples(query):
            if unit_id is None or when is None:
                continue
            if unit_id not in found or when > found[unit_id][0]:
                found[unit_id] = (when, what)

    newest = peewee.fn.MAX
    take(
        ProgressReport.select(Assignment.unit, newest(ProgressReport.created_at))
        .join(Assignment)
        .where(among(Assignment.unit))
        .group_by(Assignment.unit),
        "报告进度",
    )
    take(
        Evidence.select(Evidence.unit, newest(Evidence.created_at))
        .where(among(Evidence.unit) & Evidence.active())
        .group_by(Evidence.unit),
        "提交佐证",
    )
    take(
        FigureReport.select(FigureReport.unit, newest(FigureReport.created_at))
        .where(among(FigureReport.unit))
        .group_by(FigureReport.unit),
        "上报数据",
    )
    take(
        ExtensionRequest.select(Assignment.unit, newest(ExtensionRequest.created_at))
        .join(Assignment)
        .where(among(Assignment.unit))
        .group_by(Assignment.unit),
        "申请延期",
    )
    return found


def lead_of(item: Item) -> Assignment | None:
    return Assignment.get_or_none(
        (Assignment.item == item) & (Assignment.kind == Part.SHARE) & (Assignment.role == Role.LEAD)
    )


# ------------------------------------------------------------------------------- evidence


def checklist_coverage(item: Item, unit_id: int | None) -> list[dict[str, Any]]:
    """Each checklist point of an indicator with the number of files that support it."""
    query = Evidence.select(Evidence.point).where((Evidence.item == item) & Evidence.active())
    if unit_id is not None:
        query = query.where(Evidence.unit == unit_id)
    counts: dict[int | None, int] = {}
    for (point,) in tuples(query):
        counts[point] = counts.get(point, 0) + 1
    return [
        {"n": n, "text": text, "count": counts.get(n, 0)}
        for n, text in enumerate(item.checklist(), start=1)
    ]


def unit_file_count(item: Item | int, unit_id: int) -> int:
    """The unit's files (not withdrawn) for an item: one per distinct file and point."""
    return (
        Evidence.select()
        .where((Evidence.item == item) & (Evidence.unit == unit_id) & Evidence.active())
        .count()
    )


def unsigned() -> peewee.ColumnBase:
    """The condition of a 交办 share not yet signed for (签收): open, its item not withdrawn."""
    condition: peewee.ColumnBase = (
        Assignment.shares()
        & (Assignment.status == Status.OPEN)
        & Assignment.signed_at.is_null()
        & Assignment.item.in_(
            Item.select(Item.id).where(
                (Item.kind == ItemKind.ASSIGNED) & Item.cancelled_at.is_null()
            )
        )
    )
    return condition


def unsigned_codes(unit_id: int) -> list[str]:
    """A unit's 交办 items waiting for its 签收, in the plan's order."""
    query = (
        Assignment.select(Item.code)
        .join(Item)
        .where(unsigned() & (Assignment.unit == unit_id))
        .order_by(Item.position, Item.id)
    )
    return [str(row[0]) for row in tuples(query)]
