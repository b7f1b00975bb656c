"""The office's commands about people and units: binding people to units (with one or more
roles), unbinding, and the unit groups."""

from __future__ import annotations

from bot.commands.args import ChoiceArg, Keyword, RestArg, RolesArg, UnitArg, UnitsArg, UserIdArg
from bot.commands.common import audit
from bot.commands.registry import CommandError, Context, command
from models.org import ROLE_BY_LABEL, ROLES, GroupMember, Member, Unit, UnitGroup, join_roles
from models.plan import Assignment, Item
from models.progress import Evidence, ExtensionRequest, ProgressReport

_ROLE_WORDS = tuple(
    [(label, role) for label, role in ROLE_BY_LABEL.items()]
    + [(role, role) for role in ROLES]
    + [("单位负责人", "head"), ("联系人", "liaison"), ("领导小组", "leader")]
)


@command(
    "绑定",
    aliases=("bind",),
    access="admin",
    args=(
        UserIdArg(),
        UnitArg(single=True),
        RolesArg(label="管理员|领导|负责人|联络员", words=_ROLE_WORDS),
        RestArg("name", "姓名", limit=100),
    ),
    help="把企业微信用户绑定到单位（默认联络员；可同时写几个角色，如“领导 负责人”）",
    example="绑定 zhangsan 市监局 联络员 张三",
)
def bind_cmd(ctx: Context, args) -> str:
    userid, unit = args.userid, args.unit.unit
    roles = args.roles or ("liaison",)
    role = join_roles(roles)
    name = args.name or ""
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
    label = "、".join(ROLES[r] for r in ROLES if r in set(roles))
    audit(
        ctx,
        "bind",
        f"绑定 {userid}{f'（{name}）' if name else ''} 为{unit.name}{label}",
        unit_name=unit.name,
        before=before,
        after={"unit": unit.name, "role": role, "active": True, "name": name},
    )
    welcome = ctx.renderer.render(
        "welcome.j2", unit=unit, role_label=label, reports=bool({"liaison", "head"} & set(roles))
    )
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
    "解绑",
    aliases=("unbind",),
    access="admin",
    args=(UserIdArg(),),
    help="解除用户与单位的绑定",
)
def unbind_cmd(ctx: Context, args) -> str:
    userid = args.userid
    member = Member.get_or_none((Member.wecom_userid == userid) & (Member.active == True))  # noqa: E712
    if member is None:
        raise CommandError(f"{userid} 目前没有绑定任何单位。", show_usage=False)
    if (
        member.wecom_userid == ctx.userid
        and "admin" in member.roles
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


GROUP = UnitArg("group", "组名")
_GROUP_OPS = (
    ("加", "加"),
    ("增加", "加"),
    ("加入", "加"),
    ("add", "加"),
    ("减", "减"),
    ("移除", "减"),
    ("删除", "减"),
    ("移出", "减"),
    ("remove", "减"),
)


def _group(match, token_hint: str = "") -> UnitGroup:
    if match.group is None:
        names = "、".join(g.name for g in UnitGroup.select().order_by(UnitGroup.position))
        raise CommandError(f"“{match.unit.name}”是单位，不是单位组。单位组有：{names}")
    return match.group


@command(
    "群组",
    aliases=("group", "单位组"),
    access="admin",
    help="查看单位组，或增减组内的单位",
)
def groups_cmd(ctx: Context, args) -> str:
    groups = [(g, g.units()) for g in UnitGroup.select().order_by(UnitGroup.position)]
    return ctx.renderer.render("groups.j2", groups=groups)


@command(
    "群组",
    access="admin",
    args=(GROUP, Keyword(words=("确认", "confirm"))),
    help="确认单位组的成员（方案未列明的组，确认前自检和总览提示“未确认”）",
    example="群组 联席会议 确认",
)
def group_confirm(ctx: Context, args) -> str:
    group = _group(args.group)
    if group.confirmed_at is not None:
        when = group.confirmed_at.astimezone(ctx.config.timezone)
        by = "方案" if group.confirmed_by == "方案" else group.confirmed_by
        raise CommandError(
            f"单位组“{group.name}”已于 {when:%Y-%m-%d} 确认（{by}）。", show_usage=False
        )
    UnitGroup.update(confirmed_at=ctx.now, confirmed_by=ctx.userid).where(
        UnitGroup.id == group.id
    ).execute()
    units = group.units()
    audit(
        ctx,
        "group_confirm",
        f"确认单位组“{group.name}”（{len(units)} 个单位）",
        before={"confirmed": False},
        after={"confirmed": True, "units": [u.name for u in units]},
    )
    return ctx.say("replies.j2", "group_confirmed", group=group, units=units)


@command("群组", access="admin", args=(GROUP,), help="查看一个单位组的单位")
def group_show(ctx: Context, args) -> str:
    group = _group(args.group)
    return ctx.renderer.render("groups.j2", groups=[(group, group.units())])


@command(
    "群组",
    access="admin",
    args=(GROUP, ChoiceArg("op", "加|减", choices=_GROUP_OPS), UnitsArg(groups=False)),
    help="增减单位组内的单位；加入的单位自动承担该组的任务",
    example="群组 各镇 加 横桥乡",
)
def group_change(ctx: Context, args) -> str:
    group = _group(args.group)
    adding = args.op == "加"
    units = [match.unit for match in args.units]
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
