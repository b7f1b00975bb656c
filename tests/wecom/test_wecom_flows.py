"""WeCom end to end: encrypted callbacks into the real server, replies out to a fake WeCom that
speaks real HTTP, with WeCom's retries, token expiry and failures."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import pytest
import requests
from fakes.wecom_callback import CallbackClient
from helpers import ChatDriver, running
from wecom_setup import AES_KEY, AGENT_ID, TOKEN, wecom_config

from bot.clock import Clock
from bot.services import build_services
from models.db import database
from models.messages import InboundMessage
from models.progress import Evidence, ProgressReport

PNG = b"\x89PNG\r\n\x1a\n" + hashlib.sha256(b"photo").digest() * 400


@pytest.fixture
def live(tmp_path, db_url, db, fake):
    """The bot on the real clock, serving on port 0, talking to the fake WeCom."""
    config = wecom_config(tmp_path, db_url, fake)
    services = build_services(config, Clock(config.timezone))
    ChatDriver(services).bind("li", "市监局")
    services.sender.drain()
    db.close()
    with running(services) as base:
        client = CallbackClient(f"{base}/wecom/callback", TOKEN, AES_KEY, fake.corp_id, AGENT_ID)
        yield base, client, services
    database.close()


def texts_to(fake, userid):
    return [
        m.get("text", {}).get("content", "") or m.get("markdown", {}).get("content", "")
        for m in fake.messages
        if userid in str(m.get("touser", "")).split("|")
    ]


def test_url_check_answers_the_plain_echostr(live):
    _, client, _ = live
    response = client.verify_url("1288432023552776189")
    assert response.status_code == 200 and response.text == "1288432023552776189"


def test_a_message_delivered_four_times_is_stored_and_answered_once(live, fake):
    _, client, _ = live
    xml = client.text("li", "进度 T7 60% 初稿", msg_id=900001)
    params, body = client.envelope(xml)
    base_url = client.url
    for _ in range(4):  # WeCom retries when it got no 200 in time
        response = requests.post(base_url, params=params, data=body, timeout=5)
        assert response.status_code == 200 and response.text == ""
    assert fake.wait_for(lambda: any("已记录" in t for t in texts_to(fake, "li")))
    with database.connection_context():
        assert ProgressReport.select().count() == 1
        assert InboundMessage.select().where(InboundMessage.transport == "wecom").count() == 1
    assert len([t for t in texts_to(fake, "li") if "已记录" in t]) == 1


def test_two_messages_in_the_same_second_are_two(live, fake):
    _, client, _ = live
    client.post(client.text("li", "进度 T7 10%", msg_id=1, create_time=1700000000))
    client.post(client.text("li", "进度 T7 20%", msg_id=2, create_time=1700000000))
    assert fake.wait_for(lambda: len([t for t in texts_to(fake, "li") if "已记录" in t]) == 2)


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("bad signature", 403),
        ("stale", 403),
        ("future", 403),
        ("garbage", 400),
        ("entity bomb", 400),
        ("2 MiB", 413),
        ("no params", 400),
        ("wrong key", 400),
    ],
)
def test_hostile_callbacks_get_4xx_store_nothing_and_the_server_stays_healthy(live, case, status):
    base, client, _ = live
    xml = client.text("li", "进度 T7 60%", msg_id=5)
    import time

    now = int(time.time())
    params, body = client.envelope(xml)
    if case == "bad signature":
        params = {**params, "msg_signature": "0" * 40}
    elif case == "stale":
        params, body = client.envelope(xml, timestamp=now - 301)
    elif case == "future":
        params, body = client.envelope(xml, timestamp=now + 301)
    elif case == "garbage":
        body = b"\x00\xff not xml at all <<<"
    elif case == "entity bomb":
        body = (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
            b"<xml><Encrypt>&lol2;</Encrypt></xml>"
        )
    elif case == "2 MiB":
        body = b"<xml><Encrypt>" + b"A" * (2 * 1024 * 1024) + b"</Encrypt></xml>"
    elif case == "no params":
        params = {}
    elif case == "wrong key":
        other = CallbackClient(client.url, TOKEN, "A" * 43, client.corp_id, AGENT_ID)
        params, body = other.envelope(xml)
    response = requests.post(client.url, params=params, data=body, timeout=10)
    assert response.status_code == status, (case, response.status_code)
    assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
    with database.connection_context():
        assert InboundMessage.select().where(InboundMessage.transport == "wecom").count() == 0


def test_a_chunked_body_is_capped_too(live):
    _, client, _ = live
    xml = client.text("li", "帮助", msg_id=6)
    params, _ = client.envelope(xml)

    def chunks():
        for _ in range(40):
            yield b"A" * 65536

    response = requests.post(client.url, params=params, data=chunks(), timeout=10)
    assert response.status_code == 413


def test_unknown_user_gets_one_refusal_per_message(live, fake):
    _, client, _ = live
    params, body = client.envelope(client.text("stranger", "帮助", msg_id=77))
    for _ in range(3):
        requests.post(client.url, params=params, data=body, timeout=5)
    assert fake.wait_for(lambda: texts_to(fake, "stranger"))
    import time

    time.sleep(0.3)
    assert len(texts_to(fake, "stranger")) == 1 and "还没有绑定" in texts_to(fake, "stranger")[0]


def test_an_image_is_stored_byte_for_byte_and_confirmed(live, fake):
    _, client, services = live
    client.post(client.text("li", "进度 T7 80% 现场检查", msg_id=10))
    media_id = fake.add_media(PNG, "现场检查.png", "image/png")
    client.post(client.image("li", media_id, msg_id=11))
    assert fake.wait_for(lambda: any("已收到佐证材料" in t for t in texts_to(fake, "li")))
    with database.connection_context():
        evidence = Evidence.get()
        assert evidence.item.code == "T7" and evidence.original_name == "现场检查.png"
        stored = services.evidence.path_for(evidence.sha256).read_bytes()
    assert stored == PNG


def test_enter_agent_greets_once_a_day_and_admins_once(live, fake):
    _, client, services = live
    ChatDriver(services).bind("boss", "市监局", "管理员")
    for n, who in enumerate(["li", "boss", "li", "boss", "LI"]):
        client.post(client.event(who, "enter_agent", create_time=1_800_000_000 + n))
    for who, msg_id in (("li", 4711), ("boss", 4712)):  # after the events: a marker each
        client.post(client.text(who, "我的任务", msg_id=msg_id))

    def greetings(userid: str) -> list[str]:
        return [t for t in texts_to(fake, userid) if "发“帮助”查看命令" in t]

    for userid in ("li", "boss"):
        assert fake.wait_for(lambda u=userid: any("T7" in t for t in texts_to(fake, u)))
        assert len(greetings(userid)) == 1, texts_to(fake, userid)
        assert not any("可用的命令" in t for t in texts_to(fake, userid)), "no help unasked"


def test_official_vectors_through_the_real_app(tmp_path, db_url, db, fake):
    """Tencent's sample (2016): the timestamp window is judged by an injectable clock."""
    from datetime import UTC, datetime

    from bot.clock import FakeClock
    from bot.web import create_app

    config = wecom_config(tmp_path, db_url, fake, WECOM_CORP_ID="ww1436e0e65a779aee")
    clock = FakeClock(datetime.fromtimestamp(1476416373, UTC))
    app = create_app(build_services(config, clock)).test_client()
    echostr = (
        "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
    )
    url = (
        "/wecom/callback?msg_signature=012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb"
        f"&timestamp=1476416373&nonce=47744683&echostr={quote(echostr, safe='')}"
    )
    response = app.get(url)
    assert response.status_code == 200 and response.data == b"1288432023552776189"
    raw_plus = url.replace(quote(echostr, safe=""), echostr)  # "+" sent unencoded must survive
    assert app.get(raw_plus).data == b"1288432023552776189"
    clock.set(datetime.fromtimestamp(1476422779, UTC))
    body = (
        b"<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n<Encrypt><![CDATA["
        b"Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+"
        b"]]></Encrypt>\n<AgentID><![CDATA[1000002]]></AgentID>\n</xml>"
    )
    response = app.post(
        "/wecom/callback?msg_signature=0c3914025cb4b4d68103f6bfc8db550f79dcf48e"
        "&timestamp=1476422779&nonce=1597212914",
        data=body,
    )
    assert response.status_code == 200
    row = InboundMessage.get()
    assert (row.wecom_userid, row.text, row.external_id) == ("ChenJiaShun", "你好", "1456453720")
    clock.set(datetime.fromtimestamp(1476422779 + 301, UTC))
    assert (
        app.post(
            "/wecom/callback?msg_signature=0c3914025cb4b4d68103f6bfc8db550f79dcf48e"
            "&timestamp=1476422779&nonce=1597212914",
            data=body,
        ).status_code
        == 403
    )
