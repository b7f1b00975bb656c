"""The WeCom client against the fake over real HTTP: every door turns an answer that is not a
JSON object into a clear, retryable WeComError."""

from __future__ import annotations

import pytest
from fakes.wecom_server import Fault
from wecom_setup import wecom_config

from bot.transports.wecom.client import WeComClient
from bot.transports.wecom.errors import WeComError

UNREADABLE = [
    Fault.garbage(),
    Fault.garbage("", "text/plain"),
    Fault.garbage('{"errcode": 0, "errmsg": "o', "application/json"),  # cut off
    Fault.garbage("[]", "application/json"),
    Fault.garbage('{"errcode": "busy"}', "application/json"),
]
UNREADABLE_IDS = ["html", "empty", "cut-off", "json-list", "errcode-not-a-number"]

CALLS = {
    "message/send": (
        "/cgi-bin/message/send",
        lambda c: c.post(
            "message/send",
            {"touser": "li", "msgtype": "text", "agentid": 1, "text": {"content": "x"}},
        ),
    ),
    "agent/get": ("/cgi-bin/agent/get", lambda c: c.get("agent/get", {"agentid": 1000002})),
    "gettoken": ("/cgi-bin/gettoken", lambda c: c.fetch_token()),
    "webhook": (
        "/cgi-bin/webhook/send",
        lambda c: c.post_webhook(
            c.config.wecom_group_webhook_url, {"msgtype": "text", "text": {"content": "x"}}
        ),
    ),
    "media/upload": (
        "/cgi-bin/media/upload",
        lambda c: c.upload_media("file", "a.txt", b"hello, world"),
    ),
}


@pytest.fixture
def client(tmp_path, db_url, db, fake, clock):
    fake.clock = lambda: clock.now().timestamp()
    return WeComClient(wecom_config(tmp_path, db_url, fake), clock)


@pytest.mark.parametrize("fault", UNREADABLE, ids=UNREADABLE_IDS)
@pytest.mark.parametrize("call", list(CALLS))
def test_an_answer_that_is_not_a_json_object_is_a_clear_transient_error(
    client, fake, call, fault, caplog
):
    path, do = CALLS[call]
    client.token()  # the token first, so that the fault meets the call itself
    fake.fail(path, fault)
    with pytest.raises(WeComError) as caught:
        do(client)
    error = caught.value
    who = "群机器人" if call == "webhook" else "企业微信"
    assert error.describe() == f"{who}返回了无法解析的内容（HTTP 200）"
    assert error.errcode is None and not error.permanent and error.retry_after == 5
    assert "not a JSON object" in caplog.text
    assert fake.current_token not in caplog.text
    do(client)  # the fault was one answer; the next call works


def test_answers_without_the_field_asked_for_are_clear_errors(client, fake):
    fake.fail("/cgi-bin/gettoken", Fault.garbage('{"errcode": 0}', "application/json"))
    with pytest.raises(WeComError, match="没有 access_token") as caught:
        client.fetch_token()
    assert not caught.value.permanent
    client.token()
    fake.fail("/cgi-bin/media/upload", Fault.garbage('{"errcode": 0}', "application/json"))
    with pytest.raises(WeComError, match="没有 media_id"):
        client.upload_media("file", "a.txt", b"hello, world")
