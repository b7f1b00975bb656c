"""One path for every inbound message, whatever the transport:
record (a replay is a no-op) -> decide (commands, files, events) -> reply through the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bot.clock import Clock
from bot.commands import REGISTRY
from bot.commands.evidence import attach_file
from bot.commands.registry import Context, Registry
from bot.config import Config
from bot.evidence import StoredFile
from bot.outbox import Outbox
from bot.render import Renderer
from models.db import database
from models.messages import InboundMessage
from models.org import Member

log = logging.getLogger(__name__)

FILE_KINDS = ("file", "image", "voice", "video")


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


class Pipeline:
    def __init__(
        self,
        config: Config,
        clock: Clock,
        renderer: Renderer,
        *,
        registry: Registry = REGISTRY,
        on_queued: Callable[[], None] = lambda: None,
    ):
        self.config = config
        self.clock = clock
        self.renderer = renderer
        self.registry = registry
        self.outbox = Outbox(clock)
        self.on_queued = on_queued

    def handle(self, msg: Incoming) -> Handled:
        # PostgreSQL text cannot hold NUL; it is never meaningful in a chat message.
        msg = replace(
            msg,
            text=msg.text.replace("\x00", ""),
            userid=msg.userid.replace("\x00", ""),
            external_id=msg.external_id.replace("\x00", ""),
        )
        now = self.clock.now()
        with database.atomic():
            inserted = (
                InboundMessage.insert(
                    transport=msg.transport,
                    external_id=msg.external_id[:128],
                    wecom_userid=msg.userid[:64],
                    kind=msg.kind,
                    text=msg.text,
                    payload=_payload(msg),
                    received_at=now,
                )
                .on_conflict_ignore()
                .as_rowcount()
                .execute()
            )
            if not inserted:
                return Handled(duplicate=True)
            inbound = InboundMessage.get(
                (InboundMessage.transport == msg.transport)
                & (InboundMessage.external_id == msg.external_id[:128])
            )
            status = "done"
            try:
                with database.atomic():  # savepoint: a crash undoes the half-made change only
                    reply = self._decide(inbound, msg, now)
            except Exception:
                log.exception("inbound message %s crashed the handler", inbound.id)
                reply = self.renderer.snippet("errors.j2", "internal", ref=inbound.id)
                status = "failed"
            if reply:
                self.outbox.to_members([msg.userid], reply, f"reply:{inbound.id}", inbound=inbound)
            InboundMessage.update(status=status, processed_at=now).where(
                InboundMessage.id == inbound.id
            ).execute()
        self.on_queued()
        return Handled(duplicate=False, inbound_id=inbound.id, reply=reply)

    def context_for(self, userid: str, inbound: InboundMessage | None = None) -> Context:
        member = Member.get_or_none((Member.wecom_userid == userid) & (Member.active == True))  # noqa: E712
        is_admin = userid in self.config.admins or (member is not None and member.role == "admin")
        return Context(
            userid=userid,
            member=member,
            is_admin=is_admin,
            now=self.clock.now().astimezone(self.config.timezone),
            config=self.config,
            outbox=self.outbox,
            renderer=self.renderer,
            inbound=inbound,
        )

    def _decide(self, inbound: InboundMessage, msg: Incoming, now) -> str | None:
        ctx = self.context_for(msg.userid, inbound)
        if ctx.member is None and not ctx.is_admin:
            if msg.kind == "event":
                return None
            return ctx.say("errors.j2", "not_bound", userid=msg.userid)
        if msg.kind == "text":
            return self.registry.dispatch(ctx, msg.text)
        if msg.kind in FILE_KINDS and msg.file is not None:
            return attach_file(ctx, msg.file, caption=msg.text)
        if msg.kind == "event" and msg.payload.get("event") == "enter_agent":
            return self.registry.dispatch(ctx, "帮助")
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
