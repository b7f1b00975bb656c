"""Progress and completion: a unit reports how far its part of an item has come (进度), that it
is done (完成), or corrects its last report. At 100 % the unit reports it done: 待审核 when the
office reviews this kind, else done at once."""

from __future__ import annotations

from dataclasses import dataclass

from bot.actions.base import Acting, Refused
from bot.actions.review import needs_review, request_review
from models.plan import Assignment, Status
from models.progress import ProgressReport, ReportKind


@dataclass(frozen=True)
class Reported:
    assignment: Assignment
    percent: int
    previous: int
    status: Status
    review: bool  # waits for the office's 办结审核
    kind: ReportKind


def reportable(acting: Acting, target: Assignment) -> Assignment:
    """Refuse a report on something that cannot take one now."""
    if target.status == Status.REVIEW:
        when = target.reported_at.astimezone(acting.config.timezone)
        raise Refused(f"{target.label} 已于 {when:%m-%d %H:%M} 报告完成，正在等待办公室审核。")
    if target.status == Status.CANCELLED:
        raise Refused(f"{target.label} 已撤销，无需再报告。")
    return target


def report_progress(
    acting: Acting,
    target: Assignment,
    percent: int,
    note: str = "",
    *,
    correction: bool = False,
) -> Reported:
    """Record how far the unit's part has come. 100 % is a report of "done"."""
    if not 0 <= percent <= 100:
        raise Refused(f"进度应在 0% 到 100% 之间，您写的是 {percent}%。")
    if not (correction and target.status == Status.REVIEW):  # a wrong "done" may be corrected
        reportable(acting, target)
    if target.status == Status.DONE:
        if percent == 100:
            raise Refused(f"{target.label} 已经是“已完成”状态，无需重复报告。")
        raise Refused(
            f"{target.label} 已办结（已完成），进度不能再改为 {percent}%。如需重新办理，请联系办公室。"
        )
    kind = (
        ReportKind.CORRECTION
        if correction
        else ReportKind.DONE
        if percent == 100
        else ReportKind.PROGRESS
    )
    return _record(acting, target, percent, note, kind)


def report_done(acting: Acting, target: Assignment, note: str = "") -> Reported:
    """The unit reports its part done (100 %)."""
    reportable(acting, target)
    if target.status == Status.DONE:
        raise Refused(f"{target.label} 已经是“已完成”状态，无需重复报告。")
    return _record(acting, target, 100, note, ReportKind.DONE)


def _record(
    acting: Acting, target: Assignment, percent: int, note: str, kind: ReportKind
) -> Reported:
    previous: int = target.progress
    before = {"progress": previous, "status": target.status}
    finished = percent == 100
    review = finished and needs_review(acting, target)
    status = Status.REVIEW if review else Status.DONE if finished else Status.OPEN
    Assignment.update(
        progress=percent,
        status=status,
        updated_at=acting.now,
        reported_at=acting.now if finished else None,
        done_at=acting.now if status == Status.DONE else None,
    ).where(Assignment.id == target.id).execute()
    ProgressReport.create(
        assignment=target,
        wecom_userid=acting.userid,
        percent=percent,
        note=note,
        kind=kind,
        created_at=acting.now,
    )
    if kind == ReportKind.CORRECTION:
        verb = f"更正进度：{target.progress}% → {percent}%"
    elif kind == ReportKind.DONE:
        verb = "报告完成"
    else:
        verb = f"报告进度 {percent}%"
    acting.audit(
        str(kind),
        f"{target.unit.name}{verb}" + (f"：{note}" if note else ""),
        item_code=target.item.code,
        unit_name=target.unit.name,
        before=before,
        after={"progress": percent, "status": status},
    )
    if review:
        request_review(acting, Assignment.get_by_id(target.id), note)
    elif kind == ReportKind.CORRECTION and before["status"] == Status.REVIEW:
        # The report of "done" the office was asked to review is taken back.
        text = acting.renderer.render(
            "review_withdrawn.j2", a=target, percent=percent, who=acting.name
        )
        acting.tell(acting.admins(), text, f"review-withdrawn:{target.id}:{acting.cause}")
    return Reported(target, percent, previous, status, review, kind)
