"""Files the platform still has to hand over (WeCom media): recorded when the message arrives,
fetched by the worker's download threads, settled once. Settling writes only while the claim
is still the writer's, so a worker whose lease lapsed settles nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.actions.base import Acting
from bot.evidence import clean_name
from models.leases import LeasedQueue
from models.messages import InboundMessage, MediaDownload

MEDIA_LIFETIME = timedelta(days=3)  # WeCom media ids expire after 3 days

# pending (due at next_attempt_at) -> fetching (leased until next_attempt_at) -> done | failed,
# or back to pending for a retry. The lease is kept in next_attempt_at: a download whose worker
# died is due again when its lease ends. Outcomes are written through the same queue (`settle`).
QUEUE = LeasedQueue(
    MediaDownload,
    ready="pending",
    leased="fetching",
    lease="next_attempt_at",
    due="next_attempt_at",
    order=("next_attempt_at", "id"),
)


def queue_download(acting: Acting, inbound: InboundMessage, payload: dict[str, Any]) -> None:
    """A file to fetch from the platform: recorded now, fetched by the download threads (a
    slow peer must not hold anyone's replies). Its answer comes when the download is settled."""
    hint = clean_name(payload.get("file_name") or "") if payload.get("file_name") else ""
    MediaDownload.insert(
        inbound=inbound.id,
        media_id=str(payload["media_id"])[:255],
        file_name=hint,  # cut to fit, as every stored name is (PostgreSQL refuses longer ones)
        wecom_userid=acting.userid,
        attempts=0,
        next_attempt_at=acting.now,
        expires_at=inbound.received_at + MEDIA_LIFETIME,
        created_at=acting.now,
    ).on_conflict_ignore().execute()


def settle(download: MediaDownload, **fields: Any) -> bool:
    """Write a download's outcome while the claim is still this worker's; False if its lease
    lapsed and another worker took the download (that one answers)."""
    return QUEUE.settle(download, **fields)


def note_pending(acting: Acting, name: str, error: str) -> None:
    """The first failed attempt of a file's download, in the log (it is retried)."""
    acting.audit(
        "evidence_pending",
        f"收到文件“{name}”，暂未取回：{error[:100]}",
        unit_name=acting.member.unit.name if acting.member and acting.member.unit else "",
    )


def warn_admins(acting: Acting, download: MediaDownload, name: str, error: str) -> None:
    """Once per file, when its 3 days are nearly over: the admins may ask the sender again."""
    MediaDownload.update(admins_told=True).where(MediaDownload.id == download.id).execute()
    text = acting.renderer.render(
        "download_alert.j2", download=download, name=name, error=error[:200]
    )
    acting.tell(acting.admins(), text, f"download-alert:{download.id}")
