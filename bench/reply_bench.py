"""Reply latency: from an encrypted callback posted to the bot to its reply's message/send
arriving at WeCom (the fake, in this process), through the real deployment: `run.py` (its web
process and its worker process), SQLite or PostgreSQL.

    python3 bench/reply_bench.py [--messages N] [--postgres URL]

Two loads, each message from a liaison who has not written for a while (WeCom's own limit is
30 messages a minute to one member; a pool of liaisons keeps the run below it):
- one at a time: the next callback is posted once the previous reply has arrived;
- 50 at once: 50 client threads, each posting its next callback once its previous reply came.
Every liaison writes "进度 T7 60% 压测" (a progress report: a write and a reply). Figures are
printed beside their targets, with PostgreSQL's beside SQLite's when --postgres is given (its
tables are dropped and rebuilt).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from callback_bench import (  # noqa: E402
    AES_KEY,
    AGENT_ID,
    TOKEN,
    environment,
    fresh_database,
    run_py,
)
from fakes.wecom_callback import CallbackClient  # noqa: E402
from fakes.wecom_server import FakeWeCom  # noqa: E402

SEND = "/cgi-bin/message/send"
TEXT = "进度 T7 60% 压测"
POOL = 600  # liaisons taking turns
_ids = itertools.count(20_000_000)

# (name, target, "max" or "min")
TARGETS = {
    "one p50 ms": (15.0, "max"),
    "one p99 ms": (50.0, "max"),
    "50 p99 ms": (500.0, "max"),
    "50 replies/s": (150.0, "min"),
}


class Replies(list):
    """fake.requests, watched: the arrival of a message/send to someone wakes whoever waits for
    it (the arrival time is the fake's own `at`, taken when the request came in)."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.waiting: dict[str, tuple[threading.Event, list]] = {}

    def expect(self, userid: str) -> tuple[threading.Event, list]:
        slot = (threading.Event(), [])
        with self.lock:
            self.waiting[userid] = slot
        return slot

    def append(self, recorded) -> None:
        super().append(recorded)
        if recorded.path != SEND or not isinstance(recorded.json, dict):
            return
        for user in str(recorded.json.get("touser") or "").split("|"):
            with self.lock:
                slot = self.waiting.pop(user, None)
            if slot is not None:
                slot[1].append(recorded.at)
                slot[0].set()


def prepare(env: dict, database_url: str) -> None:
    """A fresh plan, and POOL liaisons of 县市场监管局 (T7 is theirs)."""
    fresh_database(env, database_url)
    run_py(env, "say", "boss", "绑定", "li0", "市监局")
    from models.db import database, open_database
    from models.org import Member

    db = open_database(env["DATABASE_URL"])
    with database.atomic():
        first = Member.get(Member.wecom_userid == "li0")
        Member.insert_many(
            [
                {
                    "wecom_userid": f"li{n}",
                    "unit": first.unit_id,
                    "role": first.role,
                    "bound_at": first.bound_at,
                    "bound_by": "boss",
                }
                for n in range(1, POOL)
            ]
        ).execute()
    db.close()


def start(cmd: list[str], env: dict, marker: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if marker in line:
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep draining
            return proc, line
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit(f"{cmd} did not start")


def run_load(
    client: CallbackClient,
    replies: Replies,
    users: itertools.cycle,
    clients: int,
    total: int,
    seconds: float,
) -> tuple[list[float], int, float]:
    """`total` messages from `clients` closed-loop threads; latencies in ms, lost, wall time.
    The callbacks are encrypted before the clock starts: the client threads share the two cores
    with the bot."""
    target = urlsplit(client.url)
    envelopes = []
    for _ in range(total):
        user = next(users)
        envelopes.append((user, *client.envelope(client.text(user, TEXT, msg_id=next(_ids)))))
    remaining = iter(envelopes)
    latencies: list[float] = []
    lost = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker() -> None:
        nonlocal lost
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        while time.monotonic() < stop_at:
            with lock:
                item = next(remaining, None)
            if item is None:
                break
            user, params, body = item
            arrived, at = replies.expect(user)
            began = time.monotonic()
            conn.request("POST", f"{target.path}?{urlencode(params)}", body=body)
            response = conn.getresponse()
            response.read()
            if response.status != 200 or not arrived.wait(15):
                with lock:
                    lost += 1
                continue
            with lock:
                latencies.append((at[0] - began) * 1000)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, lost, time.monotonic() - began


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def measure(database_url: str, messages: int) -> dict[str, float]:
    replies = Replies()
    with FakeWeCom() as fake, tempfile.TemporaryDirectory() as tmp:
        fake.requests = replies
        env = environment(tmp, database_url, fake)
        prepare(env, database_url)
        none = ["--env-file", f"{tmp}/empty.env"]
        bot, line = start([sys.executable, "run.py", *none], env, "服务已启动")
        url = line.split("：", 1)[1].strip().replace("/healthz", "/wecom/callback")
        client = CallbackClient(url, TOKEN, AES_KEY, fake.corp_id, AGENT_ID)
        users = itertools.cycle([f"li{n}" for n in range(POOL)])
        try:
            time.sleep(2)  # the worker process starts after the web process says it is up
            run_load(client, replies, users, 1, 20, 30)  # warm up: token, caches
            one, lost_one, _ = run_load(client, replies, users, 1, messages, 60)
            many, lost_many, wall = run_load(client, replies, users, 50, messages * 3, 60)
        finally:
            bot.terminate()
            bot.wait(timeout=20)
    return {
        "one p50 ms": statistics.median(one) if one else 0.0,
        "one p99 ms": percentile(one, 0.99),
        "50 p50 ms": statistics.median(many) if many else 0.0,
        "50 p99 ms": percentile(many, 0.99),
        "50 replies/s": len(many) / wall,
        "lost": float(lost_one + lost_many),
        "n": float(len(one) + len(many)),
    }


def verdict(name: str, value: float) -> str:
    if name not in TARGETS:
        return ""
    target, kind = TARGETS[name]
    ratio = value / target
    ok = ratio <= 1 if kind == "max" else ratio >= 1
    sign = "≤" if kind == "max" else "≥"
    return f"target {sign} {target:g}   ratio {ratio:.2f}   {'ok' if ok else 'MISSED'}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200, help="one-at-a-time messages")
    parser.add_argument(
        "--postgres", default="", help="also on PostgreSQL (its tables are dropped and rebuilt)"
    )
    args = parser.parse_args()
    runs = {"SQLite": measure("", args.messages)}
    if args.postgres:
        runs["PostgreSQL"] = measure(args.postgres, args.messages)
    names = ["one p50 ms", "one p99 ms", "50 p50 ms", "50 p99 ms", "50 replies/s", "lost", "n"]
    print(f"{'reply latency':<14}" + "".join(f"{db:>12}" for db in runs) + "   (SQLite)")
    for name in names:
        cells = "".join(f"{figures[name]:>12.1f}" for figures in runs.values())
        print(f"{name:<14}{cells}   {verdict(name, runs['SQLite'][name])}")
    if "PostgreSQL" in runs:
        print()
        for name in TARGETS:
            print(f"PostgreSQL {name:<14} {verdict(name, runs['PostgreSQL'][name])}")


if __name__ == "__main__":
    main()
