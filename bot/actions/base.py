"""Who acts, when, through which way in, and where the messages an action causes go."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from models import org
from models.audit import AuditEntry
from models.org import Member
from reminders.calendar import WorkCalendar
from reminders.stored import load_calendar

if TYPE_CHECKING:
    from bot.config import Config
    from bot.outbox import Outbox
    from bot.render import Renderer


class Via(StrEnum):
    """The way in a change came through (kept with messages and in the log's wording)."""

    CHAT = "chat"
    CARD = "card"
    IMPORT = "import"
    DESK = "desk"
    PAGE = "page"  # the upload page (bot/web/upload.py)
    WORKER = "worker"
    CLI = "cli"


class Refused(Exception):
    """An action refused: a short Chinese sentence saying why. Nothing was changed."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class UnitLetters:
    """Messages to units gathered instead of sent one by one: the importer tells each liaison
    once, listing every change to the unit (one line each)."""

    lines: dict[int, list[str]] = field(default_factory=dict)

    def add(self, unit_id: int, line: str) -> None:
        self.lines.setdefault(unit_id, []).append(line)


@dataclass
class Acting:
    """Everything an action needs besides its inputs. Built by each way in: the chat's Context
    is one; the importer, the board and the worker make their own."""

    userid: str
    member: Member | None
    is_admin: bool
    now: datetime
    config: Config
    outbox: Outbox
    renderer: Renderer
    via: Via = Via.CHAT
    # What caused the change (a message id, an import batch): part of the messages' dedupe keys,
    # so a replay of the same cause queues nothing twice.
    cause: str = "0"
    # Said before every log entry's summary (the importer: "导入《台账.xlsx》第3行").
    origin: str = ""
    # When set, notices to units are gathered here (one line each) rather than queued.
    letters: UnitLetters | None = None
    _calendar: WorkCalendar | None = field(default=None, repr=False, compare=False)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.config.timezone).date()

    @property
    def calendar(self) -> WorkCalendar:
        """The working-day calendar, read once per acting."""
        if self._calendar is None:
            self._calendar = load_calendar()
        return self._calendar

    @property
    def unit_id(self) -> int | None:
        return self.member.unit_id if self.member is not None else None

    @property
    def label(self) -> str:
        """How messages name the person acting: "王五（领导）", or the office."""
        if self.member is not None:
            return f"{self.member.label}（{self.member.role_label}）"
        return "领导小组办公室"

    @property
    def name(self) -> str:
        return self.member.label if self.member is not None else self.userid

    def audit(self, action: str, summary: str, **kwargs: Any) -> AuditEntry:
        if self.origin:
            summary = f"{self.origin}：{summary}"
        return AuditEntry.record(self.now, self.userid, action, summary, **kwargs)

    def key(self, *parts: object) -> str:
        """A dedupe key for a message this change causes."""
        return ":".join(str(p) for p in (*parts[:1], self.cause, *parts[1:]))

    def admins(self) -> list[str]:
        return org.admin_userids(self.config.admins)

    def tell(self, userids: Iterable[str], text: str, key: str, **kwargs: Any) -> int:
        """Queue a text to these people (one row); how many rows were queued (0 or 1)."""
        people = sorted(set(userids))
        if not people:
            return 0
        return int(self.outbox.to_members(people, text, key, **kwargs))

    def tell_unit(
        self, unit_id: int, people: Iterable[str], text: str, key: str, *, line: str
    ) -> int:
        """A notice to a unit's people, one message each (dedupe key `key:userid`), or, when
        letters are gathered (the importer), one line in the unit's letter. Returns how many
        people were told now."""
        if self.letters is not None:
            self.letters.add(unit_id, line)
            return 0
        return sum(self.tell([userid], text, f"{key}:{userid}") for userid in sorted(set(people)))


def liaisons_by_unit(unit_ids: Iterable[int]) -> dict[int, list[Member]]:
    """Active liaison officers per unit id."""
    ids = sorted(set(unit_ids))
    result: dict[int, list[Member]] = {uid: [] for uid in ids}
    if not ids:
        return result
    query = Member.select().where(Member.unit.in_(ids) & Member.having("liaison"))
    for member in query.order_by(Member.id):
        if member.unit_id is not None:
            result[member.unit_id].append(member)
    return result


def liaison_ids(unit_id: int) -> list[str]:
    return [m.wecom_userid for m in liaisons_by_unit([unit_id])[unit_id]]
