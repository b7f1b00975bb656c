"""Fetching the files people send (佐证材料) from WeCom into the evidence store, at once:
a media id lives 3 days. Streaming, capped, with a timeout per read and a check between reads
(the caller's deadline), JSON error bodies detected by their content."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote

from bot.evidence import EvidenceStore, EvidenceTooLarge, StoredFile
from bot.pipeline import MediaError
from bot.transports.wecom.errors import WeComError

if TYPE_CHECKING:  # built on first use (bot/services.py): requests and wechatpy wait till then
    from bot.transports.wecom.client import WeComClient

_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "application/pdf": ".pdf",
    "audio/amr": ".amr",
    "video/mp4": ".mp4",
}


def filename_from(disposition: str) -> str:
    """The real name from Content-Disposition: RFC 5987 `filename*` first, then `filename`."""
    star = re.search(r"filename\*\s*=\s*([^']*)'[^']*'([^;]+)", disposition, re.IGNORECASE)
    if star:
        charset = star.group(1) or "utf-8"
        try:
            return unquote(star.group(2).strip().strip('"'), encoding=charset, errors="strict")
        except (LookupError, UnicodeDecodeError):
            pass
    plain = re.search(
        r'filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)', disposition, re.IGNORECASE
    )
    if not plain:
        return ""
    name = (plain.group(1) or plain.group(2) or "").strip()
    try:  # WeCom's plain filename is often UTF-8 bytes read as Latin-1
        return name.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return name


class WeComMedia:
    """Implements the pipeline's MediaFetcher over WeCom's media/get."""

    def __init__(self, client: WeComClient, store: EvidenceStore):
        self.client = client
        self.store = store

    def fetch(
        self, media_id: str, name_hint: str, check: Callable[[], None] = lambda: None
    ) -> StoredFile:
        """`check` runs before every read and may raise to abandon the download; the temp file
        is removed on that path as on every other."""
        try:
            with self.client.media(media_id, check) as stream:
                name = filename_from(stream.headers.get("Content-Disposition", "")) or name_hint
                stored = self.store.save(stream, name or media_id)
        except EvidenceTooLarge as exc:
            raise MediaError(str(exc), permanent=True) from None
        except WeComError as exc:
            raise MediaError(exc.describe(), permanent=exc.errcode == 40007) from None
        if stored.size == 0:
            raise MediaError("企业微信返回了空文件")
        if not name and not name_hint:
            suffix = _EXTENSIONS.get(stored.content_type, "")
            stored = StoredFile(stored.sha256, stored.size, stored.content_type, f"图片{suffix}")
        return stored
