"""People and units: binding a WeCom user to a unit with one or more roles, unbinding, and the
unit groups (confirming a group's membership, adding and removing units)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.actions.base import Acting, Refused
from models import userids
from models.org import ROLES, GroupMember, Member, Unit, UnitGroup, find_member, join_roles
from models.plan import Assignment, Item, Part, Role
from models.progress import Evidence, ExtensionRequest, ProgressReport


@dataclass(frozen=True)
class Bound:
    member: Member
    rebound: bool
    role_label: str


def bind(acting: Acting, userid: str, unit: Unit, roles: tuple[str, ...], name: str = "") -> Bound:
    """Bind a person to a unit (default: 联络员); they are welcomed in chat."""
    if not acting.is_admin:
        raise Refused("只有管理员可以绑定人员。")
    why = userids.problem(userid)
    if why:
        raise Refused(f"{why}。")
    roles = roles or ("liaison",)
    role = join_roles(roles)
    existing = find_member(userid)
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
            bound_at=acting.now,
            bound_by=acting.userid,
        ).where(Member.id == existing.id).execute()
    else:
        Member.create(
            wecom_userid=userid,
            display_name=name,
            unit=unit,
            role=role,
            bound_at=acting.now,
            bound_by=acting.userid,
        )
    label = "、".join(ROLES[r] for r in ROLES if r in set(roles))
    acting.audit(
        "bind",
        f"绑定 {userid}{f'（{name}）' if name else ''} 为{unit.name}{label}",
        unit_name=unit.name,
        before=before,
        after={"unit": unit.name, "role": role, "active": True, "name": name},
    )
    welcome = acting.renderer.render(
        "welcome.j2", unit=unit, role_label=label, reports=bool({"liaison", "head"} & set(roles))
    )
    acting.tell([userid], welcome, f"welcome:{acting.cause}:{userid}")
    member = find_member(userid)
    assert member is not None
    return Bound(member, before is not None, label)


def unbind(acting: Acting, userid: str) -> str:
    """Unbind a person; returns the unit they were bound to ("" if none)."""
    if not acting.is_admin:
        raise Refused("只有管理员可以解绑人员。")
    member = find_member(userid, active=True)
    if member is None:
        raise Refused(f"{userid} 目前没有绑定任何单位。")
    if (
        userids.same(member.wecom_userid, acting.userid)
        and "admin" in member.roles
        and not userids.contains(acting.config.admins, userid)
    ):
        raise Refused("不能解绑自己的管理员身份，请让另一位管理员操作。")
    Member.update(active=False).where(Member.id == member.id).execute()
    unit_name = member.unit.name if member.unit else ""
    acting.audit(
        "unbind",
        f"解绑 {userid}（原{unit_name}{member.role_label}）",
        unit_name=unit_name,
        before={"unit": unit_name, "role": member.role, "active": True},
        after={"active": False},
    )
    return unit_name


def confirm_group(acting: Acting, group: UnitGroup) -> list[Unit]:
    """The office confirms a group's membership (the plan left some open)."""
    if group.confirmed_at is not None:
        when = group.confirmed_at.astimezone(acting.config.timezone)
        by = "方案" if group.confirmed_by == "方案" else group.confirmed_by
        raise Refused(f"单位组“{group.name}”已于 {when:%Y-%m-%d} 确认（{by}）。")
    UnitGroup.update(confirmed_at=acting.now, confirmed_by=acting.userid).where(
        UnitGroup.id == group.id
    ).execute()
    units = group.units()
    acting.audit(
        "group_confirm",
        f"确认单位组“{group.name}”（{len(units)} 个单位）",
        before={"confirmed": False},
        after={"confirmed": True, "units": [u.name for u in units]},
    )
    return units


@dataclass(frozen=True)
class GroupChanged:
    changed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    items: int = 0  # the items the group is responsible for


def change_group(acting: Acting, group: UnitGroup, units: list[Unit], adding: bool) -> GroupChanged:
    """Add units to a group (they take on its items) or remove them (their group-derived shares
    go, unless the unit reported on them)."""
    current = {u.id for u in group.units()}
    items = [i for i in Item.select() if group.name in i.units_text.split("、")]
    result = GroupChanged(items=len(items))
    for unit in units:
        if adding:
            if unit.id in current:
                result.notes.append(f"{unit.name}已在组内")
                continue
            GroupMember.create(group=group, unit=unit)
            for item in items:
                Assignment.insert(
                    item=item, unit=unit, role=Role.CO, via_group=group.name
                ).on_conflict_ignore().execute()
        else:
            if unit.id not in current:
                result.notes.append(f"{unit.name}不在组内")
                continue
            GroupMember.delete().where(
                (GroupMember.group == group) & (GroupMember.unit == unit)
            ).execute()
            kept = _drop_group_shares(group, unit)
            if kept:
                result.notes.append(f"{unit.name}已报告过进度或材料的 {kept} 项保留")
        result.changed.append(unit.name)
    if result.changed:
        acting.audit(
            "group",
            f"单位组“{group.name}”{'加入' if adding else '移出'}：" + "、".join(result.changed),
            before={"units": sorted(current)},
            after={"units": sorted(u.id for u in group.units())},
        )
    return result


def _drop_group_shares(group: UnitGroup, unit: Unit) -> int:
    """Remove the unit's shares that came only through the group, unless work was reported."""
    kept = 0
    query = Assignment.select().where(
        (Assignment.unit == unit)
        & (Assignment.via_group == group.name)
        & (Assignment.kind == Part.SHARE)
    )
    for share in query:
        touched = (
            ProgressReport.select().where(ProgressReport.assignment == share).exists()
            or Evidence.select().where(Evidence.assignment == share).exists()
            or ExtensionRequest.select().where(ExtensionRequest.assignment == share).exists()
        )
        if touched:
            kept += 1
        else:
            share.delete_instance(recursive=False)
    return kept
