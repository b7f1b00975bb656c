"""How well the bot reads people: every row of tests/commands/phrasebook.py typed into the
phrasebook's fixture (SQLite, in a temporary folder) through the real pipeline, and judged as
tests/commands/test_phrasebook.py judges it.

    python3 bench/phrasebook_score.py [--table main|heldout|blind3|blind4|blind5|blind6] [--failures] [--section NAME]

--table heldout scores tests/commands/phrasebook_heldout.py instead: messages written blind,
that the reader was never tuned on (issue 18's "new messages that nobody here has seen");
--table blind3 scores tests/commands/phrasebook_blind3.py, the third set written blind;
--table blind4 scores tests/commands/phrasebook_blind4.py, the fourth;
--table blind5 scores tests/commands/phrasebook_blind5.py, the fifth;
--table blind6 scores tests/commands/phrasebook_blind6.py, the sixth.

Prints the rows, the share understood or met with the right yes/no question (issue 18's target:
at least 90 %), the wrong changes (target: none) and the missed, per failure category and per
pattern; --failures lists every failing row on one line: category, who, what was typed, what the
bot replied.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "commands"))

from phrasebook_support import (  # noqa: E402
    CATEGORIES,
    MISSED,
    OK,
    WRONG_CHANGE,
    WRONG_QUESTION,
    Phrasebook,
    one_line,
)

TABLES = {
    "main": "phrasebook",
    "heldout": "phrasebook_heldout",
    "blind3": "phrasebook_blind3",
    "blind4": "phrasebook_blind4",
    "blind5": "phrasebook_blind5",
    "blind6": "phrasebook_blind6",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--table",
        choices=sorted(TABLES),
        default="main",
        help="main: tests/commands/phrasebook.py; heldout, blind3, blind4, blind5, blind6: rows written blind",
    )
    parser.add_argument("--failures", action="store_true", help="list every failing row")
    parser.add_argument("--section", help="only this pattern's rows")
    args = parser.parse_args(argv)
    table = importlib.import_module(TABLES[args.table])
    if args.section is not None and args.section not in table.SECTIONS:
        parser.error(f"--section: one of {', '.join(table.SECTIONS)}")
    rows = [r for r in table.ROWS if args.section in (None, r[0])]
    began = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="phrasebook-") as workdir:
        book = Phrasebook(Path(workdir))
        for section, who, text, expect in rows:
            results.append((section, who, text, expect, book.run(who, text, expect)))
    seconds = time.perf_counter() - began

    total = len(results)
    right = sum(o.right for *_, o in results)
    categories = Counter(o.category for *_, o in results)
    print(f"rows                              {total}")
    print(
        f"understood or right question      {right}  ({100 * right / total:.1f} %, target ≥ 90 %)"
    )
    print(f"wrong changes                     {categories[WRONG_CHANGE]}  (target 0)")
    print(f"missed (incl. wrong questions)    {categories[MISSED] + categories[WRONG_QUESTION]}")
    print(f"rows passing as written           {categories[OK]}")
    print()
    print("per category")
    for category in CATEGORIES:
        print(f"  {category:<20} {categories[category]:>4}")
    print()
    print(f"{'pattern':<12}{'rows':>6}{'right':>7}{'%':>7}{'wrong':>7}{'missed':>8}{'passing':>9}")
    by_section: dict[str, list] = defaultdict(list)
    for section, *_, outcome in results:
        by_section[section].append(outcome)
    for section, outcomes in by_section.items():
        n = len(outcomes)
        ok = sum(o.right for o in outcomes)
        kinds = Counter(o.category for o in outcomes)
        print(
            f"{section:<12}{n:>6}{ok:>7}{100 * ok / n:>6.0f}%{kinds[WRONG_CHANGE]:>7}"
            f"{kinds[MISSED] + kinds[WRONG_QUESTION]:>8}{kinds[OK]:>9}"
        )
    print(f"\n{total} rows in {seconds:.1f} s")
    if args.failures:
        print("\nfailing rows:")
        order = {c: i for i, c in enumerate(CATEGORIES)}
        failing = [r for r in results if not r[-1].passed]
        for section, who, text, expect, outcome in sorted(
            failing, key=lambda r: order[r[-1].category]
        ):
            answer = f" ‖ 是 → {one_line(outcome.answer, 80)}" if outcome.answer else ""
            print(
                f"[{outcome.category}] {section} {who}: {one_line(text, 60)} ‖ expect {expect}"
                f" ‖ reply: {one_line(outcome.reply, 100)}{answer}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
