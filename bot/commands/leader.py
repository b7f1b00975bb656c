"""Commands for the leading group (and the office): the score overview (总览), what is overdue
(逾期), the week's digest before it is published (周报 预览), and the units (单位)."""

from __future__ import annotations

from typing import Any

from bot.commands.args import Keyword, UnitArg
from bot.commands.registry import Context, command
from bot.render import markdown_to_text
from bot.selfcheck import unconfirmed_groups
from models.org import Member, Unit, UnitGroup
from models.plan import Assignment, Item, Part, Status
from models.progress import Evidence, ExtensionRequest, ProgressReport
from models.scores import FigureReport
from reminders import digest
from reminders.scorecard import load_scorecard
from reminders.state import deadline_label, last_reports, open_work, states, unit_counts


@command(
    "总览",
    aliases=("overview", "得分", "评分总览"),
    access="leader",
    help="当前评估得分：各一级指标对照 75% 线、总分对照 85 分、是否合格",
)
def overview_cmd(ctx: Context, args) -> str:
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
            (Assignment.status == Status.OPEN)
            & (Assignment.deadline < ctx.today)
            & Item.cancelled_at.is_null()
        )
        .order_by(Unit.position, Assignment.deadline, Item.position)
    )
    found = states(rows, ctx.today, ctx.calendar, ctx.config.timezone)
    sections: dict[str, dict[str, list[dict]]] = {"plan": {}, "assigned": {}, "milestone": {}}
    for a in rows:
        section = (
            "milestone"
            if a.kind == Part.MILESTONE
            else "assigned"
            if a.item.is_assigned
            else "plan"
        )
        sections[section].setdefault(a.unit.name, []).append(
            {"a": a, "days": found[a.id].overdue, "deadline": str(a.deadline)}
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
    data = digest.build(ctx.now, ctx.config, ctx.calendar)
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
        members.setdefault(m.unit_id or 0, []).append(m)
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
    cal = ctx.calendar
    open_rows = [a for a in open_work([unit.id]) if a.status == Status.OPEN]
    found = states(open_rows, ctx.today, cal, ctx.config.timezone)
    shades = {a.id: found[a.id].colour for a in open_rows}
    dated = [a for a in open_rows if a.deadline is not None]
    listed = dated[:12]
    last = _last_report(unit)
    silent = (
        cal.workdays_between(last[0].astimezone(ctx.config.timezone).date(), ctx.today)
        if last
        else None
    )
    people = list(
        Member.select().where((Member.unit == unit) & (Member.active == True)).order_by(Member.id)  # noqa: E712
    )
    tally = unit_counts([unit.id], ctx.today, cal)[unit.id]
    return ctx.renderer.render(
        "unit_summary.j2",
        unit=unit,
        people=people,
        tally=tally,
        rows=[
            {
                "a": a,
                "colour": shades[a.id],
                "status": found[a.id].text(),
                "deadline": deadline_label(a.deadline, a.ongoing),
            }
            for a in listed
        ],
        more=max(0, len(dated) - len(listed)),
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


@command(
    "排名",
    aliases=("ranking", "排行", "谁没报"),
    access="leader",
    help="各单位按逾期事项多少、多久没有报告排序（最需要催的在前）",
)
def ranking_cmd(ctx: Context, args) -> str:
    cal = ctx.calendar
    units = {u.id: u for u in Unit.select()}
    counts = unit_counts(None, ctx.today, cal)
    last = last_reports(None)
    rows: list[dict[str, Any]] = []
    for unit_id, c in counts.items():
        if unit_id not in units or not (c.unfinished or c.done):
            continue
        when = last.get(unit_id)
        silent = (
            cal.workdays_between(when[0].astimezone(ctx.config.timezone).date(), ctx.today)
            if when
            else None
        )
        rows.append({"unit": units[unit_id], "c": c, "silent": silent, "last": when})
    rows.sort(
        key=lambda r: (
            -r["c"].overdue,
            -(r["silent"] if r["silent"] is not None else 10_000),
            r["unit"].position,
        )
    )
    return ctx.renderer.render("ranking.j2", rows=rows[:15], more=max(0, len(rows) - 15))
