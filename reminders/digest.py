"""The weekly digest (周报) to the leading group: the projected score against the pass line and its
change since last week, what it takes to pass, the red and yellow items by unit, the units that
did not report, and units ranked by their on-time rate. One snapshot per ISO week, stored and
never recomputed; published once whatever restarts happen."""

from __future__ import annotations

import base64
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import peewee

from models.db import database, tuples
from models.org import Unit
from models.plan import MILESTONE, OCCURRENCE, SHARE, Assignment, Item, ItemKind, Role, Status
from models.progress import Evidence, ExtensionRequest, ProgressReport
from models.schedule import DigestSnapshot
from models.scores import FigureReport
from reminders.calendar import WorkCalendar
from reminders.jobs import load_rows
from reminders.ladder import RED, YELLOW, is_overdue, overdue_workdays
from reminders.ports import CampaignSettings, Mail, Templates
from reminders.rules import gap_to_pass
from reminders.scorecard import load_scorecard
from reminders.scoring import Scorecard, format_points
from reminders.state import milestone_counts, state_of
from reminders.state import unsigned as unsigned_shares
from reminders.timing import starts_at


def week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def digest_expiry(day: date, config: CampaignSettings) -> datetime:
    """A week's digest is worth sending during its week only: one still unsent at midnight
    between Sunday and Monday expires (the admins are told; 重发 can still send it)."""
    monday = day + timedelta(days=7 - day.weekday())
    return datetime.combine(monday, time(0), config.timezone)


@dataclass
class DigestResult:
    week: str
    published: bool
    reason: str = ""
    markdown: str = ""

    def summary(self) -> str:
        if self.published:
            return f"{self.week} 周报已发布到领导小组群"
        return f"{self.week} 周报未发布：{self.reason}"


def build(now: datetime, config: CampaignSettings, cal: WorkCalendar) -> dict:
    """Everything the digest shows, as plain JSON-ready data (stored as the week's snapshot)."""
    today = now.astimezone(config.timezone).date()
    card = load_scorecard()
    previous = (
        DigestSnapshot.select()
        .where(DigestSnapshot.week < week_of(today))
        .order_by(DigestSnapshot.week.desc())
        .first()
    )
    before = previous.data if previous else None
    rows = load_rows(Assignment.deadline.is_null(False))  # read once for colours and ranking
    live = [a for a in rows if a.item.cancelled_at is None]
    plan = [a for a in live if a.item.kind != ItemKind.ASSIGNED and a.kind == SHARE]
    assigned = [a for a in live if a.item.kind == ItemKind.ASSIGNED]
    return {
        "week": week_of(today),
        "date": today.isoformat(),
        "score": _score(card, before),
        "gap": _gap(card),
        "items": _items_by_colour(plan, today, cal, config.timezone),
        "assigned": _assigned(assigned, today, cal),
        "milestones": _milestones_overdue(live, today, cal),
        "reviews": _reviews_waiting(today, cal, config.timezone),
        "recurring": _recurring_record(today, config.timezone),
        "silent_units": _silent_units(now),
        "ranking": _ranking(rows, today, config.timezone),
        "calendar_warning": cal.missing_year_warning(today),
        "previous_week": previous.week if previous else None,
    }


def score_summary(card: Scorecard, before: dict | None) -> dict:
    """The digest's score section (total, categories, lines, change since `before`, a stored
    week's data): the board shows the same figures."""
    return _score(card, before)


def gap_summary(card: Scorecard) -> dict:
    """The digest's "要合格至少还需" with the units to name: the board shows the same list."""
    return _gap(card)


REVIEW_LATE_DAYS = 3  # a report the office has not checked after this many working days
RECORD_OCCURRENCES = 8  # recurring reports: each unit's record over the last 8


def _assigned(rows, today: date, cal: WorkCalendar) -> dict:
    """交办 items, apart from the plan: how many are open, the overdue and unsigned by unit."""
    open_rows = [a for a in rows if a.status == Status.OPEN]
    overdue: dict[str, list[str]] = defaultdict(list)
    for a in sorted(open_rows, key=lambda a: (a.unit.position, a.deadline, a.item.position)):
        days = overdue_workdays(a.deadline, today, cal)
        if is_overdue(a.deadline, today) and days:
            overdue[a.unit.name].append(f"{a.code}（逾期 {days} 个工作日）")
    unsigned = defaultdict(list)
    for a in load_rows(unsigned_shares()):
        unsigned[a.unit.name].append(a.code)
    items = {a.item.id for a in rows if a.status in (Status.OPEN, Status.REVIEW)}
    return {
        "open": len(items),
        "overdue": [{"unit": u, "items": v} for u, v in overdue.items()],
        "overdue_count": sum(len(v) for v in overdue.values()),
        "unsigned": [{"unit": u, "items": v} for u, v in unsigned.items()],
    }


def _milestones_overdue(rows, today: date, cal: WorkCalendar) -> list[dict]:
    """Overdue milestones (实施细则 节点) per unit."""
    counts: dict[str, int] = defaultdict(int)
    for a in rows:
        if (
            a.kind == MILESTONE
            and a.status == Status.OPEN
            and overdue_workdays(a.deadline, today, cal)
        ):
            counts[a.unit.name] += 1
    return [{"unit": u, "count": n} for u, n in sorted(counts.items(), key=lambda kv: -kv[1])]


def _reviews_waiting(today: date, cal: WorkCalendar, tz) -> list[dict]:
    """Reports of "done" the office has not checked for more than REVIEW_LATE_DAYS working days."""
    late = []
    for a in load_rows(Assignment.status == Status.REVIEW):
        if a.reported_at is None:
            continue
        days = cal.workdays_between(a.reported_at.astimezone(tz).date(), today)
        if days > REVIEW_LATE_DAYS:
            late.append({"code": a.code, "unit": a.unit.short_name or a.unit.name, "days": days})
    return sorted(late, key=lambda r: -r["days"])


def _recurring_record(today: date, tz) -> list[dict]:
    """Each unit's record on recurring reports over its last RECORD_OCCURRENCES occurrences that
    are due: 按时 (reported by the deadline), 逾期 (reported late), 未报 (not reported)."""
    rows = load_rows(
        (Assignment.kind == OCCURRENCE)
        & (Assignment.deadline < today)
        & (Assignment.status != Status.CANCELLED)
    )
    by_unit: dict[tuple[int, str], list] = defaultdict(list)
    for a in rows:
        by_unit[(a.unit.position, a.unit.short_name or a.unit.name)].append(a)
    record = []
    for (_, unit), occurrences in sorted(by_unit.items()):
        last = sorted(occurrences, key=lambda a: a.deadline)[-RECORD_OCCURRENCES:]
        on_time = late = missing = 0
        for a in last:
            reported = a.reported_at or a.done_at
            if a.status not in (Status.DONE, Status.REVIEW) or reported is None:
                missing += 1
            elif reported.astimezone(tz).date() <= a.deadline:
                on_time += 1
            else:
                late += 1
        record.append(
            {"unit": unit, "total": len(last), "on_time": on_time, "late": late, "missing": missing}
        )
    return record


def _score(card: Scorecard, before: dict | None) -> dict:
    old = {
        c["name"]: Decimal(c["points"])
        for c in (before or {}).get("score", {}).get("categories", [])
    }
    old_total = Decimal(before["score"]["total"]) if before else None
    categories = []
    for c in card.categories:
        categories.append(
            {
                "name": c.name,
                "points": str(c.points),
                "max": str(c.max_points),
                "line": str(c.line),
                "passed": c.passed,
                "unscored": c.unscored,
                "change": str(c.points - old[c.name]) if c.name in old else None,
            }
        )
    return {
        "categories": categories,
        "total": str(card.total),
        "max": str(card.max_points),
        "pass_total": str(card.pass_total),
        "total_passed": card.total_passed,
        "passed": card.passed,
        "unscored": card.unscored,
        "change": str(card.total - old_total) if old_total is not None else None,
        # Computed from units' figures, waiting for the office: shown beside the total.
        "waiting": [
            {"code": i.code, "points": format_points(i.waiting or Decimal(0))} for i in card.waiting
        ],
    }


def _gap(card: Scorecard) -> dict:

    plan = gap_to_pass(card)
    units: dict[str, list[str]] = defaultdict(list)
    codes = [g.code for g in plan.gains]
    # Tuples, not models: an indicator of a large campaign has hundreds of units' shares, and
    # a model per row (its item's rule and inputs parsed each time) cost the board 100 ms.
    query = (
        Assignment.select(Item.code, Assignment.role, Unit.short_name, Unit.name)
        .join(Item)
        .switch(Assignment)
        .join(Unit)
        .where(Item.code.in_(codes or [""]) & Assignment.shares())
        .order_by(Assignment.role.desc(), Unit.position)
    )
    leads: dict[str, str] = {}
    for code, role, short_name, unit_name in tuples(query):
        name = short_name or unit_name
        units[code].append(name)
        if role == Role.LEAD:
            leads[code] = name
    # Name the lead unit; all units only where the plan leaves the lead open.
    for code, lead in leads.items():
        units[code] = [lead]
    return {
        "reachable": plan.reachable,
        "total_after": str(plan.total_after),
        "gains": [
            {
                "code": g.code,
                "title": g.title,
                "category": g.category,
                "points": str(g.points),
                "units": units.get(g.code, [])[:4],
                "more_units": max(0, len(units.get(g.code, [])) - 4),
                "lead": g.code in leads,
            }
            for g in plan.gains
        ],
    }


def _items_by_colour(rows, today: date, cal: WorkCalendar, tz) -> dict:
    """Plan items overdue (红) and due soon or behind schedule (黄), by unit; a share's progress
    follows its milestones (reminders.state), as everywhere."""
    red: dict[str, list[str]] = defaultdict(list)
    yellow: dict[str, list[str]] = defaultdict(list)
    open_rows = sorted(
        (a for a in rows if a.status == Status.OPEN),
        key=lambda a: (a.unit.position, a.deadline, a.item.position),
    )
    parts = milestone_counts(a.id for a in open_rows)
    for a in open_rows:
        state = state_of(a, today, cal, tz, parts.get(a.id))
        if state.colour == RED:
            red[a.unit.name].append(f"{a.item.code}（逾期 {state.overdue} 个工作日）")
        elif state.colour == YELLOW:
            yellow[a.unit.name].append(
                f"{a.item.code}（{a.deadline:%m-%d} 到期，{state.progress}%）"
            )
    return {
        "red": [{"unit": u, "items": v} for u, v in red.items()],
        "yellow": [{"unit": u, "items": v} for u, v in yellow.items()],
        "red_count": sum(len(v) for v in red.values()),
        "yellow_count": sum(len(v) for v in yellow.values()),
    }


def _silent_units(now: datetime) -> list[str]:
    """Units with open items that have a deadline, from which nobody reported in 7 days."""
    since = now - timedelta(days=7)

    def unit_ids(query) -> set[int]:
        return {unit_id for (unit_id,) in query.distinct().tuples()}

    with_work = unit_ids(
        Assignment.select(Assignment.unit).where(
            (Assignment.status == Status.OPEN) & Assignment.deadline.is_null(False)
        )
    )
    reported = (
        unit_ids(
            ProgressReport.select(Assignment.unit)
            .join(Assignment)
            .where(ProgressReport.created_at >= since)
        )
        | unit_ids(
            Evidence.select(Evidence.unit).where(
                (Evidence.created_at >= since) & Evidence.unit.is_null(False)
            )
        )
        | unit_ids(
            FigureReport.select(FigureReport.unit).where(
                (FigureReport.created_at >= since) & FigureReport.unit.is_null(False)
            )
        )
        | unit_ids(
            ExtensionRequest.select(Assignment.unit)
            .join(Assignment)
            .where(ExtensionRequest.created_at >= since)
        )
    )
    silent = with_work - reported
    return [u.name for u in Unit.select().where(Unit.id.in_(silent or [0])).order_by(Unit.position)]


def _ranking(rows, today: date, tz) -> list[dict]:
    """Units by on-time rate: shares reported done by their deadline among those already due.
    A report awaiting the office's review counts by when it was made (办结审核 may come later)."""
    due: dict[int, int] = defaultdict(int)
    on_time: dict[int, int] = defaultdict(int)
    query = (
        Assignment.select(Assignment, Unit)
        .join(Unit)
        .where(
            Assignment.shares()
            & (Assignment.status != Status.CANCELLED)
            & Assignment.deadline.is_null(False)
            & (Assignment.deadline < today)
        )
    )
    names = {}
    for a in query:
        names[a.unit_id] = a.unit.short_name or a.unit.name
        due[a.unit_id] += 1
        reported = a.reported_at or a.done_at
        if (
            a.status in (Status.DONE, Status.REVIEW)
            and reported is not None
            and reported.astimezone(tz).date() <= a.deadline
        ):
            on_time[a.unit_id] += 1
    rows = [
        {"unit": names[u], "due": due[u], "on_time": on_time[u], "rate": on_time[u] / due[u]}
        for u in due
    ]
    rows.sort(key=lambda r: (-r["rate"], -r["due"], r["unit"]))
    return rows


def render_markdown(data: dict, renderer: Templates) -> str:
    return renderer.render("digest.md.j2", d=data)


def chart_png(data: dict) -> bytes:
    # Pillow costs memory in every process; only the digest's chart needs it (measured with
    # bench/memory_bench.py), so it is imported when a chart is drawn.
    from reminders.chart import Bar, render_chart

    score = data["score"]
    bars = [
        Bar(c["name"], Decimal(c["points"]), Decimal(c["max"]), Decimal(c["line"]))
        for c in score["categories"]
    ]
    year, week = data["week"].split("-W")
    total = f"{_fmt(score['total'])}/{_fmt(score['max'])}"
    title = f"{year}年第{int(week)}周 评估得分 {total}（合格线 {_fmt(score['pass_total'])}）"
    return render_chart(bars, Decimal(score["total"]), Decimal(score["pass_total"]), title)


def _fmt(text: str) -> str:
    value = Decimal(text)
    return f"{value.normalize():f}" if value != value.to_integral_value() else str(int(value))


def publish(now, config, cal, outbox: Mail, renderer: Templates, *, by: str = "") -> DigestResult:
    """Store this week's snapshot and queue it to the leading group, once per week."""
    today = now.astimezone(config.timezone).date()
    week = week_of(today)
    existing = DigestSnapshot.get_or_none(DigestSnapshot.week == week)
    if existing is not None:
        return DigestResult(
            week,
            False,
            f"本周已于 {existing.created_at.astimezone(config.timezone):%m-%d %H:%M} 发布",
        )
    data = build(now, config, cal)
    markdown = render_markdown(data, renderer)
    png = chart_png(data)
    try:
        with database.atomic():
            DigestSnapshot.create(
                week=week,
                data=data,
                markdown=markdown,
                created_at=now,
                published_by=by,
                score=data["score"],
            )
            expires = digest_expiry(today, config)
            outbox.to_group(markdown, f"digest:{week}", expires_at=expires)
            outbox.queue(
                "group",
                [],
                {
                    "text": "（本周得分图）",
                    "png_b64": base64.b64encode(png).decode(),
                    "md5": hashlib.md5(png).hexdigest(),
                },
                f"digest-chart:{week}",
                msg_type="image",
                expires_at=expires,
            )
    except peewee.IntegrityError:  # another process published it a moment ago
        return DigestResult(week, False, "本周已发布")
    return DigestResult(week, True, markdown=markdown)


def publish_if_due(now, config, cal, outbox, renderer) -> DigestResult:
    """The scheduler's rule: from the first working day of the week at DIGEST_AT, once."""
    local = now.astimezone(config.timezone)
    today = local.date()
    week = week_of(today)
    first = cal.first_workday_of_week(today)
    if first is None or today < first or not cal.is_workday(today):
        return DigestResult(week, False, "不是本周的工作日")
    start = starts_at(today, config.digest_at, "digest", config.timezone)
    if today == first and local < start:
        return DigestResult(
            week, False, f"未到 {config.digest_at:%H:%M}（今天从 {start:%H:%M:%S} 开始）"
        )
    if config.in_quiet_hours(now):
        return DigestResult(week, False, "免打扰时段")
    return publish(now, config, cal, outbox, renderer, by="schedule")
