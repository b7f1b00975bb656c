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
