"""The bot runs where fcntl does not exist (Windows): the worker and the scheduler lock work with
`import fcntl` made to fail, and no POSIX-only call is left in the product code."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from service_setup import ROOT, Proc, clean_env, poll, write_env

from models.messages import KeyValue

# Loaded by every Python started with this folder on PYTHONPATH (the worker, its children).
NO_FCNTL = textwrap.dedent(
    """
    import sys
    sys.modules["fcntl"] = None  # `import fcntl` now raises ImportError, as on Windows
    """
)

LOCK_PROBE = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from reminders.scheduler import SchedulerLock

    lock = SchedulerLock(sys.argv[2], sys.argv[3])
    got = lock.acquire()
    print("fcntl" if sys.modules.get("fcntl") else "no fcntl", "got" if got else "refused")
    lock.release()
    """
)


def no_fcntl_env(tmp_path: Path) -> dict:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(NO_FCNTL, encoding="utf-8")
    return clean_env({"PYTHONPATH": str(shim)})


def probe_scheduler_lock(env: dict, data_dir: Path, db_url: str, tmp_path: Path) -> str:
    script = tmp_path / "probe.py"
    script.write_text(LOCK_PROBE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), str(ROOT), str(data_dir), db_url],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_worker_and_scheduler_lock_without_fcntl(tmp_path, db_url, db):
    db.close()
    env = no_fcntl_env(tmp_path)
    data_dir = tmp_path / "data"
    settings = {"DATABASE_URL": db_url, "DATA_DIR": str(data_dir), "BOT_ADMINS": "boss"}
    env_file = write_env(tmp_path / "bot.env", settings)
    first = Proc(["worker"], env_file, tmp_path, env)
    try:
        first.wait_for_line("worker started")
        db.connect(reuse_if_open=True)
        assert poll(lambda: KeyValue.get_or_none(KeyValue.key == "health:scheduler"), 30), (
            "the scheduler ticked: it got its lock"
        )
        db.close()
        # The worker lock: a second worker of the same database refuses to run.
        second = Proc(["worker"], env_file, tmp_path, env)
        try:
            assert second.wait(timeout=60) == 3
        finally:
            second.close()
        assert "另一个后台进程已在运行" in second.output()
        # The scheduler lock, held by the first worker, is refused to anyone else.
        resolved_url = db_url if not db_url.startswith("sqlite") else _resolved(db_url)
        assert probe_scheduler_lock(env, data_dir, resolved_url, tmp_path) == "no fcntl refused"
        first.request_stop()
        assert first.wait(timeout=30) == 0, first.output()
    finally:
        first.close()
    assert "Traceback" not in first.output(), first.output()
    assert probe_scheduler_lock(env, data_dir, _resolved(db_url), tmp_path) == "no fcntl got"


def _resolved(db_url: str) -> str:
    """The URL as the worker's config resolves it (the scheduler lock is per database URL)."""
    from bot.config import Config

    return Config.from_mapping({"DATABASE_URL": db_url}).database_url


# ---------------------------------------------------------------- POSIX-only calls


PRODUCT = [ROOT / "run.py", *sorted((ROOT / "bot").rglob("*.py"))]
PRODUCT += sorted((ROOT / "models").rglob("*.py")) + sorted((ROOT / "reminders").rglob("*.py"))

POSIX_MODULES = {"fcntl", "pwd", "grp", "resource", "termios", "tty", "pty", "posix", "syslog"}
POSIX_ATTRIBUTES = {
    "os": {
        "getppid", "fork", "forkpty", "setsid", "setpgrp", "getpgid", "killpg", "getuid",
        "geteuid", "getgid", "getegid", "setuid", "setgid", "chown", "lchown", "nice", "wait",
        "waitpid", "wait3", "wait4", "mkfifo", "statvfs", "sync", "getloadavg", "pipe2",
    },
    "signal": {
        "SIGKILL", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD", "SIGPIPE", "SIGQUIT",
        "SIGSTOP", "SIGCONT", "pause", "alarm", "setitimer", "siginterrupt", "pthread_kill",
    },
}  # fmt: skip


def posix_calls(source: str, name: str) -> list[str]:
    """Imports of POSIX-only modules and uses of POSIX-only names of os and signal."""
    found = []
    for node in ast.walk(ast.parse(source, filename=name)):
        where = f"{name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where} import {a.name}" for a in node.names
                      if a.name.split(".")[0] in POSIX_MODULES]  # fmt: skip
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in POSIX_MODULES:
                found.append(f"{where} from {node.module}")
            for alias in node.names:
                if alias.name in POSIX_ATTRIBUTES.get(node.module, ()):
                    found.append(f"{where} from {node.module} import {alias.name}")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.attr in POSIX_ATTRIBUTES.get(node.value.id, ())
        ):
            found.append(f"{where} {node.value.id}.{node.attr}")
    return found


def test_no_posix_only_call_in_product_code():
    found = []
    for path in PRODUCT:
        found += posix_calls(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert found == [], "POSIX-only (no Windows): " + ", ".join(found)


def test_the_scan_finds_what_this_change_removed():
    sample = (
        "import fcntl\nimport os, signal\nfrom signal import SIGHUP\n"
        "parent = os.getppid()\nsignal.signal(signal.SIGKILL, None)\n"
    )
    assert sorted(posix_calls(sample, "x.py")) == [
        "x.py:1 import fcntl",
        "x.py:3 from signal import SIGHUP",
        "x.py:4 os.getppid",
        "x.py:5 signal.SIGKILL",
    ]
