"""Callback benchmark: acknowledgements per second and p50/p99 latency through the real server
(`run.py` with WeCom settings, SQLite, its inbound worker and outbox sender running) at 1, 10 and
50 concurrent clients, next to a bare wechatpy decrypt-and-parse handler in the same server.

    python3 bench/callback_bench.py [--requests N] [--seconds S] [--rounds R]

Everything runs on this machine over loopback: the fake WeCom (replies go there; a process of
its own, bench/fake_wecom.py), the two servers (subprocesses) and the client threads. Bounded in
requests and time. Targets (issue 11): the bot's throughput at least 60 % of the bare handler's,
and its p99 at most twice the bare handler's, at 1, 10 and 50 clients. Each load is run R times
per server, alternating which goes first; the medians are compared.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
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

from fakes.wecom_callback import CallbackClient  # noqa: E402

TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
AGENT_ID = 1000002
_ids = itertools.count(10_000_000)
MIN_SHARE = 0.60  # of the bare handler's throughput
MAX_P99_RATIO = 2.0  # of the bare handler's p99


class FakeProcess:
    """bench/fake_wecom.py as a child process: base_url, corp_id and secret."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "bench/fake_wecom.py"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline().split()
        if line[:2] != ["fake", "wecom"]:
            self.proc.kill()
            raise SystemExit("the fake WeCom did not start")
        self.base_url, self.corp_id, self.secret = line[2:5]

    def __enter__(self) -> FakeProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def start(cmd: list[str], env: dict, marker: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if marker in line:
            return proc, line
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit(f"{cmd} did not start")


def environment(tmp: str, database_url: str, fake=None) -> dict:
    """The bot's settings for a benchmark: this environment without a developer's database or
    WeCom settings, a temporary DATA_DIR, and the fake WeCom's app when `fake` is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "DATABASE_URL"))}
    env.update(
        DATA_DIR=tmp,
        DATABASE_URL=database_url or f"sqlite:///{tmp}/bot.db",
        HTTP_PORT="0",
        BOT_ADMINS="boss",
        LOG_LEVEL="WARNING",
    )
    if fake is not None:
        env.update(
            WECOM_CORP_ID=fake.corp_id,
            WECOM_AGENT_ID=str(AGENT_ID),
            WECOM_SECRET=fake.secret,
            WECOM_TOKEN=TOKEN,
            WECOM_ENCODING_AES_KEY=AES_KEY,
            WECOM_API_BASE=fake.base_url,
        )
    return env


def run_py(env: dict, *args: str) -> None:
    """`run.py ARGS` with an empty settings file (the environment is all), quietly."""
    empty = Path(env["DATA_DIR"], "empty.env")
    if not empty.exists():
        empty.write_text("", encoding="utf-8")
    subprocess.run(
        [sys.executable, "run.py", "--env-file", str(empty), *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def fresh_database(env: dict, database_url: str) -> None:
    """A new schema and the plan: PostgreSQL's tables are dropped first, SQLite's file is new."""
    if database_url:
        from models.db import make_database

        pg = make_database(database_url)
        pg.execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        pg.close()
    run_py(env, "init")


def run_load(client: CallbackClient, concurrency: int, total: int, seconds: float):
    """`total` callbacks (unique MsgIds) from `concurrency` threads; latencies in ms.

    Envelopes are encrypted before the clock starts and sent over keep-alive connections with
    http.client, so the client threads spend as little of the two cores as they can."""
    envelopes = [
        client.envelope(client.text("li", "进度 T7 60% 压测", msg_id=next(_ids)))
        for _ in range(total)
    ]
    target = urlsplit(client.url)
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    remaining = iter(envelopes)
    stop_at = time.monotonic() + seconds

    def worker():
        nonlocal failures
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        while time.monotonic() < stop_at:
            with lock:
                item = next(remaining, None)
            if item is None:
                break
            params, body = item
            began = time.perf_counter()
            conn.request("POST", f"{target.path}?{urlencode(params)}", body=body)
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                latencies.append(elapsed)
                failures += response.status != 200
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    return latencies, failures, wall


def settle(database_url: str, cap_seconds: float = 180) -> None:
    """Wait until the bot's worker has answered everything sent so far: each run, the bare
    handler's too, starts on a quiet machine, and the bot's own run includes the work its
    worker does meanwhile."""
    from models.db import database, open_database
    from models.messages import InboundMessage, OutboxMessage

    open_database(database_url)
    deadline = time.monotonic() + cap_seconds
    try:
        while time.monotonic() < deadline:
            with database.connection_context():
                # Rows held back by WeCom's 30-a-minute limit to one person wait without work.
                due = OutboxMessage.next_attempt_at.is_null()
                waiting = (
                    InboundMessage.select()
                    .where(InboundMessage.status.in_(("received", "processing")))
                    .count()
                    + OutboxMessage.select()
                    .where(
                        (OutboxMessage.status == "sending")
                        | ((OutboxMessage.status == "pending") & due)
                    )
                    .count()
                )
            if not waiting:
                return
            time.sleep(0.5)
    finally:
        database.close() if not database.is_closed() else None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=600, help="callbacks per run")
    parser.add_argument("--seconds", type=float, default=60, help="time cap per run")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating runs per server and load (medians)"
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="e.g. postgresql://postgres@127.0.0.1:5432/test (its tables are dropped and rebuilt)",
    )
    args = parser.parse_args()

    with FakeProcess() as fake, tempfile.TemporaryDirectory() as tmp:
        env = environment(tmp, args.database_url, fake)
        fresh_database(env, args.database_url)
        run_py(env, "say", "boss", "绑定", "li", "市监局")
        none = ["--env-file", f"{tmp}/empty.env"]
        bot, line = start([sys.executable, "run.py", *none], env, "服务已启动")
        bot_url = line.split("：", 1)[1].strip().replace("/healthz", "/wecom/callback")
        bare, line = start(
            [sys.executable, "bench/bare_callback.py", TOKEN, AES_KEY, fake.corp_id],
            env,
            "listening on",
        )
        bare_url = f"http://127.0.0.1:{line.split()[-1]}/"
        try:
            runs = []  # (concurrency, server, req/s, p50, p99, non-200, n), every round
            for concurrency in (1, 10, 50):
                for round_no in range(args.rounds):
                    # Alternate which goes first: a machine that gets busier or quieter during
                    # a round then favours neither.
                    order = [("bare wechatpy", bare_url), ("bot", bot_url)]
                    for name, url in order if round_no % 2 == 0 else order[::-1]:
                        client = CallbackClient(url, TOKEN, AES_KEY, fake.corp_id, AGENT_ID)
                        run_load(client, concurrency, 50, 10)  # warm up
                        settle(env["DATABASE_URL"])
                        lat, failed, wall = run_load(
                            client, concurrency, args.requests, args.seconds
                        )
                        runs.append(
                            (
                                concurrency,
                                name,
                                len(lat) / wall,
                                statistics.median(lat),
                                percentile(lat, 0.99),
                                failed,
                                len(lat),
                            )
                        )
        finally:
            for proc in (bot, bare):
                proc.terminate()
                proc.wait(timeout=10)
    report(runs, args.rounds)


def report(runs: list[tuple], rounds: int) -> None:
    """Each server's median over the rounds (request counts and failures summed), then the
    ratios of those medians, and the range of the per-round ratios."""
    print(f"medians of {rounds} alternating rounds per row")
    print(
        f"{'clients':>7} {'server':<14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-200':>8} {'n':>6}"
    )
    medians = {}
    for concurrency in (1, 10, 50):
        for name in ("bare wechatpy", "bot"):
            mine = [r for r in runs if r[0] == concurrency and r[1] == name]
            row = (
                statistics.median(r[2] for r in mine),
                statistics.median(r[3] for r in mine),
                statistics.median(r[4] for r in mine),
                sum(r[5] for r in mine),
                sum(r[6] for r in mine),
            )
            medians[concurrency, name] = row
            rps, p50, p99, failed, n = row
            print(
                f"{concurrency:>7} {name:<14} {rps:>8.0f} {p50:>8.1f} {p99:>8.1f} {failed:>8} {n:>6}"
            )
    print()
    for concurrency in (1, 10, 50):
        bare_row, bot_row = medians[concurrency, "bare wechatpy"], medians[concurrency, "bot"]
        share = bot_row[0] / bare_row[0]
        p99_ratio = bot_row[2] / bare_row[2]
        pairs = list(
            zip(
                [r for r in runs if r[0] == concurrency and r[1] == "bare wechatpy"],
                [r for r in runs if r[0] == concurrency and r[1] == "bot"],
                strict=True,
            )
        )
        shares = [b[2] / a[2] for a, b in pairs]
        p99s = [b[4] / a[4] for a, b in pairs]
        print(
            f"{concurrency:>2} clients: throughput {share:.0%} of bare (target ≥ {MIN_SHARE:.0%}, "
            f"{'ok' if share >= MIN_SHARE else 'MISSED'}; rounds {min(shares):.0%}–"
            f"{max(shares):.0%}); p99 {p99_ratio:.2f}× bare's (target ≤ {MAX_P99_RATIO:g}×, "
            f"{'ok' if p99_ratio <= MAX_P99_RATIO else 'MISSED'}; rounds {min(p99s):.2f}–"
            f"{max(p99s):.2f}×)"
        )


if __name__ == "__main__":
    main()
