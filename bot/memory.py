"""Giving memory back: a long-running process on glibc (every Linux the county uses) otherwise
keeps the heap it once needed.

A reminder round over 10,000 assignments and a digest with its chart free what they allocated,
but glibc keeps the freed pages, and with one malloc arena per thread (the worker runs about ten)
they are scattered: the worker's resident set stayed 28 MB above its size at rest after one
round (bench/memory_bench.py). Two calls, both glibc's own, fix that: fewer arenas, and
`malloc_trim` after each scheduler tick. Elsewhere (Windows, macOS, musl) both do nothing; those
C libraries manage their heaps their own way.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import platform
import sys

log = logging.getLogger(__name__)

ARENAS = 2  # glibc's default is 8 per core
_M_ARENA_MAX = -8  # mallopt parameter (malloc.h)


def _glibc():
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 (both present, or neither is used)
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def limit_arenas() -> None:
    """At start, before the threads: at most ARENAS malloc arenas for the whole process."""
    if _LIBC is not None and not _LIBC.mallopt(_M_ARENA_MAX, ARENAS):
        log.debug("mallopt(M_ARENA_MAX) refused")


def settle_startup() -> None:
    """After start: what the imports made stays for the process's life, so the collections in
    give_back() need not look at it again (gc.freeze)."""
    gc.collect()
    gc.freeze()


def give_back() -> None:
    """A full collection (about 15 ms after a round over 10,000 assignments), then the free
    heap returned to the operating system (under a millisecond; ctypes lets go of the GIL)."""
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
