"""The outbox: every message that leaves is a row first, written with the change that caused it.

Three parts, one job each: `writer` queues rows (`Outbox`, inside the caller's transaction),
`sender` claims due rows with a lease and sends them through a transport (`OutboxSender`), and
`views` reads rows as people see them (发件箱, 自检, /healthz, the sandbox's feed). The names
other modules import are kept here.
"""

from bot.outbox.sender import DRAINED_AFTER, OutboxSender, SendStats
from bot.outbox.views import (
    KIND_LABELS,
    STATUS_LABELS,
    RowView,
    describe,
    outbox_counts,
    recipients_label,
)
from bot.outbox.writer import NOTICE_PREFIX, REPLY_PREFIX, Outbox

__all__ = [
    "DRAINED_AFTER",
    "KIND_LABELS",
    "NOTICE_PREFIX",
    "REPLY_PREFIX",
    "STATUS_LABELS",
    "Outbox",
    "OutboxSender",
    "RowView",
    "SendStats",
    "describe",
    "outbox_counts",
    "recipients_label",
]
