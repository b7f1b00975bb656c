"""The outbox: every message that leaves is a row first, written with the change that caused it.

`Outbox` queues rows (idempotent by a unique dedupe key). `OutboxSender` claims due rows with a
lease, hands them to a transport, and marks them sent, or schedules a retry, or records a
permanent failure. A row whose lease ran out (its sender died mid-send) is claimed again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import peewee

from bot.clock import Clock
from bot.transports.base import Outgoing, SendError, TransientSendError, Transport
from models.db import CONNECTION_ERRORS, database, is_postgres
from models.messages import InboundMessage, InteractiveCard, OutboxMessage

log = logging.getLogger(__name__)

NOTICE_PREFIX = "send-notice:"


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
    ) -> bool:
        """Queue one message; False if a message with this dedupe key was queued before."""
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
            )
            .on_conflict_ignore()
            .as_rowcount()
            .execute()
        )
        return bool(inserted)

    def to_members(self, userids, text: str, dedupe_key: str, **kwargs) -> bool:
        return self.queue("member", list(userids), {"text": text}, dedupe_key, **kwargs)

    def to_group(self, text: str, dedupe_key: str, *, msg_type: str = "markdown") -> bool:
        return self.queue("group", [], {"text": text}, dedupe_key, msg_type=msg_type)


@dataclass
class SendStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed


class OutboxSender:
    """Claims due rows, sends them through one transport, records the outcome."""

    def __init__(
        self,
        transport: Transport,
        clock: Clock,
        *,
        lease_seconds: float = 120,
        batch: int = 20,
        max_attempts: int = 8,
        backoff_cap_seconds: float = 600,
        admins: Callable[[], list[str]] = list,
    ):
        self.transport = transport
        self.clock = clock
        self.lease = timedelta(seconds=lease_seconds)
        self.batch = batch
        self.max_attempts = max_attempts
        self.backoff_cap = backoff_cap_seconds
        self.wake = threading.Event()
        self.admins = admins
        # After the database went away mid-batch: outcomes known but not yet written, and rows
        # claimed but not attempted. Both are settled as soon as the database answers again,
        # instead of waiting out their lease (and sending a delivered message twice).
        self._unrecorded: list[Callable[[], None]] = []
        self._untried: list[OutboxMessage] = []

    def notify(self) -> None:
        self.wake.set()

    def claim(self) -> list[OutboxMessage]:
        now = self.clock.now()
        due = (OutboxMessage.status == "pending") & (
            OutboxMessage.next_attempt_at.is_null() | (OutboxMessage.next_attempt_at <= now)
        )
        expired = (OutboxMessage.status == "sending") & (OutboxMessage.lease_until < now)
        ids = (
            OutboxMessage.select(OutboxMessage.id)
            .where(due | expired)
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
        self._settle()
        rows = self.claim()
        for index, row in enumerate(rows):
            try:
                self._send_one(row, stats)
            except CONNECTION_ERRORS:
                self._untried.extend(rows[index + 1 :])
                raise
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
            total.sent += stats.sent
            total.retried += stats.retried
            total.failed += stats.failed
        return total

    def _send_one(self, row: OutboxMessage, stats: SendStats) -> None:
        message = Outgoing(
            id=row.id,
            channel=row.channel,
            recipients=tuple(r for r in row.recipient.split("|") if r),
            msg_type=row.msg_type,
            content=row.content,
        )
        try:
            delivered = self.transport.send(message)
        except SendError as exc:
            failure = exc  # (the except clause's name does not outlive it)
            self._record(lambda: self._record_failure(row, failure, stats))
            return
        except Exception as exc:  # a bug in a transport must not stop the loop
            log.exception("transport %s crashed on outbox row %s", self.transport.name, row.id)
            error = TransientSendError(f"内部错误：{type(exc).__name__}")
            self._record(lambda: self._record_failure(row, error, stats))
            return
        self._record(lambda: self._record_sent(row, delivered, stats))

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
        with database.atomic():
            marked = self._mark(
                row,
                status="sent",
                sent_at=self.clock.now(),
                last_error=last_error,
                result=result,
                **changes,
            )
            if marked and "content" in changes:
                self._follow_task_id(row, old_task_id, delivered.task_id)
            if last_error:
                self._tell_admins(row, f"消息未能送达部分收件人（{last_error}）。")
        stats.sent += 1

    @staticmethod
    def _follow_task_id(row: OutboxMessage, old: str, new: str) -> None:
        """The card went out as `new`: clicks on it arrive with that id."""
        InteractiveCard.update(task_id=new).where(
            (InteractiveCard.task_id == old)
            & (InteractiveCard.outbox.is_null() | (InteractiveCard.outbox == row.id))
        ).execute()

    def _record_failure(self, row: OutboxMessage, exc: SendError, stats: SendStats) -> None:
        error = str(exc)[:500]
        if exc.permanent or row.attempts >= self.max_attempts:
            log.warning("outbox row %s failed for good: %s", row.id, error)
            with database.atomic():
                self._mark(row, status="failed", last_error=error)
                self._tell_admins(row, f"一条消息发送失败，已放弃重试：{error}")
            stats.failed += 1
            return
        delay = min(self.backoff_cap, 2 ** (row.attempts - 1) * 5.0)
        if isinstance(exc, TransientSendError) and exc.retry_after:
            delay = max(delay, exc.retry_after)
        self._mark(
            row,
            status="pending",
            last_error=error,
            next_attempt_at=self.clock.now() + timedelta(seconds=delay),
        )
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

    def _tell_admins(self, row: OutboxMessage, problem: str) -> None:
        """Queue one notice to the admins about a row; never about a notice (no loops)."""
        if row.dedupe_key.startswith(NOTICE_PREFIX) or not self.admins():
            return
        recipients = row.recipient.replace("|", "、") if row.channel == "member" else "领导小组群"
        text = f"【发送异常】{problem}\n收件人：{recipients}\n发送“自检”可检查企业微信设置。"
        Outbox(self.clock).to_members(self.admins(), text, f"{NOTICE_PREFIX}{row.id}")

    def loop(self, stop: threading.Event, idle_seconds: float = 1.0) -> None:
        """Run until `stop` is set; wakes at once when notified, else polls every idle_seconds."""
        while not stop.is_set():
            try:
                with database.connection_context():
                    stats = self.run_once()
            except peewee.PeeweeException:
                log.exception("outbox sender: database error; will retry")
                stats = SendStats()
            if stats.handled:
                continue
            self.wake.wait(idle_seconds)
            self.wake.clear()


def outbox_counts() -> dict[str, int]:
    query = OutboxMessage.select(OutboxMessage.status, peewee.fn.COUNT(OutboxMessage.id)).group_by(
        OutboxMessage.status
    )
    return dict(query.tuples())
