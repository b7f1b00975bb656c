"""Card task ids: WeCom's character set and length, and unique even for the same parts."""

import re

from bot.cards import task_id_for
from bot.task_ids import renewed_task_id

ALLOWED = re.compile(r"[A-Za-z0-9_@-]{1,128}")


def test_the_same_parts_never_give_the_same_id_twice():
    ids = {task_id_for("nudge", 12, 3) for _ in range(1000)}  # e.g. after a database reset
    assert len(ids) == 1000
    assert all(re.fullmatch(r"nudge-12-3-[0-9a-f]{16}", i) for i in ids)


def test_ids_keep_to_wecoms_characters_and_128_bytes_with_their_random_tail():
    for parts in [("remind", "2026-11-26", 7, "ab12"), ("催办 T7", "a b/c"), ("x" * 300,), ()]:
        task_id = task_id_for(*parts)
        assert ALLOWED.fullmatch(task_id) and len(task_id.encode()) <= 128, task_id
        assert re.search(r"[0-9a-f]{16}$", task_id)
    assert task_id_for("催办 T7").startswith("___T7-")


def test_a_renewed_id_keeps_the_readable_part_and_changes_the_random_one():
    first = task_id_for("nudge", 12, 3)
    again = renewed_task_id(first)
    assert again != first and again.startswith("nudge-12-3-") and len(again) == len(first)
    old_style = "nudge-12-3"  # queued by a version without random tails
    assert re.fullmatch(r"nudge-12-3-[0-9a-f]{16}", renewed_task_id(old_style))
