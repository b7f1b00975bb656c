"""The Jinja2 environment: every Chinese word the bot says comes from templates/."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2

from reminders.ladder import overdue_text
from reminders.scoring import format_points as points_text

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"


class Renderer:
    def __init__(self, tz: ZoneInfo, template_dir: Path = TEMPLATE_DIR, board_base_url: str = ""):
        """`board_base_url` (BOARD_BASE_URL): messages link to the board's pages only when the
        board has a public address; without one `board_url` is empty and they say nothing."""
        self.tz = tz
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(template_dir)),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["points"] = format_points
        self.env.filters["size"] = format_size
        self.env.filters["overdue"] = overdue_text
        self.env.filters["when"] = self.format_when
        self.env.globals["board_url"] = f"{board_base_url}/board" if board_base_url else ""
        # People by name, not userid: `{% set who = people() %}` then `who.get(uid, uid)`.
        self.env.globals["people"] = _people

    @property
    def board_url(self) -> str:
        """The board's address for links in messages ("" without BOARD_BASE_URL)."""
        return str(self.env.globals["board_url"])

    def format_when(self, value: datetime, fmt: str = "%m-%d %H:%M") -> str:
        return value.astimezone(self.tz).strftime(fmt)

    def render(self, template: str, /, **context) -> str:
        text = self.env.get_template(template).render(**context)
        return "\n".join(line.rstrip() for line in text.strip().splitlines())

    def snippet(self, template: str, macro: str, /, **context) -> str:
        """Call one macro of a template file that holds many short messages (replies, errors)."""
        module = self.env.get_template(template).make_module()
        return str(getattr(module, macro)(**context)).strip()


def _people() -> dict[str, str]:
    from models.org import Member  # the templates' one read of the database

    return Member.names()


def format_size(size: int) -> str:
    """Bytes as people read them: 900 B, 12 KB, 3.4 MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def format_points(value) -> str:
    """2 -> '2', 1.50 -> '1.5', None -> '—' (the figure itself as reminders/chart writes it)."""
    return "—" if value is None else points_text(value)


_QUOTE = re.compile(r"^>\s?", re.MULTILINE)
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_FONT = re.compile(r"<font[^>]*>(.*?)</font>", re.DOTALL)
_CODE = re.compile(r"`([^`]*)`")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


def markdown_to_text(markdown: str) -> str:
    """WeCom markdown (the group's digest) as plain text for a person's chat: headings become
    【…】, quotes are indented, bold, colours and code marks go, links show their address."""
    text = _FONT.sub(r"\1", markdown)
    text = _BOLD.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    text = _LINK.sub(r"\1（\2）", text)
    text = re.sub(r"^#{1,6}\s*(.+)$", r"【\1】", text, flags=re.MULTILINE)
    text = _QUOTE.sub("  ", text)
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:  # no runs of blank lines
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()
