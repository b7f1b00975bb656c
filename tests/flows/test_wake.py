"""The web process wakes the worker process at once: a reply does not wait for the poll."""

from __future__ import annotations

import contextlib
import threading
import time
from types import SimpleNamespace

import pytest

from bot.runtime.wake import RemoteWake, listen_for_wakes


class Wakeable:
    """What listen_for_wakes touches of the services: two events."""

    def __init__(self):
        self.wake = threading.Event()
        self.sender = SimpleNamespace(woken=threading.Event())
        self.sender.notify = self.sender.woken.set

    def worker_wake(self):
        self.wake.set()


def test_a_datagram_wakes_the_worker_and_its_sender(tmp_path):
    services, stop = Wakeable(), threading.Event()
    path = tmp_path / "worker.wake"
    port = listen_for_wakes(services, stop, path)
    try:
        assert port and path.read_text(encoding="ascii") == str(port)
        wake = RemoteWake(path)
        wake()
        assert services.wake.wait(10) and services.sender.woken.wait(10)
        wake.close()
    finally:
        stop.set()
    # The listener removes its file when it stops (it notices within its 1 s receive timeout).
    deadline = time.monotonic() + 10
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not path.exists()


def test_no_worker_file_sends_nothing_and_a_later_one_is_found(tmp_path):
    path = tmp_path / "worker.wake"
    wake = RemoteWake(path)
    wake()  # no worker yet: nothing to send to, no error
    assert wake.port is None
    path.write_text("not a port", encoding="ascii")
    wake()
    assert wake.port is None
    services, stop = Wakeable(), threading.Event()
    try:
        port = listen_for_wakes(services, stop, path)
        wake()  # the worker has started since: found at once, not after the re-read interval
        assert wake.port == port
        assert services.wake.wait(10)
    finally:
        stop.set()
        wake.close()


def test_a_sandbox_reply_arrives_long_before_the_workers_poll(tmp_path):
    """`run.py serve` with the worker polling only every 300 s: boss's 绑定 is answered by the
    worker's sender within seconds, because the web process wakes it. The test holds the
    scheduler's lock, so no minute tick wakes the sender instead."""
    from conftest import SUNDAY_NIGHT
    from helpers import SandboxApi, run_py_server

    from bot.config import Config
    from reminders.scheduler import SchedulerLock

    config = Config.from_mapping({}, base_dir=tmp_path)  # run.py's defaults, run in tmp_path
    scheduler = SchedulerLock(config.data_dir, config.database_url)
    assert scheduler.acquire()
    env = {"BOT_ADMINS": "boss", "WORKER_POLL_SECONDS": "300", "SANDBOX_USE_MAIN_DATABASE": "是"}
    printed: list[str] = []
    with (
        contextlib.ExitStack() as held,
        run_py_server(tmp_path, ["serve", "--at", SUNDAY_NIGHT.arg], env, printed) as url,
    ):
        held.callback(scheduler.release)
        api = SandboxApi(url.removesuffix("/sandbox"))
        # Once the worker has written its wake file it has also made its first pass, and from
        # then on it waits for a wake-up or the 300 s poll.
        deadline = time.monotonic() + 60
        while not list((tmp_path / "data").glob("worker-*.wake")):
            if time.monotonic() > deadline:
                pytest.fail("the worker never wrote its wake file")
            time.sleep(0.1)
        time.sleep(0.5)  # let the worker's first pass finish and settle into its wait
        status, body = api.call("send", {"userid": "boss", "text": "绑定 zhangsan 市监局"})
        assert status == 202, body
        deadline = time.monotonic() + 60  # far below the 300 s poll
        while time.monotonic() < deadline:
            _, feed = api.call("feed?after_out=0&after_in=0")
            if any("已绑定" in m["text"] for m in feed["outgoing"]):
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the reply waited for the poll: {feed}")
    assert any("another process runs the scheduler" in line for line in printed), "".join(printed)
