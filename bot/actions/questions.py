"""Questions the bot asked a person and waits for the answer to, in their next message: the
reason after a 退回 click, and (for what people write) a yes/no before acting on a guess. One
question per person at a time; a newer one replaces it; each expires."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bot.actions.base import Acting
from models.messages import KeyValue

QUESTION_TTL = timedelta(minutes=30)  # how long a question waits for its answer


def _key(userid: str) -> str:
    return f"prompt:{userid}"


def ask(acting: Acting, question: dict[str, Any], ttl: timedelta = QUESTION_TTL) -> None:
    """Remember that the acting person was asked `question` (JSON-able); replaces any other."""
    KeyValue.delete().where(KeyValue.key == _key(acting.userid)).execute()
    KeyValue.create(
        key=_key(acting.userid), value=json.dumps(question), expires_at=acting.now + ttl
    )


def waiting(acting: Acting) -> bool:
    """Whether the acting person has a question waiting for its answer (not removed)."""
    row = KeyValue.get_or_none(KeyValue.key == _key(acting.userid))
    return row is not None and (row.expires_at is None or row.expires_at > acting.now)


def take(acting: Acting) -> dict[str, Any] | None:
    """The question the acting person was asked and has not answered, removed as it is read
    (whatever the answer, it is asked once); None when there is none or it expired."""
    row = KeyValue.get_or_none(KeyValue.key == _key(acting.userid))
    if row is None:
        return None
    KeyValue.delete().where(KeyValue.key == row.key).execute()
    if row.expires_at is not None and row.expires_at <= acting.now:
        return None
    question: dict[str, Any] = json.loads(row.value)
    return question
