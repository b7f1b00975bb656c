"""Reminder round and digest over a large campaign: 200 units, 2,000 items, 10,000 assignments.

    python3 bench/round_bench.py [--database-url URL]

Prints wall time, peak Python memory (tracemalloc) and the number of outgoing messages, which
must equal the number of distinct recipients (one message per person per round). Targets:
round < 2 s, digest < 0.5 s. Runs on a temporary SQLite file unless a URL is given (its tables
are dropped and rebuilt).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.clock import FakeClock  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.outbox import Outbox  # noqa: E402
from bot.render import Renderer  # noqa: E402
from models.db import database, open_database  # noqa: E402
from models.loader import load_plan  # noqa: E402
from models.messages import InteractiveCard, OutboxMessage  # noqa: E402
from models.migrations import migrate  # noqa: E402
from models.org import Member, Unit  # noqa: E402
from models.plan import Assignment, Item  # noqa: E402
from models.schedule import ReminderSent  # noqa: E402
from models.schema import ALL_MODELS  # noqa: E402
from reminders import digest  # noqa: E402
from reminders.jobs import reminder_round  # noqa: E402
from reminders.stored import load_calendar  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=TZ)  # a Monday


def build_campaign(units: int, items: int, assignments: int) -> None:
    rng = random.Random(7)
    load_plan(NOW)
    existing = Unit.select().count()
    Unit.insert_many(
        [
            {"name": f"测试单位{n:03d}", "short_name": f"测{n:03d}", "position": 100 + n}
            for n in range(units - existing)
        ]
    ).execute()
    all_units = [u.id for u in Unit.select()]
    have = Item.select().count()
    rows = [
        {
            "code": f"X{n}",
            "kind": "task",
            "position": 1000 + n,
            "title": f"压测任务 {n} 推进网络市场监管",
        }
        for n in range(items - have)
    ]
    for start in range(0, len(rows), 500):
        Item.insert_many(rows[start : start + 500]).execute()
    Member.insert_many(
        [
            {"wecom_userid": f"u{uid}", "unit": uid, "role": "liaison", "bound_at": NOW}
            for uid in all_units
        ]
        + [
            {"wecom_userid": f"h{uid}", "unit": uid, "role": "head", "bound_at": NOW}
            for uid in all_units[::4]
        ]
    ).execute()
    item_ids = [i.id for i in Item.select(Item.id)]
    taken = {(a.item_id, a.unit_id) for a in Assignment.select(Assignment.item, Assignment.unit)}
    new = []
    today = NOW.date()
    while len(taken) < assignments:
        key = (rng.choice(item_ids), rng.choice(all_units))
        if key in taken:
            continue
        taken.add(key)
        new.append(
            {
                "item": key[0],
                "unit": key[1],
                "role": "co",
                "deadline": today + timedelta(days=rng.randint(-15, 25)),
                "progress": rng.choice([0, 20, 50, 80]),
                "deadline_set_on": today - timedelta(days=30),
            }
        )
    for start in range(0, len(new), 1000):
        Assignment.insert_many(new[start : start + 1000]).execute()
    Assignment.update(deadline=today + timedelta(days=5)).where(
        Assignment.deadline.is_null()
    ).execute()


def measure(label: str, fn, reset=None):
    """Wall time of fn(); then, after reset() puts the database back, its peak Python memory
    (tracemalloc slows the code it watches, so the two are measured on separate runs)."""
    began = time.perf_counter()
    value = fn()
    wall = time.perf_counter() - began
    peak_text = "—"
    if reset is not None:
        reset()
        tracemalloc.start()
        fn()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak_text = f"{peak / 1e6:.1f} MB"
    print(f"{label:<16} {wall:7.3f} s   peak {peak_text}")
    return value, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        config = Config.from_mapping({"DATABASE_URL": url, "DATA_DIR": tmp})
        db = open_database(url)
        with db.connection_context():
            if args.database_url:
                db.drop_tables([*ALL_MODELS], cascade=True)
                db.execute_sql("DROP TABLE IF EXISTS schema_version")
            migrate(db)
            build_campaign(200, 2000, 10_000)
            print(
                f"campaign: {Unit.select().count()} units, {Item.select().count()} items, "
                f"{Assignment.select().count()} assignments"
            )
            clock = FakeClock(NOW)
            renderer = Renderer(TZ)
            cal = load_calendar()

            def undo_round():
                ReminderSent.delete().execute()
                OutboxMessage.delete().execute()
                InteractiveCard.delete().execute()

            result, round_s = measure(
                "reminder round",
                lambda: reminder_round(NOW, config, cal, Outbox(clock), renderer),
                reset=undo_round,
            )
            messages = OutboxMessage.select().count()
            recipients = set()
            for row in OutboxMessage.select(OutboxMessage.recipient):
                recipients.update(row.recipient.split("|"))
            print(
                f"  {result.items} ladder steps; {messages} messages; {len(recipients)} distinct recipients"
            )
            assert messages == len(recipients), "one message per recipient per round"
            measure(
                "round again", lambda: reminder_round(NOW, config, cal, Outbox(clock), renderer)
            )
            assert OutboxMessage.select().count() == messages, "a rerun sends nothing"
            (data, markdown), digest_s = measure(
                "digest build",
                lambda: (d := digest.build(NOW, config, cal), digest.render_markdown(d, renderer)),
                reset=lambda: None,
            )
            _, chart_s = measure("digest chart", lambda: digest.chart_png(data), reset=lambda: None)
            print(
                f"  digest markdown {len(markdown.encode())} bytes; "
                f"{data['items']['red_count']} red, {data['items']['yellow_count']} yellow"
            )
        database.close()
    print()
    print(
        f"round {round_s:.2f} s (target < 2 s: {'met' if round_s < 2 else 'NOT met'}); "
        f"digest {digest_s:.2f} s + chart {chart_s:.2f} s "
        f"(target < 0.5 s: {'met' if digest_s + chart_s < 0.5 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
