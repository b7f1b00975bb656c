"""The outbox: dedupe, claim with a lease, retry with backoff, permanent failure, lease expiry."""

from datetime import timedelta

from fakes.transport import RecordingTransport

from bot.outbox import Outbox, OutboxSender, outbox_counts
from bot.transports.base import PermanentSendError, TransientSendError
from models.messages import OutboxMessage


def test_queue_is_idempotent_by_dedupe_key(db, clock):
    outbox = Outbox(clock)
    assert outbox.to_members(["b", "a", "a"], "hi", "k1")
    assert not outbox.to_members(["a"], "again", "k1")
    row = OutboxMessage.get()
    assert (row.recipient, row.content, row.status) == ("a|b", {"text": "hi"}, "pending")


def test_sender_sends_in_order_and_marks_sent(db, clock):
    outbox, transport = Outbox(clock), RecordingTransport()
    for n in range(3):
        outbox.to_members(["a"], f"m{n}", f"k{n}")
    outbox.to_group("周报", "g1")
    stats = OutboxSender(transport, clock).drain()
    assert stats.sent == 4
    assert [m.content["text"] for m in transport.sent] == ["m0", "m1", "m2", "周报"]
    assert transport.sent[-1].channel == "group" and transport.sent[-1].recipients == ()
    assert outbox_counts() == {"sent": 4}


def test_transient_failure_is_retried_after_backoff_once_delivered(db, clock):
    outbox, transport = Outbox(clock), RecordingTransport()
    outbox.to_members(["a"], "hello", "k")
    transport.failures = [TransientSendError("timeout"), TransientSendError("busy")]
    sender = OutboxSender(transport, clock)
    assert sender.run_once().retried == 1
    assert sender.run_once().handled == 0, "not before the backoff"
    clock.advance(seconds=6)
    assert sender.run_once().retried == 1
    clock.advance(seconds=11)
    assert sender.run_once().sent == 1
    row = OutboxMessage.get()
    assert (row.status, row.attempts) == ("sent", 3)
    assert len(transport.sent) == 1


def test_permanent_failure_is_recorded_not_retried(db, clock):
    outbox, transport = Outbox(clock), RecordingTransport()
    outbox.to_members(["ghost"], "hello", "k")
    transport.failures = [PermanentSendError("81013 all recipients invalid")]
    sender = OutboxSender(transport, clock)
    assert sender.run_once().failed == 1
    clock.advance(hours=1)
    assert sender.run_once().handled == 0
    row = OutboxMessage.get()
    assert row.status == "failed" and "81013" in row.last_error


def test_gives_up_after_max_attempts(db, clock):
    outbox, transport = Outbox(clock), RecordingTransport()
    outbox.to_members(["a"], "hello", "k")
    transport.failures = [TransientSendError("down")] * 3
    sender = OutboxSender(transport, clock, max_attempts=3)
    for _ in range(3):
        sender.run_once()
        clock.advance(minutes=30)
    assert OutboxMessage.get().status == "failed"


def test_a_claim_whose_lease_ran_out_is_sent_again_exactly_once(db, clock):
    outbox, transport = Outbox(clock), RecordingTransport()
    outbox.to_members(["a"], "hello", "k")
    dead = OutboxSender(transport, clock, lease_seconds=60)
    claimed = dead.claim()  # this sender "dies" before sending
    assert len(claimed) == 1
    live = OutboxSender(transport, clock, lease_seconds=60)
    assert live.claim() == [], "still leased"
    clock.advance(seconds=61)
    assert live.run_once().sent == 1
    # The dead sender's late outcome must not overwrite the live one's.
    dead._mark(claimed[0], status="pending")
    assert OutboxMessage.get().status == "sent"
    assert len(transport.sent) == 1


def test_a_crashing_transport_does_not_stop_the_sender(db, clock):
    class Broken:
        name = "broken"

        def send(self, message):
            raise KeyError("bug")

    Outbox(clock).to_members(["a"], "hello", "k")
    stats = OutboxSender(Broken(), clock).run_once()
    assert stats.retried == 1
    row = OutboxMessage.get()
    assert row.status == "pending" and row.next_attempt_at > clock.now() - timedelta(seconds=1)
