"""A table used as a queue of work with leases, on SQLite and PostgreSQL alike.

Rows wait in a `ready` status. A worker claims some by compare-and-set: one UPDATE takes due
rows to the `leased` status with a lease (a moment), and only rows still claimable when the
UPDATE reaches them are taken, so two workers never hold the same row. Whatever the worker then
writes about a row (an outcome, a retry, a hand-back) is written only while the lease is still
its own: the row still leased, with the lease it was given. A worker whose lease lapsed and
whose row someone else claimed meanwhile settles nothing. At the start of the single worker
(its lock says no one else runs) every leased row is handed back at once.

The outbox sender (bot/outbox), the inbound messages (bot/pipeline.py) and the media downloads
(bot/downloads.py) are three such queues.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import peewee

from models.db import is_postgres

M = TypeVar("M", bound=peewee.Model)


@dataclass(frozen=True)
class LeasedQueue(Generic[M]):
    """One table's queue. `lease` names the column holding the lease's end; `due`, when given,
    the column a ready row waits for (NULL: at once). They may be the same column (a download
    keeps its next attempt and its lease in one): a lease then ends where the next attempt
    begins, and a row handed back is due at once. `order` is the order rows are claimed in."""

    model: type[M]
    ready: str
    leased: str
    lease: str = "lease_until"
    due: str | None = None
    order: tuple[str, ...] = ("id",)
    status: str = "status"

    def _field(self, name: str) -> peewee.Field:
        return self.model._meta.fields[name]

    @property
    def _shared(self) -> bool:
        """The lease is kept in the due column (no column of its own to clear)."""
        return self.due == self.lease

    # ------------------------------------------------------------------ conditions

    def lapsed(self, now: datetime) -> peewee.Expression:
        """Rows leased by a worker whose lease has ended (a lease until T is over at T)."""
        return (self._field(self.status) == self.leased) & (self._field(self.lease) <= now)

    def claimable(self, now: datetime) -> peewee.Expression:
        """Ready rows that are due, and rows whose lease has lapsed."""
        ready = self._field(self.status) == self.ready
        if self.due is not None:
            due = self._field(self.due)
            ready &= due.is_null() | (due <= now)
        return ready | self.lapsed(now)

    def _key(self) -> peewee.Field:
        key: peewee.Field = self.model._meta.primary_key  # type: ignore[assignment]
        return key

    def _ours(self, lease: datetime | None) -> peewee.Expression:
        return (self._field(self.status) == self.leased) & (self._field(self.lease) == lease)

    # ------------------------------------------------------------------ claiming

    def claim(
        self,
        now: datetime,
        lease: timedelta,
        limit: int = 1,
        *,
        where: peewee.Expression | None = None,
        also: dict[str, Any] | None = None,
    ) -> list[M]:
        """Claim up to `limit` claimable rows (and `where`) in `order`, leased until now + lease;
        `also`: more columns to set in the same UPDATE (e.g. attempts + 1). Returns the claimed
        rows as they are now, by id. One statement, in a transaction of its own (or a savepoint
        of the caller's): the UPDATE checks again that each chosen row is claimable, so a row
        another worker took between the choice and the write is not taken. On PostgreSQL the
        chosen rows are locked and rows another claim has locked are skipped (SKIP LOCKED), so
        concurrent claims neither wait on nor take each other's rows.

        The choice is a CTE, not `id IN (SELECT … LIMIT n)`: PostgreSQL may run such a subquery
        again while the UPDATE proceeds, and a locking subquery run again skips the rows this
        same UPDATE has just changed and picks the next ones, so more than `limit` rows were
        claimed. A CTE that locks is run once."""
        model = self.model
        key: peewee.Field = model._meta.primary_key  # type: ignore[assignment]
        condition = self.claimable(now)
        if where is not None:
            condition &= where
        query = (
            model.select(key)
            .where(condition)
            .order_by(*(self._field(name) for name in self.order))
            .limit(limit)
        )
        if is_postgres():
            query = query.for_update("FOR UPDATE SKIP LOCKED")  # type: ignore[arg-type]
        chosen = query.cte("chosen")
        values = {
            self._field(self.status): self.leased,
            self._field(self.lease): now + lease,
            **{self._field(name): value for name, value in (also or {}).items()},
        }
        with model._meta.database.atomic():
            rows = list(
                model.update(values)
                .with_cte(chosen)
                .where(key.in_(chosen.select(chosen.c[key.column_name])) & self.claimable(now))
                .returning(model)
                .execute()
            )
        rows.sort(key=lambda row: row.get_id())
        return rows

    # ------------------------------------------------------------------ while the lease holds

    def settle(self, row: peewee.Model, **values: Any) -> bool:
        """Write `values` to a claimed row while its lease is still the one it was claimed with;
        False (nothing written) if the lease lapsed and someone claimed the row since. A lease
        column of its own is cleared unless `values` set it. Runs in the caller's transaction."""
        if not self._shared:
            values.setdefault(self.lease, None)
        lease = getattr(row, self.lease)
        updated = (
            self.model.update({self._field(k): v for k, v in values.items()})
            .where((self.model._meta.primary_key == row.get_id()) & self._ours(lease))
            .execute()
        )
        return bool(updated)

    def hand_back(self, rows: Iterable[peewee.Model], now: datetime, **values: Any) -> int:
        """Claimed rows not worked on go back to ready at once (due now), each only while its
        lease is still ours; `values`: more columns to set (e.g. attempts - 1). Returns how
        many went back."""
        by_lease: dict[Any, list] = {}
        for row in rows:
            by_lease.setdefault(getattr(row, self.lease), []).append(row.get_id())
        if not by_lease:
            return 0
        changes = self._back(now, values)
        handed = 0
        with self.model._meta.database.atomic():
            for lease, ids in by_lease.items():
                handed += (
                    self.model.update(changes)
                    .where(self._key().in_(ids) & self._ours(lease))
                    .execute()
                )
        return handed

    def release_all(self, now: datetime) -> int:
        """Every leased row back to ready, due now: only when the caller knows no one else holds
        any (the single worker at its start, by its lock). A row a dead worker was sending may
        have been done just before it died; the caller's resend must make that harmless."""
        with self.model._meta.database.atomic():
            return (
                self.model.update(self._back(now, {}))
                .where(self._field(self.status) == self.leased)
                .execute()
            )

    def _back(self, now: datetime, values: dict[str, Any]) -> dict[peewee.Field, Any]:
        changes: dict[str, Any] = {self.status: self.ready}
        if self._shared:
            changes[self.lease] = now
        else:
            changes[self.lease] = None
        changes.update(values)
        return {self._field(k): v for k, v in changes.items()}
