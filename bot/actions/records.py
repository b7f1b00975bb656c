"""What the office takes out of the bot (the ledger, the evidence pack) and publishes (the
weekly digest): nothing of the campaign changes, but who did it and when is kept."""

from __future__ import annotations

from bot.actions.base import Acting, Refused
from bot.render import format_size
from reminders import digest


def exported(
    acting: Acting, what: str, name: str, size: int, *, action: str = "export", after=None
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
