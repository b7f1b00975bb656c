"""Reads the categories, indicators and current scores from the database into a Scorecard."""

from __future__ import annotations

from decimal import Decimal

from models.plan import Category, Item, ItemKind
from models.scores import Score
from reminders.rules import computes_fully
from reminders.scoring import Scorecard, build_scorecard


def load_scorecard() -> Scorecard:
    categories = list(Category.select().order_by(Category.position, Category.id))
    names = {c.id: c.name for c in categories}
    level1 = [(c.name, Decimal(c.points)) for c in categories if c.parent_id is None]
    level2 = [
        (c.name, Decimal(c.points), names[c.parent_id])
        for c in categories
        if c.parent_id is not None
    ]
    items = list(
        Item.select().where(Item.kind == ItemKind.INDICATOR).order_by(Item.position, Item.id)
    )
    current = Score.current_with_source()
    pending = Score.waiting()
    indicators = [(i.code, i.title, i.max_points_value(), names[i.category_id or 0]) for i in items]
    scores = {i.code: current[i.id][0] for i in items if i.id in current}
    # A computed score of an indicator with office-judged parts is only part of its score.
    partial = {
        i.code
        for i in items
        if i.id in current and current[i.id][1] == "computed" and not computes_fully(i.rule)
    }
    waiting = {i.code: points for i in items if (points := pending.get(i.id)) is not None}
    return build_scorecard(level1, level2, indicators, scores, partial=partial, waiting=waiting)
