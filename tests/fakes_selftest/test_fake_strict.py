"""The fake WeCom is as strict as WeCom (issue 20, point 10): a visible range, userids in any
case, media sizes and 3-day media, template cards by their documented fields, 可信域名 for web
sign-in, no duplicate check for the robot and app chats, file callbacks that may not come."""

from __future__ import annotations

import pytest
import requests
from fakes.wecom_callback import CallbackClient
from fakes.wecom_server import MEDIA_TTL, FakeWeCom

from bot.cards import BUTTONS, card_payload

SEND = "/cgi-bin/message/send"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wecom():
    with FakeWeCom() as fake:
        fake.visible = {"ZhangSan", "li", "wang"}
        fake.clock = Clock()
        yield fake


@pytest.fixture
def api(wecom):
    with requests.Session() as http:
        token = http.get(
            f"{wecom.base_url}/cgi-bin/gettoken",
            params={"corpid": wecom.corp_id, "corpsecret": wecom.secret},
            timeout=5,
        ).json()["access_token"]

        def call(path: str, payload: dict | None = None, **params) -> dict:
            url = f"{wecom.base_url}/cgi-bin/{path}"
            query = {"access_token": token, **params}
            if payload is None:
                return http.get(url, params=query, timeout=5).json()
            return http.post(url, params=query, json=payload, timeout=5).json()

        call.http = http  # type: ignore[attr-defined]
        yield call


def text(touser: str, content: str = "你好") -> dict:
    return {"touser": touser, "msgtype": "text", "agentid": 1000002, "text": {"content": content}}


def test_a_userid_outside_the_range_is_invalid_and_all_outside_is_81013(wecom, api):
    reply = api("message/send", text("li|ghost"))
    assert reply["errcode"] == 0 and reply["invaliduser"] == "ghost"
    assert api("message/send", text("ghost|nobody"))["errcode"] == 81013
    assert len(wecom.messages) == 1


def test_at_all_reaches_the_whole_range(wecom, api):
    assert api("message/send", text("@all", "全体"))["errcode"] == 0
    for _ in range(29):
        api("message/send", text("wang", "再一条"))
    # wang had 30 in the minute (the @all one counted): the next is dropped silently
    assert api("message/send", text("WANG", "第31条"))["errcode"] == 0
    assert [u for u, _ in wecom.dropped] == ["wang"]


def test_userids_ignore_case_and_come_back_as_wecom_stores_them(wecom, api):
    reply = api("message/send", text("zhangsan|LI"))
    assert reply["errcode"] == 0 and reply["invaliduser"] == ""
    assert wecom.userid("ZHANGSAN") == "ZhangSan"
    code = wecom.issue_code("zhangsan")
    assert api("auth/getuserinfo", code=code)["userid"] == "ZhangSan"


def upload(wecom, api, kind: str, data: bytes) -> dict:
    return api.http.post(
        f"{wecom.base_url}/cgi-bin/media/upload",
        params={"access_token": wecom.current_token, "type": kind},
        files={"media": ("a.bin", data)},
        timeout=30,
    ).json()


def test_media_sizes_are_wecoms(wecom, api):
    assert upload(wecom, api, "file", b"12345")["errcode"] == 40006  # 5 bytes or fewer
    assert upload(wecom, api, "file", b"123456")["errcode"] == 0
    assert upload(wecom, api, "image", b"x" * (10 << 20))["errcode"] == 0
    assert upload(wecom, api, "image", b"x" * ((10 << 20) + 1))["errcode"] == 40006
    assert upload(wecom, api, "voice", b"x" * ((2 << 20) + 1))["errcode"] == 40006
    assert upload(wecom, api, "file", b"x" * ((20 << 20) + 1))["errcode"] == 40006


def test_a_media_id_lasts_three_days(wecom, api):
    media_id = upload(wecom, api, "file", b"the ledger")["media_id"]
    message = {
        "touser": "li",
        "msgtype": "file",
        "agentid": 1000002,
        "file": {"media_id": media_id},
    }
    assert api("message/send", message)["errcode"] == 0
    wecom.clock.now += MEDIA_TTL - 1
    api.http.get(  # the token would have lapsed: fetch a new one, as the bot does
        f"{wecom.base_url}/cgi-bin/gettoken",
        params={"corpid": wecom.corp_id, "corpsecret": wecom.secret},
        timeout=5,
    )
    assert upload(wecom, api, "file", b"still here")["errcode"] == 0
    wecom.clock.now += 1
    got = api.http.get(
        f"{wecom.base_url}/cgi-bin/media/get",
        params={"access_token": wecom.current_token, "media_id": media_id},
        timeout=5,
    ).json()
    assert got["errcode"] == 40007


def card(**changes) -> dict:
    payload = card_payload(
        title="T7 待办", description="请确认", rows=[("期限", "12-31")], task_id="t-1"
    )
    payload.update(changes)
    return {
        "touser": "li",
        "msgtype": "template_card",
        "agentid": 1000002,
        "template_card": payload,
    }


def test_the_bots_card_is_valid(api):
    assert api("message/send", card())["errcode"] == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"button_list": [{"text": f"按钮{n}", "key": f"k{n}"} for n in range(7)]},
        {"button_list": []},
        {"button_list": [{"text": "没有键"}]},
        {"button_list": [{"text": "一二三四五六七八九十一", "key": "k"}]},
        {"task_id": "含有空格 的 id"},
        {"main_title": {"title": "标" * 27}},
        {"horizontal_content_list": [{"keyname": "六个字的键名", "value": "v"}]},
        {"card_action": {"type": 1}},
        {"colour": "red"},
        {"card_type": "fancy"},
    ],
)
def test_a_card_outside_the_documented_fields_is_refused(api, changes):
    assert api("message/send", card(**changes))["errcode"] == 40058


def test_the_bots_buttons_fit():
    assert 1 <= len(BUTTONS) <= 6 and all(len(label) <= 10 for _, label, _ in BUTTONS)


def test_web_sign_in_checks_the_redirect_domain(wecom):
    wecom.oauth_user = "li"
    wecom.trusted_domains = {"board.example.cn"}
    query = {
        "appid": wecom.corp_id,
        "response_type": "code",
        "scope": "snsapi_base",
        "state": "s1",
        "agentid": "1000002",
    }
    url = f"{wecom.base_url}/connect/oauth2/authorize"
    refused = requests.get(
        url, params={**query, "redirect_uri": "https://evil.example.com/b"}, timeout=5
    )
    assert "50001" in refused.text
    allowed = requests.get(
        url,
        params={**query, "redirect_uri": "https://board.example.cn/board/auth"},
        allow_redirects=False,
        timeout=5,
    )
    assert allowed.status_code == 302
    assert allowed.headers["Location"].startswith("https://board.example.cn/board/auth?code=")


def test_the_robot_and_app_chats_post_the_same_json_twice(wecom, api):
    payload = {"msgtype": "text", "text": {"content": "周报"}}
    for _ in range(2):
        assert requests.post(wecom.webhook_url, json=payload, timeout=5).json()["errcode"] == 0
    assert len(wecom.webhook_messages) == 2
    for _ in range(2):
        assert api("appchat/send", {"chatid": "leaders", **payload})["errcode"] == 0
    assert len(wecom.appchat_messages) == 2


def test_app_chats_are_created_by_the_app_and_only_from_the_root(wecom, api):
    assert api("appchat/get", chatid="leaders")["errcode"] == 86003, "not made by this app"
    made = api("appchat/create", {"name": "领导小组", "owner": "li", "userlist": ["li", "wang"]})
    assert made["errcode"] == 0
    got = api("appchat/get", chatid=made["chatid"])
    assert got["chat_info"]["userlist"] == ["li", "wang"]
    assert api("appchat/create", {"userlist": ["li"]})["errcode"] == 86215, "two at least"
    assert api("appchat/create", {"userlist": ["li", "ghost"]})["errcode"] == 86215
    wecom.range_is_root = False
    assert api("appchat/create", {"userlist": ["li", "wang"]})["errcode"] == 48002


def test_file_callbacks_can_be_switched_off(wecom):
    client = CallbackClient("http://127.0.0.1:9/unused", "t" * 32, "a" * 43, wecom.corp_id)
    client.file_callbacks = False
    xml = client.file("li", "media-1", "台账.pdf", 1234, msg_id=1)
    assert client.post(xml) is None and client.withheld == [xml]
