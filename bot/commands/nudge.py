"""The office's 催办 in chat: for one item's units, or one unit's (or group's) open items. The
sending is an action (bot/actions/nudge.py)."""

from __future__ import annotations

from bot.actions.nudge import nudge, open_rows
from bot.commands.args import ItemArg, UnitArg
from bot.commands.registry import Context, command
from models.plan import Assignment


@command(
    "催办",
    aliases=("nudge", "提醒", "督办"),
    access="leader",
    args=(ItemArg(),),
    help="给一项任务的各责任单位联络员发送催办（领导可催办自己交办或批示的事项）",
    example="催办 T11",
)
def nudge_item(ctx: Context, args) -> str:
    rows = open_rows(Assignment.item == args.item)
    done = nudge(ctx, rows, args.item.code, args.item.code)
    return _reply(ctx, args.item.code, done)


@command(
    "催办",
    access="admin",
    args=(UnitArg(),),
    help="给一个单位（或单位组）的联络员发送催办，列出其全部未完成事项",
    example="催办 工信局",
)
def nudge_unit(ctx: Context, args) -> str:
    match = args.unit
    subject = match.unit.name if match.unit else match.group.name
    rows = open_rows(Assignment.unit.in_([u.id for u in match.units] or [0]))
    return _reply(ctx, subject, nudge(ctx, rows, subject))


def _reply(ctx: Context, subject: str, done) -> str:
    return ctx.say(
        "replies.j2", "nudged", subject=subject, sent_to=done.sent_to, missing=done.missing
    )
