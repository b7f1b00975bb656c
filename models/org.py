"""Who is who: units (责任单位), unit groups, and members bound to units by WeCom userid."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import peewee

from models import userids
from models.db import BaseModel, UTCDateTimeField

ROLES = {"admin": "管理员", "leader": "领导", "head": "负责人", "liaison": "联络员"}
ROLE_BY_LABEL = {label: role for role, label in ROLES.items()}


def join_roles(roles) -> str:
    """A person's roles as stored: "leader|head", in a fixed order (admin, leader, head, liaison).
    A person may hold several: a leading-group member is often also the head of a unit."""
    chosen = set(roles)
    unknown = chosen - set(ROLES)
    if unknown or not chosen:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    return "|".join(role for role in ROLES if role in chosen)


class Unit(BaseModel):
    name = peewee.CharField(max_length=100, unique=True)
    short_name = peewee.CharField(max_length=50, null=True)
    aliases = peewee.TextField(default="")  # "|"-joined
    is_member = peewee.BooleanField(default=False)
    is_town = peewee.BooleanField(default=False)
    position = peewee.IntegerField(default=0)

    @property
    def label(self) -> str:
        return self.name

    def alias_list(self) -> list[str]:
        return [a for a in self.aliases.split("|") if a]


class UnitGroup(BaseModel):
    name = peewee.CharField(max_length=100, unique=True)
    aliases = peewee.TextField(default="")
    position = peewee.IntegerField(default=0)
    # The plan leaves some groups' membership open (联席会议): the office confirms it.
    confirmed_at = UTCDateTimeField(null=True)
    confirmed_by = peewee.CharField(max_length=64, default="")

    def alias_list(self) -> list[str]:
        return [a for a in self.aliases.split("|") if a]

    def units(self) -> list[Unit]:
        return list(
            Unit.select()
            .join(GroupMember)
            .where(GroupMember.group == self)
            .order_by(Unit.position, Unit.id)
        )


class GroupMember(BaseModel):
    group = peewee.ForeignKeyField(UnitGroup, backref="memberships", on_delete="CASCADE")
    group_id: int
    unit = peewee.ForeignKeyField(Unit, backref="group_memberships", on_delete="CASCADE")
    unit_id: int

    class Meta:
        indexes = ((("group", "unit"), True),)


class Member(BaseModel):
    wecom_userid = peewee.CharField(max_length=64, unique=True)
    display_name = peewee.CharField(max_length=100, default="")
    unit = peewee.ForeignKeyField(Unit, backref="members", null=True, on_delete="SET NULL")
    unit_id: int | None
    role = peewee.CharField(max_length=64, default="liaison")  # join_roles(): "leader|head"
    active = peewee.BooleanField(default=True)
    bound_at = UTCDateTimeField()
    bound_by = peewee.CharField(max_length=64, default="")

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(r for r in (self.role or "").split("|") if r)

    @property
    def role_label(self) -> str:
        return "、".join(ROLES.get(r, r) for r in ROLES if r in self.roles) or self.role

    @classmethod
    def having(cls, role: str):
        """A query condition: active and holding `role` (role names never contain each other)."""
        return (cls.active == True) & cls.role.contains(role)  # noqa: E712

    @property
    def label(self) -> str:
        return self.display_name or self.wecom_userid

    @classmethod
    def names(cls) -> dict[str, str]:
        """userid -> name for everyone ever bound (the unbound keep their name in the past):
        what pages and messages show instead of userids. One query."""
        query = cls.select(cls.wecom_userid, cls.display_name).where(cls.display_name != "")
        return {m.wecom_userid: m.display_name for m in query}


def fold_name(text: str) -> str:
    """Fold a unit name as people type it: NFKC, no spaces, no leading 新绛县/县."""
    text = unicodedata.normalize("NFKC", text).replace(" ", "").replace("\u3000", "")
    for prefix in ("新绛县", "新绛", "县"):
        if text.startswith(prefix) and len(text) > len(prefix):
            text = text[len(prefix) :]
            break
    return text.lower()


@dataclass(frozen=True)
class UnitMatch:
    """What a typed name matched: one unit, one group, or several candidates (ambiguous)."""

    unit: Unit | None = None
    group: UnitGroup | None = None
    candidates: tuple[str, ...] = ()

    @property
    def units(self) -> list[Unit]:
        if self.unit is not None:
            return [self.unit]
        if self.group is not None:
            return self.group.units()
        return []


def match_unit(text: str, allow_groups: bool = True) -> UnitMatch:
    """Match a unit or group name forgivingly: exact forms first, then a unique partial match."""
    query = fold_name(text)
    if not query:
        return UnitMatch()
    entries: list[tuple[set[str], Unit | None, UnitGroup | None, str]] = []
    for unit in Unit.select().order_by(Unit.position, Unit.id):
        forms = {fold_name(unit.name)} | {fold_name(a) for a in unit.alias_list()}
        if unit.short_name:
            forms.add(fold_name(unit.short_name))
        entries.append((forms, unit, None, unit.name))
    if allow_groups:
        for group in UnitGroup.select().order_by(UnitGroup.position, UnitGroup.id):
            forms = {fold_name(group.name)} | {fold_name(a) for a in group.alias_list()}
            entries.append((forms, None, group, group.name))

    exact = [e for e in entries if query in e[0]]
    if len(exact) == 1:
        return UnitMatch(unit=exact[0][1], group=exact[0][2])
    if len(exact) > 1:
        return UnitMatch(candidates=tuple(e[3] for e in exact))
    partial = [e for e in entries if any(query in form for form in e[0])]
    if len(partial) == 1:
        return UnitMatch(unit=partial[0][1], group=partial[0][2])
    return UnitMatch(candidates=tuple(e[3] for e in partial))


def units_in(text: str) -> list[tuple[int, int, Unit]]:
    """The units named inside a sentence ("催办一下工信局T18", "同意审批局的延期申请"), by full
    name, short name or alias, longest first, not overlapping: (start, end, unit) in `text`
    (already folded: NFKC, as the chat reads it)."""
    lowered = text.lower()
    forms: list[tuple[str, Unit]] = []
    for unit in Unit.select().order_by(Unit.position, Unit.id):
        names = {unit.name, unit.short_name or "", *unit.alias_list()}
        for name in names:
            folded = fold_name(name)
            for form in {unicodedata.normalize("NFKC", name).lower(), folded}:
                if len(form) >= 2:
                    forms.append((form, unit))
    forms.sort(key=lambda pair: len(pair[0]), reverse=True)
    found: list[tuple[int, int, Unit]] = []
    for form, unit in forms:
        start = lowered.find(form)
        while start >= 0:
            end = start + len(form)
            if not any(s < end and start < e for s, e, _ in found):
                found.append((start, end, unit))
            start = lowered.find(form, end)
    return sorted(found, key=lambda f: f[0])


def admin_userids(configured) -> list[str]:
    """The admins: those named in BOT_ADMINS and those bound as 管理员 (one each, whatever the
    case each is written in: the bound form first)."""
    bound = Member.select(Member.wecom_userid).where(Member.having("admin"))
    return sorted(userids.unique([*(m.wecom_userid for m in bound), *configured]))


def find_member(userid: str, *, active: bool = False) -> Member | None:
    """The member with this WeCom userid in any case (WeCom's userids ignore case); with
    `active`, only while bound."""
    query = Member.select().where(userids.matches(Member.wecom_userid, userid))
    if active:
        query = query.where(Member.active == True)  # noqa: E712
    return query.first()


def stored_userid(userid: str, also=()) -> str:
    """`userid` as the bot stores it: the member's form (or one of `also`'s, the configured
    admins), else as given."""
    member = find_member(userid)
    if member is not None:
        return member.wecom_userid
    for known in also:
        if userids.same(known, userid):
            return known
    return userid
