"""The inbound pipeline: a replay is a no-op, a crash is answered and leaves nothing behind."""

from bot.commands.registry import Registry
from bot.pipeline import Incoming, Pipeline
from models.messages import InboundMessage, OutboxMessage
from models.org import Member


def test_a_replayed_message_is_processed_and_answered_once(services, bot):
    bot.bind("li", "市监局")
    msg = Incoming("wecom", "msg-1", "li", kind="text", text="进度 T7 60%")
    results = [services.pipeline.handle(msg) for _ in range(4)]
    assert [r.duplicate for r in results] == [False, True, True, True]
    assert InboundMessage.select().where(InboundMessage.external_id == "msg-1").count() == 1
    replies = OutboxMessage.select().where(OutboxMessage.inbound == results[0].inbound_id)
    assert replies.count() == 1


def test_two_messages_in_the_same_second_are_two(services, bot):
    bot.bind("li", "市监局")
    a = services.pipeline.handle(Incoming("wecom", "1", "li", text="进度 T7 10%"))
    b = services.pipeline.handle(Incoming("wecom", "2", "li", text="进度 T7 20%"))
    assert not a.duplicate and not b.duplicate


def test_the_same_id_from_another_transport_is_another_message(services, bot):
    bot.bind("li", "市监局")
    services.pipeline.handle(Incoming("wecom", "7", "li", text="帮助"))
    assert not services.pipeline.handle(Incoming("sandbox", "7", "li", text="帮助")).duplicate


def test_a_crashing_handler_is_answered_and_rolled_back(services, clock, config):
    registry = Registry()

    @registry.command("坏", access="member", help="crashes after a write")
    def broken(ctx, args):
        Member.create(wecom_userid="half", bound_at=ctx.now)
        raise RuntimeError("boom")

    pipeline = Pipeline(config, clock, services.renderer, registry=registry)
    handled = pipeline.handle(Incoming("test", "x", "boss", text="坏"))
    assert "系统出错" in handled.reply and str(handled.inbound_id) in handled.reply
    assert "boom" not in handled.reply and "Traceback" not in handled.reply
    assert Member.get_or_none(Member.wecom_userid == "half") is None
    assert InboundMessage.get_by_id(handled.inbound_id).status == "failed"


def test_unbound_user_events_are_ignored_quietly(services):
    handled = services.pipeline.handle(
        Incoming("wecom", "e1", "stranger", kind="event", payload={"event": "enter_agent"})
    )
    assert handled.reply is None


def test_enter_agent_greets_shortly_once_a_day(services, bot, clock):
    bot.bind("li", "市监局")

    def enter(n: int) -> str | None:
        event = {"event": "enter_agent"}
        return services.pipeline.handle(
            Incoming("wecom", f"e{n}", "li", kind="event", payload=event)
        ).reply

    first = enter(1)
    assert first.startswith("您好") and "发“帮助”查看命令" in first and "可用的命令" not in first
    assert len(first.encode()) < 300, "short: the full help only when asked"
    assert enter(2) is None and enter(3) is None, "once a day"
    clock.advance(days=1)
    assert enter(4).startswith("您好")
    assert "可用的命令" in bot.say("li", "帮助")


def test_received_messages_keep_every_field(services, clock):
    handled = services.pipeline.receive(
        Incoming("wecom", "abc", "li", kind="file", text="T7 佐证", payload={"media_id": "m"})
    )
    row = InboundMessage.get_by_id(handled.inbound_id)
    assert (row.transport, row.external_id, row.wecom_userid, row.kind, row.text) == (
        "wecom",
        "abc",
        "li",
        "file",
        "T7 佐证",
    )
    assert row.payload == {"media_id": "m"} and row.status == "received"
    assert row.received_at == clock.now() and row.lease_until is None


def test_a_worker_whose_lease_lapsed_and_was_taken_over_changes_nothing(services, bot, clock):
    """Two workers (one pipeline each): the first claims a message and stalls past its lease,
    the second claims and answers it; the first's late work is undone, not done twice."""
    from bot.pipeline import LEASE
    from models.audit import AuditEntry

    bot.bind("li", "市监局")
    services.pipeline.receive(Incoming("wecom", "late-1", "li", text="进度 T7 60% 初稿"))
    stalled, taker = services.pipeline, Pipeline(services.config, clock, services.renderer)
    (claimed,) = stalled.claim_pending()
    clock.advance(seconds=LEASE.total_seconds())
    assert taker.process_pending() == 1
    audits = AuditEntry.select().count()
    assert stalled._process_run([claimed]) == 1, "given up, not retried"
    assert AuditEntry.select().count() == audits, "the progress is reported once"
    replies = OutboxMessage.select().where(OutboxMessage.inbound == claimed.id)
    assert replies.count() == 1
    assert InboundMessage.get_by_id(claimed.id).status == "done"
    assert stalled.claim_pending() == [] and taker.claim_pending() == []


def test_a_message_claimed_by_a_dead_worker_is_handed_back_at_start(services, bot, clock):
    bot.bind("li", "市监局")
    services.pipeline.receive(Incoming("wecom", "dead-1", "li", text="帮助"))
    (held,) = services.pipeline.claim_pending()
    assert services.pipeline.claim_pending() == [], "still leased"
    assert services.pipeline.release_claims() == 1
    assert InboundMessage.get_by_id(held.id).status == "received"
    assert services.pipeline.process_pending() == 1
