"""Migration 9 (the leaders' board) carries stored weekly snapshots forward: each gets its score
section in the new column, so the board's trend shows the weeks published before it existed."""

from models.migrations import migrate


def test_snapshots_stored_before_the_board_get_their_score_column(empty_db):
    from models.schedule import DigestSnapshot

    migrate(empty_db, upto=7)
    empty_db.execute_sql(
        "INSERT INTO digest_snapshot (week, data, markdown, created_at, published_by) VALUES "
        '(\'2026-W45\', \'{"score": {"total": "61.5", "passed": false}, "items": {}}\', '
        "'周报', '2026-11-02 01:00:00', 'schedule')"
    )
    empty_db.execute_sql(
        "INSERT INTO digest_snapshot (week, data, markdown, created_at, published_by) VALUES "
        "('2026-W46', '{\"items\": {}}', '周报', '2026-11-09 01:00:00', 'schedule')"
    )
    assert "v0009_board_access" in migrate(empty_db)
    scores = {s.week: s.score for s in DigestSnapshot.select().order_by(DigestSnapshot.week)}
    assert scores == {"2026-W45": {"total": "61.5", "passed": False}, "2026-W46": None}
    assert DigestSnapshot.get(DigestSnapshot.week == "2026-W45").data["items"] == {}
