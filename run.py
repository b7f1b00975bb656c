#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""The entry point: checks the Python version, then hands the command line to bot/runtime/cli.py.

    python3 run.py            serve: HTTP here, the worker as a supervised child process
    python3 run.py web        HTTP only; `run.py worker` runs apart (two systemd units / services)
    python3 run.py worker     the background worker (messages, the outbox, files, the scheduler)
    python3 run.py demo       serve a separate demo database with sample people and deadlines
    python3 run.py init       create the database and load (or update) the built-in plan
    python3 run.py say USERID TEXT…   one message through the pipeline; prints the reply
    python3 run.py backup / restore ARCHIVE   the database and the files, in one zip (SQLite)

`python3 run.py --help` lists every command (in Chinese, as users read it). The composition root
(what reads the environment, opens sockets, starts threads and processes) is bot/runtime/.

This file is read by whatever Python the user has (麒麟 and 统信 UOS ship 3.7 to 3.10, old
CentOS 2.7): until the check below has passed it uses nothing newer than Python 2.7 can parse
and run (no f-strings, no `from __future__ import annotations`), hence the coding line.
"""

import sys

if sys.version_info < (3, 11):
    sys.stderr.write(
        "督办机器人需要 Python 3.11 或更高版本，现在运行它的是 Python %d.%d（%s）。\n"
        "办法一：用离线安装包，服务器上不需要装 Python（见 README“没有 Python 3.11 的服务器”）；\n"
        "办法二：安装 Python 3.11 或更高版本，用它建虚拟环境再安装：\n"
        "  python3.11 -m venv .venv && .venv/bin/pip install -r requirements.txt"
        " && .venv/bin/python run.py demo\n"
        "  （Windows：py -3.11 -m venv .venv，然后用 .venv\\Scripts\\python 运行）\n"
        % (sys.version_info[0], sys.version_info[1], sys.executable or "python")
    )
    sys.exit(2)

from bot.runtime.cli import entry  # only once the version is known to do

if __name__ == "__main__":
    sys.exit(entry())
