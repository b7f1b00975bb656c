"""The campaign's rounds, run by the scheduler's tick or the CLI: read the clock once, ask the
database what is due, write the outbox. Each round is idempotent: the database records what was
sent (a reminder per assignment, step and day), so a rerun or a restart sends nothing twice.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from bot.cards import queue_card, task_id_for
from bot.config import Config
from bot.outbox import Outbox
from bot.render import Renderer
from models.db import database
from models.org import Member, Unit
from models.plan import Assignment, Item
from models.schedule import ReminderSent
from models.scores import Score
from reminders.calendar import WorkCalendar
from reminders.ladder import Due, LadderSettings, colour, due_steps

# Deadlines further than this cannot reach the first step of the ladder today (7 working days
# span at most about three weeks, even across the Spring Festival).
HORIZON = timedelta(days=45)


@dataclass
class RoundResult:
    day: date
    skipped: str = ""
    items: int = 0
    messages: int = 0
    recipients: set[str] = field(default_factory=set)
    units_without_liaison: set[str] = field(default_factory=set)

    def summary(self) -> str:
        if self.skipped:
            return f"{self.day} 提醒未发送：{self.skipped}"
        text = (
            f"{self.day} 提醒：{self.items} 个事项提醒，{self.messages} 条消息，"
            f"{len(self.recipients)} 位收件人"
        )
        if self.units_without_liaison:
            text += f"；未绑定联络员的单位 {len(self.units_without_liaison)} 个"
        return text


@dataclass(frozen=True)
class Row:
    """An assignment as the rounds read it: light, with its item and unit shared, not re-read."""

    id: int
    item: Item
    unit: Unit
    deadline: date | None
    progress: int
    status: str
    deadline_set_on: date | None
    done_at: datetime | None


def load_rows(where) -> list[Row]:
    """Assignments matching `where`, with items and units read once (10,000 joined peewee
    models cost seconds; tuples and two small dictionaries cost milliseconds)."""
    items = {
        i.id: i
        for i in Item.select(
            Item.id, Item.code, Item.title, Item.kind, Item.max_points, Item.position
        )
    }
    units = {u.id: u for u in Unit.select(Unit.id, Unit.name, Unit.short_name, Unit.position)}
    query = Assignment.select(
        Assignment.id,
        Assignment.item,
        Assignment.unit,
        Assignment.deadline,
        Assignment.progress,
        Assignment.status,
        Assignment.deadline_set_on,
        Assignment.done_at,
    ).where(where)
    return [
        Row(a_id, items[item_id], units[unit_id], deadline, progress, status, set_on, done_at)
        for a_id, item_id, unit_id, deadline, progress, status, set_on, done_at in query.tuples()
    ]


@dataclass(frozen=True)
class Entry:
    assignment: Row
    due: Due
    colour: str
    at_stake: Decimal


def reminder_expiry(now: datetime, config: Config) -> datetime:
    """A reminder is worth sending on its day only, and not in that evening's quiet hours: one
    still unsent when they begin (21:00 by default), or at midnight at the latest, expires
    (the admins are told). The ladder's next step goes out on its own day as usual."""
    local = now.astimezone(config.timezone)
    quiet = datetime.combine(local.date(), config.quiet_start, config.timezone)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), config.timezone)
    return quiet if local < quiet else midnight


def ladder_settings(config: Config) -> LadderSettings:
    return LadderSettings(tuple(config.remind_days_before), config.escalate_after)


def reminder_round(
    now: datetime, config: Config, cal: WorkCalendar, outbox: Outbox, renderer: Renderer
) -> RoundResult:
    """Send today's ladder steps: one message per recipient, items ordered by points at stake."""
    local = now.astimezone(config.timezone)
    today = local.date()
    result = RoundResult(today)
    if not cal.is_workday(today):
        result.skipped = "今天不是工作日"
        return result
    if config.in_quiet_hours(now):
        result.skipped = "免打扰时段"
        return result
    if local.time() < config.remind_at:
        result.skipped = f"未到提醒时间 {config.remind_at:%H:%M}"
        return result
    settings = ladder_settings(config)
    rows = load_rows(
        (Assignment.status == "open")
        & Assignment.deadline.is_null(False)
        & (Assignment.deadline <= today + HORIZON)
    )
    already = {
        (r.assignment_id, r.step)
        for r in ReminderSent.select(ReminderSent.assignment, ReminderSent.step).where(
            ReminderSent.day == today
        )
    }
    scores = Score.current()
    entries: dict[int, list[Entry]] = defaultdict(list)  # unit id -> entries
    for a in rows:
        for due in due_steps(a.deadline, today, cal, settings):
            if (a.id, due.step) in already:
                continue
            at_stake = _at_stake(a.item, scores)
            shade = colour(a.deadline, today, a.progress, cal, a.deadline_set_on)
            entries[a.unit.id].append(Entry(a, due, shade, at_stake))
    if not entries:
        return result
    people = _people(list(entries))
    expires = reminder_expiry(now, config)
    sent_rows: list[dict] = []
    with database.atomic():
        for unit_id, unit_entries in entries.items():
            unit = unit_entries[0].assignment.unit
            liaisons, heads = people.get(unit_id, ([], []))
            ordinary = sorted((e for e in unit_entries if e.due.step != "escalate"), key=_order)
            escalated = sorted((e for e in unit_entries if e.due.step == "escalate"), key=_order)
            if ordinary and not liaisons:
                result.units_without_liaison.add(unit.name)
            for member in liaisons if ordinary else []:
                _send(
                    outbox,
                    renderer,
                    now,
                    today,
                    member,
                    unit,
                    ordinary,
                    "reminder.j2",
                    result,
                    expires,
                )
            for member in heads if escalated else []:
                _send(
                    outbox,
                    renderer,
                    now,
                    today,
                    member,
                    unit,
                    escalated,
                    "escalation.j2",
                    result,
                    expires,
                )
            delivered = (ordinary if liaisons else []) + (escalated if heads else [])
            sent_rows.extend(
                {
                    "assignment": entry.assignment.id,
                    "step": entry.due.step,
                    "day": today,
                    "recipients": "|".join(
                        m.wecom_userid
                        for m in (heads if entry.due.step == "escalate" else liaisons)
                    ),
                    "sent_at": now,
                }
                for entry in delivered
            )
        for start in range(0, len(sent_rows), 500):
            ReminderSent.insert_many(sent_rows[start : start + 500]).on_conflict_ignore().execute()
        result.items = len(sent_rows)
    return result


def _order(entry: Entry):
    return (-entry.at_stake, entry.due.workdays_left, entry.assignment.item.position)


def _at_stake(item: Item, scores: dict[int, Decimal]) -> Decimal:
    """Points an item can still lose or gain: an indicator's points not yet secured; 0 for tasks."""
    if not item.is_indicator:
        return Decimal(0)
    return item.max_points_value() - scores.get(item.id, Decimal(0))


def _people(unit_ids: list[int]) -> dict[int, tuple[list[Member], list[Member]]]:
    people: dict[int, tuple[list[Member], list[Member]]] = {u: ([], []) for u in unit_ids}
    query = Member.select().where(
        Member.unit.in_(unit_ids) & (Member.having("liaison") | Member.having("head"))
    )
    for member in query.order_by(Member.id):
        if "liaison" in member.roles:
            people[member.unit_id][0].append(member)
        if "head" in member.roles:
            people[member.unit_id][1].append(member)
    return people


def _send(outbox, renderer, now, today, member, unit, entries, template, result, expires) -> None:
    text = renderer.render(template, unit=unit, today=today, entries=entries)
    fingerprint = hashlib.sha1(
        ",".join(f"{e.assignment.id}:{e.due.step}" for e in entries).encode()
    ).hexdigest()[:12]
    key = f"remind:{today}:{member.wecom_userid}:{fingerprint}"
    if template == "reminder.j2":
        rows = [
            (e.assignment.item.code, f"{e.colour or '—'}｜{_when(e)}｜{e.assignment.progress}%")
            for e in entries
        ]
        queued = queue_card(
            outbox,
            now,
            kind="reminder",
            userid=member.wecom_userid,
            title=f"【督办提醒】{unit.name}",
            description=f"{len(entries)} 项需要关注",
            rows=rows,
            text=text,
            task_id=task_id_for("remind", today.isoformat(), member.id, fingerprint),
            dedupe_key=key,
            expires_at=expires,
        )
    else:
        queued = outbox.to_members([member.wecom_userid], text, key, expires_at=expires)
    if queued:
        result.messages += 1
        result.recipients.add(member.wecom_userid)


def _when(entry: Entry) -> str:
    left = entry.due.workdays_left
    if left > 0:
        return f"还有{left}个工作日"
    if left == 0:
        return "今天到期"
    return f"逾期{-left}个工作日"
