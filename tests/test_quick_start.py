"""The README's quick start: a virtual environment first, two commands that each work on a
fresh machine with only Python, and CI (.ci/readme_commands.py) reads and runs those very lines."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def load_runner():
    spec = importlib.util.spec_from_file_location(
        "readme_commands", ROOT / ".ci/readme_commands.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ci_runs_the_two_linux_lines_each_in_a_virtual_environment():
    demo, tests = load_runner().quick_start(README)
    for line in (demo, tests):
        assert line.startswith("python3 -m venv .venv && .venv/bin/pip install -r requirements")
    assert demo.endswith(".venv/bin/python run.py demo")
    assert tests.endswith("requirements-dev.txt && .venv/bin/python -m pytest")
    assert "apt install python3-venv" in README.split("## 快速开始", 1)[1].split("\n## ", 1)[0]


def test_windows_lines_say_the_same():
    section = README.split("## 快速开始", 1)[1].split("\n## ", 1)[0]
    windows = [line for line in section.split("```")[3].splitlines() if line.strip()]
    demo, tests = load_runner().quick_start(README)
    for linux, win in zip((demo, tests), windows, strict=True):
        translated = linux.replace("python3 -m venv", "py -3 -m venv").replace(
            ".venv/bin/", ".venv\\Scripts\\"
        )
        assert win == translated
