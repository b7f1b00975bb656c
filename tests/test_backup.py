"""Backups: `run.py backup` copies the database (SQLite's online backup, while the bot writes),
the evidence and the exports into one dated zip; `run.py restore` puts back every row and every
file, only after a confirmation and only while nothing runs; the daily backup keeps N copies;
PostgreSQL is told the pg_dump commands. SQLite throughout (PostgreSQL has its own tools), so
these tests use a SQLite database of their own also when the suite runs on PostgreSQL."""

from __future__ import annotations

import io
import shutil
import sqlite3
import subprocess
import sys
import threading
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import START, TZ, make_config
from helpers import ChatDriver
from service_setup import clean_env

from bot import backup
from bot.clock import FakeClock
from bot.pipeline import Incoming
from bot.services import build_services
from models.db import database, make_database

ROOT = Path(__file__).resolve().parent.parent
PDF = b"%PDF-1.4\n" + b"evidence " * 500
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20


@pytest.fixture
def site(tmp_path, sqlite_template):
    """A deployment on SQLite with people, progress, two evidence files and an export."""
    db_path = tmp_path / "data" / "bot.db"
    db_path.parent.mkdir()
    shutil.copy(sqlite_template, db_path)
    url = f"sqlite:///{db_path}"
    handle = make_database(url)
    database.initialize(handle)
    handle.connect()
    config = make_config(tmp_path, url)
    services = build_services(config, FakeClock(START))
    bot = ChatDriver(services)
    bot.bind("zhangsan", "市监局")
    bot.say("zhangsan", "进度 T7 60% 已完成初稿")
    for n, (name, data) in enumerate((("方案.pdf", PDF), ("照片.png", PNG)), 1):
        stored = services.evidence.save(io.BytesIO(data), name)
        services.pipeline.handle(
            Incoming("sandbox", f"f{n}", "zhangsan", kind="file", text="T7", file=stored)
        )
    assert "台账" in bot.say("boss", "导出")
    services.sender.drain()
    handle.close()
    env_file = tmp_path / "bot.env"
    env_file.write_text(
        f"DATABASE_URL={url}\nDATA_DIR={tmp_path / 'data'}\nBOT_ADMINS=boss\n", encoding="utf-8"
    )
    return config, env_file


def run_py(env_file: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--env-file", str(env_file), *args],
        cwd=env_file.parent,
        env=clean_env(),
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def every_row(db_path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables
        }
    finally:
        conn.close()


def every_file(data_dir: Path) -> dict[str, bytes]:
    found = {}
    for store in backup.STORES:
        for path in sorted((data_dir / store).rglob("*")):
            if path.is_file() and "tmp" not in path.relative_to(data_dir / store).parts:
                found[path.relative_to(data_dir).as_posix()] = path.read_bytes()
    return found


def test_restore_finds_every_row_and_file(site):
    config, env_file = site
    db_path = backup.sqlite_path(config.database_url)
    rows, files = every_row(db_path), every_file(config.data_dir)
    assert len(files) == 3 and rows["evidence"] and rows["member"]  # 2 files and the ledger

    made = run_py(env_file, "backup")
    assert made.returncode == 0, made.stderr
    archive = Path(made.stdout.split("已备份到 ", 1)[1].split("：", 1)[0])
    assert archive.parent == config.data_dir / "backups" and archive.name.startswith("backup-")
    assert "3 个文件" in made.stdout

    # Life goes on after the backup: more rows, a file lost, a stray one.
    after = run_py(env_file, "say", "boss", "绑定 lisi 工信局")
    assert after.returncode == 0 and "已绑定" in after.stdout, after.stderr
    evidence_file = next(p for p in (config.data_dir / "evidence").rglob("*") if p.is_file())
    evidence_file.unlink()
    (config.data_dir / "evidence" / "stray.bin").write_bytes(b"not in the backup")
    changed_rows = every_row(db_path)
    assert changed_rows != rows

    refused = run_py(env_file, "restore", str(archive), stdin="否\n")
    assert refused.returncode == 1 and "什么也没有改变" in refused.stdout
    assert every_row(db_path) == changed_rows

    restored = run_py(env_file, "restore", "--yes", str(archive))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert every_row(db_path) == rows
    assert every_file(config.data_dir) == files
    saved = list((config.data_dir / "backups").glob("before-restore-*.zip"))
    assert len(saved) == 1, "what was there before is kept"
    with zipfile.ZipFile(saved[0]) as zf:
        assert "evidence/stray.bin" in zf.namelist()


def test_restore_asks_and_accepts_yes_typed(site):
    config, env_file = site
    archive = backup.make_backup(config, datetime(2026, 11, 26, 11, 0, tzinfo=TZ)).path
    done = run_py(env_file, "restore", str(archive), stdin="是\n")
    assert done.returncode == 0 and "确认恢复请输入“是”" in done.stdout and "已恢复" in done.stdout


def test_restore_is_refused_while_the_bot_runs(site):
    from bot.runtime.files import hold_lock, worker_lock_path

    config, env_file = site
    archive = backup.make_backup(config, datetime(2026, 11, 26, 11, 0, tzinfo=TZ)).path
    before = every_row(backup.sqlite_path(config.database_url))
    held = hold_lock(worker_lock_path(config))  # a worker of this database runs
    try:
        done = run_py(env_file, "restore", "--yes", str(archive))
    finally:
        held.release()
    assert done.returncode == 2 and "服务正在运行" in done.stderr
    assert every_row(backup.sqlite_path(config.database_url)) == before


def test_a_backup_taken_while_the_bot_writes_is_consistent(site):
    config, _ = site
    db_path = backup.sqlite_path(config.database_url)
    stop = threading.Event()
    written = []

    def writer():
        conn = sqlite3.connect(db_path, timeout=30)
        n = 0
        while not stop.is_set():
            n += 1
            with conn:
                conn.execute(
                    "INSERT INTO key_value (key, value) VALUES (?, ?)", (f"k{n}", "x" * 200)
                )
            written.append(n)
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 50:
            stop.wait(0.01)
        result = backup.make_backup(config, datetime(2026, 11, 26, 11, 0, tzinfo=TZ))
    finally:
        stop.set()
        thread.join(timeout=10)
    with zipfile.ZipFile(result.path) as zf:
        copy = Path(result.path).with_suffix(".db")
        copy.write_bytes(zf.read(backup.DATABASE_ENTRY))
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    keys = {k for (k,) in conn.execute("SELECT key FROM key_value WHERE key LIKE 'k%'")}
    conn.close()
    # A snapshot: rows 1..n as of one moment, no gap; the writer went on after it.
    numbers = sorted(int(k[1:]) for k in keys)
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 50
    assert result.tables["key_value"] >= len(numbers)


def test_the_daily_backup_runs_once_a_day_and_keeps_n(site):
    config, _ = site
    config = make_config(
        config.data_dir.parent, config.database_url, BACKUP_DAILY_AT="02:30", BACKUP_KEEP="3"
    )
    day = datetime(2026, 11, 20, 2, 29, tzinfo=TZ)
    assert backup.run_daily(config, day) is None, "not before 02:30"
    made = []
    for n in range(5):
        moment = day + timedelta(days=n, minutes=2)
        made.append(backup.run_daily(config, moment))
        assert made[-1] is not None
        assert backup.run_daily(config, moment + timedelta(minutes=1)) is None, "once a day"
    kept = [p.name for p in backup.daily_archives(config.backup_dir)]
    assert kept == [r.path.name for r in reversed(made[-3:])]
    assert kept[0] == "daily-20261124-023100.zip"
    manual = backup.make_backup(config, day)
    backup.run_daily(config, day + timedelta(days=6))
    assert manual.path.exists(), "a backup made by hand is never pruned"


def test_settings_for_backups(tmp_path):
    config = make_config(tmp_path, BACKUP_DIR="elsewhere/backups")
    assert config.backup_dir == (Path.cwd() / "elsewhere" / "backups").resolve()
    assert config.backup_daily_at is None and config.backup_keep == 7
    with pytest.raises(Exception) as caught:
        make_config(tmp_path, "postgresql://bot@127.0.0.1:5432/bot", BACKUP_DAILY_AT="02:30")
    assert "pg_dump" in str(caught.value)


def test_postgres_is_told_the_pg_dump_commands(tmp_path):
    env_file = tmp_path / "bot.env"
    env_file.write_text(
        "DATABASE_URL=postgresql://duban:s3cret-pw@db.example:6543/dubanbot\n"
        f"DATA_DIR={tmp_path / 'data'}\n",
        encoding="utf-8",
    )
    for args in (["backup"], ["restore", "--yes", str(tmp_path / "x.zip")]):
        done = run_py(env_file, *args)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "pg_dump -h db.example -p 6543 -U duban -Fc" in done.stderr
        assert "pg_restore -h db.example -p 6543 -U duban --clean --if-exists -d dubanbot" in (
            done.stderr
        )
        assert "s3cret-pw" not in done.stderr, "the password is never printed"


def test_an_archive_with_a_path_outside_its_place_is_refused(site, tmp_path):
    config, _ = site
    good = backup.make_backup(config, datetime(2026, 11, 26, 11, 0, tzinfo=TZ)).path
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(evil, "w") as out:
        for name in src.namelist():
            out.writestr(name, src.read(name))
        out.writestr("evidence/../../outside.txt", b"x")
    with pytest.raises(backup.BackupError, match="不安全的路径"):
        backup.restore(config, evil, datetime(2026, 11, 26, 12, 0, tzinfo=TZ))
    assert not (tmp_path / "outside.txt").exists()
    broken = tmp_path / "broken.zip"
    broken.write_bytes(good.read_bytes()[:-200])
    with pytest.raises(backup.BackupError, match="损坏"):
        backup.inspect(broken)
