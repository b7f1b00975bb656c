"""Template-card task ids: unique for the app's whole life, as WeCom requires (42014 otherwise).

WeCom remembers every task_id an app ever used, across our database resets, migrations and
restores, so an id built only from our own row ids repeats. Each id is a readable prefix and a
random tail; WeCom allows letters, digits, `_`, `-` and `@`, at most 128 bytes.
"""

from __future__ import annotations

import re
import secrets

MAX_BYTES = 128
_UNSAFE = re.compile(r"[^A-Za-z0-9_@-]")  # ASCII only: one character is one byte
_RANDOM_TAIL = re.compile(r"-[0-9a-f]{16}$")
_TAIL_BYTES = 17  # "-" and 16 hex digits (64 random bits)


def new_task_id(*parts) -> str:
    """'nudge', 12, 3 -> 'nudge-12-3-<16 random hex digits>'."""
    readable = _UNSAFE.sub("_", "-".join(str(p) for p in parts))[: MAX_BYTES - _TAIL_BYTES]
    tail = secrets.token_hex(8)
    return f"{readable}-{tail}" if readable else tail


def renewed_task_id(task_id: str) -> str:
    """Another id with the same readable prefix, for a card WeCom refused as already used."""
    return new_task_id(_RANDOM_TAIL.sub("", task_id))
