"""A person opening the app (WeCom's enter_agent event, sent on every entry, each time a leader
opens the board too): greeted at most once a day, never with the whole help unasked."""

from __future__ import annotations

from datetime import timedelta

from bot.actions.base import Acting
from models import userids
from models.messages import KeyValue


def _key(userid: str) -> str:
    return f"entered:{userids.key(userid)}"


def first_entry_today(acting: Acting) -> bool:
    """True the first time today (the bot's timezone) the acting person opens the app; the day
    is remembered, so later entries that day are quiet."""
    today = acting.today.isoformat()
    key = _key(acting.userid)
    row = KeyValue.get_or_none(KeyValue.key == key)
    if row is not None and row.value == today:
        return False
    expires = acting.now + timedelta(days=2)
    KeyValue.insert(key=key, value=today, expires_at=expires).on_conflict(
        conflict_target=[KeyValue.key],
        update={KeyValue.value: today, KeyValue.expires_at: expires},
    ).execute()
    return True
