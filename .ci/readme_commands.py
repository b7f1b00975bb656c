#!/usr/bin/env python3
"""Run the README's quick start exactly as written (the two Linux lines under "快速开始"), as
CI does on a clean clone:

    python3 .ci/readme_commands.py demo    line 1: install and start the demo; once /healthz
                                           answers and the worker runs, stop it
    python3 .ci/readme_commands.py tests   line 2: install the test tools and run the tests

The lines are read from README.md, not copied here, so CI runs what the README says. The demo
gets HTTP_PORT=0 in its environment (a free port), its command stays the README's."""

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
DEMO_SECONDS = 600  # the install comes first


def quick_start(readme: str) -> list[str]:
    """The commands of the first code block under "## 快速开始" (the Linux one)."""
    section = readme.split("\n## 快速开始", 1)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1]
    return [line.strip() for line in block.splitlines() if line.strip()]


def run_tests(command: str) -> int:
    print(f"$ {command}", flush=True)
    return subprocess.run(["bash", "-c", command], cwd=ROOT).returncode


def healthz(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.loads(answer.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None


def run_demo(command: str) -> int:
    print(f"$ {command}", flush=True)
    demo = subprocess.Popen(
        ["bash", "-c", command], cwd=ROOT, env={**os.environ, "HTTP_PORT": "0"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
        start_new_session=True,  # its own process group: the stop reaches bash, run.py, worker
    )  # fmt: skip
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in demo.stdout:
            print(line, end="", flush=True)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + DEMO_SECONDS
    try:
        url = None
        while url is None:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            if line.startswith("服务已启动："):
                url = line.split("：", 1)[1].strip()
        if url is None:
            print("the demo did not start", file=sys.stderr)
            return 1
        while time.monotonic() < deadline:
            body = healthz(url)
            if body and body.get("status") == "ok" and body["worker"]["status"] == "ok":
                print(f"demo answers at {url}, its worker runs", flush=True)
                return 0
            time.sleep(0.5)
        print(f"/healthz never said the worker runs: {healthz(url)}", file=sys.stderr)
        return 1
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGTERM)
            try:
                demo.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait(timeout=10)


def main() -> int:
    demo, tests = quick_start((ROOT / "README.md").read_text(encoding="utf-8"))
    if sys.argv[1:] == ["demo"]:
        return run_demo(demo)
    if sys.argv[1:] == ["tests"]:
        return run_tests(tests)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
