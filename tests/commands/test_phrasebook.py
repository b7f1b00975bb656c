"""The phrasebook (issue 18): each message of tests/commands/phrasebook.py typed by its person into
a fresh copy of one fixture through the real pipeline, and the state's meaning afterwards held to
the row's expectation. A failure names its kind: WRONG CHANGE (the worst), WRONG QUESTION (asked
to do something not meant), MISSED, ASKED-WHEN-SURE, ACTED-WHEN-UNSURE.

Always SQLite files of its own (the fixture is copied per row), whatever TEST_DATABASE_URL says.
bench/phrasebook_score.py prints the score over the same rows."""

from __future__ import annotations

from collections import Counter

import pytest
from phrasebook import ROWS, SECTIONS
from phrasebook_support import KINDS, Expect, Phrasebook, describe

PEOPLE = {"li", "hd", "gx", "wang", "sp", "tj", "lead", "boss", "nobody"}


@pytest.fixture(scope="session")
def book(tmp_path_factory) -> Phrasebook:
    return Phrasebook(tmp_path_factory.mktemp("phrasebook"))


def _ids() -> list[str]:
    counts: Counter = Counter()
    ids = []
    for section, who, _, _ in ROWS:
        counts[section] += 1
        ids.append(f"{section}-{counts[section]:03d}-{who}")
    return ids


@pytest.mark.parametrize(("section", "who", "text", "expect"), ROWS, ids=_ids())
def test_row(book, section, who, text, expect):
    outcome = book.run(who, text, expect)
    if not outcome.passed:
        pytest.fail(describe(who, text, expect, outcome), pytrace=False)


# ---------------------------------------------------------------- the table itself


def test_the_table_is_large_and_covers_every_role_and_kind():
    assert len(ROWS) >= 320
    assert len({(who, text) for _, who, text, _ in ROWS}) == len(ROWS), "a row is repeated"
    assert {who for _, who, _, _ in ROWS} == PEOPLE
    kinds = Counter(Expect.parse(expect).kind for *_, expect in ROWS)
    assert set(kinds) == set(KINDS), kinds
    assert all(SECTIONS.values())


def test_every_canonical_command_changes_something(book):
    """A canonical command that is refused would make its rows expect nothing: each one, typed
    alone by the row's person on a fresh copy, must change the state."""
    refused = []
    for _, who, _, expect in ROWS:
        for command in Expect.parse(expect).commands:
            changed, replies = book.expected(who, (command,))
            if not changed:
                refused.append(f"{who}: {command} → {replies[0]}")
    assert not refused, "\n".join(dict.fromkeys(refused))
