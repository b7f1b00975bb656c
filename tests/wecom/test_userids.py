"""WeCom's userid rule (issue 20, point 1): letters, digits and _-.@, 1–64 characters, never
@all; compared without regard to case in 绑定, BOT_ADMINS, imports, callbacks and sign-in; kept
in the form it was bound in. Against the stricter fake WeCom, through the real callback."""

from __future__ import annotations

import io

import pytest
from conftest import START, make_config
from fakes.wecom_callback import CallbackClient
from helpers import ChatDriver, running
from openpyxl import Workbook
from wecom_setup import AES_KEY, AGENT_ID, TOKEN, wecom_config

from bot.board import access
from bot.clock import Clock
from bot.config import ConfigError
from bot.importer import plan_import
from bot.services import build_services
from models import userids
from models.db import database
from models.org import Member, admin_userids
from models.progress import ProgressReport


@pytest.mark.parametrize(
    ("userid", "why"),
    [
        ("@all", "@all 在企业微信里表示应用可见范围内的所有人"),
        ("@ALL", "不能作为一个人的 userid"),
        ("", "不是有效的企业微信 userid"),
        ("张三", "不是有效的企业微信 userid"),
        ("a" * 65, "1 到 64 位"),
        ("li si", "只能包含英文字母、数字和 _ - . @"),
    ],
)
def test_what_is_not_a_userid_says_why(userid, why):
    assert why in (userids.problem(userid) or "")


@pytest.mark.parametrize("userid", ["li", "Zhang.San-2@xj", "a" * 64, "_", "a@all"])
def test_wecoms_userids_are_valid(userid):
    assert userids.valid(userid)


def test_userids_compare_without_case():
    admins = userids.UserIdSet(["Boss", "boss", "li"])
    assert sorted(admins) == ["Boss", "li"] and "BOSS" in admins and "wang" not in admins
    assert userids.same("ZhangSan", "zhangsan") and not userids.same("li", None)
    assert userids.form_in(admins, "LI") == "li"


def test_bot_admins_refuses_at_all_and_ignores_case(tmp_path, db_url):
    with pytest.raises(ConfigError) as refused:
        make_config(tmp_path, db_url, BOT_ADMINS="boss,@all")
    assert "BOT_ADMINS" in str(refused.value) and "@all" in str(refused.value)
    config = make_config(tmp_path, db_url, BOT_ADMINS="Boss,BOSS")
    assert sorted(config.admins) == ["Boss"] and "boss" in config.admins


def test_binding_ignores_case_and_keeps_the_bound_form(bot):
    assert "已绑定" in bot.say("boss", "绑定 ZhangSan 市监局")
    reply = bot.say("BOSS", "绑定 zhangsan 统计局 负责人")  # the admin, written otherwise
    assert "已重新绑定：ZhangSan → 县统计局" in reply, reply
    assert [(m.wecom_userid, m.unit.name) for m in Member.select()] == [("ZhangSan", "县统计局")]
    assert "还没有绑定" not in bot.say("zhangSAN", "我的任务")
    assert "目前没有绑定" not in bot.say("boss", "解绑 ZHANGSAN")
    assert not Member.get().active
    assert "@all" in bot.say("boss", "绑定 @all 市监局")
    assert Member.select().count() == 1


def test_the_admins_are_one_each_whatever_the_case(bot, config):
    bot.say("boss", "绑定 BOSS 市监局 管理员")
    assert admin_userids(config.admins) == ["BOSS"]


def test_an_import_finds_the_owner_in_any_case_and_refuses_at_all(bot):
    bot.say("boss", "绑定 ZhangSan 市监局")
    book = Workbook()
    ws = book.active
    ws.append(["编号", "重点任务", "具体措施", "责任单位", "完成时限", "责任人"])
    ws.append(["T7", None, "完成摸底", "县市场监管局", "2027-06-30", "zhangsan"])
    ws.append(["T7", None, "形成报告", "县市场监管局", "2027-07-30", "@all"])
    out = io.BytesIO()
    book.save(out)
    plan = plan_import(out.getvalue(), "表.xlsx", START.date())
    owners = {c.to_json().get("owner") for c in plan.changes}
    assert "ZhangSan" in owners and "@all" not in owners
    assert any("@all" in p.text and "不能用" in p.text for p in plan.problems), plan.problems


def test_sign_in_finds_the_member_in_any_case(bot, config):
    bot.say("boss", "绑定 ZhangSan 市监局")
    viewer = access.viewer_for("zhangsan", config)
    assert viewer is not None and viewer.userid == "ZhangSan" and viewer.unit_id is not None
    admin = access.viewer_for("BOSS", config)
    assert admin is not None and admin.sees_all


@pytest.fixture
def live(tmp_path, db_url, db, fake):
    fake.visible = {"boss", "ZhangSan"}  # WeCom stores ZhangSan so
    config = wecom_config(tmp_path, db_url, fake)
    services = build_services(config, Clock(config.timezone))
    ChatDriver(services).say("boss", "绑定 zhangsan 市监局")  # the office types it lowercase
    services.sender.drain()
    db.close()
    with running(services) as base:
        yield CallbackClient(f"{base}/wecom/callback", TOKEN, AES_KEY, fake.corp_id, AGENT_ID)
    database.close()


def test_a_callback_in_wecoms_case_reaches_the_member_bound_in_another(live, fake):
    live.post(live.text("ZhangSan", "进度 T7 60% 初稿", msg_id=4242))
    assert fake.wait_for(
        lambda: any(
            "已记录" in str(m.get("text", {}).get("content", ""))
            and m["touser"].lower() == "zhangsan"
            for m in fake.messages
        )
    )
    with database.connection_context():
        report = ProgressReport.get()
        assert report.wecom_userid == "zhangsan", "recorded under the member, as bound"
    assert not fake.dropped and not [m for m in fake.messages if "还没有绑定" in str(m)]
