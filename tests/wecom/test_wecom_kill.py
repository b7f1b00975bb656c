"""A sender process killed in the middle of a send loses nothing and sends nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

from conftest import TZ
from fakes.wecom_server import Fault
from service_setup import wecom_env, write_env
from wecom_setup import wecom_settings

from bot.clock import FakeClock
from bot.outbox import Outbox
from bot.services import build_services
from models.messages import OutboxMessage

ROOT = Path(__file__).resolve().parents[2]
SEND = "/cgi-bin/message/send"

SENDER = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from bot.clock import Clock
    from bot.config import Config
    from bot.services import build_services
    from models.db import open_database

    config = Config.from_mapping(json.loads(sys.argv[2]))
    open_database(config.database_url)
    services = build_services(config, Clock(config.timezone))
    print("sending", flush=True)
    services.sender.run_once()
    print("finished", flush=True)
    """
)


def test_kill_mid_send_then_another_sender_finishes_once(tmp_path, db_url, db, fake):
    from bot.config import Config

    mapping = {
        "DATABASE_URL": db_url,
        "DATA_DIR": str(tmp_path / "data"),
        **wecom_settings(fake),
    }
    config = Config.from_mapping(mapping)
    now = datetime.now(TZ)
    Outbox(FakeClock(now)).to_members(["li"], "请于本周五前报送材料", "nudge:1:li")
    db.close()
    fake.fail(SEND, Fault.slow(3.0))  # WeCom is slow to answer: the sender is mid-request

    script = tmp_path / "sender.py"
    script.write_text(SENDER, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(ROOT), json.dumps(mapping)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake.wait_for(lambda: fake.count(SEND) == 1, timeout=30), proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "finished" not in proc.stdout.read()

    db.connect(reuse_if_open=True)
    row = OutboxMessage.get()
    assert row.status == "sending", "the dead sender's claim is still leased"
    fake.wait_for(lambda: len(fake.messages) == 1, timeout=10)  # WeCom finished the slow request

    clock = FakeClock(now)
    survivor = build_services(config, clock)
    assert survivor.sender.drain().handled == 0, "not while the lease holds"
    clock.set(row.lease_until + timedelta(seconds=1))
    assert survivor.sender.drain().sent == 1
    row = OutboxMessage.get()
    assert row.status == "sent" and row.attempts == 2
    # The repeat carried the same content: WeCom's duplicate check absorbed it.
    assert [m["text"]["content"] for m in fake.messages] == ["请于本周五前报送材料"]
    assert len(fake.duplicates_absorbed) == 1


def test_a_new_worker_takes_back_at_once_what_a_dead_one_held(tmp_path, db_url, db, fake):
    """The worker lock guarantees one worker: on start it hands back the message a crash left
    "processing" and the row it left "sending", instead of waiting out 5 and 2 minutes."""
    from helpers import ChatDriver
    from wecom_setup import wecom_config

    from bot.clock import Clock
    from bot.pipeline import Incoming

    config = wecom_config(tmp_path, db_url, fake)
    services = build_services(config, Clock(config.timezone))
    ChatDriver(services).bind("li", "市监局")
    services.sender.drain()
    fake.messages.clear()
    # What a worker killed mid-way leaves behind:
    held = services.pipeline.receive(
        Incoming("wecom", "crash-1", "li", kind="text", text="任务 T7"), claim=True
    )
    Outbox(services.clock).to_members(["li"], "请于本周五前报送材料", "nudge:2:li")
    (claimed,) = services.sender.claim()
    assert claimed.lease_until > datetime.now(TZ) + timedelta(seconds=60)
    db.close()

    env_file = write_env(tmp_path / "worker.env", wecom_env(tmp_path, db_url, fake))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "BOT_", "DATA"))}
    worker = subprocess.Popen(
        [sys.executable, "run.py", "--env-file", str(env_file), "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def to_li():
            return [
                m.get("text", {}).get("content", "") for m in fake.messages if m["touser"] == "li"
            ]

        # (The worker's first tick may also tell the admin about the calendar: not our concern.)
        answered = fake.wait_for(lambda: len(to_li()) >= 2, timeout=30)
        texts = to_li()
    finally:
        worker.terminate()
        _, stderr = worker.communicate(timeout=20)
    assert answered, (texts, stderr[-2000:])
    assert "请于本周五前报送材料" in texts and any(t.startswith("T7 ") for t in texts)
    db.connect(reuse_if_open=True)
    from models.messages import InboundMessage

    assert InboundMessage.get_by_id(held.inbound_id).status == "done"
    assert OutboxMessage.get_by_id(claimed.id).status == "sent"
