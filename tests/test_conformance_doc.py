"""docs/wecom-conformance.md names the test that holds each WeCom rule: every test it names
exists (a renamed or deleted test fails here, not silently in the doc)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "wecom-conformance.md"


def test_every_test_the_conformance_doc_names_exists():
    text = DOC.read_text(encoding="utf-8")
    named: list[tuple[str, str]] = []
    for cell in re.findall(r"`([^`]+)`", text):
        match = re.fullmatch(r"([\w/]+\.py)(?:::(\w+))?", cell)
        if match and (match.group(1).startswith(("wecom/", "board/", "reminders/", "fakes_"))
                      or match.group(1).startswith("test_")):  # fmt: skip
            named.append((match.group(1), match.group(2) or ""))
    # "::test_x" right after a `file::test` cell names another test of the same file
    last = ""
    for cell in re.findall(r"`((?:[\w/]+\.py)?::\w+)`", text):
        file, _, name = cell.partition("::")
        last = file or last
        named.append((last, name))
    assert len(named) > 40
    missing = []
    for file, name in named:
        path = ROOT / "tests" / file
        if not path.is_file():
            missing.append(file)
        elif name and not re.search(rf"^def {name}\(", path.read_text(encoding="utf-8"), re.M):
            missing.append(f"{file}::{name}")
    assert missing == []
