"""What every command does first: the settings read (the env file, then the environment), the
logging set up, the database opened and migrated, the bot's clock chosen. StartError is a
problem the user can fix, said in one Chinese sentence."""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

from dotenv import dotenv_values

from bot.clock import Clock, FakeClock, OffsetClock
from bot.config import Config
from bot.logs import configure_logging, worker_log_file
from bot.services import Services, build_services
from models.db import database, is_postgres, open_database
from models.loader import load_plan, plan_is_loaded
from models.migrations import migrate
from models.private import private_tree, tighten

log = logging.getLogger("run")

MIGRATION_LOCK = 0x64756261  # PostgreSQL advisory lock key while migrating ("duba")


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


def in_zone(at: datetime, config: Config) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=config.timezone)


def clock_at(config: Config, at: datetime | None) -> Clock:
    """The real clock, or a clock stopped at --at (BOT_TIMEZONE when no offset is given)."""
    if at is None:
        return Clock(config.timezone)
    return FakeClock(in_zone(at, config), config.timezone)


def running_clock(config: Config, args) -> Clock:
    """The clock of a server: the real one, or one that starts at --at and runs forward. The
    worker gets the web process's offset (--clock-offset), so both read the same time."""
    offset = getattr(args, "clock_offset", None)
    if offset is not None:
        return OffsetClock(config.timezone, timedelta(seconds=offset))
    at = getattr(args, "at", None)
    if at is None:
        return Clock(config.timezone)
    return OffsetClock.starting_at(in_zone(at, config), config.timezone)


def clock_banner(clock: Clock) -> str:
    if not isinstance(clock, OffsetClock):
        return ""
    return f"机器人的时间从 {clock.now():%Y-%m-%d %H:%M} 开始走（--at），与电脑的时间无关。"
