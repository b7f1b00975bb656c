"""Self-test of the fake WeCom server and the callback client (tests/fakes/)."""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from fakes.wecom_callback import CallbackClient
from fakes.wecom_server import FakeWeCom, Fault
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.work.crypto import WeChatCrypto

CORP = "ww1436e0e65a779aee"
TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
SEND = "/cgi-bin/message/send"


@pytest.fixture
def wecom():
    with FakeWeCom() as fake:
        yield fake


@pytest.fixture
def http():
    with requests.Session() as session:  # keep-alive, as the bot's client would use
        yield session


def token_of(http: requests.Session, wecom: FakeWeCom) -> str:
    reply = http.get(
        f"{wecom.base_url}/cgi-bin/gettoken",
        params={"corpid": wecom.corp_id, "corpsecret": wecom.secret},
        timeout=5,
    ).json()
    assert reply["errcode"] == 0, reply
    return reply["access_token"]


def send_text(http, wecom, token, touser="u1", content="你好", timeout=5.0):
    payload = {
        "touser": touser,
        "msgtype": "text",
        "agentid": 1000002,
        "text": {"content": content},
    }
    return http.post(
        f"{wecom.base_url}{SEND}", params={"access_token": token}, json=payload, timeout=timeout
    )


def test_token_same_until_expired_then_42001(wecom, http):
    first = token_of(http, wecom)
    assert token_of(http, wecom) == first
    assert send_text(http, wecom, first).json()["errcode"] == 0
    wecom.expire_token()
    assert send_text(http, wecom, first).json()["errcode"] == 42001
    second = token_of(http, wecom)
    assert second != first
    assert send_text(http, wecom, second).json()["errcode"] == 0
    assert send_text(http, wecom, "nonsense").json()["errcode"] == 40014
    assert http.post(f"{wecom.base_url}{SEND}", json={}, timeout=5).json()["errcode"] == 41001
    bad = http.get(
        f"{wecom.base_url}/cgi-bin/gettoken", params={"corpid": CORP, "corpsecret": "x"}, timeout=5
    )
    assert bad.json()["errcode"] == 40001
    assert wecom.token_fetches == 4


def test_message_send_records_and_reports_invalid_users(wecom, http):
    token = token_of(http, wecom)
    wecom.invalid_users = {"ghost", "gone"}
    reply = send_text(http, wecom, token, touser="u1|ghost").json()
    assert reply["errcode"] == 0 and reply["invaliduser"] == "ghost" and reply["msgid"]
    assert wecom.messages[0]["touser"] == "u1|ghost"
    assert send_text(http, wecom, token, touser="ghost|gone").json()["errcode"] == 81013
    assert (
        send_text(http, wecom, token, content="字" * 683).json()["errcode"] == 45002
    )  # 2049 bytes
    assert send_text(http, wecom, token, content="字" * 682).json()["errcode"] == 0
    assert len(wecom.messages) == 2
    assert wecom.count(SEND) == 4


def test_http_fault_then_normal_and_ip_allow_list(wecom, http):
    token = token_of(http, wecom)
    wecom.fail(SEND, Fault.http(500), Fault.err(-1))
    first = send_text(http, wecom, token)
    assert first.status_code == 500 and "html" in first.headers["Content-Type"]
    assert send_text(http, wecom, token).json()["errcode"] == -1
    assert send_text(http, wecom, token).json()["errcode"] == 0
    assert wecom.count(SEND) == 3 and len(wecom.messages) == 1
    wecom.allowed_ips = set()
    reply = send_text(http, wecom, token).json()
    assert reply["errcode"] == 60020 and "not allow to access from your ip" in reply["errmsg"]


def test_garbage_answers_200_with_what_it_was_given(wecom, http):
    token = token_of(http, wecom)
    wecom.fail(SEND, Fault.garbage(), Fault.garbage("[1]", "application/json"), Fault.ok())
    page = send_text(http, wecom, token)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        page.json()
    listed = send_text(http, wecom, token)
    assert listed.status_code == 200 and listed.json() == [1]
    assert send_text(http, wecom, token).json()["errcode"] == 0
    assert wecom.count(SEND) == 3 and len(wecom.messages) == 1  # garbage never reached WeCom


def test_drop_raises_connection_error_and_slow_answers(wecom, http):
    token = token_of(http, wecom)
    wecom.fail(SEND, Fault.drop(), Fault.slow(0.2), Fault.slow(1.0))
    with pytest.raises(requests.ConnectionError):
        send_text(http, wecom, token)
    assert wecom.count(SEND) == 1 and not wecom.messages  # recorded although dropped
    assert send_text(http, wecom, token).json()["errcode"] == 0  # slow(0.2), then normal
    with pytest.raises(requests.Timeout):
        send_text(http, wecom, token, timeout=0.4)
    assert send_text(http, wecom, token).json()["errcode"] == 0
    assert wecom.wait_for(lambda: len(wecom.messages) == 3, timeout=3)


def test_media_get_bytes_filename_and_json_error(wecom, http):
    token = token_of(http, wecom)
    data = bytes(range(256)) * 1000
    media_id = wecom.add_media(data, "周报 第1期.pdf", "application/pdf")
    reply = http.get(
        f"{wecom.base_url}/cgi-bin/media/get",
        params={"access_token": token, "media_id": media_id},
        timeout=5,
        stream=True,
    )
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "application/pdf"
    assert int(reply.headers["Content-Length"]) == len(data)
    assert b"".join(reply.iter_content(8192)) == data
    disposition = reply.headers["Content-Disposition"]
    assert f"filename*=utf-8''{quote('周报 第1期.pdf')}" in disposition
    assert "周报" not in disposition  # the plain filename= is mojibake, as from WeCom
    missing = http.get(
        f"{wecom.base_url}/cgi-bin/media/get",
        params={"access_token": token, "media_id": "nope"},
        timeout=5,
    )
    assert missing.status_code == 200 and missing.headers["Content-Type"].startswith(
        "application/json"
    )
    assert missing.json()["errcode"] == 40007


def test_media_trickles_chunk_by_chunk_and_records_when_it_was_served(wecom, http):
    token = token_of(http, wecom)
    data = bytes(range(256)) * 40  # 10 KB
    media_id = wecom.add_media(data, "a.pdf", "application/pdf")
    wecom.media_chunk_size, wecom.media_chunk_delay = 1024, 0.05
    url = f"{wecom.base_url}/cgi-bin/media/get"
    params = {"access_token": token, "media_id": media_id}
    reply = http.get(url, params=params, timeout=5, stream=True)
    arrivals = []
    body = b""
    while chunk := reply.raw.read1(65536):
        arrivals.append(time.monotonic())
        body += chunk
    assert body == data
    # The server records it just after its last write, which the client may read first.
    assert wecom.wait_for(lambda: len(wecom.media_served) == 1, timeout=5)
    assert arrivals[-1] - arrivals[0] >= 9 * 0.05 * 0.9, "ten chunks, 0.05 s apart"


def test_webhook_rate_limit_on_the_21st(wecom, http):
    for i in range(20):
        reply = http.post(
            wecom.webhook_url,
            json={"msgtype": "markdown", "markdown": {"content": f"**{i}**"}},
            timeout=5,
        )
        assert reply.json()["errcode"] == 0, i
    reply = http.post(
        wecom.webhook_url, json={"msgtype": "text", "text": {"content": "21"}}, timeout=5
    )
    assert reply.json()["errcode"] == 45009
    assert len(wecom.webhook_messages) == 20
    wrong = http.post(
        f"{wecom.base_url}/cgi-bin/webhook/send?key=other",
        json={"msgtype": "text", "text": {"content": "x"}},
        timeout=5,
    )
    assert wrong.json()["errcode"] == 93000


def test_webhook_window_moves_with_the_clock():
    now = [1000.0]
    with FakeWeCom(webhook_rate_per_minute=2) as wecom:
        wecom.clock = lambda: now[0]

        def post() -> int:
            text = {"msgtype": "text", "text": {"content": "x"}}
            return requests.post(wecom.webhook_url, json=text, timeout=5).json()["errcode"]

        assert [post(), post(), post()] == [0, 0, 45009]
        now[0] += 60
        assert post() == 0


def test_more_than_30_a_minute_to_one_member_are_dropped_silently(wecom, http):
    """WeCom answers errcode 0 and does not deliver: the fake records the drop."""
    now = [1000.0]
    wecom.clock = lambda: now[0]
    token = token_of(http, wecom)
    answers = [send_text(http, wecom, token, "u1", f"第{n}条").json() for n in range(31)]
    assert all(a["errcode"] == 0 and a["msgid"] for a in answers)
    assert len(wecom.messages) == 30
    assert [(user, p["text"]["content"]) for user, p in wecom.dropped] == [("u1", "第30条")]
    both = send_text(http, wecom, token, "u1|u2", "两人").json()
    assert both["errcode"] == 0
    assert wecom.messages[-1]["text"]["content"] == "两人", "u2 still gets it"
    assert [user for user, _ in wecom.dropped] == ["u1", "u1"]
    now[0] += 60
    assert send_text(http, wecom, token, "u1", "一分钟后").json()["errcode"] == 0
    assert wecom.messages[-1]["text"]["content"] == "一分钟后"
    assert len(wecom.dropped) == 2


def test_more_than_1000_an_hour_to_one_member_are_dropped(wecom, http):
    now = [1000.0]
    wecom.clock = lambda: now[0]
    token = token_of(http, wecom)
    for _ in range(34):  # 30 a minute, within the minute limit, 1020 in 34 minutes
        for _ in range(30):
            send_text(http, wecom, token, "u1", "x")
        now[0] += 60
    assert len(wecom.messages) == 1000 and len(wecom.dropped) == 20
    now[0] += 3600
    send_text(http, wecom, token, "u1", "一小时后")
    assert wecom.messages[-1]["text"]["content"] == "一小时后"


def test_update_template_card_once_then_40079(wecom, http):
    token = token_of(http, wecom)
    card = {
        "card_type": "button_interaction",
        "task_id": "t1",
        "main_title": {"title": "督办"},
        "button_list": [{"text": "收到", "key": "ack"}],
    }
    sent = http.post(
        f"{wecom.base_url}{SEND}",
        params={"access_token": token},
        json={
            "touser": "u1",
            "msgtype": "template_card",
            "agentid": 1000002,
            "template_card": card,
        },
        timeout=5,
    ).json()
    assert sent["errcode"] == 0 and sent["response_code"]
    url = f"{wecom.base_url}/cgi-bin/message/update_template_card"
    update = {
        "userids": ["u1"],
        "agentid": 1000002,
        "response_code": sent["response_code"],
        "button": {"replace_name": "已收到"},
    }
    assert (
        http.post(url, params={"access_token": token}, json=update, timeout=5).json()["errcode"]
        == 0
    )
    again = http.post(url, params={"access_token": token}, json=update, timeout=5).json()
    assert again == {"errcode": 40079, "errmsg": "invalid response_code"}
    assert wecom.card_updates == [update]


def test_upload_parses_multipart_and_appchat(wecom, http):
    token = token_of(http, wecom)
    data = b"\r\n--not-a-boundary\r\n\x00\xff" * 100
    reply = http.post(
        f"{wecom.base_url}/cgi-bin/media/upload",
        params={"access_token": token, "type": "file"},
        files={"media": ("督办清单.xlsx", data)},
        timeout=5,
    ).json()
    assert reply["errcode"] == 0 and reply["type"] == "file" and reply["created_at"].isdigit()
    assert wecom.uploads == [("督办清单.xlsx", data)]
    back = http.get(
        f"{wecom.base_url}/cgi-bin/media/get",
        params={"access_token": token, "media_id": reply["media_id"]},
        timeout=5,
    )
    assert back.content == data
    chat = {"chatid": "leaders", "msgtype": "text", "text": {"content": "hi"}}
    assert (
        http.post(
            f"{wecom.base_url}/cgi-bin/appchat/send",
            params={"access_token": token},
            json=chat,
            timeout=5,
        ).json()["errcode"]
        == 0
    )
    chat["chatid"] = "nobody"
    assert (
        http.post(
            f"{wecom.base_url}/cgi-bin/appchat/send",
            params={"access_token": token},
            json=chat,
            timeout=5,
        ).json()["errcode"]
        == 86003
    )
    assert len(wecom.appchat_messages) == 1
    assert http.get(f"{wecom.base_url}/cgi-bin/other", timeout=5).status_code == 404


def test_official_known_answer_vectors():
    crypto = WeChatCrypto(TOKEN, AES_KEY, CORP)
    echostr = (
        "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
    )
    assert (
        crypto.check_signature(
            "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373", "47744683", echostr
        )
        == "1288432023552776189"
    )
    body = (
        "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n<Encrypt><![CDATA["
        "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+"
        "]]></Encrypt>\n<AgentID><![CDATA[1000002]]></AgentID>\n</xml>"
    )
    plain = crypto.decrypt_message(
        body, "0c3914025cb4b4d68103f6bfc8db550f79dcf48e", "1476422779", "1597212914"
    )
    root = ET.fromstring(plain)
    assert root.findtext("FromUserName") == "ChenJiaShun" and root.findtext("Content") == "你好"
    assert root.findtext("MsgId") == "1456453720" and root.findtext("AgentID") == "1000002"


def test_callback_envelope_decrypts_with_wechatpy():
    client = CallbackClient("http://127.0.0.1:9/cb", TOKEN, AES_KEY, CORP)
    plain = client.text("zhangsan", "完成了 ]]> <b>&", msg_id=123, create_time=1764122400)
    assert "<MsgType><![CDATA[text]]></MsgType>" in plain and "<MsgId>123</MsgId>" in plain
    params, body = client.envelope(plain, timestamp=1764122400, nonce="47744683")
    assert params["timestamp"] == "1764122400" and params["nonce"] == "47744683"
    assert body.startswith(
        b"<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA["
    )
    decrypted = WeChatCrypto(TOKEN, AES_KEY, CORP).decrypt_message(
        body, params["msg_signature"], params["timestamp"], params["nonce"]
    )
    assert decrypted == plain
    assert ET.fromstring(decrypted).findtext("Content") == "完成了 ]]> <b>&"
    event = ET.fromstring(
        client.event(
            "u",
            "template_card_event",
            EventKey="ack",
            TaskId="t1",
            CardType="button_interaction",
            ResponseCode="rc",
        )
    )
    assert (
        event.findtext("Event") == "template_card_event" and event.findtext("ResponseCode") == "rc"
    )
    upload = ET.fromstring(client.file("u", "m1", "报告.docx", 2048, msg_id=7))
    assert upload.findtext("MsgType") == "file" and upload.findtext("FileSize") == "2048"


def test_callback_client_posts_and_verifies_url():
    seen: list[tuple[str, str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            seen.append(("GET", self.path, b""))
            self._answer(b"")

        def do_POST(self):
            seen.append(("POST", self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self._answer(b"")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        client = CallbackClient(
            f"http://127.0.0.1:{server.server_address[1]}/wecom/callback", TOKEN, AES_KEY, CORP
        )
        crypto = WeChatCrypto(TOKEN, AES_KEY, CORP)
        assert (
            client.verify_url(
                "1288432023552776189", timestamp=1476416373, nonce="47744683"
            ).status_code
            == 200
        )
        assert (
            client.post(
                client.event("u", "enter_agent"), params_override={"nonce": "1"}
            ).status_code
            == 200
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    (_, get_path, _), (_, post_path, post_body) = seen
    raw_echostr = get_path.split("echostr=", 1)[1].split("&")[0]
    assert "+" not in raw_echostr and "/" not in raw_echostr  # percent-encoded on the wire
    q = {k: v[0] for k, v in parse_qs(urlsplit(get_path).query).items()}
    assert (
        crypto.check_signature(q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"])
        == "1288432023552776189"
    )
    p = {k: v[0] for k, v in parse_qs(urlsplit(post_path).query).items()}
    assert p["nonce"] == "1"
    with pytest.raises(InvalidSignatureException):  # the overridden nonce breaks the signature
        crypto.decrypt_message(post_body, p["msg_signature"], p["timestamp"], p["nonce"])


def post_send(http, wecom, token, payload):
    return http.post(
        f"{wecom.base_url}{SEND}", params={"access_token": token}, json=payload, timeout=5
    ).json()


def test_duplicate_check_compares_the_whole_request_json_within_its_interval(http):
    now = [1000.0]
    with FakeWeCom() as wecom:
        wecom.clock = lambda: now[0]
        token = token_of(http, wecom)
        checked = {
            "touser": "u1",
            "msgtype": "text",
            "agentid": 1000002,
            "text": {"content": "任务 T8 的详情"},
            "enable_duplicate_check": 1,
            "duplicate_check_interval": 1801,
        }
        reordered = dict(reversed(list(checked.items())))  # same JSON, other key order
        other_interval = {**checked, "duplicate_check_interval": 1802}
        unchecked = {k: v for k, v in checked.items() if "duplicate" not in k}
        for payload in (checked, reordered, other_interval, unchecked, unchecked):
            assert post_send(http, wecom, token, payload)["errcode"] == 0
        # Same text to the same person, but a different request JSON: delivered.
        assert wecom.messages == [checked, other_interval, unchecked, unchecked]
        assert wecom.duplicates_absorbed == [reordered]
        now[0] += 1800.5  # still inside the first one's 1801 s
        assert post_send(http, wecom, token, checked)["errcode"] == 0
        assert len(wecom.messages) == 4 and len(wecom.duplicates_absorbed) == 2
        now[0] += 1  # its window has passed: delivered again, and a new window starts
        assert post_send(http, wecom, token, checked)["errcode"] == 0
        assert post_send(http, wecom, token, checked)["errcode"] == 0
        assert wecom.messages[-1] == checked and len(wecom.messages) == 5
        assert len(wecom.duplicates_absorbed) == 3


def test_duplicate_check_default_interval_limit_and_refused_requests(wecom, http):
    token = token_of(http, wecom)
    default = {
        "touser": "u1",
        "msgtype": "text",
        "agentid": 1000002,
        "text": {"content": "催办"},
        "enable_duplicate_check": 1,
    }
    assert post_send(http, wecom, token, default)["errcode"] == 0
    assert post_send(http, wecom, token, default)["errcode"] == 0  # 1800 s by default
    assert len(wecom.messages) == 1 and len(wecom.duplicates_absorbed) == 1
    for bad in (14401, 0, "1800"):
        reply = post_send(http, wecom, token, {**default, "duplicate_check_interval": bad})
        assert reply["errcode"] == 40058, bad
    longest = {**default, "duplicate_check_interval": 14400}
    assert post_send(http, wecom, token, longest)["errcode"] == 0
    # A request WeCom refused was never delivered: the same JSON again is delivered, not absorbed.
    wecom.fail(SEND, Fault.err(-1))
    retried = {**default, "text": {"content": "重试"}}
    assert post_send(http, wecom, token, retried)["errcode"] == -1
    wecom.invalid_users = {"u1"}
    assert post_send(http, wecom, token, retried)["errcode"] == 81013
    wecom.invalid_users = set()
    assert post_send(http, wecom, token, retried)["errcode"] == 0
    assert wecom.messages == [default, longest, retried]
    assert len(wecom.duplicates_absorbed) == 1


def test_a_used_task_id_is_refused_with_42014_unless_the_request_is_a_duplicate(wecom, http):
    token = token_of(http, wecom)

    def card(task_id, title):
        return {
            "touser": "u1",
            "msgtype": "template_card",
            "agentid": 1000002,
            "template_card": {
                "card_type": "button_interaction",
                "task_id": task_id,
                "main_title": {"title": title},
                "button_list": [{"text": "收到", "key": "ack"}],
            },
            "enable_duplicate_check": 1,
            "duplicate_check_interval": 1800,
        }

    assert post_send(http, wecom, token, card("t1", "催办"))["errcode"] == 0
    assert post_send(http, wecom, token, card("t1", "催办"))["errcode"] == 0  # absorbed
    assert post_send(http, wecom, token, card("t1", "提醒")) == {
        "errcode": 42014,
        "errmsg": "task_id exist",
    }
    assert post_send(http, wecom, token, card("t2", "提醒"))["errcode"] == 0
    assert [m["template_card"]["task_id"] for m in wecom.messages] == ["t1", "t2"]
    assert len(wecom.duplicates_absorbed) == 1


# ---------------------------------------------------------------- web sign-in (OAuth)


def authorize(http, wecom, **overrides):
    params = {
        "appid": wecom.corp_id,
        "redirect_uri": "http://board.test/board/auth/callback?x=1",
        "response_type": "code",
        "scope": "snsapi_base",
        "state": "abc123",
        "agentid": "1000002",
        **overrides,
    }
    return http.get(
        f"{wecom.base_url}/connect/oauth2/authorize",
        params=params,
        allow_redirects=False,
        timeout=5,
    )


def test_authorize_redirects_with_a_code_that_getuserinfo_takes_once(wecom, http):
    wecom.oauth_user = "leader1"
    answer = authorize(http, wecom)
    assert answer.status_code == 302
    back = urlsplit(answer.headers["Location"])
    assert (back.netloc, back.path) == ("board.test", "/board/auth/callback")
    query = parse_qs(back.query)
    assert query["x"] == ["1"] and query["state"] == ["abc123"]
    code = query["code"][0]
    token = token_of(http, wecom)
    url = f"{wecom.base_url}/cgi-bin/auth/getuserinfo"
    first = http.get(url, params={"access_token": token, "code": code}, timeout=5).json()
    assert first == {"errcode": 0, "errmsg": "ok", "userid": "leader1"}
    again = http.get(url, params={"access_token": token, "code": code}, timeout=5).json()
    assert again["errcode"] == 40029  # a code is used once
    assert http.get(url, params={"access_token": token}, timeout=5).json()["errcode"] == 41008
    assert http.get(url, params={"code": code}, timeout=5).json()["errcode"] == 41001


def test_a_code_expires_after_five_minutes_and_outsiders_get_an_openid(wecom, http):
    now = [1000.0]
    wecom.clock = lambda: now[0]
    late = wecom.issue_code("li")
    outsider = wecom.issue_code("openid:oX1")
    now[0] += 300
    token = token_of(http, wecom)
    url = f"{wecom.base_url}/cgi-bin/auth/getuserinfo"
    assert (
        http.get(url, params={"access_token": token, "code": late}, timeout=5).json()["errcode"]
        == 40029
    )
    now[0] -= 1  # still within 5 minutes for this one
    reply = http.get(url, params={"access_token": token, "code": outsider}, timeout=5).json()
    assert reply["errcode"] == 0 and reply["openid"] == "oX1" and "userid" not in reply


def test_the_user_is_a_cookie_of_the_browser_and_bad_requests_get_no_code(wecom, http):
    wecom.oauth_user = None
    outside = authorize(http, wecom)
    assert outside.status_code == 200 and "请在企业微信客户端打开" in outside.text
    http.cookies.set("fake_wecom_user", "liaison1", domain="127.0.0.1")
    answer = authorize(http, wecom)
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    assert wecom.oauth_codes[-1].code == code and wecom.oauth_codes[-1].user == "liaison1"
    issued = len(wecom.oauth_codes)
    wecom.trusted_domains = {"board.example.cn"}
    for bad in (
        {"appid": "wrong"},
        {"scope": "snsapi_userinfo"},
        {"state": "has space"},
        {"state": "x" * 129},
        {"agentid": ""},
        {"redirect_uri": "javascript:alert(1)"},
        {},  # board.test is not a trusted domain now
    ):
        refused = authorize(http, wecom, **bad)
        assert refused.status_code == 200 and "Location" not in refused.headers, bad
    assert len(wecom.oauth_codes) == issued
    wecom.trusted_domains = {"board.test"}
    assert authorize(http, wecom).status_code == 302


def weblogin(http, wecom, **overrides):
    params = {
        "login_type": "CorpApp",
        "appid": wecom.corp_id,
        "agentid": "1000002",
        "redirect_uri": "http://desk.test/desk/auth/callback",
        "state": "abc123",
        **overrides,
    }
    return http.get(
        f"{wecom.base_url}/wwlogin/sso/login", params=params, allow_redirects=False, timeout=5
    )


def test_web_login_plays_the_scan_and_refuses_what_wecom_refuses(wecom, http):
    """企业微信 Web 登录: login_type=CorpApp, the corp's appid, the agentid, a state of letters
    and digits, and a redirect_uri on the app's 授权回调域; the scan gives a one-time code."""
    waiting = weblogin(http, wecom)
    assert waiting.status_code == 200 and "扫描二维码" in waiting.text  # nobody scanned yet
    wecom.weblogin_user = "boss"
    answer = weblogin(http, wecom)
    back = urlsplit(answer.headers["Location"])
    assert (back.netloc, back.path) == ("desk.test", "/desk/auth/callback")
    query = parse_qs(back.query)
    assert query["state"] == ["abc123"] and wecom.weblogins == 1
    token = token_of(http, wecom)
    url = f"{wecom.base_url}/cgi-bin/auth/getuserinfo"
    reply = http.get(url, params={"access_token": token, "code": query["code"][0]}, timeout=5)
    assert reply.json()["userid"] == "boss"
    wecom.weblogin_domains = {"desk.example.cn"}
    wecom.agent_id = 1000002
    for bad in (
        {"login_type": "ServiceApp"},
        {"appid": "wrong"},
        {"agentid": "1000003"},
        {"state": "has space"},
        {"redirect_uri": "javascript:alert(1)"},
        {},  # desk.test is not the 授权回调域 now
    ):
        refused = weblogin(http, wecom, **bad)
        assert refused.status_code == 200 and "Location" not in refused.headers, bad
    assert wecom.weblogins == 1


def test_the_directory_answers_only_with_the_permission(wecom, http):
    token = token_of(http, wecom)
    url = f"{wecom.base_url}/cgi-bin/user/simplelist"
    params = {"access_token": token, "department_id": "1", "fetch_child": "1"}
    assert http.get(url, params=params, timeout=5).json()["errcode"] == 48002
    wecom.directory = {"zhao": "赵敏"}
    reply = http.get(url, params=params, timeout=5).json()
    assert reply["errcode"] == 0 and reply["userlist"][0]["name"] == "赵敏"
