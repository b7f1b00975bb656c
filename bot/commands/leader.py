"""Commands for the leading group (and the office): the score overview (总览), what is overdue
(逾期), the week's digest before it is published (周报 预览), and the units (单位)."""

from __future__ import annotations

from bot.commands.args import Keyword, UnitArg
from bot.commands.common import calendar, deadline_label, overdue_days, pending_extensions
from bot.commands.common import status_label as label_of
from bot.commands.registry import Context, command
from bot.render import markdown_to_text
from models.org import Member, Unit, UnitGroup
from models.plan import MILESTONE, Assignment, Item
from models.progress import Evidence, ExtensionRequest, ProgressReport
from models.scores import FigureReport
from reminders.ladder import BLUE, RED, YELLOW, colour
from reminders.scorecard import load_scorecard


@command(
    "总览",
    aliases=("overview", "得分", "评分总览"),
    access="leader",
    help="当前评估得分：各一级指标对照 75% 线、总分对照 85 分、是否合格",
)
def overview_cmd(ctx: Context, args) -> str:
    from bot.selfcheck import unconfirmed_groups

    return ctx.renderer.render(
        "overview.j2", card=load_scorecard(), unconfirmed=unconfirmed_groups()
    )


@command(
    "逾期",
    aliases=("overdue", "逾期事项"),
    access="leader",
    help="列出所有已逾期未完成的事项，按单位",
)
def overdue_cmd(ctx: Context, args) -> str:
    rows = list(
        Assignment.select(Assignment, Item, Unit)
        .join(Item)
        .switch(Assignment)
        .join(Unit)
        .where(
            (Assignment.status == "open")
            & (Assignment.deadline < ctx.today)
            & Item.cancelled_at.is_null()
        )
        .order_by(Unit.position, Assignment.deadline, Item.position)
    )
    sections: dict[str, dict[str, list[dict]]] = {"plan": {}, "assigned": {}, "milestone": {}}
    for a in rows:
        section = (
            "milestone" if a.kind == MILESTONE else "assigned" if a.item.is_assigned else "plan"
        )
        sections[section].setdefault(a.unit.name, []).append(
            {"a": a, "days": overdue_days(ctx, a), "deadline": a.deadline.isoformat()}
        )
    return ctx.renderer.render(
        "overdue.j2", sections=sections, total=len(rows), may_nudge=ctx.is_admin
    )


@command(
    "周报",
    aliases=("digest", "通报"),
    access="leader",
    args=(Keyword(words=("预览", "preview", "看看")),),
    help="预览本周通报（尚未发布的内容）",
)
def digest_preview(ctx: Context, args) -> str:
    from reminders import digest

    data = digest.build(ctx.now, ctx.config, calendar(ctx))
    # A person's chat gets text: WeCom shows no markdown there in the WeChat plugin.
    return "【预览，尚未发布】\n" + markdown_to_text(digest.render_markdown(data, ctx.renderer))


@command(
    "单位",
    aliases=("units",),
    access="leader",
    help="列出所有单位、简称和已绑定的人员",
)
def units_cmd(ctx: Context, args) -> str:
    members: dict[int, list[Member]] = {}
    for m in Member.select().where(Member.active == True).order_by(Member.id):  # noqa: E712
        members.setdefault(m.unit_id, []).append(m)
    units = list(Unit.select().order_by(Unit.position, Unit.id))
    groups = [(g, len(g.units())) for g in UnitGroup.select().order_by(UnitGroup.position)]
    return ctx.renderer.render("units.j2", units=units, members=members, groups=groups)


@command(
    "单位",
    args=(UnitArg(single=True),),
    access="leader",
    help="一个单位的概况：事项、颜色、最近报告、多少个工作日没有报告",
    example="单位 工信局",
)
def unit_summary(ctx: Context, args) -> str:
    unit = args.unit.unit
    cal = calendar(ctx)
    rows = list(
        Assignment.select(Assignment, Item)
        .join(Item)
        .where(Assignment.unit == unit)
        .order_by(Assignment.deadline.asc(nulls="LAST"), Item.position)
    )
    open_rows = [a for a in rows if a.status == "open"]
    pending = pending_extensions([a.id for a in open_rows])
    shades = {
        a.id: colour(a.deadline, ctx.today, a.progress, cal, a.deadline_set_on) for a in open_rows
    }
    counts = {shade: sum(1 for s in shades.values() if s == shade) for shade in (RED, YELLOW, BLUE)}
    listed = [a for a in open_rows if a.deadline is not None][:12]
    last = _last_report(unit)
    silent = (
        cal.workdays_between(last[0].astimezone(ctx.config.timezone).date(), ctx.today)
        if last
        else None
    )
    people = list(
        Member.select().where((Member.unit == unit) & (Member.active == True)).order_by(Member.id)  # noqa: E712
    )
    return ctx.renderer.render(
        "unit_summary.j2",
        unit=unit,
        people=people,
        total=len(rows),
        done=len(rows) - len(open_rows),
        open_count=len(open_rows),
        undated=sum(1 for a in open_rows if a.deadline is None),
        counts=counts,
        red=RED,
        yellow=YELLOW,
        blue=BLUE,
        rows=[
            {
                "a": a,
                "colour": shades[a.id],
                "status": label_of(ctx, a, a.id in pending),
                "deadline": deadline_label(a.deadline, a.ongoing),
            }
            for a in listed
        ],
        more=max(0, sum(1 for a in open_rows if a.deadline is not None) - len(listed)),
        last=last,
        silent=silent,
    )


def _last_report(unit: Unit):
    """The unit's newest report of any kind: (when, what, who), or None."""
    candidates = []
    progress = (
        ProgressReport.select(ProgressReport, Assignment, Item)
        .join(Assignment)
        .join(Item)
        .where(Assignment.unit == unit)
        .order_by(ProgressReport.created_at.desc())
        .first()
    )
    if progress is not None:
        verb = "报告完成" if progress.kind == "done" else f"报告进度 {progress.percent}%"
        candidates.append(
            (progress.created_at, f"{progress.assignment.item.code} {verb}", progress.wecom_userid)
        )
    evidence = (
        Evidence.select()
        .where((Evidence.unit == unit) & Evidence.active())
        .order_by(Evidence.created_at.desc())
        .first()
    )
    if evidence is not None:
        code = evidence.item.code + " " if evidence.item_id else ""
        candidates.append((evidence.created_at, f"{code}提交佐证材料", evidence.wecom_userid))
    figures = (
        FigureReport.select()
        .where(FigureReport.unit == unit)
        .order_by(FigureReport.created_at.desc())
        .first()
    )
    if figures is not None:
        candidates.append(
            (figures.created_at, f"{figures.item.code} 上报数据", figures.wecom_userid)
        )
    extension = (
        ExtensionRequest.select(ExtensionRequest, Assignment)
        .join(Assignment)
        .where(Assignment.unit == unit)
        .order_by(ExtensionRequest.created_at.desc())
        .first()
    )
    if extension is not None:
        candidates.append(
            (
                extension.created_at,
                f"{extension.assignment.item.code} 申请延期",
                extension.wecom_userid,
            )
        )
    return max(candidates, key=lambda c: c[0]) if candidates else None
