"""Evidence (佐证材料): a received file is attached to the item named in its caption, or to the
item the sender last named within a few minutes; otherwise it waits for `佐证 <编号>`.
A file the platform could not hand over yet is recorded and fetched again later."""

from __future__ import annotations

from datetime import timedelta

from bot.commands.common import admin_userids, audit, own_assignment, require_item
from bot.commands.registry import CommandError, Context, command
from bot.evidence import StoredFile, clean_name
from bot.text import find_code, find_point
from models.messages import InboundMessage, MediaDownload
from models.plan import Assignment, Item
from models.progress import Evidence

MEDIA_LIFETIME = timedelta(days=3)  # WeCom media ids expire after 3 days
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


def checklist_coverage(item: Item, unit_id: int | None) -> list[dict]:
    """Each checklist point of an indicator with the number of files that support it."""
    query = Evidence.select(Evidence.point).where(Evidence.item == item)
    if unit_id is not None:
        query = query.where(Evidence.unit == unit_id)
    counts: dict[int | None, int] = {}
    for (point,) in query.tuples():
        counts[point] = counts.get(point, 0) + 1
    return [
        {"n": n, "text": text, "count": counts.get(n, 0)}
        for n, text in enumerate(item.checklist(), start=1)
    ]


def _point_for(item: Item, caption: str) -> int | None:
    point = find_point(caption) if caption else None
    if point is None or not 1 <= point <= len(item.checklist()):
        return None
    return point


def store_evidence(ctx: Context, stored: StoredFile, caption: str = ""):
    """Record the file; attach it when the item is clear. Returns (assignment, named, count)."""
    named = find_code(caption) if caption else None
    assignment = _assignment_for(ctx, named or _recent_code(ctx))
    point = (
        _point_for(assignment.item, caption)
        if assignment and assignment.item.is_indicator
        else None
    )
    evidence = Evidence.create(
        point=point,
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
    unit_name = ctx.member.unit.name if ctx.member and ctx.member.unit else ""
    if assignment is None:
        audit(
            ctx,
            "evidence",
            f"收到文件“{stored.original_name}”，待指定事项",
            unit_name=unit_name,
            after={"evidence": evidence.id, "sha256": stored.sha256},
        )
        return None, named, 0
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
    return assignment, named, count


def attach_file(ctx: Context, stored: StoredFile, caption: str = "") -> str:
    assignment, named, count = store_evidence(ctx, stored, caption)
    if assignment is None:
        return ctx.say(
            "replies.j2", "evidence_needs_item", name=stored.original_name, wrong_code=named or ""
        )
    return _attached_reply(ctx, [stored.original_name], assignment, count)


def _attached_reply(ctx: Context, names: list[str], assignment: Assignment, count: int) -> str:
    item = assignment.item
    return ctx.say(
        "replies.j2",
        "evidence_attached",
        names=names,
        item=item,
        count=count,
        coverage=checklist_coverage(item, assignment.unit_id) if item.is_indicator else [],
    )


def record_pending_download(ctx: Context, payload: dict, error: str) -> str:
    """The platform did not hand the file over: keep its id and fetch it again later."""
    name = clean_name(payload.get("file_name") or "") if payload.get("file_name") else "图片/文件"
    MediaDownload.insert(
        inbound=ctx.inbound.id,
        media_id=str(payload["media_id"]),
        file_name=payload.get("file_name") or "",
        wecom_userid=ctx.userid,
        attempts=1,
        next_attempt_at=ctx.now + timedelta(minutes=1),
        expires_at=ctx.inbound.received_at + MEDIA_LIFETIME,
        last_error=error[:500],
        created_at=ctx.now,
    ).on_conflict_ignore().execute()
    audit(
        ctx,
        "evidence_pending",
        f"收到文件“{name}”，暂未取回：{error[:100]}",
        unit_name=ctx.member.unit.name if ctx.member and ctx.member.unit else "",
    )
    return ctx.say("replies.j2", "file_pending", name=name)


def download_succeeded(ctx: Context, download: MediaDownload, stored: StoredFile) -> None:
    caption = (download.inbound.text or "") if download.inbound_id else ""
    assignment, _, count = store_evidence(ctx, stored, caption)
    MediaDownload.update(status="done", last_error="").where(
        MediaDownload.id == download.id
    ).execute()
    text = ctx.say(
        "replies.j2",
        "file_fetched",
        names=[stored.original_name],
        item=assignment.item if assignment else None,
        count=count,
    )
    ctx.outbox.to_members([download.wecom_userid], text, f"download-ok:{download.id}")


def download_failed(
    ctx: Context, download: MediaDownload, error: str, *, permanent: bool = False
) -> None:
    """Back off; tell the admins once when the 3-day lifetime is close; give up after it."""
    attempts = download.attempts + 1
    name = download.file_name or "图片/文件"
    if permanent or ctx.now >= download.expires_at:
        MediaDownload.update(status="failed", attempts=attempts, last_error=error[:500]).where(
            MediaDownload.id == download.id
        ).execute()
        text = ctx.say("replies.j2", "file_lost", name=name)
        ctx.outbox.to_members([download.wecom_userid], text, f"download-lost:{download.id}")
        return
    delay = timedelta(minutes=min(60, 2 ** min(attempts, 6)))
    MediaDownload.update(
        attempts=attempts, last_error=error[:500], next_attempt_at=ctx.now + delay
    ).where(MediaDownload.id == download.id).execute()
    if not download.admins_told and download.expires_at - ctx.now <= timedelta(hours=12):
        MediaDownload.update(admins_told=True).where(MediaDownload.id == download.id).execute()
        text = ctx.renderer.render(
            "download_alert.j2", download=download, name=name, error=error[:200]
        )
        ctx.outbox.to_members(admin_userids(ctx), text, f"download-alert:{download.id}")


@command(
    "佐证",
    aliases=("evidence", "材料"),
    access="member",
    usage="佐证 <编号> [第N项]",
    help="把刚发送、尚未归档的文件归到某项任务或指标（可注明支撑评分标准的第几项）",
)
def evidence_cmd(ctx: Context, args: list[str]) -> str:
    item = require_item(args[0] if args else None)
    assignment = own_assignment(ctx, item)
    point = None
    if len(args) > 1:
        point = _point_for(item, " ".join(args[1:])) if item.is_indicator else None
        if point is None:
            points = len(item.checklist())
            raise CommandError(
                f"“{' '.join(args[1:])}”看不懂：{item.code} 的评分标准共 {points} 项，写“第1项”到“第{points}项”。"
                if item.is_indicator and points
                else f"{item.code} 不分项，直接写“佐证 {item.code}”即可。"
            )
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
    Evidence.update(item=item, assignment=assignment, unit=assignment.unit_id, point=point).where(
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
    return _attached_reply(ctx, names, assignment, count)
