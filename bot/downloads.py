"""Fetching the files people send, apart from answering messages: one slow peer must not hold
everyone's replies. A received file is a MediaDownload row at once (bot/pipeline.py); download
threads claim due rows, fetch each one under an overall deadline, and settle it in a short
transaction: evidence and the message's one final answer, or a retry later.

A file not fetched within a few seconds of its arrival (a slow download, or one queued behind
busy download threads) is acknowledged once by the inbound thread, which no download holds: the
file arrived and is being fetched. Past its deadline a download is abandoned (the temp file
removed) and retried with the usual backoff; each later attempt is given twice as long, so a
large file on a slow line still arrives while a stalled peer holds a download thread for
minutes at most.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from peewee import Value, fn

from bot.actions.files import QUEUE
from bot.file_replies import download_failed, download_slow, download_succeeded
from bot.pipeline import MediaError, Pipeline
from models.db import CONNECTION_ERRORS, database, is_postgres
from models.messages import MediaDownload, OutboxMessage

log = logging.getLogger(__name__)


DEADLINE_SECONDS = 120.0  # a first attempt; doubled on each later one, up to the maximum
DEADLINE_MAX_SECONDS = 600.0
SLOW_NOTICE_SECONDS = 3.0  # a file not fetched this long after it arrived: "正在取回"
# A claim outlives its deadline by this much: the deadline is checked between reads, and one
# read may take up to the client's read timeout (10 s).
LEASE_MARGIN = timedelta(seconds=60)


class DownloadStopped(MediaError):
    """The worker is stopping: the download is handed back at once, not counted as failed."""


class Watch:
    """Called before every read of a download: abandons it past its deadline or when the worker
    stops."""

    def __init__(
        self,
        seconds: float,
        *,
        stop: threading.Event | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.seconds = seconds
        self.stop = stop
        self.monotonic = monotonic
        self.started = monotonic()

    def __call__(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise DownloadStopped("后台进程正在停止，稍后继续取回")
        if self.monotonic() - self.started > self.seconds:
            raise MediaError(f"超过 {self.seconds:.0f} 秒仍未下载完成，已放弃本次下载，稍后重试")


class Downloader:
    """Claims due downloads (new files and retries alike) and settles them. Thread-safe: the
    worker runs several download threads over one Downloader."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        deadline_seconds: float = DEADLINE_SECONDS,
        slow_notice_seconds: float = SLOW_NOTICE_SECONDS,
    ):
        self.pipeline = pipeline
        self.clock = pipeline.clock
        self.deadline_seconds = deadline_seconds
        self.slow_notice_seconds = slow_notice_seconds
        # Claims to hand back once the database answers again.
        self._released: list[MediaDownload] = []
        self._lock = threading.Lock()

    @property
    def media(self):
        return self.pipeline.media

    def deadline_for(self, download: MediaDownload) -> float:
        return min(self.deadline_seconds * 2 ** min(download.attempts, 10), DEADLINE_MAX_SECONDS)

    # ------------------------------------------------------------------ claims

    @property
    def lease(self) -> timedelta:
        """How long a claim holds: the longest deadline an attempt gets, and the margin. One
        lease for every claim keeps the claim one statement; the attempt's own deadline is
        what stops the download (see Watch)."""
        longest = min(self.deadline_seconds * 2**10, DEADLINE_MAX_SECONDS)
        return timedelta(seconds=longest) + LEASE_MARGIN

    def release_claims(self) -> int:
        """Hand every claimed download back at once: when the single worker starts and knows
        that no one else is fetching."""
        return QUEUE.release_all(self.clock.now())

    def claim(self) -> tuple[MediaDownload, float] | None:
        """One due download (a new file, a retry, or one whose worker died), claimed, and the
        deadline of this attempt."""
        with self._lock:
            released, self._released = self._released, []
        if released:
            QUEUE.hand_back(released, self.clock.now())
        claimed = QUEUE.claim(self.clock.now(), self.lease)
        if not claimed:
            return None
        download = claimed[0]
        return download, self.deadline_for(download)

    # ------------------------------------------------------------------ fetching

    def run_one(self, stop: threading.Event | None = None) -> bool:
        """Claim one due download, fetch it (outside any transaction) and settle it; False if
        nothing was due."""
        if self.media is None or (stop is not None and stop.is_set()):
            return False
        claimed = self.claim()
        if claimed is None:
            return False
        download, seconds = claimed
        watch = Watch(seconds, stop=stop)
        stored, error = None, None
        try:
            stored = self.media.fetch(download.media_id, download.file_name, watch)
        except DownloadStopped:
            QUEUE.hand_back([download], self.clock.now())
            return True
        except MediaError as exc:
            error = exc
        except Exception as exc:  # a full disk, a bug: retried later like any failure
            log.exception("download %s failed", download.id)
            error = MediaError(f"取回时出错（{type(exc).__name__}）")
        try:
            with database.atomic():
                ctx = self.pipeline.context_for(download.wecom_userid, download.inbound)
                if stored is not None:
                    settled = download_succeeded(ctx, download, stored)
                else:
                    failure = error or MediaError("取回时出错")
                    settled = download_failed(
                        ctx, download, str(failure), permanent=failure.permanent
                    )
        except CONNECTION_ERRORS:
            # Nothing of the outcome was committed; the file, if fetched, is on disk by its hash.
            # Hand the download back on the next pass instead of after its lease.
            with self._lock:
                self._released.append(download)
            raise
        if not settled:
            log.warning("download %s was taken over by another worker meanwhile", download.id)
        self.pipeline.on_queued()
        return True

    def run_due(self, limit: int = 10, stop: threading.Event | None = None) -> int:
        """Run due downloads one after another in this thread; returns how many were tried."""
        done = 0
        while done < limit and self.run_one(stop):
            done += 1
        return done

    # ------------------------------------------------------------------ the word before

    def _waiting(self, now):
        """Files not settled SLOW_NOTICE after their arrival whose sender heard nothing yet."""
        told = OutboxMessage.select(OutboxMessage.id).where(
            OutboxMessage.dedupe_key == Value("download-wait:").concat(MediaDownload.id)
        )
        return (
            MediaDownload.status.in_(("pending", "fetching"))
            & (MediaDownload.attempts == 0)  # a failed attempt has told the sender already
            & (MediaDownload.created_at <= now - timedelta(seconds=self.slow_notice_seconds))
            & ~fn.EXISTS(told)
        )

    def tell_waiting(self) -> int:
        """Say once to each sender whose file is still being fetched, or still waits for a free
        download thread, that it arrived and is being fetched. Run by the inbound thread (no
        download holds it); returns how many were told."""
        now = self.clock.now()
        waiting = self._waiting(now)
        if not MediaDownload.select(MediaDownload.id).where(waiting).exists():
            return 0  # the usual case, without taking a write lock
        told = 0
        with database.atomic():
            # Locked, and asked again: a download settled meanwhile gets no word after its
            # answer (its settling UPDATE waits for this transaction, or this one skips it).
            query = MediaDownload.select().where(waiting).order_by(MediaDownload.id)
            if is_postgres():
                query = query.for_update()
            for download in query:
                download_slow(self.pipeline.context_for(download.wecom_userid), download)
                told += 1
        if told:
            self.pipeline.on_queued()
        return told
