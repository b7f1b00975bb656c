"""Owner-only files and folders: the SQLite database (it holds the live WeCom access token),
DATA_DIR, the evidence and export stores.

POSIX: files 0600, folders 0700; what exists from before is tightened (bits are only ever taken
away). Windows: nothing is changed. Mode bits mean nothing there (`os.chmod` only sets the
read-only flag); files inherit the ACL of their folder, which under the user's profile grants
only that user, SYSTEM and Administrators. The README gives the `icacls` command for a folder
elsewhere.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

POSIX = os.name == "posix"
FILE_MODE = 0o600
DIR_MODE = 0o700
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """`path` owner-only on POSIX; made if missing, and so is every missing folder above it
    (a folder we create is ours; one that existed is left as it is)."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.is_dir()]
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
    tighten(path)
    return path


def private_file(path: Path) -> Path:
    """`path` created empty (owner-only from its first moment) if missing, else tightened."""
    path = Path(path)
    if POSIX:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)  # never truncates
        os.close(fd)
    tighten(path)
    return path


def private_sqlite(path: Path) -> None:
    """The database file owner-only before SQLite opens it: SQLite creates its -wal and -shm
    files with the database file's mode, so they follow. Side files from before are tightened."""
    path = Path(path)
    if not path.parent.is_dir():
        private_dir(path.parent)  # a folder we create is ours; one that exists is left alone
    private_file(path)
    for suffix in SQLITE_SIDE_FILES:
        tighten(path.with_name(path.name + suffix))


def private_tree(root: Path) -> None:
    """`root` and everything under it owner-only (what earlier versions created 0755/0644)."""
    root = Path(root)
    if not POSIX or not root.is_dir():
        return
    tighten(root)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            tighten(Path(folder, name))
        for name in files:
            tighten(Path(folder, name))


def tighten(path: Path) -> None:
    """Take the group's and others' bits away (POSIX): 0700 for a folder, 0600 for a file.
    Symbolic links are not followed; a folder with the sticky bit (/tmp, shared by everyone)
    is never changed; a path we may not change is logged, not fatal."""
    if not POSIX:
        return
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        return
    if stat.S_ISDIR(info.st_mode):
        if info.st_mode & stat.S_ISVTX:
            log.warning(
                "%s is shared by everyone (sticky bit): its permissions are left as is", path
            )
            return
        wanted = DIR_MODE
    else:
        wanted = FILE_MODE
    mode = stat.S_IMODE(info.st_mode)
    if mode & ~wanted:
        try:
            os.chmod(path, mode & wanted)
        except PermissionError:
            log.warning("cannot make %s readable by its owner only (not ours?)", path)
