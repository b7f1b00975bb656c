"""What a click on a card (催办, reminders) does: recorded once, acted on, and the card updated
through the outbox so it cannot be clicked twice."""

from __future__ import annotations

from bot.cards import BUTTON_DONE
from bot.commands.assigned import sign
from bot.commands.common import admin_userids, audit
from bot.commands.registry import CommandError, Context
from bot.commands.review import on_card as on_review_card
from models.messages import InteractiveCard
from models.plan import Item


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
    if card.kind == "review":  # the office's 通过 / 退回 (its subject is the assignment)
        _update_card(ctx, payload, task_id, key)
        return on_review_card(ctx, key, card.item_codes)
    codes = [c for c in card.item_codes.split("|") if c]
    unit = ctx.member.unit.name if ctx.member and ctx.member.unit else ""
    audit(
        ctx,
        f"card_{key}",
        f"{unit + ' ' if unit else ''}{ctx.member.label if ctx.member else ctx.userid}在卡片上点了“{BUTTON_DONE[key]}”"
        + (f"（{'、'.join(codes)}）" if codes else ""),
        item_code=codes[0] if len(codes) == 1 else "",
        unit_name=unit,
        after={"task_id": task_id, "key": key},
    )
    _update_card(ctx, payload, task_id, key)
    if card.kind == "assign" and key == "ack":  # 已收到 on a 交办 card is its 签收
        return _sign_all(ctx, codes)
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


def _update_card(ctx: Context, payload: dict, task_id: str, key: str) -> None:
    """Replace the buttons by what was chosen, so the card cannot be clicked twice."""
    response_code = str(payload.get("ResponseCode") or "")
    if response_code:
        ctx.outbox.queue(
            "member",
            [ctx.userid],
            {"response_code": response_code, "replace_name": BUTTON_DONE[key]},
            f"card-update:{task_id}",
            msg_type="card_update",
        )


def _sign_all(ctx: Context, codes: list[str]) -> str:
    replies = []
    for code in codes:
        item = Item.get_or_none(Item.code == code)
        if item is None:
            continue
        try:
            replies.append(sign(ctx, item))
        except CommandError as exc:
            replies.append(exc.message)
    return "\n".join(replies) or None
