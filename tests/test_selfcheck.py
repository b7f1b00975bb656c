"""Self-check (自检): a deployment nobody can administer is a failure, with the fix named."""

from __future__ import annotations

from conftest import make_config

from bot.selfcheck import FAIL, OK, run_checks, worst


def _admin_check(checks):
    return next(c for c in checks if c.name == "管理员")


def test_no_admin_at_all_is_a_failure_that_says_how_to_fix_it(tmp_path, db_url, db, clock):
    config = make_config(tmp_path, db_url, BOT_ADMINS="")
    checks = run_checks(config, clock.now(), None)
    check = _admin_check(checks)
    assert check.level == FAIL and worst(checks) == FAIL
    assert "BOT_ADMINS" in check.advice and ".env" in check.advice


def test_an_admin_from_the_settings_or_a_binding_is_enough(tmp_path, db_url, db, clock, bot):
    configured = run_checks(make_config(tmp_path, db_url), clock.now(), None)
    assert _admin_check(configured).level == OK and "boss" in _admin_check(configured).detail
    bot.say("boss", "绑定 wang 市监局 管理员")
    bound_only = run_checks(make_config(tmp_path, db_url, BOT_ADMINS=""), clock.now(), None)
    assert _admin_check(bound_only).level == OK and "wang" in _admin_check(bound_only).detail


def test_a_file_being_fetched_is_not_a_download_problem(tmp_path, db_url, db, clock, services, bot):
    """Every file is a download from the moment it arrives; only one that failed is reported."""
    from bot.pipeline import Incoming
    from models.messages import MediaDownload

    bot.bind("li", "市监局")
    services.pipeline.handle(
        Incoming("wecom", "f1", "li", kind="image", payload={"media_id": "m1"})
    )
    config = make_config(tmp_path, db_url)

    def downloads():
        return next(c for c in run_checks(config, clock.now(), None) if c.name == "文件下载")

    assert downloads().level == OK
    MediaDownload.update(attempts=1, last_error="HTTP 502").execute()
    assert downloads().level != OK and "1 个文件等待重试" in downloads().detail


def test_expired_messages_fail_the_outbox_check_and_resending_clears_it(
    tmp_path, db_url, db, clock, bot
):
    from bot.outbox import Outbox
    from bot.transports.base import TransientSendError

    config = make_config(tmp_path, db_url)

    def outbox_check():
        return next(c for c in run_checks(config, clock.now(), None) if c.name == "发件箱")

    Outbox(clock).to_members(["li"], "请报告进度", "k")
    bot.transport.failures = [TransientSendError("无法连接企业微信")] * 1000
    bot.deliver()
    clock.advance(hours=1)
    assert outbox_check().level == "warn" and "OUTBOX_MAX_AGE_HOURS" in outbox_check().advice
    clock.advance(hours=24)
    bot.deliver()
    check = outbox_check()
    assert check.level == FAIL and "1 条过期未能送达" in check.detail
    assert "重发 全部" in check.advice
    bot.transport.failures = []
    bot.say("boss", "重发 全部")
    bot.deliver()
    assert outbox_check().level == OK
