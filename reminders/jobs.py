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

from models import userids
from models.db import database, tuples
from models.org import Member, Unit
from models.plan import (
    MILESTONE,
    OCCURRENCE,
    OPEN,
    SHARE,
    Assignment,
    Item,
    ItemKind,
    Status,
    period_label,
)
from models.schedule import ReminderSent
from models.scores import Score
from reminders.calendar import WorkCalendar
from reminders.ladder import (
    Audience,
    Due,
    LadderSettings,
    Step,
    audience_of,
    colour,
    due_steps,
    for_urgency,
)
from reminders.ports import CampaignSettings, Mail, Templates
from reminders.state import unit_file_count
from reminders.state import unsigned as unsigned_shares
from reminders.timing import starts_at

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
    kind: str = SHARE
    seq: int | None = None
    period: str = ""
    title: str = ""
    owner_userid: str = ""
    signed_at: datetime | None = None
    parent_id: int | None = None
    reported_at: datetime | None = None

    @property
    def code(self) -> str:
        return f"{self.item.code}-{self.seq}" if self.kind == MILESTONE else self.item.code

    @property
    def name(self) -> str:
        """What the row is about, for a message line: the item's title, the milestone's work."""
        if self.kind == MILESTONE:
            return self.title
        if self.kind == OCCURRENCE:
            return f"{self.item.title}（{period_label(self.period)}）"
        return self.item.title


_ROW_FIELDS = (
    Assignment.id,
    Assignment.item,
    Assignment.unit,
    Assignment.deadline,
    Assignment.progress,
    Assignment.status,
    Assignment.deadline_set_on,
    Assignment.done_at,
    Assignment.kind,
    Assignment.seq,
    Assignment.period,
    Assignment.title,
    Assignment.owner_userid,
    Assignment.signed_at,
    Assignment.parent,
    Assignment.reported_at,
)


def load_rows(where) -> list[Row]:
    """Assignments matching `where`, with items and units read once (10,000 joined peewee
    models cost seconds; tuples and two small dictionaries cost milliseconds)."""
    items = {
        i.id: i
        for i in Item.select(
            Item.id,
            Item.code,
            Item.title,
            Item.kind,
            Item.max_points,
            Item.position,
            Item.assigned_by,
            Item.instructed_by,
            Item.urgency,
            Item.created_at,
            Item.cancelled_at,
            Item.recurrence,
        )
    }
    units = {u.id: u for u in Unit.select(Unit.id, Unit.name, Unit.short_name, Unit.position)}
    query = Assignment.select(*_ROW_FIELDS).where(where)
    return [Row(row[0], items[row[1]], units[row[2]], *row[3:]) for row in tuples(query)]


@dataclass(frozen=True)
class Entry:
    assignment: Row
    due: Due
    colour: str
    at_stake: Decimal


def reminder_expiry(now: datetime, config: CampaignSettings) -> datetime:
    """A reminder is worth sending on its day only, and not in that evening's quiet hours: one
    still unsent when they begin (21:00 by default), or at midnight at the latest, expires
    (the admins are told). The ladder's next step goes out on its own day as usual."""
    local = now.astimezone(config.timezone)
    quiet = datetime.combine(local.date(), config.quiet_start, config.timezone)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), config.timezone)
    return quiet if local < quiet else midnight


def ladder_settings(config: CampaignSettings) -> LadderSettings:
    return LadderSettings(tuple(config.remind_days_before), config.escalate_after)


def node_settings(config: CampaignSettings) -> LadderSettings:
    """Milestones and recurring reports: a shorter ladder (default 3 and 1 working days before)."""
    return LadderSettings(tuple(config.node_remind_days_before), config.escalate_after)


# An item a leader assigned reaches that leader on its first overdue working day, then weekly.
LEADER_EVERY = 5


def settings_for(a, config: CampaignSettings) -> LadderSettings:
    """A row's ladder: shares the full one, milestones and occurrences the shorter one, both
    shortened by the item's 紧急程度."""
    settings = ladder_settings(config) if a.kind == SHARE else node_settings(config)
    return for_urgency(settings, a.item.urgency or "")


def _steps(a: Row, today: date, cal: WorkCalendar, config: CampaignSettings, superseded: set[int]):
    """The ladder steps this row reaches today, plus 签收 and the assigning leader's."""
    settings = settings_for(a, config)
    steps = list(due_steps(a.deadline, today, cal, settings)) if a.deadline else []
    if a.id in superseded:  # a newer occurrence of the report is due: stop chasing this one
        steps = [d for d in steps if d.step not in (Step.OVERDUE, Step.ESCALATE)]
    overdue = [d for d in steps if d.step == Step.OVERDUE]
    leader = _leader_of(a)
    if overdue and leader and (-overdue[0].workdays_left - 1) % LEADER_EVERY == 0:
        steps.append(Due(Step.LEADER, overdue[0].workdays_left))
    return steps


def told_today(
    assignments: list, now: datetime, config: CampaignSettings, cal: WorkCalendar
) -> int:
    """A notice just sent about a deadline (期限 in chat, an import's letter) stands for today's
    reminder of it: today's ladder steps are recorded as sent with no recipients, so the unit is
    not pinged twice the same day and the ladder goes on from the next working day."""
    today = now.astimezone(config.timezone).date()
    rows = []
    for a in assignments:
        if a.deadline is None:
            continue
        settings = settings_for(a, config)
        for due in due_steps(a.deadline, today, cal, settings):
            rows.append(
                {
                    "assignment": a.id,
                    "step": due.step,
                    "day": today,
                    "recipients": "",
                    "sent_at": now,
                }
            )
    for start in range(0, len(rows), 500):
        ReminderSent.insert_many(rows[start : start + 500]).on_conflict_ignore().execute()
    return len(rows)


def _leader_of(a: Row) -> str:
    """The leader a 交办 item reports back to: its 批示领导, else the person who assigned it
    (escalations go back to them; only a bound leader hears)."""
    if a.item.kind != ItemKind.ASSIGNED:
        return ""
    return a.item.instructed_by or a.item.assigned_by


def reminder_round(
    now: datetime, config: CampaignSettings, cal: WorkCalendar, outbox: Mail, renderer: Templates
) -> RoundResult:
    """Send today's ladder steps: one message per recipient, items ordered by points at stake.

    Liaisons hear about their unit's items, milestones and recurring reports, and about 交办
    items they have not signed for; a milestone's 责任人 about their milestones; heads from the
    ESCALATE_AFTER-th overdue working day; the leader who assigned an item when it is overdue."""
    local = now.astimezone(config.timezone)
    today = local.date()
    result = RoundResult(today)
    if not cal.is_workday(today):
        result.skipped = "今天不是工作日"
        return result
    if config.in_quiet_hours(now):
        result.skipped = "免打扰时段"
        return result
    begins = starts_at(today, config.remind_at, "remind", config.timezone)
    if local < begins:
        result.skipped = f"未到提醒时间 {config.remind_at:%H:%M}（今天从 {begins:%H:%M:%S} 开始）"
        return result
    rows = load_rows(
        (Assignment.status == OPEN)
        & Assignment.deadline.is_null(False)
        & (Assignment.deadline <= today + HORIZON)
        & Assignment.item.in_(Item.select(Item.id).where(Item.cancelled_at.is_null()))
    )
    unsigned = load_rows(unsigned_shares())
    already = {
        (r.assignment_id, r.step)
        for r in ReminderSent.select(ReminderSent.assignment, ReminderSent.step).where(
            ReminderSent.day == today
        )
    }
    scores = Score.current()
    superseded = _superseded(rows, today)
    entries: list[Entry] = []
    for a in rows:
        for due in _steps(a, today, cal, config, superseded):
            if (a.id, due.step) not in already:
                shade = colour(a.deadline, today, a.progress, cal, a.deadline_set_on)
                entries.append(Entry(a, due, shade, _at_stake(a.item, scores)))
    for a in unsigned:  # chased from the working day after it was assigned
        created = (
            a.item.created_at.astimezone(config.timezone).date() if a.item.created_at else today
        )
        if created < today and (a.id, Step.SIGN) not in already:
            entries.append(Entry(a, Due(Step.SIGN, 0), "", Decimal(0)))
    if not entries:
        return result
    audience = _audience(entries)
    expires = reminder_expiry(now, config)
    sent: dict[tuple[int, str], set[str]] = defaultdict(set)
    with database.atomic():
        for (member, template, unit), mine in audience.items():
            mine.sort(key=_order)
            _send(outbox, renderer, now, today, member, unit, mine, template, result, expires)
            for entry in mine:
                sent[(entry.assignment.id, entry.due.step)].add(member.wecom_userid)
        for entry in entries:
            # Escalations go to heads and leaders: a unit without a head is not a unit
            # without a liaison.
            if audience_of(entry.due.step) != Audience.UNIT:
                continue
            if not sent.get((entry.assignment.id, entry.due.step)):
                result.units_without_liaison.add(entry.assignment.unit.name)
        sent_rows = [
            {
                "assignment": assignment_id,
                "step": step,
                "day": today,
                "recipients": "|".join(sorted(who)),
                "sent_at": now,
            }
            for (assignment_id, step), who in sent.items()
        ]
        for start in range(0, len(sent_rows), 500):
            ReminderSent.insert_many(sent_rows[start : start + 500]).on_conflict_ignore().execute()
        result.items = len(sent_rows)
    return result


def _superseded(rows: list[Row], today: date) -> set[int]:
    """Open occurrences of a recurring report whose next occurrence is due already (reported
    or not): the unit may still report them, but they are no longer chased."""
    open_ones = {a.id: a for a in rows if a.kind == OCCURRENCE and a.deadline}
    if not open_ones:
        return set()
    latest_due: dict[tuple[int, int], list[date]] = defaultdict(list)
    query = Assignment.select(Assignment.item, Assignment.unit, Assignment.deadline).where(
        (Assignment.kind == OCCURRENCE)
        & (Assignment.deadline <= today)
        & Assignment.item.in_(sorted({a.item.id for a in open_ones.values()}))
    )
    for item_id, unit_id, deadline in tuples(query):
        latest_due[(item_id, unit_id)].append(deadline)
    return {
        a.id
        for a in open_ones.values()
        if a.deadline is not None
        and any(d > a.deadline for d in latest_due.get((a.item.id, a.unit.id), []))
    }


def _audience(entries: list[Entry]) -> dict[tuple, list[Entry]]:
    """Who hears about which entries: (member, template, unit) -> entries. One message each."""
    units = sorted({e.assignment.unit.id for e in entries})
    liaisons, heads = _people(units)
    owners = {
        userids.key(m.wecom_userid): m
        for m in Member.select().where(
            (Member.active == True)  # noqa: E712
            & userids.among(
                Member.wecom_userid,
                [e.assignment.owner_userid for e in entries if e.assignment.owner_userid],
            )
        )
    }
    leaders = {
        userids.key(m.wecom_userid): m
        for m in Member.select().where(
            Member.having("leader")
            & userids.among(Member.wecom_userid, [_leader_of(e.assignment) for e in entries])
        )
    }
    audience: dict[tuple, list[Entry]] = defaultdict(list)
    for entry in entries:
        a, hears = entry.assignment, audience_of(entry.due.step)
        if hears == Audience.HEADS:
            for member in heads.get(a.unit.id, []):
                audience[(member, "escalation.j2", a.unit)].append(entry)
        elif hears == Audience.LEADER:
            leader = leaders.get(userids.key(_leader_of(a)))
            if leader is not None:
                audience[(leader, "leader_escalation.j2", None)].append(entry)
        else:
            told = set()
            for member in liaisons.get(a.unit.id, []):
                audience[(member, "reminder.j2", a.unit)].append(entry)
                told.add(userids.key(member.wecom_userid))
            owner = owners.get(userids.key(a.owner_userid or ""))
            if (
                owner is not None and userids.key(owner.wecom_userid) not in told
            ):  # the liaison is in copy
                audience[(owner, "reminder.j2", a.unit)].append(entry)
    return audience


def _order(entry: Entry):
    return (-entry.at_stake, entry.due.workdays_left, entry.assignment.item.position)


def _at_stake(item: Item, scores: dict[int, Decimal]) -> Decimal:
    """Points an item can still lose or gain: an indicator's points not yet secured; 0 for tasks."""
    if not item.is_indicator:
        return Decimal(0)
    return item.max_points_value() - scores.get(item.id, Decimal(0))


def _people(unit_ids: list[int]) -> tuple[dict[int, list[Member]], dict[int, list[Member]]]:
    """The active liaisons and heads of these units."""
    liaisons: dict[int, list[Member]] = defaultdict(list)
    heads: dict[int, list[Member]] = defaultdict(list)
    query = Member.select().where(
        Member.unit.in_(unit_ids) & (Member.having("liaison") | Member.having("head"))
    )
    for member in query.order_by(Member.id):
        unit_id = member.unit_id or 0
        if "liaison" in member.roles:
            liaisons[unit_id].append(member)
        if "head" in member.roles:
            heads[unit_id].append(member)
    return liaisons, heads


def lacking_evidence(unit: Unit, entries: list[Entry]) -> set[int]:
    """The entries' indicators for which the unit has not filed a single piece of evidence (its
    reminder says so, and gives the upload page where there is one)."""
    return {
        e.assignment.id
        for e in entries
        if e.assignment.kind == SHARE
        and e.assignment.item.is_indicator
        and e.due.step != Step.SIGN
        and unit_file_count(e.assignment.item, unit.id) == 0
    }


def _send(outbox, renderer, now, today, member, unit, entries, template, result, expires) -> None:
    lacking = lacking_evidence(unit, entries) if template == "reminder.j2" else set()
    text = renderer.render(
        template, unit=unit, today=today, entries=entries, member=member, lacking=lacking
    )
    fingerprint = hashlib.sha1(
        ",".join(f"{e.assignment.id}:{e.due.step}" for e in entries).encode()
    ).hexdigest()[:12]
    key = f"remind:{today}:{member.wecom_userid}:{fingerprint}"
    if template == "reminder.j2":
        rows = [
            (e.assignment.code, f"{e.colour or '—'}｜{_when(e)}｜{e.assignment.progress}%")
            for e in entries
        ]
        signing = all(e.due.step == Step.SIGN for e in entries)
        queued = outbox.card(
            now,
            kind="assign" if signing else "reminder",
            userid=member.wecom_userid,
            title=f"【督办提醒】{unit.name}",
            description=f"{len(entries)} 项需要关注",
            rows=rows,
            text=text,
            id_parts=("remind", today.isoformat(), member.id, fingerprint),
            dedupe_key=key,
            expires_at=expires,
            url=f"{renderer.board_url}/unit/{unit.id}" if renderer.board_url else "",
        )
    else:
        queued = outbox.to_members([member.wecom_userid], text, key, expires_at=expires)
    if queued:
        result.messages += 1
        result.recipients.add(member.wecom_userid)


def _when(entry: Entry) -> str:
    if entry.due.step == Step.SIGN:
        return "未签收"
    left = entry.due.workdays_left
    if left > 0:
        return f"还有{left}个工作日"
    if left == 0:
        return "今天到期"
    return f"逾期{-left}个工作日"


def ensure_occurrences(
    now: datetime, config: CampaignSettings, cal: WorkCalendar, item_ids: list[int] | None = None
) -> int:
    """Make each recurring 交办 item's occurrences due within HORIZON exist, one per unit and
    period (idempotent), and keep open ones on the calendar's working days. Returns how many
    were added. A due day that is not a working day moves by RECURRING_DAY_OFF."""
    from reminders.recurrence import due_date, parse_recurrence, periods

    today = now.astimezone(config.timezone).date()
    query = Item.select().where(
        (Item.kind == ItemKind.ASSIGNED) & (Item.recurrence != "") & Item.cancelled_at.is_null()
    )
    if item_ids is not None:
        query = query.where(Item.id.in_(item_ids or [0]))
    added = 0
    for item in query:
        rule = parse_recurrence(item.recurrence)
        if rule is None:
            continue
        start = item.created_at.astimezone(config.timezone).date() if item.created_at else today
        shares = list(
            Assignment.select().where(
                (Assignment.item == item)
                & Assignment.shares()
                & (Assignment.status != Status.CANCELLED)
            )
        )
        window_start = start
        for period in periods(rule, start, today + HORIZON):
            deadline = due_date(period.nominal, cal, config.recurring_day_off)
            if deadline < start:
                window_start = period.nominal
                continue
            for share in shares:
                added += (
                    Assignment.insert(
                        item=item,
                        unit=share.unit_id,
                        role=share.role,
                        via_group=share.via_group,
                        kind=OCCURRENCE,
                        slot=f"p{period.key}",
                        parent=share.id,
                        period=period.key,
                        deadline=deadline,
                        deadline_set_on=window_start,
                        signed_at=now,  # the share is signed for, not each occurrence
                        updated_at=now,
                    )
                    .on_conflict_ignore()
                    .as_rowcount()
                    .execute()
                )
            # The office may have entered a holiday since: open occurrences follow it.
            Assignment.update(deadline=deadline).where(
                (Assignment.item == item)
                & (Assignment.period == period.key)
                & (Assignment.kind == OCCURRENCE)
                & (Assignment.status == OPEN)
                & (Assignment.deadline != deadline)
            ).execute()
            window_start = period.nominal
    return added
