"""The same steps through the chat and through the desk give the same results: one 交办 with its
source document registered both ways, signed for, reported done, passed, then another sent back,
and withdrawn — compared field by field (the item, its units' shares, the log's wording, the
messages the units and the 批示 leader receive), the codes aside."""

from __future__ import annotations

import re

from board_setup import ADMIN, LEADER, LIAISON, OTHER
from desk_setup import desk_fixture  # noqa: F401  (the `desk` fixture)
from helpers import ChatDriver

from models.audit import AuditEntry
from models.db import database
from models.messages import OutboxMessage
from models.org import Unit
from models.plan import Assignment, Item

INSTRUCTION = "请市场监管局牵头，工信局配合，月底前拿出整治方案。"
CHAT_TEXT = (
    "交办 市监局（牵头）,工信局 2026-12-10 整治直播带货虚假宣传（领导批示）（特急） "
    f"文号：新政办批〔2026〕8号 批示领导：{LEADER} 原文：{INSTRUCTION}"
)


def _say(desk, userid: str, text: str) -> str:
    with database.connection_context():
        return ChatDriver(desk.services).say(userid, text)


def _desk_form(desk, token: str) -> list[tuple[str, str]]:
    with database.connection_context():
        scj = Unit.get(Unit.name == "县市场监管局").id
        gxj = Unit.get(Unit.name == "县工信科技局").id
    return [
        ("csrf", token),
        ("title", "整治直播带货虚假宣传"),
        ("source", "领导批示"),
        ("leader", LEADER),
        ("doc_no", "新政办批〔2026〕8号"),
        ("instruction", INSTRUCTION),
        ("urgency", "特急"),
        ("lead", str(scj)),
        ("co", str(gxj)),
        ("deadline", "2026-12-10"),
        ("rule", ""),
    ]


def _item(code: str) -> dict:
    """What an item is, without what differs by nature (its code, number, creation time and
    the message it came in, which chat keeps as its body)."""
    with database.connection_context():
        item = Item.get(Item.code == code)
        shares = sorted(
            (a.unit.name, a.role, str(a.deadline), a.status, a.signed_by, a.reviewed_by)
            for a in Assignment.select().where(Assignment.item == item)
        )
    return {
        "title": item.title,
        "source": item.source,
        "doc_no": item.doc_no,
        "instructed_by": item.instructed_by,
        "instruction": item.instruction,
        "urgency": item.urgency,
        "assigned_by": item.assigned_by,
        "recurrence": item.recurrence,
        "cancel_reason": item.cancel_reason,
        "cancelled": item.cancelled_at is not None,
        "shares": shares,
    }


def _log(code: str) -> list[tuple[str, str, str]]:
    with database.connection_context():
        return [
            (e.actor, e.action, e.summary.replace(code, "J?"))
            for e in AuditEntry.select().where(AuditEntry.item_code == code).order_by(AuditEntry.id)
        ]


def _told(code: str) -> dict[str, list[str]]:
    """Every message about this item (not replies to whoever typed), per recipient, with the
    item's code and each message's own ids taken out."""
    with database.connection_context():
        rows = OutboxMessage.select().where(~OutboxMessage.dedupe_key.startswith("reply:"))
        found: dict[str, list[str]] = {}
        for row in rows.order_by(OutboxMessage.id):
            text = str(row.content)
            if not re.search(rf"\b{code}\b", text):
                continue
            text = re.sub(r"'task_id': '[^']*'", "", text.replace(code, "J?"))
            found.setdefault(row.recipient, []).append(text)
    return found


def test_the_same_steps_through_chat_and_desk_give_the_same_results(desk):
    # 1. 立项: through chat, then through the desk.
    reply = _say(desk, ADMIN, CHAT_TEXT)
    assert "已交办 J3" in reply, reply
    http, _ = desk.sign_in(ADMIN)
    token = desk.csrf(http, "/desk/new")
    answer = desk.post(http, "/desk/new", _desk_form(desk, token))
    assert "已立项并交办 J4" in answer.text, answer.text
    assert _item("J3") == _item("J4")
    assert _item("J3")["urgency"] == "特急" and _item("J3")["instructed_by"] == LEADER

    # 2. Both units sign for both; 市监局 reports both done.
    for code in ("J3", "J4"):
        assert "签收" in _say(desk, LIAISON, f"签收 {code}")
        assert "签收" in _say(desk, OTHER, f"签收 {code}")
        assert "等待办公室审核" in _say(desk, LIAISON, f"完成 {code} 方案已报县政府")

    # 3. 通过: J3 in chat, J4 on the desk.
    assert "通过" in _say(desk, ADMIN, "通过 J3 市监局")
    with database.connection_context():
        share = Assignment.get(
            (Assignment.item == Item.get(Item.code == "J4"))
            & (Assignment.unit == Unit.get(Unit.name == "县市场监管局"))
        )
    token = desk.csrf(http, "/desk/review")
    passed = desk.post(
        http, "/desk/review", {"csrf": token, "ids": str(share.id), "decision": "pass"}
    )
    assert "已通过" in passed.text, passed.text

    # 4. 撤销: J3 in chat, J4 on the desk (confirmed).
    assert "撤销" in _say(desk, ADMIN, "撤销 J3 已并入年度整治")
    token = desk.csrf(http, "/desk/item/J4")
    cancelled = desk.post(
        http,
        "/desk/item/J4/cancel",
        {"csrf": token, "reason": "已并入年度整治", "confirmed": "yes"},
    )
    assert "已撤销 J4" in cancelled.text

    # The item, its shares, the log and what everyone was told: the same both ways.
    assert _item("J3") == _item("J4")
    assert _log("J3") == _log("J4")
    assert len(_log("J3")) >= 6
    chat_told, desk_told = _told("J3"), _told("J4")
    assert chat_told == desk_told
    assert set(chat_told) >= {LIAISON, OTHER, LEADER}  # units and the 批示 leader
    leader = " ".join(chat_told[LEADER])
    assert "签收" in leader and "办结" in leader
