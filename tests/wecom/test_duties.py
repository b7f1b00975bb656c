"""One sender and one scheduler for the whole deployment, paced by the database (issue 20,
point 5): a lease per duty, renewed by its holder, re-checked after the database was away, taken
over within a minute when its holder dies; the per-member window counted from what was sent,
whichever process sent it. Two `services` on one database stand for two hosts."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta

import peewee
import pytest
from conftest import PG_URL, TZ
from helpers import ChatDriver
from wecom_setup import paced_by, wecom_config

from bot import health
from bot.duty import Duty
from bot.outbox import Outbox
from bot.selfcheck import run_checks
from bot.services import build_services
from models.db import database
from models.duty import RENEW_EVERY, SCHEDULER, SENDER, TTL, Holder
from models.messages import OutboxMessage
from reminders.scheduler import tick

SEND = "/cgi-bin/message/send"


def host(name: str, pid: int = 1) -> Holder:
    return Holder(f"{name}:{pid}", name, pid, place=name)


def test_one_holder_at_a_time_and_a_dead_one_replaced_within_a_minute(db, clock):
    a = Duty(SENDER, clock, host("a"))
    b = Duty(SENDER, clock, host("b"))
    assert a.held() and not b.held()
    for _ in range(8):  # a renews as it works: b never gets it
        clock.advance(seconds=10)
        assert a.held() and not b.held()
    died = clock.now()  # a stops renewing (its host died)
    while not b.held():
        clock.advance(seconds=RENEW_EVERY.total_seconds())
    assert clock.now() - died <= timedelta(minutes=1)
    a.recheck()
    assert not a.held(), "a lease lost is known as lost"


def test_a_restarted_worker_takes_its_hosts_lease_at_once(db, clock):
    assert Duty(SENDER, clock, host("a", 100)).held()
    restarted = Duty(SENDER, clock, host("a", 200))
    assert not restarted.held(), "not by merely asking"
    assert restarted.take_from_my_host(), "its host lock says the old worker is gone"
    assert not Duty(SENDER, clock, host("b")).take_from_my_host()


def two_hosts(tmp_path, db_url, fake, clock):
    fake.clock = lambda: clock.now().timestamp()
    first = paced_by(build_services(wecom_config(tmp_path / "a", db_url, fake), clock), clock)
    second = paced_by(build_services(wecom_config(tmp_path / "b", db_url, fake), clock), clock)
    first.sender.duty.me, second.sender.duty.me = host("a"), host("b")
    first.sender.keeps_duty = second.sender.keeps_duty = True  # as their workers' loops do
    return first, second


def test_only_the_lease_holder_sends(tmp_path, db_url, db, fake, clock):
    a, b = two_hosts(tmp_path, db_url, fake, clock)
    outbox = Outbox(clock)
    for n in range(10):
        outbox.to_members(["li"], f"通知{n}", f"k{n}")
    assert a.sender.run_once().sent == 10
    outbox.to_members(["li"], "再一条", "k10")
    assert b.sender.run_once().handled == 0, "b waits its turn"
    assert a.sender.run_once().sent == 1
    assert len(fake.messages) == 11


def test_a_flood_while_the_worker_restarts_is_paced_and_nothing_is_dropped(
    tmp_path, db_url, db, fake, clock
):
    """60 messages to one person; the sender's process is replaced after the first 30 (its
    memory gone): the new one counts what the old one sent in the minute and waits."""
    a, b = two_hosts(tmp_path, db_url, fake, clock)
    outbox = Outbox(clock)
    for n in range(60):
        outbox.to_members(["li"], f"第{n}条", f"f{n}")
    a.sender.run_once()
    a.sender.run_once()
    assert len(fake.messages) == 30
    b.sender.duty.me = host("a", 2)  # the same host, a new process after a restart
    assert b.sender.duty.take_from_my_host()
    b.sender.drain()
    assert len(fake.messages) == 30, "the new process waits for the minute the old one used"
    for _ in range(4):
        clock.advance(seconds=20)
        b.sender.drain()
    assert len(fake.messages) == 60 and fake.dropped == []
    assert OutboxMessage.select().where(OutboxMessage.status != "sent").count() == 0


def test_a_cli_drain_paces_with_the_worker(tmp_path, db_url, db, fake, clock):
    """A `say` or `remind` drains the outbox in its own process: it sends only when no worker
    holds the lease, and then inside the same per-member window."""
    a, b = two_hosts(tmp_path, db_url, fake, clock)
    b.sender.keeps_duty = False  # a CLI's drain
    outbox = Outbox(clock)
    for n in range(30):
        outbox.to_members(["li"], f"第{n}条", f"f{n}")
    assert a.sender.run_once().sent + a.sender.run_once().sent == 30
    outbox.to_members(["li"], "CLI 的回复", "cli")
    assert b.sender.drain().handled == 0, "the worker holds the lease: it sends"
    a.sender.duty.release()  # the worker stopped
    assert b.sender.drain().deferred == 1, "the CLI waits inside the same window"
    clock.advance(seconds=61)
    assert b.sender.drain().sent == 1 and fake.dropped == []


def test_the_scheduler_ticks_only_while_it_holds_its_lease(bot, services, clock):
    clock.set(datetime(2026, 8, 20, 10, 0, tzinfo=TZ))
    bot.bind("li", "市监局")
    bot.say("boss", "期限 T7 2026-10-09")
    bot.deliver()
    clock.set(datetime(2026, 10, 12, 9, 5, tzinfo=TZ))
    mine, theirs = Duty(SCHEDULER, clock, host("a")), Duty(SCHEDULER, clock, host("b"))
    assert theirs.held()
    before = OutboxMessage.select().count()
    tick(replace(services.scheduler_parts(), on_duty=mine.held))
    assert OutboxMessage.select().count() == before, "b holds it: a's tick does nothing"
    clock.advance(seconds=TTL.total_seconds() + 1)  # b died
    tick(replace(services.scheduler_parts(), on_duty=mine.held))
    assert OutboxMessage.select().count() > before


def test_healthz_and_selfcheck_name_the_host_of_each_duty(tmp_path, db_url, db, fake, clock):
    a, _ = two_hosts(tmp_path, db_url, fake, clock)
    assert a.sender.duty.held()
    assert Duty(SCHEDULER, clock, host("b", 7)).held()
    shown = health.duties(clock.now(), TZ)
    assert shown["sender"]["host"] == "a" and shown["scheduler"]["pid"] == 7
    check = next(c for c in run_checks(a.config, clock.now(), a.client) if c.name == "单实例职责")
    assert "发送：a（进程 1）" in check.detail and "定时任务：b（进程 7）" in check.detail


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL: set TEST_DATABASE_URL")
def test_a_killed_connection_is_followed_by_a_recheck_and_a_lost_lease_stops_sending(
    tmp_path, db_url, db, fake, clock
):
    """The holder's PostgreSQL connection is killed: the next look reconnects and asks again.
    While the lease had not run out it is still the holder's; once another took it over (the
    holder was cut off too long), the holder knows at once and sends nothing more."""
    a, b = two_hosts(tmp_path, db_url, fake, clock)
    pids: list[int] = []
    outcome: dict[str, object] = {}

    def in_a_thread(step):
        def run():
            try:
                outcome["value"] = step()
            except peewee.PeeweeException as exc:
                outcome["value"] = exc
            finally:
                database.close()

        thread = threading.Thread(target=run)
        thread.start()
        thread.join(timeout=30)
        return outcome.pop("value")

    def hold_and_remember_pid():
        pids.append(database.execute_sql("SELECT pg_backend_pid()").fetchone()[0])
        return a.sender.duty.held()

    assert in_a_thread(hold_and_remember_pid) is True
    database.execute_sql("SELECT pg_terminate_backend(%s)", (pids[0],))
    a.sender.duty.recheck()  # (the worker does this on the error a dead connection raises)
    assert in_a_thread(a.sender.duty.held) is True, "reconnected, and still the holder"
    clock.advance(seconds=TTL.total_seconds() + 1)  # a cut off past its lease…
    assert b.sender.duty.held(), "…b took over"
    Outbox(clock).to_members(["li"], "通知", "k1")
    assert in_a_thread(lambda: a.sender.run_once().handled) == 0, "a knows it lost the lease"
    assert b.sender.run_once().sent == 1 and len(fake.messages) == 1


def test_two_services_each_bound_and_greeted_once(tmp_path, db_url, db, fake, clock):
    """Sanity for the two-host set-up: one database, one outbox, every reply sent once."""
    a, b = two_hosts(tmp_path, db_url, fake, clock)
    ChatDriver(a).bind("li", "市监局")
    a.sender.run_once()
    b.sender.run_once()
    assert len([m for m in fake.messages if m["touser"] == "li"]) == 1
