"""The outbox: dedupe, claim with a lease, retry with backoff, permanent failure, lease expiry,
and what a transport reports back (a card's new task id, a text fallback)."""

from datetime import timedelta

from fakes.transport import RecordingTransport

from bot.cards import queue_card
from bot.outbox import Outbox, OutboxSender, SendStats, outbox_counts
from bot.transports.base import Delivered, PermanentSendError, TransientSendError
from models.messages import InteractiveCard, OutboxMessage


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


class CardTransport:
    """Answers every send with one Delivered, as a transport that changed something would."""

    name = "card"

    def __init__(self, delivered: Delivered):
        self.delivered = delivered
        self.sent = []

    def send(self, message):
        self.sent.append(message)
        return self.delivered


def _card(clock, task_id: str, dedupe_key: str, userid: str = "li") -> None:
    queue_card(
        Outbox(clock),
        clock.now(),
        kind="nudge",
        userid=userid,
        title="【催办】",
        description="",
        rows=[("T7", "进行中")],
        text="【催办】T7",
        task_id=task_id,
        dedupe_key=dedupe_key,
    )


def test_a_card_sent_under_a_new_task_id_is_recorded_in_the_row_and_the_card(db, clock):
    _card(clock, "nudge-1-1", "nudge:1:li")
    sender = OutboxSender(CardTransport(Delivered(msgid="m1", task_id="nudge-1-1-abc")), clock)
    assert sender.run_once().sent == 1
    row = OutboxMessage.get()
    assert row.content["card"]["task_id"] == "nudge-1-1-abc" and row.content["text"] == "【催办】T7"
    assert row.result == {"msgid": "m1", "invalid": [], "task_id_was": "nudge-1-1"}
    card = InteractiveCard.get()
    assert card.task_id == "nudge-1-1-abc" and card.outbox_id == row.id


def test_a_new_task_id_never_renames_another_rows_card(db, clock):
    _card(clock, "nudge-1-1", "nudge:1:li")
    OutboxSender(RecordingTransport(), clock).run_once()
    # The same old-style id again, for another row: its card row was never stored.
    Outbox(clock).queue(
        "member",
        ["li"],
        {"text": "【催办】T7", "card": {"task_id": "nudge-1-1"}},
        "nudge:1:li:again",
        msg_type="card",
    )
    OutboxSender(CardTransport(Delivered(task_id="nudge-1-1-def")), clock).run_once()
    assert [c.task_id for c in InteractiveCard.select()] == ["nudge-1-1"]
    again = OutboxMessage.get(OutboxMessage.dedupe_key == "nudge:1:li:again")
    assert again.content["card"]["task_id"] == "nudge-1-1-def"


def test_a_late_outcome_changes_neither_the_row_nor_the_card(db, clock):
    _card(clock, "nudge-1-1", "nudge:1:li")
    slow = OutboxSender(CardTransport(Delivered(task_id="nudge-1-1-abc")), clock, lease_seconds=60)
    (claimed,) = slow.claim()
    clock.advance(seconds=61)
    assert OutboxSender(RecordingTransport(), clock).run_once().sent == 1
    slow._send_one(claimed, SendStats())  # the first sender's outcome arrives after its lease
    assert OutboxMessage.get().content["card"]["task_id"] == "nudge-1-1"
    assert InteractiveCard.get().task_id == "nudge-1-1"


def test_a_text_fallback_is_recorded_with_its_reason(db, clock):
    _card(clock, "nudge-1-1", "nudge:1:li")
    refused = Delivered(msgid="m2", fallback_reason="企业微信错误 40058")
    OutboxSender(CardTransport(refused), clock).run_once()
    row = OutboxMessage.get()
    assert row.status == "sent" and row.content["card"]["task_id"] == "nudge-1-1"
    assert row.result == {
        "msgid": "m2",
        "invalid": [],
        "fallback": "text",
        "reason": "企业微信错误 40058",
    }
