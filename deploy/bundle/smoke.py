#!/usr/bin/env python3
"""Start what build.py made, as a newcomer would on a server without Python: `init`,
`selfcheck`, then `demo` (the web process and, through the bundle's own program, its worker)
on a free port in a temporary folder, until /healthz says both are running; then stop it.

    python deploy/bundle/smoke.py dist/dubanbot/dubanbot

Exit 0 when all went as it should (run by .ci/run on Linux x86_64)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

START_SECONDS = 120


def fail(message: str, output: str = "") -> None:
    sys.exit(f"bundle smoke test: {message}\n{output}")


def healthz(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.loads(answer.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None


def main() -> int:
    program = Path(sys.argv[1]).resolve()
    if not program.is_file():
        fail(f"no program at {program}")
    # No settings of the machine running this, a free port (0: the system picks one).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "BOT_", "HTTP_"))}
    env.update(HTTP_PORT="0", BOT_ADMINS="boss", PYTHONUNBUFFERED="1")
    env.pop("DATABASE_URL", None)
    env.pop("DATA_DIR", None)
    with tempfile.TemporaryDirectory(prefix="dubanbot-smoke-") as folder:
        for args, allowed in ((["init"], {0}), (["selfcheck"], {0})):
            done = subprocess.run(
                [str(program), *args], cwd=folder, env=env, capture_output=True, text=True,
                encoding="utf-8", timeout=120,
            )  # fmt: skip
            if done.returncode not in allowed or "Traceback" in done.stderr:
                fail(f"{' '.join(args)} exited {done.returncode}", done.stdout + done.stderr)
            print(f"{' '.join(args)}: exit {done.returncode}")
        demo = subprocess.Popen(
            [str(program), "demo"], cwd=folder, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, encoding="utf-8",
        )  # fmt: skip
        lines: queue.Queue = queue.Queue()
        seen: list[str] = []

        def read() -> None:
            for line in demo.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        try:
            url = None
            deadline = time.monotonic() + START_SECONDS
            while url is None and time.monotonic() < deadline:
                try:
                    line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if line is None:
                    break
                seen.append(line)
                if line.startswith("服务已启动："):
                    url = line.split("：", 1)[1].strip()
            if url is None:
                fail("the demo did not start", "".join(seen))
            body = None
            while time.monotonic() < deadline:
                body = healthz(url)
                if body and body.get("status") == "ok" and body["worker"]["status"] == "ok":
                    break
                time.sleep(0.5)
            else:
                fail(f"/healthz never said the worker runs: {body}", "".join(seen))
            print(f"demo: {url} answers, worker pid {body['worker']['pid']}")
        finally:
            demo.terminate()
            try:
                demo.wait(timeout=30)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait(timeout=10)
        while not lines.empty():
            seen.append(lines.get() or "")
        if "Traceback" in "".join(seen):
            fail("a traceback in the demo's output", "".join(seen))
    print("bundle smoke test: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
