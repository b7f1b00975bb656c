"""Evidence (佐证材料): a received file is attached to the item named in its caption, or to the
item the sender last named within a few minutes; otherwise it waits for `佐证 <编号>`."""

from __future__ import annotations

from datetime import timedelta

from bot.commands.common import audit, own_assignment, require_item
from bot.commands.registry import CommandError, Context, command
from bot.evidence import StoredFile
from bot.text import find_code
from models.messages import InboundMessage
from models.plan import Assignment, Item
from models.progress import Evidence

PENDING_DAYS = 3  # unattached files older than this are no longer offered to `佐证`


def _recent_code(ctx: Context) -> str | None:
    """The newest code the sender typed within the configured window, if any."""
    since = ctx.now - timedelta(minutes=ctx.config.evidence_attach_minutes)
    query = (
        InboundMessage.select(InboundMessage.text)
        .where(
            (InboundMessage.wecom_userid == ctx.userid)
            & (InboundMessage.kind == "text")
            & (InboundMessage.received_at >= since)
        )
        .order_by(InboundMessage.id.desc())
        .limit(10)
    )
    for row in query:
        code = find_code(row.text)
        if code:
            return code
    return None


def _assignment_for(ctx: Context, code: str | None) -> Assignment | None:
    if code is None or ctx.member is None or ctx.member.unit_id is None:
        return None
    item = Item.get_or_none(Item.code == code)
    if item is None:
        return None
    return Assignment.get_or_none(
        (Assignment.item == item) & (Assignment.unit == ctx.member.unit_id)
    )


def attach_file(ctx: Context, stored: StoredFile, caption: str = "") -> str:
    """Record a received file; attach it when the item is clear, else ask which item."""
    named = find_code(caption) if caption else None
    code = named or _recent_code(ctx)
    assignment = _assignment_for(ctx, code)
    evidence = Evidence.create(
        item=assignment.item_id if assignment else None,
        unit=ctx.member.unit_id if ctx.member else None,
        assignment=assignment,
        wecom_userid=ctx.userid,
        original_name=stored.original_name,
        sha256=stored.sha256,
        size=stored.size,
        content_type=stored.content_type,
        created_at=ctx.now,
    )
    if assignment is None:
        audit(
            ctx,
            "evidence",
            f"收到文件“{stored.original_name}”，待指定事项",
            unit_name=ctx.member.unit.name if ctx.member and ctx.member.unit else "",
            after={"evidence": evidence.id, "sha256": stored.sha256},
        )
        return ctx.say(
            "replies.j2",
            "evidence_needs_item",
            name=stored.original_name,
            wrong_code=named if named and not assignment else "",
        )
    item = assignment.item
    audit(
        ctx,
        "evidence",
        f"{assignment.unit.name}为 {item.code} 提交佐证材料“{stored.original_name}”",
        item_code=item.code,
        unit_name=assignment.unit.name,
        after={"evidence": evidence.id, "sha256": stored.sha256, "size": stored.size},
    )
    count = (
        Evidence.select()
        .where((Evidence.item == item) & (Evidence.unit == assignment.unit_id))
        .count()
    )
    return ctx.say(
        "replies.j2", "evidence_attached", names=[stored.original_name], item=item, count=count
    )


@command(
    "佐证",
    aliases=("evidence", "材料"),
    access="member",
    usage="佐证 <编号>",
    help="把刚发送、尚未归档的文件归到某项任务或指标",
)
def evidence_cmd(ctx: Context, args: list[str]) -> str:
    item = require_item(args[0] if args else None)
    assignment = own_assignment(ctx, item)
    since = ctx.now - timedelta(days=PENDING_DAYS)
    waiting = list(
        Evidence.select()
        .where(
            (Evidence.wecom_userid == ctx.userid)
            & (Evidence.item.is_null())
            & (Evidence.created_at >= since)
        )
        .order_by(Evidence.id)
    )
    if not waiting:
        raise CommandError(
            "没有待归档的文件。请先发送文件（图片或文档），再发送“佐证 编号”。", show_usage=False
        )
    Evidence.update(item=item, assignment=assignment, unit=assignment.unit_id).where(
        Evidence.id.in_([e.id for e in waiting])
    ).execute()
    names = [e.original_name for e in waiting]
    audit(
        ctx,
        "evidence",
        f"{assignment.unit.name}将 {len(names)} 个文件归到 {item.code}：" + "、".join(names),
        item_code=item.code,
        unit_name=assignment.unit.name,
        after={"evidence": [e.id for e in waiting]},
    )
    count = (
        Evidence.select()
        .where((Evidence.item == item) & (Evidence.unit == assignment.unit_id))
        .count()
    )
    return ctx.say("replies.j2", "evidence_attached", names=names, item=item, count=count)
