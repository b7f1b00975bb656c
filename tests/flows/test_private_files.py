"""What the bot writes to disk is its owner's only (POSIX): a new deployment through `run.py`,
and one left readable by everyone by an earlier version, tightened at start."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SUNDAY_NIGHT
from helpers import ROOT, SandboxApi, run_py_server

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="POSIX modes; on Windows files inherit their folder's ACL"
)


@pytest.fixture(autouse=True)
def usual_umask():
    """The usual umask (022, inherited by run.py), under which files are readable by all."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def run_py(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WECOM_", "BOT_", "HTTP_", "EVIDENCE_", "SANDBOX"))
        and k not in ("DATABASE_URL", "DATA_DIR")
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=workdir,
        env={**env, "BOT_ADMINS": "boss", "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def wait_for(api: SandboxApi, needle: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        _, feed = api.call("feed?after_out=0&after_in=0")
        if any(needle in m["text"] or needle in m["file_name"] for m in feed["outgoing"]):
            return
        time.sleep(0.1)
    pytest.fail(f"nothing containing {needle!r}: {feed}")


def test_a_new_deployment_is_its_owners_only(tmp_path):
    run_py(tmp_path, "init")
    data = tmp_path / "data"
    env = {"BOT_ADMINS": "boss"}
    with run_py_server(tmp_path, ["serve", "--at", SUNDAY_NIGHT.arg], env) as url:
        api = SandboxApi(url.removesuffix("/sandbox"))
        api.call("send", {"userid": "boss", "text": "绑定 li 市监局"})
        wait_for(api, "已绑定")
        status, body = api.upload({"userid": "li", "caption": "T7"}, "方案.pdf", b"%PDF-1.4 x")
        assert status == 202, body
        wait_for(api, "已收到佐证材料")
        api.call("send", {"userid": "boss", "text": "导出"})
        wait_for(api, ".xlsx")
        # While the server runs, its WAL files exist: they follow the database's mode.
        for name in ("bot.db", "bot.db-wal", "bot.db-shm"):
            assert mode(data / name) == 0o600, name
        assert mode(data) == 0o700
        stores = [data / "evidence", data / "exports"]
        for store in stores:
            found = list(store.rglob("*"))
            assert any(p.is_file() for p in found), store
            for path in [store, *found]:
                assert mode(path) == (0o700 if path.is_dir() else 0o600), path


def test_what_an_earlier_version_left_open_is_tightened_at_start(tmp_path):
    run_py(tmp_path, "init")
    data = tmp_path / "data"
    # As an earlier version (and a umask of 022) left them: everyone may read.
    (data / "evidence" / "ab").mkdir(parents=True)
    (data / "evidence" / "ab" / ("ab" + "0" * 62)).write_bytes(b"%PDF-1.4 old evidence")
    (data / "exports").mkdir()
    (data / "exports" / "old.xlsx").write_bytes(b"PK old ledger")
    (data / "demo.db").write_bytes(b"")  # another database in DATA_DIR, not opened by `say`
    loose = [data, *data.rglob("*")]
    for path in loose:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    run_py(tmp_path, "say", "--at", SUNDAY_NIGHT.arg, "boss", "帮助")
    for path in loose:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path
