"""bot/memory.py: glibc's arena limit and malloc_trim where the C library is glibc, nothing
elsewhere; the startup freeze keeps later collections off what the imports made."""

from __future__ import annotations

import gc
import platform
import sys
import weakref

import pytest

from bot import memory


class Node:
    itself: object = None


GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_on_glibc_both_calls_are_found_and_the_arena_limit_is_taken():
    assert memory._LIBC is not None
    assert memory._LIBC.mallopt(memory._M_ARENA_MAX, memory.ARENAS) == 1  # 1: accepted
    memory.limit_arenas()
    memory.give_back()


def test_without_glibc_nothing_is_called(monkeypatch):
    monkeypatch.setattr(memory, "_LIBC", None)
    memory.limit_arenas()
    memory.give_back()
    monkeypatch.setattr(sys, "platform", "win32")
    assert memory._glibc() is None


def test_settle_startup_freezes_what_exists_and_give_back_collects_the_rest():
    try:
        memory.settle_startup()
        assert gc.get_freeze_count() > 0
        node = Node()
        node.itself = node  # a cycle: only a collection frees it
        gone = weakref.ref(node)
        del node
        memory.give_back()
        assert gone() is None
    finally:
        gc.unfreeze()
