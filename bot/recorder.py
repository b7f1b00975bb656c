"""Group commit for the callback's hot path: request threads hand their inbound row to one writer
thread, which inserts whatever has queued up in a single transaction and wakes them.

With many concurrent callbacks this turns N transactions (and N waits for SQLite's one write
lock, or N commits on PostgreSQL) into one; with a single callback it costs one thread hand-off.
The caller still returns only after its row is committed: nothing is acknowledged unrecorded.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field

from models.db import CONNECTION_ERRORS, database, drop_connection
from models.messages import InboundMessage

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    values: dict
    done: threading.Event = field(default_factory=threading.Event)
    result: int | None = None
    error: BaseException | None = None


class BatchRecorder:
    def __init__(self, max_batch: int = 64):
        self.max_batch = max_batch
        self._queue: deque[_Pending] = deque()
        self._ready = threading.Condition()
        self._stopping = False

    def record(self, **values) -> int | None:
        """Like InboundMessage.record, through the writer thread. Raises what the insert raised."""
        pending = _Pending(values)
        with self._ready:
            self._queue.append(pending)
            self._ready.notify()
        if not pending.done.wait(timeout=30):
            raise TimeoutError("the inbound writer did not answer in 30 s")
        if pending.error is not None:
            raise pending.error
        return pending.result

    def run(self) -> None:
        """The writer thread's body (started by run.py); returns after stop()."""
        try:
            while True:
                with self._ready:
                    while not self._queue and not self._stopping:
                        self._ready.wait()
                    if self._stopping and not self._queue:
                        return
                    batch = [
                        self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))
                    ]
                self._write(batch)
        finally:
            drop_connection()

    def stop(self) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify_all()

    def _write(self, batch: list[_Pending]) -> None:
        try:
            results = self._insert(batch)
        except CONNECTION_ERRORS as exc:
            # Still unreachable after a fresh connection: fail these callbacks (answered 503, so
            # WeCom delivers them again); the next batch connects anew.
            log.error("inbound writer: database unavailable (%s)", exc)
            for pending in batch:
                pending.error = exc
                pending.done.set()
            return
        except Exception as exc:  # one bad row must not fail the others: retry them one by one
            log.warning(
                "batched insert of %d inbound rows failed (%s); one by one", len(batch), exc
            )
            for pending in batch:
                try:
                    pending.result = InboundMessage.record(**pending.values)
                except Exception as single:
                    pending.error = single
                pending.done.set()
            return
        for pending, result in zip(batch, results, strict=True):
            pending.result = result
            pending.done.set()

    def _insert(self, batch: list[_Pending]) -> list[int | None]:
        """Insert the batch in one transaction; on a dead connection, reconnect and try once more
        (nothing was committed by the failed attempt)."""
        for attempt in (1, 2):
            try:
                database.connect(reuse_if_open=True)
                with database.atomic():
                    return [InboundMessage.insert_returning_id(p.values) for p in batch]
            except CONNECTION_ERRORS as exc:
                drop_connection()
                if attempt == 2:
                    raise
                log.warning("inbound writer: connection lost (%s); reconnecting", exc)
        raise AssertionError("unreachable")
