"""The outbox as people see it: what 发件箱, 自检, /healthz, the admins' notices and the sandbox's
feed read. Reads only; the writer queues and the sender changes rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import peewee

from models.db import tuples
from models.messages import InteractiveCard, OutboxMessage

STATUS_LABELS = {
    "pending": "待发",
    "sending": "发送中",
    "merged": "已合并待发",
    "sent": "已发送",
    "failed": "失败",
    "expired": "已过期",
}
# What a row is, by its dedupe key (longest prefix first), for the admins' eyes.
KIND_LABELS = (
    ("digest-chart:", "周报得分图"),
    ("digest:", "周报"),
    ("remind:", "提醒"),
    ("reply:", "回复"),
    ("nudge:", "催办"),
    ("send-notice:", "发送异常通知"),
    ("deadline", "期限通知"),
    ("extension", "延期"),
    ("download", "文件取回"),
    ("export:", "台账"),
    ("import-report:", "导入预览"),
    ("import:", "导入通知"),
    ("pack:", "迎检材料包"),
    ("welcome", "绑定通知"),
    ("calendar-warning:", "日历提示"),
    ("coordinate:", "协调请求"),
)
WAITING = ("pending", "sending")  # not yet out, and not given up
GIVEN_UP = ("failed", "expired")
# Final for the sandbox's feed: shown once in one of these.
FINAL = ("sent", "failed", "expired")


# ---------------------------------------------------------------------- one row


@dataclass(frozen=True)
class RowView:
    """One outbox row described for the admins (notices, 发件箱)."""

    id: int
    status: str
    status_label: str
    kind: str
    recipients: str
    error: str
    created_at: datetime
    failed_at: datetime | None
    next_at: datetime | None
    expires_at: datetime | None
    attempts: int


def describe(row: OutboxMessage, names: dict[str, str] | None = None) -> RowView:
    kind = next((label for prefix, label in KIND_LABELS if row.dedupe_key.startswith(prefix)), "")
    carried = carried_rows(row)
    if carried:
        kind = f"合并回复（{len(carried) + 1} 条）"
    preview = " ".join((row.content.get("text") or "").split())
    preview = preview if len(preview) <= 14 else preview[:14] + "…"
    if preview and not carried:
        kind = f"{kind or '消息'}“{preview}”"
    return RowView(
        id=row.id,
        status=row.status,
        status_label=STATUS_LABELS.get(row.status, row.status),
        kind=kind or "消息",
        recipients=recipients_label(row, names),
        error=short(row.last_error),
        created_at=row.created_at,
        failed_at=row.failed_at or row.created_at,
        next_at=row.next_attempt_at,
        expires_at=row.expires_at,
        attempts=row.attempts,
    )


def recipients_label(row: OutboxMessage, names: dict[str, str] | None = None) -> str:
    if row.channel != "member":
        return "领导小组群"
    userids = recipients(row)
    shown = [f"{u}（{names[u]}）" if names and names.get(u) else u for u in userids[:3]]
    more = f" 等 {len(userids)} 人" if len(userids) > 3 else ""
    return "、".join(shown) + more


def short(error: str, limit: int = 60) -> str:
    error = " ".join((error or "").split())
    return error if len(error) <= limit else error[:limit] + "…"


def recipients(row: OutboxMessage) -> tuple[str, ...]:
    return tuple(r for r in row.recipient.split("|") if r)


def carried_rows(row: OutboxMessage) -> list[int]:
    """The rows whose replies this row's merged message carries."""
    return list((row.content.get("merged") or {}).get("rows") or [])


# ---------------------------------------------------------------------- the table


def outbox_counts() -> dict[str, int]:
    """Rows by status."""
    query = OutboxMessage.select(OutboxMessage.status, peewee.fn.COUNT(OutboxMessage.id)).group_by(
        OutboxMessage.status
    )
    return {status: count for status, count in tuples(query)}


def count_with_status(status: str) -> int:
    return OutboxMessage.select().where(OutboxMessage.status == status).count()


def waiting() -> peewee.ModelSelect[OutboxMessage]:
    """Rows not yet out and not given up, oldest first."""
    return (
        OutboxMessage.select().where(OutboxMessage.status.in_(WAITING)).order_by(OutboxMessage.id)
    )


def given_up_since(since: datetime) -> dict[str, int]:
    """Failed and expired rows given up since then (rows from before `failed_at` existed count
    by when they were written), by status."""
    recent = (OutboxMessage.failed_at.is_null(False) & (OutboxMessage.failed_at >= since)) | (
        OutboxMessage.failed_at.is_null() & (OutboxMessage.created_at >= since)
    )
    return dict(
        tuples(
            OutboxMessage.select(OutboxMessage.status, peewee.fn.COUNT(OutboxMessage.id))
            .where(OutboxMessage.status.in_(GIVEN_UP) & recent)
            .group_by(OutboxMessage.status)
        )
    )


def recent_given_up(since: datetime, notice_prefix: str) -> list[OutboxMessage]:
    """Failed or expired since then, newest first: each a message of its own or one that
    carried merged replies (those it carried follow it); notices to the admins left out."""
    when = OutboxMessage.failed_at.is_null(False) & (OutboxMessage.failed_at >= since)
    legacy = OutboxMessage.failed_at.is_null() & (OutboxMessage.created_at >= since)
    rows = (
        OutboxMessage.select()
        .where(
            OutboxMessage.status.in_(GIVEN_UP)
            & (when | legacy)
            & ~OutboxMessage.dedupe_key.startswith(notice_prefix)
        )
        .order_by(OutboxMessage.id.desc())
    )
    return [row for row in rows if not (row.result or {}).get("merged_into")]


def oldest_waiting() -> OutboxMessage | None:
    """The oldest row not yet out (pending or being sent)."""
    found: OutboxMessage | None = (
        OutboxMessage.select()
        .where(OutboxMessage.status.in_(("pending", "sending")))
        .order_by(OutboxMessage.id)
        .first()
    )
    return found


def last_given_up() -> OutboxMessage | None:
    return (
        OutboxMessage.select()
        .where(OutboxMessage.status.in_(GIVEN_UP))
        .order_by(OutboxMessage.id.desc())
        .first()
    )


# ---------------------------------------------------------------------- the sandbox's feed


def final_after(after: int, limit: int) -> tuple[list[OutboxMessage], int]:
    """Rows past `after` that are final (sent, failed or expired), in order, and the cursor the
    page asks from next time. A row still pending or sending holds the cursor back, so a message
    sent after a later one (a retry) is not skipped; the page drops ids it has shown."""
    final = OutboxMessage.status.in_(FINAL)
    rows = list(
        OutboxMessage.select()
        .where(final & (OutboxMessage.id > after))
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    unfinished = (
        OutboxMessage.select(peewee.fn.MIN(OutboxMessage.id))
        .where(~final & (OutboxMessage.id > after))
        .scalar()
    )
    cursor = rows[-1].id if rows else after
    if unfinished is not None:
        cursor = min(cursor, unfinished - 1)
    return rows, cursor


def clicks(rows: list[OutboxMessage]) -> dict[str, str]:
    """task id -> the key clicked, for the cards among `rows`."""
    task_ids = [
        (row.content.get("card") or {}).get("task_id") for row in rows if row.msg_type == "card"
    ]
    return {
        card.task_id: card.clicked_key
        for card in InteractiveCard.select().where(InteractiveCard.task_id.in_(task_ids or [""]))
    }


def sent_file_name(sha256: str, default: str) -> str:
    """The name a file the bot sent went out under (the last row that sent it)."""
    name = default
    for row in OutboxMessage.select().where(OutboxMessage.msg_type == "file"):
        if (row.content.get("file") or {}).get("sha256") == sha256:
            name = row.content["file"].get("name", name)
    return name
