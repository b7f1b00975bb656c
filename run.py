#!/usr/bin/env python3
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
"""

import sys

from bot.runtime.cli import entry

if __name__ == "__main__":
    sys.exit(entry())
