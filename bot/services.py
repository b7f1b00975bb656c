"""The bot's parts wired together from a config, a clock and a transport (no I/O at build time)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import peewee

from bot.clock import Clock
from bot.config import Config
from bot.downloads import Downloader
from bot.evidence import EvidenceStore
from bot.flood import FLOOD_REPLIES
from bot.outbox.sender import OutboxSender
from bot.outbox.writer import Outbox
from bot.pipeline import Pipeline
from bot.render import Renderer
from bot.transports.base import Transport
from bot.transports.sandbox import SandboxTransport
from bot.transports.wecom.media import WeComMedia
from bot.transports.wecom.transport import WeComTransport
from models.db import drop_connection, warm_connection
from models.org import admin_userids

if TYPE_CHECKING:
    from bot.transports.wecom.callback import WeComCallback
    from bot.transports.wecom.client import WeComClient

log = logging.getLogger(__name__)

# Messages claimed by one pass of the worker; they are processed a run to a transaction (see
# Pipeline._process_run), which under a burst more than doubles the replies per second.
WORKER_BATCH = 20
DOWNLOAD_THREADS = 3  # files fetched at once; a stalled peer holds one of them, no reply


@dataclass
class Services:
    config: Config
    clock: Clock
    renderer: Renderer
    pipeline: Pipeline
    evidence: EvidenceStore
    transport: Transport
    sender: OutboxSender
    callback: WeComCallback | None = None  # once wecom_callback() has built it
    client: object | None = None  # WeComClient (built on first use) when WeCom is configured
    wake: threading.Event = field(default_factory=threading.Event)
    downloader: Downloader | None = None
    downloads: threading.Event = field(default_factory=threading.Event)  # wakes download threads
    # In the web process: wakes the worker process (bot/runtime sets it; a no-op in one process).
    remote_wake: Callable[[], None] | None = None
    callback_factory: Callable[[], WeComCallback] | None = None

    def wecom_callback(self) -> WeComCallback | None:
        """The WeCom callback handler, built on the first call: only the process that takes
        WeCom's callbacks loads wechatpy's crypto (7 MB). None without WeCom."""
        if self.callback is None and self.callback_factory is not None:
            self.callback = self.callback_factory()
        return self.callback

    def scheduler_parts(self) -> SchedulerParts:
        """What the scheduler is handed (reminders.ports.SchedulerDeps): no transport, no
        client, no pipeline."""
        return SchedulerParts(self.config, self.clock, self.renderer, self.sender.notify)

    def worker_wake(self) -> None:
        self.wake.set()
        if self.remote_wake is not None:
            self.remote_wake()

    def worker_loop(self, stop: threading.Event, idle_seconds: float = 1.0) -> None:
        """Process received messages until `stop` is set (files are fetched by `download_loop`).

        After each pass the worker pauses as long as the pass took: on SQLite, whose one writer
        at a time is shared with the web process, that leaves the write lock free half of the
        time, so a callback is acknowledged quickly even while a backlog is processed."""
        while not stop.is_set():
            self.wake.clear()  # before looking: a wake-up during the pass is kept for the wait
            began = time.perf_counter()
            try:
                with warm_connection():
                    busy = self.pipeline.process_pending(limit=WORKER_BATCH)
                    if self.downloader is not None:
                        self.downloader.tell_waiting()  # files still on their way
            except peewee.PeeweeException:
                busy = 0
                log.exception("inbound worker: database error")
            if busy >= WORKER_BATCH:  # a backlog: leave the write lock free for a while
                stop.wait(min(time.perf_counter() - began, 0.5))
                continue
            if busy:
                continue
            self.wake.wait(idle_seconds)
        drop_connection()

    def download_loop(self, stop: threading.Event, idle_seconds: float = 1.0) -> None:
        """Fetch received files and retry failed ones until `stop` is set; the worker runs
        DOWNLOAD_THREADS of these beside `worker_loop`. A download in progress when `stop` is set
        is abandoned at its next read and handed back."""
        while not stop.is_set():
            self.downloads.clear()
            try:
                with warm_connection():
                    busy = self.downloader is not None and self.downloader.run_one(stop)
            except Exception:  # the database went away, or worse: this thread must go on
                busy = False
                log.exception("download worker: error")
            if busy:
                continue
            self.downloads.wait(idle_seconds)
        drop_connection()


@dataclass(frozen=True)
class SchedulerParts:
    """The scheduler's share of the bot: the settings, the clock, the templates, a new Outbox for
    each round, and the sender's wake-up."""

    config: Config
    clock: Clock
    renderer: Renderer
    wake_sender: Callable[[], None]
    # Whether this process still holds the scheduler's lease (the worker's; always, elsewhere).
    on_duty: Callable[[], bool] = lambda: True

    def mail(self) -> Outbox:
        return Outbox(self.clock)

    def notify(self) -> None:
        self.wake_sender()


def build_services(config: Config, clock: Clock, transport: Transport | None = None) -> Services:
    """The sandbox stack by default; the WeCom stack when WeCom is configured and no transport
    is given. Builds objects only: nothing is connected or started here."""
    renderer = Renderer(config.timezone, board_base_url=config.board_base_url)
    evidence = EvidenceStore(config.data_dir / "evidence", config.evidence_max_bytes)
    client = media = None
    flood_replies = 0  # the sandbox has no rate limit, and its page shows every reply
    if transport is None and config.wecom_enabled:

        def wecom_client():
            # Lazy on purpose, measured: importing the client brings requests and wechatpy's
            # client, 5.5 MB and 250 modules in a process that has the rest of the bot loaded.
            from bot.transports.wecom.client import WeComClient

            return WeComClient(config, clock)

        # Built on first use: the web process needs it only for a board sign-in, so it does
        # not carry requests and wechatpy's client (10 MB) for nothing.
        client = cast("WeComClient", OnFirstUse(wecom_client))
        transport = WeComTransport(config, client)
        media = WeComMedia(client, evidence)
        flood_replies = FLOOD_REPLIES
    elif transport is None:
        transport = SandboxTransport()
    sender = OutboxSender(
        transport,
        clock,
        max_age_hours=config.outbox_max_age_hours,
        flood_replies=flood_replies,
        admins=lambda: admin_userids(config.admins),
        renderer=renderer,
    )
    downloads = threading.Event()
    pipeline = Pipeline(
        config,
        clock,
        renderer,
        on_queued=sender.notify,
        on_download=downloads.set,
        media=media,
        wecom=client,
    )
    callback_factory = None
    if config.wecom_enabled:

        def callback_factory():
            # Lazy on purpose, measured: the callback's module brings xmltodict and the XML
            # parsers, 1.9 MB and 38 modules, which only the process taking callbacks needs.
            from bot.transports.wecom.callback import WeComCallback

            return WeComCallback(config, clock, pipeline)

    return Services(
        config,
        clock,
        renderer,
        pipeline,
        evidence,
        transport,
        sender,
        client=client,
        downloader=Downloader(pipeline),
        downloads=downloads,
        callback_factory=callback_factory,
    )


class OnFirstUse:
    """An object built when it is first used: every attribute read or set goes to it."""

    def __init__(self, build: Callable[[], object]):
        object.__setattr__(self, "_build", build)
        object.__setattr__(self, "_built", None)
        object.__setattr__(self, "_lock", threading.Lock())

    def built(self) -> object:
        built = object.__getattribute__(self, "_built")
        if built is None:
            with object.__getattribute__(self, "_lock"):
                built = object.__getattribute__(self, "_built")
                if built is None:
                    built = object.__getattribute__(self, "_build")()
                    object.__setattr__(self, "_built", built)
        return built

    def __getattr__(self, name: str):
        return getattr(self.built(), name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self.built(), name, value)
