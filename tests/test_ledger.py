"""导出: the Excel ledger, sent as a file through the outbox."""

import io

from conftest import TZ
from openpyxl import load_workbook

from bot.evidence import EvidenceStore
from bot.ledger import build_ledger
from reminders.stored import load_calendar


def test_the_ledger_holds_assignments_scores_evidence_and_the_log(bot, clock, services):
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2026-12-31")
    bot.say("li", "进度 T7 60% 初稿已完成")
    bot.say("boss", "评分 Z11 2.5 接口已提供")
    bot.say("li", "数据 Z3 1200 8000")  # a unit's figures: they wait for the office
    bot.say("boss", "数据 Z4 2")  # the office's own figures count at once
    stored = services.evidence.save(io.BytesIO(b"%PDF-1.4 x"), "方案.pdf")
    from bot.pipeline import Incoming

    services.pipeline.handle(Incoming("test", "f1", "li", kind="file", text="T7", file=stored))
    book = load_workbook(io.BytesIO(build_ledger(clock.now(), TZ)))
    assert book.sheetnames == ["任务台账", "交办事项", "节点", "评估得分", "佐证材料", "操作记录"]
    header = next(book["任务台账"].iter_rows(max_row=1, values_only=True))
    assert header[6:9] == ("状态", "逾期（工作日）", "进度%")
    rows = {(r[0], r[3]): r for r in book["任务台账"].iter_rows(min_row=2, values_only=True)}
    t7 = rows[("T7", "县市场监管局")]
    assert t7[5].date().isoformat() == "2026-12-31" and t7[8] == 60 and t7[9] == "初稿已完成"
    assert t7[6] == "进行中" and t7[7] == 0 and t7[11] == 1
    assert rows[("T11", "县市场监管局")][6] == "未开始"
    scores = {r[2]: r for r in book["评估得分"].iter_rows(min_row=2, values_only=True) if r[2]}
    assert scores["Z11"][6] == 2.5 and scores["Z11"][7] == "办公室评分"
    assert scores["Z4"][6] == 2 and scores["Z4"][7] == "按上报数据计算"
    assert (
        scores["Z3"][6] is None and scores["Z3"][7] == "待审核" and "计算 2 分" in scores["Z3"][8]
    )
    assert scores["Z1"][6] is None and scores["Z1"][7] == "未评分"
    evidence = list(book["佐证材料"].iter_rows(min_row=2, values_only=True))
    assert evidence[0][0] == "T7" and evidence[0][4] == "方案.pdf"
    assert evidence[0][5] == "10 B" and evidence[0][10] == "有效"
    log = list(book["操作记录"].iter_rows(min_row=2, values_only=True))
    assert any("报告进度 60%" in r[5] and r[2] == "报告进度" for r in log)
    assert {r[2] for r in log} >= {"绑定人员", "设定期限", "办公室评分", "提交佐证材料"}
    assert all(not r[2].isascii() for r in log), "every action is in Chinese"


def test_the_ledger_uses_the_chat_statuses(bot, clock, services):
    """未开始 / 进行中 / 已逾期 / 延期审批中 / 已完成, overdue counted in working days."""

    bot.bind("li", "市监局")
    for code in ("T7", "T11", "T14", "T19"):
        bot.say("boss", f"期限 {code} 2026-11-30")
    bot.say("boss", "期限 Z11 2026-12-31")
    bot.say("li", "进度 T11 30%")
    bot.say("li", "完成 T14")
    bot.say("li", "延期 Z11 2027-01-15 等待省里的数据")
    clock.set(clock.now().replace(day=3, month=12))  # Thursday: 3 working days after Monday
    book = load_workbook(io.BytesIO(build_ledger(clock.now(), TZ, load_calendar())))
    rows = {(r[0], r[3]): r for r in book["任务台账"].iter_rows(min_row=2, values_only=True)}

    def status(code):
        return rows[(code, "县市场监管局")][6:8]

    assert status("T7") == ("已逾期", 3)
    assert status("T11") == ("已逾期", 3)
    assert status("T14") == ("待审核", 0)  # reported done; the office has not checked it yet
    assert status("Z11") == ("延期审批中", 0)
    assert status("Z12") == ("未开始", 0)


def test_export_sends_the_file_to_the_admin(bot, services, config):
    reply = bot.say("boss", "导出")
    assert "台账已生成" in reply and "随后以文件发送" in reply
    delivered = bot.deliver()
    # The file comes after the reply that announces it.
    assert [m.msg_type for m in delivered] == ["text", "file"]
    sent = [m for m in delivered if m.msg_type == "file"]
    assert len(sent) == 1 and sent[0].recipients == ("boss",)
    meta = sent[0].content["file"]
    path = EvidenceStore(config.data_dir / "exports", 0).path_for(meta["sha256"])
    assert load_workbook(io.BytesIO(path.read_bytes())).sheetnames[0] == "任务台账"
    assert "还没有绑定" in bot.say("nobody", "导出")
