"""What every command does first: the settings read (the env file, then the environment), the
logging set up, the database opened and migrated, the bot's clock chosen. StartError is a
problem the user can fix, said in one Chinese sentence."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from bot.clock import Clock, FakeClock, OffsetClock
from bot.config import Config, database_text, unknown_settings_text
from bot.logs import configure_logging, worker_log_file
from bot.runtime.envfile import EnvFile, EnvFileError, exposed_to, read_env_file, tighten_env_file
from bot.services import Services, build_services
from models.db import CONNECTION_ERRORS, database, is_postgres, open_database
from models.loader import load_plan, plan_is_loaded
from models.migrations import migrate
from models.private import private_tree, tighten

log = logging.getLogger("run")

MIGRATION_LOCK = 0x64756261  # PostgreSQL advisory lock key while migrating ("duba")


class StartError(Exception):
    """A problem the user can fix, said in one sentence that names what to change (exit 2)."""


# How a user starts this program, for messages that say what to run.
PROGRAM = "dubanbot" if getattr(sys, "frozen", False) else "python3 run.py"


def read_settings(env_file: str | None = None) -> EnvFile | None:
    """The settings file: the one --env-file names (it must exist), else .env in the working
    directory if there is one. None: no settings file."""
    if env_file is not None and not os.path.isfile(env_file):
        # python-dotenv silently ignores a missing file: a typo would run on the defaults.
        raise StartError(
            f"找不到设置文件 {env_file}（--env-file）：请检查路径；"
            "不写 --env-file 时读取当前目录下的 .env（没有也可以）"
        )
    path = Path(env_file if env_file is not None else ".env")
    if not path.is_file():
        return None
    try:
        return read_env_file(path)
    except EnvFileError as exc:
        raise StartError(str(exc)) from None


def config_from(source: EnvFile | None) -> Config:
    """The settings file's values overridden by the real environment. Relative paths mean the
    settings file's folder (so `--env-file /opt/dubanbot/.env` means /opt/dubanbot/data from
    any working directory), or the working directory when there is no settings file."""
    values = source.values if source is not None else {}
    base = source.path.parent if source is not None else Path.cwd()
    config = Config.from_mapping({**values, **os.environ}, base_dir=base)
    if source is None:
        return config
    return dataclasses.replace(config, env_file=source.path, unknown_settings=source.unknown)


def load_config(env_file: str | None = None) -> Config:
    return config_from(read_settings(env_file))


def settle_settings_file(source: EnvFile | None, config: Config, *, quiet: bool) -> Config:
    """At start: say which settings file is read (or that there is none), in which encoding
    when it is not plain UTF-8, and which of its keys are no setting; make it its owner's
    only when it holds a secret (POSIX); record who else may still read it (自检 shows it).
    `quiet`: a worker started by `serve`, whose parent has said all this already."""
    if source is None:
        if not quiet:
            log.info(
                "未找到 .env，使用默认设置（在 %s 中查找；也可以用 --env-file 指定设置文件）",
                Path.cwd(),
            )
        return config
    if not quiet:
        if source.encoding != "UTF-8":
            log.info("设置文件 %s 的编码为 %s，已按此读取", source.path, source.encoding)
        if source.unknown:
            log.warning(
                "设置文件 %s 中有不认识的设置，它们不起作用：%s（设置名见 config.example.env）",
                source.path,
                unknown_settings_text(source.unknown),
            )
    tightened = tighten_env_file(source)
    if tightened:
        log.warning("%s", tightened)
    return dataclasses.replace(config, env_file_readers=exposed_to(source))


def storage_line(config: Config) -> str:
    """The start-up line: which settings, database and data folder this process uses."""
    settings = str(config.env_file) if config.env_file else "未找到 .env，使用默认设置"
    return f"设置文件：{settings}；数据库：{config.database_text}；数据文件夹：{config.data_dir}"


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


FIRST_RETRY = 1.0  # seconds before the database is tried again; doubles up to RETRY_CAP
RETRY_CAP = 30.0


def database_problem(config: Config, exc: Exception) -> str:
    """Why the database could not be reached, in one line (the driver's first line)."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"无法连接数据库 {config.database_text}（{reason[:200]}）"


def wait_for_database(
    prepare: Callable[[], None],
    config: Config,
    stop: threading.Event,
    meanwhile: str,
    *,
    failed: bool = False,
) -> bool:
    """Run `prepare` (open, migrate) until the database answers: after a reboot PostgreSQL may
    well come up after the bot. Each failed try is one Chinese log line, no traceback; the
    pause doubles from 1 s to 30 s; once through after a failure, that is said too. `failed`:
    a try has failed already (pause before the first). False: `stop` was set first."""
    pause = FIRST_RETRY
    while True:
        if failed:
            if stop.wait(pause):
                return False
            pause = min(pause * 2, RETRY_CAP)
        try:
            prepare()
        except CONNECTION_ERRORS as exc:
            log.warning("%s：%s；%g 秒后重试", database_problem(config, exc), meanwhile, pause)
            failed = True
        else:
            if failed:
                log.warning("已连上数据库 %s", config.database_text)
            return True


def require_database(config: Config, command: str) -> None:
    """Commands that read or change the campaign (selfcheck, say, remind…) work on a database
    `init` made and never make one themselves: run in the wrong folder, or with another
    settings file, they would otherwise leave an empty data/bot.db there and answer from it."""
    if config.is_sqlite:
        path = Path(database_text(config.database_url))
        if path.is_file() and path.stat().st_size > 0:
            return
        missing = f"还没有数据库 {path}"
    else:
        open_database(config.database_url)
        with database.connection_context():
            if database.table_exists("schema_version"):
                return
        missing = f"数据库 {config.database_text} 中还没有建表"
    settings = f" --env-file {config.env_file}" if config.env_file else ""
    raise StartError(
        f"{missing}：请先运行 {PROGRAM}{settings} init（建库并载入方案），再运行 {command}；"
        "如果数据库在别处，请检查设置文件（--env-file）或当前目录是否正确"
    )


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
