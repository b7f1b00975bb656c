"""Fixtures: a fresh database per test (SQLite file, or PostgreSQL from TEST_DATABASE_URL) with the
plan loaded, a fake clock, the wired services, and a guard that fails any test reaching the network.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import sys
import time as time_module
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import chinese_calendar
import peewee
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from skips import closing_line, skip_reason  # noqa: E402

from bot.clock import FakeClock  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.services import build_services  # noqa: E402
from models.db import database, make_database  # noqa: E402
from models.loader import load_plan  # noqa: E402
from models.migrations import migrate  # noqa: E402
from models.schema import ALL_MODELS  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)  # a Thursday


def _own_database(url: str) -> str:
    """Under pytest-xdist each worker gets a database of its own beside TEST_DATABASE_URL's
    (test_gw0, test_gw1…), created on first use: the workers run at once and every test starts
    by putting its database back to the plan."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    import psycopg2
    from psycopg2 import errors, sql

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'postgres'}_{worker}"
    conn = psycopg2.connect(url, connect_timeout=10)
    try:
        conn.autocommit = True
        for attempt in range(20):
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is not None:
                    break
                try:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                    break
                except errors.ObjectInUse:  # another worker copying template1 now
                    if attempt == 19:
                        raise
                    time_module.sleep(0.5)
    finally:
        conn.close()
    return urlunsplit(parts._replace(path=f"/{name}"))


PG_URL = _own_database(os.environ.get("TEST_DATABASE_URL", ""))

# A WeCom call inside a database transaction fails the test (bot/transports/wecom/client.py),
# in this process and in the ones it starts.
os.environ["DUBAN_STRICT_LAYERS"] = "1"


def pytest_terminal_summary(terminalreporter):
    """A closing line that names what was skipped (browser, CJK font…) and the command that
    installs what it needs: a skip must never pass unnoticed."""
    line = closing_line([skip_reason(r) for r in terminalreporter.stats.get("skipped", [])])
    if line:
        terminalreporter.write_line(line, yellow=True)


# ---------------------------------------------------------------- no network beyond this machine


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self, address):
    if not _is_local(address):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _is_local(address):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host not in (None, "localhost", b"localhost"):
        try:
            if not ipaddress.ip_address(
                host.decode() if isinstance(host, bytes) else host
            ).is_loopback:
                raise RuntimeError(f"test tried to resolve a non-local address: {host!r}")
        except ValueError:
            raise RuntimeError(f"test tried to resolve a host name: {host!r}") from None
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
socket.getaddrinfo = _guarded_getaddrinfo


# ---------------------------------------------------------------- database


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite database with the plan loaded, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "bot.db"
    db = make_database(f"sqlite:///{path}")
    database.initialize(db)
    with db.connection_context():
        migrate(db)
        load_plan(START)
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


def _reset_postgres(db) -> None:
    tables = [m._meta.table_name for m in ALL_MODELS] + ["schema_version"]
    existing = set(db.get_tables())
    if existing:
        names = ", ".join(f'"{t}"' for t in existing)
        db.execute_sql(f"DROP TABLE IF EXISTS {names} CASCADE")
    assert not set(db.get_tables()) & set(tables)


SNAPSHOT_SCHEMA = "test_plan_snapshot"


def _snapshot_plan(db) -> str:
    """The freshly loaded plan copied into SNAPSHOT_SCHEMA; returns the SQL that puts every
    table back to exactly that (rows, and each id sequence just past its largest id).

    One round trip instead of TRUNCATE plus load_plan (0.55 s a test against about 0.17 s). The
    foreign-key triggers are off while the copies go back (session_replication_role), so their
    order is free. TRUNCATE, not DELETE, though DELETE is faster on tables this small: a table
    emptied by DELETE reuses its freed space, and rows read without ORDER BY then come back in
    another order than they were written."""
    db.execute_sql(f"DROP SCHEMA IF EXISTS {SNAPSHOT_SCHEMA} CASCADE")
    db.execute_sql(f"CREATE SCHEMA {SNAPSHOT_SCHEMA}")
    tables = ", ".join(f'"{m._meta.table_name}"' for m in ALL_MODELS)
    statements = [
        f"TRUNCATE {tables} RESTART IDENTITY CASCADE",
        "SET LOCAL session_replication_role = replica",
    ]
    restores, sequences = [], []
    for model in ALL_MODELS:
        table = model._meta.table_name
        if model.select().exists():
            db.execute_sql(f'CREATE TABLE {SNAPSHOT_SCHEMA}."{table}" AS SELECT * FROM "{table}"')
            restores.append(f'INSERT INTO "{table}" SELECT * FROM {SNAPSHOT_SCHEMA}."{table}"')
        pk = model._meta.primary_key
        if isinstance(pk, peewee.AutoField):
            column = pk.column_name
            sequences.append(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
                f'COALESCE((SELECT MAX("{column}") FROM "{table}"), 0) + 1, false)'
            )
    return ";\n".join([*statements, *restores, *sequences])


@pytest.fixture(scope="session")
def pg_ready():
    """With PostgreSQL: the schema is created and the plan loaded once per session; each test
    starts from a copy of that (_snapshot_plan). Returns the SQL that restores it."""
    if not PG_URL:
        return None
    db = make_database(PG_URL)
    database.initialize(db)
    with db.connection_context():
        _reset_postgres(db)
        migrate(db)
        load_plan(START)
        restore = _snapshot_plan(db)
    db.close()
    return restore


@pytest.fixture
def db_url(tmp_path, request) -> str:
    if PG_URL:
        restore = request.getfixturevalue("pg_ready")
        db = make_database(PG_URL)
        database.initialize(db)
        with db.connection_context(), db.atomic():
            db.execute_sql(restore)
        db.close()
        return PG_URL
    template = request.getfixturevalue("sqlite_template")
    path = tmp_path / "bot.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def db(db_url):
    """The models' database, connected, with the plan loaded and nothing else."""
    handle = make_database(db_url)
    database.initialize(handle)
    handle.connect()
    yield handle
    if not handle.is_closed():
        handle.close()


@pytest.fixture
def empty_db(tmp_path):
    """A database with no tables at all (for migration and loader tests)."""
    if PG_URL:
        handle = make_database(PG_URL)
        database.initialize(handle)
        with handle.connection_context():
            _reset_postgres(handle)
        handle.connect()
        yield handle
        handle.close()
        # Leave the session schema as other tests expect it.
        with handle.connection_context():
            _reset_postgres(handle)
            migrate(handle)
        return
    handle = make_database(f"sqlite:///{tmp_path / 'empty.db'}")
    database.initialize(handle)
    handle.connect()
    yield handle
    handle.close()


# ---------------------------------------------------------------- the campaign's time in tests


@dataclass(frozen=True)
class Moment:
    """A pinned moment for tests that opt in (`campaign_clock`), with what it implies under the
    default settings. The facts come from chinesecalendar and the defaults, not from the bot's
    own calendar code, so a test can hold the bot to them."""

    label: str
    at: datetime

    @property
    def arg(self) -> str:
        """The moment as `--at` takes it."""
        return self.at.strftime("%Y-%m-%dT%H:%M")

    @property
    def working_day(self) -> bool:
        return chinese_calendar.is_workday(self.at.date())

    @property
    def quiet(self) -> bool:  # QUIET_HOURS=21:00-08:00
        return not time(8, 0) <= self.at.time() < time(21, 0)

    @property
    def reminders_due(self) -> bool:
        """Would the day's reminders (REMIND_AT=09:00) and a missed digest go out now?"""
        return self.working_day and not self.quiet and self.at.time() >= time(9, 0)

    @property
    def next_year_missing(self) -> bool:
        """In December of a year whose next year chinesecalendar does not know."""
        try:
            chinese_calendar.is_workday(date(self.at.year + 1, 6, 1))
            known = True
        except NotImplementedError:
            known = False
        return self.at.month == 12 and not known

    @property
    def iso_week(self) -> str:
        year, week, _ = self.at.isocalendar()
        return f"{year}-W{week:02d}"

    def plus(self, **delta: float) -> datetime:
        return self.at + timedelta(**delta)


# A December Thursday: next year's calendar is warned about from 1 December (the other two
# moments are before it), so the three differ in every way that matters.
WORKING_MORNING = Moment("working-morning", datetime(2026, 12, 3, 9, 30, tzinfo=TZ))
SUNDAY_NIGHT = Moment("sunday-night", datetime(2026, 11, 29, 22, 30, tzinfo=TZ))
HOLIDAY_EVE = Moment("holiday-eve", datetime(2026, 9, 30, 16, 0, tzinfo=TZ))  # National Day next
CAMPAIGN_MOMENTS = (WORKING_MORNING, SUNDAY_NIGHT, HOLIDAY_EVE)


@pytest.fixture(params=CAMPAIGN_MOMENTS, ids=lambda m: m.label)
def campaign_clock(request) -> Moment:
    """Each pinned moment in turn, for the tests whose outcome could depend on the day or hour."""
    return request.param


# ---------------------------------------------------------------- the bot


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def make_config(tmp_path: Path, db_url: str = "sqlite:///unused.db", **overrides) -> Config:
    mapping = {
        "DATABASE_URL": db_url,
        "DATA_DIR": str(tmp_path / "data"),
        "BOT_ADMINS": "boss",
        "HTTP_PORT": "0",
    }
    mapping.update(overrides)
    return Config.from_mapping(mapping)


@pytest.fixture
def config(tmp_path, db_url) -> Config:
    return make_config(tmp_path, db_url)


@pytest.fixture
def services(config, clock, db):
    from fakes.transport import RecordingTransport

    return build_services(config, clock, RecordingTransport())


@pytest.fixture
def fake():
    """A fake WeCom API on port 0 (real HTTP); a test fails if the fake itself crashed."""
    from fakes.wecom_server import FakeWeCom

    with FakeWeCom() as server:
        # The app's visible range, as a county deployment would set it: the people tests talk to.
        # A userid outside it is refused as WeCom refuses it (81013, invaliduser).
        server.visible = set(FAKE_RANGE)
        server.trusted_domains = {"127.0.0.1", "localhost"}
        yield server
    assert not server.errors, server.errors


FAKE_RANGE = ("boss", "li", "wang", "li_scj", "li_gxj", "lead", "zhangsan", "li2", "gx", "u",
              "main", "head", "leader", "admin2", "boss2", "stranger", "u0", "u1", "u2", "u3")  # fmt: skip


@pytest.fixture
def bot(services):
    from helpers import ChatDriver

    return ChatDriver(services)
