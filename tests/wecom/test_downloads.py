"""Files people send, fetched apart from message handling: a trickling peer holds no one's
reply, a download has an overall deadline, a stopping worker hands its downloads back, and each
file message gets exactly one final answer. Against the fake WeCom over real HTTP."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest
from fakes.wecom_callback import CallbackClient
from fakes.wecom_server import Fault
from helpers import ChatDriver, running
from service_setup import wecom_env, write_env
from wecom_setup import AES_KEY, AGENT_ID, TOKEN, wecom_config

from bot.clock import Clock
from bot.pipeline import Incoming
from bot.services import build_services
from models.db import database
from models.messages import MediaDownload, OutboxMessage
from models.progress import Evidence

MEDIA = "/cgi-bin/media/get"
SEND = "/cgi-bin/message/send"
PDF = b"%PDF-1.4\n" + hashlib.sha256(b"report").digest() * 12_500  # 400 KB


def texts_to(fake, userid):
    return [
        m.get("text", {}).get("content", "")
        for m in fake.messages
        if userid in str(m.get("touser", "")).split("|")
    ]


def temp_files(services):
    return list((services.evidence.root / "tmp").glob("upload-*"))


def final_answers(download_id):
    return list(
        OutboxMessage.select().where(OutboxMessage.dedupe_key == f"download-done:{download_id}")
    )


@pytest.fixture
def wecom(tmp_path, db_url, db, fake, clock):
    """The WeCom stack on a fake clock; downloads are run by hand."""
    fake.clock = lambda: clock.now().timestamp()
    services = build_services(wecom_config(tmp_path, db_url, fake), clock)
    ChatDriver(services).bind("li", "市监局")
    ChatDriver(services).say("li", "进度 T7 80% 现场检查")
    services.sender.drain()
    fake.messages.clear()
    return services


def send_file(services, ext_id, media_id, name="检查报告.pdf"):
    handled = services.pipeline.handle(
        Incoming(
            "wecom", ext_id, "li", kind="file", payload={"media_id": media_id, "file_name": name}
        )
    )
    assert not handled.duplicate and handled.reply is None, "answered when it is fetched"
    return handled


# ---------------------------------------------------------------- one slow peer, everyone else


def test_a_trickling_download_holds_no_one_elses_reply(tmp_path, db_url, db, fake):
    config = wecom_config(tmp_path, db_url, fake)
    services = build_services(config, Clock(config.timezone))
    bot = ChatDriver(services)
    bot.bind("li", "市监局")
    bot.bind("gx", "工信局")
    bot.say("li", "进度 T7 80% 现场检查")
    services.sender.drain()
    services.downloader.slow_notice_seconds = 0.5
    # 400 KB in 16 KB chunks, 0.1 s apart: about 2.5 s, a slow line to the sender's phone.
    fake.media_chunk_size = 16 * 1024
    fake.media_chunk_delay = 0.1
    media_id = fake.add_media(PDF, "检查报告.pdf", "application/pdf")
    db.close()
    with running(services) as base:
        client = CallbackClient(f"{base}/wecom/callback", TOKEN, AES_KEY, fake.corp_id, AGENT_ID)
        client.post(client.file("li", media_id, "检查报告.pdf", len(PDF), msg_id=501))
        assert fake.wait_for(lambda: fake.count(MEDIA) == 1), "the download has begun"
        asked = time.monotonic()
        client.post(client.text("gx", "任务 T8", msg_id=502))
        assert fake.wait_for(lambda: any(t.startswith("T8 ") for t in texts_to(fake, "gx")))
        answered = time.monotonic()
        assert not fake.media_served, "the other person's answer waited for the download"
        assert answered - asked < 2.0, f"answered in {answered - asked:.2f} s"
        assert fake.wait_for(lambda: any("已取回" in t for t in texts_to(fake, "li")), timeout=20)
    database.close()
    to_li = [t for t in texts_to(fake, "li") if "检查报告.pdf" in t]
    assert len(to_li) == 2, to_li  # one word that it is coming, then its one final answer
    assert "正在从企业微信取回" in to_li[0]
    assert "已取回并归到 T7" in to_li[1]
    with database.connection_context():
        evidence = Evidence.get()
        assert evidence.item.code == "T7"
        assert services.evidence.path_for(evidence.sha256).read_bytes() == PDF
    assert temp_files(services) == []


def test_a_quick_download_is_answered_once_with_no_word_before(wecom, fake, clock):
    media_id = fake.add_media(PDF, "检查报告.pdf", "application/pdf")
    handled = send_file(wecom, "q1", media_id)
    assert wecom.downloader.run_due() == 1
    wecom.sender.drain()
    (answer,) = OutboxMessage.select().where(OutboxMessage.inbound == handled.inbound_id)
    assert answer.dedupe_key.startswith("download-done:")
    assert texts_to(fake, "li") == [answer.content["text"]]
    assert "已收到佐证材料：检查报告.pdf，已归到 T7" in answer.content["text"]
    assert wecom.downloader.run_due() == 0, "nothing is fetched twice"
    clock.advance(seconds=10)
    assert wecom.downloader.tell_waiting() == 0, "no word after the answer"


def test_a_file_waiting_for_a_free_download_thread_is_acknowledged_once(wecom, fake, clock):
    """All download threads busy with slow peers: the inbound thread, which no download holds,
    tells the sender that the file arrived; its one answer follows when it is fetched."""
    handled = send_file(wecom, "w1", fake.add_media(PDF, "检查报告.pdf", "application/pdf"))
    assert wecom.downloader.tell_waiting() == 0, "not within the first seconds"
    clock.advance(seconds=4)
    assert wecom.downloader.tell_waiting() == 1
    assert wecom.downloader.tell_waiting() == 0, "once"
    wecom.sender.drain()
    assert len(texts_to(fake, "li")) == 1
    assert "已收到文件“检查报告.pdf”，正在从企业微信取回" in texts_to(fake, "li")[0]
    assert wecom.downloader.run_due() == 1
    wecom.sender.drain()
    assert len(texts_to(fake, "li")) == 2 and "已取回并归到 T7" in texts_to(fake, "li")[1]
    (answer,) = OutboxMessage.select().where(OutboxMessage.inbound == handled.inbound_id)
    assert answer.dedupe_key.startswith("download-done:")


# ---------------------------------------------------------------- the overall deadline


def test_a_download_past_its_deadline_is_abandoned_then_retried(wecom, fake, clock):
    wecom.downloader.deadline_seconds = 0.5
    # 100 KB in 1 KB chunks 0.05 s apart: 5 s, each chunk far within the read timeout.
    fake.media_chunk_size = 1024
    fake.media_chunk_delay = 0.05
    data = PDF[: 100 * 1024]
    media_id = fake.add_media(data, "检查报告.pdf", "application/pdf")
    handled = send_file(wecom, "d1", media_id)
    began = time.monotonic()
    assert wecom.downloader.run_due() == 1
    took = time.monotonic() - began
    assert took < 3.0, f"abandoned after {took:.1f} s, not at its 0.5 s deadline"
    assert not fake.media_served, "the transfer was not waited out"
    download = MediaDownload.get()
    assert (download.status, download.attempts) == ("pending", 1)
    assert "超过" in download.last_error and "秒" in download.last_error
    assert temp_files(wecom) == [] and Evidence.select().count() == 0
    assert final_answers(download.id) == []
    wecom.sender.drain()
    assert len(texts_to(fake, "li")) == 1 and "系统会自动重试" in texts_to(fake, "li")[0]

    assert wecom.downloader.run_due() == 0, "not before the backoff"
    fake.media_chunk_delay = 0
    clock.advance(minutes=2)
    assert wecom.downloader.run_due() == 1
    assert MediaDownload.get().status == "done"
    evidence = Evidence.get()
    assert wecom.evidence.path_for(evidence.sha256).read_bytes() == data
    (answer,) = final_answers(download.id)
    assert answer.inbound_id == handled.inbound_id
    assert "已取回并归到 T7" in answer.content["text"]
    assert temp_files(wecom) == []


def test_each_retry_is_given_longer(wecom):
    download = MediaDownload(attempts=0)
    assert wecom.downloader.deadline_for(download) == 120
    download.attempts = 1
    assert wecom.downloader.deadline_for(download) == 240
    download.attempts = 9
    assert wecom.downloader.deadline_for(download) == 600


# ---------------------------------------------------------------- stopping, taking over


def test_a_download_running_when_the_worker_stops_is_handed_back_without_a_trace(
    wecom, fake, clock
):
    fake.media_chunk_size = 1024
    fake.media_chunk_delay = 0.05
    media_id = fake.add_media(PDF[: 100 * 1024], "检查报告.pdf", "application/pdf")
    send_file(wecom, "s1", media_id)
    stop = threading.Event()

    def download():
        with database.connection_context():
            wecom.downloader.run_one(stop)

    thread = threading.Thread(target=download)
    thread.start()
    try:
        assert fake.wait_for(lambda: temp_files(wecom) != []), "the save has begun"
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive()
    assert temp_files(wecom) == [], "the half-written temp file is removed"
    download = MediaDownload.get()
    assert (download.status, download.attempts) == ("pending", 0), "handed back, not failed"
    assert download.next_attempt_at <= clock.now(), "taken again at once"
    assert (
        OutboxMessage.select().where(OutboxMessage.dedupe_key.startswith("download-")).count() == 0
    )
    fake.media_chunk_delay = 0
    assert wecom.downloader.run_due() == 1
    assert MediaDownload.get().status == "done"
    (answer,) = final_answers(download.id)
    assert "已收到佐证材料：检查报告.pdf" in answer.content["text"]


def test_a_download_whose_claim_was_taken_over_answers_nothing(wecom, fake, clock):
    """A worker whose lease lapsed mid-download (another took the file meanwhile) settles
    nothing: the one that holds the claim gives the one answer."""
    media_id = fake.add_media(PDF, "检查报告.pdf", "application/pdf")
    send_file(wecom, "t1", media_id)
    first, _ = wecom.downloader.claim()
    clock.set(first.next_attempt_at)  # its lease lapses
    second, _ = wecom.downloader.claim()
    assert second.id == first.id and second.next_attempt_at > first.next_attempt_at
    from bot.file_replies import download_succeeded

    stored = wecom.pipeline.media.fetch(first.media_id, first.file_name)
    with database.atomic():
        ctx = wecom.pipeline.context_for("li", first.inbound)
        assert not download_succeeded(ctx, first, stored)
        assert download_succeeded(ctx, second, stored)
    assert len(final_answers(first.id)) == 1 and Evidence.select().count() == 1


def test_the_database_going_away_while_settling_hands_the_download_back(wecom, fake, monkeypatch):
    import peewee

    import bot.downloads

    media_id = fake.add_media(PDF, "检查报告.pdf", "application/pdf")
    send_file(wecom, "c1", media_id)

    def lost(*_args, **_kwargs):
        raise peewee.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(bot.downloads, "download_succeeded", lost)
    with pytest.raises(peewee.OperationalError):
        wecom.downloader.run_one()
    assert MediaDownload.get().status == "fetching"
    monkeypatch.undo()
    assert wecom.downloader.run_due() == 1, "taken again at once, not after its lease"
    assert MediaDownload.get().status == "done" and Evidence.select().count() == 1


# ---------------------------------------------------------------- evidence that is what it says

ERROR_BODY = '{"errcode":40007,"errmsg":"invalid media_id, hint: [1700000000_1]"}'


@pytest.mark.parametrize(
    "content_type",
    ["application/octet-stream", "text/html; charset=utf-8", "image/jpeg", "application/json"],
)
def test_a_json_error_is_never_saved_whatever_its_content_type(wecom, fake, content_type):
    fake.fail(MEDIA, Fault.garbage(ERROR_BODY, content_type))
    handled = send_file(wecom, "e1", fake.add_media(PDF, "检查报告.pdf", "application/pdf"))
    assert wecom.downloader.run_due() == 1
    assert Evidence.select().count() == 0
    assert [p for p in wecom.evidence.root.rglob("*") if p.is_file()] == [], "nothing on disk"
    (answer,) = OutboxMessage.select().where(OutboxMessage.inbound == handled.inbound_id)
    assert "没有保存" in answer.content["text"] and "40007" in answer.content["text"]


def test_a_relabelled_busy_answer_is_retried_then_the_file_saved(wecom, fake, clock):
    fake.fail(MEDIA, Fault.garbage(' {"errcode": -1, "errmsg": "system busy"}\n', "image/png"))
    send_file(wecom, "e2", fake.add_media(PDF, "检查报告.pdf", "application/pdf"))
    assert wecom.downloader.run_due() == 1
    download = MediaDownload.get()
    assert download.status == "pending" and "-1" in download.last_error
    assert Evidence.select().count() == 0
    clock.advance(minutes=2)
    assert wecom.downloader.run_due() == 1
    assert wecom.evidence.path_for(Evidence.get().sha256).read_bytes() == PDF


BIG_JSON = ('{"errcode": 1, "rows": [' + ", ".join(['"T7 现场检查记录"'] * 5000) + "]}").encode()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"errcode": 0, "errmsg": "ok"}', "application/json"),  # no error reported
        ('{"unit": "市监局", "item": "T7"}'.encode(), "application/json"),  # a JSON document
        (b'[{"errcode": 40007}]', "application/octet-stream"),  # not an object
        (b'{"errcode": 40007}\n{"errcode": 40007}\n', "text/plain"),  # not one object
        (b'{"errcode": "none"}', "text/plain"),  # not a number
        (BIG_JSON, "application/json"),  # longer than any error
        ("{\\rtf1\\ansi 现场检查记录}".encode(), "application/rtf"),  # starts like one, is not
    ],
    ids=["errcode-0", "document", "array", "two-objects", "text-errcode", "big", "rtf"],
)
def test_a_real_file_that_looks_like_json_is_saved_byte_for_byte(wecom, fake, body, content_type):
    fake.media_chunk_size = 1000  # the judging read spans several chunks
    send_file(wecom, "j1", fake.add_media(body, "数据.json", content_type))
    assert wecom.downloader.run_due() == 1
    assert MediaDownload.get().status == "done"
    assert wecom.evidence.path_for(Evidence.get().sha256).read_bytes() == body


# ---------------------------------------------------------------- the worker's start


def test_a_new_worker_sweeps_stale_temp_files_and_fetches_what_a_dead_one_held(
    tmp_path, db_url, db, fake
):
    """`run.py worker` as deployed: a worker killed mid-download left its temp file and its
    claim; the next one removes the stale file (not a young one, which may be a save in
    progress), takes the download back at once and answers it through its download threads."""
    import os
    import subprocess
    import sys
    from datetime import datetime, timedelta
    from pathlib import Path

    from conftest import TZ

    config = wecom_config(tmp_path, db_url, fake)
    services = build_services(config, Clock(config.timezone))
    ChatDriver(services).bind("li", "市监局")
    ChatDriver(services).say("li", "进度 T7 80% 现场检查")
    services.sender.drain()
    fake.messages.clear()
    send_file(services, "w1", fake.add_media(PDF, "检查报告.pdf", "application/pdf"))
    held, _ = services.downloader.claim()  # what the dead worker was fetching
    assert held.next_attempt_at > datetime.now(TZ) + timedelta(minutes=2)
    tmp = services.evidence.root / "tmp"
    tmp.mkdir(parents=True)
    stale, young = tmp / "upload-dead", tmp / "upload-young"
    for path, age in ((stale, 7200), (young, 60)):
        path.write_bytes(PDF[:5000])
        os.utime(path, (time.time() - age, time.time() - age))
    db.close()

    env_file = write_env(
        tmp_path / "worker.env", wecom_env(tmp_path, db_url, fake, DATA_DIR=str(config.data_dir))
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "BOT_", "DATA"))}
    worker = subprocess.Popen(
        [sys.executable, "run.py", "--env-file", str(env_file), "worker"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # A worker slow to start (a loaded machine) first says the file is being fetched. On a
        # busy two-core machine the worker alone has taken 12 s to start: the wait is long,
        # and ends as soon as the answer is there.
        answered = fake.wait_for(lambda: any(_filed_under_t7(t) for t in texts_to(fake, "li")), 90)
    finally:
        worker.terminate()
        _, stderr = worker.communicate(timeout=20)
    assert answered, stderr[-2000:]
    assert not stale.exists() and young.exists()
    db.connect(reuse_if_open=True)
    assert MediaDownload.get().status == "done"
    about_it = [t for t in texts_to(fake, "li") if "检查报告.pdf" in t]
    (answer,) = [t for t in about_it if _filed_under_t7(t)]
    told = [t for t in about_it if "正在从企业微信取回" in t]
    assert len(told) <= 1
    # Heard nothing before: the usual answer. Told it was being fetched (the sweep for files
    # older than a few seconds ran before the fetch, as on a loaded machine): the follow-up.
    if told:
        assert "您之前发送的文件“检查报告.pdf”已取回并归到 T7" in answer
    else:
        assert "已收到佐证材料：检查报告.pdf，已归到 T7" in answer
    assert len(about_it) <= 2, about_it
    assert services.evidence.path_for(Evidence.get().sha256).read_bytes() == PDF


def _filed_under_t7(text: str) -> bool:
    return "已收到佐证材料：检查报告.pdf，已归到 T7" in text or (
        "检查报告.pdf”已取回并归到 T7" in text
    )
