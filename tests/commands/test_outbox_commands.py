"""发件箱 and 重发 through the chat: what waits, what failed or expired (with a number each), and
putting a failed or expired message back in line, logged."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.outbox import Outbox
from bot.transports.base import PermanentSendError, TransientSendError
from models.audit import AuditEntry
from models.messages import OutboxMessage


def outbox(bot) -> Outbox:
    return Outbox(bot.services.clock)


def row_of(key: str) -> OutboxMessage:
    return OutboxMessage.get(OutboxMessage.dedupe_key == key)


def down(bot, times: int = 10_000) -> None:
    bot.transport.failures = [TransientSendError("无法连接企业微信：ConnectionError")] * times


def test_the_outbox_when_all_is_well(bot):
    bot.bind("li", "市监局")
    bot.deliver()
    reply = bot.say("boss", "发件箱")
    assert reply.startswith("发件箱：已发送 2 条。")  # the binding's reply and the welcome
    assert "没有待发的消息" in reply and "近 7 天没有失败或过期的消息" in reply


def test_failed_and_expired_rows_are_listed_with_numbers_errors_and_times(bot, clock):
    bot.bind("li", "市监局", "联络员 李四")
    bot.deliver()
    outbox(bot).to_members(["ghost"], "你好", "k-ghost")
    bot.transport.failures = [PermanentSendError("企业微信错误 81013：收件人全部无效")]
    bot.deliver()
    outbox(bot).to_members(["li"], "请报告 T7 进度", "k-li")
    down(bot)
    bot.deliver()
    clock.advance(hours=25)
    bot.deliver()  # expired now
    outbox(bot).to_members(["li"], "新的通知", "k-new")
    bot.deliver()
    clock.advance(minutes=3)
    bot.transport.failures = []
    reply = bot.say("boss", "发件箱")
    ghost, li = row_of("k-ghost"), row_of("k-li")
    assert (ghost.status, li.status) == ("failed", "expired")
    assert re.search(r"待发 \d+ 条", reply) and "失败 1 条" in reply and "已过期 1 条" in reply
    notice = OutboxMessage.get(OutboxMessage.dedupe_key.startswith("send-notice:expired:"))
    assert f"最早的待发：#{notice.id} 发送异常通知“【发送异常】1 条消息过了有…” → boss" in reply
    assert "已等待 3 分钟，已尝试 1 次；最近的错误：无法连接企业微信" in reply
    assert f"#{ghost.id}【失败】消息“你好” → ghost｜11-26 10:00｜" in reply and "81013" in reply
    assert f"#{li.id}【已过期】消息“请报告 T7 进度” → li（李四）｜11-27 11:00｜" in reply
    assert reply.index(f"#{li.id}") < reply.index(f"#{ghost.id}"), "newest first"
    assert f"重发 {li.id}" in reply
    assert len(reply.encode()) <= 2048


def test_resend_one_puts_it_back_in_line_and_logs_who_and_which(bot, clock):
    outbox(bot).to_members(["li"], "请报告 T7 进度", "k-li")
    down(bot)
    bot.deliver()
    clock.advance(hours=25)
    bot.deliver()
    row = row_of("k-li")
    assert row.status == "expired"
    bot.transport.failures = []
    reply = bot.say("boss", f"重发 #{row.id}")
    assert f"已重新排队 1 条消息：#{row.id}" in reply and "→ li" in reply
    row = row_of("k-li")
    assert (row.status, row.attempts, row.failed_at) == ("pending", 0, None)
    assert row.expires_at == clock.now() + timedelta(hours=24), "a new day to live"
    sent = bot.deliver()
    assert [m.content["text"] for m in sent if m.recipients == ("li",)] == ["请报告 T7 进度"]
    assert row_of("k-li").status == "sent"
    entry = AuditEntry.get(AuditEntry.action == "resend")
    assert entry.actor == "boss" and entry.summary == f"重发 1 条消息：#{row.id}"
    assert entry.before["rows"][0][:2] == [row.id, "expired"]
    assert f"boss：重发 1 条消息：#{row.id}" in bot.say("boss", "日志")


def test_resend_all_sends_what_failed_or_expired_this_week(bot, clock):
    out = outbox(bot)
    out.to_members(["a"], "一", "k1")
    out.to_members(["b"], "二", "k2")
    down(bot)
    bot.deliver()
    clock.advance(hours=25)
    bot.deliver()
    out.to_members(["ghost"], "三", "k3")
    bot.transport.failures = [PermanentSendError("企业微信错误 60011：收件人不在可见范围")]
    bot.deliver()
    given_up = {row_of(k).status for k in ("k1", "k2", "k3")}
    assert given_up == {"expired", "failed"}
    notices = OutboxMessage.select().where(OutboxMessage.dedupe_key.startswith("send-notice:"))
    assert notices.count() == 2
    texts = [n.content["text"] for n in notices.order_by(OutboxMessage.id)]
    assert "“重发 编号”或“重发 全部”" in texts[0], "the expiry notice says how to resend"
    assert f"“重发 {row_of('k3').id}”" in texts[1], "the failure notice names the number"
    reply = bot.say("boss", "重发 全部")
    assert "已重新排队 3 条消息" in reply
    assert {row_of(k).status for k in ("k1", "k2", "k3")} == {"pending"}
    assert {n.status for n in notices} <= {"sent", "pending"}, "notices are not resent"
    bot.deliver()
    assert {row_of(k).status for k in ("k1", "k2", "k3")} == {"sent"}
    assert "无需重发" in bot.say("boss", "重发 全部")
    entry = AuditEntry.get(AuditEntry.action == "resend")
    ids = [row_of(k).id for k in ("k1", "k2", "k3")]
    assert entry.summary == "重发 3 条消息：" + "、".join(f"#{i}" for i in ids)


def test_a_merged_message_resent_goes_back_as_its_replies(bot, clock):
    bot.bind("li", "市监局")
    bot.deliver()
    bot.services.sender.flood_replies = 5
    down(bot)
    for n in range(8):
        bot.say("li", f"任务 T{n + 1}")
    bot.deliver()
    clock.advance(hours=25)
    bot.deliver()
    replies = list(
        OutboxMessage.select()
        .where(OutboxMessage.dedupe_key.startswith("reply:") & (OutboxMessage.recipient == "li"))
        .order_by(OutboxMessage.id)
    )
    assert {r.status for r in replies} == {"expired"}
    carrier = next(r for r in replies if r.msg_type == "merged")
    listing = bot.say("boss", "发件箱")
    assert f"#{carrier.id}【已过期】合并回复（8 条） → li" in listing
    assert listing.count("【已过期】") == 1, "the replies it carried are not listed one by one"
    member = replies[-1]  # one it carried may be resent alone
    assert f"已重新排队 1 条消息：#{member.id} 回复" in bot.say("boss", f"重发 {member.id}")
    bot.transport.failures = []
    reply = bot.say("boss", f"重发 {carrier.id}")
    assert "其中合并发送的回复拆开重新排队（共 6 条）" in reply  # 8: the carrier, 6, and that one
    assert {r.status for r in OutboxMessage.select().where(OutboxMessage.id.in_(replies))} == {
        "pending"
    }
    sent = [m.content["text"] for m in bot.deliver() if m.recipients == ("li",)]
    assert len(sent) == 1 and "连续发来 8 条消息" in sent[0], "still a flood: merged anew"
    assert {r.status for r in OutboxMessage.select().where(OutboxMessage.id.in_(replies))} == {
        "sent"
    }


def test_only_failed_or_expired_messages_can_be_resent(bot):
    bot.bind("li", "市监局")
    bot.deliver()
    sent = row_of(OutboxMessage.select().where(OutboxMessage.recipient == "li").get().dedupe_key)
    assert "只有失败或过期的消息可以重发" in bot.say("boss", f"重发 {sent.id}")
    assert "状态是“已发送”" in bot.say("boss", f"重发 {sent.id}")
    assert "没有编号为 99999 的消息" in bot.say("boss", "重发 99999")
    assert "不是编号" in bot.say("boss", "重发 T7")
    assert AuditEntry.select().where(AuditEntry.action == "resend").count() == 0


def test_the_outbox_is_for_admins(bot):
    bot.bind("li", "市监局")
    for text in ("发件箱", "重发 1", "重发 全部"):
        assert "只有管理员可以使用" in bot.say("li", text)
