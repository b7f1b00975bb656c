"""The outbox's sender: claims due rows with a lease (models/leases.py), hands them to a
transport, and marks them sent, or schedules a retry, or records a permanent failure. A row
whose lease ran out (its sender died mid-send) is claimed again.

Nothing is lost when the platform misbehaves: a transient failure keeps a row alive until it is
delivered or too old to matter (`expires_at`, else OUTBOX_MAX_AGE_HOURS), then it is marked
`expired` and the admins are told once. While the platform fails every message (an outage) the
channel is held and probed with one row at a time, so a long outage costs a request every few
minutes, not one per row. A wait for the bot's own pacing (`Throttled`) is not a failure: the
row goes back in line, uncounted, and later rows to the same people wait behind it. A flood of
replies to one person is sent as one merged message (bot/outbox/merging.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import peewee

from bot.clock import Clock
from bot.duty import Duty
from bot.outbox import errors_seen
from bot.outbox.merging import merge_floods, settle_carried
from bot.outbox.parts import RowParts
from bot.outbox.views import carried_rows, describe, recipients, recipients_label
from bot.outbox.writer import NOTICE_PREFIX, Outbox
from bot.render import Renderer
from bot.transports.base import (
    Outgoing,
    SendError,
    Throttled,
    TransientSendError,
    Transport,
)
from models.db import CONNECTION_ERRORS, database, drop_connection, warm_connection
from models.duty import SENDER
from models.leases import LeasedQueue
from models.messages import InteractiveCard, OutboxMessage

log = logging.getLogger(__name__)

FIRST_BACKOFF = 5.0  # seconds; doubles with each failure, up to the cap
MIN_WAIT = timedelta(seconds=0.5)  # a put-back row is not claimed again sooner than this
NEVER = datetime.min.replace(tzinfo=UTC)
DRAINED_AFTER = 50  # rows sent in one burst before the sender's on_drained is called
POISON_PROBES = 3  # the same row failing every probe this often: perhaps it fails on its own

# pending -> sending (leased until lease_until) -> sent | failed | expired, or back to pending
# (due at next_attempt_at).
QUEUE = LeasedQueue(
    OutboxMessage, ready="pending", leased="sending", lease="lease_until", due="next_attempt_at"
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
        # One sender for the whole deployment (every process, every host): this one sends only
        # while it holds the lease (bot/duty.py).
        self.duty = Duty(SENDER, clock)
        self.keeps_duty = False  # the worker's loop keeps it; a drain gives it back

    def notify(self) -> None:
        self.wake.set()

    def claim(self) -> list[OutboxMessage]:
        """Due rows (and rows whose sender's lease lapsed), oldest first, leased to this sender;
        each claim counts an attempt. Rows of a held channel wait."""
        now = self.clock.now()
        held = [c for c, state in self._channels.items() if state.held_until > now]
        return QUEUE.claim(
            now,
            self.lease,
            self.batch,
            where=OutboxMessage.channel.not_in(held) if held else None,
            also={"attempts": OutboxMessage.attempts + 1},
        )

    def run_once(self) -> SendStats:
        stats = SendStats()
        if not self.duty.held():
            return stats  # another process sends; this one waits its turn
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
        if self._untried:  # back in line, their attempt not counted
            QUEUE.hand_back(self._untried, self.clock.now(), attempts=OutboxMessage.attempts - 1)
            self._untried = []

    def release_leases(self) -> int:
        """At the start of the single worker: rows a dead sender held go back to pending at once.
        One of them may have been delivered just before the crash; its resend carries the same
        JSON, which WeCom's duplicate check absorbs."""
        return QUEUE.release_all(self.clock.now())

    def _record(self, record: Callable[[], None]) -> None:
        """Write an outcome; if the database is away, keep it for `_settle`."""
        try:
            record()
        except CONNECTION_ERRORS:
            self._unrecorded.append(record)
            raise

    def drain(self, max_rounds: int = 100) -> SendStats:
        """Send everything due now (used by the CLI and tests); stops when nothing is claimable.
        Only while no other process holds the sender's lease (a running worker sends it then);
        a lease taken for the drain is given back after it."""
        total = SendStats()
        if not self.duty.held():
            return total
        try:
            for _ in range(max_rounds):
                stats = self.run_once()
                if not stats.handled:
                    break
                total.add(stats)
        finally:
            if not self.keeps_duty:
                self.duty.release()
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
            recipients=recipients(row),
            msg_type=msg_type,
            content=content,
            parts=RowParts(row.id, now) if row.channel == "group" else None,
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
        carried = carried_rows(row)
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
                settle_carried(carried, status="sent", sent_at=now)
            if marked and "content" in changes and delivered.task_id and old_task_id:
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
        if exc.errcode is not None:
            with database.atomic():
                self._note_errcode(row, exc, now)
        if exc.permanent:
            log.warning("outbox row %s failed for good: %s", row.id, error)
            with database.atomic():
                marked = self._mark(row, status="failed", last_error=error, failed_at=now)
                if marked:
                    settle_carried(
                        carried_rows(row), status="failed", last_error=error, failed_at=now
                    )
                    self._tell_admins(
                        row,
                        "uncertain" if exc.uncertain else "failed",
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

    def _note_errcode(self, row: OutboxMessage, exc: SendError, now: datetime) -> None:
        """Remember the platform's code (自检 names the ones seen lately); when a person must
        act (a setting, the trusted IP, a code not in the table) tell the admins at once, at
        most once an hour for each code."""
        seen = errors_seen.note(exc.errcode, now, tell=exc.tell)
        if seen.told_at == now:
            self._tell_admins(
                row,
                "error_code",
                error=str(exc)[:300],
                key=f"{NOTICE_PREFIX}errcode:{exc.errcode}:{now:%Y%m%d%H%M%S%f}",
            )

    def _mark(self, row: OutboxMessage, **values) -> bool:
        """Record the outcome; only the holder of the current lease may (False otherwise)."""
        with database.atomic():
            return QUEUE.settle(row, **values)

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
        waiting = (OutboxMessage.status == "pending") | QUEUE.lapsed(now)
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
                settle_carried(carried_rows(row), status="expired", failed_at=now)
            told = [r for r in rows if not r.dedupe_key.startswith(NOTICE_PREFIX)]
            if told and self.admins():
                text = self.renderer.snippet(
                    "outbox.j2",
                    "expired",
                    rows=[describe(r) for r in told[:8]],
                    total=sum(1 + len(carried_rows(r)) for r in told),
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
        """More than `flood_replies` replies due to one person go out as one (see
        bot/outbox/merging.py). Returns how many rows were merged."""
        return merge_floods(self.clock.now(), self.flood_replies, self._render_merged)

    def _render_merged(self, **context) -> str:
        return self.renderer.snippet("outbox.j2", "merged_replies", **context)

    def loop(self, stop: threading.Event, idle_seconds: float = 1.0) -> None:
        """Run until `stop` is set; wakes at once when notified, else polls every idle_seconds.
        Sends only while holding the sender's lease; gives it back when stopped."""
        self.keeps_duty = True
        burst = 0
        while not stop.is_set():
            self.wake.clear()  # before looking: a notify during the pass is kept for the wait
            try:
                with warm_connection():
                    stats = self.run_once()
            except peewee.PeeweeException:
                log.exception("outbox sender: database error; will retry")
                self.duty.recheck()  # after a reconnect: is the lease still this one's?
                stats = SendStats()
            if stats.handled:
                burst += stats.handled
                continue
            if burst >= DRAINED_AFTER:
                self.on_drained()
            burst = 0
            self.wake.wait(idle_seconds)
        with contextlib.suppress(peewee.PeeweeException):
            self.duty.release()
        drop_connection()


@dataclass
class _ChannelState:
    """A channel (members, the group) after outage answers: held until when, how many in a
    row, which row failed the probes, and a row set aside as perhaps failing on its own."""

    held_until: datetime = NEVER
    streak: int = 0
    probe_id: int | None = None
    probe_fails: int = 0
    checking: int | None = None


def _wait_keys(row: OutboxMessage) -> list[tuple[str, str]]:
    """Whom a row is paced by: each recipient, or the group. Card updates are not messages."""
    if row.msg_type == "card_update":
        return []
    if row.channel == "group":
        return [("group", "")]
    return [("member", userid) for userid in recipients(row)]
