"""Outside HTTP calls: one session type that refuses to run inside a database transaction."""

from __future__ import annotations

import logging
import os

import requests

from bot.transports.wecom.errors import scrub
from models.db import database

log = logging.getLogger(__name__)

# Set by the test suite (tests/conftest.py), for its subprocesses too: an outside call made
# inside a database transaction is then an error, not only a log line (docs/layers.md).
STRICT_ENV = "DUBAN_STRICT_LAYERS"


class OutsideTransactions(requests.Session):
    """Every outside HTTP call goes through one of these (the WeCom client's, 自检's probe of
    the board), and none may be made inside a database transaction. On SQLite it would hold
    the one write lock for a network round trip, on PostgreSQL a row lock, while the peer
    takes its time."""

    def request(self, method, url, *args, **kwargs):
        if database.in_transaction():
            where = scrub(url.split("?", 1)[0])
            log.error("an outside call (%s %s) inside a database transaction", method, where)
            if os.environ.get(STRICT_ENV) == "1":
                raise RuntimeError(f"outside call inside a database transaction: {method} {where}")
        return super().request(method, url, *args, **kwargs)
