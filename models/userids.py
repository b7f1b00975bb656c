"""WeCom's rule for a userid, in one place (issue 20).

A userid is 1–64 letters, digits and `_-.@`; `@all` is not a person but everyone in the app's
visible range (`touser: "@all"`), so it is never accepted as one. WeCom compares userids without
regard to case (`ZhangSan` and `zhangsan` are one member, and its callbacks may write either):
the bot stores a userid as it was given (as WeCom returns it) and compares by `key()`.

Every place that checks, compares or looks up a userid goes through here: `problem()`/`valid()`
for input (绑定, imports, BOT_ADMINS, the sandbox, board links), `key()`/`same()` in Python,
`matches()`/`among()` in queries, `UserIdSet` for sets such as the configured admins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import peewee

PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
# The characters of a userid inside a longer text (a command's argument, a 责任人 note).
CHARS = r"[A-Za-z0-9_.@-]{1,64}"
EVERYONE = "@all"
RULE = "userid 只能包含英文字母、数字和 _ - . @，1 到 64 位"


def key(userid: str) -> str:
    """The form two userids are compared in (WeCom's userids are ASCII: lower() is exact)."""
    return userid.strip().lower()


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and key(a) == key(b)


def problem(userid: str) -> str | None:
    """Why `userid` cannot be a WeCom userid (a Chinese sentence), or None when it can."""
    if key(userid) == EVERYONE:
        return "@all 在企业微信里表示应用可见范围内的所有人，不能作为一个人的 userid"
    if not PATTERN.match(userid):
        return f"“{userid[:70]}”不是有效的企业微信 userid：{RULE}"
    return None


def valid(userid: str) -> bool:
    return problem(userid) is None


def matches(field: peewee.Field, userid: str) -> peewee.Expression:
    """A query condition: `field` holds this userid, in any case."""
    return peewee.fn.LOWER(field) == key(userid)


def among(field: peewee.Field, userids: Iterable[str]) -> peewee.Expression:
    """A query condition: `field` holds one of these userids, in any case."""
    keys = sorted({key(u) for u in userids}) or [""]
    return peewee.fn.LOWER(field).in_(keys)


def unique(userids: Iterable[str]) -> list[str]:
    """The userids without repeats by key, each in the form first seen, in order."""
    seen: set[str] = set()
    out: list[str] = []
    for userid in userids:
        k = key(userid)
        if k not in seen:
            seen.add(k)
            out.append(userid)
    return out


class UserIdSet(frozenset[str]):
    """A set of userids whose `in` ignores case (the configured admins): `"zhangsan" in
    UserIdSet({"ZhangSan"})` is true. Iterating gives the forms as given."""

    _keys: frozenset[str]

    def __new__(cls, userids: Iterable[str] = ()) -> UserIdSet:
        self = super().__new__(cls, unique(userids))
        self._keys = frozenset(key(u) for u in self)
        return self

    def __contains__(self, userid: object) -> bool:
        return isinstance(userid, str) and key(userid) in self._keys

    def __or__(self, other: Iterable[str]) -> UserIdSet:  # type: ignore[override]
        return UserIdSet([*self, *other])


def contains(collection: Iterable[str], userid: str) -> bool:
    """`userid` is among `collection`, in any case."""
    k = key(userid)
    return any(key(u) == k for u in collection)


def form_in(collection: Iterable[str], userid: str) -> str:
    """The form `collection` holds for `userid`, else `userid` as given."""
    k = key(userid)
    return next((u for u in collection if key(u) == k), userid)
