"""PostgreSQL connections that drop (a restart, a failover, a proxy's idle timeout) in the middle
of a stream of callbacks: the server answers so that WeCom delivers again, reconnects by itself,
and every message is recorded and answered exactly once."""

from __future__ import annotations

import threading

import psycopg2
import pytest
import requests
from conftest import PG_URL
from fakes.wecom_callback import CallbackClient
from helpers import ChatDriver, running
from wecom_setup import AES_KEY, AGENT_ID, TOKEN, wecom_config

from bot.clock import Clock
from bot.recorder import BatchRecorder
from bot.services import build_services
from models.db import database
from models.messages import InboundMessage

pytestmark = pytest.mark.skipif(not PG_URL, reason="a dropped connection is PostgreSQL's")
MESSAGES = 30
CODES = [f"T{n}" for n in range(1, 23)] + [f"Z{n}" for n in range(1, 42)]  # distinct answers
WECOM_TRIES = 4  # WeCom delivers a callback up to four times


def _terminate_other_backends() -> int:
    """What a database restart does to every open session but this one."""
    conn = psycopg2.connect(PG_URL)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cur.fetchone()[0]
    finally:
        conn.close()


def _deliver(client: CallbackClient, xml: str) -> list[int]:
    """Post one callback the way WeCom does: again while the answer is not 200."""
    params, body = client.envelope(xml)
    statuses = []
    for _ in range(WECOM_TRIES):
        response = requests.post(client.url, params=params, data=body, timeout=10)
        statuses.append(response.status_code)
        if response.status_code == 200:
            break
    return statuses


def test_backends_terminated_mid_stream_lose_nothing(tmp_path, db_url, db, fake):
    config = wecom_config(tmp_path, db_url, fake)
    services = build_services(config, Clock(config.timezone))
    ChatDriver(services).bind("li", "市监局")
    ChatDriver(services).bind("li2", "市监局")  # two people: WeCom takes 30 a minute per person
    services.sender.drain()
    welcomed = len(fake.messages)
    db.close()
    recorder = BatchRecorder()  # as run.py serves: the callback's rows go through the writer
    services.pipeline.record = recorder.record
    writer = threading.Thread(target=recorder.run, daemon=True)
    writer.start()
    try:
        with running(services) as base:
            client = CallbackClient(
                f"{base}/wecom/callback", TOKEN, AES_KEY, fake.corp_id, AGENT_ID
            )
            statuses = []
            for n in range(MESSAGES):
                if n in (MESSAGES // 3, 2 * MESSAGES // 3):
                    assert _terminate_other_backends() > 0
                who = ("li", "li2")[n % 2]
                msg = client.text(who, f"任务 {CODES[n]}", msg_id=7_000_000 + n)
                statuses.append(_deliver(client, msg))
            assert all(s[-1] == 200 for s in statuses), statuses
            assert all(code in (200, 503) for s in statuses for code in s), statuses
            # The worker reconnected as well: every message is answered, and only once.
            replied = fake.wait_for(lambda: len(fake.messages) - welcomed >= MESSAGES, timeout=30)
            assert replied, len(fake.messages) - welcomed
            health = requests.get(f"{base}/healthz", timeout=5)
            assert health.status_code == 200 and health.json()["database"] is True
    finally:
        recorder.stop()
        writer.join(timeout=5)
    with database.connection_context():
        ids = [
            row.external_id
            for row in InboundMessage.select().where(InboundMessage.transport == "wecom")
        ]
        assert sorted(ids) == sorted(str(7_000_000 + n) for n in range(MESSAGES))
        assert InboundMessage.select().where(InboundMessage.status != "done").count() == 0
    answers = fake.messages[welcomed:]
    assert len(answers) == MESSAGES
    assert [m["touser"] for m in answers].count("li") == MESSAGES // 2
    assert sorted(m["text"]["content"].split()[0] for m in answers) == sorted(CODES[:MESSAGES])
