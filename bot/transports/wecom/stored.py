"""What the WeCom transport keeps in the database, shared by every process: the media_ids of
files it uploaded (reused while they live, so a retry is the same message and WeCom's duplicate
check catches it), and the app chat the app created for the leading group (建群)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING

from models.db import database
from models.messages import KeyValue

if TYPE_CHECKING:
    from bot.transports.wecom.client import WeComClient

MEDIA_LIFE = timedelta(days=3)  # WeCom keeps an uploaded media_id 3 days
MEDIA_MARGIN = timedelta(minutes=30)  # not reused this close to its end: a send takes time
GROUP_CHAT_KEY = "wecom:group-chat"  # the chatid appchat/create gave (bot/actions/appchat.py)


def stored_chat_id() -> str:
    row = KeyValue.get_or_none(KeyValue.key == GROUP_CHAT_KEY)
    return row.value if row is not None else ""


class MediaIds:
    """Upload a file once; hand back its media_id until it is about to expire."""

    def __init__(self, client: WeComClient):
        self.client = client

    @staticmethod
    def _key(kind: str, filename: str, data: bytes) -> str:
        named = hashlib.sha256(filename.encode("utf-8")).hexdigest()[:16]
        return f"media:{kind}:{hashlib.sha256(data).hexdigest()}:{named}"

    def upload(self, kind: str, filename: str, data: bytes) -> str:
        key = self._key(kind, filename, data)
        now = self.client.clock.now()
        row = KeyValue.get_or_none(KeyValue.key == key)
        if row is not None and row.expires_at is not None and row.expires_at > now:
            return str(row.value)
        media_id = self.client.upload_media(kind, filename, data)
        expires = now + MEDIA_LIFE - MEDIA_MARGIN
        with database.atomic():
            KeyValue.insert(key=key, value=media_id, expires_at=expires).on_conflict(
                conflict_target=[KeyValue.key],
                update={KeyValue.value: media_id, KeyValue.expires_at: expires},
            ).execute()
        return media_id

    def forget(self, media_id: str) -> None:
        """WeCom no longer knows it (40007): the next send uploads afresh."""
        KeyValue.delete().where(
            KeyValue.key.startswith("media:") & (KeyValue.value == media_id)
        ).execute()
