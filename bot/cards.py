"""Button cards (button_interaction): built once here for 催办 and reminders.

A card is an outbox row of type "card" carrying a text fallback, so a transport that cannot show
cards (the sandbox, the WeChat plugin) still delivers the words.
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.outbox import Outbox
from models.messages import InteractiveCard

BUTTONS = (
    ("ack", "已收到", 1),
    ("coordinate", "需协调", 2),
    ("extend", "申请延期", 3),
)
BUTTON_DONE = {"ack": "已收到", "coordinate": "已提交协调", "extend": "请发送延期申请"}
_TASK_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_@-]")


def task_id_for(*parts) -> str:
    """WeCom task ids: letters, digits, _ - @ only, at most 128 bytes, unique per app."""
    return _TASK_ID_UNSAFE.sub("_", "-".join(str(p) for p in parts))[:128]


def queue_card(
    outbox: Outbox,
    now: datetime,
    *,
    kind: str,
    userid: str,
    title: str,
    description: str,
    rows: list[tuple[str, str]],
    text: str,
    task_id: str,
    dedupe_key: str,
) -> bool:
    """Queue one button card (with its text fallback) to one person, and remember it."""
    card = {
        "card_type": "button_interaction",
        "source": {"desc": "示范区创建督办"},
        "main_title": {"title": title[:26], "desc": description[:30]},
        "horizontal_content_list": [
            {"keyname": key[:5], "value": value[:26]} for key, value in rows[:6]
        ],
        "task_id": task_id,
        "button_list": [
            {"text": label, "style": style, "key": key} for key, label, style in BUTTONS
        ],
    }
    queued = outbox.queue(
        "member", [userid], {"text": text, "card": card}, dedupe_key, msg_type="card"
    )
    if queued:
        InteractiveCard.insert(
            task_id=task_id,
            kind=kind,
            wecom_userid=userid,
            item_codes="|".join(code for code, _ in rows),
            created_at=now,
        ).on_conflict_ignore().execute()
    return queued
