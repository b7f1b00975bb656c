"""run.py on a Python older than 3.11 (麒麟 V10, 统信 UOS and older CentOS ship 2.7 to 3.10):
it says in Chinese what to do, before anything that needs 3.11 is imported."""

from __future__ import annotations

import ast
import subprocess
import sys

from service_setup import ROOT, clean_env

RUN_PY = ROOT / "run.py"

# run.py as an old interpreter runs it: only the version reads older.
AS_PYTHON_3_8 = """
import runpy, sys
sys.version_info = (3, 8, 10, "final", 0)
sys.argv = ["run.py", "demo"]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    print("loaded:", sorted(m for m in sys.modules if m.split(".")[0] in ("bot", "models")))
"""


def test_an_old_python_is_told_what_to_do(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", AS_PYTHON_3_8],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert done.returncode == 2
    assert "需要 Python 3.11 或更高版本" in done.stderr and "Python 3.8" in done.stderr
    assert "离线安装包" in done.stderr and "python3.11 -m venv .venv" in done.stderr
    assert "Traceback" not in done.stderr
    assert "loaded: []" in done.stdout, "nothing of the bot was imported"


def test_run_py_parses_on_old_pythons_and_checks_first():
    """No syntax newer than Python 3.4 (f-strings, :=, `from __future__ import annotations`
    fail to compile on older versions before the check could run), the coding line Python 2
    needs for the Chinese text, and the check before the first import of the bot."""
    source = RUN_PY.read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 4))
    assert "# -*- coding: utf-8 -*-" in source.splitlines()[1]
    assert not [
        n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "__future__"
    ]
    statements = [n for n in tree.body if not isinstance(n, ast.Expr)]  # the docstring aside
    assert isinstance(statements[0], ast.Import) and statements[0].names[0].name == "sys"
    check = statements[1]
    assert isinstance(check, ast.If) and "version_info" in ast.unparse(check.test)
    assert isinstance(statements[2], ast.ImportFrom) and statements[2].module == "bot.runtime.cli"
