"""The leased queue (models/leases.py) on a table of its own, on SQLite and PostgreSQL alike:
claims by compare-and-set, hand-backs and outcomes only while the lease is the claimer's, and
the hand-back of everything at the single worker's start."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import peewee
import pytest

from models.db import BaseModel, UTCDateTimeField, database, make_database
from models.leases import LeasedQueue

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


class Job(BaseModel):
    name = peewee.CharField(max_length=16)
    status = peewee.CharField(max_length=16, default="ready", index=True)
    lease_until = UTCDateTimeField(null=True)
    due_at = UTCDateTimeField(null=True)
    attempts = peewee.IntegerField(default=0)
    lane = peewee.CharField(max_length=8, default="a")

    class Meta:
        table_name = "test_leased_job"


QUEUE = LeasedQueue(Job, ready="ready", leased="taken", due="due_at")
# A download's way: the lease kept in the column the next attempt is due by.
SHARED = LeasedQueue(Job, ready="ready", leased="taken", lease="due_at", due="due_at")


@pytest.fixture
def jobs(db):
    db.create_tables([Job])
    yield Job
    db.drop_tables([Job])


def add(*names: str, **values) -> list[Job]:
    return [Job.create(name=name, **values) for name in names]


def statuses() -> dict[str, str]:
    return {job.name: job.status for job in Job.select()}


def test_claims_due_rows_in_order_up_to_the_limit_and_leases_them(jobs):
    add("a", "b", "c")
    add("later", due_at=T0 + timedelta(minutes=5))
    claimed = QUEUE.claim(T0, LEASE, 2)
    assert [job.name for job in claimed] == ["a", "b"]
    assert {job.status for job in claimed} == {"taken"}
    assert {job.lease_until for job in claimed} == {T0 + LEASE}
    assert [job.name for job in QUEUE.claim(T0, LEASE, 5)] == ["c"], "not due yet: later"
    assert QUEUE.claim(T0, LEASE, 5) == []
    five = T0 + timedelta(minutes=5)  # "later" is due, the others' leases have lapsed
    assert [job.name for job in QUEUE.claim(five, LEASE, 5)] == ["a", "b", "c", "later"]


def test_a_claim_takes_no_more_than_its_limit_however_many_are_due(jobs):
    """PostgreSQL may run an `IN (SELECT … LIMIT n FOR UPDATE)` again mid-UPDATE and take more
    than n rows (it did, with 25 due and a limit of 20): the choice must be made once."""
    Job.insert_many([{"name": f"j{i:02}"} for i in range(60)]).execute()
    first = QUEUE.claim(T0, LEASE, 20, also={"attempts": Job.attempts + 1})
    assert [job.name for job in first] == [f"j{i:02}" for i in range(20)]
    assert Job.select().where(Job.status == "taken").count() == 20
    assert len(QUEUE.claim(T0, LEASE, 25)) == 25
    assert len(QUEUE.claim(T0, LEASE, 25)) == 15
    assert Job.select().where(Job.attempts > 1).count() == 0


def test_a_claim_sets_more_columns_and_takes_only_what_where_allows(jobs):
    add("a", lane="x")
    add("b", lane="y")
    (claimed,) = QUEUE.claim(
        T0, LEASE, 5, where=Job.lane == "y", also={"attempts": Job.attempts + 1}
    )
    assert (claimed.name, claimed.attempts) == ("b", 1)
    assert Job.get(Job.name == "b").attempts == 1 and Job.get(Job.name == "a").attempts == 0


def test_a_claim_orders_by_the_queues_columns(jobs):
    add("first", due_at=T0 - timedelta(minutes=1))
    add("second", due_at=T0 - timedelta(minutes=3))
    by_due = LeasedQueue(Job, ready="ready", leased="taken", due="due_at", order=("due_at", "id"))
    assert [job.name for job in by_due.claim(T0, LEASE)] == ["second"]


def test_a_lapsed_lease_is_claimed_again_and_the_first_claimer_settles_nothing(jobs):
    add("a")
    (first,) = QUEUE.claim(T0, LEASE)
    assert QUEUE.claim(T0 + LEASE - timedelta(seconds=1), LEASE) == [], "still leased"
    (second,) = QUEUE.claim(T0 + LEASE, LEASE)  # a lease until T is over at T
    assert second.id == first.id and second.lease_until == T0 + 2 * LEASE
    assert not QUEUE.settle(first, status="done")
    assert QUEUE.hand_back([first], T0 + LEASE) == 0
    assert statuses() == {"a": "taken"}
    assert QUEUE.settle(second, status="done")
    job = Job.get()
    assert (job.status, job.lease_until) == ("done", None), "the lease column is cleared"
    assert not QUEUE.settle(second, status="ready"), "settled once"


def test_a_lease_that_lapsed_unclaimed_is_still_the_claimers(jobs):
    """The lease is compared, not the time: nobody took the row, so the outcome is written."""
    add("a")
    (claimed,) = QUEUE.claim(T0, LEASE)
    assert QUEUE.settle(claimed, status="done", due_at=T0 + timedelta(hours=1))
    assert Job.get().due_at == T0 + timedelta(hours=1)


def test_hand_back_returns_untried_rows_at_once_and_counts_as_asked(jobs):
    add("a", "b", "c", due_at=T0 - timedelta(minutes=1))
    claimed = QUEUE.claim(T0, LEASE, 3, also={"attempts": Job.attempts + 1})
    assert QUEUE.hand_back(claimed[1:], T0, attempts=Job.attempts - 1) == 2
    back = {job.name: job for job in Job.select()}
    assert (back["b"].status, back["b"].lease_until, back["b"].attempts) == ("ready", None, 0)
    assert back["a"].status == "taken" and back["a"].attempts == 1
    assert [job.name for job in QUEUE.claim(T0, LEASE, 5)] == ["b", "c"]
    assert QUEUE.hand_back([], T0) == 0


def test_with_the_lease_in_the_due_column_a_hand_back_is_due_now(jobs):
    add("a", due_at=T0)
    (claimed,) = SHARED.claim(T0, LEASE)
    assert claimed.due_at == T0 + LEASE
    later = T0 + timedelta(seconds=30)
    assert SHARED.hand_back([claimed], later) == 1
    job = Job.get()
    assert (job.status, job.due_at) == ("ready", later)
    (again,) = SHARED.claim(later, LEASE)
    assert SHARED.settle(again, status="ready", due_at=later + timedelta(minutes=4))
    assert Job.get().due_at == later + timedelta(minutes=4), "the column is not cleared"


def test_release_all_hands_back_every_leased_row_and_nothing_else(jobs):
    add("a", "b", "c")
    add("done", status="done")
    QUEUE.claim(T0, LEASE, 2)
    assert QUEUE.release_all(T0) == 2
    assert statuses() == {"a": "ready", "b": "ready", "c": "ready", "done": "done"}
    assert {job.lease_until for job in Job.select()} == {None}


def test_concurrent_claims_never_take_a_row_twice(jobs, db_url):
    """Four threads, each with its own connection, claim until nothing is left: every row is
    taken exactly once (SQLite's write lock; PostgreSQL's row locks and SKIP LOCKED)."""
    Job.insert_many([{"name": f"j{i}"} for i in range(120)]).execute()
    database.close()  # each thread opens its own connection
    taken: list[list[int]] = []
    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def claimer():
        mine: list[int] = []
        try:
            start.wait()
            while True:
                claimed = QUEUE.claim(T0, LEASE, 7)
                if not claimed:
                    break
                mine += [job.id for job in claimed]
        except BaseException as exc:  # surfaced below
            failures.append(exc)
        finally:
            database.close()
            taken.append(mine)

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    database.connect(reuse_if_open=True)
    assert failures == []
    every = [job_id for mine in taken for job_id in mine]
    assert sorted(every) == sorted(job.id for job in Job.select())
    assert len(every) == len(set(every)) == 120


def test_a_second_process_style_handle_sees_the_claim(jobs, db_url):
    """Another connection (another worker) finds nothing to claim while the lease holds, and
    takes the row once it lapsed; the first worker's outcome is then refused."""
    add("a")
    (mine,) = QUEUE.claim(T0, LEASE)
    other = make_database(db_url)
    with other.connection_context(), other.bind_ctx([Job]):
        assert QUEUE.claim(T0 + timedelta(seconds=1), LEASE) == []
        (theirs,) = QUEUE.claim(T0 + LEASE, LEASE)
        assert theirs.id == mine.id
    assert not QUEUE.settle(mine, status="done")
    assert statuses() == {"a": "taken"}
