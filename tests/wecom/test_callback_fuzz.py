"""Fuzz the callback endpoint: no body, query or correctly signed garbage gives a 500."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest
from conftest import TZ
from fakes.wecom_callback import CallbackClient
from fakes.wecom_server import FakeWeCom
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wecom_setup import AES_KEY, AGENT_ID, TOKEN, wecom_config

from bot.clock import Clock
from bot.services import build_services
from bot.web import create_app
from models.messages import InboundMessage

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture
def app(tmp_path, db_url, db):
    with FakeWeCom() as fake:
        services = build_services(wecom_config(tmp_path, db_url, fake), Clock(TZ))
        yield create_app(services).test_client(), fake


def _sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _query(signature: str, timestamp: str, nonce: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"msg_signature": signature, "timestamp": timestamp, "nonce": nonce})


@FUZZ
@given(
    body=st.binary(max_size=4096),
    sig=st.text(max_size=80),
    ts=st.text(max_size=20),
    nonce=st.text(max_size=80),
)
def test_random_requests_never_500(app, body, sig, ts, nonce):
    client, _ = app
    response = client.post(f"/wecom/callback?{_query(sig, ts, nonce)}", data=body)
    assert response.status_code in (400, 403, 413)


@FUZZ
@given(
    encrypted=st.one_of(
        st.binary(min_size=0, max_size=512).map(lambda b: base64.b64encode(b).decode()),
        st.text(
            alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
            max_size=300,
        ),
    )
)
def test_correctly_signed_garbage_never_500(app, encrypted):
    """Past the signature check, whatever Encrypt holds must end in a 4xx, never a crash."""
    client, _ = app
    timestamp, nonce = str(int(time.time())), "12345"
    body = f"<xml><ToUserName>x</ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    response = client.post(
        f"/wecom/callback?{_query(_sign(TOKEN, timestamp, nonce, encrypted), timestamp, nonce)}",
        data=body.encode(),
    )
    assert response.status_code in (200, 400)
    assert InboundMessage.select().count() == 0


@FUZZ
@given(
    plaintext=st.one_of(
        st.text(max_size=300),
        st.builds(
            lambda t, u, c: f"<xml><FromUserName>{u}</FromUserName><MsgType>{t}</MsgType>{c}</xml>",
            st.sampled_from(["text", "image", "file", "event", "voice", "", "link"]),
            st.text(alphabet="abc<>&;", max_size=10),
            st.text(max_size=60),
        ),
    )
)
def test_encrypted_nonsense_never_500(app, plaintext):
    client, fake = app
    callback = CallbackClient("/wecom/callback", TOKEN, AES_KEY, fake.corp_id, AGENT_ID)
    params, body = callback.envelope(plaintext)
    from urllib.parse import urlencode

    response = client.post(f"/wecom/callback?{urlencode(params)}", data=body)
    assert response.status_code in (200, 400)


def test_the_server_still_answers_after_the_fuzz(app):
    client, _ = app
    assert client.get("/healthz").status_code == 200
