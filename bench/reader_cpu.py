"""CPU per message through the real pipeline (SQLite, the built-in plan, one bound liaison): a
command typed in the grammar, and the same report in people's own words, which the reader reads
whole (issue 18). Process time, not wall time, so a busy machine changes it less.

    python3 bench/reader_cpu.py [ROOT]

ROOT (default: this checkout) lets an older checkout be measured with the same script, for a
before/after ratio: `git worktree add /tmp/before <commit>; python3 bench/reader_cpu.py /tmp/before`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import TZ, make_config  # noqa: E402
from fakes.transport import RecordingTransport  # noqa: E402
from helpers import ChatDriver  # noqa: E402

from bot.clock import FakeClock  # noqa: E402
from bot.services import build_services  # noqa: E402
from models.db import database, make_database  # noqa: E402
from models.loader import load_plan  # noqa: E402
from models.migrations import migrate  # noqa: E402

MESSAGES = (("typed", "进度 T7 60% 压测"), ("words", "王主任好，T7这周弄到六成了，还差总结"))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        db = make_database(url)
        database.initialize(db)
        db.connect()
        migrate(db)
        load_plan(datetime(2026, 11, 26, 9, 0, tzinfo=TZ))
        clock = FakeClock(datetime(2026, 12, 3, 9, 30, tzinfo=TZ))
        services = build_services(make_config(Path(folder), url), clock, RecordingTransport())
        bot = ChatDriver(services)
        bot.bind("li", "市监局")
        for label, text in MESSAGES:
            for _ in range(20):  # warm up
                bot.say("li", text)
                clock.advance(seconds=5)
            rounds = []
            for _ in range(3):
                began = time.process_time()
                for _ in range(100):
                    bot.say("li", text)
                    clock.advance(seconds=5)
                rounds.append((time.process_time() - began) / 100 * 1000)
            print(f"{label:<6} {min(rounds):6.2f} ms CPU per message (best of 3 rounds of 100)")


if __name__ == "__main__":
    main()
