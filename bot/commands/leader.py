"""Commands for the leading group and the office: the score overview (总览)."""

from __future__ import annotations

from bot.commands.registry import CommandError, Context, command
from reminders.scorecard import load_scorecard


@command(
    "总览",
    aliases=("overview", "得分"),
    access="leader",
    usage="总览",
    help="当前评估得分：各一级指标对照 75% 线、总分对照 85 分、是否合格",
)
def overview_cmd(ctx: Context, args: list[str]) -> str:
    if args:
        raise CommandError("“总览”不需要参数。")
    return ctx.renderer.render("overview.j2", card=load_scorecard())
