"""Two workers (two data folders, as on two hosts) on one PostgreSQL, against the fake WeCom
(issue 20, point 5): one sends and schedules; a flood to one person is paced across both and
nothing is dropped; when the holder's process is killed, the other takes over the sender and
the scheduler within a minute and finishes the flood, each message once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from conftest import PG_URL, TZ
from service_setup import wecom_env, write_env

from bot.clock import FakeClock
from bot.outbox import Outbox
from models.db import database
from models.duty import DutyLease

ROOT = Path(__file__).resolve().parents[2]
FLOOD = 45


def start_worker(tmp_path: Path, name: str, db_url: str, fake) -> subprocess.Popen:
    folder = tmp_path / name
    folder.mkdir()
    env_file = write_env(folder / "worker.env", wecom_env(folder, db_url, fake))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "BOT_", "DATA"))}
    return subprocess.Popen(
        [sys.executable, "run.py", "--env-file", str(env_file), "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def unsent() -> list:
    from models.messages import OutboxMessage

    with database.connection_context():
        rows = OutboxMessage.select().where(OutboxMessage.status != "sent")
        return [
            (r.id, r.status, r.attempts, r.next_attempt_at, r.lease_until, r.last_error)
            for r in rows
        ]


def holder_pid(name: str) -> int | None:
    with database.connection_context():
        lease = DutyLease.get_or_none(DutyLease.name == name)
        return lease.pid if lease is not None and lease.expires_at > datetime.now(TZ) else None


@pytest.mark.skipif(not PG_URL, reason="two workers on one PostgreSQL: set TEST_DATABASE_URL")
def test_the_holder_killed_mid_flood_the_other_takes_over_within_a_minute(
    tmp_path, db_url, db, fake
):
    outbox = Outbox(FakeClock(datetime.now(TZ)))
    for n in range(FLOOD):
        outbox.to_members(["li"], f"第{n}条通知", f"flood:{n}")
    db.close()

    def to_li() -> list[str]:
        return [m["text"]["content"] for m in fake.messages if m.get("touser") == "li"]

    first = start_worker(tmp_path, "a", db_url, fake)
    second = None
    try:
        assert fake.wait_for(lambda: len(to_li()) >= 30, timeout=90), first.stderr
        assert fake.wait_for(lambda: holder_pid("sender") == first.pid, timeout=10)
        second = start_worker(tmp_path, "b", db_url, fake)
        assert fake.wait_for(lambda: holder_pid("scheduler") == first.pid, timeout=30)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        killed = time.monotonic()
        assert fake.wait_for(lambda: holder_pid("sender") == second.pid, timeout=75)
        assert fake.wait_for(lambda: holder_pid("scheduler") == second.pid, timeout=75)
        assert time.monotonic() - killed <= 60 + 5, "taken over within a minute"
        done = fake.wait_for(lambda: len(to_li()) >= FLOOD, timeout=300)
        assert done, (len(to_li()), unsent())
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.communicate(timeout=20)
    assert sorted(to_li()) == sorted(f"第{n}条通知" for n in range(FLOOD)), "each once"
    assert fake.dropped == [], "never more than 30 a minute, whichever worker sent them"
