"""The office's scoring of indicators (评分): 0 to the indicator's full points, halves allowed,
history kept; the office's score wins over one computed from reported figures."""

from __future__ import annotations

from bot.commands.args import ItemArg, PointsArg, RestArg
from bot.commands.common import audit
from bot.commands.registry import CommandError, Context, command
from bot.render import format_points
from models.scores import Score


@command(
    "评分",
    aliases=("score", "打分"),
    access="admin",
    args=(ItemArg(label="Z编号", kind="indicator"), PointsArg(), RestArg("reason", "说明")),
    help="给指标打分（0 到满分，可打半分）",
    example="评分 Z11 2.5 平台用户数已达标",
)
def score_cmd(ctx: Context, args) -> str:
    item, points = args.item, args.points
    maximum = item.max_points_value()
    if points > maximum:
        raise CommandError(f"{item.code} 满分 {format_points(maximum)} 分，不能打 {points} 分。")
    reason = args.reason or ""
    previous = Score.current_for(item)
    Score.create(
        item=item,
        points=points,
        reason=reason,
        source="office",
        wecom_userid=ctx.userid,
        created_at=ctx.now,
    )
    audit(
        ctx,
        "score",
        f"{item.code} 评分：{format_points(previous.points) if previous else '未评分'} → "
        f"{format_points(points)}" + (f"（{reason}）" if reason else ""),
        item_code=item.code,
        before={"points": str(previous.points) if previous else None},
        after={"points": str(points), "reason": reason},
    )
    return ctx.say(
        "replies.j2",
        "scored",
        item=item,
        points=points,
        maximum=maximum,
        previous=previous.points if previous else None,
    )
