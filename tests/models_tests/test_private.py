"""Owner-only files and folders (POSIX): what is created, what is tightened, what is left."""

from __future__ import annotations

import io
import os
import stat
import sys

import pytest

from bot.evidence import EvidenceStore
from models.db import make_database
from models.private import private_dir, private_tree, tighten

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="POSIX modes; on Windows files inherit their folder's ACL"
)


@pytest.fixture(autouse=True)
def usual_umask():
    """The usual umask (022), under which files are created readable by everyone."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_new_sqlite_database_and_its_wal_files_are_owner_only(tmp_path):
    path = tmp_path / "new" / "deeper" / "bot.db"
    db = make_database(f"sqlite:///{path}")
    db.connect()
    db.execute_sql("CREATE TABLE t (x TEXT)")
    db.execute_sql("INSERT INTO t VALUES ('access token')")
    try:
        assert mode(path) == 0o600
        for side in ("bot.db-wal", "bot.db-shm"):  # WAL: they exist while a connection is open
            assert mode(path.parent / side) == 0o600, side
        assert mode(tmp_path / "new") == mode(tmp_path / "new" / "deeper") == 0o700
    finally:
        db.close()


def test_an_existing_database_is_tightened_when_opened(tmp_path):
    path = tmp_path / "bot.db"
    db = make_database(f"sqlite:///{path}")
    with db.connection_context():
        db.execute_sql("CREATE TABLE t (x TEXT)")
    for name in ("bot.db", "bot.db-wal", "bot.db-shm", "bot.db-journal"):
        (tmp_path / name).touch()
        os.chmod(tmp_path / name, 0o644)
    os.chmod(tmp_path, 0o755)
    make_database(f"sqlite:///{path}")
    for name in ("bot.db", "bot.db-wal", "bot.db-shm", "bot.db-journal"):
        assert mode(tmp_path / name) == 0o600, name
    assert mode(tmp_path) == 0o755, "a folder that was there is not ours to change"


def test_evidence_folders_and_files_are_owner_only(tmp_path):
    store = EvidenceStore(tmp_path / "data" / "evidence", max_bytes=1 << 20)
    stored = store.save(io.BytesIO(b"%PDF-1.4 secret minutes"), "纪要.pdf")
    path = store.path_for(stored.sha256)
    assert mode(path) == 0o600
    for folder in (path.parent, store.root, store.root / "tmp", tmp_path / "data"):
        assert mode(folder) == 0o700, folder


def test_tightening_takes_bits_away_and_never_adds_them(tmp_path):
    loose, strict = tmp_path / "loose", tmp_path / "strict"
    loose.write_text("x")
    strict.write_text("x")
    os.chmod(loose, 0o666)
    os.chmod(strict, 0o400)
    tighten(loose)
    tighten(strict)
    assert (mode(loose), mode(strict)) == (0o600, 0o400)
    tighten(tmp_path / "missing")  # nothing there, nothing done


def test_a_tree_is_tightened_but_links_and_shared_folders_are_left(tmp_path):
    root = tmp_path / "evidence"
    (root / "ab").mkdir(parents=True)
    (root / "ab" / "file").write_text("x")
    os.chmod(root, 0o755)
    os.chmod(root / "ab", 0o775)
    os.chmod(root / "ab" / "file", 0o644)
    outside = tmp_path / "outside"
    outside.write_text("not ours")
    os.chmod(outside, 0o644)
    (root / "link").symlink_to(outside)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp
    private_tree(root)
    assert (mode(root), mode(root / "ab"), mode(root / "ab" / "file")) == (0o700, 0o700, 0o600)
    assert mode(outside) == 0o644, "a link's target is not followed"
    private_dir(shared)
    assert mode(shared) == 0o1777, "a folder everyone shares is never changed"
