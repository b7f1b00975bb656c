"""The layers of docs/layers.md, read from the source: every import statement, at the top of a
file or inside a function, under TYPE_CHECKING or not. Nothing is skipped. The same imports
must form no cycle between the project's modules."""

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
# The import cycles that still exist, as the imports (importer, imported) that close them. None
# is left: the command modules and the importer go through bot/actions and reminders/state. An
# entry whose import is gone fails the test, so the list can only shrink.
ALLOWED_CYCLE_EDGES: set[tuple[str, str]] = set()
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


def import_graph(root: Path) -> dict[str, dict[str, list[int]]]:
    """module -> {project module it imports: [lines]}, from every import statement.

    `import a.b.c` (or `from a.b.c import x`) imports a.b.c and runs the packages a and a.b
    first: those count as imported too, except the packages the importing module is itself
    inside (they are running already; `from bot.web import board` in bot/web/app.py is a
    sibling import, not a cycle). A name that is not a module counts as its module."""
    modules = {
        module_name(path, root): path
        for package in PACKAGES
        for path in (root / package).rglob("*.py")
    }
    graph: dict[str, dict[str, list[int]]] = {name: {} for name in modules}
    for name, path in modules.items():
        inside = _packages_of(name)
        for line, target in imports_of(path, root):
            parts = target.split(".")
            found = next(
                (
                    ".".join(parts[:n])
                    for n in range(len(parts), 0, -1)
                    if ".".join(parts[:n]) in modules
                ),
                None,
            )
            if found is None:
                continue
            for imported in (found, *_packages_of(found)):
                if imported != name and imported not in inside and imported in modules:
                    graph[name].setdefault(imported, []).append(line)
    return graph


def _packages_of(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts))]


def import_cycles(
    graph: dict[str, dict[str, list[int]]], allowed: set[tuple[str, str]] = frozenset()
) -> list[str]:
    """Each group of modules that import each other round (a strongly connected component),
    once the `allowed` imports are left out, with the imports that join them."""
    edges = {a: {b for b in targets if (a, b) not in allowed} for a, targets in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(start: str) -> None:  # Tarjan's algorithm, without recursion
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, rest = work[-1]
            step = next(rest, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(edges[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    found = []
    for group in sorted(groups):
        joins = [
            f"{a} -> {b} (line {', '.join(map(str, sorted(set(graph[a][b]))))})"
            for a in group
            for b in sorted(edges[a])
            if b in group
        ]
        found.append(" ⇄ ".join(group) + ": " + "; ".join(joins))
    return found


def test_no_import_cycle_between_project_modules():
    assert import_cycles(import_graph(ROOT), ALLOWED_CYCLE_EDGES) == []


def test_every_allowed_cycle_import_still_exists():
    """When the actions layer removes one of these imports, its entry goes too."""
    graph = import_graph(ROOT)
    gone = sorted((a, b) for a, b in ALLOWED_CYCLE_EDGES if b not in graph.get(a, {}))
    assert gone == [], "delete these from ALLOWED_CYCLE_EDGES"


def test_the_source_keeps_its_layers():
    assert violations(ROOT) == []


def test_the_composition_root_is_split_as_documented():
    """(Its modules have no import cycle: test_no_import_cycle_between_project_modules.)"""
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


@pytest.mark.parametrize(
    "files, expected",
    [
        # at the top of both files
        ({"bot/a.py": "import bot.b\n", "bot/b.py": "from bot.a import x\n"}, ["bot.a ⇄ bot.b"]),
        # one side inside a function: still a cycle
        (
            {"bot/a.py": "import bot.b\n", "bot/b.py": "def f():\n    from bot import a\n"},
            ["bot.a ⇄ bot.b"],
        ),
        # under TYPE_CHECKING: still a cycle
        (
            {
                "bot/a.py": "from bot.b import B\n",
                "bot/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from bot.a import A\n",
            },
            ["bot.a ⇄ bot.b"],
        ),
        # through a package's __init__ (importing bot.web.doors runs bot/web/__init__.py)
        (
            {
                "bot/web/__init__.py": "from bot.web.app import create_app\n",
                "bot/web/app.py": "from bot.board.routes import board\n",
                "bot/web/doors.py": "",
                "bot/board/__init__.py": "",
                "bot/board/routes.py": "from bot.web.doors import same_origin\n",
            },
            ["bot.board.routes ⇄ bot.web ⇄ bot.web.app"],
        ),
        # a package's modules importing each other through it: no cycle
        (
            {
                "bot/web/__init__.py": "from bot.web.app import create_app\n",
                "bot/web/app.py": "from bot.web import doors\n",
                "bot/web/doors.py": "from bot.web.deps import deps\n",
                "bot/web/deps.py": "",
            },
            [],
        ),
        # one way only
        ({"bot/a.py": "import bot.b\n", "bot/b.py": "import models.db\n"}, []),
    ],
    ids=["top", "in-function", "type-checking", "package-init", "siblings", "acyclic"],
)
def test_the_cycle_checker_catches_each_kind_of_cycle(tmp_path, files, expected):
    found = import_cycles(import_graph(_tree(tmp_path, files)))
    assert [line.split(":")[0] for line in found] == expected, found


def test_an_allowed_import_breaks_its_cycle_and_no_other(tmp_path):
    root = _tree(
        tmp_path,
        {
            "bot/a.py": "import bot.b\n",
            "bot/b.py": "def f():\n    import bot.a\n",
            "bot/c.py": "import bot.a\n",
        },
    )
    assert import_cycles(import_graph(root), {("bot.b", "bot.a")}) == []
    (root / "bot/a.py").write_text("import bot.b\nimport bot.c\n", encoding="utf-8")
    assert [
        line.split(":")[0] for line in import_cycles(import_graph(root), {("bot.b", "bot.a")})
    ] == ["bot.a ⇄ bot.c"]


# ---------------------------------------------------------------- one home for every change

WRITING_CALLS = {"execute", "create", "get_or_create", "delete_instance", "insert_many", "audit"}


def writes_in(path: Path) -> list[str]:
    """Calls in a module that write the database themselves (a query run with .execute(), a
    row created or deleted, an audit entry recorded) rather than through bot/actions."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in WRITING_CALLS
        ):
            found.append(f"{path.name}:{node.lineno} .{node.func.attr}()")
    return found


def test_chat_command_modules_write_no_table_themselves():
    """Chat commands parse and call bot/actions; views read reminders/state (issue 19)."""
    commands = sorted((ROOT / "bot" / "commands").glob("*.py"))
    assert commands
    assert [w for path in commands for w in writes_in(path)] == []


def test_the_write_check_sees_a_write(tmp_path):
    module = tmp_path / "member.py"
    module.write_text("def f(ctx):\n    Assignment.update(progress=1).execute()\n")
    assert writes_in(module) == ["member.py:2 .execute()"]
    module.write_text("def f(ctx):\n    ctx.audit('x', 'y')\n")
    assert writes_in(module) == ["member.py:2 .audit()"]
