"""Button cards (button_interaction): built once here for 催办 and reminders.

A card is an outbox row of type "card" carrying a text fallback, so a transport that cannot show
cards (the sandbox, the WeChat plugin) still delivers the words.
"""

from __future__ import annotations

from datetime import datetime

from bot.task_ids import new_task_id

BUTTONS = (
    ("ack", "已收到", 1),
    ("coordinate", "需协调", 2),
    ("extend", "申请延期", 3),
)
# 办结审核: the office's card for a unit's "done".
REVIEW_BUTTONS = (("pass", "通过", 1), ("return", "退回", 2))
# A yes/no question before the bot acts on a reading it is not sure of.
CONFIRM_BUTTONS = (("yes", "是", 1), ("no", "不是", 2))
BUTTON_DONE = {
    "ack": "已收到",
    "coordinate": "已提交协调",
    "extend": "请发送延期申请",
    "pass": "已通过",
    "return": "请回复退回原因",
    "yes": "已确认",
    "no": "已取消",
}


def task_id_for(*parts) -> str:
    """A new WeCom task id: the parts (readable in logs) and a random tail, so that it is
    unique for the app's whole life, across database resets (see bot/task_ids.py)."""
    return new_task_id(*parts)


def card_payload(
    *,
    title: str,
    description: str,
    rows: list[tuple[str, str]],
    task_id: str,
    buttons: tuple[tuple[str, str, int], ...] = BUTTONS,
    url: str = "",
) -> dict:
    """The WeCom template card: at most 6 rows; titles and values cut to WeCom's lengths.
    `url`: where a tap on the card (not a button) leads, the board's page (card_action)."""
    card = {
        "card_type": "button_interaction",
        "source": {"desc": "示范区创建督办"},
        "main_title": {"title": title[:26], "desc": description[:30]},
        "horizontal_content_list": [
            {"keyname": key[:5], "value": value[:26]} for key, value in rows[:6]
        ],
        "task_id": task_id,
        "button_list": [
            {"text": label, "style": style, "key": key} for key, label, style in buttons
        ],
    }
    if url:
        card["card_action"] = {"type": 1, "url": url}
    return card


def queue_card(outbox, now: datetime, **card) -> bool:
    """Queue one button card through `outbox` (an Outbox); see Outbox.card."""
    return outbox.card(now, **card)
