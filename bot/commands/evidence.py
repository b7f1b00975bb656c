"""Evidence (佐证材料): a received file is attached to the item named in its caption, or to the
item the sender last named within a few minutes; otherwise it waits for `佐证 <编号>`.
A file the platform has to hand over is recorded at once and fetched by the download threads
(bot/downloads.py); its answer comes when the download is settled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import peewee

from bot.commands.args import Arg, IntArg, ItemArg, Keyword, RestArg
from bot.commands.common import admin_userids, audit, own_assignment
from bot.commands.registry import CommandError, Context, command
from bot.evidence import StoredFile, clean_name
from bot.text import find_code, find_point
from models.messages import InboundMessage, MediaDownload, OutboxMessage
from models.org import Unit
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
    query = Evidence.select(Evidence.point).where((Evidence.item == item) & Evidence.active())
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


@dataclass(frozen=True)
class Filed:
    """Where a received file went: its assignment (None: waiting for `佐证 编号`), the code its
    caption named, the unit's file count for the item, and the earlier copy if it was one."""

    assignment: Assignment | None
    named: str | None
    count: int
    duplicate: Evidence | None = None


def store_evidence(ctx: Context, stored: StoredFile, caption: str = "") -> Filed:
    """Record the file; attach it when the item is clear. The same file (SHA-256) sent again for
    the same unit, item and checklist point is one piece of evidence: nothing new is recorded."""
    named = find_code(caption) if caption else None
    assignment = _assignment_for(ctx, named or _recent_code(ctx))
    point = (
        _point_for(assignment.item, caption)
        if assignment and assignment.item.is_indicator
        else None
    )
    if assignment is not None:
        earlier = (
            Evidence.select()
            .where(
                (Evidence.sha256 == stored.sha256)
                & (Evidence.unit == assignment.unit_id)
                & (Evidence.item == assignment.item_id)
                # One document may support several points of an indicator's checklist.
                & ((Evidence.point == point) if point else Evidence.point.is_null())
                & Evidence.active()
            )
            .order_by(Evidence.id)
            .first()
        )
        if earlier is not None:
            return Filed(
                assignment, named, unit_file_count(assignment.item, assignment.unit_id), earlier
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
        return Filed(None, named, 0)
    item = assignment.item
    audit(
        ctx,
        "evidence",
        f"{assignment.unit.name}为 {item.code} 提交佐证材料“{stored.original_name}”",
        item_code=item.code,
        unit_name=assignment.unit.name,
        after={"evidence": evidence.id, "sha256": stored.sha256, "size": stored.size},
    )
    return Filed(assignment, named, unit_file_count(item, assignment.unit_id))


def unit_file_count(item: Item, unit_id: int) -> int:
    return (
        Evidence.select()
        .where((Evidence.item == item) & (Evidence.unit == unit_id) & Evidence.active())
        .count()
    )


def attach_file(ctx: Context, stored: StoredFile, caption: str = "") -> str:
    """The answer to a received file: an admin's spreadsheet starts an import's dry run (see
    bot/commands/imports.py: is_import); anything else is evidence."""
    from bot.commands.imports import import_file, is_import

    if is_import(ctx, stored, caption):
        return import_file(ctx, stored)
    filed = store_evidence(ctx, stored, caption)
    if filed.duplicate is not None:
        return ctx.say(
            "replies.j2", "evidence_duplicate", earlier=filed.duplicate, item=filed.assignment.item
        )
    if filed.assignment is None:
        return ctx.say(
            "replies.j2",
            "evidence_needs_item",
            name=stored.original_name,
            wrong_code=filed.named or "",
            exists=bool(filed.named) and Item.get_or_none(Item.code == filed.named) is not None,
        )
    return _attached_reply(ctx, [stored.original_name], filed.assignment, filed.count)


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


def queue_download(ctx: Context, payload: dict) -> None:
    """A file to fetch from the platform: recorded now, fetched by the download threads (a slow
    peer must not hold anyone's replies). Its answer comes when the download is settled."""
    hint = clean_name(payload.get("file_name") or "") if payload.get("file_name") else ""
    MediaDownload.insert(
        inbound=ctx.inbound.id,
        media_id=str(payload["media_id"])[:255],
        file_name=hint,  # cut to fit, as every stored name is (PostgreSQL refuses longer ones)
        wecom_userid=ctx.userid,
        attempts=0,
        next_attempt_at=ctx.now,
        expires_at=ctx.inbound.received_at + MEDIA_LIFETIME,
        created_at=ctx.now,
    ).on_conflict_ignore().execute()


# A file message gets exactly one final answer (its evidence, or why there is none) and at most
# one word before it ("正在取回", or "暂未取回，会自动重试"): one dedupe key for each.
def _final_key(download: MediaDownload) -> str:
    return f"download-done:{download.id}"


def _waiting_key(download: MediaDownload) -> str:
    return f"download-wait:{download.id}"


def _settle(download: MediaDownload, **fields) -> bool:
    """Write a download's outcome while the claim is still this worker's; False if its lease
    lapsed and another worker took the download (that one answers)."""
    return bool(
        MediaDownload.update(**fields)
        .where(
            (MediaDownload.id == download.id)
            & (MediaDownload.status == "fetching")
            & (MediaDownload.next_attempt_at == download.next_attempt_at)
        )
        .execute()
    )


def _name(download: MediaDownload) -> str:
    return download.file_name or "图片/文件"


def _told_waiting(download: MediaDownload) -> bool:
    if download.attempts > 0:  # an attempt failed: the sender was told it would be retried
        return True
    return OutboxMessage.select().where(OutboxMessage.dedupe_key == _waiting_key(download)).exists()


def _answer(ctx: Context, download: MediaDownload, text: str) -> None:
    ctx.outbox.to_members(
        [download.wecom_userid], text, _final_key(download), inbound=download.inbound_id
    )


def download_slow(ctx: Context, download: MediaDownload) -> None:
    """The download is taking a while: say once that the file arrived and is being fetched."""
    text = ctx.say("replies.j2", "file_fetching", name=_name(download))
    ctx.outbox.to_members([download.wecom_userid], text, _waiting_key(download))


def download_succeeded(ctx: Context, download: MediaDownload, stored: StoredFile) -> bool:
    """File the evidence and give the message its answer; False if the claim was lost."""
    if not _settle(download, status="done", last_error=""):
        return False
    # Asked after the settling UPDATE holds the row: a word the inbound thread was sending at
    # this moment is committed by now, and seen.
    told = _told_waiting(download)
    caption = (download.inbound.text or "") if download.inbound_id else ""
    from bot.commands.imports import is_import

    # The sender has heard nothing yet: the answer a file gets at once (an import's dry run too).
    if not told or is_import(ctx, stored, caption):
        _answer(ctx, download, attach_file(ctx, stored, caption))
        return True
    filed = store_evidence(ctx, stored, caption)
    if filed.duplicate is not None:
        text = ctx.say(
            "replies.j2", "evidence_duplicate", earlier=filed.duplicate, item=filed.assignment.item
        )
    else:
        text = ctx.say(
            "replies.j2",
            "file_fetched",
            names=[stored.original_name],
            item=filed.assignment.item if filed.assignment else None,
            count=filed.count,
        )
    _answer(ctx, download, text)
    return True


def download_failed(
    ctx: Context, download: MediaDownload, error: str, *, permanent: bool = False
) -> bool:
    """Refused for good: say why. Otherwise back off, tell the sender once that it will be
    retried, the admins once when the 3-day lifetime is close, and give up after it.
    False if the claim was lost."""
    attempts = download.attempts + 1
    name = _name(download)
    if permanent or ctx.now >= download.expires_at:
        if not _settle(download, status="failed", attempts=attempts, last_error=error[:500]):
            return False
        if permanent:
            text = ctx.say("errors.j2", "file_refused", reason=error)
        else:
            text = ctx.say("replies.j2", "file_lost", name=name)
        _answer(ctx, download, text)
        return True
    delay = timedelta(minutes=min(60, 2 ** min(attempts, 6)))
    if not _settle(
        download,
        status="pending",
        attempts=attempts,
        last_error=error[:500],
        next_attempt_at=ctx.now + delay,
    ):
        return False
    if attempts == 1:
        audit(
            ctx,
            "evidence_pending",
            f"收到文件“{name}”，暂未取回：{error[:100]}",
            unit_name=ctx.member.unit.name if ctx.member and ctx.member.unit else "",
        )
    text = ctx.say("replies.j2", "file_pending", name=name)
    ctx.outbox.to_members([download.wecom_userid], text, _waiting_key(download))
    if not download.admins_told and download.expires_at - ctx.now <= timedelta(hours=12):
        MediaDownload.update(admins_told=True).where(MediaDownload.id == download.id).execute()
        download.attempts = attempts
        text = ctx.renderer.render(
            "download_alert.j2", download=download, name=name, error=error[:200]
        )
        ctx.outbox.to_members(admin_userids(ctx), text, f"download-alert:{download.id}")
    return True


class PointArg(Arg):
    """A point of an indicator's checklist: 第2项, 第二项, 2."""

    def shapes(self, scan, pos):
        word, end = scan.word(pos)
        if word.isascii() and word.isdigit() and len(word) <= 2:
            return [(int(word), end)]
        point = find_point(word) if word.startswith("第") else None
        return [(point, end)] if point is not None else []

    def bad_shape(self, word):
        return f"“{word}”看不懂：请写评分标准的第几项，如“第2项”。"


POINT = PointArg("point", "第N项", optional=True)
FILE_NO = IntArg("file", "文件号", what="文件号")


def _point_in(item: Item, point: int | None) -> int | None:
    if point is None:
        return None
    points = len(item.checklist())
    if not item.is_indicator or points <= 1:
        raise CommandError(f"{item.code} 不分项，直接写“佐证 {item.code}”即可。")
    if not 1 <= point <= points:
        raise CommandError(f"{item.code} 的评分标准共 {points} 项，写“第1项”到“第{points}项”。")
    return point


@command(
    "佐证",
    aliases=("evidence", "材料"),
    args=(ItemArg(), POINT),
    access="unit",
    help="把刚发送、尚未归档的文件归到某项任务或指标（可注明支撑评分标准的第几项）",
    example="佐证 Z12 第2项",
)
def evidence_cmd(ctx: Context, args) -> str:
    item = args.item
    assignment = own_assignment(ctx, item)
    point = _point_in(item, args.point)
    waiting = waiting_files(ctx, timedelta(days=PENDING_DAYS))
    if not waiting:
        raise CommandError(
            "没有待归档的文件。请先发送文件（图片或文档），再发送“佐证 编号”。"
            "归错了可以发送“佐证 列表”查看文件号，再“佐证 改归 文件号 编号”。",
            show_usage=False,
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
    return _attached_reply(ctx, names, assignment, unit_file_count(item, assignment.unit_id))


@command(
    "佐证",
    access="unit",
    args=(Keyword(words=("列表", "list", "清单")), ItemArg(optional=True)),
    help="列出本单位提交的佐证材料和文件号（可只看某一项）",
    example="佐证 列表 T7",
)
def evidence_list(ctx: Context, args) -> str:
    query = (
        Evidence.select(Evidence, Item, Unit)
        .join(Item, peewee.JOIN.LEFT_OUTER, on=(Evidence.item == Item.id))
        .switch(Evidence)
        .join(Unit, peewee.JOIN.LEFT_OUTER, on=(Evidence.unit == Unit.id))
    )
    if not ctx.is_admin:
        mine = Evidence.wecom_userid == ctx.userid
        if ctx.member is not None and ctx.member.unit_id is not None:
            mine = mine | (Evidence.unit == ctx.member.unit_id)
        query = query.where(mine)
    if args.item is not None:
        query = query.where(Evidence.item == args.item)
    total = query.count()
    files = list(query.order_by(Evidence.id.desc()).limit(15))
    return ctx.renderer.render(
        "evidence_list.j2", files=files, total=total, item=args.item, is_admin=ctx.is_admin
    )


def _own_file(ctx: Context, number: int) -> Evidence:
    evidence = Evidence.get_or_none(Evidence.id == number)
    if evidence is None:
        raise CommandError(f"没有文件号为 {number} 的材料。发送“佐证 列表”查看文件号。")
    if not ctx.is_admin and evidence.wecom_userid != ctx.userid:
        raise CommandError(
            f"文件 {number} 不是您提交的，只有提交人或办公室可以改动。", show_usage=False
        )
    if evidence.withdrawn_at is not None:
        raise CommandError(f"文件 {number} 已撤回，不能再改动。", show_usage=False)
    return evidence


@command(
    "佐证",
    args=(Keyword(words=("改归", "改到", "改为", "move")), FILE_NO, ItemArg(), POINT),
    access="unit",
    help="把归错的文件改归到另一项（提交人或办公室）",
    example="佐证 改归 12 T8",
)
def evidence_refile(ctx: Context, args) -> str:
    evidence = _own_file(ctx, args.file)
    item = args.item
    unit_id = evidence.unit_id or (ctx.member.unit_id if ctx.member else None)
    assignment = Assignment.get_or_none((Assignment.item == item) & (Assignment.unit == unit_id))
    if assignment is None:
        unit = Unit.get_or_none(Unit.id == unit_id)
        raise CommandError(
            f"{item.code} 不是{unit.name if unit else '该单位'}的责任事项，不能归到这里。",
            show_usage=False,
        )
    point = _point_in(item, args.point)
    before = {"item": evidence.item.code if evidence.item else None, "point": evidence.point}
    if before == {"item": item.code, "point": point}:
        raise CommandError(f"文件 {evidence.id} 已经归在 {item.code}，没有变化。", show_usage=False)
    Evidence.update(item=item, assignment=assignment, unit=assignment.unit_id, point=point).where(
        Evidence.id == evidence.id
    ).execute()
    audit(
        ctx,
        "evidence_refile",
        f"文件 {evidence.id}“{evidence.original_name}”由 {before['item'] or '待归档'} 改归到 {item.code}"
        + (f" 第{point}项" if point else ""),
        item_code=item.code,
        unit_name=assignment.unit.name,
        before=before,
        after={"item": item.code, "point": point},
    )
    return ctx.say(
        "replies.j2",
        "evidence_refiled",
        evidence=evidence,
        old=before["item"],
        item=item,
        point=point,
        count=unit_file_count(item, assignment.unit_id),
    )


@command(
    "佐证",
    args=(Keyword(words=("撤回", "删除", "withdraw")), FILE_NO, RestArg("reason", "原因")),
    access="unit",
    help="撤回提交错的文件（提交人或办公室；留痕，不删除原件）",
    example="佐证 撤回 12 传错了",
)
def evidence_withdraw(ctx: Context, args) -> str:
    evidence = _own_file(ctx, args.file)
    Evidence.update(withdrawn_at=ctx.now, withdrawn_by=ctx.userid).where(
        Evidence.id == evidence.id
    ).execute()
    code = evidence.item.code if evidence.item else ""
    audit(
        ctx,
        "evidence_withdraw",
        f"撤回文件 {evidence.id}“{evidence.original_name}”"
        + (f"（{code}）" if code else "")
        + (f"：{args.reason}" if args.reason else ""),
        item_code=code,
        unit_name=evidence.unit.name if evidence.unit else "",
        before={"withdrawn": False},
        after={"withdrawn": True, "reason": args.reason or ""},
    )
    return ctx.say("replies.j2", "evidence_withdrawn", evidence=evidence, code=code)


def waiting_files(ctx: Context, within: timedelta) -> list[Evidence]:
    """The caller's files not yet attached to an item, sent within `within`."""
    return list(
        Evidence.select()
        .where(
            (Evidence.wecom_userid == ctx.userid)
            & (Evidence.item.is_null())
            & Evidence.active()
            & (Evidence.created_at >= ctx.now - within)
        )
        .order_by(Evidence.id)
    )
