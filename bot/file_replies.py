"""The answer a file message gets once the platform has handed the file over (or refused it):
exactly one final answer per file message (its evidence, an import's dry run, or why there is
none) and at most one word before it ("正在取回", or "暂未取回，会自动重试"), one dedupe key
each. Run by the worker's download threads (bot/downloads.py); what the file changes is done
by the actions (bot/actions/files.py, bot/actions/evidence.py) through the chat's answer."""

from __future__ import annotations

from datetime import timedelta

from bot.actions.evidence import file_evidence
from bot.actions.files import note_pending, settle, warn_admins
from bot.commands.evidence import attach_file, duplicate_reply, placed_reply
from bot.commands.holidays import notice_file
from bot.commands.imports import is_import
from bot.commands.registry import Context
from bot.evidence import StoredFile
from models.messages import MediaDownload, OutboxMessage

ALERT_BEFORE_EXPIRY = timedelta(hours=12)  # the admins hear this long before a file is lost


def _final_key(download: MediaDownload) -> str:
    return f"download-done:{download.id}"


def _waiting_key(download: MediaDownload) -> str:
    return f"download-wait:{download.id}"


def _name(download: MediaDownload) -> str:
    return download.file_name or "图片/文件"


def _told_waiting(download: MediaDownload) -> bool:
    if download.attempts > 0:  # an attempt failed: the sender was told it would be retried
        return True
    return OutboxMessage.select().where(OutboxMessage.dedupe_key == _waiting_key(download)).exists()


def _answer(ctx: Context, download: MediaDownload, text: str) -> None:
    ctx.outbox.to_members(
        [download.wecom_userid], text, _final_key(download), inbound=download.inbound_id
    )
    for message in getattr(text, "after", ()):  # what the answer announces comes after it
        ctx.outbox.queue(**message)


def download_slow(ctx: Context, download: MediaDownload) -> None:
    """The download is taking a while: say once that the file arrived and is being fetched."""
    text = ctx.say("replies.j2", "file_fetching", name=_name(download))
    ctx.outbox.to_members([download.wecom_userid], text, _waiting_key(download))


def download_succeeded(ctx: Context, download: MediaDownload, stored: StoredFile) -> bool:
    """File the evidence and give the message its answer; False if the claim was lost."""
    if not settle(download, status="done", last_error=""):
        return False
    # Asked after the settling UPDATE holds the row: a word the inbound thread was sending at
    # this moment is committed by now, and seen.
    told = _told_waiting(download)
    caption = (download.inbound.text or "") if download.inbound_id else ""
    # The sender has heard nothing yet: the answer a file gets at once (an import's dry run too).
    if not told or is_import(ctx, stored, caption):
        _answer(ctx, download, attach_file(ctx, stored, caption))
        return True
    notice = notice_file(ctx, stored, caption)
    if notice is not None:
        _answer(ctx, download, notice)
        return True
    filed = file_evidence(ctx, stored, caption)
    if len(filed.placed) > 1:
        text = placed_reply(ctx, filed, stored.original_name)
    elif filed.duplicate is not None and filed.assignment is not None:
        text = duplicate_reply(ctx, filed)
    else:
        text = ctx.say(
            "replies.j2",
            "file_fetched",
            names=[stored.original_name],
            item=filed.assignment.item if filed.assignment else None,
            count=filed.count,
        )
    _answer(ctx, download, text)
    return True


def download_failed(
    ctx: Context, download: MediaDownload, error: str, *, permanent: bool = False
) -> bool:
    """Refused for good: say why. Otherwise back off, tell the sender once that it will be
    retried, the admins once when the 3-day lifetime is close, and give up after it.
    False if the claim was lost."""
    attempts = download.attempts + 1
    name = _name(download)
    if permanent or ctx.now >= download.expires_at:
        if not settle(download, status="failed", attempts=attempts, last_error=error[:500]):
            return False
        if permanent:
            text = ctx.say("errors.j2", "file_refused", reason=error)
        else:
            text = ctx.say("replies.j2", "file_lost", name=name)
        _answer(ctx, download, text)
        return True
    delay = timedelta(minutes=min(60, 2 ** min(attempts, 6)))
    if not settle(
        download,
        status="pending",
        attempts=attempts,
        last_error=error[:500],
        next_attempt_at=ctx.now + delay,
    ):
        return False
    if attempts == 1:
        note_pending(ctx, name, error)
    text = ctx.say("replies.j2", "file_pending", name=name)
    ctx.outbox.to_members([download.wecom_userid], text, _waiting_key(download))
    if not download.admins_told and download.expires_at - ctx.now <= ALERT_BEFORE_EXPIRY:
        download.attempts = attempts
        warn_admins(ctx, download, name, error)
    return True
