"""Backups: the SQLite database (copied by SQLite's online backup API, so while the bot runs),
the evidence files and the exported ledgers, in one dated zip; and putting one back.

PostgreSQL is backed up with its own tools (pg_dump / pg_restore); `postgres_advice` says how.
Everything here takes `now` from the caller: file names and the daily schedule follow the bot's
clock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from bot.config import Config
from models.private import private_dir, private_tree, tighten

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE_ENTRY = "database/bot.db"
STORES = ("evidence", "exports")  # folders of DATA_DIR kept in a backup
SKIPPED = ("tmp",)  # inside a store: saves in progress, never part of a backup
MANUAL, DAILY, BEFORE_RESTORE = "backup", "daily", "before-restore"


class BackupError(Exception):
    """Why a backup or a restore cannot be done, in one Chinese sentence (exit 2)."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    tables: dict[str, int]
    files: int
    size: int

    def summary(self) -> str:
        rows = sum(self.tables.values())
        return (
            f"已备份到 {self.path}：数据库 {len(self.tables)} 个表 {rows} 行，"
            f"佐证材料和台账 {self.files} 个文件，共 {_size_text(self.size)}"
        )


@dataclass(frozen=True)
class ArchiveInfo:
    path: Path
    created_at: str
    tables: dict[str, int]
    files: list[str]
    schema_version: int

    def summary(self) -> str:
        rows = sum(self.tables.values())
        return (
            f"备份 {self.path.name}：制作于 {self.created_at}，数据库 {len(self.tables)} 个表 "
            f"{rows} 行，佐证材料和台账 {len(self.files)} 个文件"
        )


# ---------------------------------------------------------------------- making one


def sqlite_path(database_url: str) -> Path:
    return Path(unquote(database_url[len("sqlite:///") :]))


def make_backup(
    config: Config, now: datetime, *, kind: str = MANUAL, folder: Path | None = None
) -> BackupResult:
    """A consistent copy of the database and the files, as `kind-YYYYmmdd-HHMMSS.zip` in
    `folder` (BACKUP_DIR by default). The database is copied first: every file a copied row
    names is already on disk (a file is stored before its row), files added since are extra."""
    if not config.is_sqlite:
        raise BackupError(postgres_advice(config))
    source = sqlite_path(config.database_url)
    if not source.is_file():
        raise BackupError(f"找不到数据库文件 {source}：请先运行 python3 run.py init")
    folder = private_dir(Path(folder or config.backup_dir))
    local = now.astimezone(config.timezone)
    name = f"{kind}-{local:%Y%m%d-%H%M%S}.zip"
    target = folder / name
    if target.exists():
        raise BackupError(f"{target} 已存在：请稍等一秒再试")
    with tempfile.TemporaryDirectory(dir=folder, prefix=".backup-") as work:
        copy = Path(work) / "bot.db"
        tables, version = _copy_database(source, copy)
        partial = Path(work) / name
        files = 0
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            archive.write(copy, DATABASE_ENTRY)
            names = []
            for store in STORES:
                for path, entry in _store_files(config.data_dir / store, store):
                    archive.write(path, entry)
                    names.append(entry)
            files = len(names)
            manifest = {
                "format": FORMAT,
                "created_at": local.isoformat(timespec="seconds"),
                "schema_version": version,
                "tables": tables,
                "files": names,
            }
            info = zipfile.ZipInfo(MANIFEST, date_time=local.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, json.dumps(manifest, ensure_ascii=False, indent=1))
        tighten(partial)
        os.replace(partial, target)  # a backup is there whole, or not at all
    return BackupResult(target, tables, files, target.stat().st_size)


def _copy_database(source: Path, copy: Path) -> tuple[dict[str, int], int]:
    """SQLite's online backup: a consistent snapshot while others read and write (WAL)."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(copy)
    try:
        src.backup(dst)
        tables = _row_counts(dst)
        version = _schema_version(dst)
    finally:
        dst.close()
        src.close()
    return tables, version


def _row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {name: conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}


def _schema_version(conn: sqlite3.Connection) -> int:
    try:
        return conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
    except sqlite3.DatabaseError:
        return 0


def _store_files(root: Path, store: str):
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if here == root:
            dirs[:] = [d for d in dirs if d not in SKIPPED]
        dirs.sort()
        for name in sorted(files):
            path = here / name
            if path.is_symlink() or not path.is_file():
                continue
            yield path, f"{store}/{path.relative_to(root).as_posix()}"


# ---------------------------------------------------------------------- daily


def run_daily(config: Config, now: datetime) -> BackupResult | None:
    """The daily backup, if switched on, due (past BACKUP_DAILY_AT) and not yet made today;
    then only the newest BACKUP_KEEP daily archives are kept. Called every minute: idempotent,
    the archive of the day is the record."""
    if config.backup_daily_at is None or not config.is_sqlite:
        return None
    local = now.astimezone(config.timezone)
    if local.time() < config.backup_daily_at:
        return None
    folder = Path(config.backup_dir)
    if any(folder.glob(f"{DAILY}-{local:%Y%m%d}-*.zip")):
        return None
    result = make_backup(config, now, kind=DAILY)
    log.info(result.summary())
    for old in daily_archives(folder)[config.backup_keep :]:
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
            log.info("removed old daily backup %s (BACKUP_KEEP=%s)", old, config.backup_keep)
    return result


def daily_archives(folder: Path) -> list[Path]:
    """Daily archives, newest first (their names sort by time)."""
    return sorted(Path(folder).glob(f"{DAILY}-*.zip"), key=lambda p: p.name, reverse=True)


def newest_archive(folder: Path) -> Path | None:
    found = [p for kind in (MANUAL, DAILY) for p in Path(folder).glob(f"{kind}-*.zip")]
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


# ---------------------------------------------------------------------- putting one back


def inspect(archive: Path) -> ArchiveInfo:
    """What an archive holds, checked: a backup of ours, complete, no entry outside its place."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"找不到备份文件 {archive}")
    try:
        with zipfile.ZipFile(archive) as zf:
            names = set(zf.namelist())
            if MANIFEST not in names or DATABASE_ENTRY not in names:
                raise BackupError(f"{archive} 不是本系统的备份（缺少 {MANIFEST} 或数据库）")
            manifest = json.loads(zf.read(MANIFEST))
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BackupError(f"备份文件 {archive} 已损坏，无法读取（{exc}）") from None
    if bad is not None:
        raise BackupError(f"备份文件 {archive} 已损坏：{bad} 校验不符")
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} 的格式（{manifest.get('format')}）不是本版本能恢复的")
    files = list(manifest.get("files", []))
    for entry in names - {MANIFEST, DATABASE_ENTRY}:
        if not _safe_entry(entry):
            raise BackupError(f"备份文件 {archive} 中有不安全的路径 {entry!r}，拒绝恢复")
    missing = [f for f in files if f not in names]
    if missing:
        raise BackupError(f"备份文件 {archive} 不完整：缺少 {len(missing)} 个文件")
    return ArchiveInfo(
        archive,
        str(manifest.get("created_at", "")),
        dict(manifest.get("tables", {})),
        files,
        int(manifest.get("schema_version", 0)),
    )


def _safe_entry(entry: str) -> bool:
    """Only `evidence/...` and `exports/...`, relative, no `..`, no drive or backslash."""
    path = PurePosixPath(entry)
    return (
        not path.is_absolute()
        and "\\" not in entry
        and ":" not in entry
        and len(path.parts) >= 2
        and path.parts[0] in STORES
        and ".." not in path.parts
        and not entry.endswith("/")
    )


def restore(
    config: Config, archive: Path, now: datetime, *, newest_schema: int | None = None
) -> ArchiveInfo:
    """Put an archive back: the database's content replaced through SQLite's backup API (the
    file, its mode and its place stay), the evidence and export folders replaced whole. What
    was there is first saved as a `before-restore-…` backup. The caller holds the bot's locks
    (nothing may be running) and migrates the schema afterwards."""
    if not config.is_sqlite:
        raise BackupError(postgres_advice(config))
    info = inspect(archive)
    if newest_schema is not None and info.schema_version > newest_schema:
        raise BackupError(
            f"备份 {Path(archive).name} 来自更新的版本（数据库结构 {info.schema_version}，本版本只到 "
            f"{newest_schema}）：请先升级本程序再恢复"
        )
    target = sqlite_path(config.database_url)
    if target.is_file():
        make_backup(config, now, kind=BEFORE_RESTORE)
    private_dir(target.parent)
    data_dir = private_dir(config.data_dir)
    with (
        tempfile.TemporaryDirectory(dir=data_dir, prefix=".restore-") as work,
        zipfile.ZipFile(archive) as zf,
    ):
        work_dir = Path(work)
        copy = work_dir / "bot.db"
        with zf.open(DATABASE_ENTRY) as src, open(copy, "wb") as out:
            shutil.copyfileobj(src, out)
        _check_database(copy, archive)
        staged = {store: private_dir(work_dir / store) for store in STORES}
        for entry in info.files:
            store, _, rest = entry.partition("/")
            path = staged[store].joinpath(*PurePosixPath(rest).parts)
            private_dir(path.parent)
            with zf.open(entry) as src, open(path, "wb") as out:
                shutil.copyfileobj(src, out)
        _replace_database(copy, target)
        for store in STORES:
            live = data_dir / store
            if live.exists():
                shutil.rmtree(live)
            os.replace(staged[store], live)
            private_tree(live)
    return info


def _check_database(copy: Path, archive: Path) -> None:
    conn = sqlite3.connect(copy)
    try:
        verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        verdict = str(exc)
    finally:
        conn.close()
    if verdict != "ok":
        raise BackupError(f"备份 {archive} 中的数据库已损坏（{verdict}），拒绝恢复")


def _replace_database(copy: Path, target: Path) -> None:
    src = sqlite3.connect(copy)
    dst = sqlite3.connect(target, timeout=30)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


# ---------------------------------------------------------------------- PostgreSQL


def postgres_advice(config: Config) -> str:
    """pg_dump and pg_restore commands for this database (the password is never printed:
    give it by PGPASSWORD or ~/.pgpass)."""
    parts = urlsplit(config.database_url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 5432
    user = unquote(parts.username or "postgres")
    name = unquote(parts.path.lstrip("/")) or "postgres"
    conn = f"-h {host} -p {port} -U {user}"
    return (
        "数据库是 PostgreSQL：run.py backup / restore 只处理 SQLite。请用 PostgreSQL 自带的工具"
        "（密码用 PGPASSWORD 环境变量或 ~/.pgpass 提供）：\n"
        f"  备份：pg_dump {conn} -Fc -f dubanbot-日期.dump {name}\n"
        f"  恢复（先停止服务）：pg_restore {conn} --clean --if-exists -d {name} dubanbot-日期.dump\n"
        f"佐证材料和台账是文件，请同时复制 {config.data_dir / 'evidence'} 和 "
        f"{config.data_dir / 'exports'} 两个文件夹。"
    )


def _size_text(size: int) -> str:
    if size < 1024 * 1024:
        return f"{max(1, size // 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"
