"""A callback answered 200 is never lost: the web process journals it before it answers, so a kill
at any moment after the 200 (even before the row is committed) leaves it for the next start.

The web process runs as `run.py web` (a service of its own), is killed with no goodbye (SIGKILL on
POSIX, TerminateProcess on Windows), and started again with a worker beside it: the liaison gets
the answer, once.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager

import psycopg2
from fakes.wecom_callback import CallbackClient
from service_setup import Proc, poll, wecom_env, write_env
from wecom_setup import AES_KEY, AGENT_ID, TOKEN

from models.messages import InboundMessage

SEND = "/cgi-bin/message/send"


@contextmanager
def writes_held(db_url: str):
    """Nobody else may write the inbound table while this holds: SQLite's write lock, or a
    PostgreSQL table lock that lets readers through."""
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.split("sqlite:///", 1)[1], timeout=0, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
    else:
        conn = psycopg2.connect(db_url)
        conn.cursor().execute("LOCK TABLE inbound_message IN EXCLUSIVE MODE")
    try:
        yield
    finally:
        conn.rollback()
        conn.close()


def replies_to(fake, userid: str) -> list[str]:
    return [m["text"]["content"] for m in fake.messages if m.get("touser") == userid]


def start_web(env_file, tmp_path) -> tuple[Proc, str]:
    web = Proc(["web"], env_file, tmp_path)
    url = web.wait_for_line("服务已启动：").split("：", 1)[1].strip()
    return web, url.replace("/healthz", "/wecom/callback")


def test_a_kill_right_after_the_200_before_the_commit_loses_nothing(
    tmp_path, db_url, db, fake, bot
):
    bot.bind("li", "市监局")
    db.close()
    env_file = write_env(tmp_path / "bot.env", wecom_env(tmp_path, db_url, fake))
    web, url = start_web(env_file, tmp_path)
    client = CallbackClient(url, TOKEN, AES_KEY, fake.corp_id, AGENT_ID)
    try:
        with writes_held(db_url):
            # The writer thread cannot commit while this holds; the callback is answered anyway.
            began = time.monotonic()
            answer = client.post(client.text("li", "任务 T7", msg_id=7_000_001))
            answered_in = time.monotonic() - began
            web.popen.kill()  # right after the 200, before anything reached the database
            web.wait(timeout=20)
    finally:
        web.close()
    assert answer.status_code == 200
    assert answered_in < 5, "WeCom's own limit; it must not wait for the database"
    db.connect(reuse_if_open=True)
    assert not InboundMessage.select().where(InboundMessage.external_id == "7000001").exists(), (
        "the kill came before the commit: only the journal holds the message"
    )
    db.close()
    journal = list((tmp_path / "data").glob("inbound-*.journal"))
    assert len(journal) == 1 and b'"external_id":"7000001"' in journal[0].read_bytes()

    web, url = start_web(env_file, tmp_path)
    worker = Proc(["worker"], env_file, tmp_path)
    try:
        assert fake.wait_for(lambda: len(replies_to(fake, "li")) >= 1, timeout=60), (
            web.output() + worker.output()
        )
        (reply,) = replies_to(fake, "li")
        assert "T7" in reply
        db.connect(reuse_if_open=True)
        row = InboundMessage.get(InboundMessage.external_id == "7000001")
        assert poll(lambda: InboundMessage.get_by_id(row.id).status == "done", timeout=30)
        db.close()
        # The same callback delivered again by WeCom (it had its 200): recorded once only.
        again = CallbackClient(url, TOKEN, AES_KEY, fake.corp_id, AGENT_ID)
        assert again.post(again.text("li", "任务 T7", msg_id=7_000_001)).status_code == 200
        web.request_stop()
        assert web.wait(timeout=20) == 0, web.output()
        worker.request_stop()
        assert worker.wait(timeout=20) == 0, worker.output()
    finally:
        web.close()
        worker.close()
    assert "from before the last stop, 1 new" in web.output()
    assert replies_to(fake, "li") == [reply], "answered once"
    db.connect(reuse_if_open=True)
    assert InboundMessage.select().where(InboundMessage.external_id == "7000001").count() == 1
    assert not journal[0].exists(), "a clean stop with everything committed leaves no journal"


def test_a_kill_at_once_after_each_of_many_200s_loses_none(tmp_path, db_url, db, fake, bot):
    """No lock held: the kill races the writer. Whether each row was committed before the kill
    or is replayed after it, every acknowledged message is there afterwards, once."""
    bot.bind("li", "市监局")
    db.close()
    env_file = write_env(tmp_path / "bot.env", wecom_env(tmp_path, db_url, fake))
    acknowledged: list[str] = []
    for round_ in range(3):
        web, url = start_web(env_file, tmp_path)
        client = CallbackClient(url, TOKEN, AES_KEY, fake.corp_id, AGENT_ID)
        try:
            for n in range(5):
                msg_id = 7_100_000 + round_ * 10 + n
                if client.post(client.text("li", "帮助", msg_id=msg_id)).status_code == 200:
                    acknowledged.append(str(msg_id))
            web.popen.kill()
            web.wait(timeout=20)
        finally:
            web.close()
    web, _url = start_web(env_file, tmp_path)  # replays what the last kill left
    try:
        web.request_stop()
        assert web.wait(timeout=20) == 0, web.output()
    finally:
        web.close()
    assert len(acknowledged) == 15
    db.connect(reuse_if_open=True)
    stored = [
        row.external_id
        for row in InboundMessage.select().where(InboundMessage.external_id.startswith("71"))
    ]
    assert sorted(stored) == sorted(acknowledged)
