"""The leading group's app chat (应用群聊), created by the app itself (WeCom sends to an app
chat only if this app created it): the chatid WeCom gave is kept, and group messages go there
when no group robot is set."""

from __future__ import annotations

from bot.actions.base import Acting, Refused
from bot.transports.wecom.stored import GROUP_CHAT_KEY, stored_chat_id
from models import userids
from models.messages import KeyValue
from models.org import stored_userid

NAME = "示范区创建领导小组"
MIN_MEMBERS, MAX_MEMBERS = 2, 2000  # WeCom's bounds for an app chat


def chat_members(acting: Acting, typed: list[str]) -> list[str]:
    """The members as WeCom's rule allows (never @all, each once whatever its case), in the
    form each is bound under; Refused otherwise. The first is the chat's owner."""
    if not acting.is_admin:
        raise Refused("只有管理员可以创建领导小组群聊。")
    for userid in typed:
        why = userids.problem(userid)
        if why:
            raise Refused(f"{why}。")
    members = userids.unique(stored_userid(u, acting.config.admins) for u in typed)
    if not MIN_MEMBERS <= len(members) <= MAX_MEMBERS:
        raise Refused(
            f"应用群聊至少要有 {MIN_MEMBERS} 人（不同的 userid），最多 {MAX_MEMBERS} 人。"
        )
    return members


def keep_group_chat(acting: Acting, chatid: str, members: list[str]) -> None:
    """Remember the chat WeCom created (replacing an older one) and log it."""
    before = stored_chat_id()
    KeyValue.insert(key=GROUP_CHAT_KEY, value=chatid).on_conflict(
        conflict_target=[KeyValue.key], update={KeyValue.value: chatid}
    ).execute()
    acting.audit(
        "group_chat",
        f"创建领导小组群聊 {chatid}（{len(members)} 人：{'、'.join(members[:10])}"
        + ("等" if len(members) > 10 else "")
        + "）",
        before={"chatid": before} if before else None,
        after={"chatid": chatid, "members": members},
    )
