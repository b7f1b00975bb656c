#!/usr/bin/env python3
"""Build the offline bundle: the bot with its own Python, for servers without Python 3.11.

    python deploy/bundle/build.py [--dist 文件夹]

Run it with the Python 3.11 of a virtual environment that holds requirements.txt and
requirements-bundle.txt, on the kind of machine the bundle is for (PyInstaller does not
cross-build): Linux x86_64 here or in CI, Windows x64 on Windows, ARM (鲲鹏, 飞腾) on an ARM
server. It writes DIST/dubanbot/ (the program `dubanbot`, or `dubanbot.exe`, and its
`_internal` folder) and, with --zip, DIST/dubanbot-<system>-<machine>.zip of that folder.
See README "没有 Python 3.11 的服务器".
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

try:
    import PyInstaller.__main__ as pyinstaller
except ImportError:  # said in main(), in Chinese
    pyinstaller = None

ROOT = Path(__file__).resolve().parents[2]
NAME = "dubanbot"
# What the program reads from disk beside its code: (source in the checkout, folder in the bundle).
DATA = (
    ("templates", "templates"),  # every message's words (bot/render.py)
    ("models/plans", "models/plans"),  # the plan's TOML (models/loader.py)
    ("bot/board/static", "bot/board/static"),  # the board's stylesheet
)
# Installed packages whose data files must come along: zoneinfo's time zones (Windows has
# none of its own).
COLLECT_DATA = ("tzdata",)
# Packages taken whole: ours (bot/commands/ imports its command modules by name, which
# PyInstaller cannot see), and the holiday calendar, whose data are modules of its own.
COLLECT_SUBMODULES = ("bot", "models", "reminders", "chinese_calendar")
# Beside the program, for the user to copy and edit.
BESIDE = ("config.example.env", "README.md")


def pyinstaller_args(dist: Path, work: Path) -> list[str]:
    args = [
        str(ROOT / "run.py"),
        "--name",
        NAME,
        "--onedir",  # one folder: starts fast, nothing unpacked to a temporary folder
        "--console",
        "--noconfirm",
        "--clean",
        "--distpath",
        str(dist),
        "--workpath",
        str(work / "build"),
        "--specpath",
        str(work),
        "--paths",
        str(ROOT),
    ]
    for source, target in DATA:
        args += ["--add-data", f"{ROOT / source}{os.pathsep}{target}"]
    for package in COLLECT_DATA:
        args += ["--collect-data", package]
    for package in COLLECT_SUBMODULES:
        args += ["--collect-submodules", package]
    return args


def main() -> int:
    parser = argparse.ArgumentParser(description="构建离线安装包（PyInstaller 单文件夹模式）")
    parser.add_argument("--dist", default=str(ROOT / "dist"), help="输出文件夹（默认 dist/）")
    parser.add_argument("--zip", action="store_true", help="再把离线包打成一个 zip，便于拷贝")
    args = parser.parse_args()
    if pyinstaller is None:
        sys.exit("没有安装 PyInstaller：请先运行 pip install -r requirements-bundle.txt")
    # PyInstaller lists a package's modules in a Python of its own, given this one's path.
    sys.path.insert(0, str(ROOT))
    dist = Path(args.dist).resolve()
    with tempfile.TemporaryDirectory(prefix="dubanbot-build-") as work:
        pyinstaller.run(pyinstaller_args(dist, Path(work)))
    folder = dist / NAME
    for name in BESIDE:
        shutil.copy2(ROOT / name, folder / name)
    program = folder / (f"{NAME}.exe" if sys.platform == "win32" else NAME)
    print(f"离线包：{folder}（程序 {program}）")
    if args.zip:
        system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
        machine = platform.machine().lower() or "unknown"
        archive = shutil.make_archive(str(dist / f"{NAME}-{system}-{machine}"), "zip", dist, NAME)
        print(f"压缩包：{archive}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
