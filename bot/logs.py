"""Logging set-up: secrets, tokens and robot keys never reach a log line."""

from __future__ import annotations

import logging
import re

_SECRETS = re.compile(r"(access_token|corpsecret|key|secret)=([^&\s'\"]+)", re.IGNORECASE)


def scrub(text: str) -> str:
    """Tokens, secrets and robot keys travel in URLs: never let them reach a log or a chat."""
    return _SECRETS.sub(lambda m: f"{m.group(1)}=***", str(text))


class ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


def configure_logging(level: int = logging.INFO, stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ScrubFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # SQL parameters can hold the access token (it is stored in the database): never log them.
    logging.getLogger("peewee").setLevel(logging.WARNING)
    return handler
