"""What the office takes out of the bot (the ledger, the evidence pack) and publishes (the
weekly digest): nothing of the campaign changes, but who did it and when is kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.actions.base import Acting, Refused
from bot.outbox.writer import put_back
from bot.render import format_size
from models.messages import OutboxMessage
from reminders import digest


def exported(
    acting: Acting,
    what: str,
    name: str,
    size: int,
    *,
    action: str = "export",
    after: dict[str, Any] | None = None,
) -> None:
    """Files the office took out: 导出台账, 迎检材料包."""
    acting.audit(action, f"{what}{' ' + name if name else ''}（{format_size(size)}）", after=after)


def publish_digest(acting: Acting) -> str:
    """Publish this week's digest to the leading group now (once a week); returns the week."""
    result = digest.publish(
        acting.now, acting.config, acting.calendar, acting.outbox, acting.renderer, by=acting.userid
    )
    if not result.published:
        raise Refused(f"{result.week} 周报未发布：{result.reason}。")
    acting.audit("digest", f"发布 {result.week} 周报到领导小组群")
    return result.week


def resend(acting: Acting, rows: list[OutboxMessage]) -> int:
    """重发: failed or expired messages back in line with a new OUTBOX_MAX_AGE_HOURS to live;
    returns how many merged replies went back with them."""
    if not acting.is_admin:
        raise Refused("只有管理员可以重发消息。")
    expires = acting.now + timedelta(hours=acting.config.outbox_max_age_hours)
    carried = put_back(rows, expires)
    ids = [row.id for row in rows]
    shown = "、".join(f"#{i}" for i in ids[:20]) + ("等" if len(ids) > 20 else "")
    acting.audit(
        "resend",
        f"重发 {len(ids)} 条消息：{shown}"
        + (f"（连同合并的 {carried} 条回复）" if carried else ""),
        before={"rows": [[row.id, row.status, row.last_error[:200]] for row in rows]},
        after={"status": "pending", "carried": carried},
    )
    return carried
