"""What the web app's routes use, held by the app as one object (`app.extensions["duban"]`)
rather than captured in closures: built once by `create_app`, read with `deps()`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app

from bot.clock import Clock
from bot.config import Config
from bot.evidence import EvidenceStore
from bot.pipeline import Pipeline
from bot.render import Renderer
from bot.transports.wecom.callback import WeComCallback

EXTENSION = "duban"


@dataclass(frozen=True)
class WebDeps:
    config: Config
    clock: Clock
    renderer: Renderer
    pipeline: Pipeline
    evidence: EvidenceStore
    # The WeCom client (the board's sign-in asks WeCom who came back), built on first use;
    # None without WeCom.
    client: Any | None
    # WeCom's callback (crypto and parser), None without WeCom: /wecom/callback is then a 404.
    callback: WeComCallback | None
    wake_worker: Callable[[], None]  # a message was recorded: the worker should look
    # Put in every page this process serves and required on every sandbox API call: another
    # site cannot read the page, so it cannot send the token (a restart makes open pages stale).
    page_token: str
    started_at: datetime  # for /healthz
    per_request_connection: bool  # PostgreSQL: a connection per request (see app.py)


def deps() -> WebDeps:
    """The app's dependencies, inside a request."""
    return current_app.extensions[EXTENSION]
