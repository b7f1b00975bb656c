"""办结审核: a unit's "done" waits for the office (待审核) before it counts. Each report reaches the
admins as a card (通过 / 退回). Passing it also lets the scores computed from the unit's figures
count; sending it back sets them aside. The office can switch review off per kind (REVIEW)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.actions.base import Acting, Refused, liaisons_by_unit
from bot.actions.leader_loop import report_back
from bot.actions.lookup import short
from bot.cards import REVIEW_BUTTONS, queue_card, task_id_for
from bot.render import format_points
from models.plan import Assignment, Item, Part, Status
from models.progress import Evidence
from models.scores import Score, ScoreSource, ScoreState
from reminders.state import checklist_coverage


def review_kind(assignment: Assignment) -> str:
    """Which REVIEW switch governs this assignment: plan, assigned or milestone."""
    if assignment.kind == Part.MILESTONE:
        return "milestone"
    return "assigned" if assignment.item.is_assigned else "plan"


def needs_review(acting: Acting, assignment: Assignment) -> bool:
    return review_kind(assignment) in acting.config.review_kinds


def request_review(acting: Acting, assignment: Assignment, note: str) -> int:
    """Tell the admins, one card each, that a unit reports this done. Returns how many."""
    item = assignment.item
    files = (
        Evidence.select()
        .where((Evidence.item == item) & (Evidence.unit == assignment.unit_id) & Evidence.active())
        .count()
    )
    coverage = checklist_coverage(item, assignment.unit_id) if item.is_indicator else []
    text = acting.renderer.render(
        "review_request.j2",
        a=assignment,
        unit=assignment.unit,
        note=note,
        files=files,
        coverage=coverage,
        who=acting.name,
        short=short(assignment),
    )
    sent = 0
    for userid in acting.admins():
        sent += queue_card(
            acting.outbox,
            acting.now,
            kind="review",
            userid=userid,
            title=f"【待审核】{assignment.code} {assignment.unit.short_name or assignment.unit.name}",
            description=f"报告完成｜佐证 {files} 份",
            rows=[(assignment.code, (note or "（无说明）")[:26])],
            text=text,
            task_id=task_id_for("review", assignment.id, acting.cause),
            dedupe_key=f"review:{assignment.id}:{acting.cause}:{userid}",
            buttons=REVIEW_BUTTONS,
            subject=f"a{assignment.id}",
        )
    return sent


def reopen_for_review(acting: Acting, assignment: Assignment, why: str) -> None:
    """Work already accepted changed (new figures): back to 待审核, and the admins are asked."""
    Assignment.update(status=Status.REVIEW, reported_at=acting.now, done_at=None).where(
        Assignment.id == assignment.id
    ).execute()
    acting.audit(
        "review_reopen",
        f"{short(assignment)} {why}，重新待审核",
        item_code=assignment.item.code,
        unit_name=assignment.unit.name,
        before={"status": Status.DONE},
        after={"status": Status.REVIEW},
    )
    request_review(acting, Assignment.get_by_id(assignment.id), why)


@dataclass(frozen=True)
class Reviewed:
    assignment: Assignment
    passed: bool
    scores: int  # computed scores that now count (passed) or were set aside (returned)


def approve(acting: Acting, assignment: Assignment) -> Reviewed:
    """通过: the unit's report of "done" is accepted; it counts as done from when it was reported."""
    reported = assignment.reported_at or acting.now
    _decide(
        acting,
        assignment,
        {"status": Status.DONE, "done_at": reported},
        "review_pass",
        f"审核通过：{assignment.label} {assignment.unit.name}",
        {"status": Status.DONE, "reported_at": str(reported)},
        "review_passed.j2",
        reason="",
    )
    scores = decide_scores(
        acting,
        assignment.item,
        _pending_scores(assignment.item, assignment.unit_id),
        ScoreState.ACCEPTED,
        "审核通过",
    )
    report_back(
        acting,
        assignment.item,
        "办结",
        f"{assignment.unit.name}的{assignment.label}已办结，审核通过。",
        f"pass:{assignment.id}:{acting.cause}",
    )
    return Reviewed(assignment, True, scores)


def send_back(acting: Acting, assignment: Assignment, reason: str) -> Reviewed:
    """退回: the report of "done" is not accepted; the work is open again."""
    reason = reason.strip()
    if not reason:
        raise Refused("退回须写明原因。")
    _decide(
        acting,
        assignment,
        {"status": Status.OPEN, "reported_at": None},
        "review_return",
        f"审核退回：{assignment.label} {assignment.unit.name}：{reason}",
        {"status": Status.OPEN, "reason": reason},
        "review_returned.j2",
        reason=reason,
    )
    scores = decide_scores(
        acting,
        assignment.item,
        _pending_scores(assignment.item, assignment.unit_id),
        ScoreState.RETURNED,
        "审核退回",
    )
    return Reviewed(assignment, False, scores)


def _decide(
    acting: Acting,
    assignment: Assignment,
    values: dict[str, Any],
    action: str,
    summary: str,
    after: dict[str, Any],
    template: str,
    *,
    reason: str,
) -> None:
    """Record the office's decision on a report of "done", log it, tell the unit."""
    if not acting.is_admin:
        raise Refused("只有领导小组办公室可以审核。")
    if assignment.status != Status.REVIEW:
        raise Refused(not_waiting(assignment))
    Assignment.update(reviewed_at=acting.now, reviewed_by=acting.userid, **values).where(
        Assignment.id == assignment.id
    ).execute()
    acting.audit(
        action,
        summary,
        item_code=assignment.item.code,
        unit_name=assignment.unit.name,
        before={"status": Status.REVIEW},
        after=after,
    )
    text = acting.renderer.render(template, a=assignment, reason=reason)
    people = {m.wecom_userid for m in liaisons_by_unit([assignment.unit_id])[assignment.unit_id]}
    if assignment.owner_userid:
        people.add(assignment.owner_userid)
    acting.tell_unit(
        assignment.unit_id,
        people,
        text,
        f"{template}:{assignment.id}:{acting.cause}",
        line=text.splitlines()[0],
    )


def not_waiting(assignment: Assignment) -> str:
    if assignment.status == Status.DONE:
        return f"{short(assignment)} 已审核通过（已办结）。"
    return f"{short(assignment)} 没有待审核的完成报告。"


def _pending_scores(item: Item, unit_id: int) -> list[Score]:
    if not item.is_indicator:
        return []
    return list(
        Score.select().where(
            (Score.item == item)
            & (Score.source == ScoreSource.COMPUTED)
            & (Score.state == ScoreState.PENDING)
            & (Score.unit == unit_id)
        )
    )


def decide_scores(
    acting: Acting, item: Item, rows: list[Score], state: ScoreState, why: str
) -> int:
    """Computed scores that waited for the office: they count now, or are set aside."""
    if not rows:
        return 0
    Score.update(state=state, decided_by=acting.userid, decided_at=acting.now).where(
        Score.id.in_([r.id for r in rows])
    ).execute()
    newest = max(rows, key=lambda r: r.id)
    verb = "计入总分" if state == ScoreState.ACCEPTED else "不计入总分"
    acting.audit(
        "score_accepted" if state == ScoreState.ACCEPTED else "score_returned",
        f"{item.code} 按上报数据计算的得分 {format_points(newest.points)} {verb}（{why}）",
        item_code=item.code,
        before={"state": ScoreState.PENDING, "scores": [r.id for r in rows]},
        after={"state": state},
    )
    return len(rows)
