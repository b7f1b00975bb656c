"""The database handle: created empty, bound to SQLite or PostgreSQL at start by `open_database`."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import peewee
from playhouse.db_url import connect as url_connect

from models.private import private_sqlite

database = peewee.DatabaseProxy()

# A connection that died under us (a database restart, a failover, an idle timeout at a proxy).
CONNECTION_ERRORS = (peewee.OperationalError, peewee.InterfaceError)


def drop_connection() -> None:
    """Forget this thread's connection, dead or alive; the next use opens a new one."""
    with contextlib.suppress(Exception):
        database.close()


_warm = threading.local()
WARM_SECONDS = 30.0  # a loop's connection idle longer than this is replaced before it is used


@contextlib.contextmanager
def warm_connection(max_idle: float = WARM_SECONDS):
    """This thread's connection for one pass of a loop (the worker, the sender, the downloads),
    kept open for the next pass instead of opened and closed each time: a new PostgreSQL
    connection costs more than the pass. One idle longer than `max_idle` (a proxy or the server
    may have dropped it meanwhile) is replaced first, and one an error may have broken is
    dropped, so the next pass connects anew."""
    now = time.monotonic()
    if not database.is_closed() and now - getattr(_warm, "used", now) > max_idle:
        drop_connection()
    database.connect(reuse_if_open=True)
    try:
        yield
    except BaseException:
        drop_connection()
        raise
    finally:
        _warm.used = time.monotonic()


SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "busy_timeout": 15000,
}


def open_database(url: str) -> peewee.Database:
    """Open the database at `url` and bind the models' proxy to it."""
    db = make_database(url)
    database.initialize(db)
    return db


def make_database(url: str) -> peewee.Database:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path; db_url cannot carry pragmas.
        path = unquote(url[len("sqlite:///") :])
        if not path or path == ":memory:":
            raise ValueError("SQLite 需要文件路径（:memory: 在连接关闭时会丢失数据）")
        # Owner-only from the start (it holds the live access token); older files tightened.
        private_sqlite(Path(path))
        # IMMEDIATE: read-then-write transactions take the write lock up front, so the busy
        # timeout applies instead of failing at once with "database is locked".
        return SerializedSqliteDatabase(
            path,
            pragmas=SQLITE_PRAGMAS,
            timeout=15,
            lock_type="IMMEDIATE",
            check_same_thread=False,
        )
    if parts.scheme in ("postgresql", "postgres"):
        return url_connect(url, connect_timeout=10)
    raise ValueError(f"不支持的数据库地址：{parts.scheme}")


class SerializedSqliteDatabase(peewee.SqliteDatabase):
    """SQLite whose write transactions queue on a lock inside the process.

    SQLite makes a waiting writer sleep in coarse steps (up to 100 ms a try) in its busy
    handler; threads of one process queueing on a lock instead are served as soon as the
    writer before them commits. Between processes SQLite's own lock and busy timeout still apply.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._writer = threading.Lock()
        self._holding = threading.local()

    def begin(self, lock_type=None):
        self._writer.acquire()
        self._holding.value = True
        try:
            super().begin(lock_type)
        except BaseException:
            self._release_writer()
            raise

    def commit(self):
        try:
            super().commit()
        finally:
            self._release_writer()

    def rollback(self):
        try:
            super().rollback()
        finally:
            self._release_writer()

    def _release_writer(self):
        if getattr(self._holding, "value", False):
            self._holding.value = False
            self._writer.release()


def is_postgres(db: peewee.Database | None = None) -> bool:
    target = db or database.obj
    return isinstance(target, peewee.PostgresqlDatabase)


class UTCDateTimeField(peewee.DateTimeField):
    """Stores aware datetimes as naive UTC (portable across SQLite and PostgreSQL); returns UTC."""

    def db_value(self, value):
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC field")
            value = value.astimezone(UTC).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value):
        value = super().python_value(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class BaseModel(peewee.Model):
    # peewee adds this primary key (and each foreign key's `<name>_id`, annotated on the
    # models) on its own; declared so that a type checker knows them.
    id = peewee.AutoField()

    class Meta:
        database = database
        legacy_table_names = False


class JSONField(peewee.TextField):
    """JSON stored as text, so the same schema works on SQLite and PostgreSQL."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


def tuples(query: peewee.SelectBase) -> list[tuple[Any, ...]]:
    """A query's rows as plain tuples (peewee's `.tuples()`, typed as what it gives)."""
    return list(query.tuples())
