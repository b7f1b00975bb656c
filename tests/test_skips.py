"""The closing line of a test run that skipped tests: the groups, and what to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from skips import closing_line

ROOT = Path(__file__).resolve().parent.parent


def test_nothing_skipped_says_nothing():
    assert closing_line([]) is None


def test_each_group_is_named_with_the_command_that_installs_it():
    line = closing_line(
        [
            "Chromium not found (apt install chromium)",
            "Playwright is not installed",
            "no CJK font (apt fonts-wqy-microhei)",
            "PostgreSQL advisory lock: set TEST_DATABASE_URL",
            "glibc only",
        ]
    )
    assert line.startswith(
        "跳过了 5 项测试（浏览器 2 项、中文字体 1 项、PostgreSQL 1 项、其他 1 项）"
    )
    assert "sudo apt install chromium fonts-wqy-microhei" in line
    assert "TEST_DATABASE_URL=" in line and "pytest -rs" in line
    assert "\n" not in line, "one line"


def test_a_run_that_skips_ends_with_the_line(tmp_path):
    """Through pytest itself, with the suite's conftest: a skipped test shows in the last line."""
    (tmp_path / "test_skipping.py").write_text(
        "import pytest\n\ndef test_needs_a_browser():\n    pytest.skip('Chromium not found')\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "-q",
         "--rootdir", str(tmp_path), "--confcutdir", str(ROOT / "tests"),
         "-c", str(ROOT / "pyproject.toml"), str(tmp_path / "test_skipping.py"),
         "-p", "conftest"],
        cwd=ROOT / "tests",
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert any(line.startswith("跳过了 1 项测试（浏览器 1 项）") for line in lines), done.stdout
