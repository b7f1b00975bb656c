"""People and units: binding a WeCom user to a unit with one or more roles, unbinding, and the
unit groups (confirming a group's membership, adding and removing units)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import peewee

from bot.actions.base import Acting, Refused
from models import userids
from models.org import (
    ROLES,
    GroupMember,
    Member,
    Unit,
    UnitGroup,
    find_member,
    fold_name,
    join_roles,
)
from models.plan import Assignment, Item, Part, Role
from models.progress import Evidence, ExtensionRequest, ProgressReport
from models.schedule import ReminderSent
from models.scores import FigureReport, Score


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


# ------------------------------------------------------------------ units (机构改革) and groups

UNIT_NAME_MAX = 100


def _check_name(name: str, what: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise Refused(f"请写明{what}名称。")
    if len(name) > UNIT_NAME_MAX:
        raise Refused(f"{what}名称太长（最多 {UNIT_NAME_MAX} 个字）。")
    return name


def _name_taken(name: str, but: Unit | UnitGroup | None = None) -> str | None:
    """Who already answers to this name (a unit or group, by name, short name or alias)."""
    folded = fold_name(name)
    for unit in Unit.select():
        if but is not None and isinstance(but, Unit) and unit.id == but.id:
            continue
        forms = {fold_name(unit.name), *(fold_name(a) for a in unit.alias_list())}
        if unit.short_name:
            forms.add(fold_name(unit.short_name))
        if folded in forms:
            return unit.name
    for group in UnitGroup.select():
        if but is not None and isinstance(but, UnitGroup) and group.id == but.id:
            continue
        if folded in {fold_name(group.name), *(fold_name(a) for a in group.alias_list())}:
            return group.name
    return None


def _require_admin(acting: Acting, what: str) -> None:
    if not acting.is_admin:
        raise Refused(f"只有管理员可以{what}。")


def add_unit(acting: Acting, name: str, short_name: str = "", is_member: bool = False) -> Unit:
    """A unit the plan never named (县商务局): from now on it can be bound, assigned and chased."""
    _require_admin(acting, "新增单位")
    name = _check_name(name, "单位")
    short_name = " ".join(short_name.split())[:50]
    for form in filter(None, (name, short_name)):
        taken = _name_taken(form)
        if taken:
            raise Refused(f"“{form}”已是单位或单位组“{taken}”的名称或简称。")
    position = (Unit.select(peewee.fn.MAX(Unit.position)).scalar() or 0) + 1
    unit = Unit.create(
        name=name, short_name=short_name or None, is_member=is_member, position=position
    )
    acting.audit(
        "unit_add",
        f"新增单位 {name}" + (f"（简称 {short_name}）" if short_name else ""),
        unit_name=name,
        after={"name": name, "short_name": short_name, "is_member": is_member},
    )
    return unit


def rename_unit(acting: Acting, unit: Unit, name: str, short_name: str | None = None) -> Unit:
    """A new name (机构改革); the old name stays an alias, so what people type still finds it."""
    _require_admin(acting, "修改单位名称")
    name = _check_name(name, "单位")
    if name == unit.name and (short_name is None or short_name == (unit.short_name or "")):
        raise Refused(f"{unit.name} 的名称没有变化。")
    for form in filter(None, (name, short_name)):
        taken = _name_taken(form, but=unit)
        if taken:
            raise Refused(f"“{form}”已是单位或单位组“{taken}”的名称或简称。")
    aliases = unit.alias_list()
    if name != unit.name and unit.name not in aliases:
        aliases.append(unit.name)
    values: dict[str, Any] = {"name": name, "aliases": "|".join(aliases)}
    if short_name is not None:
        values["short_name"] = short_name.strip() or None
    Unit.update(**values).where(Unit.id == unit.id).execute()
    acting.audit(
        "unit_rename",
        f"单位更名：{unit.name} → {name}",
        unit_name=name,
        before={"name": unit.name, "short_name": unit.short_name},
        after={"name": name, "short_name": values.get("short_name", unit.short_name)},
    )
    return Unit.get_by_id(unit.id)


@dataclass(frozen=True)
class Merged:
    into: Unit
    moved: int  # assignments moved over
    joined: int  # assignments both units had: the merged unit's kept, the other's records moved
    people: int


def merge_units(acting: Acting, old: Unit, into: Unit) -> Merged:
    """机构改革: `old` becomes part of `into`. Its work, people, files, figures and scores move
    over; where both units had the same share, `into`'s is kept and `old`'s reports, files and
    requests are moved onto it. `old`'s names become aliases of `into`; the log keeps the past."""
    _require_admin(acting, "合并单位")
    if old.id == into.id:
        raise Refused("不能把单位合并到它自己。")
    mine = {(a.item_id, a.slot): a.id for a in Assignment.select().where(Assignment.unit == into)}
    theirs = list(Assignment.select().where(Assignment.unit == old))
    joined = {a.id: mine[(a.item_id, a.slot)] for a in theirs if (a.item_id, a.slot) in mine}
    moving = [a.id for a in theirs if a.id not in joined]
    if moving:
        Assignment.update(unit=into).where(Assignment.id.in_(moving)).execute()
    for gone, kept in joined.items():
        Assignment.update(parent=kept).where(Assignment.parent == gone).execute()
        ProgressReport.update(assignment=kept).where(ProgressReport.assignment == gone).execute()
        Evidence.update(assignment=kept).where(Evidence.assignment == gone).execute()
        ExtensionRequest.update(assignment=kept).where(
            ExtensionRequest.assignment == gone
        ).execute()
        ReminderSent.delete().where(ReminderSent.assignment == gone).execute()
    if joined:
        Assignment.delete().where(Assignment.id.in_(list(joined))).execute()
    Evidence.update(unit=into).where(Evidence.unit == old).execute()
    FigureReport.update(unit=into).where(FigureReport.unit == old).execute()
    Score.update(unit=into).where(Score.unit == old).execute()
    people = Member.update(unit=into).where(Member.unit == old).execute()
    in_groups = {g.group_id for g in GroupMember.select().where(GroupMember.unit == into)}
    for membership in GroupMember.select().where(GroupMember.unit == old):
        if membership.group_id not in in_groups:
            GroupMember.create(group=membership.group_id, unit=into)
    GroupMember.delete().where(GroupMember.unit == old).execute()
    aliases = into.alias_list()
    for form in (old.name, old.short_name or "", *old.alias_list()):
        if form and form not in aliases and form not in (into.name, into.short_name):
            aliases.append(form)
    Unit.update(aliases="|".join(aliases)).where(Unit.id == into.id).execute()
    Unit.delete().where(Unit.id == old.id).execute()
    acting.audit(
        "unit_merge",
        f"单位合并：{old.name} 并入 {into.name}（事项 {len(moving)} 项转入，"
        f"{len(joined)} 项合并，人员 {people} 人）",
        unit_name=into.name,
        before={"unit": old.name, "into": into.name},
        after={"moved": len(moving), "joined": len(joined), "people": people},
    )
    return Merged(Unit.get_by_id(into.id), len(moving), len(joined), people)


def add_group(acting: Acting, name: str, units: list[Unit]) -> UnitGroup:
    """A new unit group the office names (e.g. 各乡镇便民服务中心); confirmed as it is made."""
    _require_admin(acting, "新增单位组")
    name = _check_name(name, "单位组")
    taken = _name_taken(name)
    if taken:
        raise Refused(f"“{name}”已是单位或单位组“{taken}”的名称或简称。")
    position = (UnitGroup.select(peewee.fn.MAX(UnitGroup.position)).scalar() or 0) + 1
    group = UnitGroup.create(
        name=name, position=position, confirmed_at=acting.now, confirmed_by=acting.userid
    )
    for unit in units:
        GroupMember.insert(group=group, unit=unit).on_conflict_ignore().execute()
    acting.audit(
        "group_add",
        f"新增单位组“{name}”：" + ("、".join(u.name for u in units) or "（暂无单位）"),
        after={"group": name, "units": [u.name for u in units]},
    )
    return group


def rename_group(acting: Acting, group: UnitGroup, name: str) -> UnitGroup:
    _require_admin(acting, "修改单位组名称")
    name = _check_name(name, "单位组")
    if name == group.name:
        raise Refused(f"单位组“{group.name}”的名称没有变化。")
    taken = _name_taken(name, but=group)
    if taken:
        raise Refused(f"“{name}”已是单位或单位组“{taken}”的名称或简称。")
    aliases = group.alias_list()
    if group.name not in aliases:
        aliases.append(group.name)
    UnitGroup.update(name=name, aliases="|".join(aliases)).where(UnitGroup.id == group.id).execute()
    acting.audit(
        "group_rename",
        f"单位组更名：{group.name} → {name}",
        before={"group": group.name},
        after={"group": name},
    )
    return UnitGroup.get_by_id(group.id)


def merge_groups(acting: Acting, old: UnitGroup, into: UnitGroup) -> UnitGroup:
    """Two groups become one: `old`'s units join `into` (taking on its items as `change_group`
    does), shares reached through `old` are reached through `into`, items naming `old` name
    `into`, and `old`'s names become aliases of `into`."""
    _require_admin(acting, "合并单位组")
    if old.id == into.id:
        raise Refused("不能把单位组合并到它自己。")
    moved = [u for u in old.units() if u.id not in {x.id for x in into.units()}]
    if moved:
        change_group(acting, into, moved, True)
    Assignment.update(via_group=into.name).where(Assignment.via_group == old.name).execute()
    for item in Item.select().where(Item.units_text.contains(old.name)):
        names = [into.name if n == old.name else n for n in item.units_text.split("、")]
        Item.update(units_text="、".join(dict.fromkeys(names))).where(Item.id == item.id).execute()
    aliases = into.alias_list()
    for form in (old.name, *old.alias_list()):
        if form not in aliases and form != into.name:
            aliases.append(form)
    UnitGroup.update(aliases="|".join(aliases)).where(UnitGroup.id == into.id).execute()
    UnitGroup.delete().where(UnitGroup.id == old.id).execute()
    acting.audit(
        "group_merge",
        f"单位组合并：“{old.name}”并入“{into.name}”（转入单位 {len(moved)} 个）",
        before={"group": old.name, "into": into.name},
        after={"units": [u.name for u in moved]},
    )
    return UnitGroup.get_by_id(into.id)
