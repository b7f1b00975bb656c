"""A loop's connection is kept between passes, replaced when it has been idle too long, and dropped
after an error."""

import pytest

from models.db import database, warm_connection


def _conn():
    return database.connection()


def test_kept_between_passes_that_follow_each_other(db):
    with warm_connection():
        first = _conn()
    assert not database.is_closed(), "kept open for the next pass"
    with warm_connection():
        assert _conn() is first


def test_replaced_after_being_idle_longer_than_allowed(db):
    with warm_connection():
        first = _conn()
    with warm_connection(max_idle=0.0):
        assert _conn() is not first, "an idle connection may be dead: a new one"


def test_dropped_after_an_error(db):
    with pytest.raises(RuntimeError), warm_connection():
        first = _conn()
        raise RuntimeError("the pass failed")
    assert database.is_closed()
    with warm_connection():
        assert _conn() is not first
