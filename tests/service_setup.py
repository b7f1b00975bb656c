"""`run.py web`, `run.py worker` and friends as separate processes, the way a service manager runs
them: an env file, no developer settings, a stop request as each operating system sends it."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTING_PREFIXES = ("WECOM_", "BOT_", "EVIDENCE_", "HTTP_", "SANDBOX", "LOG_", "BACKUP_", "HEALTH_")
WINDOWS = sys.platform == "win32"


def write_env(path: Path, settings: dict[str, str]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()), encoding="utf-8")
    return path


def clean_env(extra: dict | None = None) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DATA_DIR") and not k.startswith(SETTING_PREFIXES)
    }
    env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8", **(extra or {}))
    return env


class Proc:
    """A `run.py` process whose output is read all along (it never blocks on a full pipe)."""

    def __init__(self, args: list[str], env_file: Path, cwd: Path, env: dict | None = None):
        flags = subprocess.CREATE_NEW_PROCESS_GROUP if WINDOWS else 0  # for CTRL_BREAK_EVENT
        self.popen = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "--env-file", str(env_file), *args],
            cwd=cwd,
            env=env or clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            creationflags=flags,
        )
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for_line(self, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if needle in line:
                return line
        raise AssertionError(f"no line with {needle!r}; output so far:\n{self.output()}")

    def output(self) -> str:
        while not self.lines.empty():
            line = self.lines.get()
            if line is not None:
                self.seen.append(line)
        return "".join(self.seen)

    def request_stop(self) -> None:
        """What a service manager sends: SIGTERM (systemd); on Windows, Ctrl+Break to the
        process group (WinSW sends Ctrl+C, which Python cannot aim at one process)."""
        if WINDOWS:
            self.popen.send_signal(signal.CTRL_BREAK_EVENT)
        else:
            self.popen.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30) -> int:
        code = self.popen.wait(timeout=timeout)
        self.reader.join(timeout=5)
        return code

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)
        self.reader.join(timeout=5)


def get_json(url: str, timeout: float = 10) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def text_of(path: Path) -> str:
    """The file's text, or "" while it does not exist yet: a process writes its log file (and
    other files) some time after it starts, so a poll must not fail on the first look."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def poll(predicate, timeout: float, every: float = 0.1):
    """The first truthy value of predicate() within timeout seconds, else None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    return None


def wecom_env(tmp_path, db_url, fake, **extra) -> dict:
    """Settings for `run.py web` and `run.py worker` against the fake WeCom."""
    from wecom_setup import wecom_settings

    return {
        "DATABASE_URL": db_url,
        "DATA_DIR": str(tmp_path / "data"),
        "BOT_ADMINS": "boss",
        **wecom_settings(fake),
        "HTTP_PORT": "0",
        **extra,
    }
