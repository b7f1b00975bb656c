"""Evidence (佐证材料): a received file is attached to the item named in its caption, or to the
item the sender last named within a few minutes; otherwise it waits for `佐证 <编号>`.
A file the platform has to hand over is recorded at once and fetched by the download threads
(bot/downloads.py); its answer comes when the download is settled."""

from __future__ import annotations

import peewee

from bot.actions.evidence import (
    Filed,
    attach_waiting,
    file_evidence,
    own_file,
    refile,
    withdraw,
)
from bot.actions.lookup import own_share
from bot.board.access import upload_url
from bot.commands.args import Arg, IntArg, ItemArg, ItemsArg, Keyword, RestArg
from bot.commands.holidays import notice_file
from bot.commands.imports import import_file, is_import
from bot.commands.registry import Context, command
from bot.evidence import StoredFile
from bot.text import find_point
from models import userids
from models.org import Unit
from models.plan import Item
from models.progress import Evidence
from reminders.state import checklist_coverage


def attach_file(ctx: Context, stored: StoredFile, caption: str = "") -> str:
    """The answer to a received file: an admin's spreadsheet starts an import's dry run (see
    bot/commands/imports.py: is_import); anything else is evidence."""
    if is_import(ctx, stored, caption):
        return import_file(ctx, stored)
    notice = notice_file(ctx, stored, caption)  # the State Council's holiday notice (.txt/.docx)
    if notice is not None:
        return notice
    filed = file_evidence(ctx, stored, caption)
    if len(filed.placed) > 1:
        return placed_reply(ctx, filed, stored.original_name)
    if filed.duplicate is not None and filed.assignment is not None:
        return duplicate_reply(ctx, filed)
    if filed.assignment is None:  # (a copy already waiting is kept once: still to be filed)
        return ctx.say(
            "replies.j2",
            "evidence_needs_item",
            name=stored.original_name,
            wrong_code=filed.named or "",
            exists=bool(filed.named) and Item.get_or_none(Item.code == filed.named) is not None,
        )
    return _attached_reply(ctx, [stored.original_name], filed.assignment.item, filed.count)


def placed_reply(ctx: Context, filed: Filed, name: str) -> str:
    """A file whose caption named several of the unit's items: where it went."""
    return _several_reply(
        ctx,
        [(p.assignment.item, [name] if p.duplicate is None else [], p.count) for p in filed.placed],
        [name] if any(p.duplicate for p in filed.placed) else [],
    )


def _several_reply(ctx: Context, filed: list[tuple[Item, list[str], int]], repeats) -> str:
    """Files filed under several items at once: one line per item."""
    return ctx.say("replies.j2", "evidence_attached_several", filed=filed, repeats=repeats)


def duplicate_reply(ctx: Context, filed) -> str:
    return ctx.say(
        "replies.j2",
        "evidence_duplicate",
        earlier=filed.duplicate,
        item=filed.assignment.item if filed.assignment else None,
    )


def _attached_reply(ctx: Context, names: list[str], item: Item, count: int, unit_id=None) -> str:
    unit_id = unit_id or (ctx.member.unit_id if ctx.member else None)
    return ctx.say(
        "replies.j2",
        "evidence_attached",
        names=names,
        item=item,
        count=count,
        coverage=checklist_coverage(item, unit_id) if item.is_indicator else [],
    )


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


@command(
    "佐证",
    aliases=("evidence", "材料"),
    args=(ItemsArg(), POINT),
    access="unit",
    help="把刚发送、尚未归档的文件归到某项任务或指标（可注明支撑评分标准的第几项；同一文件可归到几项）",
    example="佐证 Z12 第2项",
)
def evidence_cmd(ctx: Context, args) -> str:
    shares = [own_share(ctx, item) for item in args.items]
    results = attach_waiting(ctx, shares, args.point)
    if len(results) > 1:
        repeats = sorted({name for r in results for name in r.repeats})
        return _several_reply(ctx, [(r.item, r.names, r.count) for r in results], repeats)
    attached = results[0]
    if not attached.names:
        return ctx.say(
            "replies.j2", "evidence_all_repeats", names=attached.repeats, item=attached.item
        )
    reply = _attached_reply(ctx, attached.names, attached.item, attached.count, shares[0].unit_id)
    if attached.repeats:
        reply += "\n" + ctx.say("replies.j2", "evidence_repeats", names=attached.repeats)
    return reply


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
        mine = userids.matches(Evidence.wecom_userid, ctx.userid)
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


@command(
    "佐证",
    args=(Keyword(words=("改归", "改到", "改为", "move")), FILE_NO, ItemArg(), POINT),
    access="unit",
    help="把归错的文件改归到另一项（提交人或办公室）",
    example="佐证 改归 12 T8",
)
def evidence_refile(ctx: Context, args) -> str:
    evidence = own_file(ctx, args.file)
    moved = refile(ctx, evidence, args.item, args.point)
    return ctx.say(
        "replies.j2",
        "evidence_refiled",
        evidence=evidence,
        old=moved.old,
        item=args.item,
        point=moved.point,
        count=moved.count,
    )


@command(
    "佐证",
    args=(Keyword(words=("撤回", "删除", "withdraw")), FILE_NO, RestArg("reason", "原因")),
    access="unit",
    help="撤回提交错的文件（提交人或办公室；留痕，不删除原件）",
    example="佐证 撤回 12 传错了",
)
def evidence_withdraw(ctx: Context, args) -> str:
    evidence = own_file(ctx, args.file)
    withdraw(ctx, evidence, args.reason or "")
    code = evidence.item.code if evidence.item else ""
    return ctx.say("replies.j2", "evidence_withdrawn", evidence=evidence, code=code)


@command(
    "上传",
    aliases=("upload", "上传文件", "传文件"),
    access="unit",
    help="打开上传页面，在网页上为本单位的事项提交文件和图片（对话里 PDF、Word 发不过去时用）",
)
def upload_link(ctx: Context, args) -> str:
    return ctx.say(
        "replies.j2",
        "upload_link",
        url=upload_url(ctx.renderer.board_url),
        limit_mb=ctx.config.evidence_max_bytes // (1024 * 1024),
        sandbox=ctx.config.sandbox_enabled and not ctx.config.wecom_enabled,
    )
