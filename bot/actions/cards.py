"""A click on a card (催办, reminders, 交办, review): recorded once, logged, and the card updated
through the outbox so it cannot be clicked twice. What the click then does (签收, 通过…) is the
action of its own module, called by the way in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.actions.base import Acting
from bot.cards import BUTTON_DONE
from models import userids
from models.messages import InteractiveCard


@dataclass(frozen=True)
class Click:
    kind: str  # the card's kind: remind, nudge, assign, review…
    key: str  # the button: ack, coordinate, extend, pass, return
    codes: list[str]  # the item codes the card was about ([] for a review card)
    subject: str  # what a review card acts on ("a<assignment id>")
    task_id: str


def record_click(acting: Acting, payload: dict[str, Any]) -> Click | None:
    """A template_card_event: the first click on one of this person's cards, recorded and
    logged; None when it is not ours, not theirs, or already handled (WeCom may deliver the
    event more than once)."""
    task_id = str(payload.get("TaskId") or "")
    key = str(payload.get("EventKey") or "")
    card = InteractiveCard.get_or_none(InteractiveCard.task_id == task_id)
    if card is None or not userids.same(card.wecom_userid, acting.userid) or key not in BUTTON_DONE:
        return None
    if card.clicked_key:
        return None
    InteractiveCard.update(clicked_key=key, clicked_at=acting.now).where(
        InteractiveCard.id == card.id
    ).execute()
    _update_card(acting, payload, task_id, key)
    if card.kind in ("review", "confirm"):  # logged by what the click decides, if anything
        return Click(card.kind, key, [], card.item_codes, task_id)
    codes = [c for c in card.item_codes.split("|") if c]
    unit = acting.member.unit.name if acting.member and acting.member.unit else ""
    acting.audit(
        f"card_{key}",
        f"{unit + ' ' if unit else ''}{acting.name}在卡片上点了“{BUTTON_DONE[key]}”"
        + (f"（{'、'.join(codes)}）" if codes else ""),
        item_code=codes[0] if len(codes) == 1 else "",
        unit_name=unit,
        after={"task_id": task_id, "key": key},
    )
    if key == "coordinate":
        notice = acting.renderer.render(
            "coordination_request.j2", unit=unit, who=acting.name, codes=codes
        )
        acting.tell(acting.admins(), notice, f"coordinate:{task_id}")
    return Click(card.kind, key, codes, "", task_id)


def _update_card(acting: Acting, payload: dict[str, Any], task_id: str, key: str) -> None:
    """Replace the buttons by what was chosen, so the card cannot be clicked twice."""
    response_code = str(payload.get("ResponseCode") or "")
    if response_code:
        acting.outbox.queue(
            "member",
            [acting.userid],
            {"response_code": response_code, "replace_name": BUTTON_DONE[key]},
            f"card-update:{task_id}",
            msg_type="card_update",
        )
