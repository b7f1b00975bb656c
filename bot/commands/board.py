"""Personal links to the leaders' board (链接), for a leader who does not open the app: an admin
issues one (it expires, 7 days by default), lists them, and revokes one. Every issue and
revocation is in the audit log; the link itself is only in the reply to the admin."""

from __future__ import annotations

from dataclasses import dataclass

from bot.actions.links import issue_link, revoke_link
from bot.board import access
from bot.commands.args import IntArg, Keyword, UserIdArg, _whole_word
from bot.commands.registry import Context, command
from models import userids
from models.board import BoardLink
from models.org import Member, find_member


@dataclass(frozen=True)
class LinkUserArg(UserIdArg):
    """A userid as WeCom spells them (so "链接 撤销" is not read as a userid)."""

    def shapes(self, scan, pos):
        return _whole_word(scan, pos, lambda w: userids.valid(w))

    def bad_shape(self, word):
        return f"“{word}”不是企业微信 userid（字母、数字、_ . @ -）。"


@command(
    "链接",
    aliases=("link", "看板链接"),
    access="admin",
    help="列出有效的看板个人链接（编号、给谁、到期时间、用过几次）",
)
def link_list(ctx: Context, args) -> str:
    links = list(BoardLink.select().where(BoardLink.live(ctx.now)).order_by(BoardLink.id))
    labels = {
        link.wecom_userid: m.label
        for m in Member.select().where(
            userids.among(Member.wecom_userid, [link.wecom_userid for link in links])
        )
        for link in links
        if userids.same(link.wecom_userid, m.wecom_userid)
    }
    return ctx.say("board_link.j2", "listing", links=links, labels=labels)


@command(
    "链接",
    access="admin",
    args=(
        Keyword(words=("撤销", "revoke", "作废")),
        IntArg("number", "编号", what="链接编号"),
    ),
    help="撤销一个看板个人链接：它不能再打开看板，用它打开的看板随即退出",
    example="链接 撤销 3",
)
def link_revoke(ctx: Context, args) -> str:
    link, ended = revoke_link(ctx, args.number)
    member = find_member(link.wecom_userid)
    label = member.label if member else link.wecom_userid
    return ctx.say("board_link.j2", "revoked", link=link, label=label, sessions=ended)


@command(
    "链接",
    access="admin",
    args=(LinkUserArg(), IntArg("days", "天数", optional=True, what="天数")),
    help=f"为不用企业微信应用的领导生成看板个人链接，默认 {access.LINK_DAYS_DEFAULT} 天有效"
    f"（最多 {access.LINK_DAYS_MAX} 天）",
    example="链接 wang 7",
)
def link_issue(ctx: Context, args) -> str:
    days = args.days if args.days is not None else access.LINK_DAYS_DEFAULT
    issued = issue_link(ctx, args.userid, days)
    return ctx.say(
        "board_link.j2",
        "issued",
        link=issued.link,
        member=issued.member or _Admin(args.userid),
        days=days,
        url=access.link_url(ctx.config, issued.token),
        relative=not ctx.config.board_base_url,
    )


@dataclass(frozen=True)
class _Admin:
    """An admin named only in BOT_ADMINS (no member row), as the reply names them."""

    wecom_userid: str

    @property
    def label(self) -> str:
        return self.wecom_userid
