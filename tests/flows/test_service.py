"""The bot as a service manager runs it: `run.py web` and `run.py worker` as two processes, each
stopped the way systemd (SIGTERM) or Windows (Ctrl+Break / Ctrl+C) stops it, or killed.

- a stop in the middle of a send loses nothing and sends nothing twice;
- /healthz answers 503 within HEALTH_WORKER_SILENT_SECONDS after the worker is killed;
- `run.py serve` stops its worker with it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime

from conftest import TZ
from fakes.wecom_server import Fault
from service_setup import ROOT, Proc, clean_env, get_json, poll, text_of, wecom_env, write_env

from bot.clock import FakeClock
from bot.outbox import Outbox
from models.messages import KeyValue, OutboxMessage

SEND = "/cgi-bin/message/send"
WORKER_STOPPED = "worker stopped"


def queue_notices(count: int) -> list[str]:
    outbox = Outbox(FakeClock(datetime.now(TZ)))
    texts = [f"请于本周五前报送第 {n} 项材料" for n in range(1, count + 1)]
    for n, text in enumerate(texts, 1):
        outbox.to_members(["li"], text, f"nudge:{n}:li")
    return texts


def delivered_to_li(fake) -> list[str]:
    return [m["text"]["content"] for m in fake.messages if m.get("touser") == "li"]


def test_a_stop_mid_send_finishes_the_send_and_keeps_the_rest(tmp_path, db_url, db, fake):
    """SIGTERM (systemd's stop) while WeCom is slow to answer: the sends in hand (the batch
    claimed) are finished and recorded, the worker exits 0; what it had not taken stays queued
    and the next worker sends it; nothing twice, not even a repeat for WeCom's duplicate check
    to absorb."""
    texts = queue_notices(25)  # more than one batch (20), fewer than WeCom's 30 a minute
    db.close()
    env_file = write_env(tmp_path / "bot.env", wecom_env(tmp_path, db_url, fake))
    fake.fail(SEND, Fault.slow(3.0))
    worker = Proc(["worker"], env_file, tmp_path)
    try:
        assert fake.wait_for(lambda: fake.count(SEND) >= 1, timeout=60), worker.output()
        worker.request_stop()  # the first send is in WeCom's hands
        assert worker.wait(timeout=20) == 0, worker.output()
    finally:
        worker.close()
    assert WORKER_STOPPED in worker.output()
    db.connect(reuse_if_open=True)
    nudges = OutboxMessage.select().where(OutboxMessage.dedupe_key.startswith("nudge:"))
    rows = list(nudges.order_by(OutboxMessage.id))
    assert rows[0].status == "sent", "the send in flight was finished and recorded"
    assert {r.status for r in rows} == {"sent", "pending"}, "nothing left leased"
    assert len(delivered_to_li(fake)) == sum(r.status == "sent" for r in rows)
    db.close()

    again = Proc(["worker"], env_file, tmp_path)
    try:
        again.wait_for_line("worker started")
        assert fake.wait_for(lambda: len(delivered_to_li(fake)) >= len(texts), timeout=60)
        again.request_stop()
        assert again.wait(timeout=20) == 0, again.output()
    finally:
        again.close()
    assert sorted(delivered_to_li(fake)) == sorted(texts)
    assert fake.duplicates_absorbed == []
    db.connect(reuse_if_open=True)
    nudges = OutboxMessage.select().where(OutboxMessage.dedupe_key.startswith("nudge:"))
    assert {(r.status, r.attempts) for r in nudges} == {("sent", 1)}


def test_a_send_outlasting_the_stop_is_taken_back_and_delivered_once(tmp_path, db_url, db, fake):
    """A send WeCom answers only after the worker's 9 s of grace: the worker exits with the row
    still leased (or, if the client's 10 s read timeout came first, queued for a retry); the
    next one takes it back at start and sends the same JSON again, which WeCom's duplicate
    check absorbs. The person gets it once; nothing is lost."""
    (text,) = queue_notices(1)
    db.close()
    env_file = write_env(tmp_path / "bot.env", wecom_env(tmp_path, db_url, fake))
    fake.fail(SEND, Fault.slow(12))  # past the grace; WeCom records it all the same
    worker = Proc(["worker"], env_file, tmp_path)
    try:
        assert fake.wait_for(lambda: fake.count(SEND) >= 1, timeout=60), worker.output()
        worker.request_stop()
        assert worker.wait(timeout=30) == 0, worker.output()
    finally:
        worker.close()
    db.connect(reuse_if_open=True)
    assert OutboxMessage.get().status in ("sending", "pending"), "not sent, not lost"
    db.close()
    assert fake.wait_for(lambda: delivered_to_li(fake) == [text], timeout=15)  # WeCom got it

    again = Proc(["worker"], env_file, tmp_path)
    try:
        again.wait_for_line("worker started")
        assert fake.wait_for(lambda: fake.count(SEND) >= 2, timeout=60), again.output()
        db.connect(reuse_if_open=True)
        assert poll(lambda: OutboxMessage.get().status == "sent", timeout=30)
        db.close()
        again.request_stop()
        assert again.wait(timeout=20) == 0, again.output()
    finally:
        again.close()
    assert delivered_to_li(fake) == [text]
    assert len(fake.duplicates_absorbed) == 1


def healthz(url: str) -> tuple[int, dict]:
    return get_json(url, timeout=5)


def test_healthz_fails_within_the_set_time_after_the_worker_is_killed(tmp_path, db_url, db):
    """Two services as under systemd: the web process stays, the worker is killed and nobody
    restarts it. Within HEALTH_WORKER_SILENT_SECONDS /healthz says 503, and why."""
    db.close()
    silent = 5
    env_file = write_env(
        tmp_path / "bot.env",
        {
            "DATABASE_URL": db_url,
            "DATA_DIR": str(tmp_path / "data"),
            "BOT_ADMINS": "boss",
            "HTTP_PORT": "0",
            "HEALTH_WORKER_SILENT_SECONDS": str(silent),
            "LOG_FILE": str(tmp_path / "logs" / "bot.log"),
        },
    )
    web = Proc(["web"], env_file, tmp_path)
    worker = Proc(["worker"], env_file, tmp_path)
    try:
        url = web.wait_for_line("服务已启动：").split("：", 1)[1].strip()
        ready = poll(lambda: (r := healthz(url))[0] == 200 and r[1]["worker"]["status"] == "ok"
                     and r[1]["scheduler"]["status"] == "ok" and r, timeout=60)  # fmt: skip
        assert ready, (healthz(url), worker.output())
        body = ready[1]
        assert body["web"]["status"] == "ok" and body["web"]["pid"] != body["worker"]["pid"]
        assert body["worker"]["pid"] == worker.popen.pid and body["reasons"] == []
        # Its first heartbeat comes before it has finished starting: kill it once started. Its
        # log file appears with its first line, which may come after that heartbeat.
        worker_log = tmp_path / "logs" / "bot-worker.log"
        assert poll(lambda: "worker started" in text_of(worker_log), 30), worker.output()

        worker.popen.kill()  # SIGKILL on POSIX, TerminateProcess on Windows: no goodbye
        killed = time.monotonic()
        failed = poll(lambda: (r := healthz(url))[0] == 503 and r, timeout=silent + 10, every=0.1)
        waited = time.monotonic() - killed
        assert failed, healthz(url)
        assert waited <= silent + 1.5, f"503 came {waited:.1f} s after the kill"
        body = failed[1]
        assert body["status"] == "error" and body["worker"]["status"] == "silent"
        assert body["web"]["status"] == "ok", "the web process tells about itself apart"
        assert any("后台进程已" in reason and "秒没有动静" in reason for reason in body["reasons"])
        assert body["scheduler"]["status"] == "ok", "its last tick is still recent"

        web.request_stop()
        assert web.wait(timeout=20) == 0, web.output()
    finally:
        web.close()
        worker.close()
    # Each process its own log file (LOG_FILE, the worker's beside it).
    web_log = (tmp_path / "logs" / "bot.log").read_text(encoding="utf-8")
    worker_log = (tmp_path / "logs" / "bot-worker.log").read_text(encoding="utf-8")
    assert "web process started" in web_log and "worker started" not in web_log
    assert "worker started" in worker_log and "web process started" not in worker_log


def test_serve_stops_its_worker_with_it(tmp_path, db_url, db):
    """`run.py serve` (the demo, a simple install): its worker is a child that stops when the
    server stops, by the pipe it reads, on every operating system."""
    db.close()
    env_file = write_env(
        tmp_path / "bot.env",
        {"DATABASE_URL": db_url, "DATA_DIR": str(tmp_path / "data"), "BOT_ADMINS": "boss",
         "HTTP_PORT": "0", "HEALTH_WORKER_SILENT_SECONDS": "5"},
    )  # fmt: skip
    server = Proc(["serve"], env_file, tmp_path)
    try:
        url = server.wait_for_line("服务已启动：").split("：", 1)[1].strip()
        up = poll(lambda: (r := healthz(url))[0] == 200 and r[1]["worker"]["status"] == "ok" and r,
                  timeout=60)  # fmt: skip
        assert up, (healthz(url), server.output())
        child = up[1]["worker"]["pid"]
        server.request_stop()
        assert server.wait(timeout=30) == 0, server.output()
    finally:
        server.close()
    assert WORKER_STOPPED in server.output(), "the worker stopped cleanly, not killed"
    db.connect(reuse_if_open=True)
    beat = KeyValue.get(KeyValue.key == "health:worker")
    assert str(child) in beat.value


# `run.py web` with a stop that arrives while the server is being made (the moment a service
# manager's SIGTERM can land before the banner): raised inside the process, so it is there at
# exactly that point every time.
STOP_WHILE_STARTING = """
import signal, sys
import waitress
sys.path.insert(0, sys.argv[1])
made = waitress.create_server
def create_server(*args, **kwargs):
    server = made(*args, **kwargs)
    signal.raise_signal(signal.SIGTERM)
    return server
waitress.create_server = create_server
from bot.runtime.cli import main
sys.exit(main(["--env-file", sys.argv[2], "web"]))
"""


def test_a_stop_that_arrives_while_starting_ends_cleanly(tmp_path, db_url, db):
    """CI's PostgreSQL run caught a SIGTERM just after the banner meeting the default handler:
    exit -15 with the journal open. A stop asked for while starting is kept, the server never
    serves, and the process closes everything and exits 0, its journal removed as a clean
    stop does."""
    db.close()
    data = tmp_path / "data"
    env_file = write_env(
        tmp_path / "bot.env",
        {"DATABASE_URL": db_url, "DATA_DIR": str(data), "BOT_ADMINS": "boss", "HTTP_PORT": "0"},
    )
    done = subprocess.run(
        [sys.executable, "-c", STOP_WHILE_STARTING, str(ROOT), str(env_file)],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "服务已启动：" in output and "Traceback" not in output, output
    assert data.is_dir() and list(data.glob("inbound-*.journal")) == []
