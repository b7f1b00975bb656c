"""Personal links to the leaders' board (链接), for a leader who does not open the app: issued
by an admin (they expire), and revoked (the sessions they opened end with them). Every issue and
revocation is in the audit log; the link's secret never is."""

from __future__ import annotations

from dataclasses import dataclass

from bot.actions.base import Acting, Refused
from bot.board import access
from models.board import BoardLink
from models.org import Member, find_member


@dataclass(frozen=True)
class Issued:
    link: BoardLink
    token: str  # shown once, to the admin who asked
    member: Member | None


def issue_link(acting: Acting, userid: str, days: int) -> Issued:
    if not acting.is_admin:
        raise Refused("只有管理员可以生成看板链接。")
    if not 1 <= days <= access.LINK_DAYS_MAX:
        raise Refused(f"天数应为 1 到 {access.LINK_DAYS_MAX}。")
    config = acting.config
    if config.wecom_enabled and not config.board_base_url:
        raise Refused(
            "看板尚未开通：请先在设置中填写 BOARD_BASE_URL（看板的对外地址），见 README“领导看板”。"
        )
    if access.viewer_for(userid, config) is None:
        raise Refused(
            f"{userid} 还没有绑定，看板不知道该给他看什么。请先绑定，如：绑定 {userid} 县政府 领导。"
        )
    member = find_member(userid)
    link, token = access.issue_link(userid, days, acting.userid, acting.now)
    acting.audit(
        "board_link",
        f"生成看板个人链接 #{link.id}：{userid}，{days} 天内有效",
        unit_name=member.unit.name if member is not None and member.unit is not None else "",
        after={"link": link.id, "userid": userid, "days": days},
    )
    return Issued(link, token, member)


def revoke_link(acting: Acting, number: int) -> tuple[BoardLink, int]:
    """Revoke link `number`; returns it and how many board sessions ended with it."""
    if not acting.is_admin:
        raise Refused("只有管理员可以撤销看板链接。")
    link = BoardLink.get_or_none(BoardLink.id == number)
    if link is None:
        raise Refused(f"没有编号为 {number} 的看板链接。发送“链接”查看。")
    if link.revoked_at is not None:
        raise Refused(f"看板链接 #{link.id} 已经撤销过了。")
    ended = access.revoke_link(link, acting.userid, acting.now)
    acting.audit(
        "board_link_revoke",
        f"撤销看板个人链接 #{link.id}（{link.wecom_userid}），{ended} 个看板会话随之结束",
        before={"link": link.id, "userid": link.wecom_userid},
        after={"revoked": True, "sessions_ended": ended},
    )
    return link, ended
