"""The sender's one rewrite of what waits: a flood of replies to one person becomes one message
carried by the oldest of them (the text itself is bot/flood.py's). Runs before a claim."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import peewee

from bot.flood import Owed, merged_text
from bot.outbox.writer import REPLY_PREFIX
from models.db import database, tuples
from models.messages import InboundMessage, OutboxMessage

log = logging.getLogger(__name__)

MERGED_LIMIT = 2048  # bytes: WeCom's limit for an app text message
MERGE_SCAN = 1000  # replies to one person read at once for a merge


def merge_floods(now: datetime, more_than: int, render: Callable[..., str]) -> int:
    """More than `more_than` replies due to one person at once: the oldest carries one message
    that stands for them all; the others are marked `merged` and are sent with it. Only replies
    never tried are merged: a row once tried must send the same JSON again (WeCom's duplicate
    check), and the merged text is stored in the carrier before it is sent, for the same
    reason. `render` makes the merged message's parts. Returns how many rows were merged."""
    due = (
        (OutboxMessage.status == "pending")
        & (OutboxMessage.next_attempt_at.is_null() | (OutboxMessage.next_attempt_at <= now))
        & (OutboxMessage.channel == "member")
        & (OutboxMessage.msg_type == "text")
        & (OutboxMessage.attempts == 0)
        & OutboxMessage.dedupe_key.startswith(REPLY_PREFIX)
        & ~OutboxMessage.recipient.contains("|")
    )
    floods = (
        OutboxMessage.select(OutboxMessage.recipient)
        .where(due)
        .group_by(OutboxMessage.recipient)
        .having(peewee.fn.COUNT(OutboxMessage.id) > more_than)
    )
    merged = 0
    for (recipient,) in tuples(floods):
        rows = list(
            OutboxMessage.select()
            .where(due & (OutboxMessage.recipient == recipient))
            .order_by(OutboxMessage.id)
            .limit(MERGE_SCAN)
        )
        asked: dict[int, str] = dict(
            tuples(
                InboundMessage.select(InboundMessage.id, InboundMessage.text).where(
                    InboundMessage.id.in_([r.inbound_id for r in rows if r.inbound_id])
                )
            )
        )
        owed = [
            Owed(r.id, r.content.get("text", ""), asked.get(r.inbound_id or 0, ""), r.created_at)
            for r in rows
        ]
        text = merged_text(owed, render, MERGED_LIMIT)
        carrier, others = rows[0], [r.id for r in rows[1:]]
        try:
            with database.atomic():
                taken = (
                    OutboxMessage.update(
                        msg_type="merged",
                        content={**carrier.content, "merged": {"text": text, "rows": others}},
                    )
                    .where(
                        (OutboxMessage.id == carrier.id)
                        & (OutboxMessage.status == "pending")
                        & (OutboxMessage.attempts == 0)
                    )
                    .execute()
                )
                count = (
                    OutboxMessage.update(status="merged", result={"merged_into": carrier.id})
                    .where(OutboxMessage.id.in_(others) & (OutboxMessage.status == "pending"))
                    .execute()
                )
                if not taken or count != len(others):
                    raise _Changed  # another sender took some: leave them all single
        except _Changed:
            continue
        log.info("outbox: %s replies to %s merged into row %s", len(rows), recipient, carrier.id)
        merged += len(others)
    return merged


def settle_carried(ids: list[int], **values) -> None:
    """The rows a merged message carried share its outcome (they keep their own content)."""
    if ids:
        OutboxMessage.update(**values).where(
            OutboxMessage.id.in_(ids) & (OutboxMessage.status == "merged")
        ).execute()


class _Changed(Exception):
    """Rows changed under a merge: roll it back."""
