"""Test helpers: drive the bot like a chat, and snapshot the database to prove nothing changed."""

from __future__ import annotations

import contextlib
import itertools
import threading
from contextlib import contextmanager

from waitress import create_server

from bot.pipeline import Incoming
from bot.services import Services
from bot.web import create_app
from models.messages import OutboxMessage
from models.schema import ALL_MODELS

_ids = itertools.count(1)


class ChatDriver:
    """Sends messages through the real pipeline and delivers the outbox through the transport."""

    def __init__(self, services: Services):
        self.services = services
        self.transport = services.transport

    def say(self, userid: str, text: str) -> str:
        handled = self.services.pipeline.handle(
            Incoming("test", f"m{next(_ids)}", userid, kind="text", text=text)
        )
        assert not handled.duplicate
        replies = OutboxMessage.select().where(
            (OutboxMessage.inbound == handled.inbound_id)
            & (OutboxMessage.dedupe_key.startswith("reply:"))
        )
        assert replies.count() == 1, "the bot must answer each message exactly once"
        return handled.reply

    def deliver(self) -> list:
        before = len(self.transport.sent)
        self.services.sender.drain()
        return self.transport.sent[before:]

    def bind(self, userid: str, unit: str, role: str = "联络员") -> str:
        reply = self.say("boss", f"绑定 {userid} {unit} {role}")
        assert "已" in reply and "绑定" in reply, reply
        return reply


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table except the message log tables, for 'changes nothing' checks."""
    skip = {"inbound_message", "outbox_message"}
    result = {}
    for model in ALL_MODELS:
        if model._meta.table_name in skip:
            continue
        result[model._meta.table_name] = sorted(
            model.select().order_by(model._meta.primary_key).tuples()
        )
    return result


def outbox_besides_replies() -> int:
    return OutboxMessage.select().where(~OutboxMessage.dedupe_key.startswith("reply:")).count()


def stop_waitress(server, thread) -> None:
    """Stop a waitress server running in `thread`: close its sockets from inside its own loop
    (closing them from here races the loop's select() and raises EBADF there)."""
    from waitress import wasyncore

    # OSError: the loop has already closed its trigger, there is nothing left to wake.
    with contextlib.suppress(OSError):
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
    thread.join(timeout=10)
    server.task_dispatcher.shutdown()


@contextmanager
def running(services, idle=0.05):
    """The real WSGI app under waitress on port 0, with the outbox sender, the inbound worker
    and download threads running in threads of this process, as run.py's worker runs them."""
    from bot.services import DOWNLOAD_THREADS

    stop = threading.Event()
    threads = [
        threading.Thread(target=services.sender.loop, args=(stop, idle), daemon=True),
        threading.Thread(target=services.worker_loop, args=(stop, idle), daemon=True),
    ] + [
        threading.Thread(target=services.download_loop, args=(stop, idle), daemon=True)
        for _ in range(DOWNLOAD_THREADS)
    ]
    for thread in threads:
        thread.start()
    server = create_server(create_app(services), host="127.0.0.1", port=0, threads=4)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop.set()
        services.sender.notify()
        services.worker_wake()
        services.downloads.set()
        stop_waitress(server, serving)
        for thread in threads:
            thread.join(timeout=5)
