"""The outbox: every message that leaves is a row first, written with the change that caused it.

`Outbox` queues rows (idempotent by a unique dedupe key). `OutboxSender` claims due rows with a
lease, hands them to a transport, and marks them sent, or schedules a retry, or records a
permanent failure. A row whose lease ran out (its sender died mid-send) is claimed again.

Nothing is lost when the platform misbehaves: a transient failure keeps a row alive until it is
delivered or too old to matter (`expires_at`, else OUTBOX_MAX_AGE_HOURS), then it is marked
`expired` and the admins are told once. While the platform fails every message (an outage) the
channel is held and probed with one row at a time, so a long outage costs a request every few
minutes, not one per row. A wait for the bot's own pacing (`Throttled`) is not a failure: the
row goes back in line, uncounted, and later rows to the same people wait behind it. A flood of
replies to one person is sent as one merged message (bot/flood.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import peewee

from bot.cards import BUTTONS, card_payload
from bot.clock import Clock
from bot.flood import Owed, merged_text
from bot.render import Renderer
from bot.task_ids import new_task_id
from bot.transports.base import (
    Outgoing,
    SendError,
    Throttled,
    TransientSendError,
    Transport,
)
from models.db import CONNECTION_ERRORS, database, drop_connection, is_postgres, warm_connection
from models.messages import InboundMessage, InteractiveCard, OutboxMessage

log = logging.getLogger(__name__)

NOTICE_PREFIX = "send-notice:"
REPLY_PREFIX = "reply:"
MERGED_LIMIT = 2048  # bytes: WeCom's limit for an app text message
MERGE_SCAN = 1000  # replies to one person read at once for a merge
FIRST_BACKOFF = 5.0  # seconds; doubles with each failure, up to the cap
MIN_WAIT = timedelta(seconds=0.5)  # a put-back row is not claimed again sooner than this
NEVER = datetime.min.replace(tzinfo=UTC)
DRAINED_AFTER = 50  # rows sent in one burst before the sender's on_drained is called
POISON_PROBES = 3  # the same row failing every probe this often: perhaps it fails on its own

STATUS_LABELS = {
    "pending": "待发",
    "sending": "发送中",
    "merged": "已合并待发",
    "sent": "已发送",
    "failed": "失败",
    "expired": "已过期",
}
# What a row is, by its dedupe key (longest prefix first), for the admins' eyes.
KIND_LABELS = (
    ("digest-chart:", "周报得分图"),
    ("digest:", "周报"),
    ("remind:", "提醒"),
    ("reply:", "回复"),
    ("nudge:", "催办"),
    ("send-notice:", "发送异常通知"),
    ("deadline", "期限通知"),
    ("extension", "延期"),
    ("download", "文件取回"),
    ("export:", "台账"),
    ("import-report:", "导入预览"),
    ("import:", "导入通知"),
    ("pack:", "迎检材料包"),
    ("welcome", "绑定通知"),
    ("calendar-warning:", "日历提示"),
    ("coordinate:", "协调请求"),
)


class Outbox:
    """Writes outgoing messages into the outbox table (inside the caller's transaction)."""

    def __init__(self, clock: Clock):
        self.clock = clock

    def queue(
        self,
        channel: str,
        recipients: list[str] | tuple[str, ...],
        content: dict,
        dedupe_key: str,
        *,
        msg_type: str = "text",
        inbound: InboundMessage | None = None,
        expires_at: datetime | None = None,
    ) -> bool:
        """Queue one message; False if a message with this dedupe key was queued before.
        `expires_at`: when it is no longer worth sending (default: OUTBOX_MAX_AGE_HOURS)."""
        if channel not in ("member", "group"):
            raise ValueError(f"unknown channel {channel!r}")
        recipient = "|".join(sorted(set(recipients)))
        if channel == "member" and not recipient:
            raise ValueError("a member message needs at least one recipient")
        inserted = (
            OutboxMessage.insert(
                dedupe_key=dedupe_key[:191],
                channel=channel,
                recipient=recipient,
                msg_type=msg_type,
                content=content,
                status="pending",
                created_at=self.clock.now(),
                inbound=inbound,
                expires_at=expires_at,
            )
            .on_conflict_ignore()
            .as_rowcount()
            .execute()
        )
        return bool(inserted)

    def to_members(self, userids, text: str, dedupe_key: str, **kwargs) -> bool:
        return self.queue("member", list(userids), {"text": text}, dedupe_key, **kwargs)

    def card(
        self,
        now: datetime,
        *,
        kind: str,
        userid: str,
        title: str,
        description: str,
        rows: list[tuple[str, str]],
        text: str,
        dedupe_key: str,
        task_id: str = "",
        id_parts: tuple = (),
        buttons: tuple[tuple[str, str, int], ...] = BUTTONS,
        subject: str = "",
        expires_at: datetime | None = None,
        url: str = "",
    ) -> bool:
        """Queue one button card (with its text fallback) to one person, and remember it.
        `task_id`, or a new one made from `id_parts` (unique for the app's life, see
        bot/task_ids.py); `subject`: what a click acts on, when not the rows' codes (a review:
        the assignment id); `url`: where a tap on the card leads (the board's page)."""
        task_id = task_id or new_task_id(*id_parts)
        card = card_payload(
            title=title,
            description=description,
            rows=rows,
            task_id=task_id,
            buttons=buttons,
            url=url,
        )
        queued = self.queue(
            "member",
            [userid],
            {"text": text, "card": card},
            dedupe_key,
            msg_type="card",
            expires_at=expires_at,
        )
        if queued:
            row = OutboxMessage.get(OutboxMessage.dedupe_key == dedupe_key[:191])
            InteractiveCard.insert(
                task_id=task_id,
                outbox=row.id,  # so the sender can follow a task id WeCom made us change
                kind=kind,
                wecom_userid=userid,
                item_codes=subject or "|".join(code for code, _ in rows),
                created_at=now,
            ).on_conflict_ignore().execute()
        return queued

    def to_group(
        self,
        text: str,
        dedupe_key: str,
        *,
        msg_type: str = "markdown",
        expires_at: datetime | None = None,
    ) -> bool:
        return self.queue(
            "group", [], {"text": text}, dedupe_key, msg_type=msg_type, expires_at=expires_at
        )


@dataclass
class SendStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0  # put back in line without an attempt (pacing, a held channel)
    expired: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.deferred + self.expired

    def add(self, other: SendStats) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.deferred += other.deferred
        self.expired += other.expired


class OutboxSender:
    """Claims due rows, sends them through one transport, records the outcome."""

    def __init__(
        self,
        transport: Transport,
        clock: Clock,
        *,
        lease_seconds: float = 120,
        batch: int = 20,
        backoff_cap_seconds: float = 600,
        max_age_hours: float = 24,
        flood_replies: int = 0,
        admins: Callable[[], list[str]] = list,
        renderer: Renderer | None = None,
    ):
        self.transport = transport
        self.clock = clock
        self.lease = timedelta(seconds=lease_seconds)
        self.batch = batch
        self.backoff_cap = backoff_cap_seconds
        self.max_age = timedelta(hours=max_age_hours)
        # More replies than this due to one person at once go out as one message; 0: never.
        self.flood_replies = flood_replies
        self.wake = threading.Event()
        self.admins = admins
        self.renderer = renderer or Renderer(clock.tz)
        # After the database went away mid-batch: outcomes known but not yet written, and rows
        # claimed but not attempted. Both are settled as soon as the database answers again,
        # instead of waiting out their lease (and sending a delivered message twice).
        self._unrecorded: list[Callable[[], None]] = []
        self._untried: list[OutboxMessage] = []
        # channel -> what its outage answers so far say (none while it answers well).
        self._channels: dict[str, _ChannelState] = {}
        self._recovered = False  # a send just ended an outage (see run_once)
        # Called when the sender goes idle after a burst of at least DRAINED_AFTER rows (a
        # reminder round): the worker gives the memory back then (bot/memory.py, run.py).
        self.on_drained: Callable[[], None] = lambda: None
        self._suspects: set[int] = set()  # rows seen failing on their own (see _note_outage)
        # (channel, recipient) -> until when rows to it wait behind a throttled one.
        self._waiting: dict[tuple[str, str], datetime] = {}

    def notify(self) -> None:
        self.wake.set()

    def claim(self) -> list[OutboxMessage]:
        now = self.clock.now()
        due = (OutboxMessage.status == "pending") & (
            OutboxMessage.next_attempt_at.is_null() | (OutboxMessage.next_attempt_at <= now)
        )
        expired = (OutboxMessage.status == "sending") & (OutboxMessage.lease_until < now)
        where = due | expired
        held = [c for c, state in self._channels.items() if state.held_until > now]
        if held:
            where &= OutboxMessage.channel.not_in(held)
        ids = (
            OutboxMessage.select(OutboxMessage.id)
            .where(where)
            .order_by(OutboxMessage.id)
            .limit(self.batch)
        )
        if is_postgres():
            ids = ids.for_update("FOR UPDATE SKIP LOCKED")
        with database.atomic():
            query = (
                OutboxMessage.update(
                    status="sending",
                    lease_until=now + self.lease,
                    attempts=OutboxMessage.attempts + 1,
                )
                .where(OutboxMessage.id.in_(ids))
                .returning(OutboxMessage)
            )
            rows = list(query.execute())
        rows.sort(key=lambda row: row.id)
        return rows

    def run_once(self) -> SendStats:
        stats = SendStats()
        self._recovered = False
        self._settle()
        self.expire(stats)
        if self.flood_replies and "member" not in self._channels:  # merge while WeCom answers
            self.merge_floods()
        rows = self.claim()
        for index, row in enumerate(rows):
            try:
                self._send_one(row, stats)
            except CONNECTION_ERRORS:
                self._untried.extend(rows[index + 1 :])
                raise
            if self._recovered:
                # The first message through after an outage: what waited behind it is claimed
                # again at once, after floods of replies are merged, instead of one by one.
                self._recovered = False
                self._untried.extend(rows[index + 1 :])
                stats.deferred += len(rows) - index - 1
                self._settle()
                break
        return stats

    def _settle(self) -> None:
        while self._unrecorded:
            self._unrecorded[0]()
            self._unrecorded.pop(0)
        if self._untried:
            with database.atomic():
                for row in self._untried:
                    OutboxMessage.update(
                        status="pending", lease_until=None, attempts=OutboxMessage.attempts - 1
                    ).where(
                        (OutboxMessage.id == row.id)
                        & (OutboxMessage.status == "sending")
                        & (OutboxMessage.lease_until == row.lease_until)
                    ).execute()
            self._untried = []

    def release_leases(self) -> int:
        """At the start of the single worker: rows a dead sender held go back to pending at once.
        One of them may have been delivered just before the crash; its resend carries the same
        JSON, which WeCom's duplicate check absorbs."""
        with database.atomic():
            return (
                OutboxMessage.update(status="pending", lease_until=None)
                .where(OutboxMessage.status == "sending")
                .execute()
            )

    def _record(self, record: Callable[[], None]) -> None:
        """Write an outcome; if the database is away, keep it for `_settle`."""
        try:
            record()
        except CONNECTION_ERRORS:
            self._unrecorded.append(record)
            raise

    def drain(self, max_rounds: int = 100) -> SendStats:
        """Send everything due now (used by the CLI and tests); stops when nothing is claimable."""
        total = SendStats()
        for _ in range(max_rounds):
            stats = self.run_once()
            if not stats.handled:
                break
            total.add(stats)
        return total

    # ------------------------------------------------------------------ one row

    def _send_one(self, row: OutboxMessage, stats: SendStats) -> None:
        now = self.clock.now()
        state = self._channels.get(row.channel)
        if state is not None and state.held_until > now:
            # The platform failed the message before this one as it fails every message.
            hold = state.held_until
            self._record(lambda: self._put_back(row, hold, stats))
            return
        behind = self._waiting_until(row, now)
        if behind is not None:
            self._record(lambda: self._put_back(row, behind, stats))
            return
        msg_type, content = row.msg_type, row.content
        if msg_type == "merged":  # the replies of a flood, in one text (see merge_floods)
            msg_type, content = "text", {"text": content["merged"]["text"]}
        message = Outgoing(
            id=row.id,
            channel=row.channel,
            recipients=_recipients(row),
            msg_type=msg_type,
            content=content,
        )
        try:
            delivered = self.transport.send(message)
        except Throttled as wait:
            until = self.clock.now() + max(timedelta(seconds=wait.retry_after), MIN_WAIT)
            for key in _wait_keys(row):
                self._waiting[key] = max(until, self._waiting.get(key, until))
            self._record(lambda: self._put_back(row, until, stats))
            return
        except SendError as exc:
            failure = exc  # (the except clause's name does not outlive it)
            held, benched = self._note_outage(row, failure)
            self._record(lambda: self._record_failure(row, failure, stats, held, benched))
            return
        except Exception as exc:  # a bug in a transport must not stop the loop
            log.exception("transport %s crashed on outbox row %s", self.transport.name, row.id)
            error = TransientSendError(f"内部错误：{type(exc).__name__}")
            self._record(lambda: self._record_failure(row, error, stats, None, None))
            return
        state = self._channels.pop(row.channel, None)
        if state is not None and state.checking is not None:
            self._suspects.add(state.checking)
        if state is not None and state.streak:
            log.info("outbox: %s channel answers again", row.channel)
            self._recovered = True
        self._suspects.discard(row.id)
        self._record(lambda: self._record_sent(row, delivered, stats))

    def _waiting_until(self, row: OutboxMessage, now: datetime) -> datetime | None:
        """Until when this row must wait behind an earlier one to the same people."""
        for key, until in list(self._waiting.items()):
            if until <= now:
                del self._waiting[key]
        waits = [self._waiting[key] for key in _wait_keys(row) if key in self._waiting]
        return max(waits) if waits else None

    def _note_outage(
        self, row: OutboxMessage, exc: SendError
    ) -> tuple[datetime | None, int | None]:
        """After an answer that fails every message (WeCom down or refusing the app), hold the
        row's channel: 5 s, doubling to the backoff cap. The oldest row waiting probes when the
        hold ends; the others wait, untried, so a long outage costs one request per hold and
        they go out in order when WeCom is back. Returns until when the channel is held (the
        row is tried then) and a row set aside earlier that now goes back in line.

        A row that failed every probe `POISON_PROBES` times in a row may fail on its own (a
        proxy that refuses only uploads): it gets its own backoff and the next row tries at
        once. If that one fails too, it is WeCom after all; if it gets through, the row set
        aside is a suspect from then on: its failures no longer hold the channel."""
        if not (isinstance(exc, TransientSendError) and exc.outage) or row.id in self._suspects:
            return None, None
        state = self._channels.setdefault(row.channel, _ChannelState())
        benched = None
        if state.checking is not None and state.checking != row.id:
            benched, state.checking = state.checking, None
        else:
            state.probe_fails = state.probe_fails + 1 if state.probe_id == row.id else 1
            state.probe_id = row.id
            if state.probe_fails >= POISON_PROBES:
                state.checking, state.probe_id, state.probe_fails = row.id, None, 0
                log.info("outbox row %s set aside: does it fail on its own?", row.id)
                return None, None
        state.streak += 1
        seconds = min(self.backoff_cap, FIRST_BACKOFF * 2 ** (state.streak - 1))
        state.held_until = self.clock.now() + timedelta(seconds=max(seconds, exc.retry_after or 0))
        log.info("outbox: %s channel held until %s: %s", row.channel, state.held_until, exc)
        return state.held_until, benched

    def _put_back(self, row: OutboxMessage, until: datetime, stats: SendStats) -> None:
        """Back in line, not tried: the claim's attempt is not counted."""
        self._mark(
            row,
            status="pending",
            attempts=OutboxMessage.attempts - 1,
            next_attempt_at=max(until, self.clock.now() + MIN_WAIT),
        )
        stats.deferred += 1

    def _record_sent(self, row: OutboxMessage, delivered, stats: SendStats) -> None:
        result = None
        last_error = ""
        changes = {}
        if delivered is not None:
            result = {"msgid": delivered.msgid, "invalid": list(delivered.invalid_recipients)}
            if delivered.invalid_recipients:
                last_error = "无效的收件人：" + "、".join(delivered.invalid_recipients)
            if delivered.fallback_reason:
                result.update(fallback="text", reason=delivered.fallback_reason)
            old_task_id = (row.content.get("card") or {}).get("task_id")
            if delivered.task_id and old_task_id and delivered.task_id != old_task_id:
                result["task_id_was"] = old_task_id
                changes["content"] = {
                    **row.content,
                    "card": {**row.content["card"], "task_id": delivered.task_id},
                }
        now = self.clock.now()
        carried = _carried(row)
        if carried:
            result = {**(result or {}), "merged": len(carried)}
        with database.atomic():
            marked = self._mark(
                row,
                status="sent",
                sent_at=now,
                last_error=last_error,
                result=result,
                **changes,
            )
            if marked and carried:
                _settle_carried(carried, status="sent", sent_at=now)
            if marked and "content" in changes:
                self._follow_task_id(row, old_task_id, delivered.task_id)
            if marked and last_error:
                self._tell_admins(
                    row,
                    "partial",
                    invalid="、".join(delivered.invalid_recipients),
                    key=f"{NOTICE_PREFIX}{row.id}",
                )
        stats.sent += 1

    @staticmethod
    def _follow_task_id(row: OutboxMessage, old: str, new: str) -> None:
        """The card went out as `new`: clicks on it arrive with that id."""
        InteractiveCard.update(task_id=new).where(
            (InteractiveCard.task_id == old)
            & (InteractiveCard.outbox.is_null() | (InteractiveCard.outbox == row.id))
        ).execute()

    def _record_failure(
        self,
        row: OutboxMessage,
        exc: SendError,
        stats: SendStats,
        held: datetime | None,
        benched: int | None,
    ) -> None:
        """A permanent error fails the row at once; anything else is tried again, with a
        backoff capped at `backoff_cap` (or when its held channel opens, see `_note_outage`),
        until the row is sent or too old (see `expire`)."""
        error = str(exc)[:500]
        now = self.clock.now()
        if exc.permanent:
            log.warning("outbox row %s failed for good: %s", row.id, error)
            with database.atomic():
                marked = self._mark(row, status="failed", last_error=error, failed_at=now)
                if marked:
                    _settle_carried(_carried(row), status="failed", last_error=error, failed_at=now)
                    self._tell_admins(
                        row,
                        "failed",
                        row_id=row.id,
                        error=error,
                        key=f"{NOTICE_PREFIX}{row.id}:{now:%Y%m%d%H%M%S%f}",
                    )
            stats.failed += 1
            return
        delay = min(self.backoff_cap, FIRST_BACKOFF * 2 ** (row.attempts - 1))
        if isinstance(exc, TransientSendError) and exc.retry_after:
            delay = max(delay, exc.retry_after)
        next_at = now + timedelta(seconds=delay) if held is None else held
        with database.atomic():
            self._mark(row, status="pending", last_error=error, next_attempt_at=next_at)
            if benched is not None:
                OutboxMessage.update(next_attempt_at=held).where(
                    (OutboxMessage.id == benched) & (OutboxMessage.status == "pending")
                ).execute()
        stats.retried += 1

    def _mark(self, row: OutboxMessage, **values) -> bool:
        """Record the outcome; only the holder of the current lease may (False otherwise)."""
        with database.atomic():
            updated = (
                OutboxMessage.update(lease_until=None, **values)
                .where(
                    (OutboxMessage.id == row.id)
                    & (OutboxMessage.status == "sending")
                    & (OutboxMessage.lease_until == row.lease_until)
                )
                .execute()
            )
        return bool(updated)

    def _tell_admins(self, row: OutboxMessage, macro: str, *, key: str, **context) -> None:
        """Queue one notice to the admins about a row; never about a notice (no loops)."""
        if row.dedupe_key.startswith(NOTICE_PREFIX) or not self.admins():
            return
        text = self.renderer.snippet(
            "outbox.j2", macro, recipients=recipients_label(row), **context
        )
        Outbox(self.clock).to_members(self.admins(), text, key)

    # ------------------------------------------------------------------ too old to matter

    def expire(self, stats: SendStats | None = None) -> int:
        """Rows still unsent past their expiry are marked expired (with the replies a merged
        message carried) and the admins are told once, in one notice for them all. Notices
        to the admins expire without a notice of their own."""
        now = self.clock.now()
        too_old = (OutboxMessage.expires_at.is_null(False) & (OutboxMessage.expires_at <= now)) | (
            OutboxMessage.expires_at.is_null() & (OutboxMessage.created_at <= now - self.max_age)
        )
        waiting = (OutboxMessage.status == "pending") | (
            (OutboxMessage.status == "sending") & (OutboxMessage.lease_until < now)
        )
        candidates = list(
            OutboxMessage.select().where(waiting & too_old).order_by(OutboxMessage.id)
        )
        if not candidates:
            return 0
        with database.atomic():
            rows = list(
                OutboxMessage.update(status="expired", failed_at=now, lease_until=None)
                .where(OutboxMessage.id.in_([r.id for r in candidates]) & waiting)
                .returning(OutboxMessage)
                .execute()
            )
            rows.sort(key=lambda r: r.id)
            for row in rows:
                _settle_carried(_carried(row), status="expired", failed_at=now)
            told = [r for r in rows if not r.dedupe_key.startswith(NOTICE_PREFIX)]
            if told and self.admins():
                text = self.renderer.snippet(
                    "outbox.j2",
                    "expired",
                    rows=[describe(r) for r in told[:8]],
                    total=sum(1 + len(_carried(r)) for r in told),
                )
                key = f"{NOTICE_PREFIX}expired:{told[0].id}:{now:%Y%m%d%H%M%S%f}"
                Outbox(self.clock).to_members(self.admins(), text, key)
        for row in rows:
            log.warning("outbox row %s expired unsent: %s", row.id, row.last_error or "never tried")
        if stats is not None:
            stats.expired += len(rows)
        return len(rows)

    # ------------------------------------------------------------------ floods

    def merge_floods(self) -> int:
        """More than `flood_replies` replies due to one person at once: the oldest carries one
        message that stands for them all (bot/flood.py); the others are marked `merged` and are
        sent with it. Only replies never tried are merged: a row once tried must send the same
        JSON again (WeCom's duplicate check), and the merged text is stored in the carrier
        before it is sent, for the same reason. Returns how many rows were merged."""
        now = self.clock.now()
        due = (
            (OutboxMessage.status == "pending")
            & (OutboxMessage.next_attempt_at.is_null() | (OutboxMessage.next_attempt_at <= now))
            & (OutboxMessage.channel == "member")
            & (OutboxMessage.msg_type == "text")
            & (OutboxMessage.attempts == 0)
            & OutboxMessage.dedupe_key.startswith(REPLY_PREFIX)
            & ~OutboxMessage.recipient.contains("|")
        )
        floods = (
            OutboxMessage.select(OutboxMessage.recipient)
            .where(due)
            .group_by(OutboxMessage.recipient)
            .having(peewee.fn.COUNT(OutboxMessage.id) > self.flood_replies)
            .tuples()
        )
        merged = 0
        for (recipient,) in list(floods):
            rows = list(
                OutboxMessage.select()
                .where(due & (OutboxMessage.recipient == recipient))
                .order_by(OutboxMessage.id)
                .limit(MERGE_SCAN)
            )
            asked = dict(
                InboundMessage.select(InboundMessage.id, InboundMessage.text)
                .where(InboundMessage.id.in_([r.inbound_id for r in rows if r.inbound_id]))
                .tuples()
            )
            owed = [
                Owed(r.id, r.content.get("text", ""), asked.get(r.inbound_id, ""), r.created_at)
                for r in rows
            ]
            text = merged_text(owed, self._render_merged, MERGED_LIMIT)
            carrier, others = rows[0], [r.id for r in rows[1:]]
            try:
                with database.atomic():
                    taken = (
                        OutboxMessage.update(
                            msg_type="merged",
                            content={**carrier.content, "merged": {"text": text, "rows": others}},
                        )
                        .where(
                            (OutboxMessage.id == carrier.id)
                            & (OutboxMessage.status == "pending")
                            & (OutboxMessage.attempts == 0)
                        )
                        .execute()
                    )
                    count = (
                        OutboxMessage.update(status="merged", result={"merged_into": carrier.id})
                        .where(OutboxMessage.id.in_(others) & (OutboxMessage.status == "pending"))
                        .execute()
                    )
                    if not taken or count != len(others):
                        raise _Changed  # another sender took some: leave them all single
            except _Changed:
                continue
            log.info(
                "outbox: %s replies to %s merged into row %s", len(rows), recipient, carrier.id
            )
            merged += len(others)
        return merged

    def _render_merged(self, **context) -> str:
        return self.renderer.snippet("outbox.j2", "merged_replies", **context)

    def loop(self, stop: threading.Event, idle_seconds: float = 1.0) -> None:
        """Run until `stop` is set; wakes at once when notified, else polls every idle_seconds."""
        burst = 0
        while not stop.is_set():
            self.wake.clear()  # before looking: a notify during the pass is kept for the wait
            try:
                with warm_connection():
                    stats = self.run_once()
            except peewee.PeeweeException:
                log.exception("outbox sender: database error; will retry")
                stats = SendStats()
            if stats.handled:
                burst += stats.handled
                continue
            if burst >= DRAINED_AFTER:
                self.on_drained()
            burst = 0
            self.wake.wait(idle_seconds)
        drop_connection()


# ---------------------------------------------------------------------- rows as people see them


@dataclass(frozen=True)
class RowView:
    """One outbox row described for the admins (notices, 发件箱)."""

    id: int
    status: str
    status_label: str
    kind: str
    recipients: str
    error: str
    created_at: datetime
    failed_at: datetime | None
    next_at: datetime | None
    expires_at: datetime | None
    attempts: int


def describe(row: OutboxMessage, names: dict[str, str] | None = None) -> RowView:
    kind = next((label for prefix, label in KIND_LABELS if row.dedupe_key.startswith(prefix)), "")
    carried = _carried(row)
    if carried:
        kind = f"合并回复（{len(carried) + 1} 条）"
    preview = " ".join((row.content.get("text") or "").split())
    preview = preview if len(preview) <= 14 else preview[:14] + "…"
    if preview and not carried:
        kind = f"{kind or '消息'}“{preview}”"
    return RowView(
        id=row.id,
        status=row.status,
        status_label=STATUS_LABELS.get(row.status, row.status),
        kind=kind or "消息",
        recipients=recipients_label(row, names),
        error=_short(row.last_error),
        created_at=row.created_at,
        failed_at=row.failed_at or row.created_at,
        next_at=row.next_attempt_at,
        expires_at=row.expires_at,
        attempts=row.attempts,
    )


def recipients_label(row: OutboxMessage, names: dict[str, str] | None = None) -> str:
    if row.channel != "member":
        return "领导小组群"
    userids = _recipients(row)
    shown = [f"{u}（{names[u]}）" if names and names.get(u) else u for u in userids[:3]]
    more = f" 等 {len(userids)} 人" if len(userids) > 3 else ""
    return "、".join(shown) + more


def _short(error: str, limit: int = 60) -> str:
    error = " ".join((error or "").split())
    return error if len(error) <= limit else error[:limit] + "…"


def _recipients(row: OutboxMessage) -> tuple[str, ...]:
    return tuple(r for r in row.recipient.split("|") if r)


def _wait_keys(row: OutboxMessage) -> list[tuple[str, str]]:
    """Whom a row is paced by: each recipient, or the group. Card updates are not messages."""
    if row.msg_type == "card_update":
        return []
    if row.channel == "group":
        return [("group", "")]
    return [("member", userid) for userid in _recipients(row)]


def _carried(row: OutboxMessage) -> list[int]:
    """The rows whose replies this row's merged message carries."""
    return list((row.content.get("merged") or {}).get("rows") or [])


def _settle_carried(ids: list[int], **values) -> None:
    """The rows a merged message carried share its outcome (they keep their own content)."""
    if ids:
        OutboxMessage.update(**values).where(
            OutboxMessage.id.in_(ids) & (OutboxMessage.status == "merged")
        ).execute()


@dataclass
class _ChannelState:
    """A channel (members, the group) after outage answers: held until when, how many in a
    row, which row failed the probes, and a row set aside as perhaps failing on its own."""

    held_until: datetime = NEVER
    streak: int = 0
    probe_id: int | None = None
    probe_fails: int = 0
    checking: int | None = None


class _Changed(Exception):
    """Rows changed under a merge: roll it back."""


def outbox_counts() -> dict[str, int]:
    query = OutboxMessage.select(OutboxMessage.status, peewee.fn.COUNT(OutboxMessage.id)).group_by(
        OutboxMessage.status
    )
    return dict(query.tuples())
