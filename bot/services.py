"""The bot's parts wired together from a config, a clock and a transport (no I/O at build time)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import peewee

from bot.clock import Clock
from bot.config import Config
from bot.evidence import EvidenceStore
from bot.outbox import OutboxSender
from bot.pipeline import Pipeline
from bot.render import Renderer
from bot.transports.base import Transport
from models.db import database
from models.org import admin_userids


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
        """Process received messages and retry pending downloads until `stop` is set."""
        while not stop.is_set():
            try:
                with database.connection_context():
                    busy = self.pipeline.process_pending() + self.pipeline.retry_downloads()
            except peewee.PeeweeException:
                busy = 0
                import logging

                logging.getLogger(__name__).exception("inbound worker: database error")
            if busy:
                continue
            self.wake.wait(idle_seconds)
            self.wake.clear()


def build_services(config: Config, clock: Clock, transport: Transport | None = None) -> Services:
    """The sandbox stack by default; the WeCom stack when WeCom is configured and no transport
    is given. Builds objects only: nothing is connected or started here."""
    renderer = Renderer(config.timezone)
    evidence = EvidenceStore(config.data_dir / "evidence", config.evidence_max_bytes)
    client = media = None
    if transport is None and config.wecom_enabled:
        from bot.transports.wecom.client import WeComClient
        from bot.transports.wecom.media import WeComMedia
        from bot.transports.wecom.transport import WeComTransport

        client = WeComClient(config, clock)
        transport = WeComTransport(config, client)
        media = WeComMedia(client, evidence)
    elif transport is None:
        from bot.transports.sandbox import SandboxTransport

        transport = SandboxTransport()
    sender = OutboxSender(transport, clock, admins=lambda: admin_userids(config.admins))
    pipeline = Pipeline(config, clock, renderer, on_queued=sender.notify, media=media, wecom=client)
    callback = None
    if config.wecom_enabled:
        from bot.transports.wecom.callback import WeComCallback

        callback = WeComCallback(config, clock, pipeline)
    return Services(
        config, clock, renderer, pipeline, evidence, transport, sender, callback, client
    )
