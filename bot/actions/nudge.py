"""催办: a card to each liaison of the units concerned, one per person, listing the unit's open
items (overdue counted in working days). The desk's 催办 button and the chat's call this."""

from __future__ import annotations

from dataclasses import dataclass, field

import peewee

from bot.actions.base import Acting, Refused, liaisons_by_unit
from bot.cards import queue_card, task_id_for
from models.plan import Assignment, Item, Status
from reminders.state import deadline_label, states


@dataclass(frozen=True)
class Nudged:
    sent_to: list[str] = field(default_factory=list)  # the people reached
    missing: list[str] = field(default_factory=list)  # units without a liaison


def open_rows(where: peewee.Expression) -> list[Assignment]:
    """Open work matching `where`, nearest deadline first (what a 催办 lists)."""
    return list(
        Assignment.select(Assignment, Item)
        .join(Item)
        .where((Assignment.status == Status.OPEN) & Item.cancelled_at.is_null() & where)
        .order_by(Assignment.deadline.asc(nulls="LAST"), Item.position)
    )


def nudge(acting: Acting, rows: list[Assignment], subject: str, code: str = "") -> Nudged:
    """Send the 催办 for `rows` (grouped by unit); refuses when nobody could be reached."""
    if not acting.is_admin:
        leader = acting.member is not None and "leader" in acting.member.roles
        own = {a.item.reports_to for a in rows} == {acting.userid}
        if not leader:
            raise Refused("只有领导小组办公室可以催办。")
        if rows and not own:
            raise Refused("领导只能催办自己交办或批示的事项；其他事项请让领导小组办公室催办。")
    by_unit: dict[int, list[Assignment]] = {}
    for a in rows:
        by_unit.setdefault(a.unit_id, []).append(a)
    if not by_unit:
        raise Refused(f"{subject} 没有未完成的事项，无需催办。")
    liaisons = liaisons_by_unit(list(by_unit))
    found = states(rows, acting.today, acting.calendar, acting.config.timezone)
    result = Nudged()
    for unit_id, assignments in by_unit.items():
        unit = assignments[0].unit
        if not liaisons[unit_id]:
            result.missing.append(unit.name)
            continue
        labels = {a.id: found[a.id].text() for a in assignments}
        text = acting.renderer.render(
            "nudge.j2",
            unit=unit,
            rows=[
                {"a": a, "status": labels[a.id], "deadline": deadline_label(a.deadline, a.ongoing)}
                for a in assignments[:15]
            ],
            more=max(0, len(assignments) - 15),
        )
        cells = [
            (a.item.code, f"{deadline_label(a.deadline, a.ongoing)}｜{labels[a.id]}")
            for a in assignments
        ]
        for member in liaisons[unit_id]:
            queue_card(
                acting.outbox,
                acting.now,
                kind="nudge",
                userid=member.wecom_userid,
                title=f"【催办】{unit.name}",
                description=f"{len(assignments)} 项未完成，请抓紧推进",
                rows=cells,
                text=text,
                task_id=task_id_for("nudge", acting.cause, member.id),
                dedupe_key=f"nudge:{acting.cause}:{member.wecom_userid}",
            )
            result.sent_to.append(member.label)
        acting.audit(
            "nudge",
            f"催办{unit.name}：" + "、".join(a.item.code for a in assignments),
            item_code=code,
            unit_name=unit.name,
            after={"items": [a.item.code for a in assignments]},
        )
    if not result.sent_to:
        raise Refused("这些单位都还没有绑定联络员，催办未发出：" + "、".join(result.missing))
    return result
