"""The web process and the processes around it: `serve` (HTTP here, the worker as a supervised
child), the supervisor that restarts that child, the stop signals every process obeys, and the
watch on a parent that goes away."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot.clock import Clock, OffsetClock
from bot.config import SANDBOX_DATABASE, Config, sqlite_url
from bot.runtime.files import hold_lock, inbound_journal_path, wake_port_path, web_lock_path
from bot.runtime.startup import (
    StartError,
    database_problem,
    storage_line,
    wait_for_database,
)
from bot.runtime.wake import RemoteWake
from bot.services import Services
from models.db import CONNECTION_ERRORS, database

log = logging.getLogger("run")

# The command line that starts this program again (the supervised worker): this Python with
# run.py, or in the offline bundle (PyInstaller: sys.frozen) the bundle's own program.
ENTRY = Path(__file__).resolve().parents[2] / "run.py"


def program_argv() -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, str(ENTRY)]


# The ways a process is asked to stop: SIGTERM (systemd, docker, kill), SIGINT (Ctrl+C, and how
# WinSW and NSSM stop a Windows service: they send the console a Ctrl+C), SIGBREAK (Ctrl+Break,
# Windows only; `GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT)` reaches a process group).
STOP_SIGNALS = tuple(
    sig for sig in (getattr(signal, n, None) for n in ("SIGTERM", "SIGINT", "SIGBREAK")) if sig
)


# Idle connections must not crowd out WeCom's callbacks. waitress stops accepting at its
# connection limit (100 by default) until idle ones time out: 150 idle connections from a
# stranger held every acknowledgement back for 40 s. So: room for many more (each idle one costs
# a socket and a few KB), poll() instead of select() where there is one (select cannot watch
# more than 1024 descriptors on Linux; on Windows waitress keeps select, which takes 512, so the
# limit stays below that), and idle ones closed after 20 s, looked for every 5 s. Below the
# process's usual 1024 open files on Linux, with room for the database and log files. A stranger
# with more connections than that is for a reverse proxy's per-address limit (README: nginx).
CONNECTIONS = {
    "connection_limit": 400 if sys.platform == "win32" else 800,
    "asyncore_use_poll": True,
    "channel_timeout": 20,
    "cleanup_interval": 5,
}


def on_stop_signals(handler) -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)


def serve(
    config: Config,
    services: Services,
    worker_argv: list[str] | None,
    banner: str = "",
    child_env: dict | None = None,
    prepare: Callable[[], None] | None = None,
):
    """HTTP in this process; the background worker (inbound processing, the outbox sender) in a
    child process, so that processing never slows down the acknowledgement of a callback.
    `worker_argv` None: no child (`run.py web`; the worker is a service of its own).

    `prepare` opens and migrates the database (None: done already). If the database cannot be
    reached (PostgreSQL still starting after a reboot), the server starts all the same: WeCom's
    callbacks are journaled and acknowledged, and the writer commits them once a retry in the
    background has reached the database."""
    # Imported here, not at the top: the worker process, which imports this module for its
    # signals, never loads the web stack (waitress, Flask, the app: 7 MB measured).
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
    journal = inbound_journal_path(config)
    recorder = BatchRecorder(journal=journal, on_committed=wake)
    ready = prepare is None
    if prepare is not None:
        try:
            prepare()
            ready = True
        except CONNECTION_ERRORS as exc:
            log.warning(
                "%s：网页服务照常启动，企业微信发来的消息先记入 %s，连上数据库后写入",
                database_problem(config, exc),
                journal,
            )
    if ready:
        with database.connection_context():
            recorder.open_journal()
    else:
        recorder.open_journal(replay=False)  # the journal's rows wait for the writer
    services.pipeline.record = recorder.record
    services.pipeline.accept = recorder.accept
    services.remote_wake = wake  # a recorded sandbox message wakes the worker process
    services.pipeline.on_queued = wake  # a sandbox reply queued here: the worker sends it
    stopping = threading.Event()

    def write() -> None:
        """The writer; first, when the database was away at start, the wait for it."""
        if (
            not ready
            and prepare is not None
            and not wait_for_database(
                prepare, config, stopping, f"企业微信发来的消息仍先记入 {journal}", failed=True
            )
        ):
            return
        recorder.run()

    writer = threading.Thread(target=write, name="inbound-writer", daemon=True)
    writer.start()
    try:
        server = create_server(
            create_app(services),
            host=config.http_host,
            port=config.http_port,
            threads=8,
            max_request_body_size=config.evidence_max_bytes + 1024 * 1024,
            **CONNECTIONS,
        )
    except OSError as exc:
        stopping.set()
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
    print(storage_line(config), flush=True)
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
        stopping.set()
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
    argv = program_argv()
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
                if self.proc.stdin is not None:
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
                if proc.stdin is not None:
                    proc.stdin.close()  # the worker's cue to stop (it finishes within 10 s)
            try:
                proc.wait(timeout=12)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.thread.join(timeout=14)


def watch_parent(stop: threading.Event) -> None:
    """Stop when standard input closes: the web process that started us closed it, or died."""

    def wait_for_eof() -> None:
        with contextlib.suppress(OSError, ValueError):
            while sys.stdin.buffer.read(4096):
                pass
        stop.set()

    threading.Thread(target=wait_for_eof, name="parent-watch", daemon=True).start()
