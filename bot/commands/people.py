"""The office's commands about people and units: binding people to units (with one or more
roles), unbinding, and the unit groups."""

from __future__ import annotations

import re
from typing import Any

from bot.actions.appchat import NAME, chat_members, keep_group_chat
from bot.actions.org import bind, change_group, confirm_group, unbind
from bot.commands.args import ChoiceArg, Keyword, RestArg, RolesArg, UnitArg, UnitsArg, UserIdArg
from bot.commands.registry import CommandError, Context, command
from bot.transports.wecom.errors import WeComError
from models.db import database
from models.org import ROLE_BY_LABEL, ROLES, UnitGroup

_ROLE_WORDS = tuple(
    [(label, role) for label, role in ROLE_BY_LABEL.items()]
    + [(role, role) for role in ROLES]
    + [("单位负责人", "head"), ("联系人", "liaison"), ("领导小组", "leader")]
)


@command(
    "绑定",
    aliases=("bind",),
    access="admin",
    args=(
        UserIdArg(),
        UnitArg(single=True),
        RolesArg(label="管理员|领导|负责人|联络员", words=_ROLE_WORDS),
        RestArg("name", "姓名", limit=100),
    ),
    help="把企业微信用户绑定到单位（默认联络员；可同时写几个角色，如“领导 负责人”）",
    example="绑定 zhangsan 市监局 联络员 张三",
)
def bind_cmd(ctx: Context, args) -> str:
    bound = bind(ctx, args.userid, args.unit.unit, tuple(args.roles or ()), args.name or "")
    return ctx.say(
        "replies.j2",
        "bound",
        userid=bound.member.wecom_userid,
        unit=args.unit.unit,
        role_label=bound.role_label,
        rebound=bound.rebound,
    )


@command(
    "解绑",
    aliases=("unbind",),
    access="admin",
    args=(UserIdArg(),),
    help="解除用户与单位的绑定",
)
def unbind_cmd(ctx: Context, args) -> str:
    unit_name = unbind(ctx, args.userid)
    return ctx.say("replies.j2", "unbound", userid=args.userid, unit_name=unit_name)


GROUP = UnitArg("group", "组名")
_GROUP_OPS = (
    ("加", "加"),
    ("增加", "加"),
    ("加入", "加"),
    ("add", "加"),
    ("减", "减"),
    ("移除", "减"),
    ("删除", "减"),
    ("移出", "减"),
    ("remove", "减"),
)


def _group(match, token_hint: str = "") -> UnitGroup:
    if match.group is None:
        names = "、".join(g.name for g in UnitGroup.select().order_by(UnitGroup.position))
        raise CommandError(f"“{match.unit.name}”是单位，不是单位组。单位组有：{names}")
    return match.group


@command(
    "群组",
    aliases=("group", "单位组"),
    access="admin",
    help="查看单位组，或增减组内的单位",
)
def groups_cmd(ctx: Context, args) -> str:
    groups = [(g, g.units()) for g in UnitGroup.select().order_by(UnitGroup.position)]
    return ctx.renderer.render("groups.j2", groups=groups)


@command(
    "群组",
    access="admin",
    args=(GROUP, Keyword(words=("确认", "confirm"))),
    help="确认单位组的成员（方案未列明的组，确认前自检和总览提示“未确认”）",
    example="群组 联席会议 确认",
)
def group_confirm(ctx: Context, args) -> str:
    group = _group(args.group)
    units = confirm_group(ctx, group)
    return ctx.say("replies.j2", "group_confirmed", group=group, units=units)


@command("群组", access="admin", args=(GROUP,), help="查看一个单位组的单位")
def group_show(ctx: Context, args) -> str:
    group = _group(args.group)
    return ctx.renderer.render("groups.j2", groups=[(group, group.units())])


@command(
    "群组",
    access="admin",
    args=(GROUP, ChoiceArg("op", "加|减", choices=_GROUP_OPS), UnitsArg(groups=False)),
    help="增减单位组内的单位；加入的单位自动承担该组的任务",
    example="群组 各镇 加 横桥乡",
)
def group_change(ctx: Context, args) -> str:
    group = _group(args.group)
    adding = args.op == "加"
    done = change_group(ctx, group, [match.unit for match in args.units], adding)
    return ctx.say(
        "replies.j2",
        "group_changed",
        group=group,
        adding=adding,
        changed=done.changed,
        notes=done.notes,
        items=done.items,
    )


@command(
    "建群",
    aliases=("appchat", "创建群聊"),
    access="admin",
    args=(RestArg("members", "成员…", optional=False, limit=4000),),
    help="由应用创建领导小组群聊（首位为群主）",
    example="建群 wang li",
    transactional=False,  # it calls WeCom: never inside a database transaction
)
def create_group_chat(ctx: Context, args) -> str:
    typed = [w for w in re.split(r"[\s,，、;；]+", args.members) if w]
    members = chat_members(ctx, typed)  # Refused: answered as it says
    client: Any = ctx.wecom
    if client is None:
        raise CommandError(
            "未填写企业微信设置，无法创建应用群聊（沙盒里没有企业微信）。", show_usage=False
        )
    # The same message handled twice asks for the same chatid: one chat, never two.
    chatid = f"duban{ctx.cause}" if ctx.inbound is not None else f"duban{ctx.now:%Y%m%d%H%M%S}"
    payload = {"name": NAME, "owner": members[0], "userlist": members, "chatid": chatid}
    try:
        chatid = str(client.post("appchat/create", payload).get("chatid") or chatid)
    except WeComError as exc:
        if not _exists(client, chatid):
            raise CommandError(f"创建群聊失败：{exc.describe()}", show_usage=False) from None
    with database.atomic():
        keep_group_chat(ctx, chatid, members)
    robot = (
        "；已设置群机器人（WECOM_GROUP_WEBHOOK_URL），周报仍由群机器人发出，清空该设置后改发此群"
        if ctx.config.wecom_group_webhook_url
        else "，周报等将发到此群"
    )
    return (
        f"已创建应用群聊“{NAME}”（{chatid}），群主 {members[0]}，共 {len(members)} 人{robot}。"
        "发送“自检”可检查它。"
    )


def _exists(client, chatid: str) -> bool:
    try:
        client.get("appchat/get", {"chatid": chatid})
    except WeComError:
        return False
    return True
