#!/usr/bin/env python3
"""The composition root and command line: reads the config, opens the database, wires the parts,
starts the web server and the outbox sender. The only module that reads the environment, opens
sockets and starts threads.

    python3 run.py            serve (the sandbox when no WeCom account is configured)
    python3 run.py demo       serve a separate demo database with sample people and deadlines
    python3 run.py init       create the database and load (or update) the built-in plan
    python3 run.py say USERID TEXT…   one message through the pipeline; prints the reply
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import hashlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime

from dotenv import dotenv_values

from bot.clock import Clock, FakeClock
from bot.config import WECOM_APP_KEYS, Config, ConfigError
from bot.logs import configure_logging
from bot.services import Services, build_services
from models.db import database, open_database
from models.loader import PlanError, load_plan, plan_is_loaded
from models.migrations import migrate

log = logging.getLogger("run")
ENV_FILE = [".env"]  # the --env-file given, passed on to the worker process


def load_config(env_file: str = ".env") -> Config:
    """Settings from .env in the working directory, overridden by the real environment."""
    file_values = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    return Config.from_mapping({**file_values, **os.environ})


def prepare_database(config: Config, *, load: bool = True) -> None:
    open_database(config.database_url)
    with database.connection_context():
        migrate(database.obj)
        if load and not plan_is_loaded():
            print(load_plan(Clock(config.timezone).now()).summary())


def make_services(config: Config) -> Services:
    """The WeCom stack when WeCom is configured, else the sandbox."""
    return build_services(config, Clock(config.timezone))


def serve(config: Config, services: Services, banner: str = "", child_env: dict | None = None):
    """HTTP in this process; the background worker (inbound processing, the outbox sender) in a
    child process, so that processing never slows down the acknowledgement of a callback."""
    from waitress import create_server

    from bot.recorder import BatchRecorder
    from bot.web import create_app

    recorder = BatchRecorder()
    services.pipeline.record = recorder.record
    writer = threading.Thread(target=recorder.run, name="inbound-writer", daemon=True)
    writer.start()
    server = create_server(
        create_app(services),
        host=config.http_host,
        port=config.http_port,
        threads=8,
        channel_timeout=30,
        max_request_body_size=config.evidence_max_bytes + 1024 * 1024,
    )
    supervisor = WorkerSupervisor(child_env or {})
    supervisor.start()
    host = config.http_host if ":" not in config.http_host else f"[{config.http_host}]"
    url = f"http://{host}:{server.effective_port}"
    print(f"服务已启动：{url}/healthz", flush=True)
    if config.sandbox_enabled:
        print(f"浏览器沙盒：{url}/sandbox", flush=True)
    if config.wecom_enabled:
        print(
            f"企业微信回调地址：{url}/wecom/callback（对外请用 https 域名转发到这里）", flush=True
        )
    if banner:
        print(banner, flush=True)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        supervisor.stop()
        server.close()
        recorder.stop()
        writer.join(timeout=5)


def _raise_interrupt(_signum, _frame):
    raise KeyboardInterrupt


class WorkerSupervisor:
    """Starts `run.py worker` and starts it again if it dies (with a growing pause)."""

    def __init__(self, env_overrides: dict):
        self.env = {**os.environ, **env_overrides}
        self.argv = [sys.executable, os.path.abspath(__file__), "--env-file", ENV_FILE[0], "worker"]
        self.stopping = threading.Event()
        self.proc: subprocess.Popen | None = None
        self.thread = threading.Thread(target=self._run, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        pause = 1.0
        while not self.stopping.is_set():
            started = time.monotonic()
            self.proc = subprocess.Popen(self.argv, env=self.env)
            code = self.proc.wait()
            if self.stopping.is_set():
                return
            log.warning("background worker exited with %s; restarting", code)
            pause = 1.0 if time.monotonic() - started > 60 else min(pause * 2, 30.0)
            self.stopping.wait(pause)

    def stop(self) -> None:
        self.stopping.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.thread.join(timeout=12)


def lock_suffix(database_url: str) -> str:
    return hashlib.sha1(database_url.encode()).hexdigest()[:10]


def cmd_worker(config: Config, _args) -> int:
    """The background worker: one per deployment (a lock file under DATA_DIR)."""
    prepare_database(config, load=False)
    services = make_services(config)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    # One lock per database, so the demo's worker never blocks the real one in the same DATA_DIR.
    lock_path = config.data_dir / f"worker-{lock_suffix(config.database_url)}.lock"
    lock = open(lock_path, "w")  # noqa: SIM115  (held for the life of the process)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"另一个后台进程已在运行（{lock_path}），本进程退出。", file=sys.stderr)
        return 3
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    parent = os.getppid()
    threads = [
        threading.Thread(target=services.sender.loop, args=(stop, 0.2), name="outbox", daemon=True),
        threading.Thread(
            target=services.worker_loop, args=(stop, 0.2), name="inbound", daemon=True
        ),
    ]
    for thread in threads:
        thread.start()
    from reminders.scheduler import CampaignScheduler, SchedulerLock

    lock_held = SchedulerLock(config.data_dir, config.database_url)
    scheduler = CampaignScheduler(services) if lock_held.acquire() else None
    if scheduler is None:
        log.info("another process runs the scheduler; this one only processes and sends")
    else:
        scheduler.start()
    while not stop.wait(1.0):
        if os.getppid() != parent:  # the server that started us is gone
            stop.set()
    if scheduler is not None:
        scheduler.stop()
        lock_held.release()
    services.sender.notify()
    services.worker_wake()
    for thread in threads:
        thread.join(timeout=10)
    return 0


def cmd_serve(config: Config, _args) -> int:
    prepare_database(config)
    serve(config, make_services(config))
    return 0


def cmd_init(config: Config, _args) -> int:
    open_database(config.database_url)
    with database.connection_context():
        applied = migrate(database.obj)
        if applied:
            print("数据库结构已更新：" + "、".join(applied))
        print(load_plan(Clock(config.timezone).now()).summary())
    print("已完成。重复运行 init 只会更新方案文字，不会重置进度、评分、绑定、期限和日志。")
    return 0


def cmd_demo(config: Config, _args) -> int:
    from bot.demo import DEMO_ADMIN, DEMO_PEOPLE, seed_demo

    demo_db = (config.data_dir / "demo.db").resolve()
    config = dataclasses.replace(
        config,
        database_url=f"sqlite:///{demo_db}",
        admins=config.admins | {DEMO_ADMIN},
        # The demo never talks to WeCom, whatever .env holds.
        wecom_corp_id="",
    )
    prepare_database(config)
    with database.connection_context():
        if seed_demo(Clock(config.timezone).now()):
            print("已载入演示数据。")
    people = "\n".join(f"  {u}：{unit} {name}" for u, name, unit, _ in DEMO_PEOPLE)
    banner = (
        f"演示数据库：{demo_db}（与正式数据库分开）\n"
        f"可以扮演的人员：\n{people}\n"
        "在沙盒页面选择人员后发送“帮助”开始。按 Ctrl+C 退出。"
    )
    child_env = {
        "DATABASE_URL": config.database_url,
        "BOT_ADMINS": ",".join(sorted(config.admins)),
        **{key: "" for key in WECOM_APP_KEYS},
    }
    serve(config, make_services(config), banner, child_env)
    return 0


def cmd_say(config: Config, args) -> int:
    from bot.pipeline import Incoming

    text = " ".join(args.text)
    prepare_database(config)
    services = make_services(config)
    with database.connection_context():
        result = services.pipeline.handle(
            Incoming("cli", uuid.uuid4().hex, args.userid, kind="text", text=text)
        )
        services.sender.drain()
    print(result.reply or "（没有回复）")
    return 0


def cmd_selfcheck(config: Config, _args) -> int:
    from bot.selfcheck import FAIL, run_checks, worst

    prepare_database(config)
    services = make_services(config)
    with database.connection_context():
        checks = run_checks(config, services.clock.now(), services.client)
        print(services.renderer.render("selfcheck.j2", checks=checks, verdict=worst(checks)))
    return 1 if worst(checks) == FAIL else 0


def _clock_at(config: Config, at: str | None) -> Clock:
    """The real clock, or a clock stopped at --at (BOT_TIMEZONE when no offset is given)."""
    if not at:
        return Clock(config.timezone)
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise SystemExit(f"--at {at!r} 不是时间，请写成 2026-10-09T09:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=config.timezone)
    return FakeClock(moment)


def cmd_remind(config: Config, args) -> int:
    """One reminder round as if the clock read --at; delivers what it queued, prints a summary."""
    from bot.outbox import Outbox
    from reminders.calendar import WorkCalendar
    from reminders.jobs import reminder_round

    clock = _clock_at(config, args.at)
    prepare_database(config)
    services = build_services(config, clock)
    with database.connection_context():
        result = reminder_round(
            clock.now(), config, WorkCalendar.from_database(), Outbox(clock), services.renderer
        )
        services.sender.drain()
    print(result.summary())
    return 0


def cmd_digest(config: Config, args) -> int:
    """This week's digest as if the clock read --at: --preview prints it, else publishes if due."""
    from bot.outbox import Outbox
    from reminders import digest
    from reminders.calendar import WorkCalendar

    clock = _clock_at(config, args.at)
    prepare_database(config)
    services = build_services(config, clock)
    with database.connection_context():
        cal = WorkCalendar.from_database()
        if args.preview:
            print(digest.render_markdown(digest.build(clock.now(), config, cal), services.renderer))
            return 0
        result = digest.publish_if_due(clock.now(), config, cal, Outbox(clock), services.renderer)
        services.sender.drain()
    print(result.summary())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run.py", description="新绛县示范区创建督办机器人")
    parser.add_argument("--env-file", default=".env", help="设置文件（默认 .env）")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="启动服务（默认）")
    sub.add_parser("worker", help="后台进程（由服务自动启动，一般无需手动运行）")
    sub.add_parser("demo", help="用演示数据库启动浏览器沙盒")
    sub.add_parser("init", help="创建数据库并载入方案")
    sub.add_parser("selfcheck", help="自检：配置、企业微信连接、发件箱、文件下载、节假日日历")
    remind = sub.add_parser("remind", help="按提醒阶梯发送一轮提醒")
    remind.add_argument("--at", help="假定当前时间，如 2026-10-09T09:00（默认现在）")
    digest = sub.add_parser("digest", help="发布本周周报（每周一次），或 --preview 预览")
    digest.add_argument("--at", help="假定当前时间，如 2026-10-12T09:00（默认现在）")
    digest.add_argument("--preview", action="store_true", help="只打印，不发布")
    say = sub.add_parser("say", help="以某个 userid 发送一条消息并打印回复")
    say.add_argument("userid")
    say.add_argument("text", nargs="+")
    args = parser.parse_args(argv)
    ENV_FILE[0] = args.env_file

    configure_logging(logging.INFO)
    try:
        config = load_config(args.env_file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    handlers = {
        "serve": cmd_serve,
        None: cmd_serve,
        "demo": cmd_demo,
        "init": cmd_init,
        "say": cmd_say,
        "selfcheck": cmd_selfcheck,
        "worker": cmd_worker,
        "remind": cmd_remind,
        "digest": cmd_digest,
    }
    try:
        return handlers[args.command](config, args)
    except PlanError as exc:
        print(exc, file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"无法启动：{exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
