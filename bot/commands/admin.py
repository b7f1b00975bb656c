"""Commands for the office (领导小组办公室): bindings, groups, deadlines, scores, extensions,
assignments, nudges (催办), overdue lists and the audit log."""

from __future__ import annotations

import io
import re
from datetime import date

from bot.cards import queue_card, task_id_for
from bot.commands.common import (
    audit,
    deadline_label,
    liaisons_by_unit,
    require_item,
    require_single_unit,
    resolve_units,
    status_label,
)
from bot.commands.registry import CommandError, Context, command
from bot.render import format_points
from bot.selfcheck import run_checks, worst
from bot.text import looks_like_date, parse_code, parse_date, parse_points
from models.audit import AuditEntry
from models.org import ROLE_BY_LABEL, ROLES, GroupMember, Member, Unit, UnitGroup
from models.plan import Assignment, Item
from models.progress import Evidence, ExtensionRequest, ProgressReport
from models.schedule import CalendarDay
from models.scores import Score
from reminders.calendar import WorkCalendar

_USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_ROLE_WORDS = {**ROLE_BY_LABEL, **{k: k for k in ROLES}}


def _parse_userid(token: str) -> str:
    if not _USERID.match(token):
        raise CommandError(
            f"“{token}”不是有效的企业微信 userid（字母、数字、_ . @ -，最长 64 位）。"
        )
    return token


@command(
    "绑定",
    aliases=("bind",),
    access="admin",
    usage="绑定 <userid> <单位> [管理员|领导|负责人|联络员] [姓名]",
    help="把企业微信用户绑定到单位（默认联络员）",
)
def bind_cmd(ctx: Context, args: list[str]) -> str:
    if len(args) < 2:
        raise CommandError("请写明 userid 和单位。")
    userid = _parse_userid(args[0])
    unit = require_single_unit(args[1])
    role = "liaison"
    rest = args[2:]
    if rest and rest[0] in _ROLE_WORDS:
        role = _ROLE_WORDS[rest[0]]
        rest = rest[1:]
    name = " ".join(rest)[:100]
    existing = Member.get_or_none(Member.wecom_userid == userid)
    before = None
    if existing is not None:
        before = {
            "unit": existing.unit.name if existing.unit else None,
            "role": existing.role,
            "active": existing.active,
            "name": existing.display_name,
        }
        Member.update(
            unit=unit,
            role=role,
            active=True,
            display_name=name or existing.display_name,
            bound_at=ctx.now,
            bound_by=ctx.userid,
        ).where(Member.id == existing.id).execute()
    else:
        Member.create(
            wecom_userid=userid,
            display_name=name,
            unit=unit,
            role=role,
            bound_at=ctx.now,
            bound_by=ctx.userid,
        )
    label = ROLES[role]
    audit(
        ctx,
        "bind",
        f"绑定 {userid}{f'（{name}）' if name else ''} 为{unit.name}{label}",
        unit_name=unit.name,
        before=before,
        after={"unit": unit.name, "role": role, "active": True, "name": name},
    )
    welcome = ctx.renderer.render("welcome.j2", unit=unit, role_label=label)
    ctx.outbox.to_members(
        [userid], welcome, f"welcome:{ctx.inbound.id if ctx.inbound else 0}:{userid}"
    )
    return ctx.say(
        "replies.j2",
        "bound",
        userid=userid,
        unit=unit,
        role_label=label,
        rebound=before is not None,
    )


@command(
    "解绑", aliases=("unbind",), access="admin", usage="解绑 <userid>", help="解除用户与单位的绑定"
)
def unbind_cmd(ctx: Context, args: list[str]) -> str:
    if len(args) != 1:
        raise CommandError("请写明一个 userid。")
    userid = _parse_userid(args[0])
    member = Member.get_or_none((Member.wecom_userid == userid) & (Member.active == True))  # noqa: E712
    if member is None:
        raise CommandError(f"{userid} 目前没有绑定任何单位。", show_usage=False)
    if (
        member.wecom_userid == ctx.userid
        and member.role == "admin"
        and userid not in ctx.config.admins
    ):
        raise CommandError("不能解绑自己的管理员身份，请让另一位管理员操作。", show_usage=False)
    Member.update(active=False).where(Member.id == member.id).execute()
    unit_name = member.unit.name if member.unit else ""
    audit(
        ctx,
        "unbind",
        f"解绑 {userid}（原{unit_name}{member.role_label}）",
        unit_name=unit_name,
        before={"unit": unit_name, "role": member.role, "active": True},
        after={"active": False},
    )
    return ctx.say("replies.j2", "unbound", userid=userid, unit_name=unit_name)


@command(
    "单位",
    aliases=("units",),
    access="admin",
    usage="单位",
    help="列出所有单位、简称和已绑定的人员",
)
def units_cmd(ctx: Context, args: list[str]) -> str:
    members: dict[int, list[Member]] = {}
    for m in Member.select().where(Member.active == True).order_by(Member.id):  # noqa: E712
        members.setdefault(m.unit_id, []).append(m)
    units = list(Unit.select().order_by(Unit.position, Unit.id))
    groups = [(g, len(g.units())) for g in UnitGroup.select().order_by(UnitGroup.position)]
    return ctx.renderer.render("units.j2", units=units, members=members, groups=groups)


@command(
    "群组",
    aliases=("group", "单位组"),
    access="admin",
    usage="群组 [组名] [加|减 <单位…>]",
    help="查看单位组，或增减组内单位",
)
def group_cmd(ctx: Context, args: list[str]) -> str:
    if not args:
        groups = [(g, g.units()) for g in UnitGroup.select().order_by(UnitGroup.position)]
        return ctx.renderer.render("groups.j2", groups=groups)
    match = resolve_units(args[0])
    group = match.group
    if group is None:
        raise CommandError(
            f"“{args[0]}”是单位，不是单位组。单位组有："
            + "、".join(g.name for g in UnitGroup.select().order_by(UnitGroup.position))
        )
    if len(args) == 1:
        return ctx.renderer.render("groups.j2", groups=[(group, group.units())])
    op = args[1]
    if op not in ("加", "减", "add", "remove", "增加", "删除", "移除") or len(args) < 3:
        raise CommandError("请写“加”或“减”，再写单位，如：群组 各镇 加 横桥乡。")
    adding = op in ("加", "add", "增加")
    units = [require_single_unit(token) for token in args[2:]]
    current = {u.id for u in group.units()}
    items = [i for i in Item.select() if group.name in i.units_text.split("、")]
    changed, notes = [], []
    for unit in units:
        if adding:
            if unit.id in current:
                notes.append(f"{unit.name}已在组内")
                continue
            GroupMember.create(group=group, unit=unit)
            for item in items:
                Assignment.insert(
                    item=item, unit=unit, role="co", via_group=group.name
                ).on_conflict_ignore().execute()
            changed.append(unit.name)
        else:
            if unit.id not in current:
                notes.append(f"{unit.name}不在组内")
                continue
            GroupMember.delete().where(
                (GroupMember.group == group) & (GroupMember.unit == unit)
            ).execute()
            kept = _drop_group_assignments(group, unit)
            if kept:
                notes.append(f"{unit.name}已报告过进度或材料的 {kept} 项保留")
            changed.append(unit.name)
    if changed:
        audit(
            ctx,
            "group",
            f"单位组“{group.name}”{'加入' if adding else '移出'}：" + "、".join(changed),
            before={"units": sorted(current)},
            after={"units": sorted(u.id for u in group.units())},
        )
    return ctx.say(
        "replies.j2",
        "group_changed",
        group=group,
        adding=adding,
        changed=changed,
        notes=notes,
        items=len(items),
    )


def _drop_group_assignments(group: UnitGroup, unit: Unit) -> int:
    """Remove the unit's assignments that came only through the group, unless work was reported."""
    kept = 0
    query = Assignment.select().where(
        (Assignment.unit == unit) & (Assignment.via_group == group.name)
    )
    for assignment in query:
        touched = (
            ProgressReport.select().where(ProgressReport.assignment == assignment).exists()
            or Evidence.select().where(Evidence.assignment == assignment).exists()
            or ExtensionRequest.select().where(ExtensionRequest.assignment == assignment).exists()
        )
        if touched:
            kept += 1
        else:
            assignment.delete_instance()
    return kept


@command(
    "期限",
    aliases=("deadline",),
    access="admin",
    usage="期限 <编号> [单位] <YYYY-MM-DD>",
    help="设定或修改期限；不写单位即所有责任单位",
)
def deadline_cmd(ctx: Context, args: list[str]) -> str:
    if len(args) < 2:
        raise CommandError("请写明编号和日期。")
    item = require_item(args[0])
    if not looks_like_date(args[-1]):
        raise CommandError(f"“{args[-1]}”不是日期，请写成 2026-12-31 这样的格式。")
    new_deadline = parse_date(args[-1])
    if new_deadline < ctx.today:
        raise CommandError(f"期限 {new_deadline} 早于今天（{ctx.today}），请写今天或以后的日期。")
    query = Assignment.select().where(Assignment.item == item)
    target = "全部责任单位"
    if len(args) > 2:
        unit_text = " ".join(args[1:-1])
        match = resolve_units(unit_text)
        unit_ids = [u.id for u in match.units]
        target = match.unit.name if match.unit else match.group.name
        query = query.where(Assignment.unit.in_(unit_ids or [0]))
    assignments = list(query.order_by(Assignment.id))
    if not assignments:
        raise CommandError(f"{item.code} 没有分配给{target}。可先用“分配”添加责任单位。")
    for a in assignments:
        Assignment.update(
            deadline=new_deadline,
            updated_at=ctx.now,
            deadline_set_on=a.deadline_set_on or ctx.today,
        ).where(Assignment.id == a.id).execute()
        audit(
            ctx,
            "deadline",
            f"{item.code} {a.unit.name}期限：{deadline_label(a.deadline)} → {new_deadline}",
            item_code=item.code,
            unit_name=a.unit.name,
            before={"deadline": str(a.deadline) if a.deadline else None},
            after={"deadline": str(new_deadline)},
        )
    liaisons = liaisons_by_unit([a.unit_id for a in assignments if a.status == "open"])
    text = ctx.renderer.render("deadline_notice.j2", item=item, deadline=new_deadline)
    for members in liaisons.values():
        for m in members:
            ctx.outbox.to_members(
                [m.wecom_userid],
                text,
                f"deadline:{ctx.inbound.id if ctx.inbound else 0}:{m.wecom_userid}",
            )
    return ctx.say(
        "replies.j2",
        "deadline_set",
        item=item,
        deadline=new_deadline,
        target=target,
        count=len(assignments),
    )


@command(
    "评分",
    aliases=("score",),
    access="admin",
    usage="评分 <Z编号> <分数> [说明]",
    help="给指标打分（0 到满分，可打半分）",
)
def score_cmd(ctx: Context, args: list[str]) -> str:
    if len(args) < 2:
        raise CommandError("请写明指标编号和分数。")
    item = require_item(args[0], indicator_only=True)
    points = parse_points(args[1])
    maximum = item.max_points_value()
    if points > maximum:
        raise CommandError(f"{item.code} 满分 {maximum.normalize()} 分，不能打 {points} 分。")
    reason = " ".join(args[2:])[:500]
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
        f"{item.code} 评分：{format_points(previous.points) if previous else '未评分'} → {points}"
        + (f"（{reason}）" if reason else ""),
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


def _pending_request(token: str | None) -> ExtensionRequest:
    if not token:
        raise CommandError("请写明延期申请的编号。")
    if not token.isdigit():
        raise CommandError(f"“{token}”不是申请编号，编号是数字。")
    request = ExtensionRequest.get_or_none(ExtensionRequest.id == int(token))
    if request is None:
        raise CommandError(f"没有编号为 {token} 的延期申请。")
    if request.status != "pending":
        raise CommandError(
            f"延期申请 {token} 已{request.status_label}，不能再次处理。", show_usage=False
        )
    return request


@command(
    "批准",
    aliases=("approve",),
    access="admin",
    usage="批准 <申请编号>",
    help="批准延期申请，期限随之改为申请的日期",
)
def approve_cmd(ctx: Context, args: list[str]) -> str:
    request = _pending_request(args[0] if args else None)
    if len(args) > 1:
        raise CommandError("“批准”只需要申请编号。")
    return _decide_extension(ctx, request, approved=True, note="")


@command(
    "驳回",
    aliases=("reject",),
    access="admin",
    usage="驳回 <申请编号> [原因]",
    help="驳回延期申请，期限不变",
)
def reject_cmd(ctx: Context, args: list[str]) -> str:
    request = _pending_request(args[0] if args else None)
    return _decide_extension(ctx, request, approved=False, note=" ".join(args[1:])[:500])


def _decide_extension(ctx: Context, request: ExtensionRequest, *, approved: bool, note: str):
    """Record the decision, move the deadline if approved, tell the requester, log it."""
    assignment = request.assignment
    item = assignment.item
    ExtensionRequest.update(
        status="approved" if approved else "rejected",
        decided_by=ctx.userid,
        decided_at=ctx.now,
        decision_note=note,
    ).where(ExtensionRequest.id == request.id).execute()
    if approved:
        Assignment.update(deadline=request.requested_deadline, updated_at=ctx.now).where(
            Assignment.id == assignment.id
        ).execute()
        summary = (
            f"批准延期申请 {request.id}：{item.code} {assignment.unit.name}期限 "
            f"{deadline_label(assignment.deadline)} → {request.requested_deadline}"
        )
        before = {"deadline": str(assignment.deadline) if assignment.deadline else None}
        after = {"deadline": str(request.requested_deadline)}
    else:
        summary = f"驳回延期申请 {request.id}（{item.code} {assignment.unit.name}）" + (
            f"：{note}" if note else ""
        )
        before, after = {"status": "pending"}, {"status": "rejected", "note": note}
    audit(
        ctx,
        "extension_approved" if approved else "extension_rejected",
        summary,
        item_code=item.code,
        unit_name=assignment.unit.name,
        before=before,
        after=after,
    )
    text = ctx.renderer.render(
        "extension_decided.j2", request=request, item=item, approved=approved, note=note
    )
    ctx.outbox.to_members([request.wecom_userid], text, f"extension-decided:{request.id}")
    return ctx.say(
        "replies.j2",
        "extension_decided",
        request=request,
        item=item,
        approved=approved,
        unit=assignment.unit,
    )


@command(
    "分配",
    aliases=("assign",),
    access="admin",
    usage="分配 <编号> <单位…>",
    help="给任务或指标增加责任单位（可写单位组）",
)
def assign_cmd(ctx: Context, args: list[str]) -> str:
    if len(args) < 2:
        raise CommandError("请写明编号和至少一个单位。")
    item = require_item(args[0])
    matches = [resolve_units(token) for token in args[1:]]  # every name checked before any change
    has_lead = (
        Assignment.select().where((Assignment.item == item) & (Assignment.role == "lead")).exists()
    )
    existing = {a.unit_id for a in Assignment.select().where(Assignment.item == item)}
    added, already = [], []
    for match in matches:
        via = match.group.name if match.group else ""
        for unit in match.units:
            if unit.id in existing:
                already.append(unit.name)
                continue
            role = "lead" if not has_lead and match.unit is not None else "co"
            has_lead = has_lead or role == "lead"
            Assignment.create(item=item, unit=unit, role=role, via_group=via, updated_at=ctx.now)
            existing.add(unit.id)
            added.append(unit.name)
            audit(
                ctx,
                "assign",
                f"{item.code} 增加责任单位 {unit.name}（{'牵头' if role == 'lead' else '配合'}）",
                item_code=item.code,
                unit_name=unit.name,
                after={"role": role},
            )
    if not added:
        raise CommandError(
            f"这些单位都已是 {item.code} 的责任单位：" + "、".join(already), show_usage=False
        )
    return ctx.say("replies.j2", "assigned", item=item, added=added, already=already)


@command(
    "催办",
    aliases=("nudge", "提醒"),
    access="admin",
    usage="催办 <编号|单位>",
    help="给相关单位的联络员发送催办消息",
)
def nudge_cmd(ctx: Context, args: list[str]) -> str:
    if not args:
        raise CommandError("请写明任务编号或单位。")
    target = " ".join(args)
    query = Assignment.select(Assignment, Item).join(Item).where(Assignment.status == "open")
    code = parse_code(args[0]) if len(args) == 1 else None
    if code is not None:
        item = require_item(args[0])
        query = query.where(Assignment.item == item)
        subject = item.code
    else:
        match = resolve_units(target)
        query = query.where(Assignment.unit.in_([u.id for u in match.units] or [0]))
        subject = match.unit.name if match.unit else match.group.name
    by_unit: dict[int, list[Assignment]] = {}
    for a in query.order_by(Assignment.deadline.asc(nulls="LAST"), Item.position):
        by_unit.setdefault(a.unit_id, []).append(a)
    if not by_unit:
        raise CommandError(f"{subject} 没有未完成的事项，无需催办。", show_usage=False)
    liaisons = liaisons_by_unit(list(by_unit))
    sent_to, missing = [], []
    ref = ctx.inbound.id if ctx.inbound else 0
    for unit_id, assignments in by_unit.items():
        unit = assignments[0].unit
        if not liaisons[unit_id]:
            missing.append(unit.name)
            continue
        text = ctx.renderer.render(
            "nudge.j2",
            unit=unit,
            rows=[
                {
                    "a": a,
                    "status": status_label(a, ctx.today),
                    "deadline": deadline_label(a.deadline),
                }
                for a in assignments[:15]
            ],
            more=max(0, len(assignments) - 15),
        )
        rows = [
            (a.item.code, f"{deadline_label(a.deadline)}｜{status_label(a, ctx.today)}")
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
        audit(
            ctx,
            "nudge",
            f"催办{unit.name}：" + "、".join(a.item.code for a in assignments),
            item_code=code or "",
            unit_name=unit.name,
            after={"items": [a.item.code for a in assignments]},
        )
    if not sent_to:
        raise CommandError(
            "这些单位都还没有绑定联络员，催办未发出：" + "、".join(missing), show_usage=False
        )
    return ctx.say("replies.j2", "nudged", subject=subject, sent_to=sent_to, missing=missing)


@command(
    "逾期",
    aliases=("overdue",),
    access="admin",
    usage="逾期",
    help="列出所有已逾期未完成的事项，按单位",
)
def overdue_cmd(ctx: Context, args: list[str]) -> str:
    rows = list(
        Assignment.select(Assignment, Item, Unit)
        .join(Item)
        .switch(Assignment)
        .join(Unit)
        .where((Assignment.status == "open") & (Assignment.deadline < ctx.today))
        .order_by(Unit.position, Assignment.deadline, Item.position)
    )
    by_unit: dict[str, list[dict]] = {}
    for a in rows:
        by_unit.setdefault(a.unit.name, []).append(
            {"a": a, "days": a.days_overdue(ctx.today), "deadline": a.deadline.isoformat()}
        )
    return ctx.renderer.render("overdue.j2", by_unit=by_unit, total=len(rows))


@command(
    "日志",
    aliases=("log", "留痕"),
    access="admin",
    usage="日志 [编号|单位]",
    help="查看操作记录（留痕），最新的在前",
)
def log_cmd(ctx: Context, args: list[str]) -> str:
    query = AuditEntry.select()
    subject = "全部"
    if args:
        code = parse_code(args[0]) if len(args) == 1 else None
        if code is not None:
            item = require_item(args[0])
            query = query.where(AuditEntry.item_code == item.code)
            subject = item.code
        else:
            match = resolve_units(" ".join(args))
            names = [u.name for u in match.units]
            query = query.where(AuditEntry.unit_name.in_(names or [""]))
            subject = match.unit.name if match.unit else match.group.name
    total = query.count()
    entries = list(query.order_by(AuditEntry.id.desc()).limit(20))
    return ctx.renderer.render(
        "log.j2", entries=entries, subject=subject, total=total, tz=ctx.config.timezone
    )


@command(
    "自检",
    aliases=("selfcheck",),
    access="admin",
    usage="自检",
    help="检查配置、企业微信连接、发件箱、文件下载和节假日日历",
)
def selfcheck_cmd(ctx: Context, args: list[str]) -> str:
    if args:
        raise CommandError("“自检”不需要参数。")
    checks = run_checks(ctx.config, ctx.now, ctx.wecom)
    return ctx.renderer.render("selfcheck.j2", checks=checks, verdict=worst(checks))


@command(
    "周报",
    aliases=("digest",),
    access="admin",
    usage="周报 预览|发布",
    help="预览本周通报，或提前发布到领导小组群（每周只发一次）",
)
def digest_cmd(ctx: Context, args: list[str]) -> str:
    from reminders import digest

    if len(args) != 1 or args[0] not in ("预览", "发布", "preview", "publish"):
        raise CommandError("请写“周报 预览”或“周报 发布”。")
    cal = WorkCalendar.from_database()
    if args[0] in ("预览", "preview"):
        data = digest.build(ctx.now, ctx.config, cal)
        return "【预览，尚未发布】\n" + digest.render_markdown(data, ctx.renderer)
    result = digest.publish(ctx.now, ctx.config, cal, ctx.outbox, ctx.renderer, by=ctx.userid)
    if not result.published:
        raise CommandError(f"{result.week} 周报未发布：{result.reason}。", show_usage=False)
    audit(ctx, "digest", f"发布 {result.week} 周报到领导小组群")
    return f"已发布 {result.week} 周报到领导小组群。"


@command(
    "日历",
    aliases=("calendar", "节假日"),
    access="admin",
    usage="日历 [年份] | 日历 <日期> 班|休|删除 [说明]",
    help="查看或录入节假日、调休（国务院安排以外的日子，或尚未收录的年份）",
)
def calendar_cmd(ctx: Context, args: list[str]) -> str:
    cal = WorkCalendar.from_database()
    if not args or (len(args) == 1 and args[0].isdigit()):
        year = int(args[0]) if args else ctx.today.year
        if not 2000 <= year <= 2100:
            raise CommandError(f"年份 {year} 不对。")
        entries = list(
            CalendarDay.select()
            .where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
            .order_by(CalendarDay.day)
        )
        return ctx.renderer.render(
            "calendar.j2",
            year=year,
            entries=entries,
            package=cal.package_covers(year),
            warning=cal.missing_year_warning(ctx.today),
        )
    if len(args) < 2:
        raise CommandError("请写日期和“班”“休”或“删除”。")
    if not looks_like_date(args[0]):
        raise CommandError(f"“{args[0]}”不是日期，请写成 2027-01-01 这样的格式。")
    day = parse_date(args[0])
    kind = args[1]
    note = " ".join(args[2:])[:100]
    existing = CalendarDay.get_or_none(CalendarDay.day == day)
    before = {"workday": existing.workday, "note": existing.note} if existing else None
    if kind in ("删除", "delete"):
        if existing is None:
            raise CommandError(f"{day} 没有办公室录入的安排。", show_usage=False)
        existing.delete_instance()
        audit(ctx, "calendar", f"删除日历安排 {day}", before=before)
        return f"已删除 {day} 的安排，恢复按国务院安排（或周一至周五）计算。"
    if kind not in ("班", "休", "work", "off"):
        raise CommandError(f"“{kind}”看不懂：写“班”（上班）、“休”（放假）或“删除”。")
    workday = kind in ("班", "work")
    if existing is None:
        CalendarDay.create(
            day=day, workday=workday, note=note, created_by=ctx.userid, created_at=ctx.now
        )
    else:
        CalendarDay.update(workday=workday, note=note, created_by=ctx.userid).where(
            CalendarDay.id == existing.id
        ).execute()
    label = "上班" if workday else "放假"
    audit(
        ctx,
        "calendar",
        f"日历：{day} {label}" + (f"（{note}）" if note else ""),
        before=before,
        after={"workday": workday, "note": note},
    )
    return f"已录入：{day} {label}{f'（{note}）' if note else ''}。提醒和周报将按此计算。"


@command(
    "导出",
    aliases=("export", "台账"),
    access="admin",
    usage="导出",
    help="导出 Excel 台账：任务进度、评估得分、佐证材料清单、操作记录",
)
def export_cmd(ctx: Context, args: list[str]) -> str:
    from bot.evidence import EvidenceStore
    from bot.ledger import build_ledger

    if args:
        raise CommandError("“导出”不需要参数。")
    data = build_ledger(ctx.now, ctx.config.timezone)
    name = f"示范区创建台账_{ctx.now:%Y%m%d_%H%M}.xlsx"
    store = EvidenceStore(ctx.config.data_dir / "exports", max_bytes=200 * 1024 * 1024)
    stored = store.save(io.BytesIO(data), name)
    ctx.outbox.queue(
        "member",
        [ctx.userid],
        {
            "text": f"（文件）{name}",
            "file": {
                "sha256": stored.sha256,
                "name": name,
                "size": stored.size,
                "store": "exports",
            },
        },
        f"export:{ctx.inbound.id if ctx.inbound else stored.sha256}",
        msg_type="file",
    )
    audit(ctx, "export", f"导出台账 {name}（{stored.size // 1024} KB）")
    return f"台账已生成：{name}（{max(1, stored.size // 1024)} KB），随后以文件发送给您。"
