"""The evidence file store: bytes by SHA-256 under DATA_DIR/evidence, written atomically.

The original file name is kept only in the database; nothing a person typed ever reaches a path.
Folders are owner-only (0700 on POSIX) and files 0600 (mkstemp's mode, kept by the rename).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from models.private import private_dir

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
TEMP_PREFIX = "upload-"

# Magic numbers -> (content type, label). The type is judged from the content, not the name.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (b"RIFF", "application/riff"),
    (b"#!AMR", "audio/amr"),
)


class EvidenceTooLarge(ValueError):
    pass


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    content_type: str
    original_name: str


def sniff_type(head: bytes) -> str:
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            return content_type
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/mp4"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def clean_name(name: str) -> str:
    """A display name for the database: no directories, no control characters, bounded length."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    return name[:200] or "未命名文件"


class Readable(Protocol):
    """What the store reads from: a file, or a download from the platform (its `read(n)`)."""

    def read(self, n: int = -1, /) -> bytes: ...


class EvidenceStore:
    def __init__(self, root: Path, max_bytes: int):
        self.root = Path(root)
        self.max_bytes = max_bytes

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    def save(self, stream: Readable, original_name: str) -> StoredFile:
        """Stream into a temp file with a size cap, then rename into place by content hash."""
        private_dir(self.root)
        tmp_dir = private_dir(self.root / "tmp")
        digest = hashlib.sha256()
        size = 0
        head = b""
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = stream.read(CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise EvidenceTooLarge(
                            f"文件超过 {self.max_bytes // (1024 * 1024)} MB 上限，未保存。"
                        )
                    if len(head) < 64:
                        head += chunk[: 64 - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path_for(sha)
            private_dir(final.parent)
            os.replace(tmp_name, final)  # atomic; the same content lands on the same path
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StoredFile(sha, size, sniff_type(head), clean_name(original_name))

    def sweep_temp(self, now: datetime, older_than: timedelta) -> int:
        """Remove temp files older than `older_than` (a process killed mid-save leaves its temp
        file behind); younger ones may be saves in progress, in this process or another one.
        `now` is the wall clock, which file times are in. Returns how many were removed."""
        tmp_dir = self.root / "tmp"
        if not tmp_dir.is_dir():
            return 0
        cutoff = (now - older_than).timestamp()
        removed = 0
        for path in tmp_dir.glob(f"{TEMP_PREFIX}*"):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError as exc:  # gone meanwhile, or still open elsewhere (Windows)
                log.warning("could not remove the stale temp file %s: %s", path.name, exc)
        if removed:
            log.info("removed %s stale temp file(s) from %s", removed, tmp_dir)
        return removed
