"""What a click on a card answers: recorded once (bot/actions/cards.py), then 签收 for a 交办
card's 已收到, the office's 通过 / 退回 on a review card, and a word for the other buttons."""

from __future__ import annotations

from bot.actions.base import Refused
from bot.actions.cards import record_click
from bot.commands import REGISTRY, reader
from bot.commands.assigned import sign_reply
from bot.commands.registry import Context
from bot.commands.review import on_card as on_review_card
from models.plan import Item


def handle_card_click(ctx: Context, payload: dict) -> str | None:
    """A template_card_event: act on the first click and answer it (None: nothing to say)."""
    click = record_click(ctx, payload)
    if click is None:
        return None
    if click.kind == "review":
        return on_review_card(ctx, click.key, click.subject)
    if click.kind == "confirm":  # 是 / 不是 on a question the reader asked
        return reader.on_card(REGISTRY, ctx, click.key, click.subject)
    if click.kind == "assign" and click.key == "ack":  # 已收到 on a 交办 card is its 签收
        return _sign_all(ctx, click.codes)
    if click.key == "coordinate":
        return ctx.say("replies.j2", "coordination_sent", codes=click.codes)
    if click.key == "extend":
        return ctx.say("replies.j2", "extension_how", codes=click.codes, today=ctx.today)
    return None


def _sign_all(ctx: Context, codes: list[str]) -> str | None:
    replies = []
    for code in codes:
        item = Item.get_or_none(Item.code == code)
        if item is None:
            continue
        try:
            replies.append(sign_reply(ctx, item))
        except Refused as exc:
            replies.append(exc.message)
    return "\n".join(replies) or None
