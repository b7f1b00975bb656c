"""The outbox as the office sees it: 发件箱 (what waits, what failed or expired) and 重发 (put a
failed or expired message back in line). Only the database: the sender does the sending."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

from bot.actions.records import resend
from bot.commands.args import IntArg, Keyword
from bot.commands.registry import CommandError, Context, command
from bot.outbox import NOTICE_PREFIX, STATUS_LABELS, describe
from bot.outbox.views import GIVEN_UP, oldest_waiting, outbox_counts, recent_given_up
from bot.selfcheck import duration_text
from models.db import tuples
from models.messages import OutboxMessage
from models.org import Member
from models.userids import among, key


@dataclass(frozen=True)
class RowArg(IntArg):
    """An outbox row's number as 发件箱 shows it: 12 or #12."""

    name: str = "row"
    label: str = "编号"

    def shapes(self, scan, pos):
        word, end = scan.word(pos)
        number = word.removeprefix("#")
        return [(number, end)] if number.isascii() and number.isdigit() and len(number) <= 9 else []


RECENT_DAYS = 7  # what 发件箱 lists and 重发 全部 resends
SHOWN = 10
STATUS_ORDER = ("pending", "sending", "merged", "sent", "failed", "expired")


def _names(rows: list[OutboxMessage]) -> dict[str, str]:
    userids = {u for row in rows for u in row.recipient.split("|") if u}
    if not userids:
        return {}
    query = Member.select(Member.wecom_userid, Member.display_name).where(
        among(Member.wecom_userid, userids)
    )
    names = {key(userid): name for userid, name in tuples(query) if name}
    return {userid: names[key(userid)] for userid in userids if key(userid) in names}


@command(
    "发件箱",
    aliases=("outbox", "发送情况"),
    access="admin",
    help="查看发件箱：各状态的消息数、最早的待发消息、近 7 天失败或过期的消息（带编号）",
)
def outbox_overview(ctx: Context, args) -> str:
    counts = outbox_counts()
    shown_counts = [
        (STATUS_LABELS.get(status, status), counts[status])
        for status in (*STATUS_ORDER, *sorted(set(counts) - set(STATUS_ORDER)))
        if counts.get(status)
    ]
    oldest_row = oldest_waiting()
    recent = recent_given_up(ctx.now - timedelta(days=RECENT_DAYS), NOTICE_PREFIX)
    listed = recent[:SHOWN]
    names = _names(listed + ([oldest_row] if oldest_row else []))
    oldest = None
    if oldest_row is not None:
        view = describe(oldest_row, names)
        oldest = {**asdict(view), "waited": duration_text(ctx.now - oldest_row.created_at)}
        if view.next_at is not None and view.next_at <= ctx.now:
            oldest["next_at"] = None  # due now
    return ctx.say(
        "outbox.j2",
        "overview",
        counts=shown_counts,
        oldest=oldest,
        rows=[describe(row, names) for row in listed],
        more=len(recent) - len(listed),
        days=RECENT_DAYS,
    )


def _resend(ctx: Context, rows: list[OutboxMessage]) -> str:
    names = _names(rows)
    views = [describe(row, names) for row in rows]  # as they were: failed or expired
    carried = resend(ctx, rows)
    return ctx.say("outbox.j2", "resent", rows=views, merged=carried)


@command(
    "重发",
    aliases=("resend", "重新发送"),
    access="admin",
    args=(RowArg(),),
    help="把一条失败或过期的消息重新排队发送（编号见“发件箱”）",
    example="重发 12",
)
def resend_one(ctx: Context, args) -> str:
    row = OutboxMessage.get_or_none(OutboxMessage.id == args.row)
    if row is None:
        raise CommandError(f"没有编号为 {args.row} 的消息。发送“发件箱”查看编号。")
    if row.status not in GIVEN_UP:
        label = STATUS_LABELS.get(row.status, row.status)
        if row.status == "merged" or (row.result or {}).get("merged_into"):
            label += f"，与 #{row.result['merged_into']} 合并发送"
        raise CommandError(
            ctx.say("outbox.j2", "not_resendable", row_id=row.id, status_label=label),
            show_usage=False,
        )
    return _resend(ctx, [row])


@command(
    "重发",
    access="admin",
    args=(Keyword(words=("全部", "all", "所有")),),
    help="把近 7 天所有失败或过期的消息重新排队发送",
)
def resend_all(ctx: Context, args) -> str:
    rows = sorted(
        recent_given_up(ctx.now - timedelta(days=RECENT_DAYS), NOTICE_PREFIX),
        key=lambda row: row.id,
    )
    if not rows:
        raise CommandError(f"近 {RECENT_DAYS} 天没有失败或过期的消息，无需重发。", show_usage=False)
    return _resend(ctx, rows)
