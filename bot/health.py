"""Health: the worker's heartbeat and the scheduler's last tick, as rows of the KeyValue table.

The worker writes its heartbeat every few seconds and the scheduler its last tick each minute;
/healthz (the web process) and 自检 read them against the bot's clock. A part silent for longer
than HEALTH_WORKER_SILENT_SECONDS (the scheduler: one tick interval more) is a fault.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from models.db import database
from models.duty import holders
from models.messages import KeyValue

WORKER_KEY = "health:worker"
SCHEDULER_KEY = "health:scheduler"
TICK_SECONDS = 60  # the scheduler's interval (reminders/scheduler.py)

OK, STARTING, NEVER, SILENT, BROKEN = "ok", "starting", "never", "silent", "broken"


def heartbeat_seconds(silent_seconds: float) -> float:
    """How often the worker writes: a quarter of the silence allowed, 1–15 s. One small UPSERT
    each time, so it costs nothing next to the work."""
    return max(1.0, min(15.0, silent_seconds / 4))


def beat(key: str, now: datetime, **info) -> None:
    """Record that `key` is alive at `now` (with a few facts: pid, host, threads...)."""
    value = json.dumps({"at": now.astimezone(UTC).isoformat(), **info}, ensure_ascii=False)
    with database.atomic():
        KeyValue.insert(key=key, value=value, expires_at=None).on_conflict(
            conflict_target=[KeyValue.key], update={KeyValue.value: value}
        ).execute()


def last_beat(key: str) -> dict | None:
    row = KeyValue.get_or_none(KeyValue.key == key)
    if row is None:
        return None
    try:
        info = json.loads(row.value)
        info["at"] = datetime.fromisoformat(info["at"])
    except (ValueError, KeyError, TypeError):
        return None
    return info


@dataclass(frozen=True)
class PartState:
    """One part of the deployment as a monitor sees it."""

    name: str  # "worker" | "scheduler"
    status: str  # ok | starting | never | silent | broken
    last_seen: datetime | None = None
    seconds_ago: int | None = None
    limit_seconds: int = 0
    info: dict = field(default_factory=dict)
    reason: str = ""  # Chinese, for the body of a 503 and for 自检

    @property
    def failing(self) -> bool:
        return self.status in (NEVER, SILENT, BROKEN)

    def as_json(self, tz=None) -> dict:
        seen = self.last_seen.astimezone(tz) if self.last_seen and tz else self.last_seen
        body = {
            "status": self.status,
            "last_seen": seen.isoformat() if seen else None,
            "seconds_ago": self.seconds_ago,
            "limit_seconds": self.limit_seconds,
        }
        body.update({k: v for k, v in self.info.items() if k != "at"})
        if self.reason:
            body["reason"] = self.reason
        return body


LABELS = {"worker": "后台进程", "scheduler": "定时任务（提醒、周报、每日备份）"}


def part_state(
    name: str, now: datetime, silent_seconds: int, since: datetime | None = None
) -> PartState:
    """The state of `name` at `now`. `since`: when the asker started (the web process), so that
    a part not heard from yet is "starting" until the allowed silence has passed; without it
    (自检 from the command line) a part never heard from is just "never"."""
    key = WORKER_KEY if name == "worker" else SCHEDULER_KEY
    limit = silent_seconds + (TICK_SECONDS if name == "scheduler" else 0)
    label = LABELS[name]
    info = last_beat(key)
    if info is None:
        if since is not None and (now - since).total_seconds() <= limit:
            return PartState(name, STARTING, limit_seconds=limit)
        return PartState(name, NEVER, limit_seconds=limit, reason=f"{label}没有运行过的记录")
    at = info["at"]
    elapsed = (now - at).total_seconds()
    ago = max(0, int(elapsed))
    if elapsed > limit:
        ago = math.ceil(elapsed)  # "silent for 6 s", not 5, when 5.3 s are past a 5 s limit
        return PartState(
            name,
            SILENT,
            at,
            ago,
            limit,
            info,
            f"{label}已 {ago} 秒没有动静（超过 {limit} 秒即为故障）",
        )
    dead = info.get("stopped_threads") or []
    if dead:
        return PartState(
            name, BROKEN, at, ago, limit, info, f"{label}的线程已停止：{'、'.join(dead)}"
        )
    return PartState(name, OK, at, ago, limit, info)


def parts(now: datetime, silent_seconds: int, since: datetime | None = None) -> list[PartState]:
    return [
        part_state("worker", now, silent_seconds, since),
        part_state("scheduler", now, silent_seconds, since),
    ]


DUTY_LABELS = {"sender": "发送", "scheduler": "定时任务"}


def duties(now: datetime, tz=None) -> dict[str, dict | None]:
    """Who holds each single-instance duty now (models/duty.py): host, pid, since when and
    until when the lease runs; None for a duty nobody holds."""
    held = holders(now)
    shown: dict[str, dict | None] = {}
    for name in DUTY_LABELS:
        lease = held.get(name)
        if lease is None:
            shown[name] = None
            continue
        shown[name] = {
            "host": lease.host,
            "pid": lease.pid,
            "since": lease.taken_at.astimezone(tz).isoformat(),
            "expires_at": lease.expires_at.astimezone(tz).isoformat(),
        }
    return shown


def seconds_since(earlier: datetime, now: datetime) -> int:
    return max(0, int((now - earlier) / timedelta(seconds=1)))
