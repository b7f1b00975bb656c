"""The third blind phrasebook (tests/commands/phrasebook_blind3.py): messages written blind --
without reading the reader, its two other tables or the README's examples -- run exactly as the
other phrasebooks run: each typed by its person into a fresh copy of the same fixture through the
real pipeline, the state's meaning held to the row's expectation.

The rows run only with PHRASEBOOK_BLIND3=1: they measure how the bot reads messages nobody tuned
it on (issue 18's target: at least 9 in 10 understood or met with the right yes/no question, no
wrong change), and are not a gate until the reader has been mended for what they find. First
pass (docs/phrasebook_blind3.md): 262 of 286 (91.6 %) understood or met with the right question,
4 wrong changes, 20 missed (4 of them wrong questions); 258 pass as written. After the reader
was mended by rules (not rows) for what it found: 285 of 286, no wrong change; the rows it still
fails are questions asked where a clerk would act (交办 in words is always confirmed, by design).
`python3 bench/phrasebook_score.py --table blind3 --failures` prints the score. The table's size,
coverage and newness are checked always."""

from __future__ import annotations

import os
from collections import Counter

import pytest
from phrasebook_blind3 import ROWS, SECTIONS
from phrasebook_support import KINDS, Expect, Phrasebook, describe, refused_canonical, row_ids

PEOPLE = {"li", "hd", "gx", "wang", "sp", "tj", "lead", "boss", "nobody"}

blind = pytest.mark.skipif(
    os.environ.get("PHRASEBOOK_BLIND3") != "1",
    reason="PHRASEBOOK_BLIND3=1 runs the blind rows (a measure, not yet a gate)",
)


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Phrasebook:
    return Phrasebook(tmp_path_factory.mktemp("phrasebook-blind3"))


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
    assert len(ROWS) >= 220
    assert len({(who, text) for _, who, text, _ in ROWS}) == len(ROWS), "a row is repeated"
    assert {who for _, who, _, _ in ROWS} == PEOPLE
    assert {section for section, *_ in ROWS} == set(SECTIONS)
    kinds = Counter(Expect.parse(expect).kind for *_, expect in ROWS)
    assert set(kinds) == set(KINDS), kinds
    for _, _, _, expect in ROWS:
        Expect.parse(expect)  # every expectation is well formed


def test_no_row_repeats_a_message_of_the_other_phrasebooks():
    """Blind means new: no message (spaces ignored) is one of the main or held-out tables."""
    from phrasebook import ROWS as MAIN_ROWS
    from phrasebook_heldout import ROWS as HELDOUT_ROWS

    def squeeze(text: str) -> str:
        return "".join(text.split())

    seen = {squeeze(text) for _, _, text, _ in (*MAIN_ROWS, *HELDOUT_ROWS)}
    repeated = [text for _, _, text, _ in ROWS if squeeze(text) in seen]
    assert not repeated, repeated
