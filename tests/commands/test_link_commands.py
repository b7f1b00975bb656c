"""链接: an admin issues, lists and revokes personal links to the leaders' board; each issue and
revocation is logged, and the link itself appears only in the reply to the admin."""

from __future__ import annotations

import re

from conftest import make_config

from bot.board import access
from models.audit import AuditEntry
from models.board import BoardLink


def test_issue_list_and_revoke(bot, clock):
    bot.bind("wang", "县人民政府", "领导")
    reply = bot.say("boss", "链接 wang")
    assert "已生成 wang（wang）的看板个人链接 #1，7 天内有效（至 12-03 10:00）" in reply
    assert "请只发给本人" in reply and "链接 撤销 1" in reply
    path = re.search(r"/board/link/([A-Za-z0-9_-]+)", reply)
    assert path and "BOARD_BASE_URL" in reply  # no address set: the path, and what to set
    token = path.group(1)
    link = BoardLink.get()
    assert link.token_hash == access.digest(token) and token not in link.token_hash
    assert access.link_for(token, clock.now()) is not None
    listing = bot.say("boss", "链接")
    assert "#1 wang（wang）至 12-03 10:00｜还没用过｜boss 生成" in listing
    assert "已撤销看板个人链接 #1（wang）" in bot.say("boss", "链接 撤销 1")
    assert access.link_for(token, clock.now()) is None
    assert "已经撤销过了" in bot.say("boss", "链接 撤销 1")
    assert "没有有效的看板个人链接" in bot.say("boss", "链接")
    entries = list(AuditEntry.select().where(AuditEntry.action.startswith("board_link")))
    assert [e.action for e in entries] == ["board_link", "board_link_revoke"]
    assert all(token not in (e.summary + str(e.after)) for e in entries)


def test_days_are_bounded_and_only_bound_people_get_a_link(bot):
    bot.bind("wang", "县人民政府", "领导")
    assert "30 天内有效" in bot.say("boss", "链接 wang 30")
    assert "天数应为 1 到 90" in bot.say("boss", "链接 wang 91")
    assert "天数应为 1 到 90" in bot.say("boss", "链接 wang 0")
    assert "nobody 还没有绑定" in bot.say("boss", "链接 nobody")
    assert "请写明" in bot.say("boss", "链接 撤销")
    assert "没有编号为 99" in bot.say("boss", "链接 撤销 99")
    assert BoardLink.select().count() == 1


def test_only_admins_issue_links(bot):
    bot.bind("wang", "县人民政府", "领导")
    bot.bind("li", "市监局")
    for who in ("wang", "li"):
        assert "只有管理员可以使用" in bot.say(who, "链接 wang")
    assert BoardLink.select().count() == 0


def test_with_an_address_the_link_is_whole(tmp_path, db_url, db, clock):
    from fakes.transport import RecordingTransport
    from helpers import ChatDriver

    from bot.services import build_services

    config = make_config(tmp_path, db_url, BOARD_BASE_URL="https://duban.example.gov.cn")
    bot = ChatDriver(build_services(config, clock, RecordingTransport()))
    bot.bind("wang", "县人民政府", "领导")
    reply = bot.say("boss", "链接 wang 3")
    assert re.search(
        r"^https://duban\.example\.gov\.cn/board/link/[A-Za-z0-9_-]{40,}$", reply, re.M
    )
    assert "BOARD_BASE_URL" not in reply


def test_with_wecom_and_no_address_there_is_no_board_to_link_to(tmp_path, db_url, db, clock, fake):
    from helpers import ChatDriver
    from wecom_setup import wecom_config

    from bot.services import build_services

    services = build_services(wecom_config(tmp_path, db_url, fake), clock)
    bot = ChatDriver(services)
    bot.say("boss", "绑定 wang 县人民政府 领导")
    assert "看板尚未开通" in bot.say("boss", "链接 wang") and BoardLink.select().count() == 0
