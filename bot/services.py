"""The bot's parts wired together from a config, a clock and a transport (no I/O at build time)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import peewee

from bot.clock import Clock
from bot.config import Config
from bot.evidence import EvidenceStore
from bot.flood import FLOOD_REPLIES
from bot.outbox import OutboxSender
from bot.pipeline import Pipeline
from bot.render import Renderer
from bot.transports.base import Transport
from models.db import database
from models.org import admin_userids

log = logging.getLogger(__name__)


@dataclass
class Services:
    config: Config
    clock: Clock
    renderer: Renderer
    pipeline: Pipeline
    evidence: EvidenceStore
    transport: Transport
    sender: OutboxSender
    callback: object | None = None  # WeComCallback when WeCom is configured
    client: object | None = None  # WeComClient when WeCom is configured
    wake: threading.Event = field(default_factory=threading.Event)

    def worker_wake(self) -> None:
        self.wake.set()

    def worker_loop(self, stop: threading.Event, idle_seconds: float = 1.0) -> None:
        """Process received messages and retry pending downloads until `stop` is set.

        After each message the worker pauses as long as the message took: on SQLite, whose one
        writer at a time is shared with the web process, that leaves the write lock free half
        of the time, so a callback is acknowledged quickly even while a backlog is processed."""
        while not stop.is_set():
            began = time.perf_counter()
            try:
                with database.connection_context():
                    busy = self.pipeline.process_pending(limit=1) + self.pipeline.retry_downloads()
            except peewee.PeeweeException:
                busy = 0
                log.exception("inbound worker: database error")
            if busy:
                stop.wait(min(time.perf_counter() - began, 0.5))
                continue
            self.wake.wait(idle_seconds)
            self.wake.clear()


def build_services(config: Config, clock: Clock, transport: Transport | None = None) -> Services:
    """The sandbox stack by default; the WeCom stack when WeCom is configured and no transport
    is given. Builds objects only: nothing is connected or started here."""
    renderer = Renderer(config.timezone)
    evidence = EvidenceStore(config.data_dir / "evidence", config.evidence_max_bytes)
    client = media = None
    flood_replies = 0  # the sandbox has no rate limit, and its page shows every reply
    if transport is None and config.wecom_enabled:
        from bot.transports.wecom.client import WeComClient
        from bot.transports.wecom.media import WeComMedia
        from bot.transports.wecom.transport import WeComTransport

        client = WeComClient(config, clock)
        transport = WeComTransport(config, client)
        media = WeComMedia(client, evidence)
        flood_replies = FLOOD_REPLIES
    elif transport is None:
        from bot.transports.sandbox import SandboxTransport

        transport = SandboxTransport()
    sender = OutboxSender(
        transport,
        clock,
        max_age_hours=config.outbox_max_age_hours,
        flood_replies=flood_replies,
        admins=lambda: admin_userids(config.admins),
        renderer=renderer,
    )
    pipeline = Pipeline(config, clock, renderer, on_queued=sender.notify, media=media, wecom=client)
    callback = None
    if config.wecom_enabled:
        from bot.transports.wecom.callback import WeComCallback

        callback = WeComCallback(config, clock, pipeline)
    return Services(
        config, clock, renderer, pipeline, evidence, transport, sender, callback, client
    )
