"""Logging: LOG_LEVEL, a log file rotated by size with a cap on old files, secrets scrubbed on
every handler (tracebacks included), and the worker's own file beside the web process's."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Config, ConfigError
from bot.logs import configure_logging, worker_log_file

ROOT = Path(__file__).resolve().parent.parent
TOKEN_URL = "https://qyapi.weixin.qq.com/cgi-bin/message/send?access_token=SECRET-TOKEN-123"


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in saved:
            handler.close()
    root.handlers[:] = saved
    root.setLevel(level)


def test_every_handler_scrubs_secrets_tracebacks_included(tmp_path, restore_logging):
    stream = io.StringIO()
    log_file = tmp_path / "logs" / "bot.log"
    configure_logging("INFO", stream, file=log_file)
    log = logging.getLogger("bot.test")
    log.warning("send failed: %s", TOKEN_URL)
    try:
        raise ConnectionError(f"HTTPSConnectionPool: Max retries exceeded with url: {TOKEN_URL}")
    except ConnectionError:
        log.exception("outbox sender: error")
    for handler in logging.getLogger().handlers:
        handler.flush()
    for text in (stream.getvalue(), log_file.read_text(encoding="utf-8")):
        assert "send failed" in text and "Max retries exceeded" in text
        assert (
            "SECRET-TOKEN-123" not in text and text.count("access_token=***") == 2
        )  # message, exception


def test_the_file_rotates_by_size_and_keeps_only_so_many(tmp_path, restore_logging):
    log_file = tmp_path / "bot.log"
    configure_logging("INFO", io.StringIO(), file=log_file, max_bytes=2000, backups=2)
    log = logging.getLogger("bot.test")
    for n in range(200):
        log.info("line %03d %s", n, "进度报告" * 5)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["bot.log", "bot.log.1", "bot.log.2"]
    assert all(p.stat().st_size <= 2000 for p in tmp_path.iterdir())
    assert "line 199" in log_file.read_text(encoding="utf-8")


def test_log_level_is_obeyed(tmp_path, restore_logging):
    stream = io.StringIO()
    configure_logging("WARNING", stream)
    logging.getLogger("bot.test").info("not shown")
    logging.getLogger("bot.test").warning("shown")
    assert "shown" in stream.getvalue() and "not shown" not in stream.getvalue()


def test_log_settings_are_validated(tmp_path):
    config = Config.from_mapping(
        {"LOG_LEVEL": "debug", "LOG_FILE": "data/logs/bot.log", "LOG_MAX_MB": "2"},
        base_dir=tmp_path,
    )
    assert config.log_level == "DEBUG" and config.log_max_bytes == 2 * 1024 * 1024
    assert config.log_file == tmp_path / "data" / "logs" / "bot.log"
    assert worker_log_file(config.log_file).name == "bot-worker.log"
    with pytest.raises(ConfigError) as caught:
        Config.from_mapping({"LOG_LEVEL": "LOUD", "LOG_MAX_MB": "0", "LOG_BACKUPS": "x"})
    assert len(caught.value.problems) == 3
    assert "LOG_LEVEL" in caught.value.problems[0]


def test_a_one_off_command_writes_no_log_file(tmp_path):
    """Only the long-running processes write LOG_FILE (the worker its own file beside it, see
    tests/flows/test_service.py); `say`, `backup`… log to the terminal: two processes rotating
    one file would rename it under each other."""
    env_file = tmp_path / "bot.env"
    env_file.write_text(
        f"DATA_DIR={tmp_path / 'data'}\nLOG_FILE={tmp_path / 'logs' / 'bot.log'}\n"
        "BOT_ADMINS=boss\nLOG_LEVEL=INFO\n",
        encoding="utf-8",
    )
    for args in (["init"], ["say", "boss", "帮助"]):  # say needs the database init makes
        done = subprocess.run(
            [sys.executable, str(ROOT / "run.py"), "--env-file", str(env_file), *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "say printed its reply"
    assert not (tmp_path / "logs" / "bot.log").exists()
    assert not (tmp_path / "logs" / "bot-worker.log").exists()
