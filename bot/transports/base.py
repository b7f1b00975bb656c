"""The one small interface every transport implements, and the errors a send may raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class PartLog(Protocol):
    """What became of each part of one message on a channel without a duplicate check (the
    group robot, app chats): a part is recorded as begun before it is sent, and as posted once
    the platform took it, so a retry never posts a part twice, and a part begun and never
    settled (no answer came, or the sender died) is known to be uncertain."""

    def posted(self, part: int) -> bool: ...

    def uncertain(self) -> int | None: ...

    def begin(self, part: int) -> None: ...

    def done(self, part: int) -> None: ...

    def undo(self, part: int) -> None: ...


@dataclass(frozen=True)
class Outgoing:
    """One outbox row, as a transport sees it."""

    id: int
    channel: str  # "member" | "group"
    recipients: tuple[str, ...]  # userids; empty for the group
    msg_type: str  # "text" | "markdown" | "card"
    content: dict
    parts: PartLog | None = None  # for the group: what each part's sending came to


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
    """A send failed. `permanent` ones are not retried. `errcode`: the platform's code, if it
    gave one; `tell`: a person must act now (the sender tells the admins, once an hour a code);
    `uncertain`: the request went out and no answer came (it may have arrived)."""

    permanent = False

    def __init__(
        self,
        message: str,
        *,
        errcode: int | None = None,
        tell: bool = False,
        uncertain: bool = False,
    ):
        super().__init__(message)
        self.errcode = errcode
        self.tell = tell
        self.uncertain = uncertain


class TransientSendError(SendError):
    """Worth retrying later (network, busy, 5xx, rate limit). `outage`: the platform fails every
    message now, not just this one (the sender then holds the channel and probes with one)."""

    def __init__(
        self,
        message: str,
        retry_after: float | None = None,
        *,
        outage: bool = False,
        errcode: int | None = None,
        tell: bool = False,
        uncertain: bool = False,
    ):
        super().__init__(message, errcode=errcode, tell=tell, uncertain=uncertain)
        self.retry_after = retry_after
        self.outage = outage


class PermanentSendError(SendError):
    """Will never succeed (invalid recipients, no permission): recorded, not retried."""

    permanent = True


class Throttled(Exception):
    """Not sent, and nothing went wrong: the bot's own pacing (WeCom drops what exceeds 30
    messages a minute per member, 20 per group robot) says wait `retry_after` seconds. The sender
    puts the row back in line without counting an attempt, and later rows to the same recipients
    wait behind it, so they keep their order."""

    def __init__(self, reason: str, retry_after: float):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Transport(Protocol):
    name: str

    def send(self, message: Outgoing) -> Delivered | None:
        """Deliver one message or raise SendError."""
