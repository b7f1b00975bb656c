"""What each board page shows, read from the campaign's data: nothing here writes.

Each function takes the viewer and returns plain data for its template. The wording of a
status comes from the one reading of state (reminders/state.py) the chat uses too, scores from
the scorecard, gap advice and score changes from the digest's builders, so the board and the
chat never disagree. A unit's head or liaison sees the whole scorecard but only their own unit's
items, files and milestones: every function filters by `viewer.may_see_unit` before anything leaves it.

The unit table reads ten thousand assignments as plain columns, colours are worked out once per
(deadline, progress, start), and the calendar's working-day counts are remembered per pair of
days: the whole campaign's colours and overdue counts then cost milliseconds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import peewee

from bot.board.access import Viewer
from bot.config import Config
from models.db import database, tuples
from models.org import Member, Unit
from models.plan import (
    CANCELLED,
    ITEM_SOURCES,
    MILESTONE,
    OCCURRENCE,
    OPEN,
    REVIEW,
    SHARE,
    Assignment,
    Category,
    Item,
    ItemKind,
    Role,
    Status,
)
from models.progress import Evidence, ProgressReport
from models.schedule import DigestSnapshot
from models.scores import FigureReport, Score
from reminders import digest
from reminders.calendar import WorkCalendar
from reminders.ladder import RED
from reminders.scorecard import load_scorecard
from reminders.state import UnitCounts, WorkState, last_reports, states, unit_counts
from reminders.stored import load_calendar

TREND_WEEKS = 26  # the trend shows at most this many weekly snapshots
RECORD_OCCURRENCES = digest.RECORD_OCCURRENCES
UNIT_FILES_SHOWN = 100
REPORTS_SHOWN = 20
SOURCE_LABELS = {"office": "办公室", "computed": "计算"}


class NotFound(Exception):
    """No such unit, indicator or file (or a withdrawn file)."""


class Forbidden(Exception):
    """Another unit's unit page or file, asked for by someone who may see only their own."""

    def __init__(self, own_unit: str):
        super().__init__(own_unit)
        self.own_unit = own_unit


class MemoCalendar:
    """The working-day calendar with its counts remembered: a campaign's thousands of rows
    share a few dozen deadlines, and each count walks the days between."""

    def __init__(self, cal: WorkCalendar):
        self.cal = cal
        self._between: dict[tuple[date, date], int] = {}

    def is_workday(self, day: date) -> bool:
        return self.cal.is_workday(day)

    def previous_workday(self, day: date) -> date:
        return self.cal.previous_workday(day)

    def workdays_between(self, start: date, end: date) -> int:
        key = (start, end)
        known = self._between.get(key)
        if known is None:
            known = self._between[key] = self.cal.workdays_between(start, end)
        return known


@dataclass
class Moment:
    """When a page is computed, in the bot's time zone."""

    now: datetime
    config: Config
    cal: MemoCalendar = field(init=False)

    def __post_init__(self):
        self.now = self.now.astimezone(self.config.timezone)
        self.cal = MemoCalendar(load_calendar())

    @property
    def today(self) -> date:
        return self.now.date()

    def local_date(self, value: datetime | None) -> date | None:
        return value.astimezone(self.config.timezone).date() if value else None

    @property
    def week_start(self) -> datetime:
        monday = self.today - timedelta(days=self.today.weekday())
        return datetime.combine(monday, time(0), self.config.timezone)


def short(unit) -> str:
    return unit.short_name or unit.name


# ---------------------------------------------------------------- 首页


def home(viewer: Viewer, at: Moment) -> dict:
    card = load_scorecard()
    this_week = digest.week_of(at.today)
    before = (
        DigestSnapshot.select(DigestSnapshot.week, DigestSnapshot.score)
        .where(DigestSnapshot.week < this_week)
        .order_by(DigestSnapshot.week.desc())
        .tuples()
        .first()
    )
    previous = {"score": before[1]} if before and before[1] else None
    score = digest.score_summary(card, previous)
    categories = []
    for summary, category in zip(score["categories"], card.categories, strict=True):
        categories.append(
            {
                **summary,
                "partial": category.partial,
                "indicators": len(category.indicators),
            }
        )
    return {
        "score": {**score, "categories": categories, "partial": card.partial},
        "fully_scored": card.fully_scored,
        "indicator_count": card.indicator_count,
        "previous_week": before[0] if before else None,
        "gap": digest.gap_summary(card),
        "trend": _trend(card, this_week),
        "week": _week_change(viewer, at),
    }


def _trend(card, this_week: str) -> list[dict]:
    """The total of each weekly snapshot, oldest first, then today's (if this week has no
    snapshot yet, today's is this week's)."""
    # The score column, not the snapshot's data: 26 whole digests of a large campaign are
    # megabytes of JSON, a second's work for PostgreSQL to take apart on every view.
    rows = tuples(
        DigestSnapshot.select(DigestSnapshot.week, DigestSnapshot.score)
        .order_by(DigestSnapshot.week.desc())
        .limit(TREND_WEEKS)
    )
    points = []
    for week, score in reversed(rows):
        score = score or {}
        if "total" not in score:
            continue
        points.append(
            {
                "week": week,
                "label": _week_label(week),
                "total": Decimal(score["total"]),
                "passed": bool(score.get("passed")),
                "live": False,
            }
        )
    points.append(
        {
            "week": this_week,
            "label": "现在",
            "total": card.total,
            "passed": card.passed,
            "live": True,
        }
    )
    return points


def _week_label(week: str) -> str:
    _, _, number = week.partition("-W")
    return f"{int(number)}周" if number.isdigit() else week


def _week_change(viewer: Viewer, at: Moment) -> dict:
    """What happened since Monday 00:00: reports of done, progress reports, files, 办结, and
    what fell overdue this week. A unit's head or liaison sees their own unit's only."""
    since = at.week_start
    own = None if viewer.sees_all else viewer.unit_id
    if not viewer.sees_all and own is None:
        return {"own_unit": "", "done": 0, "progress": 0, "files": 0, "closed": 0, "overdue": 0}

    def for_unit(query, column):
        return query if own is None else query.where(column == own)

    reports = for_unit(
        ProgressReport.select(ProgressReport.kind, peewee.fn.COUNT(ProgressReport.id))
        .join(Assignment)
        .where(ProgressReport.created_at >= since)
        .group_by(ProgressReport.kind),
        Assignment.unit,
    )
    counts = dict(reports.tuples())
    files = for_unit(
        Evidence.select().where((Evidence.created_at >= since) & Evidence.active()),
        Evidence.unit,
    ).count()
    closed = for_unit(
        Assignment.select().where(
            (Assignment.status == Status.DONE)
            & Assignment.done_at.is_null(False)
            & (Assignment.done_at >= since)
        ),
        Assignment.unit,
    ).count()
    monday = since.date()
    overdue = for_unit(
        Assignment.select()
        .join(Item)
        .where(
            (Assignment.status == OPEN)
            & (Assignment.deadline >= monday - timedelta(days=1))
            & (Assignment.deadline < at.today)
            & Item.cancelled_at.is_null()
        ),
        Assignment.unit,
    ).count()
    return {
        "own_unit": "" if own is None else viewer.unit_name,
        "done": counts.get("done", 0),
        "progress": counts.get("progress", 0),
        "files": files,
        "closed": closed,
        "overdue": overdue,
    }


# ---------------------------------------------------------------- 单位


SORT_KEYS = {
    "unit": "单位",
    "red": "红",
    "yellow": "黄",
    "blue": "蓝",
    "milestones": "逾期节点",
    "review": "待审核",
    "last": "最近报告",
    "silent": "未报告",
    "rate": "定期报送按时率",
}
DEFAULT_SORT = ("red", "desc")


def units(viewer: Viewer, at: Moment, sort: str = "", order: str = "") -> dict:
    """One row per unit the viewer may see, sorted by `sort` (a SORT_KEYS key)."""
    if sort not in SORT_KEYS:
        sort, order = DEFAULT_SORT
    if order not in ("asc", "desc"):
        order = "asc" if sort == "unit" else "desc"
    unit_rows = list(Unit.select(Unit.id, Unit.name, Unit.short_name, Unit.position))
    unit_rows = [u for u in unit_rows if viewer.may_see_unit(u.id)]
    stats = unit_stats([u.id for u in unit_rows], at) if unit_rows else {}
    rows = [{"unit": u, **stats[u.id]} for u in unit_rows]
    # Only units with something to do or something done: a unit named in no item is noise.
    rows = [r for r in rows if r["total"]] or rows
    rows.sort(key=lambda r: r["unit"].position)
    if sort != "unit":
        missing = [r for r in rows if r[sort] is None]
        present = [r for r in rows if r[sort] is not None]
        present.sort(key=lambda r: r[sort], reverse=order == "desc")
        rows = present + missing  # nothing to compare (never reported, no records) goes last
    elif order == "desc":
        rows.reverse()
    return {"rows": rows, "sort": sort, "order": order, "keys": SORT_KEYS}


def unit_stats(unit_ids: list[int], at: Moment) -> dict[int, dict]:
    """Per unit: its counts as every view counts them (reminders.state.unit_counts: 红/黄/蓝 of
    open work, overdue milestones, reports awaiting review, all and finished work), the last
    report and the working days since, and the on-time rate of recurring reports over their
    last RECORD_OCCURRENCES due occurrences."""
    today, cal = at.today, at.cal
    every = len(unit_ids) >= Unit.select().count()  # no list of 200 ids to send, then
    counts = unit_counts(None if every else unit_ids, today, cal)
    stats: dict[int, dict[str, Any]] = {}
    for uid in unit_ids:
        c = counts.get(uid) or UnitCounts()
        stats[uid] = {
            "red": c.red,
            "yellow": c.yellow,
            "blue": c.blue,
            "milestones": c.milestones_overdue,
            "review": c.review + c.milestones_review,
            "total": c.total,
            "done": c.done,
            "open": c.unfinished,
            "last": None,
            "last_what": "",
            "silent": None,
            "rate": None,
            "record": None,
        }
    occurrences: dict[int, list[tuple]] = defaultdict(list)
    query = (
        Assignment.select(
            Assignment.unit,
            Assignment.deadline,
            Assignment.status,
            Assignment.reported_at,
            Assignment.done_at,
        )
        .join(Item)
        .where(
            Item.cancelled_at.is_null()
            & (Assignment.kind == OCCURRENCE)
            & (Assignment.status != CANCELLED)
            & (Assignment.deadline < today)
        )
    )
    if not every:
        query = query.where(Assignment.unit.in_(unit_ids))
    for unit_id, deadline, status, reported, done in database.execute_sql(*query.sql()):
        if unit_id in stats:
            occurrences[unit_id].append((_date(deadline), status, reported or done))
    for uid, (when, what) in last_reports(None if every else unit_ids).items():
        if uid in stats:
            stats[uid]["last"] = when
            stats[uid]["last_what"] = what
            stats[uid]["silent"] = cal.workdays_between(at.local_date(when) or today, today)
    for uid, due in occurrences.items():
        record = _record(due, at)
        stats[uid]["record"] = record
        stats[uid]["rate"] = record["on_time"] / record["total"]
    return stats


def _date(value) -> date | None:
    """A date column as the driver gave it (SQLite: text; PostgreSQL: a date)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _moment(value) -> datetime | None:
    """A UTC timestamp column as the driver gave it (UTCDateTimeField stores naive UTC)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _record(due: list[tuple], at: Moment) -> dict:
    """As the digest counts a unit's recurring reports over its last RECORD_OCCURRENCES due
    ones: 按时 (reported by the deadline), 逾期 (late), 未报."""
    last = sorted(due, key=lambda d: d[0])[-RECORD_OCCURRENCES:]
    on_time = late = missing = 0
    for deadline, status, reported in last:
        when = _moment(reported)
        if status not in (Status.DONE, Status.REVIEW) or when is None:
            missing += 1
        elif at.local_date(when) <= deadline:
            on_time += 1
        else:
            late += 1
    return {"total": len(last), "on_time": on_time, "late": late, "missing": missing}


def unit_page(viewer: Viewer, unit_id: int, at: Moment) -> dict:
    unit = Unit.get_or_none(Unit.id == unit_id)
    if unit is None:
        raise NotFound(unit_id)
    if not viewer.may_see_unit(unit.id):
        raise Forbidden(viewer.unit_name)
    today = at.today
    rows = list(
        Assignment.select(Assignment, Item)
        .join(Item)
        .where((Assignment.unit == unit) & Item.cancelled_at.is_null())
        .order_by(Assignment.deadline.asc(nulls="LAST"), Item.position, Assignment.seq)
    )
    found = _states(rows, at)
    parts: dict[int, list[dict]] = defaultdict(list)
    for a in rows:
        if a.kind in (MILESTONE, OCCURRENCE) and a.status != CANCELLED:
            parts[a.parent_id or 0].append(_line(a, found[a.id]))
    shares = [a for a in rows if a.kind == SHARE and a.status != CANCELLED]
    items = []
    for a in sorted(shares, key=lambda a: _work_order(a, parts.get(a.id, []))):
        line = _line(a, found[a.id])
        mine = parts.get(a.id, [])
        line["milestones"] = [p for p in mine if p["kind"] == MILESTONE]
        occurrences = [p for p in mine if p["kind"] == OCCURRENCE]
        line["occurrences"] = _near(occurrences, today)
        # Open, no deadline of its own or of its parts: listed apart (most of the plan's items
        # are undated until the office sets them, and a phone should not scroll past them).
        line["undated"] = (
            a.status == OPEN and a.deadline is None and not any(p["deadline"] for p in mine)
        )
        items.append(line)
    files = list(
        Evidence.select(Evidence, Item)
        .join(Item, peewee.JOIN.LEFT_OUTER)
        .where((Evidence.unit == unit) & Evidence.active())
        .order_by(Evidence.created_at.desc(), Evidence.id.desc())
        .limit(UNIT_FILES_SHOWN)
    )
    file_count = Evidence.select().where((Evidence.unit == unit) & Evidence.active()).count()
    reports = list(
        ProgressReport.select(ProgressReport, Assignment, Item)
        .join(Assignment)
        .join(Item)
        .where(Assignment.unit == unit)
        .order_by(ProgressReport.created_at.desc(), ProgressReport.id.desc())
        .limit(REPORTS_SHOWN)
    )
    people = list(
        Member.select()
        .where((Member.unit == unit) & (Member.active == True))  # noqa: E712
        .order_by(Member.id)
    )
    stats = unit_stats([unit.id], at)[unit.id]
    return {
        "unit": unit,
        "stats": stats,
        "items": items,
        "files": files,
        "file_count": file_count,
        "reports": reports,
        "people": people,
    }


def _states(rows: list[Assignment], at: Moment) -> dict[int, WorkState]:
    return states(rows, at.today, at.cal, at.config.timezone)


def _line(a: Assignment, state: WorkState) -> dict:
    """One assignment as a table row: its code, what it is, its status in chat's words."""
    return {
        "a": a,
        "kind": a.kind,
        "code": a.code,
        "name": a.title if a.kind == MILESTONE else a.item.title,
        "period": a.label if a.kind == OCCURRENCE else "",
        "status": state.text(),
        "progress": state.progress,
        "colour": state.colour,
        "overdue": state.overdue,
        "deadline": a.deadline,
    }


def _work_order(a: Assignment, parts: list[dict]) -> tuple:
    """Overdue first, then the nearest deadline; finished work last."""
    finished = a.status not in (OPEN, REVIEW)
    deadline = a.deadline or min((p["deadline"] for p in parts if p["deadline"]), default=None)
    return (finished, deadline is None, deadline or date.max, a.item.position)


def _near(occurrences: list[dict], today: date) -> list[dict]:
    """A recurring report's last RECORD_OCCURRENCES due periods and the next one."""
    due = [o for o in occurrences if o["deadline"] and o["deadline"] <= today]
    coming = [o for o in occurrences if o["deadline"] and o["deadline"] > today]
    due.sort(key=lambda o: o["deadline"])
    coming.sort(key=lambda o: o["deadline"])
    return due[-RECORD_OCCURRENCES:] + coming[:1]


# ---------------------------------------------------------------- 指标


def indicators(viewer: Viewer, at: Moment) -> dict:
    """The 41 indicators by category: score and its source, checklist coverage, evidence
    count and units. Coverage and counts are the campaign's (the scorecard's), the files
    themselves are only shown on the indicator's page, to those who may see them."""
    card = load_scorecard()
    items = {
        i.code: i
        for i in Item.select()
        .where(Item.kind == ItemKind.INDICATOR)
        .order_by(Item.position, Item.id)
    }
    sources = Score.current_with_source()
    points: dict[int, dict[int | None, int]] = defaultdict(lambda: defaultdict(int))
    for item_id, point, count in tuples(
        Evidence.select(Evidence.item, Evidence.point, peewee.fn.COUNT(Evidence.id))
        .where(Evidence.active() & Evidence.item.in_([i.id for i in items.values()] or [0]))
        .group_by(Evidence.item, Evidence.point)
    ):
        points[item_id][point] += count
    unit_names = _units_of([i.id for i in items.values()])
    sections = []
    for top in card.categories:
        children = []
        for child in top.children:
            rows = []
            for score in child.indicators:
                item = items[score.code]
                counts = points.get(item.id, {})
                checklist = item.checklist()
                source = sources.get(item.id, (None, ""))[1]
                rows.append(
                    {
                        "item": item,
                        "score": score,
                        "source": SOURCE_LABELS.get(source, ""),
                        "coverage": [
                            {"n": n, "text": text, "count": counts.get(n, 0)}
                            for n, text in enumerate(checklist, start=1)
                        ]
                        if len(checklist) > 1
                        else [],
                        "files": sum(counts.values()),
                        "units": unit_names.get(item.id, []),
                    }
                )
            children.append({"category": child, "rows": rows})
        sections.append({"category": top, "children": children})
    return {"sections": sections, "card": card}


def _units_of(item_ids: list[int]) -> dict[int, list[str]]:
    """Each item's units, lead first, by short name."""
    names: dict[int, list[str]] = defaultdict(list)
    query = (
        Assignment.select(Assignment.item, Assignment.role, Unit.short_name, Unit.name)
        .join(Unit)
        .where(Assignment.shares() & Assignment.item.in_(item_ids or [0]))
        .order_by(Assignment.item, Assignment.role.desc(), Unit.position)
    )
    for item_id, role, short_name, name in tuples(query):
        label = short_name or name
        names[item_id].append(f"{label}（牵头）" if role == Role.LEAD else label)
    return names


def indicator_page(viewer: Viewer, code: str, at: Moment) -> dict:
    item = Item.get_or_none((Item.code == code.upper()) & (Item.kind == ItemKind.INDICATOR))
    if item is None:
        raise NotFound(code)
    category = Category.get_or_none(Category.id == item.category_id)
    scores = list(Score.select().where(Score.item == item).order_by(Score.id.desc()).limit(10))
    current = Score.current_for(item)
    card = load_scorecard()
    scored = next((i for c in card.categories for i in c.indicators if i.code == item.code), None)
    shares = list(
        Assignment.select(Assignment, Unit)
        .join(Unit)
        .where((Assignment.item == item) & Assignment.shares())
        .order_by(Assignment.role.desc(), Unit.position)
    )
    visible = [a for a in shares if viewer.may_see_unit(a.unit_id)]
    found = _states(visible, at)
    lines = [{**_line(a, found[a.id]), "unit": a.unit} for a in visible]
    unit_filter = [a.unit_id for a in visible]
    reports = list(
        ProgressReport.select(ProgressReport, Assignment, Unit)
        .join(Assignment)
        .join(Unit)
        .where((Assignment.item == item) & Assignment.unit.in_(unit_filter or [0]))
        .order_by(ProgressReport.created_at.desc(), ProgressReport.id.desc())
        .limit(REPORTS_SHOWN)
    )
    figures_query = FigureReport.select(FigureReport, Unit).join(Unit, peewee.JOIN.LEFT_OUTER)
    figures_query = figures_query.where(FigureReport.item == item)
    if not viewer.sees_all:
        figures_query = figures_query.where(FigureReport.unit.in_(unit_filter or [0]))
    labels = {spec.get("key"): spec for spec in item.inputs or [] if isinstance(spec, dict)}
    figures = [
        {
            "report": f,
            "values": [
                f"{labels.get(key, {}).get('label', key)} {value}{labels.get(key, {}).get('unit', '')}"
                for key, value in (f.values or {}).items()
            ]
            if isinstance(f.values, dict)
            else [str(f.values)],
        }
        for f in figures_query.order_by(FigureReport.id.desc()).limit(REPORTS_SHOWN)
    ]
    files_query = Evidence.select(Evidence, Unit).join(Unit, peewee.JOIN.LEFT_OUTER)
    files_query = files_query.where((Evidence.item == item) & Evidence.active())
    if not viewer.sees_all:
        files_query = files_query.where(Evidence.unit.in_(unit_filter or [0]))
    files = list(files_query.order_by(Evidence.created_at.desc(), Evidence.id.desc()))
    counts: dict[int | None, int] = defaultdict(int)
    for (point,) in tuples(
        Evidence.select(Evidence.point).where((Evidence.item == item) & Evidence.active())
    ):
        counts[point] += 1
    checklist = [
        {"n": n, "text": text, "count": counts.get(n, 0)}
        for n, text in enumerate(item.checklist(), start=1)
    ]
    return {
        "item": item,
        "category": category,
        "score": scored,
        "current": current,
        "source": SOURCE_LABELS.get(current.source, "") if current else "",
        "history": scores,
        "lines": lines,
        "hidden_units": len(shares) - len(visible),
        "reports": reports,
        "figures": figures,
        "files": files,
        "checklist": checklist,
        "all_files": sum(counts.values()),
    }


# ---------------------------------------------------------------- 交办


def assigned(viewer: Viewer, at: Moment) -> dict:
    """Open 交办 items by source (领导批示, 会议议定, 办公室), overdue first. A unit's head or
    liaison sees the items assigned to their unit, with their unit's line only."""
    live = (Item.kind == ItemKind.ASSIGNED) & Item.cancelled_at.is_null()
    items = {
        i.id: i
        for i in Item.select(
            Item.id,
            Item.code,
            Item.kind,
            Item.title,
            Item.position,
            Item.source,
            Item.assigned_by,
            Item.created_at,
            Item.recurrence,
        ).where(live)
    }
    units_by_id = {u.id: u for u in Unit.select()}
    query = Assignment.select(
        Assignment.id,
        Assignment.item,
        Assignment.unit,
        Assignment.role,
        Assignment.kind,
        Assignment.status,
        Assignment.progress,
        Assignment.deadline,
        Assignment.deadline_set_on,
        Assignment.parent,
        Assignment.period,
        Assignment.signed_at,
    ).where(
        Assignment.item.in_(Item.select(Item.id).where(live))
        & (Assignment.kind != MILESTONE)
        & (Assignment.status != CANCELLED)
    )
    if not viewer.sees_all:
        query = query.where(Assignment.unit == (viewer.unit_id or 0))
    rows = []
    for a in query:
        # Items and units read once, not joined into every row.
        a.item, a.unit = items[a.item_id], units_by_id[a.unit_id]
        rows.append(a)
    rows.sort(key=lambda a: (a.unit.position, a.deadline or date.max))
    found = _states(rows, at)
    current: dict[int, Assignment] = {}  # a recurring share's earliest open occurrence
    for a in rows:
        if a.kind == OCCURRENCE and a.status in (OPEN, REVIEW) and a.parent_id is not None:
            known = current.get(a.parent_id)
            if known is None or (a.deadline or date.max) < (known.deadline or date.max):
                current[a.parent_id] = a
    by_item: dict[int, dict] = {}
    for a in rows:
        if a.kind != SHARE:
            continue
        shown = current.get(a.id, a) if a.item.recurrence else a
        if shown.status not in (OPEN, REVIEW):
            continue
        entry = by_item.setdefault(
            a.item_id, {"item": a.item, "lines": [], "overdue": 0, "deadline": None}
        )
        line = _line(shown, found[shown.id])
        line["unit"] = a.unit
        line["signed"] = a.signed_at is not None
        entry["lines"].append(line)
        entry["overdue"] = max(entry["overdue"], line["overdue"] if line["colour"] == RED else 0)
        if shown.deadline and (entry["deadline"] is None or shown.deadline < entry["deadline"]):
            entry["deadline"] = shown.deadline
    groups = []
    for source in (*ITEM_SOURCES, ""):
        entries = [
            e
            for e in by_item.values()
            if (e["item"].source or "") == source
            or (source == "" and e["item"].source not in ITEM_SOURCES)
        ]
        if not entries:
            continue
        entries.sort(
            key=lambda e: (
                -e["overdue"],
                e["deadline"] is None,
                e["deadline"] or date.max,
                _code_number(e["item"].code),
            )
        )
        groups.append({"source": source or "其他", "entries": entries})
    return {"groups": groups, "count": len(by_item)}


def _code_number(code: str) -> int:
    digits = "".join(ch for ch in code if ch.isdigit())
    return int(digits) if digits else 0


# ---------------------------------------------------------------- files


def evidence_file(viewer: Viewer, evidence_id: int) -> Evidence:
    """A file the viewer may open: not withdrawn, and of a unit they may see (a file filed to
    no unit is the office's: leaders and admins only)."""
    evidence = Evidence.get_or_none((Evidence.id == evidence_id) & Evidence.active())
    if evidence is None:
        raise NotFound(evidence_id)
    if not viewer.may_see_unit(evidence.unit_id):
        raise Forbidden(viewer.unit_name)
    return evidence
