"""The leaders' board's server time per page over a large campaign: 200 units, 2,000 items,
10,000 assignments (built as bench/round_bench.py builds them), with 200 of the items made 交办
items, 1,000 milestones, 20,000 progress reports, 5,000 evidence files, scores, and 26 weekly
digest snapshots of the real digest's size.

    python3 bench/board_bench.py [--database-url URL] [--runs N]

Each page is requested through the whole WSGI app (cookie, session and person looked up,
data read, template rendered) with Flask's test client, signed in as a leader (and, for the
unit pages, as a liaison); prints the median and the slowest of N runs after one warm-up.
Target: each page under 100 ms. Runs on a temporary SQLite file unless a URL is given (its
tables are dropped and rebuilt).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import peewee

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from round_bench import NOW, build_campaign  # noqa: E402

from bot.board import access  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.services import build_services  # noqa: E402
from bot.transports.sandbox import SandboxTransport  # noqa: E402
from bot.web import create_app  # noqa: E402
from models.db import database, open_database  # noqa: E402
from models.migrations import migrate  # noqa: E402
from models.org import Member, Unit  # noqa: E402
from models.plan import ITEM_SOURCES, Assignment, Item  # noqa: E402
from models.progress import Evidence, ProgressReport  # noqa: E402
from models.schedule import DigestSnapshot  # noqa: E402
from models.schema import ALL_MODELS  # noqa: E402
from models.scores import Score  # noqa: E402
from reminders import digest  # noqa: E402
from reminders.stored import load_calendar  # noqa: E402

TARGET_MS = 100


def enlarge(rng: random.Random) -> None:
    """What the board reads beyond the reminder round's campaign."""
    extra = list(Item.select(Item.id).where(Item.code.startswith("X")).limit(200))
    for n, item in enumerate(extra):
        Item.update(
            kind="assigned",
            code=f"J{n + 1}",
            source=ITEM_SOURCES[n % 3],
            assigned_by="leader1" if n % 3 == 0 else "boss",
            created_at=NOW - timedelta(days=30),
        ).where(Item.id == item.id).execute()
    shares = list(Assignment.select(Assignment.id, Assignment.item, Assignment.unit).limit(1000))
    rows = [
        {
            "item": s.item_id,
            "unit": s.unit_id,
            "kind": "milestone",
            "slot": "m1",
            "seq": 1,
            "parent": s.id,
            "title": "完成摸底调查",
            "deadline": NOW.date() + timedelta(days=rng.randint(-10, 20)),
        }
        for s in shares
    ]
    for start in range(0, len(rows), 500):
        Assignment.insert_many(rows[start : start + 500]).execute()
    all_shares = [
        (a.id, a.unit_id, a.item_id)
        for a in Assignment.select(Assignment.id, Assignment.unit, Assignment.item).where(
            Assignment.shares()
        )
    ]
    reports = [
        {
            "assignment": rng.choice(all_shares)[0],
            "wecom_userid": "u1",
            "percent": rng.choice([20, 50, 80]),
            "note": "压测进度",
            "kind": "progress",
            "created_at": NOW - timedelta(hours=rng.randint(1, 24 * 60)),
        }
        for _ in range(20_000)
    ]
    for start in range(0, len(reports), 1000):
        ProgressReport.insert_many(reports[start : start + 1000]).execute()
    indicators = [i.id for i in Item.select(Item.id).where(Item.kind == "indicator")]
    files = []
    for n in range(5000):
        _, unit, item = rng.choice(all_shares)
        if n % 5 == 0:
            item = rng.choice(indicators)
        files.append(
            {
                "item": item,
                "unit": unit,
                "wecom_userid": "u1",
                "original_name": f"佐证{n}.pdf",
                "sha256": f"{n:064x}",
                "size": 10_000 + n,
                "content_type": "application/pdf",
                "created_at": NOW - timedelta(hours=rng.randint(1, 24 * 60)),
                "point": rng.choice([None, 1, 2]),
            }
        )
    for start in range(0, len(files), 1000):
        Evidence.insert_many(files[start : start + 1000]).execute()
    for item_id in indicators[::2]:
        Score.create(
            item=item_id, points=Decimal(1), reason="压测", source="office", created_at=NOW
        )
    Member.create(wecom_userid="leader1", unit=Unit.get().id, role="leader", bound_at=NOW)


def snapshots(config: Config, weeks: int) -> int:
    """Weekly digests as the scheduler stores them (their data is the whole digest)."""
    cal = load_calendar()
    data = digest.build(NOW, config, cal)
    for n in range(weeks, 0, -1):
        moment = NOW - timedelta(weeks=n)
        week = digest.week_of(moment.date())
        score = dict(data["score"], total=str(Decimal(data["score"]["total"]) - n))
        DigestSnapshot.create(
            week=week,
            data={**data, "week": week, "score": score},
            markdown="",
            created_at=moment,
            score=score,
        )
    return len(DigestSnapshot.select(DigestSnapshot.data).get().data.__repr__())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        config = Config.from_mapping({"DATABASE_URL": url, "DATA_DIR": tmp, "BOT_ADMINS": "boss"})
        db = open_database(url)
        with db.connection_context():
            if args.database_url:
                db.drop_tables([*ALL_MODELS], cascade=True)
                db.execute_sql("DROP TABLE IF EXISTS schema_version")
            migrate(db)
            build_campaign(200, 2000, 10_000)
            enlarge(rng)
            size = snapshots(config, 26)
            print(
                f"campaign: {Unit.select().count()} units, {Item.select().count()} items, "
                f"{Assignment.select().where(Assignment.shares()).count()} shares "
                f"(+{Assignment.select().where(~Assignment.shares()).count()} milestones), "
                f"{ProgressReport.select().count()} reports, {Evidence.select().count()} files, "
                f"{DigestSnapshot.select().count()} snapshots of {size // 1000} KB"
            )
            clock = FakeClock(NOW)
            services = build_services(config, clock, SandboxTransport())
            app = create_app(services)
            busiest = (
                Assignment.select(Assignment.unit)
                .group_by(Assignment.unit)
                .order_by(peewee.fn.COUNT(Assignment.id).desc())
                .scalar()
            )
            liaison = Member.get((Member.unit == busiest) & (Member.role == "liaison"))
            cookies = {
                who: access.start_session(who, "sandbox", clock.now(), 12)[0]
                for who in ("leader1", liaison.wecom_userid)
            }
        database.close()

        pages = [
            ("首页", "leader1", "/board/"),
            ("单位", "leader1", "/board/units"),
            ("单位 按未报告排序", "leader1", "/board/units?sort=silent"),
            ("一个单位（最多事项）", "leader1", f"/board/unit/{busiest}"),
            ("指标", "leader1", "/board/indicators"),
            ("一项指标", "leader1", "/board/indicator/Z12"),
            ("交办", "leader1", "/board/assigned"),
            ("首页（联络员）", liaison.wecom_userid, "/board/"),
            ("单位（联络员）", liaison.wecom_userid, "/board/units"),
            ("本单位（联络员）", liaison.wecom_userid, f"/board/unit/{busiest}"),
        ]
        print(f"{'page':<22} {'median ms':>10} {'max ms':>8}  bytes")
        worst = 0.0
        for label, who, path in pages:
            client = app.test_client()
            client.set_cookie("board_session", cookies[who], path="/board")
            timings = []
            for run in range(args.runs + 1):
                began = time.perf_counter()
                response = client.get(path)
                elapsed = (time.perf_counter() - began) * 1000
                assert response.status_code == 200, (path, response.status_code)
                if run:  # the first one warms the templates and the calendar's cache
                    timings.append(elapsed)
            median = statistics.median(timings)
            worst = max(worst, median)
            print(f"{label:<22} {median:10.1f} {max(timings):8.1f}  {len(response.data)}")
        database.close()
    verdict = "met" if worst < TARGET_MS else "NOT met"
    print(f"\nslowest page median {worst:.1f} ms (target < {TARGET_MS} ms: {verdict})")


if __name__ == "__main__":
    main()
