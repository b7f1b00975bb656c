"""What each part of a message to the leading group came to (issue 20): the group robot and app
chats have no duplicate check, so a part posted once must never be posted again by a retry, and
a part whose answer never came (a timeout after the request went out, a sender that died) may
or may not be in the group: it is not retried blindly, the admins are asked to look and to 重发.

Kept in KeyValue (`parts:<row id>`), written and committed before each part is sent (so no
network call waits inside a transaction) and after it was taken."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from models.db import database
from models.messages import KeyValue

KEEP = timedelta(days=30)


def _key(row_id: int) -> str:
    return f"parts:{row_id}"


class RowParts:
    """The part log of one outbox row (bot.transports.base.PartLog)."""

    def __init__(self, row_id: int, now: datetime):
        self.row_id = row_id
        self.now = now
        row = KeyValue.get_or_none(KeyValue.key == _key(row_id))
        data = json.loads(row.value) if row is not None else {}
        self._posted: set[int] = set(data.get("posted", []))
        self._begun: int | None = data.get("begun")

    def posted(self, part: int) -> bool:
        return part in self._posted

    def uncertain(self) -> int | None:
        return self._begun

    def begin(self, part: int) -> None:
        self._begun = part
        self._save()

    def done(self, part: int) -> None:
        self._posted.add(part)
        self._begun = None
        self._save()

    def undo(self, part: int) -> None:
        if self._begun == part:
            self._begun = None
            self._save()

    def _save(self) -> None:
        value = json.dumps({"posted": sorted(self._posted), "begun": self._begun})
        expires = self.now + KEEP
        with database.atomic():
            KeyValue.insert(key=_key(self.row_id), value=value, expires_at=expires).on_conflict(
                conflict_target=[KeyValue.key],
                update={KeyValue.value: value, KeyValue.expires_at: expires},
            ).execute()


def posted_parts(row_id: int) -> list[int]:
    row = KeyValue.get_or_none(KeyValue.key == _key(row_id))
    return sorted(json.loads(row.value).get("posted", [])) if row is not None else []


def settle_uncertain(row_ids: list[int]) -> None:
    """重发: the admins looked and want the uncertain part posted again (parts posted for sure
    stay posted). Inside the caller's transaction."""
    for row in KeyValue.select().where(KeyValue.key.in_([_key(i) for i in row_ids] or [""])):
        data = json.loads(row.value)
        if data.get("begun") is not None:
            data["begun"] = None
            KeyValue.update(value=json.dumps(data)).where(KeyValue.key == row.key).execute()
