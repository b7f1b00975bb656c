"""The group-commit writer: every caller returns only after its own row is committed."""

import threading

import pytest

from bot.recorder import BatchRecorder
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
