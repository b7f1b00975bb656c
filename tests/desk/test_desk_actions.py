"""The desk's changes, each through the same action as the chat: 立项 (交办 with its source
document), the review queue (通过 / 退回, several at once), extensions (批准 / 驳回), 催办,
改期, 撤销, units (add, rename, merge) and people (bind, unbind, WeCom's 通讯录). Every change is
audited under the person signed in; a leader may only read and 催办 their own items; anything
destructive asks once more; bad input changes nothing and says why in Chinese."""

from __future__ import annotations

import io
import re
from datetime import date

from board_setup import ADMIN, LEADER, LIAISON, OTHER
from desk_setup import desk_fixture  # noqa: F401  (the `desk` fixture)
from helpers import ChatDriver, snapshot
from openpyxl import load_workbook

from bot.ledger import build_ledger
from models.audit import AuditEntry
from models.db import database
from models.messages import OutboxMessage
from models.org import Member, Unit
from models.plan import Assignment, Item, Status
from models.progress import ExtensionRequest
from models.schedule import ReminderSent
from reminders.stored import load_calendar


def _chat(desk, userid: str, text: str) -> str:
    with database.connection_context():
        return ChatDriver(desk.services).say(userid, text)


def _unit(name: str) -> Unit:
    return Unit.get(Unit.name == name)


def _messages_to(userid: str) -> list[str]:
    with database.connection_context():
        rows = OutboxMessage.select().where(OutboxMessage.recipient == userid)
        return [str(r.content) for r in rows.order_by(OutboxMessage.id)]


def _state() -> dict:
    with database.connection_context():
        return snapshot()


def _new_item_form(desk, **changes) -> dict:
    with database.connection_context():
        scj, gxj = _unit("县市场监管局").id, _unit("县工信科技局").id
    form = {
        "title": "整治直播带货虚假宣传",
        "source": "领导批示",
        "leader": LEADER,
        "doc_no": "新政办批〔2026〕8号",
        "instruction": "请市场监管局牵头，工信局配合，月底前拿出整治方案。",
        "urgency": "特急",
        "lead": str(scj),
        "co": [str(gxj)],
        "deadline": "2026-12-10",
        "rule": "",
    }
    form.update(changes)
    return form


def _post_form(desk, http, path: str, form: dict):
    data = [(k, v) for k, vs in form.items() for v in (vs if isinstance(vs, list) else [vs])]
    return desk.post(http, path, data)


def test_lixiang_registers_an_item_with_its_source_document(desk):
    http, _ = desk.sign_in(ADMIN)
    token = desk.csrf(http, "/desk/new")
    answer = _post_form(desk, http, "/desk/new", {**_new_item_form(desk), "csrf": token})
    assert answer.status_code == 200 and "已立项并交办 J3" in answer.text, answer.text
    with database.connection_context():
        item = Item.get(Item.code == "J3")
        assert (item.doc_no, item.instructed_by, item.urgency) == (
            "新政办批〔2026〕8号",
            LEADER,
            "特急",
        )
        assert item.instruction.startswith("请市场监管局牵头") and item.source == "领导批示"
        shares = {
            a.unit.name: (a.role, a.deadline)
            for a in Assignment.select().where(Assignment.item == item)
        }
        assert shares == {
            "县市场监管局": ("lead", date(2026, 12, 10)),
            "县工信科技局": ("co", date(2026, 12, 10)),
        }
        entry = AuditEntry.get(AuditEntry.action == "assign_item", AuditEntry.item_code == "J3")
        assert entry.actor == ADMIN and "特急" in entry.summary and "新政办批" in entry.summary
    # Each liaison got the card to sign for it, as with 交办 in chat.
    assert any("【交办】J3" in m for m in _messages_to(LIAISON))
    page = desk.get(http, "/desk/item/J3").text
    assert "新政办批〔2026〕8号" in page and "特急" in page and "wang" in page


def test_a_bad_lixiang_says_why_and_changes_nothing(desk):
    http, _ = desk.sign_in(ADMIN)
    token = desk.csrf(http, "/desk/new")
    before = _state()
    cases = [
        ({"title": ""}, "请填写事项"),
        ({"lead": ""}, "请选择牵头单位"),
        ({"deadline": "", "rule": ""}, "请填写期限或报送周期"),
        ({"deadline": "2026-12-10", "rule": "每月5日"}, "只能填一个"),
        ({"deadline": "明天吧"}, "不是日期"),
        ({"deadline": "2026-11-01"}, "已经过去"),
        ({"leader": LIAISON}, "不是已绑定的领导"),
        ({"urgency": "十万火急"}, "紧急程度"),
        ({"source": "小道消息"}, "来源"),
        ({"deadline": "", "rule": "隔三差五"}, "看不懂"),
    ]
    for changes, words in cases:
        answer = _post_form(
            desk, http, "/desk/new", {**_new_item_form(desk, **changes), "csrf": token}
        )
        assert answer.status_code == 400, changes
        assert words in answer.text, (changes, answer.text)
        assert 'value="新政办批〔2026〕8号"' in answer.text  # the form keeps what was typed
    assert _state() == before


def test_urgency_shortens_the_ladder(desk):
    from reminders.jobs import settings_for

    http, _ = desk.sign_in(ADMIN)
    token = desk.csrf(http, "/desk/new")
    _post_form(desk, http, "/desk/new", {**_new_item_form(desk), "csrf": token})
    with database.connection_context():
        share = Assignment.get(Assignment.item == Item.get(Item.code == "J3"))
        urgent = settings_for(share, desk.services.config)
        plain = settings_for(
            Assignment.get(Assignment.item == Item.get(Item.code == "J1")), desk.services.config
        )
    assert plain.days_before == (7, 3, 1) and plain.escalate_after == 3
    assert urgent.days_before == (7, 3, 2, 1) and urgent.escalate_after == 1


def test_the_review_queue_passes_several_at_once_and_the_leader_hears(desk):
    # Both units report their work done in chat; J1 is the leader's own (assigned by wang).
    assert "签收" in _chat(desk, LIAISON, "签收 J1")
    assert "等待办公室审核" in _chat(desk, LIAISON, "完成 J1 整治方案已报送")
    assert "等待办公室审核" in _chat(desk, OTHER, "完成 T17 名录已建立")
    http, _ = desk.sign_in(ADMIN)
    queue = desk.get(http, "/desk/review").text
    assert "整治方案已报送" in queue and "名录已建立" in queue
    assert "工信局名录.pdf" in queue  # the evidence, to open or download
    with database.connection_context():
        ids = [str(a.id) for a in Assignment.select().where(Assignment.status == Status.REVIEW)]
    assert len(ids) == 2
    token = desk.csrf(http, "/desk/review")
    done = _post_form(
        desk, http, "/desk/review", {"csrf": token, "ids": ids, "decision": "pass", "reason": ""}
    )
    assert done.status_code == 200 and "已通过" in done.text, done.text
    with database.connection_context():
        assert (
            Assignment.select().where(Assignment.id.in_(ids), Assignment.status == "done").count()
            == 2
        )
        actors = {e.actor for e in AuditEntry.select().where(AuditEntry.action == "review_pass")}
    assert actors == {ADMIN}
    told = _messages_to(LEADER)
    assert any("签收" in m and "J1" in m for m in told), told
    assert any("办结" in m and "J1" in m for m in told), told


def test_sending_back_needs_a_reason_and_a_confirmation(desk):
    _chat(desk, OTHER, "完成 T17 名录已建立")
    http, _ = desk.sign_in(ADMIN)
    token = desk.csrf(http, "/desk/review")
    with database.connection_context():
        share = Assignment.get(Assignment.status == Status.REVIEW)
    form = {"csrf": token, "ids": str(share.id), "decision": "return", "reason": ""}
    assert "退回须写明原因" in _post_form(desk, http, "/desk/review", form).text
    form["reason"] = "缺少盖章文件"
    asked = _post_form(desk, http, "/desk/review", form)
    assert asked.status_code == 200 and "确认退回" in asked.text and "缺少盖章文件" in asked.text
    with database.connection_context():
        assert Assignment.get_by_id(share.id).status == Status.REVIEW  # nothing yet
    confirmed = _post_form(desk, http, "/desk/review", {**form, "confirmed": "yes"})
    assert "已退回" in confirmed.text
    with database.connection_context():
        assert Assignment.get_by_id(share.id).status == Status.OPEN
    assert any("缺少盖章文件" in m for m in _messages_to(OTHER))


def test_an_extension_is_approved_from_the_desk_and_the_leader_hears(desk):
    assert "延期" in _chat(desk, LIAISON, "延期 J1 2026-12-15 需要协调工信局")
    http, _ = desk.sign_in(ADMIN)
    page = desk.get(http, "/desk/review").text
    number = re.search(r'id="approve-(\d+)"', page).group(1)
    token = desk.csrf(http, "/desk/review")
    done = desk.post(
        http, "/desk/extension", {"csrf": token, "id": number, "decision": "approve", "note": ""}
    )
    assert "已批准延期申请" in done.text
    with database.connection_context():
        share = Assignment.get(Assignment.item == Item.get(Item.code == "J1"))
        assert share.deadline == date(2026, 12, 15)
        assert ExtensionRequest.get_by_id(int(number)).decided_by == ADMIN
    assert any("延期" in m and "2026-12-15" in m for m in _messages_to(LEADER))


def test_a_leader_reads_and_nudges_only_their_own_items(desk):
    http, _ = desk.sign_in(LEADER)
    for path in ("/desk/", "/desk/review", "/desk/items", "/desk/item/J1", "/desk/units"):
        assert desk.get(http, path).status_code == 200, path
    item_page = desk.get(http, "/desk/item/J1").text
    assert 'id="nudge"' in item_page and 'id="cancel-item"' not in item_page
    token = desk.csrf(http, "/desk/item/J1")
    before = _state()
    refused = _post_form(desk, http, "/desk/new", {**_new_item_form(desk), "csrf": token})
    assert refused.status_code == 403 and "只读" in refused.text
    cancel = desk.post(
        http, "/desk/item/J1/cancel", {"csrf": token, "reason": "x", "confirmed": "yes"}
    )
    assert cancel.status_code == 403
    assert _state() == before
    # 催办 of T11 (not theirs) is refused by the action, as in chat.
    other = desk.post(http, "/desk/item/T11/nudge", {"csrf": token})
    assert other.status_code == 400 and "只能催办自己交办或批示的事项" in other.text
    assert "只能催办自己交办或批示的事项" in _chat(desk, LEADER, "催办 T11")
    own = desk.post(http, "/desk/item/J1/nudge", {"csrf": token})
    assert own.status_code == 200 and "已催办 J1" in own.text, own.text
    with database.connection_context():
        entry = AuditEntry.get(AuditEntry.action == "nudge")
    assert entry.actor == LEADER
    assert any("【催办】" in m for m in _messages_to(LIAISON))


def test_cancel_and_deadline_from_the_item_page(desk):
    http, _ = desk.sign_in(ADMIN)
    token = desk.csrf(http, "/desk/item/J2")
    with database.connection_context():
        gxj = _unit("县工信科技局").id
    moved = desk.post(
        http, "/desk/item/T17/deadline", {"csrf": token, "unit": str(gxj), "deadline": "2026-12-20"}
    )
    assert "已将 T17（县工信科技局）的期限改为 2026-12-20" in moved.text, moved.text
    bad = desk.post(
        http, "/desk/item/T17/deadline", {"csrf": token, "unit": "", "deadline": "下周"}
    )
    assert bad.status_code == 400 and "不是日期" in bad.text
    asked = desk.post(http, "/desk/item/J2/cancel", {"csrf": token, "reason": "并入周报"})
    assert "确认撤销" in asked.text
    with database.connection_context():
        assert Item.get(Item.code == "J2").cancelled_at is None
    done = desk.post(
        http, "/desk/item/J2/cancel", {"csrf": token, "reason": "并入周报", "confirmed": "yes"}
    )
    assert "已撤销 J2" in done.text
    page = desk.get(http, "/desk/item/J2").text
    assert "已撤销" in page and "并入周报" in page


def test_the_item_page_is_the_items_whole_file(desk):
    _chat(desk, LIAISON, "签收 J1")
    with database.connection_context():
        from reminders.jobs import reminder_round

        reminder_round(
            desk.clock.now(),
            desk.services.config,
            load_calendar(),
            desk.services.pipeline.outbox,
            desk.services.renderer,
        )
        sent = (
            ReminderSent.select()
            .join(Assignment)
            .where(Assignment.item == Item.get(Item.code == "J1"))
            .count()
        )
    assert sent >= 1
    http, _ = desk.sign_in(ADMIN)
    page = desk.get(http, "/desk/item/J1").text
    assert "逾期提醒" in page  # reminders sent
    assert "li" in page and "签收" in page  # who signed, when
    assert "交办 J1" in page  # the history from the log
    sheet = desk.get(http, "/desk/item/J1/print").text
    for words in (
        "督 办 单",
        "督办事项",
        "文　　号",
        "批示原文",
        "承办单位",
        "办理期限",
        "办理情况",
        "签　　收",
    ):
        assert words in sheet, words
    assert "县市场监管局：li" in sheet
    overdue = desk.get(http, "/desk/print/overdue").text
    assert "催 办 单" in overdue and "县市场监管局" in overdue and "T11" in overdue


def test_units_the_plan_never_named_can_be_added_renamed_and_merged(desk):
    refused = _chat(desk, ADMIN, "交办 县商务局 2026-12-10 报送电商数据")
    assert "找不到单位“县商务局”" in refused, refused  # the plan never named it
    with database.connection_context():
        assert Unit.get_or_none(Unit.name == "县商务局") is None
    http, _ = desk.sign_in(ADMIN)
    token = desk.csrf(http, "/desk/units")
    added = desk.post(
        http, "/desk/units/add", {"csrf": token, "name": "县商务局", "short_name": "商务局"}
    )
    assert "已新增单位 县商务局" in added.text
    again = desk.post(http, "/desk/units/add", {"csrf": token, "name": "商务局"})
    assert again.status_code == 400 and "已是单位" in again.text
    # Chat finds it now.
    assert "已交办" in _chat(desk, ADMIN, "交办 商务局 2026-12-10 报送电商数据")
    with database.connection_context():
        commerce = _unit("县商务局")
        scj = _unit("县市场监管局")
    renamed = desk.post(
        http,
        "/desk/units/rename",
        {"csrf": token, "unit": str(commerce.id), "name": "县商务和粮食局", "short_name": "商粮局"},
    )
    assert "已将 县商务局 改名为 县商务和粮食局" in renamed.text
    assert "已交办" in _chat(desk, ADMIN, "交办 县商务局 2026-12-11 报送网络零售额")  # old name
    asked = desk.post(
        http, "/desk/units/merge", {"csrf": token, "old": str(commerce.id), "into": str(scj.id)}
    )
    assert "确认合并" in asked.text
    with database.connection_context():
        assert Unit.get_or_none(Unit.id == commerce.id) is not None
    merged = desk.post(
        http,
        "/desk/units/merge",
        {"csrf": token, "old": str(commerce.id), "into": str(scj.id), "confirmed": "yes"},
    )
    assert "并入 县市场监管局" in merged.text, merged.text
    with database.connection_context():
        assert Unit.get_or_none(Unit.id == commerce.id) is None
        codes = {a.item.code for a in Assignment.select().where(Assignment.unit == scj)}
        assert {"J3", "J4"} <= codes
        assert "县商务和粮食局" in _unit("县市场监管局").alias_list()
        actions = [e.action for e in AuditEntry.select().where(AuditEntry.actor == ADMIN)]
    assert {"unit_add", "unit_rename", "unit_merge"} <= set(actions)


def test_people_are_bound_by_userid_or_from_wecoms_directory(desk):
    http, _ = desk.sign_in(ADMIN)
    page = desk.get(http, "/desk/people/directory").text
    assert "没有读取通讯录的权限" in page  # the app was not given it
    desk.fake.directory = {"zhao": "赵敏", "li": "李四"}
    page = desk.get(http, "/desk/people/directory").text
    assert "赵敏" in page and "zhao" in page
    picked = desk.get(http, "/desk/people?pick=zhao&name=%E8%B5%B5%E6%95%8F").text
    assert 'value="zhao"' in picked and 'value="赵敏"' in picked
    token = desk.csrf(http, "/desk/people")
    with database.connection_context():
        gxj = _unit("县工信科技局").id
    bound = desk.post(
        http,
        "/desk/people/bind",
        {"csrf": token, "userid": "zhao", "name": "赵敏", "unit": str(gxj), "roles": "liaison"},
    )
    assert "已绑定 赵敏 为县工信科技局联络员" in bound.text, bound.text
    bad = desk.post(http, "/desk/people/bind", {"csrf": token, "userid": "赵 敏", "unit": str(gxj)})
    assert bad.status_code == 400 and "userid 只能包含" in bad.text
    asked = desk.post(http, "/desk/people/unbind", {"csrf": token, "userid": "zhao"})
    assert "确认解绑 赵敏" in asked.text
    done = desk.post(
        http, "/desk/people/unbind", {"csrf": token, "userid": "zhao", "confirmed": "yes"}
    )
    assert "已解绑 赵敏" in done.text
    with database.connection_context():
        assert not Member.get(Member.wecom_userid == "zhao").active
    assert "赵敏" not in desk.get(http, "/desk/people").text  # unbound: off the list


def test_the_ledger_names_people_and_prints_landscape_on_a4(desk):
    _chat(desk, LIAISON, "签收 J1")
    with database.connection_context():
        Member.update(display_name="王县长").where(Member.wecom_userid == LEADER).execute()
        book = load_workbook(
            io.BytesIO(build_ledger(desk.clock.now(), desk.services.config.timezone))
        )
    sheet = book["交办事项"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    j1 = next(r for r in rows if r[0] == "J1")
    assert j1[4] == "王县长"  # 交办人 by name, not "wang"
    log = book["操作记录"]
    assert "王县长" in [row[1].value for row in log.iter_rows(min_row=2)]
    for ws in book.worksheets:
        assert ws.page_setup.orientation == "landscape"
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.print_title_rows == "$1:$1"
        assert "督办台账" in ws.oddHeader.center.text


def test_the_instructing_leader_hears_when_the_item_is_overdue(desk):
    from datetime import datetime

    from conftest import TZ

    from reminders.jobs import reminder_round

    http, _ = desk.sign_in(ADMIN)
    token = desk.csrf(http, "/desk/new")
    form = _new_item_form(desk, deadline="2026-11-27", urgency="一般", co=[])
    assert "已立项并交办 J3" in _post_form(desk, http, "/desk/new", {**form, "csrf": token}).text
    desk.clock.set(datetime(2026, 11, 30, 9, 30, tzinfo=TZ))  # Monday: 1 working day overdue
    with database.connection_context():
        reminder_round(
            desk.clock.now(),
            desk.services.config,
            load_calendar(),
            desk.services.pipeline.outbox,
            desk.services.renderer,
        )
    told = [m for m in _messages_to(LEADER) if "逾期" in m]
    assert any("J3" in m and "县市场监管局" in m for m in told), told


def test_groups_are_added_renamed_and_changed(desk):
    http, _ = desk.sign_in(ADMIN)
    token = desk.csrf(http, "/desk/units")
    with database.connection_context():
        scj, gxj = _unit("县市场监管局").id, _unit("县工信科技局").id
    added = desk.post(
        http, "/desk/groups/add", [("csrf", token), ("name", "电商专班"), ("units", str(scj))]
    )
    assert "已新增单位组“电商专班”" in added.text, added.text
    with database.connection_context():
        from models.org import UnitGroup

        group = UnitGroup.get(UnitGroup.name == "电商专班")
    joined = desk.post(
        http,
        "/desk/groups/change",
        {"csrf": token, "group": str(group.id), "unit": str(gxj), "change": "add"},
    )
    assert "已加入：县工信科技局" in joined.text
    # Chat can assign to the group now.
    assert "已交办" in _chat(desk, ADMIN, "交办 电商专班 2026-12-10 报送直播电商名录")
    renamed = desk.post(
        http, "/desk/groups/rename", {"csrf": token, "group": str(group.id), "name": "直播电商专班"}
    )
    assert "改名为“直播电商专班”" in renamed.text
    form = {"csrf": token, "group": str(group.id), "unit": str(gxj), "change": "remove"}
    assert "确认把 县工信科技局 移出" in desk.post(http, "/desk/groups/change", form).text
    removed = desk.post(http, "/desk/groups/change", {**form, "confirmed": "yes"})
    assert "已移出" in removed.text
    with database.connection_context():
        assert [u.name for u in UnitGroup.get_by_id(group.id).units()] == ["县市场监管局"]
        actions = {e.action for e in AuditEntry.select().where(AuditEntry.actor == ADMIN)}
    assert {"group_add", "group", "group_rename"} <= actions
    # Two groups become one (confirmed): the units and the items named for the old one move.
    second = desk.post(
        http, "/desk/groups/add", [("csrf", token), ("name", "物流专班"), ("units", str(gxj))]
    )
    assert "已新增单位组“物流专班”" in second.text
    assert "已交办" in _chat(desk, ADMIN, "交办 物流专班 2026-12-12 报送快递进村情况")
    with database.connection_context():
        logistics = UnitGroup.get(UnitGroup.name == "物流专班")
    form = {"csrf": token, "old": str(logistics.id), "into": str(group.id)}
    assert "确认合并" in desk.post(http, "/desk/groups/merge", form).text
    merged = desk.post(http, "/desk/groups/merge", {**form, "confirmed": "yes"})
    assert "已把单位组“物流专班”并入“直播电商专班”" in merged.text, merged.text
    with database.connection_context():
        assert UnitGroup.get_or_none(UnitGroup.id == logistics.id) is None
        kept = UnitGroup.get_by_id(group.id)
        assert {u.name for u in kept.units()} == {"县市场监管局", "县工信科技局"}
        assert "物流专班" in kept.alias_list()
        assert not Assignment.select().where(Assignment.via_group == "物流专班").exists()


def test_people_are_named_not_userids_in_chat_board_and_desk(desk):
    with database.connection_context():
        Member.update(display_name="王县长").where(Member.wecom_userid == LEADER).execute()
    log = _chat(desk, ADMIN, "日志 J1")
    assert "王县长：交办 J1" in log and "wang：" not in log, log
    http, _ = desk.sign_in(ADMIN)
    page = desk.get(http, "/desk/item/J1").text
    assert '<dd id="fact-leader">王县长</dd>' in page  # J1 is the leader's 领导批示
    assert "王县长" in desk.get(http, "/desk/item/J1/print").text
    with database.connection_context():
        from bot.board import access

        value, _ = access.start_session(ADMIN, "link", desk.clock.now(), 1)
    http.cookies.set("board_session", value, path="/board")
    assigned = http.get(desk.base + "/board/assigned", timeout=10).text
    assert "交办人 王县长" in assigned and "交办人 wang" not in assigned
