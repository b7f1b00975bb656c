"""Out through the outbox to a fake WeCom over real HTTP: retries, token refresh, permanent
failures, the group robot, cards, media downloads. The clock is fake; senders are drained by hand."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from fakes.wecom_server import Fault
from helpers import ChatDriver
from wecom_setup import paced_by, wecom_config

from bot.outbox import Outbox, OutboxSender
from bot.pipeline import Incoming
from bot.services import build_services
from bot.transports.wecom.client import WeComClient
from bot.transports.wecom.transport import WeComTransport
from models.messages import InteractiveCard, MediaDownload, OutboxMessage
from models.progress import Evidence

SEND = "/cgi-bin/message/send"


@pytest.fixture
def wecom(tmp_path, db_url, db, fake, clock):
    fake.clock = lambda: clock.now().timestamp()
    services = build_services(wecom_config(tmp_path, db_url, fake), clock)
    services.sender.backoff_cap = 60
    return paced_by(services, clock)


def drain_until_quiet(services, clock, rounds=12):
    for _ in range(rounds):
        services.sender.drain()
        clock.advance(minutes=5)


def test_42001_costs_one_token_fetch_and_one_retry(wecom, fake):
    outbox = Outbox(wecom.clock)
    outbox.to_members(["li"], "第一条", "k1")
    wecom.sender.drain()
    assert fake.token_fetches == 1
    fake.expire_token()
    outbox.to_members(["li"], "第二条", "k2")
    stats = wecom.sender.drain()
    assert stats.sent == 1
    assert fake.token_fetches == 2
    assert fake.count(SEND) == 3  # first, the refused one, the retry
    assert [m["text"]["content"] for m in fake.messages] == ["第一条", "第二条"]


def test_the_token_is_kept_in_memory_a_minute_and_a_refused_one_is_read_again(wecom, fake):
    """Sends use the token from memory, not a database read each; another process's fresher
    token (it refreshed after WeCom refused the old one) is read once the old one is refused,
    and after the memory minute even without a refusal."""
    from models.messages import KeyValue

    outbox = Outbox(wecom.clock)
    outbox.to_members(["li"], "第一条", "k1")
    wecom.sender.drain()
    key = wecom.client.token_key
    # Another process fetched a new token: WeCom refuses the one this process holds.
    fake.invalidate_token()
    fresh = wecom.client.fetch_token()[0]
    KeyValue.update(value=fresh).where(KeyValue.key == key).execute()
    fetches = fake.token_fetches
    outbox.to_members(["li"], "第二条", "k2")
    assert wecom.sender.drain().sent == 1
    assert fake.token_fetches == fetches, "the other process's token was read, not fetched"
    assert [m["text"]["content"] for m in fake.messages] == ["第一条", "第二条"]
    # The row changes behind this process's back: memory serves for a minute, then the row.
    KeyValue.update(value="from-elsewhere").where(KeyValue.key == key).execute()
    assert wecom.client.token() == fresh
    wecom.clock.advance(seconds=61)
    assert wecom.client.token() == "from-elsewhere"


@pytest.mark.parametrize(
    "faults",
    [
        [Fault.http(500)],
        [Fault.err(-1)],
        [Fault.drop()],
        [Fault.http(502), Fault.err(-1)],
        [Fault.err(45009)],
        [Fault.err(45033)],
        [Fault.garbage()],
    ],
    ids=["http500", "busy", "dropped", "502-then-busy", "rate-limit", "concurrency", "garbage"],
)
def test_transient_failures_are_retried_until_delivered_once(wecom, fake, clock, faults):
    Outbox(clock).to_members(["li"], "请报告进度", "k")
    fake.fail(SEND, *faults)
    first = wecom.sender.drain()
    assert first.retried == 1 and first.sent == 0
    drain_until_quiet(wecom, clock)
    row = OutboxMessage.get()
    assert row.status == "sent" and row.attempts == len(faults) + 1
    assert [m["text"]["content"] for m in fake.messages] == ["请报告进度"]


def test_the_same_question_twice_is_answered_twice(wecom, fake, clock, bot_factory):
    bot = bot_factory(wecom)
    bot.bind("li", "市监局")
    wecom.sender.drain()
    first, second = bot.say("li", "任务 T8"), bot.say("li", "任务 T8")
    assert first == second
    assert wecom.sender.drain().sent == 2
    answers = [m for m in fake.messages if m["touser"] == "li" and "T8" in m["text"]["content"]]
    assert [m["text"]["content"] for m in answers] == [first, second]
    assert all(m["enable_duplicate_check"] == 1 for m in answers), "the check must be on"
    assert answers[0]["duplicate_check_interval"] != answers[1]["duplicate_check_interval"]
    assert fake.duplicates_absorbed == []


def test_a_send_whose_answer_was_lost_is_retried_and_delivered_once(
    tmp_path, db_url, db, fake, clock
):
    fake.clock = lambda: clock.now().timestamp()
    config = wecom_config(tmp_path, db_url, fake)
    client = WeComClient(config, clock, timeout=(1, 0.3))
    sender = OutboxSender(WeComTransport(config, client), clock)
    Outbox(clock).to_members(["li"], "请于本周五前报送材料", "k")
    fake.fail(SEND, Fault.slow(1.0))  # longer than the client's read timeout
    assert sender.drain().retried == 1
    row = OutboxMessage.get()
    assert row.status == "pending" and "Timeout" in row.last_error
    # WeCom did take the slow one; the bot never heard.
    assert fake.wait_for(lambda: len(fake.messages) == 1, timeout=5)
    clock.advance(seconds=6)
    assert sender.drain().sent == 1
    row = OutboxMessage.get()
    assert (row.status, row.attempts) == ("sent", 2)
    assert [m["text"]["content"] for m in fake.messages] == ["请于本周五前报送材料"]
    assert fake.duplicates_absorbed == fake.messages, "the retry was the very same request"


def test_every_part_of_a_row_is_its_own_request_and_retries_repeat_them(wecom, fake, clock):
    block = "\n".join(["县市场监管局 T7 在全系统推行线上线下一体化监管"] * 30)
    assert len(block.encode()) > 1024
    Outbox(clock).to_members(["li"], f"{block}\n{block}\n{block}", "k")  # repeated parts
    fake.fail(SEND, Fault.ok(), Fault.ok(), Fault.http(502))  # the third part fails once
    assert wecom.sender.drain().retried == 1
    clock.advance(seconds=6)
    assert wecom.sender.drain().sent == 1
    parts = [m["text"]["content"] for m in fake.messages]
    assert len(parts) >= 3 and "\n".join(parts) == f"{block}\n{block}\n{block}"
    assert len(fake.duplicates_absorbed) == 2, "the two parts delivered before the failure"


def test_an_unreadable_answer_is_recorded_plainly_and_retried(wecom, fake, clock):
    Outbox(clock).to_members(["li"], "请报告进度", "k")
    fake.fail(SEND, Fault.garbage())  # a proxy's login page, with HTTP 200
    assert wecom.sender.drain().retried == 1
    row = OutboxMessage.get()
    assert row.status == "pending"
    assert row.last_error == "企业微信返回了无法解析的内容（HTTP 200）"
    clock.advance(seconds=6)
    assert wecom.sender.drain().sent == 1
    assert [m["text"]["content"] for m in fake.messages] == ["请报告进度"]


def test_all_recipients_invalid_is_not_retried_and_admins_are_told(wecom, fake, clock):
    fake.invalid_users = {"ghost"}
    Outbox(clock).to_members(["ghost"], "你好", "k")
    stats = wecom.sender.drain()
    assert stats.failed == 1
    row = OutboxMessage.get(OutboxMessage.dedupe_key == "k")
    assert row.status == "failed" and "81013" in row.last_error
    drain_until_quiet(wecom, clock)
    assert fake.count(SEND) == 2  # the failed one and the notice to the admin; no retry
    notice = fake.messages[-1]
    assert notice["touser"] == "boss" and "发送失败" in notice["text"]["content"]


def test_some_invalid_recipients_are_recorded_and_reported(wecom, fake, clock):
    fake.invalid_users = {"ghost"}
    Outbox(clock).to_members(["li", "ghost"], "你好", "k")
    wecom.sender.drain()
    row = OutboxMessage.get(OutboxMessage.dedupe_key == "k")
    assert row.status == "sent" and row.result["invalid"] == ["ghost"]
    assert "ghost" in row.last_error
    assert any("部分收件人" in m["text"]["content"] for m in fake.messages if m["touser"] == "boss")


def test_untrusted_ip_names_the_setting_and_selfcheck_fails(wecom, fake, clock, bot_factory):
    fake.allowed_ips = set()
    Outbox(clock).to_members(["li"], "你好", "k")
    wecom.sender.drain()
    row = OutboxMessage.get(OutboxMessage.dedupe_key == "k")  # (the admins' notice is another)
    assert row.status == "pending" and "可信IP" in row.last_error
    reply = bot_factory(wecom).say("boss", "自检")
    assert "【故障】应用接口" in reply and "企业可信IP" in reply
    fake.allowed_ips = None
    reply = bot_factory(wecom).say("boss", "自检")
    assert "【正常】应用接口" in reply and "【故障】发件箱" not in reply


def test_long_text_is_split_in_order_within_the_byte_limit(wecom, fake, clock):
    text = "\n".join(
        f"第{i:03d}行 县市场监管局 T7 在全系统推行线上线下一体化监管" for i in range(120)
    )
    Outbox(clock).to_members(["li"], text, "k")
    wecom.sender.drain()
    parts = [m["text"]["content"] for m in fake.messages]
    assert len(parts) > 1 and all(len(p.encode()) <= 2048 for p in parts)
    assert "\n".join(parts) == text


def test_a_reply_of_more_parts_than_wecom_takes_a_minute_is_sent_not_crashed(
    wecom, fake, clock, caplog
):
    """A known limit, logged: one row is one unit, so a reply of 31 parts (62 KB; replies are
    kept to a few parts, tests/test_message_sizes.py) goes out whole and WeCom drops the 31st."""
    text = "\n".join(f"第{i:04d}行 " + "县" * 600 for i in range(31))  # 31 parts of 1.8 KB
    Outbox(clock).to_members(["li"], text, "k")
    assert wecom.sender.drain().sent == 1
    assert [m["text"]["content"] for m in fake.messages] == text.split("\n")[:30]
    assert [p["text"]["content"] for _, p in fake.dropped] == text.split("\n")[30:]
    assert "more than WeCom delivers to a member in a minute" in caplog.text


def test_group_robot_markdown_split_and_rate(wecom, fake, clock):
    Outbox(clock).to_group(
        "# 周报\n" + "\n".join(f"> 第{i}行 " + "县" * 40 for i in range(200)), "g"
    )
    wecom.sender.drain()
    parts = [m["markdown"]["content"] for m in fake.webhook_messages]
    assert len(parts) >= 5 and all(len(p.encode()) <= 4096 for p in parts)
    assert parts[0].startswith("# 周报")
    for n in range(20):
        Outbox(clock).to_group(f"消息 {n}", f"r{n}", msg_type="text")
    stats = wecom.sender.drain()
    assert stats.deferred >= 1, "more than 20 a minute must wait, not be dropped"
    assert (stats.retried, stats.failed) == (0, 0), "a wait is not a failure"
    assert len(fake.webhook_messages) == 20 and fake.count("/cgi-bin/webhook/send") == 20
    clock.advance(seconds=61)
    wecom.sender.drain()
    texts = [m["text"]["content"] for m in fake.webhook_messages[len(parts) :]]
    assert texts == [f"消息 {n}" for n in range(20)], "all of them, in order"
    assert OutboxMessage.select().where(OutboxMessage.attempts != 1).count() == 0


def test_app_chat_when_no_robot(tmp_path, db_url, db, fake, clock):
    services = build_services(
        wecom_config(
            tmp_path, db_url, fake, WECOM_GROUP_WEBHOOK_URL="", WECOM_GROUP_CHAT_ID="leaders"
        ),
        clock,
    )
    Outbox(clock).to_group("**本周得分**", "g")
    assert services.sender.drain().sent == 1
    assert fake.appchat_messages[0]["chatid"] == "leaders"


def test_twenty_concurrent_sends_on_a_cold_start_fetch_one_token(wecom, fake, clock):
    from models.db import database

    errors = []

    def fetch():
        try:
            with database.connection_context():
                wecom.client.token()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and fake.token_fetches == 1


def test_nudge_card_click_is_recorded_once_and_the_card_updated(wecom, fake, clock, bot_factory):
    bot = bot_factory(wecom)
    bot.bind("li", "市监局")
    bot.say("boss", "催办 T7")
    wecom.sender.drain()
    card = next(m for m in fake.messages if m["msgtype"] == "template_card")["template_card"]
    assert (
        card["card_type"] == "button_interaction"
        and card["horizontal_content_list"][0]["keyname"] == "T7"
    )
    keys = [b["key"] for b in card["button_list"]]
    assert keys == ["ack", "coordinate", "extend"]
    event = {
        "event": "template_card_event",
        "EventKey": "coordinate",
        "TaskId": card["task_id"],
        "ResponseCode": "rc-1",
    }
    for n in range(3):  # WeCom may deliver the event again
        wecom.pipeline.handle(Incoming("wecom", f"evt-{n}", "li", kind="event", payload=event))
    wecom.sender.drain()
    assert InteractiveCard.get().clicked_key == "coordinate"
    assert fake.count("/cgi-bin/message/update_template_card") == 1
    assert (
        fake.requests_to("/cgi-bin/message/update_template_card")[0].json["response_code"] == "rc-1"
    )
    assert any(
        "需协调" in m["text"]["content"]
        for m in fake.messages
        if m.get("touser") == "boss" and m["msgtype"] == "text"
    )


def test_unknown_media_is_refused_plainly(wecom, fake, bot_factory):
    bot_factory(wecom).bind("li", "市监局")
    handled = wecom.pipeline.handle(
        Incoming(
            "wecom", "m1", "li", kind="file", payload={"media_id": "nope", "file_name": "a.pdf"}
        )
    )
    assert handled.reply is None  # answered by the download
    assert wecom.downloader.run_due() == 1
    (answer,) = OutboxMessage.select().where(OutboxMessage.inbound == handled.inbound_id)
    assert "没有保存" in answer.content["text"] and "40007" in answer.content["text"]
    assert Evidence.select().count() == 0
    assert MediaDownload.get().status == "failed"


def test_a_failed_download_is_retried_and_confirmed(wecom, fake, clock, bot_factory):
    bot = bot_factory(wecom)
    bot.bind("li", "市监局")
    bot.say("li", "进度 T7 50%")
    media_id = fake.add_media(b"%PDF-1.4 report", "方案.pdf", "application/pdf")
    fake.fail("/cgi-bin/media/get", Fault.http(502))
    handled = wecom.pipeline.handle(
        Incoming(
            "wecom",
            "m2",
            "li",
            kind="file",
            text="",
            payload={"media_id": media_id, "file_name": "方案.pdf"},
        )
    )
    assert handled.reply is None
    assert wecom.downloader.run_due() == 1
    assert MediaDownload.get().status == "pending"
    told = OutboxMessage.get(OutboxMessage.dedupe_key.startswith("download-wait:"))
    assert "自动重试" in told.content["text"]
    assert wecom.downloader.run_due() == 0, "not before the backoff"
    clock.advance(minutes=2)
    assert wecom.downloader.run_due() == 1
    assert MediaDownload.get().status == "done"
    assert Evidence.get().item.code == "T7"
    wecom.sender.drain()
    assert any(
        "已取回并归到 T7" in t
        for t in [m["text"]["content"] for m in fake.messages if m["msgtype"] == "text"]
    )


def test_downloads_near_expiry_alert_the_admins_once(wecom, fake, clock, bot_factory):
    bot_factory(wecom).bind("li", "市监局")
    fake.fail("/cgi-bin/media/get", *[Fault.http(500)] * 50)
    wecom.pipeline.handle(Incoming("wecom", "m3", "li", kind="image", payload={"media_id": "x1"}))
    for _ in range(6):
        clock.advance(hours=12)
        wecom.downloader.run_due()
    wecom.sender.drain()
    alerts = [
        m for m in fake.messages if m["touser"] == "boss" and "文件取回失败" in m["text"]["content"]
    ]
    assert len(alerts) == 1
    assert MediaDownload.get().status == "failed"
    assert any("请重新发送" in m["text"]["content"] for m in fake.messages if m["touser"] == "li")


def test_secrets_and_tokens_never_reach_the_log(wecom, fake, clock):
    import io

    from bot.logs import configure_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("peewee").level)
    stream = io.StringIO()
    configure_logging(logging.DEBUG, stream)  # as run.py does, but at the most verbose level
    try:
        Outbox(clock).to_members(["li"], "x", "k")
        fake.fail(SEND, Fault.drop(), Fault.http(500))
        wecom.sender.drain()
        clock.advance(minutes=1)
        wecom.sender.drain()
    finally:
        root.handlers[:], _, _ = saved
        root.setLevel(saved[1])
        logging.getLogger("peewee").setLevel(saved[2])
    text = stream.getvalue() + " ".join(r.last_error for r in OutboxMessage.select())
    assert "/cgi-bin/message/send" in text, "the test must have logged the calls"
    assert fake.secret not in text and fake.current_token not in text


@pytest.fixture
def bot_factory():
    return ChatDriver


def test_retry_backoff_grows(wecom, fake, clock):
    Outbox(clock).to_members(["li"], "x", "k")
    fake.fail(SEND, *[Fault.http(500)] * 3)
    wecom.sender.drain()
    first = OutboxMessage.get().next_attempt_at
    clock.set(first + timedelta(seconds=1))
    wecom.sender.drain()
    second = OutboxMessage.get().next_attempt_at
    assert second - clock.now() > first - (first - timedelta(seconds=5))


def test_the_ledger_goes_out_as_an_uploaded_file(wecom, fake, bot_factory):
    bot = bot_factory(wecom)
    assert "台账已生成" in bot.say("boss", "导出")
    wecom.sender.drain()
    assert len(fake.uploads) == 1
    name, data = fake.uploads[0]
    assert name.endswith(".xlsx") and data.startswith(b"PK")
    sent = [m for m in fake.messages if m["msgtype"] == "file"]
    assert len(sent) == 1 and sent[0]["touser"] == "boss" and sent[0]["file"]["media_id"]


def test_a_card_wecom_refuses_goes_out_as_its_text_logged_and_recorded(
    wecom, fake, clock, bot_factory, caplog
):
    bot = bot_factory(wecom)
    bot.bind("li", "市监局")
    wecom.sender.drain()
    fake.fail(SEND, Fault.err(40058, "invalid parameter"))  # WeCom refuses the card itself
    bot.say("boss", "催办 T7")
    wecom.sender.drain()
    to_li = [m for m in fake.messages if m["touser"] == "li" and "【催办】" in str(m)]
    assert [m["msgtype"] for m in to_li] == ["text"]
    assert "T7" in to_li[0]["text"]["content"]
    row = OutboxMessage.get(OutboxMessage.msg_type == "card")
    assert row.status == "sent"
    assert row.result["fallback"] == "text" and "40058" in row.result["reason"]
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("refused the card" in r.getMessage() and "40058" in r.getMessage() for r in warned)


def test_a_task_id_wecom_has_seen_is_renewed_once_and_followed(wecom, fake, clock, bot_factory):
    """After a database reset a pending card may carry an id the app used in its earlier life:
    WeCom answers 42014. The card goes out once under a new id, and clicks on it map."""
    from bot.cards import queue_card

    bot = bot_factory(wecom)
    bot.bind("li", "市监局")
    earlier_life = {
        "touser": "li",
        "msgtype": "template_card",
        "agentid": wecom.config.wecom_agent_id,
        "template_card": {
            "card_type": "button_interaction",
            "task_id": "nudge-5-1",
            "main_title": {"title": "【催办】"},
            "button_list": [{"text": "已收到", "key": "ack"}],
        },
    }
    wecom.client.post("message/send", earlier_life)
    queue_card(
        Outbox(clock),
        clock.now(),
        kind="nudge",
        userid="li",
        title="【催办】县市场监管局",
        description="1 项未完成，请抓紧推进",
        rows=[("T7", "12月31日｜进行中")],
        text="【催办】请推进 T7",
        task_id="nudge-5-1",  # as the version before random tails built it
        dedupe_key="nudge:5:li",
    )
    wecom.sender.drain()
    cards = [m["template_card"]["task_id"] for m in fake.messages if "template_card" in m]
    assert len(cards) == 2 and cards[0] == "nudge-5-1" and cards[1].startswith("nudge-5-1-")
    assert not [m for m in fake.messages if "【催办】请推进" in str(m)], "no text fallback"
    new_id = cards[1]
    row = OutboxMessage.get(OutboxMessage.dedupe_key == "nudge:5:li")
    assert row.status == "sent" and row.content["card"]["task_id"] == new_id
    assert row.result["task_id_was"] == "nudge-5-1" and "fallback" not in row.result
    assert InteractiveCard.get().task_id == new_id
    event = {"event": "template_card_event", "EventKey": "ack", "TaskId": new_id}
    wecom.pipeline.handle(Incoming("wecom", "evt-1", "li", kind="event", payload=event))
    assert InteractiveCard.get().clicked_key == "ack"


def test_a_renewed_card_refused_again_goes_out_as_its_text(wecom, fake, clock, bot_factory):
    bot = bot_factory(wecom)
    bot.bind("li", "市监局")
    wecom.sender.drain()
    fake.fail(SEND, Fault.err(42014), Fault.err(42014))
    bot.say("boss", "催办 T7")
    wecom.sender.drain()
    to_li = [m for m in fake.messages if m["touser"] == "li" and "【催办】" in str(m)]
    assert [m["msgtype"] for m in to_li] == ["text"]
    row = OutboxMessage.get(OutboxMessage.msg_type == "card")
    assert row.result["fallback"] == "text" and "42014" in row.result["reason"]
    tried = [
        r.json["template_card"]["task_id"]
        for r in fake.requests_to(SEND)
        if r.json["msgtype"] == "template_card"
    ]
    assert len(tried) == 2 and tried[0] != tried[1], "the card once more under a new id, no more"


def test_a_card_that_timed_out_is_retried_with_its_task_id_and_absorbed(wecom, fake, clock):
    from bot.cards import queue_card, task_id_for

    wecom.client.timeout = wecom.client.api.timeout = (1, 0.3)
    queue_card(
        Outbox(clock),
        clock.now(),
        kind="nudge",
        userid="li",
        title="【催办】县市场监管局",
        description="1 项未完成，请抓紧推进",
        rows=[("T7", "12月31日｜进行中")],
        text="【催办】请推进 T7",
        task_id=task_id_for("nudge", 5, 1),
        dedupe_key="nudge:5:li",
    )
    fake.fail(SEND, Fault.slow(1.0))  # WeCom takes the card; its answer comes too late
    assert wecom.sender.drain().retried == 1
    assert fake.wait_for(lambda: len(fake.messages) == 1)
    drain_until_quiet(wecom, clock)
    assert OutboxMessage.get().status == "sent"
    # The retry was the same request (same task_id): absorbed, not refused with 42014.
    assert [m["msgtype"] for m in fake.messages] == ["template_card"]
    assert fake.duplicates_absorbed == fake.messages
    assert InteractiveCard.get().task_id == fake.messages[0]["template_card"]["task_id"]
