"""Who is looking at the board, and how they got in: WeCom's web sign-in (OAuth), a personal
link, or the sandbox's chosen person. Secrets (sessions, links, sign-in states) are random,
handed to the browser once and stored as SHA-256 digests only; cookies are signed with a key
kept in the database, so every process of a deployment shares it and a restart keeps people
signed in.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from bot.config import Config
from models import userids
from models.board import BoardLink, BoardSession
from models.db import database
from models.messages import KeyValue
from models.org import ROLES, find_member

log = logging.getLogger(__name__)

SESSION_COOKIE = "board_session"
STATE_COOKIE = "board_signin"
STATE_TTL = timedelta(minutes=10)  # a sign-in must come back from WeCom within this
KEY_NAME = "board:cookie-key"
STATE_PREFIX = "board-state:"
LINK_DAYS_DEFAULT = 7
LINK_DAYS_MAX = 90
# A state WeCom hands back as it is: a-zA-Z0-9 only, at most 128 bytes.
_STATE = re.compile(r"^[A-Za-z0-9]{16,128}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
_NEXT = re.compile(r"^/(?:board|desk)(?:/[A-Za-z0-9_./-]*)?(?:\?[A-Za-z0-9_=&%.-]*)?$")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- who is looking


@dataclass(frozen=True)
class Viewer:
    """A signed-in person as the board treats them. Leaders and admins see everything; a unit's
    head or liaison sees the whole scorecard and their own unit's items, files and milestones."""

    userid: str
    label: str
    roles: frozenset[str]
    unit_id: int | None
    unit_name: str
    unit_short: str = ""
    via: str = ""

    @property
    def sees_all(self) -> bool:
        return bool(self.roles & {"admin", "leader"})

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def reports(self) -> bool:
        """A unit's liaison or head (reports for the unit in chat)."""
        return bool(self.roles & {"liaison", "head"}) and self.unit_id is not None

    def may_see_unit(self, unit_id: int | None) -> bool:
        return self.sees_all or (unit_id is not None and unit_id == self.unit_id)

    @property
    def role_label(self) -> str:
        return "、".join(ROLES[r] for r in ROLES if r in self.roles)


def viewer_for(userid: str, config: Config, via: str = "") -> Viewer | None:
    """The person behind a userid, read anew on every request (an unbinding or a role change
    applies at once); None for someone neither bound nor an admin."""
    member = find_member(userid, active=True)
    if member is not None:
        userid = member.wecom_userid  # as stored: WeCom's sign-in may write it in another case
    admin = userids.contains(config.admins, userid)
    if member is None and not admin:
        return None
    roles = set(member.roles) if member is not None else set()
    if admin:
        roles.add("admin")
    unit = member.unit if member is not None and member.unit_id is not None else None
    return Viewer(
        userid=userid,
        label=member.label if member is not None else userid,
        roles=frozenset(roles),
        unit_id=unit.id if unit else None,
        unit_name=unit.name if unit else "",
        unit_short=(unit.short_name or unit.name) if unit else "",
        via=via,
    )


# ---------------------------------------------------------------- the signing key


def cookie_key() -> bytes:
    """The deployment's key for the board's cookies: made once, kept in the database."""
    row = KeyValue.get_or_none(KeyValue.key == KEY_NAME)
    if row is None:
        KeyValue.insert(
            key=KEY_NAME, value=secrets.token_urlsafe(48)
        ).on_conflict_ignore().execute()
        row = KeyValue.get(KeyValue.key == KEY_NAME)  # another process may have won
    return row.value.encode("ascii")


def fingerprint() -> str:
    """Names this deployment without giving its key away (the self-check compares it with
    what the board's public address answers)."""
    return hmac.new(cookie_key(), b"board-ping", hashlib.sha256).hexdigest()[:16]


def _session_signer(key: bytes) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt="board-session")


def _state_signer(key: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt="board-signin")


# ---------------------------------------------------------------- sessions


def start_session(
    userid: str, via: str, now: datetime, hours: int, link: BoardLink | None = None
) -> tuple[str, BoardSession]:
    """A new signed-in browser; returns the cookie's value and the row. A session from a link
    ends no later than the link."""
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=hours)
    if link is not None:
        expires = min(expires, link.expires_at)
    row = BoardSession.create(
        token_hash=digest(token),
        wecom_userid=userid,
        via=via,
        link=link,
        created_at=now,
        expires_at=expires,
    )
    return _session_signer(cookie_key()).dumps(token), row


def session_for(cookie: str | None, now: datetime) -> BoardSession | None:
    """The live session a cookie names; None for no cookie, a bad signature (another key, a
    tampered value), an unknown, ended or expired session, or one whose link was revoked."""
    if not cookie:
        return None
    try:
        token = _session_signer(cookie_key()).loads(cookie)
    except BadSignature:
        log.warning("board: a session cookie with a bad signature was refused")
        return None
    if not isinstance(token, str) or not _TOKEN.match(token):
        return None
    row = (
        BoardSession.select()
        .where(
            (BoardSession.token_hash == digest(token))
            & BoardSession.ended_at.is_null()
            & (BoardSession.expires_at > now)
        )
        .first()
    )
    if row is None:
        return None
    if row.link_id is not None:
        link = BoardLink.get_or_none(BoardLink.id == row.link_id)
        if link is None or link.revoked_at is not None:
            return None
    return row


def end_session(session: BoardSession, now: datetime) -> None:
    BoardSession.update(ended_at=now).where(
        (BoardSession.id == session.id) & BoardSession.ended_at.is_null()
    ).execute()


# ---------------------------------------------------------------- WeCom's web sign-in


def new_state(next_path: str, now: datetime) -> tuple[str, str]:
    """A one-time sign-in state: (the state for WeCom's URL, the cookie binding it to this
    browser). The server remembers the state's digest and where to go back to."""
    state = secrets.token_hex(24)  # a-zA-Z0-9, as WeCom wants it
    KeyValue.delete().where(
        KeyValue.key.startswith(STATE_PREFIX) & (KeyValue.expires_at <= now)
    ).execute()
    KeyValue.create(
        key=STATE_PREFIX + digest(state), value=safe_next(next_path), expires_at=now + STATE_TTL
    )
    return state, _state_signer(cookie_key()).dumps(state)


def take_state(state: str, cookie: str | None, now: datetime) -> str | None:
    """Where to go after a sign-in whose state came back, or None: no cookie or a cookie this
    browser was not given (signature, age), a state other than the cookie's (forged), or one
    used before or too old (replayed). A state is taken once, whatever happens next."""
    if not state or not cookie or not _STATE.match(state):
        return None
    try:
        bound = _state_signer(cookie_key()).loads(cookie, max_age=int(STATE_TTL.total_seconds()))
    except BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(bound, str) or not hmac.compare_digest(bound, state):
        return None
    key = STATE_PREFIX + digest(state)
    with database.atomic():
        row = KeyValue.get_or_none((KeyValue.key == key) & (KeyValue.expires_at > now))
        taken = KeyValue.delete().where(KeyValue.key == key).execute()
    if row is None or not taken:
        return None
    return row.value


def safe_next(path: str | None) -> str:
    """Only a path of the board or the desk itself: never another site (an open redirect)."""
    if path and _NEXT.match(path) and "//" not in path and ".." not in path:
        return path.rstrip("?")
    if path and path.startswith("/desk"):
        return "/desk/"
    return "/board/"


def authorize_url(config: Config, state: str, back: str = "/board/auth/callback") -> str:
    """WeCom's web sign-in for a self-built app, without asking the person anything."""
    query = urlencode(
        {
            "appid": config.wecom_corp_id,
            "redirect_uri": f"{config.board_base_url}{back}",
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
            "agentid": str(config.wecom_agent_id),
        }
    )
    return f"{config.wecom_oauth_url}?{query}#wechat_redirect"


def weblogin_url(config: Config, state: str) -> str:
    """WeCom's web login (扫码登录) for a self-built app, on a PC browser: the person scans the
    QR code with WeCom (or confirms in the desktop client) and comes back with a code that
    auth/getuserinfo turns into a userid, as the in-client sign-in's does."""
    query = urlencode(
        {
            "login_type": "CorpApp",
            "appid": config.wecom_corp_id,
            "agentid": str(config.wecom_agent_id),
            "redirect_uri": f"{config.board_base_url}/desk/auth/callback",
            "state": state,
        }
    )
    return f"{config.wecom_weblogin_url}?{query}"


def desk_authorize_url(config: Config, state: str) -> str:
    """The in-client sign-in (as the board's) coming back to the desk."""
    return authorize_url(config, state, "/desk/auth/callback")


def userid_for_code(client, code: str) -> str | None:
    """The member a sign-in code names (auth/getuserinfo, through the bot's one WeCom client:
    its token, timeout and WECOM_API_BASE); None for someone outside the corp (an openid).
    Raises WeComError (40029: the code is used or too old) or TimeoutError (the token)."""
    answer = client.get("auth/getuserinfo", {"code": code})
    userid = answer.get("userid") or answer.get("UserId")
    return str(userid) if userid else None


# ---------------------------------------------------------------- personal links


def issue_link(userid: str, days: int, by: str, now: datetime) -> tuple[BoardLink, str]:
    token = secrets.token_urlsafe(32)
    link = BoardLink.create(
        token_hash=digest(token),
        wecom_userid=userid,
        created_by=by,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    return link, token


def link_for(token: str, now: datetime) -> BoardLink | None:
    """The live link a token names (None: unknown, tampered, expired or revoked)."""
    if not _TOKEN.match(token or ""):
        return None
    return (
        BoardLink.select()
        .where((BoardLink.token_hash == digest(token)) & BoardLink.live(now))
        .first()
    )


def use_link(link: BoardLink, now: datetime) -> None:
    BoardLink.update(uses=BoardLink.uses + 1, last_used_at=now).where(
        BoardLink.id == link.id
    ).execute()


def revoke_link(link: BoardLink, by: str, now: datetime) -> int:
    """Revoke a link and end the sessions it opened; returns how many sessions ended."""
    with database.atomic():
        BoardLink.update(revoked_at=now, revoked_by=by).where(BoardLink.id == link.id).execute()
        return (
            BoardSession.update(ended_at=now)
            .where((BoardSession.link == link) & BoardSession.ended_at.is_null())
            .execute()
        )


def link_url(config: Config, token: str) -> str:
    return f"{config.board_base_url}/board/link/{token}"


def upload_url(board_url: str) -> str:
    """The upload page's address as chat gives it (board_url: the renderer's, ending in /board;
    empty without BOARD_BASE_URL). Opened in WeCom, it signs the person in like the board."""
    return f"{board_url}/upload/" if board_url else ""
