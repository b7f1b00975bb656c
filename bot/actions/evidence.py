"""Evidence (佐证材料): a received file is filed under the item named in its caption, or the item
the sender named last within a few minutes, or waits for `佐证 <编号>`. The same file (SHA-256)
for the same unit, item and checklist point is one piece of evidence, however it arrives.
Files are withdrawn, never deleted; the bytes live in the evidence store by hash."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.actions.base import Acting, Refused
from bot.evidence import StoredFile
from bot.text import find_code, find_codes, find_point
from models import userids
from models.messages import InboundMessage
from models.org import Unit
from models.plan import Assignment, Item, Part
from models.progress import Evidence
from reminders.state import unit_file_count

PENDING_DAYS = 3  # unattached files older than this are no longer offered to `佐证`


def recent_code(acting: Acting) -> str | None:
    """The newest code the sender typed within the configured window, if any."""
    since = acting.now - timedelta(minutes=acting.config.evidence_attach_minutes)
    query = (
        InboundMessage.select(InboundMessage.text)
        .where(
            userids.matches(InboundMessage.wecom_userid, acting.userid)
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


def _own_share_of(acting: Acting, code: str | None) -> Assignment | None:
    if code is None or acting.unit_id is None:
        return None
    item = Item.get_or_none(Item.code == code)
    if item is None:
        return None
    share = Assignment.get_or_none(
        (Assignment.item == item)
        & (Assignment.unit == acting.unit_id)
        & (Assignment.kind == Part.SHARE)
    )
    if share is not None:
        share.item = item
    return share


def point_in(item: Item, point: int | None) -> int | None:
    """A checklist point written for an item, checked (None: the item as a whole)."""
    if point is None:
        return None
    points = len(item.checklist())
    if not item.is_indicator or points <= 1:
        raise Refused(f"{item.code} 不分项，直接写“佐证 {item.code}”即可。")
    if not 1 <= point <= points:
        raise Refused(f"{item.code} 的评分标准共 {points} 项，写“第1项”到“第{points}项”。")
    return point


def _caption_point(item: Item, caption: str) -> int | None:
    point = find_point(caption) if caption else None
    if point is None or not 1 <= point <= len(item.checklist()):
        return None
    return point


def same_file(sha256: str, unit_id: int, item_id: int, point: int | None) -> Evidence | None:
    """The evidence already counted for this unit, item and point with the same bytes."""
    found: Evidence | None = (
        Evidence.select()
        .where(
            (Evidence.sha256 == sha256)
            & (Evidence.unit == unit_id)
            & (Evidence.item == item_id)
            # One document may support several points of an indicator's checklist.
            & ((Evidence.point == point) if point else Evidence.point.is_null())
            & Evidence.active()
        )
        .order_by(Evidence.id)
        .first()
    )
    return found


@dataclass(frozen=True)
class Placed:
    """One item a received file was filed under: the unit's file count there now, and the
    earlier copy if the file was one (then it is not counted again)."""

    assignment: Assignment
    count: int
    duplicate: Evidence | None = None


@dataclass(frozen=True)
class Filed:
    """Where a received file went: its share (None: waiting for `佐证 编号`), the code its
    caption named, the unit's file count for the item, and the earlier copy if it was one.
    A caption naming several of the unit's items files it under each (`placed`)."""

    assignment: Assignment | None
    named: str | None
    count: int
    duplicate: Evidence | None = None
    placed: tuple[Placed, ...] = ()


def file_evidence(acting: Acting, stored: StoredFile, caption: str = "") -> Filed:
    """Record a received file; file it when the item is clear. A file already counted (or,
    for a file still waiting, already waiting from this sender) is not recorded again.
    "T7、T18的材料" files it under both when both are the unit's; when one is not, it waits."""
    codes = find_codes(caption) if caption else []
    named = codes[0] if codes else None
    if len(codes) > 1:
        shares = [_own_share_of(acting, code) for code in codes]
        if all(share is not None for share in shares):
            placed = tuple(
                _place(acting, stored, s, _caption_point(s.item, caption))
                for s in shares
                if s is not None
            )
            first = placed[0]
            return Filed(first.assignment, named, first.count, first.duplicate, placed)
        named = next(code for code, share in zip(codes, shares, strict=True) if share is None)
        share = None
    else:
        share = _own_share_of(acting, named or recent_code(acting))
    if share is not None:
        placed_one = _place(acting, stored, share, _caption_point(share.item, caption))
        return Filed(share, named, placed_one.count, placed_one.duplicate, (placed_one,))
    waiting = (
        Evidence.select()
        .where(
            (Evidence.sha256 == stored.sha256)
            & userids.matches(Evidence.wecom_userid, acting.userid)
            & Evidence.item.is_null()
            & Evidence.active()
        )
        .first()
    )
    if waiting is not None:
        return Filed(None, named, 0, waiting)
    evidence = _record(acting, stored, None, None)
    acting.audit(
        "evidence",
        f"收到文件“{stored.original_name}”，待指定事项",
        unit_name=acting.member.unit.name if acting.member and acting.member.unit else "",
        after={"evidence": evidence.id, "sha256": stored.sha256},
    )
    return Filed(None, named, 0)


def _record(
    acting: Acting, stored: StoredFile, share: Assignment | None, point: int | None
) -> Evidence:
    evidence: Evidence = Evidence.create(
        point=point,
        item=share.item_id if share else None,
        unit=share.unit_id if share else acting.unit_id,
        assignment=share,
        wecom_userid=acting.userid,
        original_name=stored.original_name,
        sha256=stored.sha256,
        size=stored.size,
        content_type=stored.content_type,
        created_at=acting.now,
    )
    return evidence


def file_under(
    acting: Acting, stored: StoredFile, share: Assignment, point: int | None, caption: str = ""
) -> Placed:
    """A file the person put under a share they chose (the upload page): the point they chose,
    checked as `佐证 编号 第N项` checks it, or else the one its caption names, as in chat. The
    same bytes already there are not counted again."""
    point = (
        point_in(share.item, point) if point is not None else _caption_point(share.item, caption)
    )
    return _place(acting, stored, share, point, caption)


def _place(
    acting: Acting, stored: StoredFile, share: Assignment, point: int | None, caption: str = ""
) -> Placed:
    """File a received file under one of the unit's shares, unless the same bytes are there."""
    if not share.item.is_indicator:
        point = None
    earlier = same_file(stored.sha256, share.unit_id, share.item_id, point)
    if earlier is None:
        evidence = _record(acting, stored, share, point)
        after: dict[str, object] = {
            "evidence": evidence.id,
            "sha256": stored.sha256,
            "size": stored.size,
        }
        if point:
            after["point"] = point
        if caption:
            after["caption"] = caption[:200]
        acting.audit(
            "evidence",
            f"{share.unit.name}为 {share.item.code} 提交佐证材料“{stored.original_name}”",
            item_code=share.item.code,
            unit_name=share.unit.name,
            after=after,
        )
    return Placed(share, unit_file_count(share.item, share.unit_id), earlier)


def waiting_files(
    acting: Acting, within: timedelta = timedelta(days=PENDING_DAYS)
) -> list[Evidence]:
    """The acting person's files not yet filed under an item, sent within `within`."""
    return list(
        Evidence.select()
        .where(
            userids.matches(Evidence.wecom_userid, acting.userid)
            & (Evidence.item.is_null())
            & Evidence.active()
            & (Evidence.created_at >= acting.now - within)
        )
        .order_by(Evidence.id)
    )


@dataclass(frozen=True)
class Attached:
    item: Item
    names: list[str]  # the files filed now
    repeats: list[str]  # files that were already counted there (not counted again)
    count: int  # the unit's files for the item now


def attach_waiting(
    acting: Acting, shares: Sequence[Assignment], point: int | None
) -> list[Attached]:
    """`佐证 T7` (or `佐证 T7 T18`): file the sender's waiting files under the unit's shares,
    each file under each item. A file whose bytes are already counted there (sent twice, say)
    is set aside, not counted again."""
    points = [point_in(share.item, point) for share in shares]  # all checked before any change
    waiting = waiting_files(acting)
    if not waiting:
        raise Refused(
            "没有待归档的文件。请先发送文件（图片或文档），再发送“佐证 编号”。"
            "归错了可以发送“佐证 列表”查看文件号，再“佐证 改归 文件号 编号”。"
        )
    results = []
    for index, (share, share_point) in enumerate(zip(shares, points, strict=True)):
        results.append(_attach(acting, waiting, share, share_point, move=index == 0))
    return results


def _attach(
    acting: Acting, waiting: list[Evidence], share: Assignment, point: int | None, *, move: bool
) -> Attached:
    """File the waiting files under one share: the rows themselves (`move`), or copies of them
    when the same files go under a second item too."""
    item = share.item
    filed: list[Evidence] = []
    repeats: list[str] = []
    for evidence in waiting:
        earlier = same_file(evidence.sha256, share.unit_id, item.id, point)
        if earlier is None:
            earlier = next((e for e in filed if e.sha256 == evidence.sha256), None)
        if earlier is not None:
            if move:
                _set_aside(acting, evidence, earlier)
            repeats.append(evidence.original_name)
            continue
        if move:
            Evidence.update(item=item, assignment=share, unit=share.unit_id, point=point).where(
                Evidence.id == evidence.id
            ).execute()
            filed.append(evidence)
        else:
            filed.append(_record(acting, _stored_of(evidence), share, point))
    names = [e.original_name for e in filed]
    if filed:
        acting.audit(
            "evidence",
            f"{share.unit.name}将 {len(names)} 个文件归到 {item.code}：" + "、".join(names),
            item_code=item.code,
            unit_name=share.unit.name,
            after={"evidence": [e.id for e in filed], "point": point},
        )
    return Attached(item, names, repeats, unit_file_count(item, share.unit_id))


def _stored_of(evidence: Evidence) -> StoredFile:
    return StoredFile(
        sha256=evidence.sha256,
        size=evidence.size,
        original_name=evidence.original_name,
        content_type=evidence.content_type,
    )


def _set_aside(acting: Acting, evidence: Evidence, kept: Evidence) -> None:
    """A second copy of a file already counted: withdrawn (kept, not counted), with the reason."""
    Evidence.update(withdrawn_at=acting.now, withdrawn_by=acting.userid).where(
        Evidence.id == evidence.id
    ).execute()
    acting.audit(
        "evidence_withdraw",
        f"文件 {evidence.id}“{evidence.original_name}”与文件 {kept.id} 相同，不重复计入",
        item_code=kept.item.code if kept.item is not None else "",
        unit_name=kept.unit.name if kept.unit is not None else "",
        before={"withdrawn": False},
        after={"withdrawn": True, "same_as": kept.id},
    )


def own_file(acting: Acting, number: int) -> Evidence:
    evidence = Evidence.get_or_none(Evidence.id == number)
    if evidence is None:
        raise Refused(f"没有文件号为 {number} 的材料。发送“佐证 列表”查看文件号。")
    if not acting.is_admin and not userids.same(evidence.wecom_userid, acting.userid):
        raise Refused(f"文件 {number} 不是您提交的，只有提交人或办公室可以改动。")
    if evidence.withdrawn_at is not None:
        raise Refused(f"文件 {number} 已撤回，不能再改动。")
    return evidence


@dataclass(frozen=True)
class Refiled:
    old: str | None  # the code it was filed under before (None: waiting)
    point: int | None
    count: int


def refile(acting: Acting, evidence: Evidence, item: Item, point: int | None) -> Refiled:
    """Move a file to another item (or point) of its unit."""
    unit_id = evidence.unit_id or acting.unit_id
    share = Assignment.get_or_none(
        (Assignment.item == item) & (Assignment.unit == unit_id) & (Assignment.kind == Part.SHARE)
    )
    if share is None:
        unit = Unit.get_or_none(Unit.id == unit_id)
        raise Refused(
            f"{item.code} 不是{unit.name if unit else '该单位'}的责任事项，不能归到这里。"
        )
    point = point_in(item, point)
    old_code: str | None = evidence.item.code if evidence.item else None
    before = {"item": old_code, "point": evidence.point}
    if before == {"item": item.code, "point": point}:
        raise Refused(f"文件 {evidence.id} 已经归在 {item.code}，没有变化。")
    earlier = same_file(evidence.sha256, share.unit_id, item.id, point)
    if earlier is not None and earlier.id != evidence.id:
        raise Refused(
            f"文件 {evidence.id} 与已归在 {item.code} 的文件 {earlier.id}“{earlier.original_name}”相同，"
            "不重复计入。"
        )
    Evidence.update(item=item, assignment=share, unit=share.unit_id, point=point).where(
        Evidence.id == evidence.id
    ).execute()
    acting.audit(
        "evidence_refile",
        f"文件 {evidence.id}“{evidence.original_name}”由 {before['item'] or '待归档'} 改归到 {item.code}"
        + (f" 第{point}项" if point else ""),
        item_code=item.code,
        unit_name=share.unit.name,
        before=before,
        after={"item": item.code, "point": point},
    )
    return Refiled(old_code, point, unit_file_count(item, share.unit_id))


def withdraw(acting: Acting, evidence: Evidence, reason: str) -> None:
    """Withdraw a file sent by mistake: kept on disk and on record, no longer counted."""
    Evidence.update(withdrawn_at=acting.now, withdrawn_by=acting.userid).where(
        Evidence.id == evidence.id
    ).execute()
    code = evidence.item.code if evidence.item else ""
    acting.audit(
        "evidence_withdraw",
        f"撤回文件 {evidence.id}“{evidence.original_name}”"
        + (f"（{code}）" if code else "")
        + (f"：{reason}" if reason else ""),
        item_code=code,
        unit_name=evidence.unit.name if evidence.unit else "",
        before={"withdrawn": False},
        after={"withdrawn": True, "reason": reason or ""},
    )
