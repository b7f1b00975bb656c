"""A flood of replies owed to one person, answered in one message: the rule and the text (pure).

When more than `FLOOD_REPLIES` replies to one person are due at once (a backlog after an outage,
or someone sending faster than WeCom delivers to a member, 30 a minute), the sender sends one
message instead: how many replies it stands for, identical replies once with how many times,
as many as fit within WeCom's byte limit, and how many were left out. Knows no database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.text import split_utf8

FLOOD_REPLIES = 5  # more replies than this due to one person at once are merged
ENTRY_LIMIT = 600  # bytes of one reply inside a merged message; a longer one is cut
ASKED_LIMIT = 16  # characters of what the person wrote, quoted before the reply
ASKED_SHOWN = 2  # questions quoted per group of identical replies
OMITTED_SHOWN = 6  # questions quoted whose replies did not fit


@dataclass(frozen=True)
class Owed:
    """One reply owed: its words, what the person wrote, and when it was queued."""

    row_id: int
    text: str
    asked: str
    at: datetime


@dataclass(frozen=True)
class Group:
    """Identical replies, shown once."""

    text: str
    count: int
    asked: tuple[str, ...]  # a few of the messages they answer, cut short


def group_replies(owed: list[Owed]) -> list[Group]:
    """Identical replies together, in the order of their first occurrence; long ones cut."""
    order: list[str] = []
    counts: dict[str, int] = {}
    asked: dict[str, list[str]] = {}
    for reply in owed:
        if reply.text not in counts:
            order.append(reply.text)
            counts[reply.text] = 0
            asked[reply.text] = []
        counts[reply.text] += 1
        quote = _quote(reply.asked)
        if quote and quote not in asked[reply.text] and len(asked[reply.text]) < ASKED_SHOWN:
            asked[reply.text].append(quote)
    return [Group(_cut(text), counts[text], tuple(asked[text])) for text in order]


def merged_text(owed: list[Owed], render: Callable[..., str], limit: int) -> str:
    """One message for all of `owed` (oldest first), within `limit` UTF-8 bytes.

    `render(count=, first_at=, last_at=, groups=, omitted=)` words it (a template): the groups
    that fit are shown, the replies of the others are counted as left out."""
    groups = group_replies(owed)
    context = {"count": len(owed), "first_at": owed[0].at, "last_at": owed[-1].at}

    def attempt(shown: int) -> str:
        left = groups[shown:]
        return render(
            **context,
            groups=groups[:shown],
            omitted=sum(g.count for g in left),
            omitted_asked=[g.asked[0] for g in left if g.asked][:OMITTED_SHOWN],
        )

    text = attempt(0)
    for shown in range(1, len(groups) + 1):
        candidate = attempt(shown)
        if len(candidate.encode()) > limit:
            break
        text = candidate
    return split_utf8(text, limit)[0]


def _quote(asked: str) -> str:
    line = " ".join(asked.split())
    return line if len(line) <= ASKED_LIMIT else line[:ASKED_LIMIT] + "…"


def _cut(text: str) -> str:
    if len(text.encode()) <= ENTRY_LIMIT:
        return text
    return split_utf8(text, ENTRY_LIMIT - len("……".encode()))[0] + "……"
