"""The browser sandbox transport: "delivers" by making a sent outbox row visible on /sandbox.

The sandbox page reads sent rows from the outbox (the record of what left), so a message shows
there only after the same sender loop a WeCom message goes through has handed it over here.
"""

from __future__ import annotations

import threading

from bot.transports.base import Outgoing, PermanentSendError


class SandboxTransport:
    name = "sandbox"

    def __init__(self):
        self._changed = threading.Condition()
        self.delivered = 0

    def send(self, message: Outgoing) -> None:
        if message.channel == "member" and not message.recipients:
            raise PermanentSendError("没有收件人")
        if "text" not in message.content:
            raise PermanentSendError("消息没有正文")
        with self._changed:
            self.delivered += 1
            self._changed.notify_all()

    def wait_for_delivery(self, seen: int, timeout: float) -> int:
        """Block until more than `seen` messages were delivered (for the page's long poll)."""
        with self._changed:
            self._changed.wait_for(lambda: self.delivered > seen, timeout=timeout)
            return self.delivered
