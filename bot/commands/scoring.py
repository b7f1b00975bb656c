"""The office's scoring of indicators (评分): 0 to the indicator's full points, halves allowed,
history kept; the office's score wins over one computed from reported figures. The change is
an action (bot/actions/scores.py)."""

from __future__ import annotations

from bot.actions.scores import score_indicator
from bot.commands.args import ItemArg, PointsArg, RestArg
from bot.commands.registry import Context, command


@command(
    "评分",
    aliases=("score", "打分"),
    access="admin",
    args=(ItemArg(label="Z编号", kind="indicator"), PointsArg(), RestArg("reason", "说明")),
    help="给指标打分（0 到满分，可打半分）",
    example="评分 Z11 2.5 平台用户数已达标",
)
def score_cmd(ctx: Context, args) -> str:
    scored = score_indicator(ctx, args.item, args.points, args.reason or "")
    return ctx.say(
        "replies.j2",
        "scored",
        item=args.item,
        points=scored.points,
        maximum=scored.maximum,
        previous=scored.previous,
    )
