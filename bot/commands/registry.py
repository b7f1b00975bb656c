"""Commands declared once, as data: name, aliases, who may run them, usage and one-line help.

The registry finds the command in a folded text (longest alias first), checks access once, and
calls the handler `(ctx, args) -> reply`. A handler refuses bad input by raising CommandError.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from bot.text import ParseError, fold
from models.db import database

if TYPE_CHECKING:
    from bot.config import Config
    from bot.outbox import Outbox
    from bot.render import Renderer
    from models.messages import InboundMessage
    from models.org import Member

ACCESS_LEVELS = ("member", "leader", "admin")
ACCESS_LABELS = {"member": "所有已绑定人员", "leader": "领导和管理员", "admin": "管理员"}


class CommandError(Exception):
    """A refusal with a short Chinese explanation; the dispatcher adds the usage line."""

    def __init__(self, message: str, show_usage: bool = True):
        super().__init__(message)
        self.message = message
        self.show_usage = show_usage


@dataclass
class Context:
    """Everything a handler may use. Built once per inbound message."""

    userid: str
    member: Member | None
    is_admin: bool
    now: datetime
    config: Config
    outbox: Outbox
    renderer: Renderer
    inbound: InboundMessage | None = None
    wecom: object | None = None  # the WeCom client, for 自检

    @property
    def today(self) -> date:
        return self.now.astimezone(self.config.timezone).date()

    @property
    def role(self) -> str:
        if self.is_admin:
            return "admin"
        return self.member.role if self.member else ""

    def may(self, access: str) -> bool:
        if self.is_admin:
            return True
        if self.member is None:
            return False
        if access == "member":
            return True
        if access == "leader":
            return self.member.role in ("leader", "admin")
        return self.member.role == "admin"

    def say(self, template: str, macro: str, /, **context) -> str:
        return self.renderer.snippet(template, macro, **context)


Handler = Callable[[Context, list[str]], str]


@dataclass(frozen=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    access: str
    usage: str
    help: str
    handler: Handler
    position: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


class Registry:
    def __init__(self):
        self._commands: list[Command] = []
        self._by_alias: dict[str, Command] = {}

    def command(
        self, name: str, *, aliases: tuple[str, ...] = (), access: str, usage: str, help: str
    ):
        """Decorator: declare a command. Duplicate names fail at import, not at run time."""
        if access not in ACCESS_LEVELS:
            raise ValueError(f"unknown access level {access!r} for {name}")

        def register(handler: Handler) -> Handler:
            cmd = Command(name, aliases, access, usage, help, handler, len(self._commands))
            for alias in cmd.names:
                key = fold(alias).lower()
                if not key or " " in key:
                    raise ValueError(f"command alias {alias!r} must be one word")
                if key in self._by_alias:
                    raise ValueError(f"command alias {alias!r} is declared twice")
                self._by_alias[key] = cmd
            self._commands.append(cmd)
            return handler

        return register

    @property
    def commands(self) -> list[Command]:
        return list(self._commands)

    def get(self, name: str) -> Command | None:
        return self._by_alias.get(fold(name).lower())

    def visible_to(self, ctx: Context) -> list[Command]:
        return [c for c in self._commands if ctx.may(c.access)]

    def find(self, text: str) -> tuple[Command | None, str]:
        """The command a folded text starts with (longest alias wins) and the rest of the text.

        Chinese names may run straight into their arguments ("进度T7 60%"); English aliases must
        be followed by a space or the end, so "helpme" is not "help".
        """
        lowered = text.lower()
        best: tuple[str, Command] | None = None
        for alias, cmd in self._by_alias.items():
            if not lowered.startswith(alias):
                continue
            rest = text[len(alias) :]
            if alias.isascii() and rest and not rest.startswith(" "):
                continue
            if best is None or len(alias) > len(best[0]):
                best = (alias, cmd)
        if best is None:
            return None, text
        return best[1], text[len(best[0]) :].strip()

    def dispatch(self, ctx: Context, text: str) -> str:
        """Run the command in `text` for `ctx`; every refusal is a short answer, never a raise."""
        text = fold(text)
        if not text:
            return ctx.say("errors.j2", "empty")
        cmd, rest = self.find(text)
        if cmd is None:
            return ctx.say("errors.j2", "unknown_command", word=text.split(" ", 1)[0][:20])
        if not ctx.may(cmd.access):
            return ctx.say("errors.j2", "forbidden", name=cmd.name, who=ACCESS_LABELS[cmd.access])
        args = rest.split(" ") if rest else []
        try:
            # A savepoint: a refusal raised after a partial write leaves nothing behind.
            with database.atomic():
                return cmd.handler(ctx, args)
        except (CommandError, ParseError) as exc:
            message = exc.message if isinstance(exc, CommandError) else str(exc)
            show_usage = exc.show_usage if isinstance(exc, CommandError) else True
            return ctx.say(
                "errors.j2", "with_usage", message=message, usage=cmd.usage if show_usage else ""
            )


REGISTRY = Registry()
command = REGISTRY.command
