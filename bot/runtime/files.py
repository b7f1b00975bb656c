"""The files one deployment keeps under DATA_DIR for each database: the process locks, the
worker's wake-up port, the inbound journal; and the lock a process holds for its whole life."""

from __future__ import annotations

import hashlib
from pathlib import Path

from filelock import FileLock, Timeout

from bot.config import Config
from models.private import private_dir


def lock_suffix(database_url: str) -> str:
    return hashlib.sha1(database_url.encode()).hexdigest()[:10]


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


def worker_lock_path(config: Config) -> Path:
    # One lock per database, so the demo's worker never blocks the real one in the same DATA_DIR.
    return config.data_dir / f"worker-{lock_suffix(config.database_url)}.lock"


def inbound_journal_path(config: Config) -> Path:
    """Callbacks acknowledged but not yet committed (bot/recorder.py), one per database."""
    return config.data_dir / f"inbound-{lock_suffix(config.database_url)}.journal"


def wake_port_path(config: Config) -> Path:
    return config.data_dir / f"worker-{lock_suffix(config.database_url)}.wake"
