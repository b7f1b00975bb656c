"""Who may look at the leaders' board: personal links an admin issued (`链接`) and signed-in
sessions. Only SHA-256 digests of their secrets are stored: the database never holds a
working link or cookie."""

from __future__ import annotations

import peewee

from models.db import BaseModel, UTCDateTimeField

VIA_WECOM, VIA_LINK, VIA_SANDBOX = "wecom", "link", "sandbox"
VIA_WEBLOGIN = "weblogin"  # the desk's 扫码登录 on a PC browser


class BoardLink(BaseModel):
    """A personal link for someone who does not open the app: it signs its holder in as
    `wecom_userid` until it expires or is revoked (numbered for `链接 撤销 <编号>`)."""

    token_hash = peewee.CharField(max_length=64, unique=True)
    wecom_userid = peewee.CharField(max_length=64, index=True)
    created_by = peewee.CharField(max_length=64)
    created_at = UTCDateTimeField()
    expires_at = UTCDateTimeField()
    revoked_at = UTCDateTimeField(null=True)
    revoked_by = peewee.CharField(max_length=64, default="")
    last_used_at = UTCDateTimeField(null=True)
    uses = peewee.IntegerField(default=0)

    @classmethod
    def live(cls, now):
        """The condition for links that still sign someone in."""
        return cls.revoked_at.is_null() & (cls.expires_at > now)


class BoardSession(BaseModel):
    """One signed-in browser: its cookie carries the secret whose digest is here. Ended by
    signing out, by its link's revocation, or by time."""

    token_hash = peewee.CharField(max_length=64, unique=True)
    wecom_userid = peewee.CharField(max_length=64)
    via = peewee.CharField(max_length=16)  # wecom | weblogin | link | sandbox
    link = peewee.ForeignKeyField(BoardLink, null=True, backref="sessions", on_delete="CASCADE")
    link_id: int | None
    created_at = UTCDateTimeField()
    expires_at = UTCDateTimeField()
    ended_at = UTCDateTimeField(null=True)
