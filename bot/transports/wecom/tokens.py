"""The access token, kept in the database so every thread and process shares one, and fetched by
one caller at a time (a short lock row, so no database lock is held during the HTTP call)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import peewee

from bot.transports.wecom import lean

lean.load()  # before wechatpy (lean.py)

from wechatpy.session import SessionStorage  # noqa: E402

from bot.clock import Clock  # noqa: E402
from models.db import database  # noqa: E402
from models.messages import KeyValue  # noqa: E402

REFRESH_MARGIN = timedelta(minutes=5)  # treat a token as expired a little early
LOCK_TTL = timedelta(seconds=20)  # a fetcher that died releases the lock after this
# A token read from the database is used from memory this long (by the bot's clock, and never
# past its expiry): one read a minute instead of one per message sent.
MEMORY = timedelta(seconds=60)


class DatabaseSessionStorage(SessionStorage):
    """wechatpy's session interface over the KeyValue table."""

    def __init__(self, clock: Clock):
        self.clock = clock

    def get(self, key, default=None):
        row = KeyValue.get_or_none(KeyValue.key == key)
        if row is None or (row.expires_at is not None and row.expires_at <= self.clock.now()):
            return default
        return row.value

    def set(self, key, value, ttl=None):
        expires = self.clock.now() + timedelta(seconds=ttl) if ttl else None
        with database.atomic():
            updated = (
                KeyValue.update(value=str(value), expires_at=expires)
                .where(KeyValue.key == key)
                .execute()
            )
            if not updated:
                KeyValue.insert(key=key, value=str(value), expires_at=expires).on_conflict(
                    conflict_target=[KeyValue.key],
                    update={KeyValue.value: str(value), KeyValue.expires_at: expires},
                ).execute()

    def delete(self, key):
        KeyValue.delete().where(KeyValue.key == key).execute()


class TokenKeeper:
    """Returns a valid token, fetching a new one only when needed and only once at a time."""

    def __init__(
        self,
        key: str,
        fetch: Callable[[], tuple[str, int]],
        clock: Clock,
        *,
        wait_seconds: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.key = key
        self.lock_key = f"{key}:fetching"
        self.fetch = fetch
        self.clock = clock
        self.store = DatabaseSessionStorage(clock)
        self.wait_seconds = wait_seconds
        self.sleep = sleep
        self._thread_lock = threading.Lock()
        self._held: tuple[str, datetime] | None = None  # (token, use it until)

    def get(self, stale: str | None = None) -> str:
        """A valid token. `stale`: a token WeCom just refused; never return that one again."""
        held = self._held
        if held is not None and held[0] != stale and self.clock.now() < held[1]:
            return held[0]
        self._held = None
        row = KeyValue.get_or_none(KeyValue.key == self.key)
        now = self.clock.now()
        if (
            row is not None
            and row.value
            and row.value != stale
            and (row.expires_at or now + MEMORY) > now
        ):
            self._held = (row.value, min(now + MEMORY, row.expires_at or now + MEMORY))
            return row.value
        with self._thread_lock:
            deadline = time.monotonic() + self.wait_seconds
            while True:
                token = self.store.get(self.key)
                if token and token != stale:
                    return token
                if self._take_lock():
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("另一个进程正在获取 access_token，等待超时")
                self.sleep(0.1)
            try:
                token, expires_in = self.fetch()
                ttl = max(60, int(expires_in) - int(REFRESH_MARGIN.total_seconds()))
                self.store.set(self.key, token, ttl)
                return token
            finally:
                self.store.delete(self.lock_key)

    def invalidate(self, token: str) -> None:
        self._held = None
        KeyValue.delete().where((KeyValue.key == self.key) & (KeyValue.value == token)).execute()

    def _take_lock(self) -> bool:
        now: datetime = self.clock.now()
        with database.atomic():
            KeyValue.delete().where(
                (KeyValue.key == self.lock_key) & (KeyValue.expires_at <= now)
            ).execute()
            try:
                with database.atomic():
                    KeyValue.insert(
                        key=self.lock_key, value="1", expires_at=now + LOCK_TTL
                    ).execute()
            except peewee.IntegrityError:
                return False
        return True
