"""The background worker process (`run.py worker`): one per database. It processes received
messages, sends the outbox, fetches files, runs the scheduler and its chores, and writes a
heartbeat that /healthz and 自检 read."""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta

import peewee
import psutil

from bot import health, memory
from bot.backup import run_daily
from bot.clock import Clock
from bot.config import Config
from bot.duty import Duty
from bot.runtime.files import hold_lock, wake_port_path, worker_lock_path
from bot.runtime.processes import on_stop_signals, watch_parent
from bot.runtime.startup import (
    make_services,
    prepare_database,
    running_clock,
    storage_line,
    wait_for_database,
)
from bot.runtime.wake import listen_for_wakes
from bot.services import DOWNLOAD_THREADS, Services
from models.db import database
from models.duty import RENEW_EVERY, SCHEDULER, SENDER

log = logging.getLogger("run")

WORKER_NICE = 10  # POSIX nice value of the worker process (see yield_processor)


def yield_processor() -> None:
    """The worker runs below normal priority: when the processors are busy, WeCom's callbacks
    (which must be answered within 5 seconds, and here in a millisecond) go first, and the
    worker's share is what the web process leaves. Windows' class and a POSIX nice value,
    both through psutil."""
    try:
        me = psutil.Process()
        me.nice(psutil.BELOW_NORMAL_PRIORITY_CLASS if sys.platform == "win32" else WORKER_NICE)
    except Exception as exc:  # not allowed here (a container's policy): run at normal priority
        log.warning("worker: could not lower its priority (%s)", exc)


def sweep_temp(services: Services, config: Config) -> None:
    """Remove temp files of saves that never finished (a process killed mid-download). Those
    younger than an hour are left: the web process may be saving an upload right now."""
    try:
        services.evidence.sweep_temp(Clock(config.timezone).now(), timedelta(hours=1))
    except OSError:
        log.exception("could not sweep the evidence temp directory")


def run_worker(config: Config, args) -> int:
    """The background worker: one per deployment (a lock file under DATA_DIR)."""
    clock = running_clock(config, args)
    if not getattr(args, "with_parent", False):  # serve's worker: serve has said where
        print(storage_line(config), flush=True)
    stop = threading.Event()
    on_stop_signals(lambda *_: stop.set())
    if getattr(args, "with_parent", False):
        watch_parent(stop)
    # Started before its database (a reboot): wait for it, stoppable, instead of exiting.
    if not wait_for_database(
        lambda: prepare_database(config, clock, load=False),
        config,
        stop,
        "后台进程等数据库可用后再开始工作",
    ):
        return 0
    services = make_services(config, clock)
    lock_path = worker_lock_path(config)
    lock = hold_lock(lock_path)
    if lock is None:
        print(f"另一个后台进程已在运行（{lock_path}），本进程退出。", file=sys.stderr)
        return 3
    yield_processor()
    started = clock.now()
    beat_every = health.heartbeat_seconds(config.health_worker_silent_seconds)
    threads: list[threading.Thread] = []
    scheduler = None
    wake_port = listen_for_wakes(services, stop, wake_port_path(config))
    poll = float(config.worker_poll_seconds)

    def heartbeat() -> None:
        try:
            with database.connection_context():
                health.beat(
                    health.WORKER_KEY,
                    clock.now(),
                    pid=os.getpid(),
                    host=platform.node(),
                    started_at=started.isoformat(),
                    scheduler=scheduler is not None,
                    stopped_threads=[t.name for t in threads if not t.is_alive()],
                    wake_port=wake_port,
                )
        except peewee.PeeweeException:
            log.exception("worker heartbeat: database error")

    heartbeat()  # before the catch-up below, which may take a while
    # The lock makes this the only worker of this database: whatever a dead one held (a message
    # being processed, a row being sent, a file being fetched) is taken back at once, not after
    # its lease; the temp files of saves it never finished are removed.
    with database.connection_context():
        services.pipeline.release_claims()
        services.sender.duty = Duty(SENDER, clock, data_dir=config.data_dir)
        if services.sender.duty.take_from_my_host():
            services.sender.release_leases()  # only the sender's holder may hand its rows back
        if services.downloader is not None:
            services.downloader.release_claims()
    sweep_temp(services, config)
    # Imported here, not at the top: the web process, which imports this module with the
    # command line, never loads APScheduler (4 MB measured).
    from reminders.scheduler import CampaignScheduler, SchedulerLock, tick

    # One scheduler per host (the lock file) and per deployment (a lease in the database, held
    # by one process on any host, checked every RENEW_EVERY and taken over within a minute when
    # its holder dies; a tick checks it too, so a holder cut off from the database stops).
    lock_held = SchedulerLock(config.data_dir, config.database_url, advisory=False)
    on_this_host = lock_held.acquire()
    duty = Duty(SCHEDULER, clock, data_dir=config.data_dir)
    record = scheduler_record(services)
    parts = replace(services.scheduler_parts(), on_duty=duty.held)

    def scheduler_turn(first: bool = False) -> None:
        nonlocal scheduler
        try:
            with database.connection_context():
                mine = on_this_host and (duty.take_from_my_host() if first else duty.held())
        except peewee.PeeweeException:
            log.exception("scheduler lease: database error; looking again shortly")
            duty.recheck()
            return
        if mine and scheduler is None:
            # Catch up first (reminders and a digest missed while the bot was down), then
            # take new messages: what was due at start always comes before the first reply.
            tick(parts, record)
            # APScheduler fires on the real clock; every tick reads the bot's clock (which
            # --at may have moved: a first run time in the bot's future would never come).
            scheduler = CampaignScheduler(
                parts,
                first_run=Clock(config.timezone).now(),
                record=record,
                chores=worker_chores(config),
            )
            if threads:
                scheduler.start()
        elif not mine and scheduler is not None:
            log.warning("the scheduler's lease went to another process: this one stops it")
            scheduler.stop()
            scheduler = None

    scheduler_turn(first=True)
    if scheduler is None:
        log.info("another process runs the scheduler; this one only processes and sends")
    threads += [
        # Both wait for a wake-up (listen_for_wakes); the poll is the fallback.
        threading.Thread(
            target=services.sender.loop, args=(stop, poll), name="outbox", daemon=True
        ),
        threading.Thread(
            target=services.worker_loop, args=(stop, poll), name="inbound", daemon=True
        ),
    ] + [
        # Files are fetched apart from message handling: a slow peer holds one of these only.
        threading.Thread(
            target=services.download_loop, args=(stop, 1.0), name=f"download-{n}", daemon=True
        )
        for n in range(1, DOWNLOAD_THREADS + 1)
    ]
    # After a reminder round or a digest (a scheduler tick) and once a burst of sends has
    # drained, what they freed goes back to the operating system (bot/memory.py).
    services.sender.on_drained = memory.give_back
    memory.settle_startup()
    for thread in threads:
        thread.start()
    if scheduler is not None:
        scheduler.start()
    log.info("worker started (pid %s)", os.getpid())
    swept = beaten = looked = time.monotonic()
    while not stop.wait(min(1.0, beat_every / 2)):
        if time.monotonic() - looked >= RENEW_EVERY.total_seconds():
            looked = time.monotonic()
            scheduler_turn()
        if time.monotonic() - beaten >= beat_every:
            beaten = time.monotonic()
            heartbeat()
        if time.monotonic() - swept > 3600:
            swept = time.monotonic()
            sweep_temp(services, config)
    log.info("worker stopping: finishing what is in hand")
    if scheduler is not None:
        scheduler.stop()
    with contextlib.suppress(peewee.PeeweeException), database.connection_context():
        duty.release()
    lock_held.release()
    services.sender.notify()
    services.worker_wake()
    services.downloads.set()
    # One deadline for all, within the time the server (or the service manager) gives us: a
    # send in flight is finished and recorded; a download stops at its next read (a killed one
    # leaves a temp file that the next sweep removes). What is still unfinished then (a send
    # WeCom is slow to answer) stays leased in the database and the next worker takes it back.
    ends = time.monotonic() + 9
    for thread in threads:
        thread.join(timeout=max(0.1, ends - time.monotonic()))
    lock.release()
    log.info("worker stopped")
    return 0


def scheduler_record(services: Services):
    """The scheduler's heartbeat, written after every tick."""

    def record(now: datetime) -> None:
        with database.connection_context():
            health.beat(health.SCHEDULER_KEY, now, pid=os.getpid(), host=platform.node())
        memory.give_back()  # what the tick's round or digest freed (bot/memory.py)

    return record


def worker_chores(config: Config) -> list:
    """Jobs the scheduler runs every minute beside its tick, each idempotent."""
    if config.backup_daily_at is None:
        return []
    return [("daily-backup", lambda now: run_daily(config, now))]
