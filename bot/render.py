"""The Jinja2 environment: every Chinese word the bot says comes from templates/."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"


class Renderer:
    def __init__(self, tz: ZoneInfo, template_dir: Path = TEMPLATE_DIR):
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
        self.env.filters["when"] = self.format_when

    def format_when(self, value: datetime, fmt: str = "%m-%d %H:%M") -> str:
        return value.astimezone(self.tz).strftime(fmt)

    def render(self, template: str, /, **context) -> str:
        text = self.env.get_template(template).render(**context)
        return "\n".join(line.rstrip() for line in text.strip().splitlines())

    def snippet(self, template: str, macro: str, /, **context) -> str:
        """Call one macro of a template file that holds many short messages (replies, errors)."""
        module = self.env.get_template(template).make_module()
        return str(getattr(module, macro)(**context)).strip()


def format_points(value) -> str:
    """2 -> '2', 1.50 -> '1.5', None -> '—'."""
    if value is None:
        return "—"
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return text or "0"
