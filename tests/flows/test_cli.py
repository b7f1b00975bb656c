"""The command line as a newcomer uses it: init (twice), say, and a bad config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(tmp_path, *args, env_extra=None, db_url=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "DATABASE_URL"))}
    env.update(
        DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=db_url or f"sqlite:///{tmp_path / 'data' / 'bot.db'}",
        BOT_ADMINS="boss",
    )
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "run.py", "--env-file", str(tmp_path / "none.env"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_init_twice_then_say(tmp_path):
    first = run(tmp_path, "init")
    assert first.returncode == 0, first.stderr
    assert "63 项任务和指标" in first.stdout and "新增 648 条责任分工" in first.stdout
    assert run(tmp_path, "say", "boss", "绑定", "zhangsan", "市监局").returncode == 0
    second = run(tmp_path, "init")
    assert "新增 0 条责任分工" in second.stdout
    reply = run(tmp_path, "say", "zhangsan", "进度", "T7", "60%")
    assert reply.returncode == 0 and "已记录" in reply.stdout
    log = run(tmp_path, "say", "boss", "日志", "T7")
    assert "报告进度 60%" in log.stdout


def test_bad_config_names_each_problem(tmp_path):
    result = run(tmp_path, "init", env_extra={"HTTP_PORT": "abc", "BOT_TIMEZONE": "Nowhere"})
    assert result.returncode == 2
    assert "HTTP_PORT" in result.stderr and "BOT_TIMEZONE" in result.stderr
    assert "Traceback" not in result.stderr


def test_remind_and_digest_through_the_cli(tmp_path):
    """The issue's check, on key days: T7 due 2026-10-09 for 县市场监管局, liaison and head bound."""
    assert run(tmp_path, "init").returncode == 0
    run(tmp_path, "say", "boss", "绑定", "li", "市监局")
    run(tmp_path, "say", "boss", "绑定", "chief", "市监局", "负责人")
    # The deadline is set back in August (期限 refuses past dates), through the same pipeline.
    import sqlite3

    setup = run(tmp_path, "say", "boss", "期限", "T7", "2099-01-01")
    assert "已设定" in setup.stdout
    with sqlite3.connect(tmp_path / "data" / "bot.db") as conn:
        conn.execute(
            "UPDATE assignment SET deadline='2026-10-09', deadline_set_on='2026-08-20' "
            "WHERE item_id=(SELECT id FROM item WHERE code='T7')"
        )
    expected = {
        "2026-09-22T09:00": "1 个事项提醒，1 条消息",  # 7 working days before
        "2026-10-01T09:00": "今天不是工作日",  # National Day
        "2026-10-09T09:00": "1 个事项提醒，1 条消息",  # the day
        "2026-10-10T09:00": "1 个事项提醒，1 条消息",  # 调休 Saturday, 1st overdue
        "2026-10-13T09:00": "2 个事项提醒，2 条消息",  # 3rd overdue: the head too
    }
    for at, summary in expected.items():
        result = run(tmp_path, "remind", "--at", at)
        assert result.returncode == 0, result.stderr
        assert summary in result.stdout, (at, result.stdout)
    again = run(tmp_path, "remind", "--at", "2026-10-13T15:00")
    assert "0 个事项提醒，0 条消息" in again.stdout
    first = run(tmp_path, "digest", "--at", "2026-10-12T09:00")
    second = run(tmp_path, "digest", "--at", "2026-10-12T10:00")
    assert "周报已发布" in first.stdout and "周报未发布" in second.stdout
    preview = run(tmp_path, "digest", "--at", "2026-10-19T09:00", "--preview")
    assert "预计得分" in preview.stdout
    check = run(tmp_path, "selfcheck")
    assert "缺少 2027 年的节假日安排" in check.stdout
