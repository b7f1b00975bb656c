"""The layers of docs/layers.md, read from the source: every import statement, at the top of a
file or inside a function, under TYPE_CHECKING or not. Nothing is skipped."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "reminders", "bot")  # bottom to top: each may import only those before it
# reminders' pure rules: no data, no chat, no rounds; only each other and the standard library
# (plus the calendar package and the chart's drawing library).
PURE = ("words", "calendar", "ladder", "scoring", "rules", "recurrence", "chart", "ports")
PURE_MAY_USE = {"chinese_calendar", "PIL"}
# Only these modules may talk HTTP to the outside themselves; the rest go through them.
HTTP_MODULES = {"bot.http"}
# The composition root (with run.py): it reads the environment, opens sockets, starts threads,
# and nothing else in the project imports it.
ROOT_PACKAGE = "bot.runtime"
# bot/http.py reads the test suite's strict switch (DUBAN_STRICT_LAYERS), and nothing else.
READS_ENVIRONMENT = {"bot.http"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file; relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def http_calls(path: Path) -> list[int]:
    """Lines that call requests' functions or make a Session directly."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("requests", "httpx", "urllib3")
            and node.func.attr
            in ("get", "post", "put", "delete", "request", "head", "Session", "PoolManager")
        ):
            lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module in ("urllib.request", "http.client"):
            lines.append(node.lineno)
    return lines


def process_calls(path: Path) -> list[tuple[int, str]]:
    """(line, what) for each read of the environment, new thread and new socket in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            what = f"{node.value.id}.{node.attr}"
            if what in (
                "os.environ",
                "os.getenv",
                "os.putenv",
                "threading.Thread",
                "socket.socket",
            ):
                found.append((node.lineno, what))
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "threading", "socket"):
            for alias in node.names:
                if alias.name in ("environ", "getenv", "Thread", "socket"):
                    found.append((node.lineno, f"{node.module}.{alias.name}"))
    return found


def in_root(name: str) -> bool:
    return name == ROOT_PACKAGE or name.startswith(ROOT_PACKAGE + ".")


def violations(root: Path) -> list[str]:
    found = []
    for rank, package in enumerate(PACKAGES):
        allowed = set(PACKAGES[: rank + 1])
        for path in sorted((root / package).rglob("*.py")):
            name = module_name(path, root)
            pure = package == "reminders" and name.split(".")[-1] in PURE
            if not in_root(name):
                for line, what in process_calls(path):
                    if not (what.startswith("os.") and name in READS_ENVIRONMENT):
                        found.append(
                            f"{path.relative_to(root)}:{line} uses {what}: only the composition "
                            f"root ({ROOT_PACKAGE}) reads the environment, starts threads and "
                            "opens sockets"
                        )
            for line, target in imports_of(path, root):
                top = target.split(".")[0]
                where = f"{path.relative_to(root)}:{line} imports {target}"
                if in_root(target) and not in_root(name):
                    found.append(f"{where}: nothing imports the composition root")
                if top in PACKAGES and top not in allowed:
                    found.append(f"{where}: {package} sits below {top}")
                parts = target.split(".")
                if (
                    pure
                    and top in PACKAGES
                    and not (top == "reminders" and (len(parts) == 1 or parts[1] in PURE))
                ):
                    found.append(f"{where}: a pure rule imports only pure rules")
                if pure and top in {"peewee", "requests", "wechatpy", "apscheduler", "jinja2"}:
                    found.append(f"{where}: a pure rule knows no data, chat or clock jobs")
                if package == "reminders" and top in {"requests", "wechatpy", "flask"}:
                    found.append(f"{where}: reminders/ sends nothing itself")
            if name not in HTTP_MODULES:
                for line in http_calls(path):
                    found.append(
                        f"{path.relative_to(root)}:{line}: an outside HTTP call not through "
                        "bot.http.OutsideTransactions"
                    )
    return found


def test_the_source_keeps_its_layers():
    assert violations(ROOT) == []


def root_cycles(root: Path) -> list[list[str]]:
    """Import cycles among the composition root's modules (nothing outside imports them, so a
    cycle through one of them lies within the package)."""
    folder = root / Path(*ROOT_PACKAGE.split("."))
    modules = {module_name(p, root): p for p in folder.rglob("*.py")}
    graph = {
        name: {t for _, t in imports_of(path, root) if t in modules and t != name}
        for name, path in modules.items()
    }
    cycles, done = [], set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycles.append([*trail[trail.index(name) :], name])
            return
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    return cycles


def test_the_composition_root_has_no_import_cycle():
    assert root_cycles(ROOT) == []
    names = {module_name(p, ROOT) for p in (ROOT / "bot" / "runtime").rglob("*.py")}
    assert {"bot.runtime.cli", "bot.runtime.processes", "bot.runtime.worker"} <= names


def test_run_py_only_starts_the_command_line():
    """run.py is the entry point and nothing more: the composition root is bot/runtime/."""
    targets = {t for _, t in imports_of(ROOT / "run.py", ROOT)}
    assert {t.split(".")[0] for t in targets} <= {"sys", "bot"}
    assert {t for t in targets if t.startswith("bot")} == {
        "bot.runtime.cli",
        "bot.runtime.cli.entry",
    }


def test_every_package_is_scanned():
    """The scan sees the files it should: a checker that reads nothing would pass anything."""
    names = {module_name(p, ROOT) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    assert {"reminders.scheduler", "reminders.jobs", "bot.services", "models.db"} <= names
    scheduler = {target for _, target in imports_of(ROOT / "reminders/scheduler.py", ROOT)}
    assert "reminders.ports.SchedulerDeps" in scheduler and "apscheduler" in {
        t.split(".")[0] for t in scheduler
    }


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").touch()
    return tmp_path


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"reminders/jobs.py": "from bot.outbox import Outbox\n"}, "reminders sits below bot"),
        ({"models/db.py": "def f():\n    import reminders.ladder\n"}, "models sits below"),
        (
            {
                "reminders/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from bot import services\n"
            },
            "reminders sits below bot",
        ),
        ({"reminders/ladder.py": "from models.plan import Item\n"}, "a pure rule imports only"),
        ({"reminders/ladder.py": "from reminders.jobs import x\n"}, "a pure rule imports only"),
        ({"reminders/scoring.py": "import peewee\n"}, "a pure rule knows no data"),
        ({"reminders/digest.py": "import requests\n"}, "reminders/ sends nothing"),
        ({"bot/selfcheck.py": "import requests\nrequests.get('http://x', timeout=1)\n"}, "HTTP"),
        ({"bot/x.py": "from . import y\nfrom ..reminders import jobs\n"}, None),
        ({"bot/web.py": "from bot.runtime import wake\n"}, "nothing imports the composition root"),
        ({"models/db.py": "import os\nos.environ.get('X')\n"}, "only the composition root"),
        ({"bot/x.py": "import threading\nthreading.Thread(target=f)\n"}, "only the composition"),
        ({"reminders/x.py": "from socket import socket\n"}, "only the composition root"),
        ({"bot/runtime/cli.py": "import os\nimport threading\nos.environ['A']\n"}, None),
        ({"reminders/jobs.py": "from .ladder import Due\nfrom ..bot import cards\n"}, "below bot"),
    ],
)
def test_the_checker_catches_each_kind_of_break(tmp_path, files, expected):
    (tmp_path / "bot" / "runtime").mkdir(parents=True, exist_ok=True)
    found = violations(_tree(tmp_path, files))
    if expected is None:
        assert found == []
    else:
        assert len(found) >= 1 and all(expected in line for line in found), found


def test_the_cycle_check_finds_a_cycle(tmp_path):
    _tree(tmp_path, {"bot/runtime/__init__.py": "", "bot/runtime/a.py": "from bot.runtime import b\n",
                     "bot/runtime/b.py": "from bot.runtime.a import x\n"})  # fmt: skip
    assert root_cycles(tmp_path) == [["bot.runtime.a", "bot.runtime.b", "bot.runtime.a"]]
