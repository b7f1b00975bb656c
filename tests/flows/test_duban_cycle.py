"""The 督办 cycle through the chat, on a moving clock: a leader's 交办 to two units, 签收 by card
and by reply, chasing the unit that has not signed, progress, evidence, 完成, the office's 退回
with a reason asked for in chat, completing again, 通过; the overdue unit escalated to the leader;
the ledger and the digest at each step. Played against the fake WeCom (cards and clicks)."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from conftest import TZ
from helpers import ChatDriver
from openpyxl import load_workbook
from wecom_setup import wecom_config

from bot.ledger import build_ledger
from bot.outbox import Outbox
from bot.pipeline import Incoming
from bot.services import build_services
from models.audit import AuditEntry
from models.plan import Assignment, Item
from models.progress import Evidence
from reminders import digest
from reminders.jobs import reminder_round
from reminders.stored import load_calendar

MONDAY = datetime(2026, 11, 30, 10, 0, tzinfo=TZ)


@pytest.fixture
def office(tmp_path, db_url, db, fake, clock):
    clock.set(MONDAY)
    fake.clock = lambda: clock.now().timestamp()
    services = build_services(wecom_config(tmp_path, db_url, fake), clock)
    bot = ChatDriver(services)
    bot.bind("li_scj", "市监局")
    bot.bind("li_gxj", "工信局")
    bot.bind("lead", "县政府", "领导")
    services.sender.drain()
    fake.messages.clear()
    return services, bot


def _to(fake, userid, kind=None):
    return [
        m
        for m in fake.messages
        if m.get("touser") == userid and (kind is None or m["msgtype"] == kind)
    ]


def _text(message) -> str:
    if message["msgtype"] == "template_card":
        return message["template_card"]["main_title"]["title"]
    return message.get("text", {}).get("content", "")


def _click(services, userid, card, key, n):
    event = {
        "event": "template_card_event",
        "EventKey": key,
        "TaskId": card["task_id"],
        "ResponseCode": "",  # (card updates are tested in tests/wecom)
    }
    handled = services.pipeline.handle(
        Incoming("wecom", f"click-{n}", userid, kind="event", payload=event)
    )
    services.sender.drain()
    return handled.reply


def _round(services, clock):
    reminder_round(
        clock.now(),
        services.config,
        load_calendar(),
        Outbox(clock),
        services.renderer,
    )
    services.sender.drain()


def _ledger_rows(clock):
    book = load_workbook(io.BytesIO(build_ledger(clock.now(), TZ, load_calendar())))
    return {r[6]: r for r in book["交办事项"].iter_rows(min_row=2, values_only=True)}


def test_a_leaders_assignment_through_the_whole_cycle(office, fake, clock):
    services, bot = office
    # Monday: the leader assigns work to two units, 市监局 leading, due Friday.
    reply = bot.say("lead", "交办 市监局（牵头）,工信局 本周五 报送创建工作阶段性总结")
    assert "已交办 J1（领导批示）" in reply and "县市场监管局（牵头）" in reply
    assert "期限：2026-12-04" in reply
    services.sender.drain()
    cards = {u: _to(fake, u, "template_card") for u in ("li_scj", "li_gxj")}
    assert all(len(c) == 1 for c in cards.values())
    card = cards["li_scj"][0]["template_card"]
    assert card["main_title"]["title"].startswith("【交办】J1")
    # 市监局 signs with the card's button; 工信局 does not sign yet.
    assert "已签收" in _click(services, "li_scj", card, "ack", 1)
    rows = _ledger_rows(clock)
    assert rows["县市场监管局"][9] is not None and rows["县工信科技局"][9] == "未签收"

    # Tuesday morning: only the unit that has not signed is chased.
    fake.messages.clear()
    clock.set(datetime(2026, 12, 1, 9, 30, tzinfo=TZ))
    _round(services, clock)
    chased = {m["touser"]: str(m) for m in fake.messages}
    assert "未签收" in chased["li_gxj"]
    assert "未签收" not in chased["li_scj"]  # (it hears the ladder: 3 working days to go)
    assert "已签收" in bot.say("li_gxj", "签收 J1")
    services.sender.drain()
    fake.messages.clear()
    _round(services, clock)  # the same round again sends nothing
    assert fake.messages == []

    # Progress, evidence, and 完成 from 市监局.
    assert "进度 50%" in bot.say("li_scj", "J1 进度 50% 初稿已成")
    stored = services.evidence.save(io.BytesIO(b"%PDF-1.4 summary"), "阶段性总结.pdf")
    attached = services.pipeline.handle(
        Incoming("wecom", "file-1", "li_scj", kind="file", text="J1 佐证", file=stored)
    )
    assert "已归到 J1" in attached.reply
    assert Evidence.get().item.code == "J1"
    reply = bot.say("li_scj", "完成 J1 总结已报送县政府")
    assert "等待办公室审核" in reply
    services.sender.drain()
    review_cards = _to(fake, "boss", "template_card")
    assert len(review_cards) == 1
    review = review_cards[0]["template_card"]
    assert [b["key"] for b in review["button_list"]] == ["pass", "return"]
    assert "J1" in review["main_title"]["title"] and "佐证 1 份" in review["main_title"]["desc"]
    assert _ledger_rows(clock)["县市场监管局"][10] == "待审核"

    # The office sends it back: the click asks for the reason, the next message is it.
    assert "请回复退回 J1 市监局 的原因" in _click(services, "boss", review, "return", 2)
    fake.messages.clear()
    assert "已退回" in bot.say("boss", "缺少盖章的正式文件")
    services.sender.drain()
    told = [_text(m) for m in _to(fake, "li_scj")]
    assert any("审核退回" in t and "缺少盖章的正式文件" in t for t in told), told
    scj = _share("J1", "县市场监管局")
    assert scj.status == "open" and scj.reported_at is None

    # Completed again on Thursday; the office passes it from the card.
    clock.set(datetime(2026, 12, 3, 11, 0, tzinfo=TZ))
    assert "等待办公室审核" in bot.say("li_scj", "完成 J1 已补充盖章件")
    services.sender.drain()
    review = _to(fake, "boss", "template_card")[-1]["template_card"]
    assert "已审核通过" in _click(services, "boss", review, "pass", 3)
    assert _share("J1", "县市场监管局").status == "done"
    assert bot.say("boss", "待审核") == "没有待审核的完成报告。"

    # 工信局 misses Friday's deadline: on Monday the leader who assigned it hears.
    fake.messages.clear()
    clock.set(datetime(2026, 12, 7, 9, 30, tzinfo=TZ))
    _round(services, clock)
    leader = [_text(m) for m in _to(fake, "lead")]
    assert any("您交办或批示的以下事项已逾期" in t and "县工信科技局" in t for t in leader), leader
    assert any("J1" in _text(m) or "J1" in str(m) for m in _to(fake, "li_gxj"))
    rows = _ledger_rows(clock)
    assert rows["县市场监管局"][10] == "已完成"
    assert rows["县工信科技局"][10] == "已逾期" and rows["县工信科技局"][11] == 1
    data = digest.build(clock.now(), services.config, load_calendar())
    assert data["assigned"]["overdue"] == [
        {"unit": "县工信科技局", "items": ["J1（逾期 1 个工作日）"]}
    ]
    markdown = digest.render_markdown(data, services.renderer)
    assert "交办事项 1 项" in markdown and "J1（逾期 1 个工作日）" in markdown
    actions = [e.action for e in AuditEntry.select().where(AuditEntry.item_code == "J1")]
    for step in ("assign_item", "sign", "progress", "evidence", "done", "review_return",
                 "review_pass"):  # fmt: skip
        assert step in actions, step


def _share(code: str, unit_name: str) -> Assignment:
    from models.org import Unit

    return Assignment.get(
        (Assignment.item == Item.get(Item.code == code))
        & (Assignment.unit == Unit.get(Unit.name == unit_name))
        & Assignment.shares()
    )


def test_a_withdrawn_item_stops_everything_and_stays_on_record(office, fake, clock):
    services, bot = office
    bot.say("boss", "交办 工信局 2026-12-10 梳理电商企业名录")
    bot.say("li_gxj", "签收 J1")
    reply = bot.say("boss", "撤销 J1 已并入年度总结")
    assert "已撤销 J1" in reply
    services.sender.drain()
    assert _share("J1", "县工信科技局").status == "cancelled"
    assert "已撤销" in bot.say("li_gxj", "进度 J1 30%")
    services.sender.drain()
    clock.set(datetime(2026, 12, 10, 9, 30, tzinfo=TZ))
    fake.messages.clear()
    _round(services, clock)
    assert not [m for m in fake.messages if "J1" in str(m)]
    assert "J1" not in bot.say("lead", "逾期")
    assert Item.get(Item.code == "J1").cancel_reason == "已并入年度总结"  # kept, never deleted
    assert _ledger_rows(clock)["县工信科技局"][15] == "已并入年度总结"


def _days(start, end):
    from datetime import timedelta

    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def test_a_monthly_report_over_three_months_with_a_holiday(bot, services, clock):
    """每月5日 from September: 5 September is a Saturday (due Friday the 4th); 5 October falls
    in the National Day holiday (due 30 September, RECURRING_DAY_OFF=previous); 5 November is a
    Thursday. One ladder per occurrence; September reported on time, October late, November
    not at all."""
    from datetime import date

    from reminders.jobs import ensure_occurrences

    clock.set(datetime(2026, 9, 1, 10, 0, tzinfo=TZ))
    bot.bind("li", "市监局")
    reply = bot.say("boss", "交办 市监局 每月5日前 报送创建工作进展（会议议定）")
    assert "周期：每月5日，首次 2026-09-04" in reply
    bot.say("li", "签收 J1")
    bot.deliver()
    heard: dict[date, list[str]] = {}
    for day in _days(date(2026, 9, 1), date(2026, 11, 10)):
        clock.set(datetime(day.year, day.month, day.day, 9, 30, tzinfo=TZ))
        cal = load_calendar()
        ensure_occurrences(clock.now(), services.config, cal)
        reminder_round(clock.now(), services.config, cal, Outbox(clock), services.renderer)
        texts = [m.content["text"] for m in bot.deliver() if "li" in m.recipients]
        heard[day] = [line for t in texts for line in t.splitlines() if line.startswith("【")]
        if day == date(2026, 9, 3):
            assert "J1（2026年9月）" in bot.say("li", "完成 J1 九月进展已报送")
            bot.say("boss", "通过 J1")
        if day == date(2026, 10, 9):
            assert "J1（2026年10月）" in bot.say("li", "完成 J1 十月进展（晚了几天）")
            bot.say("boss", "通过 J1")
        bot.deliver()

    def when(label):
        return [d for d, lines in heard.items() if any(label in line for line in lines)]

    # September: 3 and 1 working days before Friday the 4th, and the day; reported on the 3rd.
    assert when("（2026年9月）") == [date(2026, 9, 1), date(2026, 9, 3)]
    assert any("期限 2026-09-04" in line for line in heard[date(2026, 9, 1)])
    # October, moved to 30 September: its own ladder (25 September is the Mid-Autumn holiday,
    # so 3 working days before is the 24th), then overdue after the National Day holiday until
    # reported on 9 October.
    october = when("（2026年10月）")
    assert october[:3] == [date(2026, 9, 24), date(2026, 9, 29), date(2026, 9, 30)]
    assert october[3:] == [date(2026, 10, 8), date(2026, 10, 9)]  # the 9th's round ran first
    assert not [d for d in october if date(2026, 10, 1) <= d <= date(2026, 10, 7)], "holiday"
    # November: the ladder, the day, then overdue every working day.
    november = when("（2026年11月）")
    assert november[:3] == [date(2026, 11, 2), date(2026, 11, 4), date(2026, 11, 5)]
    assert november[3:] == [date(2026, 11, 6), date(2026, 11, 9), date(2026, 11, 10)]
    record = digest.build(clock.now(), services.config, load_calendar())["recurring"]
    assert record == [{"unit": "市监局", "total": 3, "on_time": 1, "late": 1, "missing": 1}]
    markdown = digest.render_markdown(
        digest.build(clock.now(), services.config, load_calendar()),
        services.renderer,
    )
    assert "市监局 按时 1、逾期 1、未报 1" in markdown


def test_three_milestones_derived_progress_one_overdue_and_its_owner_reminded(bot, services, clock):
    """市监局 breaks T7 into three milestones: progress is derived from them, the overdue one
    reaches its 责任人 (the liaison in copy), and the digest and the ledger count it."""
    clock.set(datetime(2026, 11, 30, 10, 0, tzinfo=TZ))  # Monday
    bot.bind("li", "市监局")
    bot.bind("wang", "市监局", "负责人")  # bound, not a liaison: 责任人 of one milestone
    bot.say("boss", "期限 T7 2026-12-31")
    assert "T7-1" in bot.say("li", "节点 T7 2026-12-02 完成全县网络经营主体摸底 责任人 wang")
    assert "T7-2" in bot.say("li", "节点 T7 2026-12-10 形成监管职责分工方案")
    assert "T7-3" in bot.say("li", "节点 T7 2026-12-25 建立线上线下一体化工作机制")
    assert "T7-2" in bot.say("li", "完成 T7-2 方案已印发")
    bot.say("boss", "通过 T7-2")
    assert "节点 1/3" in bot.say("li", "我的任务")
    detail = bot.say("li", "任务 T7")
    assert "本单位节点（1/3 完成）" in detail and "T7-1 完成全县网络经营主体摸底" in detail
    bot.deliver()

    # T7-1 is due Wednesday and not done: on Thursday it is overdue.
    clock.set(datetime(2026, 12, 3, 9, 30, tzinfo=TZ))
    before = len(bot.transport.sent)
    _round(services, clock)
    sent = bot.transport.sent[before:]
    to_wang = [m.content["text"] for m in sent if m.recipients == ("wang",)]
    to_li = [m.content["text"] for m in sent if m.recipients == ("li",)]
    assert len(to_wang) == 1 and "T7-1 完成全县网络经营主体摸底" in to_wang[0]
    assert "已逾期 1 个工作日" in to_wang[0]
    assert "T7-2" not in to_wang[0] and "T7-3" not in to_wang[0], "only the owner's own"
    assert len(to_li) == 1 and "T7-1" in to_li[0] and "责任人 wang" in to_li[0]
    data = digest.build(clock.now(), services.config, load_calendar())
    assert data["milestones"] == [{"unit": "县市场监管局", "count": 1}]
    assert "T7-1" in bot.say("boss", "逾期") and "节点（实施细则）" in bot.say("boss", "逾期")


def test_review_switched_off_for_milestones_makes_done_final(tmp_path, db_url, db, clock):
    from conftest import make_config
    from fakes.transport import RecordingTransport

    services = build_services(
        make_config(tmp_path, db_url, REVIEW="plan,assigned"), clock, RecordingTransport()
    )
    bot = ChatDriver(services)
    bot.bind("li", "市监局")
    bot.say("li", "节点 T7 2026-12-10 形成监管职责分工方案")
    reply = bot.say("li", "完成 T7-1 方案已印发")
    assert "已完成" in reply and "等待办公室审核" not in reply
    assert Assignment.get(Assignment.kind == "milestone").status == "done"
    assert bot.say("boss", "待审核") == "没有待审核的完成报告。"
    assert "等待办公室审核" in bot.say("li", "完成 T7")  # plan items are still reviewed
