"""The settings file through `run.py`, as a service or an administrator uses it: relative paths
follow --env-file wherever the command runs from, the start-up line says which database and
data folder are used, Notepad's GBK is read, a misspelt key is named, a readable file holding
the Secret is made its owner's only, and a missing .env is said."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from service_setup import ROOT, Proc, clean_env


def run_py(cwd, *args):
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def test_relative_paths_follow_the_env_file(tmp_path):
    """The README's systemd `init` step and the NSSM line run from elsewhere than the service:
    both must mean the service's database and data folder."""
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    site.mkdir()
    elsewhere.mkdir()
    env_file = site / "bot.env"
    env_file.write_text(
        "BOT_ADMINS=boss\nDATA_DIR=data\nDATABASE_URL=sqlite:///db/bot.db\nHTTP_PORT=0\n",
        encoding="utf-8",
    )
    init = run_py(elsewhere, "--env-file", "../site/bot.env", "init")
    assert init.returncode == 0, init.stderr
    database, data = site / "db" / "bot.db", site / "data"
    assert database.is_file() and list(elsewhere.iterdir()) == []
    assert f"设置文件：{env_file}；数据库：{database}；数据文件夹：{data}" in init.stdout
    # The service, started from yet another folder, says the same at start.
    web = Proc(["web"], env_file, tmp_path)
    try:
        line = web.wait_for_line("数据库：")
        assert f"数据库：{database}；数据文件夹：{data}" in line
        web.wait_for_line("服务已启动：")
        web.request_stop()
        assert web.wait(timeout=30) == 0, web.output()
    finally:
        web.close()
    assert not (tmp_path / "data").exists()


def test_a_missing_env_file_is_said(tmp_path):
    done = run_py(tmp_path, "init")
    assert done.returncode == 0, done.stderr
    assert "未找到 .env，使用默认设置" in done.stderr
    data = tmp_path / "data"
    assert f"数据库：{data / 'bot.db'}；数据文件夹：{data}" in done.stdout


def test_notepads_gbk_file_with_a_misspelt_key(tmp_path):
    """Saved by Notepad as "ANSI" (GBK) with a Chinese comment: read, every setting applies; the
    misspelt HTTP_PROT is named at start and in 自检, with the setting it probably means."""
    (tmp_path / ".env").write_bytes(
        "# 督办机器人的设置（记事本保存）\r\nBOT_ADMINS=gbkboss\r\nHTTP_PROT=9000\r\n".encode("gbk")
    )
    init = run_py(tmp_path, "init")
    assert init.returncode == 0, init.stderr
    assert "GBK" in init.stderr and "HTTP_PROT（是不是 HTTP_PORT？）" in init.stderr
    check = run_py(tmp_path, "selfcheck", "--at", "2026-11-26T09:30")
    assert "Traceback" not in check.stderr, check.stderr
    assert "【正常】管理员：gbkboss" in check.stdout, check.stdout
    line = next(line for line in check.stdout.splitlines() if "】配置：" in line)
    assert line.startswith("【注意】") and "HTTP_PROT（是不是 HTTP_PORT？）" in line, line


def test_a_bom_does_not_cost_the_first_setting(tmp_path):
    (tmp_path / ".env").write_bytes(b"\xef\xbb\xbfBOT_ADMINS=bomboss\n")
    assert run_py(tmp_path, "init").returncode == 0
    check = run_py(tmp_path, "selfcheck", "--at", "2026-11-26T09:30")
    assert "【正常】管理员：bomboss" in check.stdout, check.stdout


def test_an_unreadable_encoding_is_refused_in_chinese(tmp_path):
    (tmp_path / ".env").write_bytes(b"BOT_ADMINS=\xff\xfe\xfa\n")
    done = run_py(tmp_path, "init")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "编码无法识别" in done.stderr and not (tmp_path / "data").exists()


@pytest.mark.skipif(os.name != "posix", reason="mode bits mean nothing on Windows")
def test_a_secret_readable_by_others_is_tightened_at_start_and_said(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("BOT_ADMINS=boss\nSANDBOX_SECRET=correct-horse-battery\n", encoding="utf-8")
    os.chmod(env_file, 0o644)
    done = run_py(tmp_path, "init")
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(os.stat(env_file).st_mode) == 0o600
    assert "其他用户也能读取（0644），已改为只有本用户可以读写（0600）" in done.stderr
    assert str(env_file) in done.stderr
