"""The group-commit writer: every caller returns only after its own row is committed."""

import os
import stat
import threading
import time

import peewee
import pytest

from bot import recorder as recorder_module
from bot.recorder import BatchRecorder, JournalFull
from models.db import database
from models.messages import InboundMessage


def _values(clock, external_id):
    return {
        "transport": "wecom",
        "external_id": external_id,
        "wecom_userid": "li",
        "kind": "text",
        "text": "帮助",
        "payload": None,
        "received_at": clock.now(),
        "status": "received",
        "lease_until": None,
    }


@pytest.fixture
def recorder(db):
    recorder = BatchRecorder(max_batch=8)
    db.close()  # the writer thread and the callers use their own connections
    thread = threading.Thread(target=recorder.run, daemon=True)
    thread.start()
    yield recorder
    recorder.stop()
    thread.join(timeout=5)
    database.connect(reuse_if_open=True)


def test_concurrent_callers_each_get_their_id_and_replays_get_none(recorder, clock):
    results: dict[str, int | None] = {}
    lock = threading.Lock()

    def call(name):
        with database.connection_context():
            value = recorder.record(**_values(clock, name))
        with lock:
            results.setdefault(name, value) if value is not None else results.setdefault(
                f"dup-{name}", value
            )

    names = [f"m{i}" for i in range(40)]
    threads = [threading.Thread(target=call, args=(n,)) for n in names + names[:10]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [results[n] for n in names]
    assert len(set(ids)) == 40 and all(isinstance(i, int) for i in ids)
    assert sum(1 for k in results if k.startswith("dup-")) == 10
    with database.connection_context():
        assert InboundMessage.select().count() == 40


def test_a_failing_row_fails_alone(recorder, clock):
    bad = _values(clock, "x")
    bad["payload"] = {"x": object()}  # cannot be stored as JSON
    good = _values(clock, "y")
    errors, ids = [], []

    def call(values):
        try:
            with database.connection_context():
                ids.append(recorder.record(**values))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(v,)) for v in (bad, good)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 1 and len(ids) == 1


# ---------------------------------------------------------------------- the journal


@pytest.fixture
def journaled(db, tmp_path):
    """A recorder with a journal, its writer not started until the test says so."""
    recorder = BatchRecorder(max_batch=8, journal=tmp_path / "inbound.journal")
    recorder.first_retry = 0.05
    recorder.committed = threading.Event()
    recorder.on_committed = recorder.committed.set
    recorder.open_journal()
    db.close()
    started: list[threading.Thread] = []

    def start():
        thread = threading.Thread(target=recorder.run, daemon=True)
        thread.start()
        started.append(thread)

    recorder.start = start
    yield recorder
    recorder.stop()
    for thread in started:
        thread.join(timeout=5)
    recorder.close_journal()
    database.connect(reuse_if_open=True)


def _lines(path) -> list[bytes]:
    return [line for line in path.read_bytes().split(b"\n") if line]


def test_accept_returns_once_the_line_is_written_and_the_writer_commits_it(journaled, clock):
    journaled.accept(**_values(clock, "j1"))  # the writer is not even running yet
    (line,) = _lines(journaled.journal_path)
    assert b'"external_id":"j1"' in line and journaled.backlog() == 1
    with database.connection_context():
        assert not InboundMessage.select().exists()
    journaled.start()
    assert journaled.committed.wait(10)
    with database.connection_context():
        row = InboundMessage.get(InboundMessage.external_id == "j1")
    assert row.received_at == clock.now() and row.status == "received"
    assert journaled.backlog() == 0
    journaled.stop()
    journaled.close_journal()
    assert not journaled.journal_path.exists(), "all committed: nothing left to replay"


def test_a_journal_left_by_a_killed_process_is_replayed_once(db, tmp_path, clock):
    path = tmp_path / "inbound.journal"
    InboundMessage.record(**_values(clock, "old"))  # committed before the kill
    from bot.recorder import _line

    cut = _line(_values(clock, "cut"))[:-9]  # the write the kill interrupted: never answered
    path.write_bytes(_line(_values(clock, "old")) + _line(_values(clock, "new")) + cut)
    recorder = BatchRecorder(journal=path)
    assert recorder.open_journal() == 1
    recorder.close_journal()
    stored = sorted(r.external_id for r in InboundMessage.select())
    assert stored == ["new", "old"], "the cut line is not there; the committed one not twice"
    assert not path.exists()


def test_a_journal_found_while_the_database_is_away_waits_for_the_writer(db, tmp_path, clock):
    """Started before the database (a reboot): the journal's lines are not replayed at start
    but queued, new callbacks are appended after them (after the cut line is cut off), and
    the writer puts them all in once it runs; one committed before is not added twice."""
    from bot.recorder import _line

    path = tmp_path / "inbound.journal"
    InboundMessage.record(**_values(clock, "old"))
    cut = _line(_values(clock, "cut"))[:-9]
    path.write_bytes(_line(_values(clock, "old")) + _line(_values(clock, "left")) + cut)
    recorder = BatchRecorder(journal=path)
    committed = threading.Event()
    recorder.on_committed = committed.set
    db.close()
    assert recorder.open_journal(replay=False) == 2
    recorder.accept(**_values(clock, "new"))
    assert [line.split(b'"external_id":"')[1].split(b'"')[0] for line in _lines(path)] == [
        b"old",
        b"left",
        b"new",
    ], "the cut line is gone, the new one starts a line of its own"
    assert recorder.backlog() == 3
    writer = threading.Thread(target=recorder.run, daemon=True)
    writer.start()
    assert committed.wait(10)
    deadline = time.monotonic() + 10
    while recorder.backlog() and time.monotonic() < deadline:
        time.sleep(0.01)
    recorder.stop()
    writer.join(timeout=5)
    recorder.close_journal()
    database.connect(reuse_if_open=True)
    assert sorted(r.external_id for r in InboundMessage.select()) == ["left", "new", "old"]
    assert not path.exists(), "all committed"


def test_while_the_database_is_away_callbacks_are_accepted_and_go_in_after(
    journaled, clock, monkeypatch
):
    real = InboundMessage.insert_all_ignoring
    outage = {"left": 4}  # failed attempts (each pass tries twice, reconnecting between)

    def flaky(rows):
        if outage["left"]:
            outage["left"] -= 1
            raise peewee.OperationalError("server closed the connection unexpectedly")
        return real(rows)

    monkeypatch.setattr(InboundMessage, "insert_all_ignoring", flaky)
    journaled.start()
    for n in range(20):
        journaled.accept(**_values(clock, f"d{n}"))  # never waits for the database
    assert journaled.committed.wait(10)
    deadline = time.monotonic() + 10
    while journaled.backlog() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert outage["left"] == 0 and journaled.backlog() == 0
    with database.connection_context():
        assert InboundMessage.select().count() == 20


def test_a_long_outage_fills_the_journal_and_then_callbacks_are_refused(
    journaled, clock, monkeypatch
):
    monkeypatch.setattr(recorder_module, "MAX_QUEUED", 3)
    for n in range(3):
        journaled.accept(**_values(clock, f"f{n}"))
    with pytest.raises(JournalFull):
        journaled.accept(**_values(clock, "f3"))
    assert len(_lines(journaled.journal_path)) == 3, "a refused callback is not journaled"
    journaled.start()  # the database answers: the three go in, the next callback is taken
    assert journaled.committed.wait(10)
    journaled.accept(**_values(clock, "f3"))


def test_the_database_going_away_during_the_one_by_one_retry_loses_nothing(
    journaled, clock, monkeypatch
):
    """A batch fails for a bad row, and while its rows are tried one by one the connection
    drops: the journaled rows not yet in wait for the database, they are not given up."""
    real_many, real_one = InboundMessage.insert_all_ignoring, InboundMessage.record
    failures = {"many": 1, "one": 1}

    def many(rows):
        if failures["many"]:
            failures["many"] -= 1
            raise peewee.IntegrityError("a bad row somewhere in the batch")
        return real_many(rows)

    def one(**values):
        if failures["one"]:
            failures["one"] -= 1
            raise peewee.OperationalError("server closed the connection unexpectedly")
        return real_one(**values)

    monkeypatch.setattr(InboundMessage, "insert_all_ignoring", many)
    monkeypatch.setattr(InboundMessage, "record", one)
    for n in range(3):
        journaled.accept(**_values(clock, f"g{n}"))
    journaled.start()
    deadline = time.monotonic() + 10
    while journaled.backlog() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert failures == {"many": 0, "one": 0} and journaled.backlog() == 0
    with database.connection_context():
        assert sorted(r.external_id for r in InboundMessage.select()) == ["g0", "g1", "g2"]


@pytest.mark.skipif(os.name != "posix", reason="mode bits mean nothing on Windows")
def test_the_journal_is_owner_only(journaled):
    assert stat.S_IMODE(os.stat(journaled.journal_path).st_mode) == 0o600
