"""One path for every inbound message, whatever the transport:
record (a replay is a no-op) -> decide (commands, files, events) -> reply through the outbox.

A transport that must answer fast (the WeCom callback) only `receive`s; a worker then
`process_pending`. The sandbox and the CLI `handle` (receive and process at once). A file still
to be fetched from the platform is only recorded here: the download threads fetch it and give
it its answer (bot/downloads.py), so no download ever holds the replies to other messages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Protocol

from bot.actions.files import queue_download
from bot.clock import Clock
from bot.commands import REGISTRY
from bot.commands.cards import handle_card_click
from bot.commands.evidence import attach_file
from bot.commands.reader import dispatch, entered, runs_in_transaction, wants_second_opinion
from bot.commands.registry import Context, Registry
from bot.config import Config
from bot.evidence import StoredFile
from bot.outbox.writer import Outbox
from bot.render import Renderer
from bot.second_reader import SecondReader
from models.db import CONNECTION_ERRORS, database
from models.leases import LeasedQueue
from models.messages import InboundMessage
from models.org import find_member
from models.userids import contains, form_in

log = logging.getLogger(__name__)

FILE_KINDS = ("file", "image", "voice", "video")
LEASE = timedelta(minutes=5)
# received -> processing (leased until lease_until) -> done | failed
QUEUE = LeasedQueue(InboundMessage, ready="received", leased="processing")
# A run of messages shares one transaction for at most this long (see _process_run).
RUN_SECONDS = 0.05


@dataclass(frozen=True)
class Incoming:
    """A message as a transport received it, before anything is decided."""

    transport: str
    external_id: str
    userid: str
    kind: str = "text"  # text | file | image | voice | video | event
    text: str = ""
    file: StoredFile | None = None
    payload: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Handled:
    duplicate: bool
    inbound_id: int | None = None
    reply: str | None = None


class LeaseLost(Exception):
    """A claimed message was claimed again by another worker after this one's lease lapsed."""

    def __init__(self, inbound_id: int):
        super().__init__(inbound_id)
        self.inbound_id = inbound_id


class MediaError(Exception):
    """A file could not be fetched from the platform: not yet, or (permanent) never."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class MediaFetcher(Protocol):
    def fetch(
        self, media_id: str, name_hint: str, check: Callable[[], None] = lambda: None
    ) -> StoredFile:
        """Fetch into the evidence store; `check` runs before every read and may raise to
        abandon the download. Raises MediaError when the platform does not hand it over."""
        ...


class Pipeline:
    def __init__(
        self,
        config: Config,
        clock: Clock,
        renderer: Renderer,
        *,
        registry: Registry = REGISTRY,
        on_queued: Callable[[], None] = lambda: None,
        on_download: Callable[[], None] = lambda: None,
        media: MediaFetcher | None = None,
        wecom: object | None = None,
        record: Callable[..., int | None] | None = None,
        accept: Callable[..., None] | None = None,
    ):
        self.config = config
        self.clock = clock
        self.renderer = renderer
        self.registry = registry
        self.outbox = Outbox(clock)
        self.on_queued = on_queued
        self.on_download = on_download  # wakes the download threads
        self.media = media
        self.wecom = wecom
        # How a received message is written: directly, or through run.py's group-commit writer.
        self.record = record or InboundMessage.record
        # A received message nobody waits for (WeCom's callback): None, recorded like the rest;
        # run.py's web process sets the journal (bot/recorder.py), which answers before commit.
        self.accept = accept
        # Claims to hand back once the database is reachable (the worker's thread only).
        self._released: list[InboundMessage] = []
        # The language model asked about what the rules miss (off unless configured).
        self.second_reader = SecondReader.from_config(config)

    # ------------------------------------------------------------------ receiving

    def receive(self, msg: Incoming, *, claim: bool = False) -> Handled:
        """Record the message once; a replay (same transport and id) changes nothing."""
        # PostgreSQL text cannot hold NUL; it is never meaningful in a chat message.
        msg = replace(
            msg,
            text=msg.text.replace("\x00", ""),
            userid=msg.userid.replace("\x00", ""),
            external_id=msg.external_id.replace("\x00", "")[:128],
        )
        now = self.clock.now()
        values = dict(
            transport=msg.transport,
            external_id=msg.external_id,
            wecom_userid=msg.userid[:64],
            kind=msg.kind,
            text=msg.text,
            payload=_payload(msg),
            received_at=now,
            status="processing" if claim else "received",
            lease_until=now + LEASE if claim else None,
        )
        if not claim and self.accept is not None:
            self.accept(**values)  # journaled: in the database moments later
            return Handled(duplicate=False)
        inbound_id = self.record(**values)
        if inbound_id is None:
            return Handled(duplicate=True)
        return Handled(duplicate=False, inbound_id=inbound_id)

    def handle(self, msg: Incoming) -> Handled:
        """Receive and process at once (the sandbox, the CLI)."""
        received = self.receive(msg, claim=True)
        if received.duplicate:
            return received
        assert received.inbound_id is not None  # recorded, not journaled: it has its id
        return Handled(False, received.inbound_id, self.process(received.inbound_id))

    # ------------------------------------------------------------------ processing

    def release_claims(self) -> int:
        """Hand every claimed message back at once instead of after its lease: when the single
        worker starts and knows no one else holds any."""
        return QUEUE.release_all(self.clock.now())

    def claim_pending(self, limit: int = 20) -> list[InboundMessage]:
        """Claim received messages (and ones whose worker died) for processing, oldest first."""
        if self._released:
            # Messages a lost connection interrupted (nothing of them was committed).
            QUEUE.hand_back(self._released, self.clock.now())
            self._released = []
        return QUEUE.claim(self.clock.now(), LEASE, limit)

    def process_pending(self, limit: int = 20) -> int:
        """Claim up to `limit` received messages and process them, several to a transaction."""
        claimed = self.claim_pending(limit)
        done = 0
        try:
            while done < len(claimed):
                done += self._process_run(claimed[done:])
        except CONNECTION_ERRORS:
            # The database went away in the middle: the run's transaction rolled back. Hand it
            # (and the rest) back on the next pass rather than after the lease.
            self._released.extend(claimed[done:])
            raise
        return len(claimed)

    def process(self, inbound_id: int) -> str | None:
        """Decide and answer one message this caller claimed (`handle`); its reply is queued in
        the same transaction. None also when the claim was lost meanwhile (nothing was done)."""
        replies: list[str | None] = []
        self._process_run([InboundMessage.get_by_id(inbound_id)], replies)
        return replies[0] if replies else None

    def _process_run(self, rows: list[InboundMessage], replies: list | None = None) -> int:
        """Process the first of the claimed `rows` and, in the same transaction, those after
        it, until one must run on its own or the run has taken RUN_SECONDS; returns how many
        were processed (or given up: see LeaseLost).

        One commit for the run instead of one per message: under a burst the write lock and the
        commit are shared, and each reply still waits at most RUN_SECONDS for its commit. Every
        message is decided inside its own savepoint, so a crash undoes only its own change. A
        message is marked processed only while this worker's lease on it holds: if it lapsed
        and another worker claimed the message meanwhile, the run is undone and left to that
        worker (the rest of this claim lapsed with it)."""
        first = rows[0]
        msg = _incoming_from(first)
        now = self.clock.now()
        answered: list[str | None] = []
        try:
            if msg.kind == "text" and not self._transactional(msg):
                # A command that calls out (自检) must not hold a transaction, and with it
                # SQLite's write lock, while it waits: it only reads, so it runs first, alone.
                reply, status = self._decide_safely(first, msg, atomic=False)
                with database.atomic():
                    self._answer(first, msg, reply, status, now)
                self.on_queued()
                if replies is not None:
                    replies.append(reply)
                return 1
            began = time.perf_counter()
            downloads = False
            with database.atomic():
                inbound = first
                while True:
                    reply, status = self._decide_safely(inbound, msg)
                    self._answer(inbound, msg, reply, status, now)
                    answered.append(reply)
                    downloads |= bool(
                        msg.kind in FILE_KINDS and msg.file is None and msg.payload.get("media_id")
                    )
                    if len(answered) == len(rows) or time.perf_counter() - began > RUN_SECONDS:
                        break
                    inbound = rows[len(answered)]
                    msg = _incoming_from(inbound)
                    if msg.kind == "text" and not self._transactional(msg):
                        break  # it runs first in the next run, outside a transaction
                    now = self.clock.now()
        except LeaseLost as lost:
            log.warning(
                "inbound message %s was claimed by another worker after this one's lease "
                "lapsed: its work here is undone",
                lost.inbound_id,
            )
            return len(rows)
        self.on_queued()
        if downloads:
            self.on_download()
        if replies is not None:
            replies.extend(answered)
        return len(answered)

    def _decide_safely(self, inbound, msg, *, atomic: bool = True) -> tuple[str | None, str]:
        try:
            if not atomic:
                return self._decide(inbound, msg, second=self.second_reader), "done"
            with database.atomic():  # savepoint: a crash undoes the half-made change only
                return self._decide(inbound, msg), "done"
        except Exception:
            log.exception("inbound message %s crashed the handler", inbound.id)
            return self.renderer.snippet("errors.j2", "internal", ref=inbound.id), "failed"

    def _transactional(self, msg: Incoming) -> bool:
        if self.second_reader is not None:
            # A message the rules miss waits for the second reader: outside any transaction.
            ctx = self.context_for(msg.userid)
            if ctx.member is not None and wants_second_opinion(self.registry, ctx, msg.text):
                return False
        if not self.registry.may_call_out(msg.text):
            return True
        try:
            return runs_in_transaction(self.registry, self.context_for(msg.userid), msg.text)
        except Exception:  # reading failed: the transactional path answers it properly
            return True

    def _answer(self, inbound, msg, reply, status, now) -> None:
        """Mark the message processed and queue its reply (inside the caller's transaction);
        LeaseLost if the claim is no longer this worker's."""
        if not QUEUE.settle(inbound, status=status, processed_at=now):
            raise LeaseLost(inbound.id)
        if reply:
            card = getattr(reply, "card", None)
            if card:  # a yes/no question: buttons where WeCom shows them, the text elsewhere
                self.outbox.card(
                    now, userid=msg.userid, text=str(reply), dedupe_key=f"reply:{inbound.id}",
                    inbound=inbound, **card,
                )  # fmt: skip
            else:
                self.outbox.to_members([msg.userid], reply, f"reply:{inbound.id}", inbound=inbound)
            for message in getattr(reply, "after", ()):  # what the reply announces comes after it
                self.outbox.queue(**message)

    def context_for(self, userid: str, inbound: InboundMessage | None = None) -> Context:
        # WeCom may write a userid in another case than it was bound in: the bot acts under the
        # stored form (models/userids.py), so everything it records matches the member.
        member = find_member(userid, active=True)
        userid = member.wecom_userid if member is not None else form_in(self.config.admins, userid)
        is_admin = contains(self.config.admins, userid) or (
            member is not None and "admin" in member.roles
        )
        return Context(
            userid=userid,
            member=member,
            is_admin=is_admin,
            now=self.clock.now().astimezone(self.config.timezone),
            config=self.config,
            outbox=self.outbox,
            renderer=self.renderer,
            inbound=inbound,
            wecom=self.wecom,
        )

    def _decide(self, inbound: InboundMessage, msg: Incoming, second=None):
        ctx = self.context_for(msg.userid, inbound)
        if ctx.member is None and not ctx.is_admin:
            if msg.kind == "event":
                return None
            return ctx.say("errors.j2", "not_bound", userid=msg.userid)
        if msg.kind == "text":
            return dispatch(self.registry, ctx, msg.text, second)
        if msg.kind in FILE_KINDS:
            if msg.file is not None:
                return attach_file(ctx, msg.file, caption=msg.text)
            if msg.payload.get("media_id"):
                queue_download(ctx, inbound, msg.payload)  # answered when the download is settled
            return None
        if msg.kind == "event":
            event = str(msg.payload.get("event", "")).lower()
            if event == "enter_agent":
                return entered(ctx)
            if event == "template_card_event":
                return handle_card_click(ctx, msg.payload)
        return None


def _payload(msg: Incoming) -> dict | None:
    data = dict(msg.payload)
    if msg.file is not None:
        data["file"] = {
            "sha256": msg.file.sha256,
            "size": msg.file.size,
            "content_type": msg.file.content_type,
            "name": msg.file.original_name,
        }
    return data or None


def _incoming_from(row: InboundMessage) -> Incoming:
    payload = dict(row.payload or {})
    stored = payload.get("file")
    file = (
        StoredFile(stored["sha256"], stored["size"], stored["content_type"], stored["name"])
        if stored
        else None
    )
    return Incoming(
        row.transport, row.external_id, row.wecom_userid, row.kind, row.text, file, payload
    )
