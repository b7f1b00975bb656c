"""The office's 催办: a card to each liaison of the units concerned, one per person, listing the
unit's open items (overdue counted in working days)."""

from __future__ import annotations

from bot.cards import queue_card, task_id_for
from bot.commands.args import ItemArg, UnitArg
from bot.commands.common import audit as record
from bot.commands.common import (
    deadline_label,
    liaisons_by_unit,
    pending_extensions,
    status_label,
)
from bot.commands.registry import CommandError, Context, command
from models.plan import Assignment, Item


@command(
    "催办",
    aliases=("nudge", "提醒", "督办"),
    access="admin",
    args=(ItemArg(),),
    help="给一项任务的各责任单位联络员发送催办",
    example="催办 T11",
)
def nudge_item(ctx: Context, args) -> str:
    query = _open().where(Assignment.item == args.item)
    return _nudge(ctx, query, args.item.code, args.item.code)


@command(
    "催办",
    access="admin",
    args=(UnitArg(),),
    help="给一个单位（或单位组）的联络员发送催办，列出其全部未完成事项",
    example="催办 工信局",
)
def nudge_unit(ctx: Context, args) -> str:
    match = args.unit
    query = _open().where(Assignment.unit.in_([u.id for u in match.units] or [0]))
    return _nudge(ctx, query, match.unit.name if match.unit else match.group.name, "")


def _open():
    return Assignment.select(Assignment, Item).join(Item).where(Assignment.status == "open")


def _nudge(ctx: Context, query, subject: str, code: str) -> str:
    by_unit: dict[int, list[Assignment]] = {}
    for a in query.order_by(Assignment.deadline.asc(nulls="LAST"), Item.position):
        by_unit.setdefault(a.unit_id, []).append(a)
    if not by_unit:
        raise CommandError(f"{subject} 没有未完成的事项，无需催办。", show_usage=False)
    liaisons = liaisons_by_unit(list(by_unit))
    pending = pending_extensions([a.id for rows in by_unit.values() for a in rows])
    sent_to, missing = [], []
    ref = ctx.inbound.id if ctx.inbound else 0
    for unit_id, assignments in by_unit.items():
        unit = assignments[0].unit
        if not liaisons[unit_id]:
            missing.append(unit.name)
            continue
        labels = {a.id: status_label(ctx, a, a.id in pending) for a in assignments}
        text = ctx.renderer.render(
            "nudge.j2",
            unit=unit,
            rows=[
                {"a": a, "status": labels[a.id], "deadline": deadline_label(a.deadline, a.ongoing)}
                for a in assignments[:15]
            ],
            more=max(0, len(assignments) - 15),
        )
        rows = [
            (a.item.code, f"{deadline_label(a.deadline, a.ongoing)}｜{labels[a.id]}")
            for a in assignments
        ]
        for member in liaisons[unit_id]:
            queue_card(
                ctx.outbox,
                ctx.now,
                kind="nudge",
                userid=member.wecom_userid,
                title=f"【催办】{unit.name}",
                description=f"{len(assignments)} 项未完成，请抓紧推进",
                rows=rows,
                text=text,
                task_id=task_id_for("nudge", ref, member.id),
                dedupe_key=f"nudge:{ref}:{member.wecom_userid}",
            )
            sent_to.append(member.label)
        record(
            ctx,
            "nudge",
            f"催办{unit.name}：" + "、".join(a.item.code for a in assignments),
            item_code=code,
            unit_name=unit.name,
            after={"items": [a.item.code for a in assignments]},
        )
    if not sent_to:
        raise CommandError(
            "这些单位都还没有绑定联络员，催办未发出：" + "、".join(missing), show_usage=False
        )
    return ctx.say("replies.j2", "nudged", subject=subject, sent_to=sent_to, missing=missing)
