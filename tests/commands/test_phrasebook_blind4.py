"""The fourth blind phrasebook (tests/commands/phrasebook_blind4.py): messages written blind --
without reading the reader, the other three tables or the README's examples -- run exactly as the
other phrasebooks run: each typed by its person into a fresh copy of the same fixture through the
real pipeline, the state's meaning held to the row's expectation.

The rows run only with PHRASEBOOK_BLIND4=1: they measure how the bot reads messages nobody tuned
it on (issue 18's target: at least 9 in 10 understood or met with the right yes/no question, no
wrong change). First pass (docs/phrasebook_blind4.md): 251 of 267 (94.0 %), 3 wrong
changes, 13 missed; the bot has not been mended for them.
`python3 bench/phrasebook_score.py --table blind4 --failures` prints the score. The table's size,
coverage and newness are checked always."""

from __future__ import annotations

import os
from collections import Counter

import pytest
from phrasebook_blind4 import ROWS, SECTIONS
from phrasebook_support import KINDS, Expect, Phrasebook, describe, refused_canonical, row_ids

PEOPLE = {"li", "hd", "gx", "wang", "sp", "tj", "lead", "boss", "nobody"}

blind = pytest.mark.skipif(
    os.environ.get("PHRASEBOOK_BLIND4") != "1",
    reason="PHRASEBOOK_BLIND4=1 runs the blind rows (a measure, not yet a gate)",
)


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Phrasebook:
    return Phrasebook(tmp_path_factory.mktemp("phrasebook-blind4"))


def _ids() -> list[str]:
    return row_ids(ROWS)


@blind
@pytest.mark.parametrize(("section", "who", "text", "expect"), ROWS, ids=_ids())
def test_row(book, section, who, text, expect):
    outcome = book.run(who, text, expect)
    if not outcome.passed:
        pytest.fail(describe(who, text, expect, outcome), pytrace=False)


@blind
def test_every_canonical_command_changes_something(book):
    """A canonical command that is refused would make its rows expect nothing."""
    refused = refused_canonical(book, ROWS)
    assert not refused, "\n".join(refused)


def test_the_table_is_large_new_and_covers_every_role_and_kind():
    assert len(ROWS) >= 200
    assert len({(who, text) for _, who, text, _ in ROWS}) == len(ROWS), "a row is repeated"
    assert {who for _, who, _, _ in ROWS} == PEOPLE
    assert {section for section, *_ in ROWS} == set(SECTIONS)
    kinds = Counter(Expect.parse(expect).kind for *_, expect in ROWS)
    assert set(kinds) == set(KINDS), kinds
    for _, _, _, expect in ROWS:
        Expect.parse(expect)  # every expectation is well formed


def test_multi_line_and_several_item_rows_are_there():
    """Issue 18's patterns that need more than one line or item are covered."""
    assert sum("\n" in text for _, _, text, _ in ROWS) >= 10
    assert sum(len(Expect.parse(e).commands) >= 2 for *_, e in ROWS) >= 20


def test_no_row_repeats_a_message_of_the_other_phrasebooks():
    """Blind means new: no message (spaces ignored) is one of the main, held-out or third tables."""
    from phrasebook import ROWS as MAIN_ROWS
    from phrasebook_blind3 import ROWS as BLIND3_ROWS
    from phrasebook_heldout import ROWS as HELDOUT_ROWS

    def squeeze(text: str) -> str:
        return "".join(text.split())

    seen = {squeeze(text) for _, _, text, _ in (*MAIN_ROWS, *HELDOUT_ROWS, *BLIND3_ROWS)}
    repeated = [text for _, _, text, _ in ROWS if squeeze(text) in seen]
    assert not repeated, repeated
