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
