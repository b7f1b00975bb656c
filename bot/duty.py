"""A duty only one process of the deployment may do at a time (the sender, the scheduler),
held under a lease in the database (models/duty.py) and checked again often: at least every
RECHECK while working, and at once after the database was away (a reconnect may follow a
killed connection, and someone else may have taken over meanwhile)."""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import secrets
from datetime import datetime, timedelta

from bot.clock import Clock
from models.duty import Holder, give_up, take_or_renew

log = logging.getLogger(__name__)

RECHECK = timedelta(seconds=5)


def holder_here(name: str, data_dir: object = "") -> Holder:
    """This process as a holder. Its place is the host and the data folder, whose worker lock
    says no other worker of that place runs (two data folders on one host are two places)."""
    host = platform.node() or "localhost"
    pid = os.getpid()
    digest = hashlib.sha1(str(data_dir).encode()).hexdigest()[:8]
    place = f"{host}/{digest}"
    return Holder(f"{place}:{pid}:{name}:{secrets.token_hex(4)}", host, pid, place)


class Duty:
    """One process's claim on a duty."""

    def __init__(self, name: str, clock: Clock, holder: Holder | None = None, data_dir=""):
        self.name = name
        self.clock = clock
        self.me = holder or holder_here(name, data_dir)
        self._checked: datetime | None = None  # when the lease was last confirmed mine
        self._held = False

    def held(self) -> bool:
        """Mine now? Renews (or takes) the lease when the last look is older than RECHECK."""
        now = self.clock.now()
        if self._held and self._checked is not None and now - self._checked < RECHECK:
            return True  # (a "no" is asked again each time: a free lease is taken at once)
        was = self._held
        self._held = take_or_renew(self.name, self.me, now)
        self._checked = now
        if was and not self._held:
            log.warning("the %s lease went to another process: this one stops", self.name)
        return self._held

    def take_from_my_host(self) -> bool:
        """At a worker's start, when its host lock says no other worker of this host runs: a
        lease this host's dead worker left is taken at once, not after it runs out."""
        now = self.clock.now()
        self._held = take_or_renew(self.name, self.me, now, from_my_host=True)
        self._checked = now
        return self._held

    def recheck(self) -> None:
        """The database was away: look again before doing anything more."""
        self._checked = None

    def release(self) -> None:
        if self._held:
            give_up(self.name, self.me)
        self._held = False
        self._checked = None
