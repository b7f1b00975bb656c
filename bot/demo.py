"""Sample people, deadlines, progress and scores for `run.py demo` (its own database only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from models.audit import AuditEntry
from models.db import database
from models.org import Member, Unit, find_member
from models.plan import Assignment, Item
from models.progress import ProgressReport
from models.scores import Score

DEMO_ADMIN = "demo_admin"

# userid, display name, unit, role
DEMO_PEOPLE = (
    (DEMO_ADMIN, "办公室管理员", "县市场监管局", "admin"),
    ("demo_leader", "县领导", "县人民政府", "leader"),
    ("demo_scj", "市监局联络员", "县市场监管局", "liaison"),
    ("demo_scj_head", "市监局负责人", "县市场监管局", "head"),
    ("demo_gxj", "工信局联络员", "县工信科技局", "liaison"),
    ("demo_tjj", "统计局联络员", "县统计局", "liaison"),
)

# code, unit, days from today, progress
DEMO_DEADLINES = (
    ("T11", "县市场监管局", -3, 40),
    ("T14", "县市场监管局", 6, 0),
    ("T19", "县市场监管局", 20, 70),
    ("T17", "县工信科技局", 2, 50),
    ("T5", "县工信科技局", 12, 100),
    ("T18", "县工信科技局", -1, 20),
    ("Z1", "县统计局", 9, 30),
    ("Z4", "县统计局", 25, 0),
)

DEMO_SCORES = (("Z1", 1), ("Z3", 1), ("Z11", 2), ("Z35", 2), ("Z36", 3), ("Z37", 2), ("Z20", 2))


def seed_demo(now: datetime) -> bool:
    """Add the sample data once; False if it is there already."""
    if find_member(DEMO_ADMIN) is not None:
        return False
    today = now.date()
    with database.atomic():
        for userid, name, unit_name, role in DEMO_PEOPLE:
            Member.create(
                wecom_userid=userid,
                display_name=name,
                unit=Unit.get(Unit.name == unit_name),
                role=role,
                bound_at=now,
                bound_by="demo",
            )
        for code, unit_name, days, progress in DEMO_DEADLINES:
            item = Item.get(Item.code == code)
            unit = Unit.get(Unit.name == unit_name)
            assignment = Assignment.get((Assignment.item == item) & (Assignment.unit == unit))
            assignment.deadline = today + timedelta(days=days)
            assignment.progress = progress
            assignment.status = "done" if progress == 100 else "open"
            assignment.updated_at = now
            assignment.save()
            if progress:
                ProgressReport.create(
                    assignment=assignment,
                    wecom_userid="demo",
                    percent=progress,
                    note="演示数据",
                    kind="done" if progress == 100 else "progress",
                    created_at=now,
                )
        for code, points in DEMO_SCORES:
            Score.create(
                item=Item.get(Item.code == code),
                points=Decimal(points),
                reason="演示数据",
                source="office",
                wecom_userid="demo",
                created_at=now,
            )
        AuditEntry.record(now, "demo", "demo", "载入演示数据：6 位人员、8 个期限、7 项评分")
    return True
