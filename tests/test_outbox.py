"""The outbox: dedupe, claim with a lease, retry with backoff, permanent failure, lease expiry,
and what a transport reports back (a card's new task id, a text fallback)."""

from datetime import timedelta

import peewee
from fakes.transport import RecordingTransport

from bot.cards import queue_card
from bot.outbox import Outbox, OutboxSender, SendStats, outbox_counts
from bot.transports.base import Delivered, PermanentSendError, Throttled, TransientSendError
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


def notices() -> list[OutboxMessage]:
    return list(
        OutboxMessage.select()
        .where(OutboxMessage.dedupe_key.startswith("send-notice:"))
        .order_by(OutboxMessage.id)
    )


def test_transient_failures_keep_a_row_until_it_is_delivered_hours_later(db, clock):
    """Eight failures (11 minutes) used to fail a row for good; now a row lives until it is
    delivered or too old, retried at most every 10 minutes."""
    outbox, transport = Outbox(clock), RecordingTransport()
    outbox.to_members(["a"], "hello", "k")
    transport.failures = [TransientSendError("down")] * 30
    sender = OutboxSender(transport, clock, admins=lambda: ["boss"])
    gaps = []
    while transport.failures:
        assert sender.run_once().retried == 1
        row = OutboxMessage.get()
        assert row.status == "pending"
        gaps.append(row.next_attempt_at - clock.now())
        clock.set(row.next_attempt_at)
    assert max(gaps) == timedelta(minutes=10), "the backoff is capped"
    assert gaps[:4] == [timedelta(seconds=s) for s in (5, 10, 20, 40)]
    assert sender.run_once().sent == 1
    row = OutboxMessage.get()
    assert (row.status, row.attempts) == ("sent", 31)
    assert clock.now() - row.created_at > timedelta(hours=3)
    assert notices() == [], "a delay is not a failure to report"


def test_a_row_too_old_to_matter_expires_and_the_admins_are_told_once(db, clock):
    outbox, transport = Outbox(clock), RecordingTransport()
    outbox.to_members(["a"], "hello", "k1")
    outbox.to_members(["b"], "你好", "k2")
    transport.failures = [TransientSendError("无法连接企业微信")] * 1000
    sender = OutboxSender(transport, clock, max_age_hours=24, admins=lambda: ["boss"])
    for _ in range(24 * 6 - 1):  # every 10 minutes for a day, less one round
        sender.run_once()
        clock.advance(minutes=10)
    assert {r.status for r in OutboxMessage.select()} == {"pending"}
    clock.advance(minutes=10)
    stats = sender.run_once()
    assert stats.expired == 2 and stats.sent == 0
    rows = {r.dedupe_key: r for r in OutboxMessage.select()}
    assert rows["k1"].status == rows["k2"].status == "expired"
    assert rows["k1"].failed_at == clock.now() and "无法连接" in rows["k1"].last_error
    (notice,) = notices()
    assert notice.recipient == "boss"
    text = notice.content["text"]
    assert "2 条消息过了有效期仍未能送达" in text and f"#{rows['k1'].id}" in text
    assert "→ a" in text and "→ b" in text and "重发" in text
    clock.advance(days=3)  # the notice itself cannot be sent either, and expires: no loop
    for _ in range(3):
        sender.run_once()
    assert OutboxMessage.get_by_id(notice.id).status == "expired"
    assert len(notices()) == 1, "told once, never about the notice"
    transport.failures = []
    assert sender.drain().sent == 0 and transport.sent == [], "an expired row is not sent"


def test_a_rows_own_expiry_replaces_the_default_age(db, clock):
    outbox, transport = Outbox(clock), RecordingTransport()
    outbox.to_members(["a"], "今天的提醒", "remind:x", expires_at=clock.now() + timedelta(hours=2))
    outbox.to_group("本周周报", "digest:x", expires_at=clock.now() + timedelta(days=5))
    transport.failures = [TransientSendError("down")] * 1000
    sender = OutboxSender(transport, clock, max_age_hours=24)
    clock.advance(hours=2)
    sender.run_once()
    assert OutboxMessage.get(OutboxMessage.dedupe_key == "remind:x").status == "expired"
    clock.advance(hours=30)
    sender.run_once()
    assert OutboxMessage.get(OutboxMessage.dedupe_key == "digest:x").status == "pending"
    transport.failures = []
    clock.advance(minutes=10)
    assert sender.run_once().sent == 1
    assert [m.content["text"] for m in transport.sent] == ["本周周报"]


class OutageTransport:
    """Fails every send as an outage while `down`, counting the attempts."""

    name = "outage"

    def __init__(self):
        self.down = True
        self.calls = 0
        self.sent = []

    def send(self, message):
        self.calls += 1
        if self.down:
            raise TransientSendError("企业微信返回 HTTP 503", retry_after=5, outage=True)
        self.sent.append(message)


def test_an_hour_long_outage_is_probed_not_stormed_and_recovers_within_minutes(db, clock):
    outbox, transport = Outbox(clock), OutageTransport()
    for n in range(50):
        outbox.to_members([f"u{n}"], f"m{n}", f"k{n}")
    sender = OutboxSender(transport, clock)
    for _ in range(60 * 6):  # an hour, looking every 10 seconds
        sender.run_once()
        clock.advance(seconds=10)
    assert transport.calls <= 20, "one probe at a time, not 50 rows retrying"
    assert OutboxMessage.select().where(OutboxMessage.status != "pending").count() == 0
    assert OutboxMessage.select(peewee.fn.SUM(OutboxMessage.attempts)).scalar() == transport.calls
    transport.down = False
    back = clock.now()
    while len(transport.sent) < 50:
        sender.run_once()
        clock.advance(seconds=10)
        assert clock.now() - back <= timedelta(minutes=11)
    assert sorted(m.content["text"] for m in transport.sent) == sorted(f"m{n}" for n in range(50))


def test_a_row_that_fails_on_its_own_does_not_hold_the_others(db, clock):
    """A failure that looks like an outage but is this row's (a proxy that refuses only this):
    after it failed three probes in a row, the next row tries, gets through, and the others go
    out; the bad one keeps being retried on its own backoff without holding them again."""

    class OneBad:
        name = "one-bad"

        def __init__(self):
            self.sent = []

        def send(self, message):
            if message.content["text"] == "bad":
                raise TransientSendError("超时", outage=True)
            self.sent.append(message)

    outbox, transport = Outbox(clock), OneBad()
    outbox.to_members(["a"], "bad", "k0")
    sender = OutboxSender(transport, clock)
    sender.run_once()
    for n in range(1, 40):
        outbox.to_members(["a"], f"m{n}", f"k{n}")
    start = clock.now()
    while len(transport.sent) < 39:
        sender.run_once()
        clock.advance(seconds=1)
        assert clock.now() - start < timedelta(seconds=20), "held 5 s, then 10 s, then let go"
    for n in range(40, 80):  # later rows are not held by it again: each goes out at once
        outbox.to_members(["a"], f"m{n}", f"k{n}")
        sender.run_once()
        assert len(transport.sent) == n
        clock.advance(seconds=30)
    bad = OutboxMessage.get(OutboxMessage.dedupe_key == "k0")
    assert bad.status == "pending" and bad.attempts <= 10, "on its own backoff, up to 10 minutes"


class PacedTransport:
    """Lets `room` messages per recipient through, then asks to wait 60 s (a Throttled)."""

    name = "paced"

    def __init__(self, room: int):
        self.room = room
        self.used: dict[str, int] = {}
        self.sent = []

    def send(self, message):
        for userid in message.recipients:
            if self.used.get(userid, 0) >= self.room:
                raise Throttled("每人每分钟最多接收 30 条消息，稍后再发", 60)
        for userid in message.recipients:
            self.used[userid] = self.used.get(userid, 0) + 1
        self.sent.append(message)

    def new_minute(self):
        self.used = {}


def test_a_wait_for_the_rate_is_not_a_failure_and_keeps_the_order(db, clock):
    outbox, transport = Outbox(clock), PacedTransport(room=3)
    for n in range(10):
        outbox.to_members(["li"], f"li{n}", f"li{n}")
    outbox.to_members(["wang"], "wang0", "wang0")
    sender = OutboxSender(transport, clock, admins=lambda: ["boss"])
    for _ in range(8):
        stats = sender.drain()
        assert stats.failed == stats.retried == 0
        clock.advance(seconds=61)
        transport.new_minute()
    texts = [m.content["text"] for m in transport.sent]
    assert [t for t in texts if t.startswith("li")] == [f"li{n}" for n in range(10)]
    assert texts.index("wang0") < 4, "another person does not wait behind li"
    rows = list(OutboxMessage.select())
    assert {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}
    assert all(r.last_error == "" for r in rows)
    assert notices() == []


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


def test_a_claim_takes_one_batch_however_many_rows_wait(db, clock):
    """On PostgreSQL the claim's choice of rows once ran again mid-UPDATE and took all 25
    waiting rows for a batch of 20 (a stopping worker then sent them all)."""
    outbox = Outbox(clock)
    for n in range(25):
        outbox.to_members(["li"], f"第 {n} 项", f"nudge:{n}")
    sender = OutboxSender(RecordingTransport(), clock, batch=20)
    assert [row.dedupe_key for row in sender.claim()] == [f"nudge:{n}" for n in range(20)]
    assert OutboxMessage.select().where(OutboxMessage.status == "sending").count() == 20
    assert len(sender.claim()) == 5


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
    OutboxSender(RecordingTransport(), clock).drain()  # and gives the lease back
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


def _replies(clock, userid: str, texts: list[str]) -> None:
    from models.messages import InboundMessage

    outbox = Outbox(clock)
    for n, text in enumerate(texts):
        inbound = InboundMessage.create(
            transport="test",
            external_id=f"{userid}-{n}-{text}",
            wecom_userid=userid,
            text=f"问题{n}",
            received_at=clock.now(),
        )
        outbox.to_members([userid], text, f"reply:{inbound.id}", inbound=inbound)


def test_a_flood_of_replies_goes_as_one_message_and_every_row_is_recorded(db, clock):
    _replies(clock, "li", [f"回复{n}" for n in range(12)])
    _replies(clock, "wang", ["一", "二"])
    transport = RecordingTransport()
    stats = OutboxSender(transport, clock, flood_replies=5).drain()
    assert stats.sent == 3 and stats.failed == 0
    to_li = [m for m in transport.sent if m.recipients == ("li",)]
    assert len(to_li) == 1 and to_li[0].msg_type == "text"
    text = to_li[0].content["text"]
    assert text.startswith("【合并回复】") and "连续发来 12 条消息" in text
    assert all(f"回复{n}" in text for n in range(12)) and "“问题0”" in text
    assert [m.content["text"] for m in transport.sent if m.recipients == ("wang",)] == ["一", "二"]
    rows = list(OutboxMessage.select().where(OutboxMessage.recipient == "li"))
    carrier, members = rows[0], rows[1:]
    assert carrier.status == "sent" and carrier.result["merged"] == 11
    assert carrier.content["text"] == "回复0" and carrier.content["merged"]["text"] == text
    assert {r.status for r in members} == {"sent"}
    assert {r.result["merged_into"] for r in members} == {carrier.id}
    assert [r.content["text"] for r in members] == [f"回复{n}" for n in range(1, 12)]


def test_a_merged_message_retried_is_the_same_message(db, clock):
    """The merged text is stored before it is sent: a retry (after a timeout whose answer was
    lost) sends the very same words, even if more replies arrived meanwhile."""
    _replies(clock, "li", [f"回复{n}" for n in range(8)])
    transport = RecordingTransport()
    transport.failures = [TransientSendError("超时")]
    sender = OutboxSender(transport, clock, flood_replies=5)
    assert sender.run_once().retried == 1
    first = OutboxMessage.get(OutboxMessage.msg_type == "merged").content["merged"]["text"]
    _replies(clock, "li", [f"后来{n}" for n in range(8)])
    clock.advance(seconds=6)
    sender.drain()
    to_li = [m.content["text"] for m in transport.sent]
    assert to_li[0] == first and "后来" not in to_li[0]
    assert len(to_li) == 2 and "后来0" in to_li[1], "the later ones merged on their own"


def test_replies_already_tried_are_not_merged(db, clock):
    _replies(clock, "li", ["第一"])
    transport = RecordingTransport()
    transport.failures = [TransientSendError("超时")]
    sender = OutboxSender(transport, clock, flood_replies=5)
    sender.run_once()
    _replies(clock, "li", [f"回复{n}" for n in range(6)])
    clock.advance(seconds=6)
    sender.drain()
    texts = [m.content["text"] for m in transport.sent]
    assert texts[0] == "第一" and texts[1].startswith("【合并回复】") and len(texts) == 2


def test_the_replies_a_merged_message_carried_share_its_failure_and_expiry(db, clock):
    _replies(clock, "ghost", [f"回复{n}" for n in range(6)])
    _replies(clock, "li", [f"回复{n}" for n in range(6)])
    transport = RecordingTransport()
    transport.failures = [PermanentSendError("81013 all recipients invalid")]
    transport.failures += [TransientSendError("down")] * 1000
    sender = OutboxSender(transport, clock, flood_replies=5, admins=lambda: ["boss"])
    sender.run_once()
    ghost = list(OutboxMessage.select().where(OutboxMessage.recipient == "ghost"))
    assert {r.status for r in ghost} == {"failed"} and all("81013" in r.last_error for r in ghost)
    assert len(notices()) == 1, "one notice for the message that failed, not six"
    clock.advance(hours=25)
    sender.run_once()
    li = list(OutboxMessage.select().where(OutboxMessage.recipient == "li"))
    assert {r.status for r in li} == {"expired"}
    expired_notice = notices()[-1].content["text"]
    assert "6 条消息过了有效期" in expired_notice and "合并回复（6 条）" in expired_notice


class Passes:
    """A stop event that is set after `n` looks: the sender's loop runs exactly n passes."""

    def __init__(self, n: int):
        self.left = n

    def is_set(self) -> bool:
        self.left -= 1
        return self.left < 0


def test_the_sender_calls_on_drained_once_a_burst_has_gone_out_and_not_for_a_few(db, clock):
    from bot.outbox import DRAINED_AFTER

    outbox, transport = Outbox(clock), RecordingTransport()
    sender = OutboxSender(transport, clock, batch=20)
    drained = []
    sender.on_drained = lambda: drained.append(len(transport.sent))
    for n in range(3):
        outbox.to_members([f"u{n}"], "m", f"few{n}")
    sender.loop(Passes(3), idle_seconds=0)  # sends 3, finds nothing, finds nothing
    assert len(transport.sent) == 3 and drained == []
    for n in range(DRAINED_AFTER):
        outbox.to_members([f"v{n}"], "m", f"burst{n}")
    sender.loop(Passes(6), idle_seconds=0)  # 20, 20, 10, then idle: called once, not again
    assert len(transport.sent) == 3 + DRAINED_AFTER
    assert drained == [3 + DRAINED_AFTER]
