"""The browser sandbox transport: "delivers" by making a sent outbox row visible on /sandbox.

The sandbox page reads final outbox rows (the record of what left), so a message shows there only
after the same sender loop a WeCom message goes through has handed it over here.
"""

from __future__ import annotations

from bot.transports.base import Outgoing, PermanentSendError


class SandboxTransport:
    name = "sandbox"

    def send(self, message: Outgoing) -> None:
        if message.channel == "member" and not message.recipients:
            raise PermanentSendError("没有收件人")
        if "text" not in message.content:
            raise PermanentSendError("消息没有正文")
