"""The outbox's writer: every message that leaves is a row first, queued in the transaction of
the change that caused it, once per dedupe key. Sending is bot/outbox/sender.py's job."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.cards import BUTTONS, card_payload
from bot.clock import Clock
from bot.outbox.parts import settle_uncertain
from bot.outbox.views import GIVEN_UP
from bot.task_ids import new_task_id
from models.messages import InboundMessage, InteractiveCard, OutboxMessage

# Dedupe keys the sender and the views read meaning into.
NOTICE_PREFIX = "send-notice:"  # a notice to the admins about a send (never noticed itself)
REPLY_PREFIX = "reply:"  # the reply to an inbound message (a flood of them is merged)


class Outbox:
    """Writes outgoing messages into the outbox table (inside the caller's transaction)."""

    def __init__(self, clock: Clock):
        self.clock = clock

    def queue(
        self,
        channel: str,
        recipients: Sequence[str],
        content: dict[str, Any],
        dedupe_key: str,
        *,
        msg_type: str = "text",
        inbound: InboundMessage | None = None,
        expires_at: datetime | None = None,
    ) -> bool:
        """Queue one message; False if a message with this dedupe key was queued before.
        `expires_at`: when it is no longer worth sending (default: OUTBOX_MAX_AGE_HOURS)."""
        if channel not in ("member", "group"):
            raise ValueError(f"unknown channel {channel!r}")
        recipient = "|".join(sorted(set(recipients)))
        if channel == "member" and not recipient:
            raise ValueError("a member message needs at least one recipient")
        inserted = (
            OutboxMessage.insert(
                dedupe_key=dedupe_key[:191],
                channel=channel,
                recipient=recipient,
                msg_type=msg_type,
                content=content,
                status="pending",
                created_at=self.clock.now(),
                inbound=inbound,
                expires_at=expires_at,
            )
            .on_conflict_ignore()
            .as_rowcount()
            .execute()
        )
        return bool(inserted)

    def to_members(self, userids, text: str, dedupe_key: str, **kwargs) -> bool:
        return self.queue("member", list(userids), {"text": text}, dedupe_key, **kwargs)

    def card(
        self,
        now: datetime,
        *,
        kind: str,
        userid: str,
        title: str,
        description: str,
        rows: list[tuple[str, str]],
        text: str,
        dedupe_key: str,
        task_id: str = "",
        id_parts: tuple = (),
        buttons: tuple[tuple[str, str, int], ...] = BUTTONS,
        subject: str = "",
        expires_at: datetime | None = None,
        url: str = "",
        inbound: InboundMessage | None = None,
    ) -> bool:
        """Queue one button card (with its text fallback) to one person, and remember it.
        `task_id`, or a new one made from `id_parts` (unique for the app's life, see
        bot/task_ids.py); `subject`: what a click acts on, when not the rows' codes (a review:
        the assignment id); `url`: where a tap on the card leads (the board's page)."""
        task_id = task_id or new_task_id(*id_parts)
        card = card_payload(
            title=title,
            description=description,
            rows=rows,
            task_id=task_id,
            buttons=buttons,
            url=url,
        )
        queued = self.queue(
            "member",
            [userid],
            {"text": text, "card": card},
            dedupe_key,
            msg_type="card",
            expires_at=expires_at,
            inbound=inbound,
        )
        if queued:
            row = OutboxMessage.get(OutboxMessage.dedupe_key == dedupe_key[:191])
            InteractiveCard.insert(
                task_id=task_id,
                outbox=row.id,  # so the sender can follow a task id WeCom made us change
                kind=kind,
                wecom_userid=userid,
                item_codes=subject or "|".join(code for code, _ in rows),
                created_at=now,
            ).on_conflict_ignore().execute()
        return queued

    def to_group(
        self,
        text: str,
        dedupe_key: str,
        *,
        msg_type: str = "markdown",
        expires_at: datetime | None = None,
    ) -> bool:
        return self.queue(
            "group", [], {"text": text}, dedupe_key, msg_type=msg_type, expires_at=expires_at
        )


def put_back(rows: list[OutboxMessage], expires_at: datetime) -> int:
    """重发: failed or expired rows back in line, counted afresh (no attempts, a new expiry). A
    message that carried merged replies is taken apart: it and the replies it carried go back
    one by one (merged again if they are still a flood). Returns how many carried rows went
    back with them; a row no longer given up is left alone."""
    given_up = OutboxMessage.status.in_(GIVEN_UP)
    fresh = {
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": None,
        "lease_until": None,
        "failed_at": None,
        "expires_at": expires_at,
    }
    carried_total = 0
    settle_uncertain([row.id for row in rows if row.status in GIVEN_UP])
    for row in rows:
        changes = dict(fresh)
        carried = list((row.content.get("merged") or {}).get("rows") or [])
        if row.msg_type == "merged":
            changes["msg_type"] = "text"
            changes["content"] = {k: v for k, v in row.content.items() if k != "merged"}
        if (row.result or {}).get("merged_into"):
            changes["result"] = None
        OutboxMessage.update(**changes).where((OutboxMessage.id == row.id) & given_up).execute()
        if carried:
            carried_total += (
                OutboxMessage.update(**fresh, result=None)
                .where(OutboxMessage.id.in_(carried) & given_up)
                .execute()
            )
    return carried_total
