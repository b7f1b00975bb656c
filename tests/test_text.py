import contextlib
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.text import (
    ParseError,
    find_code,
    fold,
    parse_code,
    parse_date,
    parse_number,
    parse_percent,
    parse_points,
)


@pytest.mark.parametrize("token", ["T7", "t7", "t07", "Ｔ７", "ｔ００７"])
def test_codes_fold(token):
    assert parse_code(token) == "T7"


@pytest.mark.parametrize("token", ["T", "T0", "T1000", "X7", "7", "T7a", ""])
def test_non_codes(token):
    assert parse_code(token) is None


def test_assigned_items_have_j_codes():
    assert parse_code("J12") == "J12" and parse_code("ｊ０３") == "J3"
    assert find_code("关于J5的材料") == "J5"


def test_find_code_in_a_caption():
    assert find_code("这是Z03的佐证") == "Z3"
    assert find_code("HTTP7 ok") is None


def test_fold_full_width_and_spaces():
    assert fold("  进度\u3000Ｔ７　６０％\n说明 ") == "进度 T7 60% 说明"


@pytest.mark.parametrize(("token", "value"), [("60%", 60), ("６０％", 60), ("0", 0), ("100", 100)])
def test_percent(token, value):
    assert parse_percent(token) == value


@pytest.mark.parametrize("token", ["101", "-1", "60.5", "abc", "%"])
def test_bad_percent(token):
    with pytest.raises(ParseError):
        parse_percent(token)


@pytest.mark.parametrize(
    "token", ["2026-12-31", "2026/12/31", "2026.12.31", "2026年12月31日", "20261231"]
)
def test_dates(token):
    assert parse_date(token) == date(2026, 12, 31)


@pytest.mark.parametrize("token", ["2026-02-29", "2026-13-01", "2026-00-10"])
def test_impossible_dates(token):
    with pytest.raises(ParseError, match="不存在"):
        parse_date(token)


def test_points_allow_halves_only():
    assert parse_points("2.5") == Decimal("2.5")
    assert parse_points("3分") == Decimal(3)
    for bad in ("1.25", "-1", "x", "nan", "inf", "1E100", "1e-100"):
        with pytest.raises(ParseError):
            parse_points(bad)


def test_numbers():
    assert parse_number("1,200") == Decimal(1200)
    with pytest.raises(ParseError):
        parse_number("一千")


@given(st.text())
def test_parsers_only_raise_parse_errors(text):
    assert isinstance(fold(text), str)
    parse_code(text)
    for parser in (parse_percent, parse_date, parse_points, parse_number):
        with contextlib.suppress(ParseError):
            parser(text)


@pytest.mark.parametrize(
    ("caption", "point"),
    [
        ("Z12 第2项", 2),
        ("Z12第二项 材料", 2),
        ("Z12-3", 3),
        ("z12.1 说明", 1),
        ("第 10 项", 10),
        ("Z12", None),
        ("T7 佐证", None),
        ("2026-12-31", None),
    ],
)
def test_find_point(caption, point):
    from bot.text import find_point

    assert find_point(caption) == point
