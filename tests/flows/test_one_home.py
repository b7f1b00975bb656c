"""Issue 19's symptoms, each through every way in that can cause it (chat, import, card) and
read back through every view (chat, digest, ledger, board): every change of state goes
through bot/actions, every view reads reminders/state, so the answers agree."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

from conftest import TZ
from helpers import snapshot
from openpyxl import Workbook, load_workbook

from bot.board.access import viewer_for
from bot.board.pages import Moment, indicator_page, unit_page, units
from bot.ledger import build_ledger
from bot.outbox import Outbox
from bot.pack import build as build_pack
from bot.pipeline import Incoming
from models.messages import InteractiveCard, OutboxMessage
from models.org import Unit
from models.plan import Assignment, Item, Part, Role, Status
from models.progress import Evidence
from models.scores import Score, ScoreState
from reminders import digest
from reminders.jobs import reminder_round
from reminders.stored import load_calendar


def _unit_id(name: str) -> int:
    return Unit.get(Unit.name == name).id


def _sheet(rows: list[list], header=("编号", "重点任务", "责任单位", "完成时限")) -> bytes:
    book = Workbook()
    ws = book.active
    ws.title = "分工"
    ws.append(list(header))
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _send_file(services, userid: str, data: bytes, name: str, caption: str, n: str):
    stored = services.evidence.save(io.BytesIO(data), name)
    return services.pipeline.handle(
        Incoming("test", f"file-{n}", userid, kind="file", text=caption, file=stored)
    ).reply


def _click(services, userid: str, task_id: str, key: str, n: str) -> str:
    event = {"event": "template_card_event", "EventKey": key, "TaskId": task_id}
    return services.pipeline.handle(
        Incoming("test", f"click-{n}", userid, kind="event", payload=event)
    ).reply


def _board_unit_row(services, clock, userid: str, unit: str) -> dict:
    viewer = viewer_for(userid, services.config)
    page = units(viewer, Moment(clock.now(), services.config))
    return next(r for r in page["rows"] if r["unit"].name == unit)


# ---------------------------------------------------------------- counts


def test_done_and_waiting_are_counted_alike_in_chat_and_on_the_board(bot, services, clock):
    bot.bind("li", "市监局")
    bot.bind("lead", "县政府", "领导")
    bot.say("boss", "期限 T7 2026-12-31")
    bot.say("boss", "期限 T11 2026-12-31")
    bot.say("li", "完成 T7 已办结")
    bot.say("li", "完成 T11 已办结")
    mine = bot.say("li", "我的任务")
    assert "其中待审核 2 项；已完成 0 项" in mine.splitlines()[0]
    summary = bot.say("lead", "单位 市监局")
    assert "已完成 0 项" in summary and "其中待审核 2 项" in summary
    row = _board_unit_row(services, clock, "boss", "县市场监管局")
    assert (row["done"], row["review"]) == (0, 2)

    bot.say("boss", "通过 T7")
    assert "已完成 1 项" in bot.say("li", "我的任务").splitlines()[0]
    assert "已完成 1 项" in bot.say("lead", "单位 市监局")
    row = _board_unit_row(services, clock, "boss", "县市场监管局")
    assert (row["done"], row["review"]) == (1, 1)


# ---------------------------------------------------------------- milestones


def test_milestones_passed_move_the_tasks_progress_everywhere(bot, services, clock):
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2027-01-29")
    for day, work in (("12-10", "摸底"), ("12-20", "建台账"), ("2027-01-20", "总结")):
        date_text = day if day.startswith("2027") else f"2026-{day}"
        assert "已添加节点" in bot.say("li", f"节点 T7 {date_text} {work}")
    for code in ("T7-1", "T7-2"):
        bot.say("li", f"完成 {code}")
        assert "已审核通过" in bot.say("boss", f"通过 {code} 市监局")
    clock.set(datetime(2026, 12, 28, 10, 0, tzinfo=TZ))  # about half the time gone
    detail = bot.say("li", "任务 T7")
    assert "进行中 66%｜节点 2/3" in detail
    assert "进行中 66%｜节点 2/3" in bot.say("li", "我的任务")
    viewer = viewer_for("boss", services.config)
    page = unit_page(viewer, _unit_id("县市场监管局"), Moment(clock.now(), services.config))
    line = next(i for i in page["items"] if i["code"] == "T7")
    assert line["status"] == "进行中 66%｜节点 2/3" and line["colour"] == ""
    data = digest.build(clock.now(), services.config, load_calendar())
    yellow = [code for group in data["items"]["yellow"] for code in group["items"]]
    assert not any(code.startswith("T7（") for code in yellow), yellow
    book = load_workbook(io.BytesIO(build_ledger(clock.now(), TZ, load_calendar())))
    t7 = next(r for r in book["任务台账"].iter_rows(min_row=2, values_only=True) if r[0] == "T7")
    assert (t7[6], t7[8]) == ("进行中", 66)


def test_a_milestones_extension_is_approved_as_the_milestones(bot, services):
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2027-01-29")
    bot.say("li", "节点 T7 2026-12-10 摸底")
    assert "已提交延期申请" in bot.say("li", "延期 T7-1 2026-12-24 等待数据")
    request = Assignment.get(Assignment.kind == Part.MILESTONE).extensions.get()
    reply = bot.say("boss", f"批准 {request.id}")
    assert "节点 T7-1 县市场监管局期限改为 2026-12-24" in reply
    told = OutboxMessage.get(OutboxMessage.dedupe_key == f"extension-decided:{request.id}")
    assert "T7-1" in told.content["text"]
    milestone = Assignment.get(Assignment.kind == Part.MILESTONE)
    share = Assignment.get_by_id(milestone.parent_id)
    assert milestone.deadline == date(2026, 12, 24) and share.deadline == date(2027, 1, 29)


# ---------------------------------------------------------------- scores


def test_a_units_figures_count_once_the_office_accepts_them_by_chat_or_card(bot, services, clock):
    bot.bind("li", "市监局")
    bot.bind("lead", "县政府", "领导")
    before = snapshot()
    assert "不能大于市场主体数量" in bot.say("li", "数据 Z3 9000 6000")  # 150 %: impossible
    assert snapshot() == before

    bot.say("li", "数据 Z3 1200 8000")  # 15 % -> 2 points, waiting for the office
    assert "待审核：Z3 2 分" in bot.say("lead", "总览")
    viewer = viewer_for("lead", services.config)
    from bot.board.pages import home

    board = home(viewer, Moment(clock.now(), services.config))
    assert board["score"]["total"] == "0" and board["score"]["waiting"][0]["code"] == "Z3"
    data = digest.build(clock.now(), services.config, load_calendar())
    assert data["score"]["waiting"] == [{"code": "Z3", "points": "2"}]
    assert "待办公室审核（未计入）：Z3 2 分" in digest.render_markdown(data, services.renderer)

    bot.say("li", "完成 Z3 数据已报")
    assert "已退回" in bot.say("boss", "退回 Z3 数据来源不清")
    assert Score.get(Score.source == "computed").state == ScoreState.RETURNED
    assert "待审核" not in bot.say("lead", "总览")

    bot.say("li", "数据 Z3 1300 8000")
    bot.say("li", "完成 Z3 已核实")
    card = (
        InteractiveCard.select()
        .where((InteractiveCard.kind == "review") & (InteractiveCard.wecom_userid == "boss"))
        .order_by(InteractiveCard.id.desc())
        .first()
    )
    assert "已审核通过" in _click(services, "boss", card.task_id, "pass", "z3")
    overview = bot.say("lead", "总览")
    assert "促进发展：2 / 20 分" in overview and "待审核" not in overview
    page = indicator_page(viewer, "Z3", Moment(clock.now(), services.config))
    assert page["score"] is not None


def test_new_figures_for_accepted_work_are_reviewed_again(bot):
    bot.bind("li", "市监局")
    bot.say("li", "数据 Z3 1200 8000")
    bot.say("li", "完成 Z3")
    bot.say("boss", "通过 Z3")
    bot.say("li", "数据 Z3 600 8000")  # 7.5 % -> 0 points: the office must see it
    share = Assignment.get(
        (Assignment.item == Item.get(Item.code == "Z3"))
        & (Assignment.unit == _unit_id("县市场监管局"))
        & (Assignment.kind == Part.SHARE)
    )
    assert share.status == Status.REVIEW
    overview = bot.say("boss", "总览")
    assert "促进发展：2 / 20 分" in overview and "待审核：Z3 0 分" in overview


# ---------------------------------------------------------------- 交办


def test_an_assigned_items_source_is_read_from_brackets_and_the_title_kept(bot):
    bot.bind("li", "市监局")
    reply = bot.say("boss", "交办 市监局,工信局 2026-12-15 报送阶段性总结（联席会议议定）")
    j1 = Item.get(Item.code == "J1")
    assert (j1.title, j1.source) == ("报送阶段性总结", "会议议定")
    lead = Assignment.get((Assignment.item == j1) & (Assignment.role == Role.LEAD))
    assert lead.unit.name == "县市场监管局", "the first unit named leads"
    assert "县市场监管局（牵头）" in reply
    bot.say("boss", "交办 工信局 2026-12-20 （县长批示：请抓紧推进）开展直播电商培训")
    j2 = Item.get(Item.code == "J2")
    assert (j2.title, j2.source) == ("开展直播电商培训", "领导批示")
    assert "县长批示：请抓紧推进" in j2.body


def test_an_imported_assigned_item_reads_its_source_and_lead_the_same_way(bot, services):
    bot.bind("li", "市监局")
    data = _sheet([[None, "开展网络直播营销专项检查（县长批示）", "工信局、市监局", "2026-12-20"]])
    reply = _send_file(services, "boss", data, "交办.xlsx", "", "a")
    assert "新交办 J1（领导批示）开展网络直播营销专项检查" in reply
    assert "已导入" in bot.say("boss", "导入 确认")
    j1 = Item.get(Item.code == "J1")
    assert (j1.title, j1.source) == ("开展网络直播营销专项检查", "领导批示")
    lead = Assignment.get((Assignment.item == j1) & (Assignment.role == Role.LEAD))
    assert lead.unit.name == "县工信科技局"


def test_a_return_reason_may_begin_with_any_word(bot):
    bot.bind("li", "市监局")
    bot.bind("gx", "工信局")
    bot.say("boss", "交办 市监局,工信局 2026-12-15 报送总结")
    bot.say("li", "完成 J1 已报送")
    reply = bot.say("boss", "退回 J1 县长批示要求补充照片")
    assert "已退回" in reply, reply
    told = OutboxMessage.get(OutboxMessage.dedupe_key.startswith("review_returned.j2:"))
    assert "县长批示要求补充照片" in told.content["text"]
    bot.say("li", "完成 J1 已补充")
    bot.say("gx", "完成 J1 已报送")
    assert "请写明单位" in bot.say("boss", "退回 J1 缺照片")
    assert "已退回：J1 工信局" in bot.say("boss", "退回 J1 工信局 缺照片")


# ---------------------------------------------------------------- views


def test_an_items_detail_shows_its_rule_signing_and_lead(bot):
    bot.bind("li", "市监局")
    bot.bind("gx", "工信局")
    bot.say("boss", "交办 市监局,工信局 每月5日 报送月度进展")
    detail = bot.say("li", "任务 J1")
    assert "未设期限" not in detail
    assert "定期报送：每月5日" in detail and "本期（J1（2026年12月））期限 2026-12-04" in detail
    assert "签收：0/2" in detail
    bot.say("li", "签收 J1")
    assert "签收：1/2（市监局" in bot.say("gx", "任务 J1") and "未签收：县工信科技局" in bot.say(
        "gx", "任务 J1"
    )
    bot.say("boss", "牵头 T8 市监局")
    assert "牵头：县市场监管局" in bot.say("boss", "任务 T8")


def test_the_ledger_counts_working_days_late_for_work_closed_late(bot, clock):
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2026-11-20")  # a Friday, back-filled
    bot.say("li", "完成 T7 已办结")  # Thursday 26th: 4 working days late
    bot.say("boss", "通过 T7")
    book = load_workbook(io.BytesIO(build_ledger(clock.now(), TZ, load_calendar())))
    t7 = next(r for r in book["任务台账"].iter_rows(min_row=2, values_only=True) if r[0] == "T7")
    assert (t7[6], t7[7]) == ("已完成", 4)


def test_the_evidence_pack_holds_assigned_items_files(bot, services, clock, tmp_path):
    bot.bind("li", "市监局")
    bot.say("boss", "交办 市监局 2026-12-15 报送总结")
    assert "已收到" in _send_file(services, "li", b"%PDF-1.4 j1", "总结.pdf", "J1", "j1")
    built = build_pack(
        "全部", services.config.data_dir / "evidence", tmp_path, TZ, clock.now(), None
    )
    paths = [f.path for f in built.pack.files]
    assert any(" 交办事项/J1 报送总结/" in p for p in paths), paths
    assert [i.code for i in built.pack.assigned] == ["J1"]
    only = build_pack("J1", services.config.data_dir / "evidence", tmp_path, TZ, clock.now(), None)
    assert [f.item.code for f in only.pack.files] == ["J1"]


def test_a_round_does_not_report_units_with_liaisons_as_without(bot, services, clock):
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2026-11-20")  # overdue: the 3rd working day escalates to heads
    clock.set(datetime(2026, 11, 27, 9, 30, tzinfo=TZ))
    result = reminder_round(
        clock.now(), services.config, load_calendar(), Outbox(clock), services.renderer
    )
    assert result.messages >= 1 and result.units_without_liaison == set()


# ---------------------------------------------------------------- deadlines


def test_a_deadline_set_in_chat_or_by_import_is_its_days_reminder(bot, services, clock):
    bot.bind("li", "市监局")
    soon = "2026-12-01"  # 3 working days after Thursday 26th: the before_3 step is today
    bot.say("boss", f"期限 T7 {soon}")
    data = _sheet([["T11", None, "市监局", soon]])
    _send_file(services, "boss", data, "期限.xlsx", "", "d")
    assert "已导入" in bot.say("boss", "导入 确认")
    result = reminder_round(
        clock.now(), services.config, load_calendar(), Outbox(clock), services.renderer
    )
    assert result.messages == 0, "the notices already told the unit today"
    clock.set(clock.now() + timedelta(days=1))  # Friday: before_2 is no step; Monday is 1
    clock.set(datetime(2026, 11, 30, 9, 30, tzinfo=TZ))
    assert (
        reminder_round(
            clock.now(), services.config, load_calendar(), Outbox(clock), services.renderer
        ).items
        == 2
    )


def test_an_import_that_would_undo_an_approved_extension_says_so_apart(bot, services):
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2026-12-10")
    bot.say("li", "延期 T7 2026-12-31 等上级文件")
    request = Assignment.get(
        (Assignment.item == Item.get(Item.code == "T7"))
        & (Assignment.unit == _unit_id("县市场监管局"))
        & (Assignment.kind == Part.SHARE)
    ).extensions.get()
    bot.say("boss", f"批准 {request.id}")
    data = _sheet([["T7", None, "市监局", "2026-12-10"], ["T11", None, "市监局", "2026-12-20"]])
    reply = _send_file(services, "boss", data, "期限.xlsx", "", "x")
    undo, rest = reply.split("其他改动：")
    assert (
        "会撤销办公室已批准的延期" in undo and "T7 县市场监管局期限 2026-12-31 → 2026-12-10" in undo
    )
    assert f"申请 {request.id}" in undo
    assert "T7" not in rest and "T11 县市场监管局期限" in rest


# ---------------------------------------------------------------- evidence


def test_the_same_file_sent_twice_then_filed_counts_once(bot, services):
    bot.bind("li", "市监局")
    data = b"%PDF-1.4 the same"
    _send_file(services, "li", data, "方案.pdf", "", "1")
    _send_file(services, "li", data, "方案（1）.pdf", "", "2")
    reply = bot.say("li", "佐证 T7")
    assert "本单位该项共 1 份" in reply
    counted = Evidence.select().where(Evidence.active() & Evidence.item.is_null(False)).count()
    assert counted == 1
    assert "不再重复计入" in _send_file(services, "li", data, "方案.pdf", "T7", "3")


def test_one_scenario_through_chat_and_through_import_reads_the_same_everywhere(
    bot, services, clock
):
    """T7 through the chat, T11 (the same unit's, as plain) through an imported sheet: the same
    deadline, two milestones, one of them passed. Every view then shows the two alike, field
    by field: the rows, the day's reminders, chat's 任务 and 我的任务, the ledger, the board and
    the digest."""
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2026-12-18")
    bot.say("boss", "节点 T7 市监局 2026-12-04 完成摸底")
    bot.say("boss", "节点 T7 市监局 2026-12-11 建立台账")
    data = _sheet(
        [
            ["T11", None, "市监局", "2026-12-18", None],
            ["T11", None, "市监局", "2026-12-04", "完成摸底"],
            ["T11", None, "市监局", "2026-12-11", "建立台账"],
        ],
        header=("编号", "重点任务", "责任单位", "完成时限", "具体措施"),
    )
    _send_file(services, "boss", data, "细则.xlsx", "", "same")
    assert "已导入" in bot.say("boss", "导入 确认")
    for code in ("T7-1", "T11-1"):
        bot.say("li", f"完成 {code} 已完成")
        assert "已审核通过" in bot.say("boss", f"通过 {code} 市监局")
    clock.set(datetime(2026, 12, 8, 10, 0, tzinfo=TZ))

    def share(code):
        return Assignment.get(
            (Assignment.item == Item.get(Item.code == code))
            & (Assignment.unit == _unit_id("县市场监管局"))
            & (Assignment.kind == Part.SHARE)
        )

    def written(a):
        parts = a.parts.where(Assignment.kind == Part.MILESTONE).order_by(Assignment.seq)
        return (
            a.deadline,
            a.deadline_set_on,
            a.status,
            a.progress,
            [(m.seq, m.title, m.deadline, m.status, m.deadline_set_on) for m in parts],
        )

    t7, t11 = share("T7"), share("T11")
    assert written(t7) == written(t11)
    # Chat: the same status words for both.
    line = {code: next(x for x in bot.say("li", f"任务 {code}").splitlines() if "本单位" in x)
            for code in ("T7", "T11")}  # fmt: skip
    assert line["T7"] == line["T11"] and "节点 1/2" in line["T7"], line
    mine = bot.say("li", "我的任务").splitlines()
    row = {
        c: next(x for x in mine if x.startswith(c + " ")).split("｜", 2)[2] for c in ("T7", "T11")
    }
    assert row["T7"] == row["T11"], row
    # The ledger: every column but the code, the kind and the title.
    book = load_workbook(io.BytesIO(build_ledger(clock.now(), TZ, load_calendar())))
    tasks = {(r[0], r[3]): r[3:] for r in book["任务台账"].iter_rows(min_row=2, values_only=True)}
    assert tasks[("T7", "县市场监管局")][:6] == tasks[("T11", "县市场监管局")][:6]
    nodes = [r for r in book["节点"].iter_rows(min_row=2, values_only=True)]
    t7_nodes = [r[2:] for r in nodes if str(r[0]).startswith("T7-")]
    t11_nodes = [r[2:] for r in nodes if str(r[0]).startswith("T11-")]
    assert t7_nodes == t11_nodes and len(t7_nodes) == 2
    # The board's unit page: status, progress, colour, overdue and the milestones' lines.
    viewer = viewer_for("boss", services.config)
    page = unit_page(viewer, _unit_id("县市场监管局"), Moment(clock.now(), services.config))
    lines = {i["code"]: i for i in page["items"]}

    def board(code):
        i = lines[code]
        return (
            i["status"],
            i["progress"],
            i["colour"],
            i["overdue"],
            [(m["status"], m["deadline"], m["colour"]) for m in i["milestones"]],
        )

    assert board("T7") == board("T11") and lines["T7"]["progress"] == 50
    # The digest: the two items in the same colour list, or in none.
    data = digest.build(clock.now(), services.config, load_calendar())
    listed = {
        colour: " ".join(i for group in data["items"][colour] for i in group["items"])
        for colour in ("red", "yellow")
    }
    for colour, text in listed.items():
        assert ("T7（" in text) == ("T11（" in text), (colour, text)
