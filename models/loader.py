"""Loads the built-in plan (a TOML file in models/plans/) into the database.

Loading again updates the plan's texts and adds what is new; it never deletes or resets progress,
scores, bindings, deadlines, group membership the office changed, or the log.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import peewee

from models.audit import AuditEntry
from models.db import database
from models.org import GroupMember, Unit, UnitGroup
from models.plan import Assignment, Category, Item

PLAN_FILE = Path(__file__).parent / "plans" / "xinjiang_2023_17.toml"


class PlanError(ValueError):
    pass


@dataclass(frozen=True)
class LoadResult:
    units: int
    groups: int
    items: int
    assignments_added: int

    def summary(self) -> str:
        return (
            f"方案已载入：{self.units} 个单位，{self.groups} 个单位组，{self.items} 项任务和指标，"
            f"新增 {self.assignments_added} 条责任分工"
        )


def read_plan(path: Path = PLAN_FILE) -> dict:
    try:
        with path.open("rb") as handle:
            plan = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PlanError(f"方案文件 {path} 无法读取：{exc}") from exc
    validate_plan(plan)
    return plan


def validate_plan(plan: dict) -> None:
    """Check the references and sums a human edit could break; raise with every problem."""
    problems: list[str] = []
    unit_names = {u["name"] for u in plan.get("units", [])}
    group_names = {g["name"] for g in plan.get("groups", [])}
    seen_forms: dict[str, str] = {}
    for entry in [*plan.get("units", []), *plan.get("groups", [])]:
        forms = [entry["name"], *entry.get("aliases", [])]
        if entry.get("short"):
            forms.append(entry["short"])
        for form in forms:
            if form in seen_forms and seen_forms[form] != entry["name"]:
                problems.append(f"名称“{form}”同时属于 {seen_forms[form]} 和 {entry['name']}")
            seen_forms[form] = entry["name"]
    for group in plan.get("groups", []):
        for name in group.get("units", []):
            if name not in unit_names:
                problems.append(f"单位组 {group['name']} 中的“{name}”不是已列出的单位")
    level2 = {}
    for top in plan.get("categories", []):
        children = top.get("children", [])
        if sum(Decimal(str(c["points"])) for c in children) != Decimal(str(top["points"])):
            problems.append(f"一级指标 {top['name']} 的二级分值之和不等于 {top['points']}")
        for child in children:
            level2[child["name"]] = (top["name"], Decimal(str(child["points"])))
    sums: dict[str, Decimal] = {}
    for entry in [*plan.get("tasks", []), *plan.get("indicators", [])]:
        for name in entry.get("units", []):
            if name not in unit_names and name not in group_names:
                problems.append(f"{entry['code']} 的责任单位“{name}”不是已列出的单位或单位组")
    for ind in plan.get("indicators", []):
        if ind.get("level2") not in level2 or level2[ind["level2"]][0] != ind.get("level1"):
            problems.append(f"{ind['code']} 的分类 {ind.get('level1')}/{ind.get('level2')} 不存在")
            continue
        sums[ind["level2"]] = sums.get(ind["level2"], Decimal(0)) + Decimal(str(ind["points"]))
    for name, (_, points) in level2.items():
        if sums.get(name, Decimal(0)) != points:
            problems.append(
                f"二级指标 {name} 下各指标分值之和为 {sums.get(name, 0)}，应为 {points}"
            )
    if problems:
        raise PlanError("方案文件有误：\n" + "\n".join(f"- {p}" for p in problems))


def load_plan(now: datetime, path: Path = PLAN_FILE, actor: str = "system") -> LoadResult:
    plan = read_plan(path)
    with database.atomic():
        units = _load_units(plan["units"])
        groups = _load_groups(plan.get("groups", []), units)
        _confirm_listed_groups(plan.get("groups", []), now)
        categories = _load_categories(plan["categories"])
        items = _load_items(plan, categories)
        added = _load_assignments(plan, items, units, groups)
        result = LoadResult(len(units), len(groups), len(items), added)
        AuditEntry.record(now, actor, "init", result.summary())
    return result


class _Upserter:
    """Insert or update rows by a unique key, reading the existing rows of the table once."""

    def __init__(self, model, key: str):
        self.model = model
        self.key = key
        self.existing = {getattr(row, key): row for row in model.select()}

    def __call__(self, key_value, values: dict):
        """Returns (row, created)."""
        model = self.model
        row = self.existing.get(key_value)
        if row is None:
            row = model.create(**{self.key: key_value}, **values)
            self.existing[key_value] = row
            return row, True
        changed = {k: v for k, v in values.items() if _differs(getattr(row, k), v)}
        if changed:
            model.update(**changed).where(model.id == row.id).execute()
            for field_name, value in changed.items():
                setattr(row, field_name, value)
        return row, False


def _differs(current, new) -> bool:
    if isinstance(new, peewee.Model):
        return current is None or current.id != new.id  # type: ignore[attr-defined]
    return current != new


def _load_units(entries: list[dict]) -> dict[str, Unit]:
    units = {}
    upsert = _Upserter(Unit, "name")
    for position, entry in enumerate(entries, start=1):
        unit, _ = upsert(
            entry["name"],
            {
                "short_name": entry.get("short") or None,
                "aliases": "|".join(entry.get("aliases", [])),
                "is_member": bool(entry.get("member", False)),
                "is_town": bool(entry.get("town", False)),
                "position": position,
            },
        )
        units[unit.name] = unit
    return units


def _load_groups(entries: list[dict], units: dict[str, Unit]) -> dict[str, UnitGroup]:
    groups = {}
    upsert = _Upserter(UnitGroup, "name")
    for position, entry in enumerate(entries, start=1):
        group, created = upsert(
            entry["name"],
            {"aliases": "|".join(entry.get("aliases", [])), "position": position},
        )
        if created:  # afterwards membership belongs to the office (`群组` command)
            rows = [{"group": group.id, "unit": units[name].id} for name in entry["units"]]
            if rows:
                GroupMember.insert_many(rows).on_conflict_ignore().execute()
        groups[group.name] = group
    return groups


def _confirm_listed_groups(entries: list[dict], now: datetime) -> None:
    """A group the plan lists in full (各成员单位, 附件1) is settled; one it leaves open (联席会议,
    the towns) waits for the office's 群组 … 确认."""
    listed = [e["name"] for e in entries if not e.get("needs_confirmation")]
    UnitGroup.update(confirmed_at=now, confirmed_by="方案").where(
        UnitGroup.name.in_(listed or [""]) & UnitGroup.confirmed_at.is_null()
    ).execute()


def _load_categories(entries: list[dict]) -> dict[str, Category]:
    categories = {}
    upsert = _Upserter(Category, "name")
    position = 0
    for top in entries:
        position += 1
        parent, _ = upsert(
            top["name"],
            {"parent": None, "points": Decimal(str(top["points"])), "position": position},
        )
        categories[parent.name] = parent
        for child in top.get("children", []):
            position += 1
            row, _ = upsert(
                child["name"],
                {"parent": parent, "points": Decimal(str(child["points"])), "position": position},
            )
            categories[row.name] = row
    return categories


def _load_items(plan: dict, categories: dict[str, Category]) -> dict[str, Item]:
    items = {}
    upsert = _Upserter(Item, "code")
    position = 0
    for task in plan["tasks"]:
        position += 1
        item, _ = upsert(
            task["code"],
            {
                "kind": "task",
                "position": position,
                "title": task["title"],
                "body": task.get("text", ""),
                "section": task.get("section", ""),
                "units_text": "、".join(task.get("units", [])),
            },
        )
        items[item.code] = item
    for ind in plan["indicators"]:
        position += 1
        item, _ = upsert(
            ind["code"],
            {
                "kind": "indicator",
                "position": position,
                "title": ind["title"],
                "body": ind.get("standard", ""),
                "section": ind.get("level1", ""),
                "category": categories[ind["level2"]],
                "nature": ind.get("nature", ""),
                "max_points": Decimal(str(ind["points"])),
                "rule": ind.get("rule"),
                "inputs": ind.get("inputs") or None,
                "method": ind.get("method", ""),
                "sources": "；".join(ind.get("sources", [])),
                "units_text": "、".join(ind.get("units", [])),
                "units_inferred": bool(ind.get("units_inferred", False)),
            },
        )
        items[item.code] = item
    return items


def _load_assignments(
    plan: dict, items: dict[str, Item], units: dict[str, Unit], groups: dict[str, UnitGroup]
) -> int:
    """Add the responsible units each item names (a group expands); the first named unit leads."""
    members: dict[str, list[int]] = {name: [] for name in groups}
    names_by_id = {group.id: name for name, group in groups.items()}
    for link in GroupMember.select().order_by(GroupMember.id):
        members[names_by_id[link.group_id]].append(link.unit_id)
    rows = []
    for entry in [*plan["tasks"], *plan["indicators"]]:
        item = items[entry["code"]]
        for index, name in enumerate(entry.get("units", [])):
            if name in units:
                role = "lead" if index == 0 else "co"
                rows.append({"item": item.id, "unit": units[name].id, "role": role, "via": ""})
            else:
                for unit_id in members[name]:
                    rows.append({"item": item.id, "unit": unit_id, "role": "co", "via": name})
    # An explicitly named unit wins over the same unit reached through a group.
    chosen: dict[tuple[Any, Any], dict] = {}
    for row in rows:
        key = (row["item"], row["unit"])
        if key not in chosen or (chosen[key]["via"] and not row["via"]):
            chosen[key] = row
    existing = set(Assignment.select(Assignment.item, Assignment.unit).tuples())
    new_rows = [
        {"item": r["item"], "unit": r["unit"], "role": r["role"], "via_group": r["via"]}
        for key, r in chosen.items()
        if key not in existing
    ]
    for start in range(0, len(new_rows), 200):
        Assignment.insert_many(new_rows[start : start + 200]).execute()
    return len(new_rows)


def plan_is_loaded() -> bool:
    try:
        return Item.select().exists()
    except peewee.DatabaseError:
        return False
