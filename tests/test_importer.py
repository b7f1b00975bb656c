"""导入: the office's sheets, in five layouts, read into exactly the changes they mean; a dry run
that changes nothing; 导入 确认 that applies what was shown, logged under the admin, refused when
the data moved; a second import that changes nothing; the round trip with 导出."""

from __future__ import annotations

import io
from datetime import date

import pytest
import sheet_layouts as layouts
from conftest import START, TZ
from helpers import outbox_besides_replies, snapshot
from openpyxl import Workbook, load_workbook

from bot.importer import plan_import
from bot.ledger import build_ledger
from bot.pipeline import Incoming
from bot.sheets import parse_due, read_tables
from bot.text import ParseError
from models.audit import AuditEntry
from models.imports import ImportBatch
from models.messages import OutboxMessage
from models.org import Unit
from models.plan import MILESTONE, Assignment, Item

TODAY = START.date()


def _plan(data: bytes, name: str = "表.xlsx"):
    plan = plan_import(data, name, TODAY)
    return plan, [p.text for p in plan.problems]


def _changes(plan) -> list[dict]:
    """The planned changes as the dry run stores them (JSON)."""
    return [c.to_json() for c in plan.changes]


def _by_op(plan, op: str) -> list[dict]:
    return [c for c in _changes(plan) if c["op"] == op]


def _send(services, userid: str, data: bytes, name: str, caption: str = "", ext: str = "x"):
    stored = services.evidence.save(io.BytesIO(data), name)
    return services.pipeline.handle(
        Incoming("test", f"file-{ext}", userid, kind="file", text=caption, file=stored)
    )


def _share(code: str, unit: str) -> Assignment:
    return Assignment.get(
        (Assignment.item == Item.get(Item.code == code).id)
        & (Assignment.unit == Unit.get(Unit.name == unit).id)
        & Assignment.shares()
    )


# ---------------------------------------------------------------- five layouts


def test_a_task_breakdown_with_title_rows_two_row_header_merged_cells_and_notes(db):
    plan, problems = _plan(layouts.task_breakdown())
    milestones = _by_op(plan, "milestone")
    # The task merged over its two measures' rows applies to both.
    assert [
        (m["code"], m["seq"], m["unit"], m["title"], m["deadline"], m["ongoing"])
        for m in milestones
    ] == [
        ("T7", 1, "县市场监管局", "完成全县网络经营主体摸底", "2026-12-31", ""),
        ("T7", 2, "县市场监管局", "建立线上线下一体化监管台账", None, "长期坚持"),
    ]
    (deadline,) = _by_op(plan, "deadline")
    assert (deadline["code"], deadline["unit"], deadline["deadline"]) == (
        "T11",
        "县市场监管局",
        "2026-12-31",
    )
    (assigned,) = _by_op(plan, "assigned")
    assert assigned["title"] == "开展网络市场监管业务培训" and assigned["deadline"] == "2026-12-31"
    assert [u[1:3] for u in assigned["units"]] == [["县市场监管局", "lead"], ["县工信科技局", "co"]]
    assert problems == [
        "“任务分解表”第8行（E8）：责任单位“县商贸局”未识别（发送“单位”查看所有单位及简称）",
        "“任务分解表”第10行（F10）：完成时限“尽快”看不懂：请写 2026-12-31、2026年12月底前、"
        "2026年第四季度，定期报送写 每月5日前、每季度末，没有期限的写 长期坚持",
    ]
    assert "工作表“任务分解表”第11行起为表下说明，不导入。" in plan.notes
    assert plan.rows_read == 6  # the title rows, the header rows and the notes are not data


def test_one_units_rules_with_the_task_and_unit_in_its_title(db, bot):
    bot.bind("lisi", "市监局")
    from models.org import Member

    Member.update(display_name="李四").where(Member.wecom_userid == "lisi").execute()
    plan, problems = _plan(layouts.unit_rules())
    assert [
        (m["code"], m["seq"], m["title"], m["deadline"], m["ongoing"], m["owner"])
        for m in _changes(plan)
    ] == [
        ("T11", 1, "开展网络交易违法行为专项整治", "2026-12-15", "", "lisi"),  # an Excel date cell
        ("T11", 2, "办结投诉举报案件并归档", "2026-12-31", "", ""),  # 2026.12
        ("T11", 3, "建立执法案卷评查制度", None, "常态化", ""),
    ]
    assert {m["unit"] for m in _changes(plan)} == {"县市场监管局"}
    assert problems == [
        "“实施细则”第7行（C7）：“每月5日前”是定期报送的周期，只有交办事项可以定期报送；"
        "方案任务和节点请写一个期限"
    ]
    assert "工作表“实施细则”以下列不导入：进展情况。" in plan.notes
    assert any("张三" in n and "没有绑定" in n for n in plan.notes)


def test_an_xls_meeting_sheet_with_codes_lead_and_co_columns_a_group_and_a_recurring_rule(db):
    plan, problems = _plan(layouts.XLS_FIXTURE.read_bytes(), "联席会议分工表.xls")
    (lead,) = _by_op(plan, "lead")
    assert (lead["code"], lead["unit"], lead["before"]) == ("T12", "县市场监管局", None)
    deadlines = {(c["code"], c["unit"]): c["deadline"] for c in _by_op(plan, "deadline")}
    assert deadlines == {
        ("T12", "县市场监管局"): "2027-06-30",
        ("T12", "县住建局"): "2027-06-30",
        ("T12", "县教育局"): "2027-06-30",
        ("Z20", "县行政审批局"): "2026-12-31",
    }
    (recurring,) = _by_op(plan, "assigned")
    assert recurring["recurrence"] == "每月5日" and recurring["deadline"] is None
    units = {u[1]: (u[2], u[3]) for u in recurring["units"]}
    assert units["县市场监管局"] == ("lead", "")
    assert units["横桥乡人民政府"] == ("co", "各镇人民政府") and len(units) == 10
    assert problems == ["“议定事项”第5行（A5）：编号 T99 不存在（或已撤销）"]


def test_assigned_work_in_another_column_order_with_units_split_every_way(db):
    plan, problems = _plan(layouts.assigned_sheet())
    assert problems == []
    quarterly, checked, publicity = _by_op(plan, "assigned")
    assert quarterly["recurrence"] == "每季度末"
    assert [u[1] for u in quarterly["units"]] == ["县市场监管局", "县统计局"]  # split on /
    assert checked["title"] == "开展平台经营者涉税信息核查" and checked["source"] == "领导批示"
    assert [u[1:3] for u in checked["units"]] == [
        ["县市场监管局", "lead"],
        ["县税务局", "co"],
    ]  # a line break
    assert publicity["ongoing"] == "持续推进" and len(publicity["units"]) == 21  # 联席会议成员单位
    assert [c["code"] for c in (quarterly, checked, publicity)] == ["J1", "J2", "J3"]
    assert "工作表“交办清单”以下列不导入：联系电话。" in plan.notes


def test_indicators_by_code_and_by_a_close_title(db):
    plan, problems = _plan(layouts.indicator_sheet())
    by_code = {(c["code"], c["unit"]): c for c in _by_op(plan, "deadline")}
    assert by_code[("Z11", "县市场监管局")]["deadline"] == "2026-12-31"
    close = by_code[("Z1", "县统计局")]
    assert (
        close["deadline"] == "2027-01-31" and "按名称对应到 Z1 网上零售额同比增速" in close["where"]
    )
    assert all(c["ongoing"] == "常态化" for (code, _), c in by_code.items() if code == "Z35")
    assert sum(1 for code, _ in by_code if code == "Z35") == 21  # 各成员单位: every share
    assert problems == ["“指标分解”第5行（A5）：编号 Z99 不存在（或已撤销）"]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2026年12月底前", date(2026, 12, 31)),
        ("12月20日前", date(2026, 12, 20)),
        ("2026.12", date(2026, 12, 31)),
        ("2026/12/31", date(2026, 12, 31)),
        ("2026年第四季度", date(2026, 12, 31)),
        ("年底前", date(2026, 12, 31)),
        ("2027年上半年", date(2027, 6, 30)),
        ("2027年底前完成", date(2027, 12, 31)),
    ],
)
def test_deadlines_as_written(written, expected):
    assert parse_due(written, TODAY).date == expected


def test_rules_ongoing_work_and_what_is_not_a_deadline():
    assert parse_due("每季度末", TODAY).rule.text == "每季度末"
    assert parse_due("每月5日前", TODAY).rule.text == "每月5日"
    for word in ("长期坚持", "持续推进", "常态化"):
        due = parse_due(word, TODAY)
        assert due.ongoing == word and due.date is None
    for bad in ("尽快", "6月底前完成摸底，12月底前全面完成", "每月32日", "2026年13月"):
        with pytest.raises(ParseError):
            parse_due(bad, TODAY)


def test_a_unit_written_wrongly_is_named_with_the_closest_unit(db):
    book = Workbook()
    ws = book.active
    ws.append(["重点任务", "责任单位", "完成时限"])
    ws.append(["强化监督执法", "县市场监管局、县工信科枝局", "2026-12-31"])
    ws.append(["强化监督执法", "县税务", "2026-12-31"])
    out = io.BytesIO()
    book.save(out)
    plan, problems = _plan(out.getvalue())
    assert problems[0] == "“Sheet”第2行（B2）：责任单位“县工信科枝局”未识别，是否为“县工信科技局”？"
    assert _changes(plan) == [] or all(c["where"] != "“Sheet”第2行" for c in _changes(plan))


def test_every_sheet_that_holds_no_table_is_named(db):
    book = Workbook()
    book.active.append(["这张表只有说明文字"])
    out = io.BytesIO()
    book.save(out)
    tables = read_tables(out.getvalue())
    assert tables[0].skipped.startswith("没有找到表头")
    plan, _ = _plan(out.getvalue())
    assert plan.notes == ["工作表“Sheet”未导入：没有找到表头（如 重点任务、责任单位、完成时限）。"]


# ---------------------------------------------------------------- dry run, then apply


def test_an_admins_spreadsheet_is_a_dry_run_that_changes_nothing(services, bot):
    bot.bind("li", "市监局")
    before = {k: v for k, v in snapshot().items() if k != "import_batch"}
    sent = outbox_besides_replies()
    reply = _send(services, "boss", layouts.task_breakdown(), "任务分解表.xlsx").reply
    assert "【导入预览】任务分解表.xlsx：读取 6 行。" in reply
    assert "将要：新增节点 2 个，设定或修改期限 1 处，新增交办事项 1 项。" in reply
    assert (
        "“任务分解表”第5行：县市场监管局新节点 T7-1 完成全县网络经营主体摸底（2026-12-31）" in reply
    )
    assert "责任单位“县商贸局”未识别" in reply and "导入 确认" in reply
    assert {k: v for k, v in snapshot().items() if k != "import_batch"} == before
    assert ImportBatch.get().status == "pending"
    assert outbox_besides_replies() == sent  # nobody is told anything yet


def test_confirm_applies_exactly_what_was_shown_logged_under_the_admin(services, bot):
    bot.bind("li", "市监局")
    _send(services, "boss", layouts.task_breakdown(), "任务分解表.xlsx")
    shown = ImportBatch.get().changes
    reply = bot.say("boss", "导入 确认")
    assert (
        "已导入“任务分解表.xlsx”：新增节点 2 个，设定或修改期限 1 处，新增交办事项 1 项。" in reply
    )
    assert "新交办事项 J1" in reply and "已通知 1 位联络员" in reply
    share = _share("T7", "县市场监管局")
    milestones = list(share.parts.where(Assignment.kind == MILESTONE).order_by(Assignment.seq))
    assert [(m.code, m.title, m.deadline, m.ongoing) for m in milestones] == [
        ("T7-1", "完成全县网络经营主体摸底", date(2026, 12, 31), ""),
        ("T7-2", "建立线上线下一体化监管台账", None, "长期坚持"),
    ]
    assert _share("T11", "县市场监管局").deadline == date(2026, 12, 31)
    j1 = Item.get(Item.code == "J1")
    assert j1.kind == "assigned" and j1.assigned_by == "boss" and j1.source == "办公室"
    logged = list(
        AuditEntry.select()
        .where(AuditEntry.summary.startswith("导入《任务分解表.xlsx》"))
        .order_by(AuditEntry.id)
    )
    assert len(logged) == len(shown) + 1 and {e.actor for e in logged} == {"boss"}
    assert logged[-1].action == "import", "one entry for the batch, after one per change"
    assert "“任务分解表”第7行：T11 县市场监管局期限：未设期限 → 2026-12-31" in logged[2].summary
    notice = OutboxMessage.get(OutboxMessage.dedupe_key.startswith("import:"))
    assert (
        notice.recipient == "li"
        and "T7-1" in notice.content["text"]
        and "签收 J1" in notice.content["text"]
    )
    assert ImportBatch.get().status == "applied"
    assert "没有等待确认的导入" in bot.say("boss", "导入 确认")


def test_the_same_file_twice_changes_nothing_the_second_time(services, bot):
    _send(services, "boss", layouts.task_breakdown(), "任务分解表.xlsx", ext="1")
    bot.say("boss", "导入 确认")
    before = snapshot()
    reply = _send(services, "boss", layouts.task_breakdown(), "任务分解表.xlsx", ext="2").reply
    assert "没有需要改动的内容" in reply and "导入 确认" not in reply
    assert "责任单位“县商贸局”未识别" in reply  # what cannot be read is said every time
    assert "没有等待确认的导入" in bot.say("boss", "导入 确认")
    assert snapshot() == before


def test_confirm_is_refused_when_the_data_changed_after_the_dry_run(services, bot):
    _send(services, "boss", layouts.task_breakdown(), "任务分解表.xlsx")
    bot.say("boss", "期限 T11 2027-03-31")  # someone moves a deadline the sheet also sets
    before = {k: v for k, v in snapshot().items() if k != "import_batch"}
    reply = bot.say("boss", "导入 确认")
    assert "未导入" in reply and "重新发送文件" in reply
    assert {k: v for k, v in snapshot().items() if k != "import_batch"} == before
    assert ImportBatch.get().status == "stale"
    assert "没有等待确认的导入" in bot.say("boss", "导入 确认")


def test_cancel_and_a_newer_dry_run_replace_the_pending_one(services, bot):
    _send(services, "boss", layouts.task_breakdown(), "任务分解表.xlsx", ext="1")
    _send(services, "boss", layouts.indicator_sheet(), "指标.xlsx", ext="2")
    assert [b.status for b in ImportBatch.select().order_by(ImportBatch.id)] == [
        "cancelled",
        "pending",
    ]
    assert "指标.xlsx" in bot.say("boss", "导入")
    assert "已放弃导入“指标.xlsx”" in bot.say("boss", "导入 取消")
    assert Item.select().where(Item.kind == "assigned").count() == 0


def test_a_liaisons_spreadsheet_and_an_admins_with_a_code_are_evidence(services, bot):
    bot.bind("li", "市监局")
    reply = _send(services, "li", layouts.task_breakdown(), "台账.xlsx", "T7", ext="1").reply
    assert "已归到 T7" in reply
    bot.bind("office", "市监局", "管理员 联络员")
    reply = _send(
        services, "office", layouts.task_breakdown(), "统计表.xlsx", "Z12 佐证", ext="2"
    ).reply
    assert "已归到 Z12" in reply
    assert ImportBatch.select().count() == 0


def test_a_recurring_assigned_item_gets_its_occurrences(services, bot):
    _send(services, "boss", layouts.XLS_FIXTURE.read_bytes(), "联席会议分工表.xls")
    assert "未导入" not in bot.say("boss", "导入 确认")
    item = Item.get(Item.code == "J1")
    assert item.recurrence == "每月5日"
    occurrences = Assignment.select().where(
        (Assignment.item == item) & (Assignment.kind == "occurrence")
    )
    assert occurrences.count() >= 10  # each unit's next period at least
    assert _share("T12", "县市场监管局").role == "lead"


def test_a_long_dry_run_sends_the_whole_report_as_a_file(services, bot, config):
    book = Workbook()
    ws = book.active
    ws.append(["编号", "责任单位", "完成时限"])
    for n in range(1, 16):
        ws.append([f"T{n}", None, "2027-06-30"])
    out = io.BytesIO()
    book.save(out)
    reply = _send(services, "boss", out.getvalue(), "期限.xlsx").reply
    assert "……另有" in reply and "导入预览_1.xlsx" in reply
    sent = [m for m in bot.deliver() if m.msg_type == "file"]
    assert len(sent) == 1
    from bot.evidence import EvidenceStore

    path = EvidenceStore(config.data_dir / "exports", 0).path_for(sent[0].content["file"]["sha256"])
    rows = list(
        load_workbook(io.BytesIO(path.read_bytes()))["将要改动"].iter_rows(
            min_row=2, values_only=True
        )
    )
    assert len(rows) == len(ImportBatch.get().changes) > 10


# ---------------------------------------------------------------- the round trip with 导出


def test_the_exported_ledger_edited_in_excel_and_imported_back_applies_exactly_those_edits(
    services, bot, clock
):
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2026-12-31")
    bot.say("boss", "期限 Z11 2026-12-20")
    bot.say("li", "节点 T7 2026-12-10 完成摸底")
    bot.say("boss", "交办 市监局 2026-12-25 报送阶段性总结")
    book = load_workbook(io.BytesIO(build_ledger(clock.now(), TZ)))

    # Nothing edited: nothing to change.
    untouched = io.BytesIO()
    book.save(untouched)
    plan, problems = _plan(untouched.getvalue(), "台账.xlsx")
    assert plan.changes == [] and problems == []

    # The clerk moves two deadlines, a milestone's date, and adds a milestone.
    tasks = book["任务台账"]
    for row in tasks.iter_rows(min_row=2):
        if (row[0].value, row[3].value) == ("T7", "县市场监管局"):
            row[5].value = date(2027, 1, 15)
        if (row[0].value, row[3].value) == ("Z11", "县市场监管局"):
            row[5].value = "2027年3月底前"
    nodes = book["节点"]
    assert [c.value for c in nodes[1]] == [
        "编号",
        "事项",
        "具体措施",
        "责任单位",
        "完成时限",
        "责任人",
        "状态",
    ]
    nodes["E2"] = date(2026, 12, 18)
    nodes.append(["T7", None, "形成一体化监管工作报告", "县市场监管局", date(2027, 1, 10)])
    edited = io.BytesIO()
    book.save(edited)

    before = snapshot()
    reply = _send(services, "boss", edited.getvalue(), "台账（修改）.xlsx").reply
    assert "将要：新增节点 1 个，修改节点 1 个，设定或修改期限 2 处。" in reply
    assert "“任务台账”第" in reply and "T7 县市场监管局期限 2026-12-31 → 2027-01-15" in reply
    assert "节点 T7-1（县市场监管局）期限 2026-12-10 → 2026-12-18" in reply
    assert "新节点 T7-2 形成一体化监管工作报告（2027-01-10）" in reply
    assert "问题" not in reply and "没有读懂" not in reply
    assert "工作表“评估得分”未导入" in reply
    assert "已导入" in bot.say("boss", "导入 确认")

    after = snapshot()
    changed = {
        (row[1], row[2])  # (item, unit) of each assignment row that differs
        for row in set(after["assignment"]) ^ set(before["assignment"])
    }
    t7, z11 = Item.get(Item.code == "T7").id, Item.get(Item.code == "Z11").id
    unit = Unit.get(Unit.name == "县市场监管局").id
    assert changed == {(t7, unit), (z11, unit)}
    assert _share("T7", "县市场监管局").deadline == date(2027, 1, 15)
    assert _share("Z11", "县市场监管局").deadline == date(2027, 3, 31)
    milestones = {
        m.code: (m.title, m.deadline)
        for m in Assignment.select().where((Assignment.kind == MILESTONE) & (Assignment.item == t7))
    }
    assert milestones == {
        "T7-1": ("完成摸底", date(2026, 12, 18)),
        "T7-2": ("形成一体化监管工作报告", date(2027, 1, 10)),
    }
    assert Item.get(Item.code == "J1").assignments[0].deadline == date(2026, 12, 25)

    # Exported again and imported back: nothing to change.
    again = build_ledger(clock.now(), TZ)
    plan, problems = _plan(again, "台账.xlsx")
    assert plan.changes == [] and problems == []


def test_the_largest_dry_run_and_notice_fit_in_few_wecom_messages(services, bot):
    from bot.text import split_utf8

    bot.bind("li", "市监局")
    book = Workbook()
    ws = book.active
    ws.append(["编号", "重点任务", "具体措施", "责任单位", "完成时限", "责任人"])
    for n in range(1, 120):
        ws.append(
            [
                f"T{n % 22 + 1}",
                None,
                f"第{n}项很长的具体措施" * 4,
                "县市场监管局、县统计局",
                "2027-06-30",
                "某某",
            ]
        )
        ws.append([None, f"不在方案中的工作事项第{n}项" * 3, None, "县工信科枝局", "尽快", None])
    out = io.BytesIO()
    book.save(out)
    reply = _send(services, "boss", out.getvalue(), "大表.xlsx").reply
    assert len(split_utf8(reply, 2048)) <= 3
    bot.say("boss", "导入 确认")
    notice = OutboxMessage.get(OutboxMessage.dedupe_key.startswith("import:")).content["text"]
    assert len(split_utf8(notice, 2048)) <= 2


def test_ongoing_work_reads_as_such_in_chat_until_a_date_is_set(services, bot):
    bot.bind("li", "市监局")
    _send(services, "boss", layouts.indicator_sheet(), "指标.xlsx")
    bot.say("boss", "导入 确认")
    assert "期限 常态化" in bot.say("li", "任务 Z35")
    assert "已设定" in bot.say("boss", "期限 Z35 2027-06-30")
    share = _share("Z35", "县市场监管局")
    assert (share.deadline, share.ongoing) == (date(2027, 6, 30), "")


def test_a_unit_marked_lead_leads_even_when_another_led_before(services, bot):
    book = Workbook()
    ws = book.active
    ws.append(["编号", "责任单位", "完成时限"])
    ws.append(["T11", "县工信局（牵头）、市场监管局", "2026-12-31"])
    out = io.BytesIO()
    book.save(out)
    plan, problems = _plan(out.getvalue())
    assert problems == []
    assert [c["op"] for c in _changes(plan)] == ["share", "lead", "deadline"]
    assert _changes(plan)[1]["before"] == "县市场监管局"
    _send(services, "boss", out.getvalue(), "牵头.xlsx")
    assert "T11 牵头单位 县市场监管局 → 县工信科技局" in bot.say("boss", "导入")
    bot.say("boss", "导入 确认")
    assert _share("T11", "县工信科技局").role == "lead"
    assert _share("T11", "县市场监管局").role == "co"
    assert _share("T11", "县工信科技局").deadline == date(2026, 12, 31)


def test_a_spreadsheet_fetched_from_wecom_is_imported_too(services, bot):
    """WeCom file messages have no caption: the admin's spreadsheet, once downloaded, answers
    with the dry run (one final answer, as every file gets)."""

    class Fetcher:
        def fetch(self, media_id, name_hint, check):
            return services.evidence.save(io.BytesIO(layouts.task_breakdown()), name_hint)

    services.pipeline.media = Fetcher()
    handled = services.pipeline.handle(
        Incoming(
            "wecom",
            "wecom-file",
            "boss",
            kind="file",
            payload={"media_id": "m1", "file_name": "任务分解表.xlsx"},
        )
    )
    assert handled.reply is None
    assert services.downloader.run_due() == 1
    (answer,) = OutboxMessage.select().where(OutboxMessage.dedupe_key.startswith("download-done:"))
    assert "【导入预览】任务分解表.xlsx" in answer.content["text"]
    assert ImportBatch.get().status == "pending"


def test_a_sheet_of_instructions_registers_them_with_their_source_document(services, bot):
    """立项 from Excel: 文号, 紧急程度, 批示领导 and 批示原文 columns reach the item through the
    same action as the desk and the chat; a leader who is not bound is a problem of the row."""
    bot.bind("wang", "县人民政府", "领导")
    book = Workbook()
    ws = book.active
    ws.append(["事项", "责任单位", "完成时限", "来源", "文号", "紧急程度", "批示领导", "批示原文"])
    ws.append(
        [
            "整治直播带货虚假宣传",
            "县市场监管局（牵头）、县工信科技局",
            "2026-12-10",
            "领导批示",
            "新政办批〔2026〕8号",
            "特急",
            "wang",
            "请市场监管局牵头，月底前拿出方案。",
        ]
    )
    ws.append(["清理僵尸网店", "县市场监管局", "2026-12-20", "", "", "加急", "", ""])
    ws.append(["报送网络零售额", "县工信科技局", "2026-12-20", "", "", "", "李局长", ""])
    out = io.BytesIO()
    book.save(out)
    plan, problems = _plan(out.getvalue())
    assert problems == [
        "“Sheet”第3行（F3）：紧急程度“加急”不对，可写：一般、紧急、特急",
        "“Sheet”第4行（G4）：批示领导“李局长”不是已绑定的领导，请先绑定",
    ]
    (change,) = _by_op(plan, "assigned")
    assert (change["doc_no"], change["urgency"], change["leader"]) == (
        "新政办批〔2026〕8号",
        "特急",
        "wang",
    )
    _send(services, "boss", out.getvalue(), "批示件.xlsx")
    assert "已导入" in bot.say("boss", "导入 确认")
    item = Item.get(Item.title == "整治直播带货虚假宣传")
    assert (item.doc_no, item.urgency, item.instructed_by) == (
        "新政办批〔2026〕8号",
        "特急",
        "wang",
    )
    assert item.instruction == "请市场监管局牵头，月底前拿出方案。"
