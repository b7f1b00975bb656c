"""Health: /healthz (the real server on port 0) and 自检 read the worker's heartbeat and the
scheduler's last tick against the bot's clock; time is moved, never waited for."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.request

from conftest import make_config
from helpers import stop_waitress
from waitress import create_server

from bot import health
from bot.selfcheck import FAIL, OK, WARN, run_checks
from bot.services import build_services
from bot.transports.sandbox import SandboxTransport
from bot.web import create_app

SILENT = 30


@contextlib.contextmanager
def web_on_port_0(services):
    server = create_server(create_app(services), host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/healthz"
    finally:
        stop_waitress(server, thread)


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_healthz_tells_each_part_and_fails_once_the_worker_is_silent(tmp_path, db_url, db, clock):
    config = make_config(tmp_path, db_url, HEALTH_WORKER_SILENT_SECONDS=str(SILENT))
    services = build_services(config, clock, SandboxTransport())
    with web_on_port_0(services) as url:
        status, body = get(url)
        assert status == 200 and body["worker"]["status"] == "starting", body
        assert body["web"]["status"] == "ok" and body["reasons"] == []

        health.beat(health.WORKER_KEY, clock.now(), pid=4321, host="srv", stopped_threads=[])
        health.beat(health.SCHEDULER_KEY, clock.now(), pid=4321)
        clock.advance(seconds=SILENT)
        status, body = get(url)
        assert status == 200 and body["status"] == "ok", body
        assert body["worker"] | {"seconds_ago": None} == {
            "status": "ok",
            "last_seen": "2026-11-26T10:00:00+08:00",
            "seconds_ago": None,
            "limit_seconds": SILENT,
            "pid": 4321,
            "host": "srv",
            "stopped_threads": [],
        }
        assert body["worker"]["seconds_ago"] == SILENT

        clock.advance(seconds=1)  # one second past the limit: the worker is silent
        status, body = get(url)
        assert status == 503 and body["status"] == "error"
        assert body["worker"]["status"] == "silent" and body["scheduler"]["status"] == "ok"
        assert body["reasons"] == [
            f"后台进程已 {SILENT + 1} 秒没有动静（超过 {SILENT} 秒即为故障）"
        ]
        assert body["web"]["status"] == "ok" and body["database"] is True

        health.beat(health.WORKER_KEY, clock.now(), pid=4322, stopped_threads=["outbox"])
        status, body = get(url)
        assert status == 503 and body["worker"]["status"] == "broken"
        assert "outbox" in body["reasons"][0]

        health.beat(health.WORKER_KEY, clock.now(), pid=4322, stopped_threads=[])
        clock.advance(seconds=health.TICK_SECONDS)  # the scheduler gets one tick more
        health.beat(health.WORKER_KEY, clock.now(), pid=4322, stopped_threads=[])
        status, body = get(url)
        assert status == 503 and body["worker"]["status"] == "ok"
        assert body["scheduler"]["status"] == "silent"
        assert body["reasons"] == [
            f"定时任务（提醒、周报、每日备份）已 {SILENT + 61} 秒没有动静（超过 {SILENT + 60} 秒即为故障）"
        ]


def test_a_worker_never_heard_of_fails_after_the_allowed_silence(tmp_path, db_url, db, clock):
    config = make_config(tmp_path, db_url, HEALTH_WORKER_SILENT_SECONDS=str(SILENT))
    services = build_services(config, clock, SandboxTransport())
    with web_on_port_0(services) as url:
        clock.advance(seconds=SILENT)
        assert get(url)[0] == 200
        clock.advance(seconds=health.TICK_SECONDS + 1)
        status, body = get(url)
        assert status == 503
        assert body["worker"]["status"] == body["scheduler"]["status"] == "never"
        assert "后台进程没有运行过的记录" in body["reasons"]


def test_selfcheck_shows_the_same_facts(tmp_path, db_url, db, clock):
    config = make_config(tmp_path, db_url, HEALTH_WORKER_SILENT_SECONDS=str(SILENT))

    def by_name():
        return {c.name: c for c in run_checks(config, clock.now(), None)}

    checks = by_name()
    assert checks["后台进程"].level == WARN and "没有运行过" in checks["后台进程"].detail
    health.beat(health.WORKER_KEY, clock.now(), pid=4321, host="srv", stopped_threads=[])
    health.beat(health.SCHEDULER_KEY, clock.now())
    clock.advance(seconds=10)
    checks = by_name()
    assert checks["后台进程"].level == OK and "10 秒前" in checks["后台进程"].detail
    assert "4321" in checks["后台进程"].detail
    assert checks["定时任务（提醒、周报、每日备份）"].level == OK
    clock.advance(seconds=SILENT)
    checks = by_name()
    assert checks["后台进程"].level == FAIL and "40 秒没有动静" in checks["后台进程"].detail
    assert "systemctl status dubanbot-worker" in checks["后台进程"].advice


def test_the_heartbeat_is_frequent_enough_and_cheap():
    assert health.heartbeat_seconds(120) == 15  # the default: 8 beats within the limit
    assert health.heartbeat_seconds(5) == 1.25
    assert health.heartbeat_seconds(2) == 1.0
