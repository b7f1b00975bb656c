"""The bot's parts wired together from a config, a clock and a transport (no I/O at build time)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.config import Config
from bot.evidence import EvidenceStore
from bot.outbox import OutboxSender
from bot.pipeline import Pipeline
from bot.render import Renderer
from bot.transports.base import Transport


@dataclass
class Services:
    config: Config
    clock: Clock
    renderer: Renderer
    pipeline: Pipeline
    evidence: EvidenceStore
    transport: Transport
    sender: OutboxSender


def build_services(config: Config, clock: Clock, transport: Transport) -> Services:
    renderer = Renderer(config.timezone)
    sender = OutboxSender(transport, clock)
    pipeline = Pipeline(config, clock, renderer, on_queued=sender.notify)
    evidence = EvidenceStore(config.data_dir / "evidence", config.evidence_max_bytes)
    return Services(config, clock, renderer, pipeline, evidence, transport, sender)
