"""The one small interface every transport implements, and the errors a send may raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    """One outbox row, as a transport sees it."""

    id: int
    channel: str  # "member" | "group"
    recipients: tuple[str, ...]  # userids; empty for the group
    msg_type: str  # "text" | "markdown" | "card"
    content: dict


@dataclass(frozen=True)
class Delivered:
    """What the platform answered for a message it took (possibly not for every recipient)."""

    msgid: str = ""
    invalid_recipients: tuple[str, ...] = ()
    # A card that went out under another task id than the row's (WeCom refused the row's as
    # already used): the sender records it, so clicks map and a retry of the row reuses it.
    task_id: str = ""
    # A card the platform refused, delivered as its text fallback instead: why. Recorded.
    fallback_reason: str = ""


class SendError(Exception):
    """A send failed. `permanent` ones are not retried."""

    permanent = False


class TransientSendError(SendError):
    """Worth retrying later (network, busy, 5xx, rate limit)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """Will never succeed (invalid recipients, no permission): recorded, not retried."""

    permanent = True


class Transport(Protocol):
    name: str

    def send(self, message: Outgoing) -> Delivered | None:
        """Deliver one message or raise SendError."""
