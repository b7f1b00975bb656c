"""A transport that records what it was asked to deliver, and can be told to fail."""

from __future__ import annotations

from bot.transports.base import Outgoing, SendError


class RecordingTransport:
    name = "recording"

    def __init__(self):
        self.sent: list[Outgoing] = []
        self.failures: list[SendError] = []  # raised, in order, by the next sends

    def send(self, message: Outgoing) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)

    def texts_to(self, userid: str) -> list[str]:
        return [m.content["text"] for m in self.sent if userid in m.recipients]
