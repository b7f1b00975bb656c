"""The suite's closing line about what it skipped: each group of skipped tests, and the command
that installs what they need (printed by tests/conftest.py's pytest_terminal_summary)."""

from __future__ import annotations

import re

# (group, how a skip reason names it, the Debian package that brings what it needs or None).
GROUPS = (
    ("浏览器", re.compile(r"chromium|playwright|browser", re.I), "chromium"),
    ("中文字体", re.compile(r"cjk|font", re.I), "fonts-wqy-microhei"),
    ("systemd", re.compile(r"systemd", re.I), "systemd"),
    ("PostgreSQL", re.compile(r"postgres|TEST_DATABASE_URL", re.I), None),
)
OTHER = "其他"
POSTGRES_RUN = "TEST_DATABASE_URL=postgresql://用户@127.0.0.1:5432/库名 .venv/bin/python -m pytest"


def group_of(reason: str) -> str:
    for name, pattern, _ in GROUPS:
        if pattern.search(reason):
            return name
    return OTHER


def closing_line(reasons: list[str]) -> str | None:
    """One line: how many tests of each group were skipped, and how to run them; None when
    nothing was skipped."""
    if not reasons:
        return None
    counts: dict[str, int] = {}
    for reason in reasons:
        counts[group_of(reason)] = counts.get(group_of(reason), 0) + 1
    names = [name for name, _, _ in GROUPS if name in counts] + [n for n in (OTHER,) if n in counts]
    todo = []
    packages = [package for name, _, package in GROUPS if name in counts and package]
    if packages:
        todo.append("安装所需软件：sudo apt install " + " ".join(packages))
    if "PostgreSQL" in counts:
        todo.append("PostgreSQL 的测试：" + POSTGRES_RUN)
    if OTHER in counts:
        todo.append("其他原因：python3 -m pytest -rs")
    counted = "、".join(f"{name} {counts[name]} 项" for name in names)
    return f"跳过了 {len(reasons)} 项测试（{counted}）；" + "；".join(todo)


def skip_reason(report) -> str:
    """The reason of a skipped test's report (its longrepr is (path, line, "Skipped: …"))."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ")
