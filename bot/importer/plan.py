"""Planning an import: the office's tables (bot/sheets.py) read against the data, as typed
changes (deadlines, units, leads, milestones, 交办 items) and the problems found, by sheet, row
and cell. Planning changes nothing; `fingerprint` is what the plan was computed from."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from bot.actions.assigned import leader_named, leads_first
from bot.actions.base import Refused
from bot.actions.deadlines import approved_extension
from bot.importer.changes import (
    Change,
    EditMilestone,
    NewAssigned,
    NewMilestone,
    NewShare,
    SetDeadline,
    SetLead,
)
from bot.sheets import Due, Row, Table, parse_due, read_tables
from bot.text import CODE_PATTERN, ParseError, fold, read_source
from models import userids
from models.org import GroupMember, Member, Unit, UnitGroup, fold_name, match_unit
from models.plan import (
    CANCELLED,
    DONE,
    MILESTONE,
    OCCURRENCE,
    SHARE,
    Assignment,
    Item,
    Role,
    Source,
    Urgency,
)

EARLIEST = date(2023, 1, 1)  # the plan was issued in 2023: earlier dates are typos
CLOSE_TITLE = 0.8  # how alike a written task must be to an item's title to be taken for it

_CODE_CELL = re.compile(rf"^{CODE_PATTERN}(?:-([1-9][0-9]?))?$")
_CODE_LEAD = re.compile(rf"^{CODE_PATTERN}(?:-([1-9][0-9]?))?(?=[\s、.．:：，,）)]|$)")
_NUMBERING = re.compile(
    r"^\s*(?:[（(]?[一二三四五六七八九十0-9]{1,3}[）)、.．]|第[一二三四五六七八九十0-9]{1,3}[条项])\s*"
)
_SPLIT = re.compile(r"[、，,；;/\n\r]+|\s+")
_MARK = re.compile(r"[（(【\[]\s*(牵头|配合|牵头单位|配合单位)\s*[）)】\]]")
_PREFIX = re.compile(r"^(牵头单位|配合单位|责任单位|牵头|配合)\s*[:：]")
_UNIT_LINE = re.compile(r"(?:填报|责任|牵头|报送)?单位\s*[:：]\s*([^\s，,；;：:]+)")
_TITLE_UNIT = re.compile(r"^(.+?)(?:关于|贯彻|落实|创建|《)")


@dataclass(frozen=True)
class Problem:
    sheet: str
    row: int
    cell: str
    message: str

    @property
    def text(self) -> str:
        where = f"第{self.row}行" + (f"（{self.cell}）" if self.cell else "")
        return f"“{self.sheet}”{where}：{self.message}"


@dataclass
class Plan:
    """What an import would do: `changes` (typed, in the order they apply), the problems by
    sheet, row and cell, notes (columns not imported, sheets skipped), and the fingerprint of
    the data the changes were computed from."""

    file_name: str
    changes: list[Change] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fingerprint: str = ""
    rows_read: int = 0

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for change in self.changes:
            counts[change.op] = counts.get(change.op, 0) + 1
        return counts


@dataclass(frozen=True)
class _Planned:
    """A share of a 交办 item this import adds (what later rows need to know of it)."""

    role: str
    unit: str


class StaleImport(Exception):
    """The data changed after the dry run: the stored changes no longer describe it."""


# ---------------------------------------------------------------- the data the plan reads


def fingerprint() -> str:
    """SHA-256 of everything planning reads: items, units and groups, members (for 责任人),
    and assignments other than the occurrences the scheduler makes on its own."""
    parts = {
        "items": list(
            Item.select(Item.id, Item.code, Item.kind, Item.title, Item.recurrence)
            .where(Item.cancelled_at.is_null())
            .order_by(Item.id)
            .tuples()
        ),
        "units": list(
            Unit.select(Unit.id, Unit.name, Unit.short_name, Unit.aliases)
            .order_by(Unit.id)
            .tuples()
        ),
        "groups": list(
            UnitGroup.select(UnitGroup.id, UnitGroup.name, UnitGroup.aliases)
            .order_by(UnitGroup.id)
            .tuples()
        ),
        "members_of_groups": list(
            GroupMember.select(GroupMember.group, GroupMember.unit)
            .order_by(GroupMember.group, GroupMember.unit)
            .tuples()
        ),
        "people": list(
            Member.select(Member.wecom_userid, Member.display_name, Member.active)
            .order_by(Member.wecom_userid)
            .tuples()
        ),
        "assignments": list(
            Assignment.select(
                Assignment.id,
                Assignment.item,
                Assignment.unit,
                Assignment.kind,
                Assignment.seq,
                Assignment.role,
                Assignment.deadline,
                Assignment.ongoing,
                Assignment.title,
                Assignment.owner_userid,
                Assignment.status,
            )
            .where(Assignment.kind != OCCURRENCE)
            .order_by(Assignment.id)
            .tuples()
        ),
    }
    text = json.dumps(parts, default=str, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def norm_title(text: str) -> str:
    """A title compared with another: folded, numbering and punctuation gone."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _NUMBERING.sub("", text)
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN").lower()


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


# ---------------------------------------------------------------- planning


class _Planner:
    def __init__(self, today: date, file_name: str):
        self.today = today
        self.plan = Plan(file_name)
        self.items = list(
            Item.select().where(Item.cancelled_at.is_null()).order_by(Item.position, Item.id)
        )
        self.by_code = {i.code: i for i in self.items}
        self.titles = [(norm_title(i.title), i) for i in self.items]
        self.shares: dict[tuple[int, int], Assignment] = {}
        self.milestones: dict[int, list[Assignment]] = {}
        for a in Assignment.select().where(Assignment.kind.in_((SHARE, MILESTONE))):
            if a.kind == SHARE:
                self.shares[(a.item_id, a.unit_id)] = a
            elif a.status != CANCELLED:
                self.milestones.setdefault(a.parent_id or 0, []).append(a)
        self.units = {u.id: u for u in Unit.select()}
        # A 责任人 by display name, or by userid in any case (WeCom's userids ignore case).
        self.people = {
            key: m.wecom_userid
            for m in Member.select().where(Member.active == True)  # noqa: E712
            for key in (userids.key(m.wecom_userid), m.display_name)
            if key
        }
        # What this plan adds, so later rows see it (a second row for the same unit and task).
        self.new_shares: dict[tuple[str, int], NewShare | _Planned] = {}
        self.new_items: dict[str, NewAssigned] = {}  # norm title -> the 交办 change
        self.next_j = (
            max(
                (
                    int(i.code[1:])
                    for i in Item.select(Item.code)
                    if i.code[1:].isdigit() and i.code[0] == "J"
                ),
                default=0,
            )
            + 1
        )
        self.next_seq: dict[tuple[str, int], int] = {}
        self.seen_deadline: dict[tuple[str, int], tuple[str, str]] = {}
        self.seen_milestone: dict[tuple[str, int, str], str] = {}
        self.planned: dict[int, EditMilestone] = {}  # milestone id -> its change (one per row)
        self.unbound: dict[tuple[str, str], list[int]] = {}  # 责任人 not bound: their rows

    # -------------------------------------------------------------- rows

    def problem(self, table: Table, row: Row, cell: str, message: str) -> None:
        self.plan.problems.append(Problem(table.sheet, row.number, row.ref(cell), message))

    def table(self, table: Table) -> None:
        if table.skipped:
            self.plan.notes.append(f"工作表“{table.sheet}”未导入：{table.skipped}。")
            return
        if table.extra:
            shown = "、".join(dict.fromkeys(table.extra))
            self.plan.notes.append(f"工作表“{table.sheet}”以下列不导入：{shown}。")
        if table.notes_from:
            self.plan.notes.append(
                f"工作表“{table.sheet}”第{table.notes_from}行起为表下说明，不导入。"
            )
        default_item, default_unit = self._title_context(table.title)
        for row in table.rows:
            self.plan.rows_read += 1
            self.row(table, row, default_item, default_unit)

    def _title_context(self, title: str) -> tuple[Item | None, Unit | None]:
        """A unit's 实施细则 often names its task and unit only in the title rows."""
        item = None
        folded = fold(title)
        found = re.search(rf"(?<![A-Za-z0-9]){CODE_PATTERN}(?![0-9])", folded)
        if found:
            item = self.by_code.get(f"{found.group(1).upper()}{int(found.group(2))}")
        if item is None and title:
            bare = norm_title(title)
            hits = [i for t, i in self.titles if len(t) >= 4 and t in bare]
            item = hits[0] if len(hits) == 1 else None
        unit = None
        for pattern in (_UNIT_LINE, _TITLE_UNIT):
            match = pattern.search(folded)
            if match:
                found_unit = match_unit(match.group(1), allow_groups=False)
                if found_unit.unit is not None and fold_name(match.group(1)) in {
                    fold_name(found_unit.unit.name),
                    fold_name(found_unit.unit.short_name or ""),
                    *(fold_name(a) for a in found_unit.unit.alias_list()),
                }:
                    unit = found_unit.unit
                    break
        return item, unit

    def row(self, table: Table, row: Row, default_item: Item | None, default_unit) -> None:
        if row.text("period") and not row.text("period").startswith("周期"):
            return  # the ledger's row for one period of a recurring report: it follows the rule
        item, seq, how = self._item_of(table, row)
        if how == "refused":
            return
        if item is None and default_item is not None and not row.text("task"):
            item, how = default_item, "title"
        units = self._units(table, row)
        if units is None:
            return
        if not units and default_unit is not None:
            units = [(default_unit, None, None)]
        due = None
        if row.text("deadline"):
            try:
                due = parse_due(row.cells["deadline"].value, self.today)
            except ParseError as exc:
                self.problem(table, row, "deadline", f"完成时限{_reason(exc)}")
                return
            if due.date is not None and due.date < EARLIEST:
                self.problem(
                    table,
                    row,
                    "deadline",
                    f"完成时限 {due.date} 早于方案印发的 2023 年，请检查年份",
                )
                return
        where = f"“{table.sheet}”第{row.number}行"
        measure = row.text("measure")
        if (
            item is not None
            and item.is_recurring
            and due is not None
            and due.rule is None
            and not measure
        ):
            self.problem(
                table,
                row,
                "deadline",
                f"{item.code} 是定期报送（{item.recurrence}），每期的期限按周期计算",
            )
            return
        if due is not None and due.rule is not None and (item is not None or seq is not None):
            if item is not None and item.recurrence == due.rule.text and not measure:
                return  # the same rule as the item's: nothing to change
            self.problem(
                table,
                row,
                "deadline",
                f"“{row.text('deadline')}”是定期报送的周期，只有交办事项可以定期报送；"
                "方案任务和节点请写一个期限",
            )
            return
        if seq is not None and item is not None:
            self._milestone_edit(table, row, item, seq, units, due, where)
        elif item is not None and measure:
            self._milestones(table, row, item.code, item, units, due, measure, where)
        elif item is not None:
            self._deadlines(table, row, item, units, due, where, how)
        else:
            self._assigned(table, row, units, due, measure, where)

    def _item_of(self, table: Table, row: Row) -> tuple[Item | None, int | None, str]:
        """The item a row is about: by the code in its code column or at the start of its task,
        else by its task's title (exact, or close and unique)."""
        code_text = fold(row.text("code")).replace(" ", "")
        task = row.text("task")
        match = _CODE_CELL.match(code_text) if code_text else None
        cell = "code"
        if match is None and task:
            match = _CODE_LEAD.match(fold(task))
            cell = "task"
        if match is not None:
            code = f"{match.group(1).upper()}{int(match.group(2))}"
            item = self.by_code.get(code)
            if item is None:
                self.problem(table, row, cell, f"编号 {code} 不存在（或已撤销）")
                return None, None, "refused"
            return item, int(match.group(3)) if match.group(3) else None, "code"
        if not task:
            if not row.text("measure"):
                self.problem(table, row, "task", "没有写任务（或编号），无法对应")
                return None, None, "refused"
            return None, None, "none"
        wanted = norm_title(task)
        exact = [i for t, i in self.titles if t == wanted]
        if len(exact) == 1:
            return exact[0], None, "title"
        if len(exact) > 1:
            codes = "、".join(i.code for i in exact)
            self.problem(table, row, "task", f"“{_cut(task)}”与 {codes} 同名，请写明编号")
            return None, None, "refused"
        scored = sorted(
            ((difflib.SequenceMatcher(None, wanted, t).ratio(), i) for t, i in self.titles if t),
            key=lambda pair: -pair[0],
        )
        contained = [i for t, i in self.titles if len(t) >= 6 and t in wanted]
        if len(contained) == 1:
            return contained[0], None, "close"
        if scored and scored[0][0] >= CLOSE_TITLE:
            if len(scored) > 1 and scored[1][0] >= CLOSE_TITLE:
                codes = "、".join(i.code for _, i in scored[:3] if _ >= CLOSE_TITLE)
                self.problem(table, row, "task", f"“{_cut(task)}”与 {codes} 都相近，请写明编号")
                return None, None, "refused"
            return scored[0][1], None, "close"
        return None, None, "none"

    def _units(self, table: Table, row: Row) -> list[tuple[Unit, str | None, str | None]] | None:
        """The units a row names, each with its mark (lead, co or None) and the group it was
        reached through; None (and problems) when one of them is not understood."""
        found: list[tuple[Unit, str | None, str | None]] = []
        seen: set[int] = set()
        ok = True
        role_cell = row.text("role")
        default_role = {"牵头": "lead", "配合": "co"}.get(role_cell)
        for name, column_role in (("units", None), ("lead", "lead"), ("co", "co")):
            text = row.text(name)
            if not text:
                continue
            for segment in re.split(r"[；;\n]+", text):
                role = column_role
                segment = segment.strip()
                prefix = _PREFIX.match(segment)
                if prefix:
                    role = {"牵头单位": "lead", "牵头": "lead", "配合单位": "co", "配合": "co"}.get(
                        prefix.group(1), role
                    )
                    segment = segment[prefix.end() :]
                for token in _SPLIT.split(segment):
                    token = token.strip(" 。.")
                    if not token:
                        continue
                    mark = role or default_role
                    marked = _MARK.search(token)
                    if marked:
                        mark = "lead" if marked.group(1).startswith("牵头") else "co"
                        token = (token[: marked.start()] + token[marked.end() :]).strip()
                    elif token.endswith("牵头") and len(token) > 2:
                        mark, token = "lead", token[:-2]
                    if not token:
                        continue
                    match = match_unit(token)
                    if match.unit is None and match.group is None:
                        ok = False
                        self.problem(table, row, name, _unknown_unit(token, match.candidates))
                        continue
                    group = match.group.name if match.group is not None else None
                    for unit in match.units:
                        if unit.id in seen:
                            continue
                        seen.add(unit.id)
                        found.append((unit, mark if group is None else "co", group))
        return found if ok else None

    # -------------------------------------------------------------- changes

    def _share_for(self, item: Item, unit: Unit):
        """The unit's share of an item: existing (an Assignment), planned here (a dict), or None."""
        existing = self.shares.get((item.id, unit.id)) if item.id else None
        return existing or self.new_shares.get((item.code, unit.id))

    def _add_share(self, item, unit, mark, group, where) -> NewShare:
        has_lead = any(
            a.role == Role.LEAD for (i, _), a in self.shares.items() if i == item.id
        ) or any(
            c.role == Role.LEAD for (code, _), c in self.new_shares.items() if code == item.code
        )
        role = "lead" if mark == "lead" and not has_lead else "co"
        change = NewShare(
            where=where,
            item=item.id,
            code=item.code,
            unit_id=unit.id,
            unit=unit.name,
            role=role,
            via_group=group or "",
            deadline=None,
            ongoing="",
        )
        self.plan.changes.append(change)
        self.new_shares[(item.code, unit.id)] = change
        return change

    def _deadlines(self, table, row, item: Item, units, due: Due | None, where, how) -> None:
        if not units:
            targets = [(a.unit, None, None) for (i, _), a in self.shares.items() if i == item.id]
            if not targets:
                self.problem(table, row, "units", f"{item.code} 还没有责任单位，请写明责任单位")
                return
            units = sorted(targets, key=lambda t: (t[0].position, t[0].id))
        matched = f"（按名称对应到 {item.code} {item.title}）" if how == "close" else ""
        for unit, mark, group in units:
            share = self._share_for(item, unit)
            if share is None:
                share = self._add_share(item, unit, mark, group, where + matched)
            role = share.role
            if mark == "lead" and role != "lead":
                self._lead(item, unit, where)  # another unit led it: this one leads now
            if due is None:
                continue
            self._set_due(table, row, item, unit, share, due, where + matched)

    def _lead(self, item: Item, unit: Unit, where: str) -> None:
        if any(isinstance(c, SetLead) and c.item == item.id for c in self.plan.changes):
            return
        before = next(
            (
                a.unit.name
                for (i, _), a in self.shares.items()
                if i == item.id and a.role == Role.LEAD
            ),
            None,
        )
        self.plan.changes.append(
            SetLead(
                where=where,
                item=item.id,
                code=item.code,
                unit_id=unit.id,
                unit=unit.name,
                before=before,
            )
        )

    def _set_due(self, table, row, item, unit, share, due: Due, where: str) -> None:
        key = (item.code, unit.id)
        label = due.label
        earlier = self.seen_deadline.get(key)
        if earlier is not None:
            if earlier[0] != label:
                self.problem(
                    table,
                    row,
                    "deadline",
                    f"{item.code} {unit.name}的期限在{earlier[1]}写的是 {earlier[0]}，这里是 {label}，请统一",
                )
            return
        self.seen_deadline[key] = (label, where)
        if isinstance(share, NewShare):  # a share this import adds: it starts with this deadline
            share.deadline, share.ongoing = _iso(due.date), due.ongoing
            return
        if share.status == CANCELLED:
            return
        same = share.deadline == due.date and bool(share.ongoing) == bool(due.ongoing)
        if same:
            return
        extension = approved_extension(share)
        self.plan.changes.append(
            SetDeadline(
                where=where,
                assignment=share.id,
                code=item.code,
                unit_id=unit.id,
                unit=unit.name,
                before=_iso(share.deadline),
                before_ongoing=share.ongoing,
                deadline=_iso(due.date),
                ongoing=due.ongoing,
                undoes_extension=extension.id if extension is not None else None,
            )
        )

    def _milestones(self, table, row, code: str, item: Item | None, units, due, measure, where):
        if due is None:
            self.problem(table, row, "deadline", "节点缺少完成时限")
            return
        if not units:
            if item is not None:
                owners = [a.unit for (i, _), a in self.shares.items() if i == item.id]
                planned = [self.units[u] for (c, u) in self.new_shares if c == code]
                owners = owners or planned
            else:
                owners = []
            if len(owners) != 1:
                self.problem(
                    table,
                    row,
                    "units",
                    f"请写明责任单位（{code} 有 {len(owners)} 个责任单位，节点属于其中一个）"
                    if owners
                    else "请写明责任单位",
                )
                return
            units = [(owners[0], None, None)]
        owner = self._owner(table, row)
        title = measure[:200]
        for unit, mark, group in units:
            share = (
                self._share_for(item, unit)
                if item is not None
                else self.new_shares.get((code, unit.id))
            )
            if share is None and item is not None:
                share = self._add_share(item, unit, mark, group, where)
            if isinstance(share, Assignment) and share.status in (DONE, CANCELLED):
                state = "已完成" if share.status == DONE else "已撤销"
                self.problem(table, row, "measure", f"{unit.name}的 {code} {state}，无需再设节点")
                continue
            key = (code, unit.id, norm_title(title))
            if key in self.seen_milestone:
                self.problem(
                    table, row, "measure", f"与{self.seen_milestone[key]}重复（{unit.name}）"
                )
                continue
            self.seen_milestone[key] = where
            existing = None
            if isinstance(share, Assignment):
                existing = next(
                    (
                        m
                        for m in self.milestones.get(share.id, [])
                        if norm_title(m.title) == norm_title(title)
                    ),
                    None,
                )
            if existing is not None:
                self._edit(existing, code, unit, title, due, owner, where)
                continue
            seq_key = (code, unit.id)
            if seq_key not in self.next_seq:
                taken = (
                    [m.seq or 0 for m in self.milestones.get(share.id, [])]
                    if isinstance(share, Assignment)
                    else []
                )
                if isinstance(share, Assignment):
                    taken += [
                        m.seq or 0
                        for m in Assignment.select(Assignment.seq).where(
                            (Assignment.parent == share.id) & (Assignment.kind == MILESTONE)
                        )
                    ]
                self.next_seq[seq_key] = max(taken, default=0) + 1
            seq = self.next_seq[seq_key]
            self.next_seq[seq_key] += 1
            self.plan.changes.append(
                NewMilestone(
                    where=where,
                    item=item.id if item is not None else None,
                    code=code,
                    seq=seq,
                    unit_id=unit.id,
                    unit=unit.name,
                    title=title,
                    deadline=_iso(due.date),
                    ongoing=due.ongoing,
                    owner=owner,
                )
            )

    def _owner(self, table, row) -> str:
        person = row.text("person")
        if not person:
            return ""
        person = person.strip()
        if userids.key(person) == userids.EVERYONE:
            self.problem(
                table, row, "person", f"责任人“{person}”不能用：{userids.problem(person)}。"
            )
            return ""
        userid = self.people.get(person) or self.people.get(userids.key(person))
        if userid is None:
            self.unbound.setdefault((table.sheet, _cut(person)), []).append(row.number)
            return ""
        return userid

    def _edit(self, milestone: Assignment, code, unit, title, due: Due, owner, where) -> None:
        if milestone.id in self.planned:
            return
        change = EditMilestone(
            where=where,
            assignment=milestone.id,
            code=f"{code}-{milestone.seq}",
            unit_id=unit.id,
            unit=unit.name,
            title_before=milestone.title,
            before=_iso(milestone.deadline),
            before_ongoing=milestone.ongoing,
            owner_before=milestone.owner_userid,
        )
        if due is not None and (
            milestone.deadline != due.date or bool(milestone.ongoing) != bool(due.ongoing)
        ):
            change.new_deadline = True
            change.deadline, change.ongoing = _iso(due.date), due.ongoing
        if title and norm_title(title) != norm_title(milestone.title):
            change.title = title
        if owner and owner != milestone.owner_userid:
            change.owner = owner
        touched = change.new_deadline or change.title is not None or change.owner is not None
        if not touched or milestone.status in (DONE, CANCELLED):
            return
        self.planned[milestone.id] = change
        self.plan.changes.append(change)

    def _milestone_edit(self, table, row, item: Item, seq: int, units, due, where) -> None:
        found = [
            m
            for (i, u), share in self.shares.items()
            if i == item.id
            for m in self.milestones.get(share.id, [])
            if m.seq == seq and (not units or u in {unit.id for unit, _, _ in units})
        ]
        code = f"{item.code}-{seq}"
        if not found:
            self.problem(table, row, "code", f"节点 {code} 不存在（或已删除）")
            return
        if len(found) > 1:
            names = "、".join(self.units[m.unit_id].name for m in found)
            self.problem(table, row, "units", f"{code} 在几个单位都有（{names}），请写明责任单位")
            return
        milestone = found[0]
        if due is not None and due.rule is not None:
            self.problem(table, row, "deadline", "节点只能写一个期限")
            return
        self._edit(
            milestone,
            item.code,
            self.units[milestone.unit_id],
            row.text("measure"),
            due,
            self._owner(table, row),
            where,
        )

    def _assigned(self, table, row, units, due: Due | None, measure: str, where) -> None:
        task = row.text("task")
        if not task:
            self.problem(table, row, "task", "没有写任务，具体措施无法对应到事项")
            return
        key = norm_title(task)
        change = self.new_items.get(key)
        if change is None:
            if not units:
                self.problem(
                    table,
                    row,
                    "units",
                    f"“{_cut(task)}”不是方案中的任务，作为交办事项须写明责任单位",
                )
                return
            if due is None and not measure:
                self.problem(
                    table, row, "deadline", f"“{_cut(task)}”作为交办事项须写明完成时限或周期"
                )
                return
            code = f"J{self.next_j}"
            self.next_j += 1
            try:
                roles = leads_first([(u, mark == "lead", g or "") for u, mark, g in units])
            except Refused as exc:
                self.problem(table, row, "units", exc.message.rstrip("。"))
                return
            mark = read_source(task)
            if mark.source is None:
                noted = read_source(f"（{row.text('source')}）{row.text('note')}")
                source = noted.source or Source.OFFICE
            else:
                source = mark.source
            rule = due.rule if due is not None and not measure else None
            urgency = row.text("urgency")
            if urgency and urgency not in set(Urgency):
                self.problem(
                    table, row, "urgency", f"紧急程度“{urgency}”不对，可写：{'、'.join(Urgency)}"
                )
                return
            leader = ""
            if row.text("leader"):
                found = leader_named(row.text("leader"))
                if found is None:
                    self.problem(
                        table,
                        row,
                        "leader",
                        f"批示领导“{_cut(row.text('leader'))}”不是已绑定的领导，请先绑定",
                    )
                    return
                leader = found.wecom_userid
            change = NewAssigned(
                where=where,
                code=code,
                title=mark.title[:200],
                source=source,
                units=[[u.id, u.name, str(role), g or ""] for u, role, g in roles],
                deadline=_iso(due.date) if due is not None and not measure else None,
                ongoing=due.ongoing if due is not None and not measure else "",
                recurrence=rule.text if rule is not None else "",
                doc_no=row.text("doc_no")[:64],
                urgency=urgency,
                leader=leader,
                instruction=row.text("instruction")[:5000],
            )
            self.plan.changes.append(change)
            self.new_items[key] = change
            for unit_id, name, role, _group in change.units:
                self.new_shares[(code, unit_id)] = _Planned(role, name)
            if not measure:
                return
        elif not measure:
            self.problem(table, row, "task", f"与{change.where}的交办事项重复")
            return
        if due is not None and due.rule is not None:
            self.problem(table, row, "deadline", "节点只能写一个期限，不能写周期")
            return
        wanted = {unit.id for unit, _, _ in units} if units else None
        shares = [
            (self.units[unit_id], None, None)
            for unit_id, _, _, _ in change.units
            if wanted is None or unit_id in wanted
        ]
        extra = [u for u, _, _ in units if (change.code, u.id) not in self.new_shares]
        if extra:
            self.problem(
                table,
                row,
                "units",
                "、".join(u.name for u in extra) + f"不是{change.where}交办事项的责任单位",
            )
            return
        self._milestones(table, row, change.code, None, shares, due, measure, where)


def _reason(exc: ParseError) -> str:
    text = str(exc)
    return text if text.startswith("“") else f"：{text}"


def _cut(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _unknown_unit(token: str, candidates: tuple[str, ...]) -> str:
    if candidates:
        shown = "、".join(f"“{c}”" for c in candidates[:4])
        return f"责任单位“{token}”能对应多个单位：{shown}，请写全称"
    forms = {}
    for unit in Unit.select():
        for form in (unit.name, unit.short_name or "", *unit.alias_list()):
            if form:
                forms[fold_name(form)] = unit.name
    close = difflib.get_close_matches(fold_name(token), list(forms), n=1, cutoff=0.5)
    if close:
        return f"责任单位“{token}”未识别，是否为“{forms[close[0]]}”？"
    return f"责任单位“{token}”未识别（发送“单位”查看所有单位及简称）"


def plan_import(data: bytes, file_name: str, today: date) -> Plan:
    """Read a workbook and plan its changes; changes nothing. Raises SheetError when the file
    is not a workbook."""
    tables = read_tables(data)
    planner = _Planner(today, file_name)
    for table in tables:
        planner.table(table)
    for (sheet, person), rows in planner.unbound.items():
        shown = "、".join(str(r) for r in rows[:5]) + ("等" if len(rows) > 5 else "")
        planner.plan.notes.append(
            f"“{sheet}”第{shown}行的责任人“{person}”没有绑定企业微信，这些节点暂不设责任人。"
        )
    planner.plan.fingerprint = fingerprint()
    return planner.plan
