"""The scheduler: the only importer of APScheduler, used as a ticker.

Every minute (Asia/Shanghai, explicit) a tick asks the database what is due: today's reminder
round, this week's digest, the weekly calendar warning. The database, not the scheduler, is the
record, so a missed or repeated tick changes nothing. Exactly one scheduler runs per deployment:
a host file lock (`filelock`: flock on POSIX, msvcrt's lock on Windows, both released by the
operating system when the process dies), and with PostgreSQL a session advisory lock held on
its own connection. Chores handed in by the caller (the daily backup) run as jobs of their own,
so a long one never holds up the next tick.
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import peewee
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from filelock import FileLock, Timeout

from models.db import database, make_database
from models.org import admin_userids
from reminders.calendar import WorkCalendar
from reminders.digest import publish_if_due, week_of
from reminders.jobs import ensure_occurrences, reminder_round
from reminders.ports import Chore, Mail, SchedulerDeps
from reminders.stored import load_calendar

log = logging.getLogger(__name__)

ADVISORY_KEY = zlib.crc32(b"xinjiang-dubanbot-scheduler")


class SchedulerLock:
    """Held for the life of the process; released by the kernel / the server when it dies."""

    def __init__(self, data_dir: Path, database_url: str, *, advisory: bool = True):
        """`advisory`: also PostgreSQL's session advisory lock. The worker leaves it out: a
        killed connection silently releases it; it holds the database lease instead
        (bot/duty.py), which is checked again after every reconnect."""
        digest = hashlib.sha1(database_url.encode()).hexdigest()[:10]
        self.path = Path(data_dir) / f"scheduler-{digest}.lock"  # one per database
        self.database_url = database_url
        self.advisory = advisory
        self._file: FileLock | None = None
        self._pg: peewee.Database | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = FileLock(str(self.path))
        try:
            handle.acquire(blocking=False)
        except Timeout:
            return False
        if self.advisory and self.database_url.startswith(("postgres://", "postgresql://")):
            # A session lock on a dedicated connection: a transaction-level lock through a pool
            # would be released at once, and two machines would both schedule.
            pg = make_database(self.database_url)
            pg.connect()
            got = pg.execute_sql("SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,)).fetchone()[0]
            if not got:
                pg.close()
                handle.release()
                return False
            self._pg = pg
        self._file = handle
        return True

    def release(self) -> None:
        if self._pg is not None:
            self._pg.close()  # ends the session, and with it the advisory lock
            self._pg = None
        if self._file is not None:
            self._file.release()
            self._file = None


def tick(deps: SchedulerDeps, record: Chore | None = None) -> None:
    """One look at the clock: do whatever is due, idempotently. `record(now)` is told after
    each tick (the health heartbeat), whatever the tick found."""
    now = deps.clock.now()
    config = deps.config
    try:
        with database.connection_context():
            if not deps.on_duty():  # another process took the scheduler's lease: not this one
                log.warning("scheduler tick skipped: the lease is another process's")
                return
            cal = load_calendar()
            outbox = deps.mail()
            with database.atomic():
                ensure_occurrences(now, config, cal)
            rounded = reminder_round(now, config, cal, outbox, deps.renderer)
            if rounded.items:
                log.info(rounded.summary())
            digest = publish_if_due(now, config, cal, outbox, deps.renderer)
            if digest.published:
                log.info(digest.summary())
                warn_about_calendar(now, deps, cal, outbox)
    except peewee.PeeweeException:
        log.exception("scheduler tick: database error; the next tick tries again")
    deps.notify()
    if record is not None:
        _run_chore(record, now, "record")


def _run_chore(chore: Chore, now: datetime, name: str) -> None:
    try:
        chore(now)
    except Exception:  # a chore that fails must not stop the scheduler
        log.exception("scheduler chore %s failed; it runs again at the next tick", name)


def _chore_job(deps: SchedulerDeps, chore: Chore, name: str) -> None:
    _run_chore(chore, deps.clock.now(), name)


def warn_about_calendar(now, deps: SchedulerDeps, cal: WorkCalendar, outbox: Mail) -> None:
    """Weekly, with the digest: tell the admins when a year's holiday schedule is missing."""
    today = now.astimezone(deps.config.timezone).date()
    year = cal.missing_year_warning(today)
    admins = admin_userids(deps.config.admins)
    if year is None or not admins:
        return
    text = deps.renderer.render("calendar_warning.j2", year=year)
    outbox.to_members(admins, text, f"calendar-warning:{week_of(today)}")


class CampaignScheduler:
    def __init__(
        self,
        deps: SchedulerDeps,
        first_run: datetime | None = None,
        *,
        record: Chore | None = None,
        chores: Sequence[tuple[str, Chore]] = (),
    ):
        """first_run: when the first tick fires, on APScheduler's (real) clock; by default at
        once by the bot's clock. record: told after every tick. chores: (name, callable) each
        called every minute with the bot's time, as its own job (each must be idempotent)."""
        self.deps = deps
        tz = deps.config.timezone
        self.scheduler = BackgroundScheduler(timezone=tz)
        self.scheduler.add_job(
            tick,
            IntervalTrigger(minutes=1, timezone=tz),
            args=[deps, record],
            id="tick",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=50,
            next_run_time=first_run or deps.clock.now(),  # at once: catch up after a restart
        )
        for name, chore in chores:
            self.scheduler.add_job(
                _chore_job,
                IntervalTrigger(minutes=1, timezone=tz),
                args=[deps, chore, name],
                id=f"chore-{name}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=50,
                next_run_time=first_run or deps.clock.now(),
            )

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=True)
