"""The text of a document someone sent: a .txt (UTF-8, UTF-16 or the GBK of Windows Notepad) or a
.docx (its paragraphs, read with zipfile and the standard XML parser: no Word library)."""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePath
from xml.etree import ElementTree

TEXT_SUFFIXES = (".txt", ".docx")
MAX_TEXT_BYTES = 5 * 1024 * 1024  # a notice is a few KB; anything this big is something else
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


class DocumentError(ValueError):
    """The document cannot be read as text (a Chinese message)."""


def is_text_document(name: str) -> bool:
    return PurePath(name or "").suffix.lower() in TEXT_SUFFIXES


def document_text(data: bytes, name: str) -> str:
    suffix = PurePath(name).suffix.lower()
    if suffix == ".docx":
        return _docx_text(data)
    if suffix == ".txt":
        return _plain_text(data)
    raise DocumentError("只能读取 .txt 或 .docx 文件。")


def _plain_text(data: bytes) -> str:
    if len(data) > MAX_TEXT_BYTES:
        raise DocumentError("文件太大，不像是一份通知。")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentError("文件的文字编码无法识别，请另存为 UTF-8 文本或 .docx 后重发。")


def _docx_text(data: bytes) -> str:
    """Paragraphs of word/document.xml, one a line; tabs and line breaks kept as whitespace."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > MAX_TEXT_BYTES:
                raise DocumentError("文件太大，不像是一份通知。")
            xml = archive.read(info)
    except (zipfile.BadZipFile, KeyError, OSError):
        raise DocumentError(
            "这个 .docx 文件打不开（可能已损坏，或其实是旧版 .doc）。请另存为 .docx 或复制全文粘贴。"
        ) from None
    if b"<!DOCTYPE" in xml[:2048].upper():
        raise DocumentError("这个 .docx 文件的内容格式不对，请复制全文粘贴。")
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        raise DocumentError("这个 .docx 文件的内容格式不对，请复制全文粘贴。") from None
    lines = []
    for paragraph in root.iter(f"{_W}p"):
        parts = []
        for node in paragraph.iter():
            if node.tag == f"{_W}t" and node.text:
                parts.append(node.text)
            elif node.tag in (f"{_W}tab", f"{_W}br", f"{_W}cr"):
                parts.append("\n" if node.tag != f"{_W}tab" else "\t")
        lines.append("".join(parts))
    return "\n".join(lines)
