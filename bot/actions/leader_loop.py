"""The 批示 loop (办理结果报原批办领导): the leader a 交办 item reports back to (its 批示领导,
else the leader who assigned it) hears, in one short message through the outbox, when a unit
signs for it, when its deadline is extended and when a unit's completion passes review. Overdue
notices reach the same leader through the reminder ladder (Step.LEADER)."""

from __future__ import annotations

from bot.actions.base import Acting
from models import userids
from models.org import Member
from models.plan import Item


def leader_of(item: Item) -> Member | None:
    """The bound, active leader an item reports back to (None: none, or not a leader)."""
    if not item.is_assigned or not item.reports_to:
        return None
    return Member.get_or_none(
        userids.matches(Member.wecom_userid, item.reports_to) & Member.having("leader")
    )


def report_back(acting: Acting, item: Item, event: str, what: str, key: str) -> int:
    """Tell the item's leader `what` happened (`event`: 签收, 延期, 通过). Nobody is told about
    their own doing. Returns how many messages were queued (0 or 1)."""
    leader = leader_of(item)
    if leader is None or userids.same(leader.wecom_userid, acting.userid):
        return 0
    text = acting.renderer.render("leader_report.j2", item=item, event=event, what=what)
    return acting.tell([leader.wecom_userid], text, f"leader-report:{key}")
