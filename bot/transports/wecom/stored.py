"""What the WeCom transport keeps in the database, shared by every process: the media_ids of
files it uploaded (reused while they live, so a retry is the same message and WeCom's duplicate
check catches it), and the app chat the app created for the leading group (建群)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from models import userids
from models.db import database
from models.duty import MemberSend
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


class MemberWindow:
    """WeCom's per-member limits (30 a minute, 1000 an hour; the excess is dropped silently),
    counted from what was sent in the database, whichever process or host sent it: a restarted
    worker, a CLI drain and another host see the same window. Same interface as SlidingWindow;
    `now` gives seconds since the epoch (the bot's clock)."""

    def __init__(
        self,
        limit: int = 30,
        seconds: float = 60,
        *,
        hour_limit: int = 1000,
        now: Callable[[], float] = time.time,
    ):
        self.limit = limit
        self.seconds = seconds
        self.hour_limit = hour_limit
        self.now = now

    def wait_needed(self, keys, count: int = 1) -> float:
        """0 and the parts recorded (before they are sent: a send that fails still counts,
        which errs on the safe side), or the seconds to wait until every key has room. A request
        larger than the limit waits for an empty window and then goes whole (SlidingWindow)."""
        stamp = self.now()
        now = datetime.fromtimestamp(stamp, UTC)
        members = sorted({userids.key(k) for k in keys})
        if not members:
            return 0.0
        hour_ago = now - timedelta(hours=1)
        rows = list(
            MemberSend.select()
            .where(MemberSend.member.in_(members) & (MemberSend.sent_at > hour_ago))
            .order_by(MemberSend.sent_at)
        )
        wait = 0.0
        for member in members:
            mine = [(r.sent_at, r.parts) for r in rows if r.member == member]
            minute = [(at, n) for at, n in mine if at > now - timedelta(seconds=self.seconds)]
            wait = max(wait, _room(minute, count, self.limit, self.seconds, now))
            wait = max(wait, _room(mine, count, self.hour_limit, 3600, now))
        if wait > 0:
            return wait
        with database.atomic():
            MemberSend.insert_many(
                [{"member": m, "sent_at": now, "parts": count} for m in members]
            ).execute()
            MemberSend.delete().where(MemberSend.sent_at <= hour_ago).execute()
        return 0.0


def _room(sent, count: int, limit: int, seconds: float, now: datetime) -> float:
    """Seconds until `count` more fit in the window of `limit` per `seconds` (0: now)."""
    total = sum(n for _, n in sent)
    if not sent or total + count <= limit:
        return 0.0
    # the oldest parts leave first: wait until enough of them have left
    need = total + count - limit
    for at, n in sent:
        need -= n
        if need <= 0:
            return max(0.001, (at + timedelta(seconds=seconds) - now).total_seconds())
    last = sent[-1][0]
    return max(0.001, (last + timedelta(seconds=seconds) - now).total_seconds())
