"""The offline bundle's recipe (deploy/bundle/build.py) carries every file the program reads
from disk beside its code, where the code looks for it; CI builds and starts the bundle."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from bot import render
from bot.web import board as board_web
from models import loader

ROOT = Path(__file__).resolve().parent.parent


def load_build():
    spec = importlib.util.spec_from_file_location("bundle_build", ROOT / "deploy/bundle/build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_data_folder_the_code_reads_is_in_the_bundle():
    build = load_build()
    carried = {target for _, target in build.DATA}
    for folder in (render.TEMPLATE_DIR, loader.PLAN_FILE.parent, board_web.STATIC):
        assert folder.relative_to(ROOT).as_posix() in carried, folder
    for source, target in build.DATA:
        assert (ROOT / source).is_dir() and source == target, "same place as in the checkout"
    assert {"bot", "models", "reminders"} <= set(build.COLLECT_SUBMODULES)


def test_the_builder_is_pinned():
    lines = (ROOT / "requirements-bundle.txt").read_text(encoding="utf-8").splitlines()
    assert "-r requirements.txt" in lines
    assert any(line.startswith("pyinstaller==") for line in lines)
