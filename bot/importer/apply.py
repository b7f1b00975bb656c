"""An import's dry run kept as a batch, and `导入 确认`: the stored changes applied exactly as
shown, each through the same action as the chat's (bot/actions), in the caller's transaction,
after checking that the data they were planned from has not moved. Each unit's liaisons then
hear once, one line per change to their unit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from bot.actions.assigned import AssignSpec, assign_item
from bot.actions.base import Acting, Refused, UnitLetters, Via, liaisons_by_unit
from bot.actions.deadlines import add_share, set_lead, set_milestone_deadline, set_share_deadline
from bot.actions.milestones import add_milestone, edit_milestone
from bot.importer.changes import (
    Change,
    EditMilestone,
    NewAssigned,
    NewMilestone,
    NewShare,
    SetDeadline,
    SetLead,
    from_json,
)
from bot.importer.plan import Plan, StaleImport, fingerprint, plan_import
from bot.importer.report import count_text, problem_dicts
from models.audit import AuditEntry
from models.db import database
from models.imports import APPLIED, PENDING, STALE, ImportBatch
from models.imports import CANCELLED as BATCH_CANCELLED
from models.org import Unit, find_member
from models.plan import Assignment, Item, Part, Role, Urgency
from reminders.recurrence import parse_recurrence


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


@dataclass
class Applied:
    changes: int = 0
    items: list[str] = field(default_factory=list)  # new 交办 codes
    letters: UnitLetters = field(default_factory=UnitLetters)  # unit id -> lines for liaisons


class ImportRefused(Exception):
    """A stored change can no longer be made as planned: nothing was applied."""

    def __init__(self, where: str, message: str):
        super().__init__(message)
        self.where = where
        self.message = message


def apply_changes(acting: Acting, changes: list[Change], expected: str, file_name: str) -> Applied:
    """Apply stored changes exactly as planned, in the caller's transaction; StaleImport (and
    nothing changed) if the data is no longer what they were computed from."""
    if fingerprint() != expected:
        raise StaleImport()
    done = Applied()
    acting = replace(acting, letters=done.letters)
    for change in changes:
        step = replace(acting, origin=f"导入《{file_name}》{change.where}")
        try:
            _apply(step, change, done)
        except Refused as exc:
            raise ImportRefused(change.where, exc.message) from None
        done.changes += 1
    return done


def _apply(acting: Acting, change: Change, done: Applied) -> None:
    if isinstance(change, NewAssigned):
        units = [(Unit.get_by_id(uid), Role(role), group) for uid, _, role, group in change.units]
        assigned = assign_item(
            acting,
            AssignSpec(
                title=change.title,
                source=change.source,
                units=units,
                deadline=_date(change.deadline),
                ongoing=change.ongoing,
                rule=parse_recurrence(change.recurrence) if change.recurrence else None,
                code=change.code,
                allow_past=True,
                doc_no=change.doc_no,
                instructed_by=change.leader,
                instruction=change.instruction,
                urgency=change.urgency or Urgency.NORMAL,
            ),
        )
        done.items.append(assigned.item.code)
    elif isinstance(change, NewShare):
        add_share(
            acting,
            Item.get_by_id(change.item),
            Unit.get_by_id(change.unit_id),
            Role(change.role),
            via_group=change.via_group,
            deadline=_date(change.deadline),
            ongoing=change.ongoing,
        )
    elif isinstance(change, SetLead):
        set_lead(acting, Item.get_by_id(change.item), Unit.get_by_id(change.unit_id))
    elif isinstance(change, SetDeadline):
        share = Assignment.get_by_id(change.assignment)
        set_share_deadline(acting, share, _date(change.deadline), change.ongoing)
    elif isinstance(change, NewMilestone):
        item = Item.get(Item.code == change.code)
        share = Assignment.get(
            (Assignment.item == item)
            & (Assignment.unit == change.unit_id)
            & (Assignment.kind == Part.SHARE)
        )
        add_milestone(
            acting,
            share,
            _date(change.deadline),
            change.title,
            change.owner,
            ongoing=change.ongoing,
            seq=change.seq,
            allow_past=True,
        )
    elif isinstance(change, EditMilestone):
        milestone = Assignment.get_by_id(change.assignment)
        if change.new_deadline:
            set_milestone_deadline(acting, milestone, _date(change.deadline), change.ongoing)
        if change.title is not None or change.owner is not None:
            edit_milestone(acting, milestone, change.title or "", change.owner or "")
    else:  # pragma: no cover - a stored plan is written by this package
        raise ValueError(f"unknown import change {change.op!r}")


# ---------------------------------------------------------------- dry runs and their batches


@dataclass
class DryRun:
    plan: Plan
    sha256: str
    batch: ImportBatch | None  # waiting for 导入 确认 (None: nothing to change)


def dry_run(data: bytes, file_name: str, now: datetime, today: date, actor: str) -> DryRun:
    """Plan an import and keep it for confirmation; the actor's earlier dry run is dropped."""
    sha = hashlib.sha256(data).hexdigest()
    plan = plan_import(data, file_name, today)
    ImportBatch.update(status=BATCH_CANCELLED).where(
        (ImportBatch.created_by == actor) & (ImportBatch.status == PENDING)
    ).execute()
    batch = None
    if plan.changes:
        batch = ImportBatch.create(
            created_by=actor,
            created_at=now,
            file_name=file_name[:255],
            file_sha256=sha,
            fingerprint=plan.fingerprint,
            changes=[c.to_json() for c in plan.changes],
            problems=problem_dicts(plan.problems),
        )
    return DryRun(plan, sha, batch)


def pending_batch(actor: str, sha256: str | None = None) -> ImportBatch | None:
    query = ImportBatch.select().where(
        (ImportBatch.created_by == actor) & (ImportBatch.status == PENDING)
    )
    if sha256 is not None:
        query = query.where(ImportBatch.file_sha256 == sha256)
    return query.order_by(ImportBatch.id.desc()).first()


def batch_changes(batch: ImportBatch) -> list[Change]:
    return [from_json(c) for c in batch.changes]


def cancel_batch(batch: ImportBatch) -> None:
    ImportBatch.update(status=BATCH_CANCELLED).where(ImportBatch.id == batch.id).execute()


@dataclass
class Confirmed:
    applied: Applied | None  # None: refused, the data changed since the dry run
    told: int = 0  # liaisons told of their units' changes
    refused: ImportRefused | None = None  # a change that could not be made as planned


def confirm(batch, now: datetime, today: date, actor: str, outbox, renderer, config, cal):
    """Apply a batch exactly as shown (inside the caller's transaction), log it under `actor`,
    tell each liaison once what changed for their unit; a batch whose data moved is marked
    stale and nothing else changes."""
    member = find_member(actor, active=True)
    acting = Acting(
        userid=actor,
        member=member,
        is_admin=True,  # only admins (and the office's CLI) confirm imports
        now=now,
        config=config,
        outbox=outbox,
        renderer=renderer,
        via=Via.IMPORT,
        cause=f"import{batch.id}",
        _calendar=cal,
    )
    try:
        with database.atomic():  # a savepoint: a failure half-way leaves nothing behind
            applied = apply_changes(
                acting, batch_changes(batch), batch.fingerprint, batch.file_name
            )
    except StaleImport:
        ImportBatch.update(status=STALE).where(ImportBatch.id == batch.id).execute()
        return Confirmed(None)
    except ImportRefused as refused:
        ImportBatch.update(status=STALE).where(ImportBatch.id == batch.id).execute()
        return Confirmed(None, refused=refused)
    ImportBatch.update(status=APPLIED, applied_at=now).where(ImportBatch.id == batch.id).execute()
    changes = batch_changes(batch)
    AuditEntry.record(
        now,
        actor,
        "import",
        f"导入《{batch.file_name}》：{count_text(changes)}（预览 {batch.id}）",
        after={"batch": batch.id, "sha256": batch.file_sha256, "changes": len(changes)},
    )
    told = 0
    letters = applied.letters.lines
    liaisons = liaisons_by_unit(letters)
    for unit_id, lines in letters.items():
        text = renderer.render(
            "import_notice.j2", file_name=batch.file_name, unit=Unit.get_by_id(unit_id), lines=lines
        )
        for m in liaisons[unit_id]:
            told += outbox.to_members([m.wecom_userid], text, f"import:{batch.id}:{m.wecom_userid}")
    return Confirmed(applied, told)
