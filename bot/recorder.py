"""Group commit for the inbound rows, and the journal that lets a callback be acknowledged
without waiting for the database.

Request threads hand their inbound row to one writer thread, which inserts whatever has queued
up in a single transaction. With many concurrent callbacks this turns N transactions (and N
waits for SQLite's one write lock, or N commits on PostgreSQL) into one.

- `record` (the sandbox): returns once the row is committed, with its id.
- `accept` (WeCom's callback): returns once the row is a line in the journal file
  (DATA_DIR/inbound.journal), written and handed to the operating system; the writer commits it
  moments later. A callback is then acknowledged in the time of a decrypt and a write, not of a
  wait for SQLite's write lock while the worker holds it, nor of PostgreSQL's commit, and not at
  all slower when the database is away (the rows wait in the journal and go in when it is back).
  The journal is emptied whenever everything written to it is committed; at start,
  `replay` puts whatever a stopped or killed process left there into the database (a line that
  is there already is skipped: transport and message id are unique). So a message acknowledged
  is never lost when the process dies, however it dies. See docs/decisions.md.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from models.db import CONNECTION_ERRORS, database, drop_connection
from models.messages import InboundMessage
from models.private import private_dir, private_file

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    values: dict
    done: threading.Event = field(default_factory=threading.Event)
    result: int | None = None
    error: BaseException | None = None
    journaled: bool = False  # in the journal: nobody waits, it is retried until it is in


_TIMES = ("received_at", "lease_until")  # the values that are datetimes
MAX_QUEUED = 20_000  # journaled rows waiting for the database before callbacks are refused
RETRY_CAP_SECONDS = 30.0
JOURNAL_EMPTIED_AT = 256 * 1024  # bytes: not emptied after every commit (a syscall each)


def _line(values: dict) -> bytes:
    data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _values(line: bytes) -> dict:
    data = json.loads(line)
    for key in _TIMES:
        if data.get(key):
            data[key] = datetime.fromisoformat(data[key])
    return data


class JournalFull(Exception):
    """The database has been away so long that the journal's backlog reached MAX_QUEUED."""


class BatchRecorder:
    def __init__(
        self,
        max_batch: int = 64,
        journal: Path | None = None,
        on_committed: Callable[[], None] = lambda: None,
    ):
        self.max_batch = max_batch
        self._queue: deque[_Pending] = deque()
        self._ready = threading.Condition()
        self._stopping = False
        # The journal: None (accept waits for the commit, like record), else its path.
        self.journal_path = journal
        self._journal: BinaryIO | None = None
        self._journal_lock = threading.Lock()
        self._written = 0  # journaled rows written since the journal was last emptied
        self._committed = 0  # of those, committed (or given up as impossible to store)
        self.on_committed = on_committed  # after journaled rows are in (wakes the worker)
        self._retry = 0.0  # seconds to wait before retrying journaled rows; 0 when healthy
        self.first_retry = 1.0  # the first such wait (it doubles up to RETRY_CAP_SECONDS)

    # ------------------------------------------------------------------ the journal

    def open_journal(self, *, replay: bool = True) -> int:
        """At start, before the first callback: put what the journal holds into the database
        and open it for appending. Returns how many rows were new. The caller holds the web
        lock, so no other process writes this journal.

        `replay` False (the database is not reachable yet): what the journal holds stays in
        it and waits in the queue, like a row journaled since, for the writer to commit once
        it runs; the file is appended to. Returns how many rows wait."""
        if self.journal_path is None:
            return 0
        # The messages' words: owner-only, like the database (see models/private.py).
        private_dir(self.journal_path.parent)
        if not replay:
            waiting = self._requeue(self.journal_path)
            private_file(self.journal_path)
            self._journal = open(self.journal_path, "ab")  # noqa: SIM115 - for the process's life
            return waiting
        added = self.replay(self.journal_path)
        private_file(self.journal_path)
        self._journal = open(self.journal_path, "wb")  # noqa: SIM115 - open for the process's life
        return added

    def _requeue(self, path: Path) -> int:
        """The journal's complete lines queued for the writer, as journaled rows; a line cut
        short by a crash (never acknowledged) is cut off the file, so the next line appended
        starts on a line of its own."""
        if not path.exists():
            return 0
        data = path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            with open(path, "r+b") as journal:
                journal.truncate(end)
        rows = []
        for line in data[:end].split(b"\n"):
            if not line.strip():
                continue
            try:
                rows.append(_Pending(_values(line), journaled=True))
            except (ValueError, TypeError) as exc:
                log.error("inbound journal: unreadable line skipped (%s)", exc)
        with self._journal_lock:
            self._written += len(rows)
        with self._ready:
            self._queue.extend(rows)
        if rows:
            log.warning(
                "inbound journal: %d acknowledged message(s) from before the last stop wait "
                "for the database",
                len(rows),
            )
        return len(rows)

    @staticmethod
    def replay(path: Path, chunk: int = 500) -> int:
        """Insert every complete line of a journal (a line cut short by a crash was never
        acknowledged: its callback is delivered again by WeCom). Returns the rows that were new."""
        if not path.exists():
            return 0
        lines = [line for line in path.read_bytes().split(b"\n")[:-1] if line.strip()]
        added = 0
        for start in range(0, len(lines), chunk):
            rows = []
            for line in lines[start : start + chunk]:
                try:
                    rows.append(_values(line))
                except (ValueError, TypeError) as exc:
                    log.error("inbound journal: unreadable line skipped (%s)", exc)
            with database.atomic():
                added += sum(InboundMessage.insert_returning_id(v) is not None for v in rows)
        if lines:
            log.warning(
                "inbound journal: %d acknowledged message(s) from before the last stop, %d new",
                len(lines),
                added,
            )
        return added

    def accept(self, **values) -> None:
        """A callback's row: in the journal now, in the database moments later."""
        if self._journal is None:
            self.record(**values)
            return
        line = _line(values)
        pending = _Pending(values, journaled=True)
        with self._ready:
            if len(self._queue) >= MAX_QUEUED:
                raise JournalFull(f"{len(self._queue)} rows wait for the database")
        with self._journal_lock:
            self._journal.write(line)
            self._journal.flush()  # in the operating system's hands: survives this process
            self._written += 1
        with self._ready:
            self._queue.append(pending)
            self._ready.notify()

    def backlog(self) -> int:
        """Journaled rows not yet in the database."""
        with self._journal_lock:
            return self._written - self._committed

    def _settled(self, count: int) -> None:
        """`count` journaled rows are in the database (or given up): empty the journal when
        nothing written to it is still waiting and it has grown past JOURNAL_EMPTIED_AT (the
        lines left behind are all in the database: a replay skips them)."""
        if not count:
            return
        with self._journal_lock:
            self._committed += count
            if (
                self._committed == self._written
                and self._journal is not None
                and self._journal.tell() >= JOURNAL_EMPTIED_AT
            ):
                self._journal.seek(0)
                self._journal.truncate()
                self._written = self._committed = 0

    def close_journal(self) -> None:
        """At stop, after the writer has finished: the journal stays on disk only if some of
        its rows could not be written (the next start replays them)."""
        with self._journal_lock:
            if self._journal is None:
                return
            self._journal.close()
            self._journal = None
            if self._written == self._committed and self.journal_path is not None:
                self.journal_path.unlink(missing_ok=True)
            else:
                log.error(
                    "inbound journal: %d acknowledged message(s) not yet in the database; "
                    "they go in at the next start",
                    self._written - self._committed,
                )

    # ------------------------------------------------------------------ the writer

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
        """The writer thread's body (started by bot/runtime); returns after stop() once the queue
        is written, or at once if the database is away then (the journal keeps the rows)."""
        try:
            while True:
                with self._ready:
                    while not self._queue and not self._stopping:
                        self._ready.wait()
                    if self._stopping and (not self._queue or self._retry):
                        return
                    batch = [
                        self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))
                    ]
                self._write(batch)
                if self._retry:  # the database is away: wait, unless told to stop
                    resume = time.monotonic() + self._retry
                    with self._ready:
                        while not self._stopping and (left := resume - time.monotonic()) > 0:
                            self._ready.wait(left)
        finally:
            drop_connection()

    def stop(self) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify_all()

    def _write(self, batch: list[_Pending]) -> None:
        journaled = [p for p in batch if p.journaled]
        try:
            results = self._insert(batch)
        except CONNECTION_ERRORS as exc:
            # Still unreachable after a fresh connection: fail the callers who wait (answered
            # 503, so WeCom delivers them again); journaled rows go back to the head of the
            # queue and are tried again after a pause that doubles up to RETRY_CAP_SECONDS.
            self._retry = min(max(self._retry * 2, self.first_retry), RETRY_CAP_SECONDS)
            log.error(
                "inbound writer: database unavailable (%s); %d journaled row(s) wait, retry in %g s",
                exc,
                len(journaled),
                self._retry,
            )
            for pending in batch:
                if not pending.journaled:
                    pending.error = exc
                    pending.done.set()
            with self._ready:
                self._queue.extendleft(reversed(journaled))
            return
        except Exception as exc:  # one bad row must not fail the others: retry them one by one
            log.warning(
                "batched insert of %d inbound rows failed (%s); one by one", len(batch), exc
            )
            self._retry = 0.0
            added = False
            again: list[_Pending] = []  # journaled, and the database went away meanwhile
            for pending in batch:
                try:
                    pending.result = InboundMessage.record(**pending.values)
                    added |= pending.journaled and pending.result is not None
                except CONNECTION_ERRORS as single:
                    if pending.journaled:
                        again.append(pending)
                        continue
                    pending.error = single
                except Exception as single:
                    pending.error = single
                    if pending.journaled:  # acknowledged, yet it cannot be stored: say so
                        log.error(
                            "inbound journal: message %s from %s cannot be stored (%s)",
                            pending.values.get("external_id"),
                            pending.values.get("wecom_userid"),
                            single,
                        )
                pending.done.set()
            if again:
                drop_connection()
                self._retry = self.first_retry
                with self._ready:
                    self._queue.extendleft(reversed(again))
            self._settled(len(journaled) - len(again))
            if added:
                self.on_committed()
            return
        self._retry = 0.0
        for pending, result in zip(batch, results, strict=True):
            pending.result = result
            pending.done.set()
        self._settled(len(journaled))
        if journaled:  # (their ids are not known: the worker looks anyway)
            self.on_committed()

    def _insert(self, batch: list[_Pending]) -> list[int | None]:
        """Insert the batch in one transaction; on a dead connection, reconnect and try once more
        (nothing was committed by the failed attempt)."""
        for attempt in (1, 2):
            try:
                database.connect(reuse_if_open=True)
                with database.atomic():
                    # Journaled rows in one executemany (nobody waits for their ids).
                    InboundMessage.insert_all_ignoring([p.values for p in batch if p.journaled])
                    return [
                        None if p.journaled else InboundMessage.insert_returning_id(p.values)
                        for p in batch
                    ]
            except CONNECTION_ERRORS as exc:
                drop_connection()
                if attempt == 2:
                    raise
                log.warning("inbound writer: connection lost (%s); reconnecting", exc)
        raise AssertionError("unreachable")
