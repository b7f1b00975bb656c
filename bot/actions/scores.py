"""Figures and scores: a unit's figures for a quantitative indicator (数据), the score computed
from them, the office's own score (评分), and the office accepting or setting aside a computed
score when it reviews the unit's work (通过 / 退回)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.actions.base import Acting, Refused
from bot.actions.lookup import share_of
from bot.actions.review import decide_scores, reopen_for_review
from bot.render import format_points
from models.org import Unit
from models.plan import Item, Status
from models.scores import FigureReport, Score, ScoreSource, ScoreState
from reminders.rules import Computed, RuleError, compute, figures_problem


@dataclass(frozen=True)
class FiguresRecorded:
    report: FigureReport
    shown: list[dict[str, str]]  # label, unit, value of each figure, in the plan's order
    computed: Computed | None  # the score the figures give (None: the office judges it all)
    waiting: bool  # the computed score waits for the office (待审核)
    office: Score | None  # the office's own score, which stays in force


def record_figures(
    acting: Acting, item: Item, figures: list[Decimal], unit: Unit | None
) -> FiguresRecorded:
    """Store the figures a unit (or the office) reports for a quantitative indicator, in the
    plan's order, and the score they give. A unit's figures count once the office accepts them."""
    if not item.is_quantitative:
        raise Refused(f"{item.code} 是定性指标，由办公室评定，无需上报数据。")
    inputs = item.inputs
    if len(figures) != len(inputs):
        labels = "、".join(
            f"{i['label']}" + (f"（{i['unit']}）" if i.get("unit") else "") for i in inputs
        )
        raise Refused(
            f"{item.code} 需要按顺序上报 {len(inputs)} 个数：{labels}；您写了 {len(figures)} 个。"
        )
    values = {spec["key"]: value for spec, value in zip(inputs, figures, strict=True)}
    problem = figures_problem(inputs, values)
    if problem:
        raise Refused(problem)
    share = share_of(item, unit) if unit is not None else None
    if not acting.is_admin and share is None:
        name = unit.name if unit is not None else "您的单位"
        raise Refused(f"{item.code} 不是{name}的责任事项，只能报告本单位承担的指标。")
    try:  # impossible figures (a zero denominator…) are refused before anything is stored
        computed = compute(item.rule or {}, inputs, values, item.max_points_value())
    except RuleError as exc:
        raise Refused(f"{item.code} 的数据有误：{exc}") from None
    stored = {key: str(value) for key, value in values.items()}
    report = FigureReport.create(
        item=item, unit=unit, wecom_userid=acting.userid, values=stored, created_at=acting.now
    )
    shown = [
        {"label": spec["label"], "unit": spec.get("unit", ""), "value": stored[spec["key"]]}
        for spec in inputs
    ]
    acting.audit(
        "figures",
        f"{unit.name if unit else acting.userid}上报 {item.code} 数据："
        + "；".join(f"{s['label']} {s['value']}{s['unit']}" for s in shown),
        item_code=item.code,
        unit_name=unit.name if unit else "",
        after={"values": stored, "report": report.id},
    )
    waiting = False
    if computed is not None:
        # The office's own figures need no review; nor do a unit's when the office does not
        # review plan items (REVIEW without "plan").
        accepted = acting.is_admin or "plan" not in acting.config.review_kinds
        waiting = _record_computed(acting, item, computed, report, unit, accepted)
        if waiting and share is not None and share.status == Status.DONE:
            # New figures for work already accepted: the office checks them again.
            reopen_for_review(acting, share, f"更新了 {item.code} 的数据")
    office = (
        Score.select()
        .where((Score.item == item) & (Score.source == ScoreSource.OFFICE))
        .order_by(Score.id.desc())
        .first()
    )
    return FiguresRecorded(report, shown, computed, waiting, office)


def _record_computed(
    acting: Acting,
    item: Item,
    computed: Computed,
    report: FigureReport,
    unit: Unit | None,
    accepted: bool,
) -> bool:
    """A new computed score when the figures change it; True when it waits for the office."""
    previous = (
        Score.select()
        .where(
            (Score.item == item)
            & (Score.source == ScoreSource.COMPUTED)
            & (Score.state != ScoreState.RETURNED)
        )
        .order_by(Score.id.desc())
        .first()
    )
    if previous is not None and Decimal(previous.points) == computed.points:
        if previous.state == ScoreState.PENDING and accepted:
            decide_scores(acting, item, [previous], ScoreState.ACCEPTED, "办公室上报数据")
            return False
        return bool(previous.state == ScoreState.PENDING)
    state = ScoreState.ACCEPTED if accepted else ScoreState.PENDING
    Score.create(
        item=item,
        points=computed.points,
        reason="按上报数据计算：" + "；".join(computed.lines),
        source=ScoreSource.COMPUTED,
        wecom_userid=acting.userid,
        created_at=acting.now,
        state=state,
        unit=unit,
        figures=report,
        decided_by=acting.userid if accepted else "",
        decided_at=acting.now if accepted else None,
    )
    before = format_points(previous.points) if previous else "未评分"
    acting.audit(
        "score_computed",
        f"{item.code} 按上报数据计算得分：{before} → {format_points(computed.points)}"
        + ("" if accepted else "（待办公室审核后计入）"),
        item_code=item.code,
        unit_name=unit.name if unit else "",
        before={"points": str(previous.points) if previous else None},
        after={"points": str(computed.points), "lines": list(computed.lines), "state": state},
    )
    return not accepted


@dataclass(frozen=True)
class Scored:
    points: Decimal
    maximum: Decimal
    previous: Decimal | None


def score_indicator(acting: Acting, item: Item, points: Decimal, reason: str) -> Scored:
    """The office's score: 0 to the indicator's full points; it wins over a computed one."""
    if not acting.is_admin:
        raise Refused("只有领导小组办公室可以评分。")
    if not item.is_indicator:
        raise Refused(f"{item.code} 不是评估指标，不能评分。")
    maximum = item.max_points_value()
    if points < 0:
        raise Refused(f"分数不能为负数（{format_points(points)}）。")
    if points > maximum:
        raise Refused(f"{item.code} 满分 {format_points(maximum)} 分，不能打 {points} 分。")
    previous = Score.current_for(item)
    Score.create(
        item=item,
        points=points,
        reason=reason,
        source=ScoreSource.OFFICE,
        wecom_userid=acting.userid,
        created_at=acting.now,
        decided_by=acting.userid,
        decided_at=acting.now,
    )
    acting.audit(
        "score",
        f"{item.code} 评分：{format_points(previous.points) if previous else '未评分'} → "
        f"{format_points(points)}" + (f"（{reason}）" if reason else ""),
        item_code=item.code,
        before={"points": str(previous.points) if previous else None},
        after={"points": str(points), "reason": reason},
    )
    return Scored(points, maximum, Decimal(previous.points) if previous else None)
