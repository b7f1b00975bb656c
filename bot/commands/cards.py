"""Interactive cards (button_interaction) for 催办 and reminders, and what a click does.

A card is an outbox row of type "card" carrying a text fallback, so a transport that cannot show
cards (the sandbox, the WeChat plugin) still delivers the words. A click is recorded once; the
card is then updated through the outbox so it cannot be clicked twice.
"""

from __future__ import annotations

import re

from bot.commands.common import admin_userids, audit
from bot.commands.registry import Context
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
    ctx: Context,
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
    queued = ctx.outbox.queue(
        "member", [userid], {"text": text, "card": card}, dedupe_key, msg_type="card"
    )
    if queued:
        InteractiveCard.insert(
            task_id=task_id,
            kind=kind,
            wecom_userid=userid,
            item_codes="|".join(code for code, _ in rows),
            created_at=ctx.now,
        ).on_conflict_ignore().execute()
    return queued


def handle_card_click(ctx: Context, payload: dict) -> str | None:
    """A template_card_event: record the first click, act on it, and update the card."""
    task_id = str(payload.get("TaskId") or "")
    key = str(payload.get("EventKey") or "")
    card = InteractiveCard.get_or_none(InteractiveCard.task_id == task_id)
    if card is None or card.wecom_userid != ctx.userid or key not in BUTTON_DONE:
        return None  # not ours, or someone else's card: nothing to do, nothing to say
    if card.clicked_key:
        return None  # already handled (WeCom may deliver the event more than once)
    InteractiveCard.update(clicked_key=key, clicked_at=ctx.now).where(
        InteractiveCard.id == card.id
    ).execute()
    codes = [c for c in card.item_codes.split("|") if c]
    unit = ctx.member.unit.name if ctx.member and ctx.member.unit else ""
    audit(
        ctx,
        f"card_{key}",
        f"{unit}{ctx.member.label if ctx.member else ctx.userid}在卡片上点了“{BUTTON_DONE[key]}”"
        + (f"（{'、'.join(codes)}）" if codes else ""),
        item_code=codes[0] if len(codes) == 1 else "",
        unit_name=unit,
        after={"task_id": task_id, "key": key},
    )
    response_code = str(payload.get("ResponseCode") or "")
    if response_code:
        ctx.outbox.queue(
            "member",
            [ctx.userid],
            {"response_code": response_code, "replace_name": BUTTON_DONE[key]},
            f"card-update:{task_id}",
            msg_type="card_update",
        )
    if key == "coordinate":
        notice = ctx.renderer.render(
            "coordination_request.j2",
            unit=unit,
            who=ctx.member.label if ctx.member else ctx.userid,
            codes=codes,
        )
        ctx.outbox.to_members(admin_userids(ctx), notice, f"coordinate:{task_id}")
        return ctx.say("replies.j2", "coordination_sent", codes=codes)
    if key == "extend":
        return ctx.say("replies.j2", "extension_how", codes=codes, today=ctx.today)
    return None
