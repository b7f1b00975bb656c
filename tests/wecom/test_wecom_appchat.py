"""The leading group's app chat (issue 20, point 7): an admin's 建群 has the app create it
(appchat/create) with the members chosen, the chatid is kept and group messages go there; 自检
checks it with appchat/get, and says so when a configured chat is not the app's own."""

from __future__ import annotations

import pytest
from helpers import ChatDriver
from wecom_setup import paced_by, wecom_config

from bot.outbox import Outbox
from bot.selfcheck import run_checks
from bot.services import build_services
from bot.transports.wecom.stored import stored_chat_id
from models.audit import AuditEntry


def services_for(tmp_path, db_url, fake, clock, **settings):
    fake.clock = lambda: clock.now().timestamp()
    config = wecom_config(tmp_path, db_url, fake, WECOM_GROUP_WEBHOOK_URL="", **settings)
    return paced_by(build_services(config, clock), clock)


@pytest.fixture
def wecom(tmp_path, db_url, db, fake, clock):
    return services_for(tmp_path, db_url, fake, clock)


def group_check(services):
    checks = run_checks(services.config, services.clock.now(), services.client)
    return next(c for c in checks if c.name == "领导小组群")


def test_the_admin_creates_the_chat_and_group_messages_go_there(wecom, fake, clock):
    bot = ChatDriver(wecom)
    assert group_check(wecom).level == "warn", "no group yet"
    reply = bot.say("boss", "建群 wang LI，boss")
    chatid = stored_chat_id()
    assert chatid and chatid in reply and "群主 wang" in reply and "共 3 人" in reply
    assert fake.created_chats[chatid]["userlist"] == ["wang", "li", "boss"]
    assert AuditEntry.select().where(AuditEntry.action == "group_chat").count() == 1
    Outbox(clock).to_group("**本周得分**", "g")
    wecom.sender.drain()
    assert [m["chatid"] for m in fake.appchat_messages] == [chatid]
    check = group_check(wecom)
    assert check.level == "ok" and "3 人" in check.detail and "群主 wang" in check.detail


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("建群 wang", "至少要有 2 人"),
        ("建群 wang WANG", "至少要有 2 人"),
        ("建群 wang @all", "@all 在企业微信里表示应用可见范围内的所有人"),
        ("建群 wang ghost", "86215"),
    ],
)
def test_a_chat_wecom_would_refuse_is_refused_and_nothing_is_kept(wecom, fake, text, expected):
    reply = ChatDriver(wecom).say("boss", text)
    assert expected in reply, reply
    assert stored_chat_id() == "" and not fake.created_chats


def test_only_an_app_whose_range_is_the_root_may_create_one(wecom, fake):
    fake.range_is_root = False
    reply = ChatDriver(wecom).say("boss", "建群 wang li")
    assert "48002" in reply and "权限" in reply and stored_chat_id() == ""


def test_only_admins_create_the_chat(wecom, fake):
    bot = ChatDriver(wecom)
    bot.bind("li", "市监局")
    assert "只有" in bot.say("li", "建群 wang li") and not fake.created_chats


def test_selfcheck_fails_a_configured_chat_the_app_did_not_create(
    tmp_path, db_url, db, fake, clock
):
    services = services_for(tmp_path, db_url, fake, clock, WECOM_GROUP_CHAT_ID="leaders")
    check = group_check(services)
    assert check.level == "fail" and "86003" in check.detail and "建群" in check.advice
