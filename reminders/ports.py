"""What the campaign's rounds need from the layer above, as shapes, not imports.

`reminders/` sits below `bot/` (docs/layers.md): the reminder round, the digest and the scheduler
write messages and render templates, but they are handed the objects that do so. The bot passes
its Outbox, Renderer and Config, which have these shapes; a test may pass anything that does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, time
from typing import Any, Protocol
from zoneinfo import ZoneInfo


class Mail(Protocol):
    """Queues outgoing messages inside the caller's transaction (bot.outbox.Outbox). Each call
    is idempotent by its dedupe key and answers False when the key was queued before."""

    def queue(
        self,
        channel: str,
        recipients: Sequence[str],
        content: dict[str, Any],
        dedupe_key: str,
        *,
        msg_type: str = "text",
        expires_at: datetime | None = None,
    ) -> bool: ...

    def to_members(
        self,
        userids: Sequence[str],
        text: str,
        dedupe_key: str,
        *,
        expires_at: datetime | None = None,
    ) -> bool: ...

    def to_group(
        self, text: str, dedupe_key: str, *, expires_at: datetime | None = None
    ) -> bool: ...

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
        id_parts: tuple[object, ...] = (),
        expires_at: datetime | None = None,
        url: str = "",
    ) -> bool: ...


class Templates(Protocol):
    """Renders the Chinese texts (bot.render.Renderer)."""

    @property
    def board_url(self) -> str:
        """The leaders' board, or "" when it has no address."""
        ...

    def render(self, name: str, /, **context: Any) -> str: ...


class CampaignSettings(Protocol):
    """The settings the rounds read (bot.config.Config has them all, frozen)."""

    @property
    def timezone(self) -> ZoneInfo: ...
    @property
    def admins(self) -> frozenset[str]: ...
    @property
    def remind_at(self) -> time: ...
    @property
    def digest_at(self) -> time: ...
    @property
    def quiet_start(self) -> time: ...
    @property
    def remind_days_before(self) -> Sequence[int]: ...
    @property
    def node_remind_days_before(self) -> Sequence[int]: ...
    @property
    def escalate_after(self) -> int: ...
    @property
    def recurring_day_off(self) -> str: ...

    def in_quiet_hours(self, moment: datetime) -> bool: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class SchedulerDeps(Protocol):
    """What the scheduler is handed: a clock, the settings, the templates, a way to make a Mail
    and a way to tell the sender there is something to send. Not the WeCom client."""

    @property
    def clock(self) -> Clock: ...
    @property
    def config(self) -> CampaignSettings: ...
    @property
    def renderer(self) -> Templates: ...

    def mail(self) -> Mail: ...

    def notify(self) -> None: ...

    def on_duty(self) -> bool: ...


Chore = Callable[[datetime], None]
