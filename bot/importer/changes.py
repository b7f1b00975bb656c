"""What an import would change, one typed change per kind. A dry run stores them as JSON in its
batch (`to_json`), and `导入 确认` reads them back (`from_json`) and applies them unchanged; the
JSON keeps the shape earlier versions stored, so a dry run made before an upgrade still applies."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar


@dataclass
class Change:
    where: str  # “任务分解”第3行: where in the file it comes from
    op: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, **asdict(self)}

    @property
    def item_code(self) -> str:
        return getattr(self, "code", "").split("-")[0]


@dataclass
class NewAssigned(Change):
    """A row that fits no item: a new 交办 item (its code fixed at the dry run)."""

    code: str
    title: str
    source: str
    units: list[list]  # [unit id, unit name, "lead" | "co", group name]
    deadline: str | None
    ongoing: str
    recurrence: str
    # 立项 fields, when the sheet has them (older stored plans have none).
    doc_no: str = ""
    urgency: str = ""
    leader: str = ""  # the 批示领导's userid
    instruction: str = ""
    op: ClassVar[str] = "assigned"


@dataclass
class NewShare(Change):
    """A unit becomes responsible for an item."""

    item: int
    code: str
    unit_id: int
    unit: str
    role: str
    via_group: str
    deadline: str | None
    ongoing: str
    op: ClassVar[str] = "share"


@dataclass
class SetLead(Change):
    item: int
    code: str
    unit_id: int
    unit: str
    before: str | None  # the unit that led it
    op: ClassVar[str] = "lead"


@dataclass
class SetDeadline(Change):
    assignment: int
    code: str
    unit_id: int
    unit: str
    before: str | None
    before_ongoing: str
    deadline: str | None
    ongoing: str
    # The current deadline is an extension the office approved (its request id): the dry run
    # shows this change in a section of its own.
    undoes_extension: int | None = None
    op: ClassVar[str] = "deadline"


@dataclass
class NewMilestone(Change):
    item: int | None  # None: a milestone of a 交办 item this import adds
    code: str
    seq: int
    unit_id: int
    unit: str
    title: str
    deadline: str | None
    ongoing: str
    owner: str
    op: ClassVar[str] = "milestone"


@dataclass
class EditMilestone(Change):
    """A milestone already there, changed: any of its deadline, work and 责任人."""

    assignment: int
    code: str  # T7-2
    unit_id: int
    unit: str
    title_before: str
    before: str | None
    before_ongoing: str
    owner_before: str
    new_deadline: bool = False
    deadline: str | None = None
    ongoing: str = ""
    title: str | None = None
    owner: str | None = None
    op: ClassVar[str] = "milestone_edit"

    def to_json(self) -> dict[str, Any]:
        data = {"op": self.op}
        for f in fields(self):
            if f.name == "new_deadline":
                continue
            value = getattr(self, f.name)
            if f.name in ("deadline", "ongoing") and not self.new_deadline:
                continue
            if f.name in ("title", "owner") and value is None:
                continue
            data[f.name] = value
        return data


KINDS: dict[str, type[Change]] = {
    c.op: c for c in (NewAssigned, NewShare, SetLead, SetDeadline, NewMilestone, EditMilestone)
}


def from_json(data: dict[str, Any]) -> Change:
    kind = KINDS.get(data.get("op", ""))
    if kind is None:
        raise ValueError(f"unknown import change {data.get('op')!r}")
    names = {f.name for f in fields(kind)}
    values = {k: v for k, v in data.items() if k in names}
    if kind is EditMilestone:
        values["new_deadline"] = "deadline" in data
    return kind(**values)
