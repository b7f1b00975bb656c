#!/usr/bin/env python3
"""The composition root and command line: reads the config, opens the database, wires the parts,
starts the web server and the outbox sender. The only module that reads the environment, opens
sockets and starts threads.

    python3 run.py            serve: HTTP here, the worker as a supervised child process
    python3 run.py web        HTTP only; `run.py worker` runs apart (two systemd units / services)
    python3 run.py worker     the background worker (messages, the outbox, files, the scheduler)
    python3 run.py demo       serve a separate demo database with sample people and deadlines
    python3 run.py init       create the database and load (or update) the built-in plan
    python3 run.py say USERID TEXT…   one message through the pipeline; prints the reply
    python3 run.py backup / restore ARCHIVE   the database and the files, in one zip (SQLite)

`python3 run.py --help` lists every command (in Chinese, as users read it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import logging
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import peewee
from dotenv import dotenv_values
from filelock import FileLock, Timeout

from bot import health, memory
from bot.cli import ChineseArgumentParser, moment
from bot.clock import Clock, FakeClock, OffsetClock
from bot.config import SANDBOX_DATABASE, WECOM_APP_KEYS, Config, ConfigError, sqlite_url
from bot.logs import configure_logging, worker_log_file
from bot.services import DOWNLOAD_THREADS, Services, build_services
from models.db import database, is_postgres, open_database
from models.loader import PlanError, load_plan, plan_is_loaded
from models.migrations import migrate
from models.private import private_dir, private_tree, tighten
from reminders.stored import load_calendar

log = logging.getLogger("run")


class StartError(Exception):
    """A problem the user can fix, said in one sentence that names what to change (exit 2)."""


def load_config(env_file: str | None = None) -> Config:
    """Settings from the env file (.env in the working directory unless --env-file names one),
    overridden by the real environment. Relative paths mean the working directory."""
    if env_file is not None and not os.path.isfile(env_file):
        # python-dotenv silently ignores a missing file: a typo would run on the defaults.
        raise StartError(
            f"找不到设置文件 {env_file}（--env-file）：请检查路径；"
            "不写 --env-file 时读取当前目录下的 .env（没有也可以）"
        )
    file_values = {k: v for k, v in dotenv_values(env_file or ".env").items() if v is not None}
    return Config.from_mapping({**file_values, **os.environ}, base_dir=Path.cwd())


def secure_data(config: Config) -> None:
    """What earlier versions left readable by other users of this machine, tightened at start
    (POSIX; see models/private.py for Windows): DATA_DIR, the databases in it, the evidence and
    export stores. A database elsewhere is tightened when it is opened."""
    if not config.data_dir.is_dir():
        return  # nothing to protect yet; whatever creates it creates it owner-only
    tighten(config.data_dir)
    for path in config.data_dir.glob("*.db*"):
        tighten(path)
    for store in ("evidence", "exports"):
        private_tree(config.data_dir / store)


MIGRATION_LOCK = 0x64756261  # PostgreSQL advisory lock key while migrating ("duba")
WORKER_NICE = 10  # POSIX nice value of the worker process (see yield_processor)


def prepare_database(config: Config, clock: Clock, *, load: bool = True, out=None) -> None:
    open_database(config.database_url)
    with database.connection_context():
        if is_postgres():
            # `run.py web` and `run.py worker` start together as two services: one migrates,
            # the other waits and finds nothing left to do (SQLite's write lock does this there).
            database.execute_sql("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
            try:
                migrate(database.obj)
            finally:
                database.execute_sql("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
        else:
            migrate(database.obj)
        if load and not plan_is_loaded():
            print(load_plan(clock.now()).summary(), file=out or sys.stdout)


def make_services(config: Config, clock: Clock) -> Services:
    """The WeCom stack when WeCom is configured, else the sandbox."""
    return build_services(config, clock)


def hold_lock(path: Path) -> FileLock | None:
    """An exclusive lock on `path` for the life of this process, or None if another process
    holds it. The operating system releases it when the process dies, however it dies
    (flock on POSIX, msvcrt's byte lock on Windows, both through `filelock`)."""
    private_dir(path.parent)
    lock = FileLock(str(path))
    try:
        lock.acquire(blocking=False)
    except Timeout:
        return None
    return lock


def web_lock_path(config: Config) -> Path:
    return config.data_dir / f"web-{lock_suffix(config.database_url)}.lock"


def yield_processor() -> None:
    """The worker runs below normal priority: when the processors are busy, WeCom's callbacks
    (which must be answered within 5 seconds, and here in a millisecond) go first, and the
    worker's share is what the web process leaves. Windows' class and a POSIX nice value,
    both through psutil."""
    try:
        import psutil

        me = psutil.Process()
        me.nice(psutil.BELOW_NORMAL_PRIORITY_CLASS if sys.platform == "win32" else WORKER_NICE)
    except Exception as exc:  # not allowed here (a container's policy): run at normal priority
        log.warning("worker: could not lower its priority (%s)", exc)


def inbound_journal_path(config: Config) -> Path:
    """Callbacks acknowledged but not yet committed (bot/recorder.py), one per database."""
    return config.data_dir / f"inbound-{lock_suffix(config.database_url)}.journal"


def worker_lock_path(config: Config) -> Path:
    # One lock per database, so the demo's worker never blocks the real one in the same DATA_DIR.
    return config.data_dir / f"worker-{lock_suffix(config.database_url)}.lock"


# The ways a process is asked to stop: SIGTERM (systemd, docker, kill), SIGINT (Ctrl+C, and how
# WinSW and NSSM stop a Windows service: they send the console a Ctrl+C), SIGBREAK (Ctrl+Break,
# Windows only; `GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT)` reaches a process group).
STOP_SIGNALS = tuple(
    sig for sig in (getattr(signal, n, None) for n in ("SIGTERM", "SIGINT", "SIGBREAK")) if sig
)


def on_stop_signals(handler) -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)


def serve(
    config: Config,
    services: Services,
    worker_argv: list[str] | None,
    banner: str = "",
    child_env: dict | None = None,
):
    """HTTP in this process; the background worker (inbound processing, the outbox sender) in a
    child process, so that processing never slows down the acknowledgement of a callback.
    `worker_argv` None: no child (`run.py web`; the worker is a service of its own)."""
    from waitress import create_server

    from bot.recorder import BatchRecorder
    from bot.web import create_app

    # A stop asked for while we start (a service manager's SIGTERM right after the banner) is
    # kept and honoured once the server could stop cleanly, never met by the default handler,
    # which would end the process with the journal open.
    stop_requested = threading.Event()
    on_stop_signals(lambda *_: stop_requested.set())
    web_lock = hold_lock(web_lock_path(config))
    if web_lock is None:
        raise StartError(
            f"本数据库的服务已在运行（{web_lock_path(config)} 被占用）：不要重复启动；"
            "要重启请先停止正在运行的服务"
        )
    wake = RemoteWake(wake_port_path(config))
    # WeCom's callbacks are acknowledged once journaled; the writer commits them and wakes the
    # worker. What a killed process left in the journal goes in first (see bot/recorder.py).
    recorder = BatchRecorder(journal=inbound_journal_path(config), on_committed=wake)
    with database.connection_context():
        recorder.open_journal()
    services.pipeline.record = recorder.record
    services.pipeline.accept = recorder.accept
    services.remote_wake = wake  # a recorded sandbox message wakes the worker process
    services.pipeline.on_queued = wake  # a sandbox reply queued here: the worker sends it
    writer = threading.Thread(target=recorder.run, name="inbound-writer", daemon=True)
    writer.start()
    try:
        server = create_server(
            create_app(services),
            host=config.http_host,
            port=config.http_port,
            threads=8,
            channel_timeout=30,
            max_request_body_size=config.evidence_max_bytes + 1024 * 1024,
        )
    except OSError as exc:
        recorder.stop()
        writer.join(timeout=5)
        recorder.close_journal()
        web_lock.release()
        raise StartError(_listen_problem(exc, config)) from None
    # The worker and every store must mean the same folders and database as this process,
    # the database as chosen here (the demo's, a remote sandbox's own): the worker takes it as
    # given instead of choosing again.
    child_env = {
        "DATA_DIR": str(config.data_dir),
        "DATABASE_URL": config.database_url,
        "SANDBOX_USE_MAIN_DATABASE": "是",
        **(child_env or {}),
    }
    supervisor = None
    if worker_argv is not None:
        supervisor = WorkerSupervisor(worker_argv, child_env)
        supervisor.start()
    port = server.effective_port
    url = f"http://{_url_host(config.http_host)}:{port}"
    log.info("web process started on %s (pid %s)", url, os.getpid())
    print(f"服务已启动：{url}/healthz", flush=True)
    if config.sandbox_enabled:
        # The sandbox answers only to the names it is configured for (its Host check): on a
        # wildcard address this machine opens it as 127.0.0.1, not 0.0.0.0.
        local = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(config.http_host, config.http_host)
        print(f"浏览器沙盒：http://{_url_host(local)}:{port}/sandbox", flush=True)
        for line in _sandbox_banner(config, port):
            print(line, flush=True)
    if config.wecom_enabled:
        print(
            f"企业微信回调地址：{url}/wecom/callback（对外请用 https 域名转发到这里）", flush=True
        )
    if banner:
        print(banner, flush=True)
    try:
        on_stop_signals(_raise_interrupt)
        if not stop_requested.is_set():
            server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if supervisor is not None:
            supervisor.stop()
        server.close()
        recorder.stop()
        writer.join(timeout=5)
        recorder.close_journal()
        wake.close()
        web_lock.release()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _sandbox_banner(config: Config, port: int) -> list[str]:
    """What an admin must know about a sandbox served to other machines."""
    if not config.sandbox_remote_allowed:
        return []
    names = [f"http://{_url_host(h)}:{p or port}/sandbox" for h, p in config.sandbox_hosts]
    lines = [
        "沙盒允许其他电脑访问（SANDBOX=1）："
        + "、".join(names)
        + "；打开时需输入口令 SANDBOX_SECRET。",
        "注意：进入沙盒的人可以扮演任何人（包括管理员），操作记录里只会记下被扮演的人。",
    ]
    if not config.sandbox_separate_database:
        lines.append(
            "沙盒使用正式数据库（SANDBOX_USE_MAIN_DATABASE=是）：知道口令的人都能改动正式数据。"
        )
    elif config.database_url == sqlite_url(config.data_dir / SANDBOX_DATABASE):  # not the demo
        lines.append(
            f"沙盒数据库：{config.data_dir / SANDBOX_DATABASE}（与正式数据库分开；"
            "SANDBOX_USE_MAIN_DATABASE=是 才会使用正式数据库）"
        )
    return lines


def _listen_problem(exc: OSError, config: Config) -> str:
    """Why the server could not listen, and which setting to change (Linux and Windows codes)."""
    code = exc.errno
    winerror = getattr(exc, "winerror", None)
    port, host = config.http_port, config.http_host
    if code == errno.EADDRINUSE or winerror == 10048:
        return (
            f"端口 {port} 已被占用：请在 .env 中修改 HTTP_PORT，或先停止占用该端口的程序"
            "（可能是另一个正在运行的 run.py）"
        )
    if code == errno.EACCES or winerror == 10013:
        return (
            f"没有权限使用端口 {port}：请在 .env 中把 HTTP_PORT 改为 1024 以上的端口"
            "（如 8000），或以管理员身份运行"
        )
    if code == errno.EADDRNOTAVAIL or winerror == 10049:
        return f"{host} 不是本机的地址：请在 .env 中修改 HTTP_HOST（如 127.0.0.1 或 0.0.0.0）"
    return (
        f"无法在 {host}:{port} 上启动服务（{exc.strerror or exc}）：请检查 HTTP_HOST 和 HTTP_PORT"
    )


def _raise_interrupt(_signum, _frame):
    raise KeyboardInterrupt


def worker_argv(args, clock: Clock) -> list[str]:
    """The command line of the background worker: the same env file, the same clock."""
    argv = [sys.executable, os.path.abspath(__file__)]
    if args.env_file is not None:
        argv += ["--env-file", os.path.abspath(args.env_file)]
    argv.append("worker")
    if isinstance(clock, OffsetClock):
        argv += ["--clock-offset", repr(clock.offset.total_seconds())]
    return argv


class WorkerSupervisor:
    """Starts `run.py worker` and starts it again if it dies (with a growing pause).

    The child's standard input is a pipe from us: closing it asks the worker to stop, and it
    closes by itself when we die, however we die. That works alike on Windows, where a signal
    cannot be sent to a process (`terminate()` is TerminateProcess, a kill) and a child is not
    re-parented when its parent dies."""

    def __init__(self, argv: list[str], env_overrides: dict):
        self.env = {**os.environ, **env_overrides}
        self.argv = [*argv, "--with-parent"]
        self.stopping = threading.Event()
        self.proc: subprocess.Popen | None = None
        self.thread = threading.Thread(target=self._run, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        pause = 1.0
        while not self.stopping.is_set():
            started = time.monotonic()
            self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.PIPE)
            code = self.proc.wait()
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            if self.stopping.is_set():
                return
            log.warning("background worker exited with %s; restarting", code)
            pause = 1.0 if time.monotonic() - started > 60 else min(pause * 2, 30.0)
            self.stopping.wait(pause)

    def stop(self) -> None:
        self.stopping.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # the worker's cue to stop (it finishes within 10 s)
            try:
                proc.wait(timeout=12)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.thread.join(timeout=14)


def lock_suffix(database_url: str) -> str:
    return hashlib.sha1(database_url.encode()).hexdigest()[:10]


def sweep_temp(services: Services, config: Config) -> None:
    """Remove temp files of saves that never finished (a process killed mid-download). Those
    younger than an hour are left: the web process may be saving an upload right now."""
    try:
        services.evidence.sweep_temp(Clock(config.timezone).now(), timedelta(hours=1))
    except OSError:
        log.exception("could not sweep the evidence temp directory")


def cmd_worker(config: Config, args) -> int:
    """The background worker: one per deployment (a lock file under DATA_DIR)."""
    clock = _running_clock(config, args)
    prepare_database(config, clock, load=False)
    services = make_services(config, clock)
    lock_path = worker_lock_path(config)
    lock = hold_lock(lock_path)
    if lock is None:
        print(f"另一个后台进程已在运行（{lock_path}），本进程退出。", file=sys.stderr)
        return 3
    yield_processor()
    stop = threading.Event()
    on_stop_signals(lambda *_: stop.set())
    if getattr(args, "with_parent", False):
        watch_parent(stop)
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
        services.sender.release_leases()
        services.downloader.release_claims()
    sweep_temp(services, config)
    from reminders.scheduler import CampaignScheduler, SchedulerLock, tick

    lock_held = SchedulerLock(config.data_dir, config.database_url)
    if lock_held.acquire():
        record = scheduler_record(services)
        # Catch up first (reminders and a digest missed while the bot was down), then take new
        # messages: what was due at start always comes before the first reply.
        parts = services.scheduler_parts()
        tick(parts, record)
        # APScheduler fires on the real clock; every tick reads the bot's clock (which --at may
        # have moved: a first run time in the bot's future would never come).
        scheduler = CampaignScheduler(
            parts,
            first_run=Clock(config.timezone).now(),
            record=record,
            chores=worker_chores(config),
        )
    else:
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
    swept = beaten = time.monotonic()
    while not stop.wait(min(1.0, beat_every / 2)):
        if time.monotonic() - beaten >= beat_every:
            beaten = time.monotonic()
            heartbeat()
        if time.monotonic() - swept > 3600:
            swept = time.monotonic()
            sweep_temp(services, config)
    log.info("worker stopping: finishing what is in hand")
    if scheduler is not None:
        scheduler.stop()
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


def wake_port_path(config: Config) -> Path:
    return config.data_dir / f"worker-{lock_suffix(config.database_url)}.wake"


def listen_for_wakes(services: Services, stop: threading.Event, path: Path) -> int | None:
    """A datagram on 127.0.0.1 wakes the worker at once: the web process sends one when it has
    recorded a callback or queued a sandbox reply, so neither waits for the poll (which stays,
    as the fallback). The port is written to `path`, in the DATA_DIR both processes share."""
    try:
        listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(1.0)
        port = listener.getsockname()[1]
        path.write_text(str(port), encoding="ascii")
    except OSError as exc:
        log.warning("no wake-up socket (%s): the worker polls", exc)
        return None

    def listen() -> None:
        with listener:
            while not stop.is_set():
                try:
                    listener.recv(64)
                except TimeoutError:
                    continue
                except OSError:
                    return
                services.worker_wake()
                services.sender.notify()
        with contextlib.suppress(OSError):
            if path.read_text(encoding="ascii") == str(port):
                path.unlink()

    threading.Thread(target=listen, name="wake-listener", daemon=True).start()
    return port


class RemoteWake:
    """The web process's side: a datagram to the worker on this machine, at the port in the
    worker's wake file (re-read every few seconds: a restarted worker has a new one). No worker
    here (it runs on another machine), or no file: nothing is sent, and the worker polls."""

    REREAD = 5.0

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.port: int | None = None
        self.read_at = -self.REREAD
        self.lock = threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            # No port yet (the worker is still starting): look each time, it is one small file.
            if self.port is None or time.monotonic() - self.read_at >= self.REREAD:
                self.read_at = time.monotonic()
                self.port = self._port()
            port = self.port
        if port:
            with contextlib.suppress(OSError):
                self.sock.sendto(b"w", ("127.0.0.1", port))

    def _port(self) -> int | None:
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() and 0 < int(text) < 65536 else None

    def close(self) -> None:
        self.sock.close()


def watch_parent(stop: threading.Event) -> None:
    """Stop when standard input closes: the web process that started us closed it, or died."""

    def wait_for_eof() -> None:
        with contextlib.suppress(OSError, ValueError):
            while sys.stdin.buffer.read(4096):
                pass
        stop.set()

    threading.Thread(target=wait_for_eof, name="parent-watch", daemon=True).start()


def scheduler_record(services: Services):
    """The scheduler's heartbeat, written after every tick."""

    def record(now: datetime) -> None:
        with database.connection_context():
            health.beat(health.SCHEDULER_KEY, now, pid=os.getpid(), host=platform.node())
        memory.give_back()  # what the tick's round or digest freed (bot/memory.py)

    return record


def worker_chores(config: Config) -> list:
    """Jobs the scheduler runs every minute beside its tick, each idempotent."""
    from bot.backup import run_daily

    if config.backup_daily_at is None:
        return []
    return [("daily-backup", lambda now: run_daily(config, now))]


def cmd_serve(config: Config, args) -> int:
    if getattr(args, "at", None) is not None and config.wecom_enabled:
        # WeCom checks callback timestamps against our clock, and reminders would reach real
        # people for a day that is not today.
        raise StartError(
            "--at 只能用于浏览器沙盒（未填写企业微信设置时）：接入企业微信后，"
            "回调按真实时间校验，提醒也会按假定的日期发给真实的人"
        )
    clock = _running_clock(config, args)
    prepare_database(config, clock)
    supervised = worker_argv(args, clock) if args.command != "web" else None
    serve(config, make_services(config, clock), supervised, _clock_banner(clock))
    return 0


def cmd_backup(config: Config, args) -> int:
    from bot.backup import make_backup

    clock = Clock(config.timezone)
    folder = Path(args.to).resolve() if args.to else None
    print(make_backup(config, clock.now(), folder=folder).summary())
    return 0


def cmd_restore(config: Config, args) -> int:
    """Put a backup back: only while nothing of this deployment runs (its locks are free, and
    held here so that nothing starts meanwhile), after a confirmation; then migrate."""
    from bot.backup import BackupError, inspect, restore, sqlite_path
    from models.migrations import newest_version

    if not config.is_sqlite:
        from bot.backup import postgres_advice

        raise BackupError(postgres_advice(config))
    archive = Path(args.archive).resolve()
    info = inspect(archive)
    locks = [hold_lock(worker_lock_path(config)), hold_lock(web_lock_path(config))]
    try:
        if None in locks:
            raise StartError(
                "服务正在运行，不能恢复：请先停止服务（systemctl stop dubanbot-web dubanbot-worker，"
                "Windows 在“服务”中停止两个督办服务，或在运行 run.py 的窗口按 Ctrl+C），再运行 restore"
            )
        target = sqlite_path(config.database_url)
        print(info.summary())
        print(
            f"恢复会用这份备份替换数据库 {target} 以及 {config.data_dir / 'evidence'}、"
            f"{config.data_dir / 'exports'} 两个文件夹；现在的数据先另存为 {config.backup_dir} 中的 "
            "before-restore-….zip。"
        )
        if not args.yes and not _confirmed("确认恢复请输入“是”："):
            print("未确认，什么也没有改变。")
            return 1
        clock = Clock(config.timezone)
        restore(config, archive, clock.now(), newest_schema=newest_version())
        prepare_database(config, clock, load=False)
        secure_data(config)
        print(f"已恢复：{info.summary()}。现在可以启动服务。")
        return 0
    finally:
        for lock in locks:
            if lock is not None:
                lock.release()


def _confirmed(prompt: str) -> bool:
    try:
        answer = input(prompt)
    except EOFError:
        return False
    return answer.strip().lower() in ("是", "y", "yes")


def cmd_init(config: Config, _args) -> int:
    open_database(config.database_url)
    with database.connection_context():
        applied = migrate(database.obj)
        if applied:
            print("数据库结构已更新：" + "、".join(applied))
        print(load_plan(Clock(config.timezone).now()).summary())
    print("已完成。重复运行 init 只会更新方案文字，不会重置进度、评分、绑定、期限和日志。")
    return 0


def demo_config(config: Config) -> Config:
    """The demo's own database (DATA_DIR/demo.db) and admin; never WeCom, whatever .env holds."""
    from bot.demo import DEMO_ADMIN

    return dataclasses.replace(
        config,
        database_url=sqlite_url(config.data_dir / "demo.db"),
        sandbox_use_main_database=False,  # the demo's database is its own, always
        admins=config.admins | {DEMO_ADMIN},
        wecom_corp_id="",
    )


def seed_demo_once(clock: Clock, out=None) -> None:
    from bot.demo import seed_demo

    with database.connection_context():
        if seed_demo(clock.now()):
            print("已载入演示数据。", file=out or sys.stdout)


def cmd_demo(config: Config, args) -> int:
    from bot.demo import DEMO_PEOPLE

    config = demo_config(config)
    clock = _running_clock(config, args)
    prepare_database(config, clock)
    seed_demo_once(clock)
    people = "\n".join(f"  {u}：{unit} {name}" for u, name, unit, _ in DEMO_PEOPLE)
    banner = (
        f"演示数据库：{config.data_dir / 'demo.db'}（与正式数据库分开）\n"
        f"可以扮演的人员：\n{people}\n"
        "在沙盒页面选择人员后发送“帮助”开始。按 Ctrl+C 退出。"
    )
    banner = "\n".join(filter(None, [_clock_banner(clock), banner]))
    child_env = {
        "BOT_ADMINS": ",".join(sorted(config.admins)),
        **{key: "" for key in WECOM_APP_KEYS},
    }
    serve(config, make_services(config, clock), worker_argv(args, clock), banner, child_env)
    return 0


def cmd_say(config: Config, args) -> int:
    from bot.pipeline import Incoming

    text = " ".join(args.text)
    clock = _clock_at(config, args.at)
    if args.demo:
        config = demo_config(config)
    # Setting-up notices go to stderr: stdout carries the reply alone (for pipes and scripts).
    prepare_database(config, clock, out=sys.stderr)
    if args.demo:
        seed_demo_once(clock, out=sys.stderr)
    services = make_services(config, clock)
    with database.connection_context():
        result = services.pipeline.handle(
            Incoming("cli", uuid.uuid4().hex, args.userid, kind="text", text=text)
        )
        services.sender.drain()
    print(result.reply or "（没有回复）")
    return 0


def cmd_selfcheck(config: Config, args) -> int:
    from bot.selfcheck import FAIL, run_checks, worst

    clock = _clock_at(config, args.at)
    prepare_database(config, clock)
    services = make_services(config, clock)
    with database.connection_context():
        checks = run_checks(config, services.clock.now(), services.client)
        print(services.renderer.render("selfcheck.j2", checks=checks, verdict=worst(checks)))
    return 1 if worst(checks) == FAIL else 0


def _in_zone(at: datetime, config: Config) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=config.timezone)


def _clock_at(config: Config, at: datetime | None) -> Clock:
    """The real clock, or a clock stopped at --at (BOT_TIMEZONE when no offset is given)."""
    if at is None:
        return Clock(config.timezone)
    return FakeClock(_in_zone(at, config), config.timezone)


def _running_clock(config: Config, args) -> Clock:
    """The clock of a server: the real one, or one that starts at --at and runs forward. The
    worker gets the web process's offset (--clock-offset), so both read the same time."""
    offset = getattr(args, "clock_offset", None)
    if offset is not None:
        return OffsetClock(config.timezone, timedelta(seconds=offset))
    at = getattr(args, "at", None)
    if at is None:
        return Clock(config.timezone)
    return OffsetClock.starting_at(_in_zone(at, config), config.timezone)


def _clock_banner(clock: Clock) -> str:
    if not isinstance(clock, OffsetClock):
        return ""
    return f"机器人的时间从 {clock.now():%Y-%m-%d %H:%M} 开始走（--at），与电脑的时间无关。"


def cmd_remind(config: Config, args) -> int:
    """One reminder round as if the clock read --at; delivers what it queued, prints a summary."""
    from bot.outbox import Outbox
    from reminders.jobs import ensure_occurrences, reminder_round

    clock = _clock_at(config, args.at)
    prepare_database(config, clock)
    services = build_services(config, clock)
    with database.connection_context():
        cal = load_calendar()
        with database.atomic():
            ensure_occurrences(clock.now(), config, cal)
        result = reminder_round(clock.now(), config, cal, Outbox(clock), services.renderer)
        services.sender.drain()
    print(result.summary())
    return 0


def cmd_digest(config: Config, args) -> int:
    """This week's digest as if the clock read --at: --preview prints it, else publishes if due."""
    from bot.outbox import Outbox
    from reminders import digest

    clock = _clock_at(config, args.at)
    prepare_database(config, clock)
    services = build_services(config, clock)
    with database.connection_context():
        cal = load_calendar()
        if args.preview:
            print(digest.render_markdown(digest.build(clock.now(), config, cal), services.renderer))
            return 0
        result = digest.publish_if_due(clock.now(), config, cal, Outbox(clock), services.renderer)
        services.sender.drain()
    print(result.summary())
    return 0


def cmd_import(config: Config, args) -> int:
    """导入: the dry run of a spreadsheet (kept for --apply), or --apply of the dry run shown
    for the same file; both in the chat's words (bot/commands/imports.py)."""
    import getpass

    from bot.commands.imports import report_text
    from bot.importer import batch_changes, confirm, count_text, dry_run, pending_batch
    from bot.sheets import SheetError

    path = Path(args.file)
    if not path.is_file():
        raise StartError(f"找不到文件 {path}")
    data = path.read_bytes()
    clock = Clock(config.timezone)
    prepare_database(config, clock, out=sys.stderr)
    services = make_services(config, clock)
    actor = args.by or f"cli:{getpass.getuser()}"
    now = clock.now()
    today = now.date()
    with database.connection_context():
        if not args.apply:
            try:
                with database.atomic():
                    run = dry_run(data, path.name, now, today, actor)
            except SheetError as exc:
                print(f"“{path.name}”无法导入：{exc}", file=sys.stderr)
                return 1
            hint = f"确认无误后运行：python3 run.py import {args.file} --apply" + (
                f" --by {args.by}" if args.by else ""
            )
            print(report_text(services.renderer, run, path.name, hint=hint))
            return 0
        sha = hashlib.sha256(data).hexdigest()
        with database.atomic():
            batch = pending_batch(actor, sha)
            if batch is None:
                print(
                    f"没有“{path.name}”的预览：请先运行 python3 run.py import {args.file}"
                    "（不加 --apply），看过预览再确认。",
                    file=sys.stderr,
                )
                return 1
            cal = load_calendar()
            done = confirm(
                batch, now, today, actor, services.pipeline.outbox, services.renderer, config, cal
            )
        if done.refused is not None:
            print(
                f"未导入：{done.refused.where}的改动已无法按预览执行：{done.refused.message}"
                "请重新运行预览，看过再确认。",
                file=sys.stderr,
            )
            return 1
        if done.applied is None:
            print(
                "未导入：预览之后系统中的期限、分工或节点已有变化。请重新运行预览，看过再确认。",
                file=sys.stderr,
            )
            return 1
        services.sender.drain()
    print(
        f"已导入“{path.name}”：{count_text(batch_changes(batch))}。"
        f"已通知 {done.told} 位联络员，改动已记入日志。"
    )
    return 0


def cmd_pack(config: Config, args) -> int:
    """材料包 to disk: one zip, no size limit."""
    from bot.pack import build

    clock = Clock(config.timezone)
    prepare_database(config, clock, out=sys.stderr)
    out = Path(args.out) if args.out else None
    now = clock.now()
    with database.connection_context():
        target = (out.parent if out else Path.cwd()).resolve()
        built = build(
            args.scope, config.data_dir / "evidence", target, config.timezone, now, limit=None
        )
        if built is None:
            print(
                f"没有“{args.scope}”这一指标或类别：请写 Z 编号、一级或二级指标名称，或“全部”。",
                file=sys.stderr,
            )
            return 2
    ((_name, written),) = built.parts
    if out is not None and written != out.resolve():
        written = written.replace(out)
    pack = built.pack
    print(
        f"已生成：{written}（{pack.label}：{len(pack.indicators)} 项指标，{len(pack.files)} 份材料）"
    )
    for gap in pack.gaps:
        print(f"✗ {gap.item.code} {gap.item.title}：{gap.text}")
    return 0


AT_HELP = "如 2026-10-09T09:00（不写时区即按 BOT_TIMEZONE）；默认用电脑的时间"
START_HELP = "机器人的时间从这一刻开始往后走（演示、核对某一天的提醒和周报），" + AT_HELP

EPILOG = """例子：
  python3 run.py demo                         启动演示（浏览器沙盒）
  python3 run.py demo --at 2026-11-26T09:30   演示某一天：机器人的时间从这一刻开始走
  python3 run.py say --demo demo_scj 我的任务  在演示数据库里以 demo_scj 的身份发一条消息
  python3 run.py init && python3 run.py       正式使用：建库、载入方案、启动服务
每个命令的参数：python3 run.py 命令 --help"""


def build_parser() -> ChineseArgumentParser:
    parser = ChineseArgumentParser(
        prog="run.py", description="新绛县示范区创建督办机器人", epilog=EPILOG
    )
    parser.add_argument(
        "--env-file",
        metavar="文件",
        help="设置文件；不写时读取当前目录下的 .env（没有也可以），写了就必须存在",
    )
    sub = parser.add_subparsers(
        dest="command", title="命令", metavar="命令", help="不写命令时即 serve（启动服务）"
    )

    def command(name: str, text: str) -> ChineseArgumentParser:
        return sub.add_parser(name, help=text, description=text)

    def at_option(cmd: ChineseArgumentParser, text: str) -> None:
        cmd.add_argument("--at", type=moment, metavar="时间", help=text)

    at_option(
        command("serve", "启动服务并自动启动、看护后台进程（不写命令时默认就是它）"), START_HELP
    )
    at_option(
        command(
            "web",
            "只启动网页服务（企业微信回调、/healthz、沙盒），后台进程 run.py worker 另行运行"
            "（两个 systemd 服务或 Windows 服务）",
        ),
        START_HELP,
    )
    at_option(command("demo", "用单独的演示数据库（DATA_DIR/demo.db）启动浏览器沙盒"), START_HELP)
    command("init", "创建数据库并载入方案（重复运行安全）")
    selfcheck = command(
        "selfcheck", "自检：配置、管理员、企业微信连接、发件箱、文件下载、节假日日历"
    )
    at_option(selfcheck, "按这个时间检查，" + AT_HELP)
    at_option(command("remind", "按提醒阶梯发送一轮提醒，打印摘要"), "假定现在的时间，" + AT_HELP)
    digest = command("digest", "发布本周周报（每周一次），或 --preview 预览")
    at_option(digest, "假定现在的时间，" + AT_HELP)
    digest.add_argument("--preview", action="store_true", help="只打印，不发布")
    say = command("say", "以某个 userid 发送一条消息并打印回复（与聊天走同一条处理流程）")
    say.add_argument("userid", help="以谁的身份发送（企业微信 userid，如 demo_scj）")
    say.add_argument("text", nargs="+", metavar="消息", help="消息内容，可以有空格，如 我的任务")
    say.add_argument(
        "--demo", action="store_true", help="发到演示数据库（DATA_DIR/demo.db，含演示人员）"
    )
    at_option(say, "假定现在的时间，" + AT_HELP)
    importer = command(
        "import", "导入 Excel（任务分解表、实施细则、期限表或导出的台账）：先预览，--apply 才执行"
    )
    importer.add_argument("file", metavar="文件", help=".xlsx 或 .xls 文件")
    importer.add_argument(
        "--apply", action="store_true", help="执行此前对同一文件的预览（预览后数据有变化则拒绝）"
    )
    importer.add_argument(
        "--by", metavar="userid", help="记入日志的管理员 userid（默认 cli:当前系统用户）"
    )
    pack = command("pack", "生成迎检材料包（zip，附目录.xlsx），写到磁盘，不限大小")
    pack.add_argument(
        "scope", nargs="?", metavar="范围", help="Z 编号（如 Z12）、一级或二级指标名称，默认全部"
    )
    pack.add_argument("--out", metavar="路径", help="zip 文件的路径（默认当前目录下按日期命名）")
    worker = command(
        "worker",
        "后台进程：处理消息、发送、下载文件、定时提醒和备份（serve 会自动启动它；"
        "用 web 时作为单独的服务运行）",
    )
    worker.add_argument(
        "--clock-offset",
        type=float,
        metavar="秒",
        help="机器人的时间比电脑快多少秒（由服务按 --at 传入，一般无需手动设置）",
    )
    worker.add_argument(
        "--with-parent",
        action="store_true",
        help="标准输入关闭时退出（serve 启动后台进程时使用，一般无需手动设置）",
    )
    backup = command(
        "backup",
        "备份：数据库（运行中也可以，SQLite）、佐证材料和台账打包成一个带日期的 zip",
    )
    backup.add_argument(
        "--to", metavar="文件夹", help="备份放在哪个文件夹；默认 BACKUP_DIR（DATA_DIR/backups）"
    )
    restore = command("restore", "从备份恢复数据库、佐证材料和台账（须先停止服务；会先确认）")
    restore.add_argument("archive", metavar="备份文件", help="run.py backup 做的 zip 文件")
    restore.add_argument("--yes", action="store_true", help="不再询问，直接恢复（用于脚本）")
    return parser


# Commands that run for long write a log file when LOG_FILE is set; the worker has its own.
SERVERS = ("serve", "web", "demo", None)


def setup_logging(config: Config, command: str | None) -> None:
    file = None
    if config.log_file is not None and command in SERVERS:
        file = config.log_file
    elif config.log_file is not None and command == "worker":
        file = worker_log_file(config.log_file)
    configure_logging(
        config.log_level, file=file, max_bytes=config.log_max_bytes, backups=config.log_backups
    )


def main(argv: list[str] | None = None) -> int:
    from bot.backup import BackupError

    memory.limit_arenas()  # before any thread starts (bot/memory.py)
    args = build_parser().parse_args(argv)
    configure_logging(logging.INFO)
    handlers = {
        "serve": cmd_serve,
        None: cmd_serve,
        "web": cmd_serve,
        "backup": cmd_backup,
        "restore": cmd_restore,
        "demo": cmd_demo,
        "init": cmd_init,
        "say": cmd_say,
        "selfcheck": cmd_selfcheck,
        "worker": cmd_worker,
        "remind": cmd_remind,
        "digest": cmd_digest,
        "import": cmd_import,
        "pack": cmd_pack,
    }
    try:
        config = load_config(args.env_file)
        setup_logging(config, args.command)
        secure_data(config)
        return handlers[args.command](config, args)
    except (ConfigError, PlanError, StartError, BackupError) as exc:
        print(exc, file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise  # our reader went away (see entry): not a start-up problem
    except OSError as exc:
        print(f"无法启动：{exc}", file=sys.stderr)
        return 2


def entry(argv: list[str] | None = None) -> int:
    """main(), quiet when the reader of our output goes away (`run.py say … | head -1`)."""
    try:
        try:
            return main(argv)
        finally:
            sys.stdout.flush()  # inside the try: a closed pipe shows here, not at exit
    except BrokenPipeError:
        # As the Python docs advise: point stdout at devnull so the interpreter's own final
        # flush does not complain either. Works on Windows too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(entry())
