"""Logging set-up: secrets, tokens and robot keys never reach a log line, on any handler.

Lines go to the terminal (standard error: the journal under systemd, WinSW's log on Windows)
and, when a file is named, to that file too, rotated by size with a cap on old files.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

from models.private import private_dir

_SECRETS = re.compile(r"(access_token|corpsecret|key|secret)=([^&\s'\"]+)", re.IGNORECASE)
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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


class ScrubFormatter(logging.Formatter):
    """The whole formatted line scrubbed, tracebacks included: an exception's text (a failed
    request's URL, say) can carry a token that the message itself never had."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def worker_log_file(path: Path) -> Path:
    """The worker's own file beside the web process's (bot.log -> bot-worker.log): two
    processes rotating one file would rename it under each other (and on Windows cannot)."""
    return path.with_name(f"{path.stem}-worker{path.suffix or '.log'}")


def configure_logging(
    level: int | str = logging.INFO,
    stream=None,
    *,
    file: Path | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    backups: int = 5,
) -> logging.Handler:
    """Replace the root logger's handlers; returns the terminal handler."""
    handler = logging.StreamHandler(stream)
    handlers: list[logging.Handler] = [handler]
    if file is not None:
        private_dir(Path(file).parent)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
            )
        )
    for each in handlers:
        each.setFormatter(ScrubFormatter(FORMAT))
        each.addFilter(ScrubFilter())
    root = logging.getLogger()
    for old in root.handlers:
        if isinstance(old, logging.handlers.RotatingFileHandler):
            old.close()  # ours, from an earlier call
    root.handlers[:] = handlers
    root.setLevel(level)
    # SQL parameters can hold the access token (it is stored in the database): never log them.
    logging.getLogger("peewee").setLevel(logging.WARNING)
    return handler
