"""Memory of the running bot: the web process plus its worker (resident set, as the operating
system counts it) before and after the 09:00 reminder round over a large campaign (200 units,
2,000 items, 10,000 assignments), until every message of the round is sent.

    python3 bench/memory_bench.py [--postgres URL]

The bot runs as `run.py serve` (the web process, its worker a child) with its clock started just
before 09:00 on a Monday, so its own scheduler runs the round (and the weekly digest) as it would
in the office. A clock that is set is allowed only without WeCom (the bot refuses to remind real
people on a pretended date), so the messages go out through the sandbox's transport: the worker,
scheduler, outbox and sender are the same, without the WeCom client's HTTP session.

The resident set is sampled every 0.2 s; the peak and the figure once everything is sent are
printed beside the target (issue 11): web + worker < 150 MB after the round. Then the same
deployment with WeCom configured is started, answers one liaison through the encrypted callback
and the WeCom client (both loaded on first use), and is measured; its figure after a round is
estimated as the sandbox's after-round figure plus that difference from the sandbox at rest.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from callback_bench import (  # noqa: E402
    AES_KEY,
    AGENT_ID,
    TOKEN,
    CallbackClient,
    FakeProcess,
    environment,
    fresh_database,
    run_py,
)
from round_bench import build_campaign  # noqa: E402

TARGET_MB = 150.0
START = "2026-11-23T08:59:50"  # a Monday, ten seconds before REMIND_AT and DIGEST_AT


def prepare(env: dict, database_url: str) -> int:
    """The schema, the plan and the large campaign; returns the number of assignments."""
    from models.db import database, open_database
    from models.plan import Assignment

    fresh_database(env, database_url)
    db = open_database(env["DATABASE_URL"])
    with database.connection_context(), database.atomic():
        build_campaign(200, 2000, 10_000)
        count = Assignment.select().count()
    db.close()
    return count


def outbox_state(database_url: str) -> tuple[int, int]:
    """(messages queued or sent, messages not yet settled)."""
    from models.db import database, open_database
    from models.messages import OutboxMessage

    open_database(database_url)
    with database.connection_context():
        total = OutboxMessage.select().count()
        waiting = (
            OutboxMessage.select().where(OutboxMessage.status.in_(("pending", "sending"))).count()
        )
    return total, waiting


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(psutil.Error):  # (not there: counts nothing)
            total += psutil.Process(pid).memory_info().rss
    return total / 1e6


def start_bot(args: list[str], env: dict) -> tuple[subprocess.Popen, int, str]:
    """`run.py ARGS` started; returns it, its worker's pid once the worker beats, and its
    /healthz address."""
    bot = subprocess.Popen(
        [sys.executable, "run.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url, seen = "", []
    for line in bot.stdout:
        seen.append(line)
        if "服务已启动" in line:
            url = line.split("：", 1)[1].strip()
            break
    if not url:
        bot.kill()
        raise SystemExit("the bot did not start:\n" + "".join(seen[-30:]))
    threading.Thread(target=bot.stdout.read, daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                worker = json.loads(answer.read())["worker"].get("pid") or 0
            if worker:
                return bot, worker, url
        except OSError:
            pass  # 503 until the worker's first heartbeat
        time.sleep(0.2)
    bot.kill()
    raise SystemExit("the worker did not start")


def wecom_after_a_reply(database_url: str) -> float:
    """Web + worker with WeCom configured (the fake in its own process), once a liaison's
    message has come in through the encrypted callback and its reply gone out through the
    WeCom client: what the callback's crypto and the client add to the sandbox's figures.
    (Both are loaded on first use, so a bot at rest that has done neither would show less.)"""
    with FakeProcess() as fake, tempfile.TemporaryDirectory() as tmp:
        env = environment(tmp, database_url, fake)
        prepare(env, database_url)
        run_py(env, "say", "boss", "绑定", "li", "市监局")
        none = ["--env-file", f"{tmp}/empty.env"]
        bot, worker, url = start_bot([*none, "serve"], env)
        try:
            sent_before = outbox_state(env["DATABASE_URL"])[0]
            callback = CallbackClient(
                url.replace("/healthz", "/wecom/callback"), TOKEN, AES_KEY, fake.corp_id, AGENT_ID
            )
            callback.post(callback.text("li", "任务", 1))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                total, waiting = outbox_state(env["DATABASE_URL"])
                if total > sent_before and not waiting:
                    break
                time.sleep(0.2)
            else:
                raise SystemExit("the reply to the liaison was not sent within 60 s")
            time.sleep(1)
            return rss_mb([bot.pid, worker])
        finally:
            bot.terminate()
            bot.wait(timeout=30)


def measure(database_url: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = environment(tmp, database_url)
        assignments = prepare(env, database_url)
        none = ["--env-file", f"{tmp}/empty.env"]
        bot, worker, _ = start_bot([*none, "serve", "--at", START], env)
        try:
            pids = [bot.pid, worker]
            before = rss_mb(pids)
            peak = before
            began = time.monotonic()
            settled_at = None
            while time.monotonic() - began < 300:
                peak = max(peak, rss_mb(pids))
                total, waiting = outbox_state(env["DATABASE_URL"])
                if total and not waiting:
                    settled_at = time.monotonic()
                    break
                time.sleep(0.2)
            if settled_at is None:
                raise SystemExit("the round's messages were not all sent within 300 s")
            time.sleep(1)
            after = rss_mb(pids)
            peak = max(peak, after)
            web_after = rss_mb([bot.pid])
        finally:
            bot.terminate()
            bot.wait(timeout=30)
    wecom = wecom_after_a_reply(database_url)
    return {
        "assignments": float(assignments),
        "messages": float(total),
        "web+worker before MB": before,
        "web+worker peak MB": peak,
        "web+worker after MB": after,
        "  of which web MB": web_after,
        "  of which worker MB": after - web_after,
        "WeCom, after 1 reply MB": wecom,
        "WeCom mode after, est.": after + wecom - before,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--postgres", default="", help="also on PostgreSQL (its tables are dropped and rebuilt)"
    )
    args = parser.parse_args()
    runs = {"SQLite": measure("")}
    if args.postgres:
        runs["PostgreSQL"] = measure(args.postgres)
    print(f"{'memory':<22}" + "".join(f"{name:>12}" for name in runs))
    for name in runs["SQLite"]:
        cells = "".join(f"{figures[name]:>12.1f}" for figures in runs.values())
        verdict = ""
        if name in ("web+worker after MB", "WeCom mode after, est."):
            verdict = "   " + "   ".join(
                f"{db}: target < {TARGET_MB:g}, ratio {figures[name] / TARGET_MB:.2f}, "
                f"{'ok' if figures[name] < TARGET_MB else 'MISSED'}"
                for db, figures in runs.items()
            )
        print(f"{name:<22}{cells}{verdict}")


if __name__ == "__main__":
    main()
