"""Commands declared once, as data: name, aliases, and one or more forms, each with its argument
shapes, who may use it, and a one-line help. The parser, the usage lines and the help all come
from these declarations.

The registry finds the command a text starts with (longest alias first), matches its forms'
argument shapes, checks access once, converts the values, and calls the handler
`(ctx, args) -> reply` inside a savepoint. A handler refuses by raising CommandError.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import pairwise
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from bot.actions.base import Acting, Refused
from bot.commands.args import Arg, ArgError, ChoiceArg, Keyword
from bot.text import ParseError, Scan, fold
from models.db import database

if TYPE_CHECKING:
    from models.messages import InboundMessage

# member: anyone bound (or an admin); unit: a unit's liaison or head; leader: 领导; admin: 办公室.
ACCESS_LEVELS = ("member", "unit", "leader", "admin")
ACCESS_LABELS = {
    "member": "所有已绑定人员",
    "unit": "各单位联络员和负责人",
    "leader": "领导和管理员",
    "admin": "管理员",
}
ECHO_LIMIT = 20  # a refusal quotes at most this much of what was typed


class Reply(str):
    """A reply with messages that must follow it, in order (导出: the text, then the file), and
    optionally sent as a button card (a yes/no question), the text its fallback."""

    after: list[dict[str, Any]]
    card: dict[str, Any] | None

    def __new__(
        cls,
        text: str,
        after: list[dict[str, Any]] | None = None,
        card: dict[str, Any] | None = None,
    ) -> Reply:
        reply = super().__new__(cls, text)
        reply.after = list(after or [])
        reply.card = card
        return reply


def file_message(userid: str, name: str, stored, key: str) -> dict:
    """A file the reply announces, sent after it (a Reply's `after`): from the exports store."""
    return {
        "channel": "member",
        "recipients": [userid],
        "content": {
            "text": f"（文件）{name}",
            "file": {
                "sha256": stored.sha256,
                "name": name,
                "size": stored.size,
                "store": "exports",
            },
        },
        "dedupe_key": key,
        "msg_type": "file",
    }


class CommandError(Refused):
    """A refusal with a short Chinese explanation; the dispatcher adds the usage line."""

    def __init__(self, message: str, show_usage: bool = True):
        super().__init__(message)
        self.show_usage = show_usage


@dataclass
class Context(Acting):
    """Everything a handler may use. Built once per inbound message; it is the `Acting` of the
    actions the handler calls, caused by that message."""

    inbound: InboundMessage | None = None
    wecom: object | None = None  # the WeCom client, for 自检

    def __post_init__(self) -> None:
        if self.inbound is not None:
            self.cause = str(self.inbound.id)

    @property
    def roles(self) -> frozenset[str]:
        roles = self.member.roles if self.member is not None else frozenset()
        return roles | {"admin"} if self.is_admin else roles

    @property
    def role(self) -> str:
        """The main role, for wording: admin, leader, head, liaison (or "")."""
        for role in ("admin", "leader", "head", "liaison"):
            if role in self.roles:
                return role
        return ""

    def may(self, access: str) -> bool:
        if self.is_admin:
            return True
        if self.member is None:
            return False
        roles = self.member.roles
        if access == "member":
            return True
        if access == "unit":
            return bool(roles & {"liaison", "head"}) and self.member.unit_id is not None
        if access == "leader":
            return "leader" in roles
        return False

    def say(self, template: str, macro: str, /, **context) -> str:
        return self.renderer.snippet(template, macro, **context)


Handler = Callable[[Context, SimpleNamespace], str]


@dataclass(frozen=True)
class Form:
    """One way to use a command: its argument shapes, handler, access and help."""

    command: str
    args: tuple[Arg, ...]
    handler: Handler
    access: str
    help: str
    example: str = ""
    transactional: bool = True  # False: the handler calls out (自检) and opens its own

    @property
    def usage(self) -> str:
        return " ".join([self.command, *(a.usage for a in self.args)])


@dataclass
class Command:
    name: str
    aliases: tuple[str, ...]
    position: int
    module: str = ""  # where it is declared: help lists commands module by module
    forms: list[Form] = field(default_factory=list)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def help(self) -> str:
        return self.forms[0].help

    @property
    def usage(self) -> str:
        return self.forms[0].usage

    def visible_forms(self, ctx: Context) -> list[Form]:
        return [f for f in self.forms if ctx.may(f.access)]


@dataclass(frozen=True)
class Failure:
    """Why a form did not fit: an argument of the wrong shape, one missing, or words left over."""

    kind: str  # bad | missing | extra
    pos: int
    arg: Arg | None = None
    missing: tuple[Arg, ...] = ()
    form: Form | None = None


@dataclass
class Parsed:
    form: Form
    raw: dict


class Refusal(Exception):
    """The text names a command but cannot be run as written: a Chinese message and the usage
    (`forbidden`: written right, but not this person's to use)."""

    def __init__(self, message: str, usage: str = "", *, forbidden: bool = False, fits=True):
        super().__init__(message)
        self.message = message
        self.usage = usage
        self.forbidden = forbidden
        self.fits = fits  # a forbidden command: whether the text is written in its grammar


def _match(args, scan: Scan, pos: int, i: int, acc: dict, failures: list[Failure]):
    """Depth-first: the first reading of `args` that consumes the whole text, or None."""
    pos = scan.skip(pos)
    if i == len(args):
        if pos >= len(scan):
            return acc
        failures.append(Failure("extra", pos))
        return None
    arg = args[i]
    if pos < len(scan):
        shapes = arg.shapes(scan, pos)
        for raw, end in shapes:
            found = _match(args, scan, end, i + 1, {**acc, arg.name: raw}, failures)
            if found is not None:
                return found
        if not shapes:
            failures.append(Failure("bad", pos, arg))
    if arg.optional:
        return _match(args, scan, pos, i + 1, {**acc, arg.name: None}, failures)
    if pos >= len(scan):
        failures.append(Failure("missing", pos, arg, tuple(a for a in args[i:] if not a.optional)))
    return None


_KIND_RANK = {"bad": 2, "missing": 1, "extra": 0}


def best_failure(failures: list[Failure], words: int = 0) -> Failure | None:
    """The most telling failure: the furthest one, except that a value of the wrong shape beats
    the same argument found missing later (期限 T7 下周: "下周" is not a date); between equals,
    the form whose number of arguments is nearest the number of words written."""
    if not failures:
        return None
    bad_args = {id(f.arg) for f in failures if f.kind == "bad"}
    ranked = [
        f
        for f in failures
        if not (f.kind == "missing" and f.arg is not None and id(f.arg) in bad_args)
    ]
    return max(
        ranked,
        key=lambda f: (
            f.pos,
            _KIND_RANK[f.kind],
            -abs(len(f.form.args) - words) if f.form is not None else 0,
        ),
    )


def _fixed_words(arg: Arg) -> list[str]:
    if isinstance(arg, ChoiceArg):
        return list(dict.fromkeys(meaning for _, meaning in arg.choices))
    assert isinstance(arg, Keyword)
    return [arg.words[0]]


def explain(failure: Failure, scan: Scan) -> str:
    word = scan.word(failure.pos)[0] or scan.text[failure.pos : failure.pos + 1]
    word = echo(word)
    if failure.kind == "bad" and failure.arg is not None:
        return failure.arg.bad_shape(word)
    if failure.form is not None and not failure.form.args:
        return f"“{failure.form.command}”不需要参数，直接发送“{failure.form.command}”即可。"
    return f"多写了“{word}”。"


def _label(arg: Arg) -> str:
    return (arg.label or "|".join(getattr(arg, "words", ())[:2])).rstrip("…")


def explain_missing(failures: list[Failure]) -> str:
    """请写明编号和百分比 (one form) / 请写明编号或单位 (the first missing of several forms)."""
    if len(failures) == 1:
        labels = [_label(a) for a in failures[0].missing]
        return "请写明" + "和".join(dict.fromkeys(labels)) + "。"
    firsts = [_label(f.missing[0]) for f in failures if f.missing]
    return "请写明" + "或".join(dict.fromkeys(firsts)) + "。"


def echo(text: str) -> str:
    """What was typed, cut to a sane length for quoting back."""
    return text if len(text) <= ECHO_LIMIT else text[:ECHO_LIMIT] + "…"


class Registry:
    def __init__(self):
        self._commands: list[Command] = []
        # The modules in the order help lists their commands (bot/commands/__init__.py), so
        # the order does not depend on which module happened to be imported first.
        self.module_order: tuple[str, ...] = ()
        self._by_name: dict[str, Command] = {}
        self._by_alias: dict[str, Command] = {}

    def command(
        self,
        name: str,
        *,
        aliases: tuple[str, ...] = (),
        access: str,
        args: tuple[Arg, ...] = (),
        help: str,
        example: str = "",
        transactional: bool = True,
    ):
        """Decorator: declare a command, or another form of one (the same name again; aliases are
        given once). Duplicate aliases and unknown access levels fail at import."""
        if access not in ACCESS_LEVELS:
            raise ValueError(f"unknown access level {access!r} for {name}")
        names = [a.name for a in args]
        if len(set(names)) != len(names):
            raise ValueError(f"{name}: two arguments share a name")

        def register(handler: Handler) -> Handler:
            cmd = self._by_name.get(name)
            if cmd is None:
                cmd = Command(
                    name, tuple(aliases), len(self._commands), handler.__module__.rsplit(".")[-1]
                )
                for alias in cmd.names:
                    key = fold(alias).lower()
                    if not key or " " in key:
                        raise ValueError(f"command alias {alias!r} must be one word")
                    if key in self._by_alias:
                        raise ValueError(f"command alias {alias!r} is declared twice")
                    self._by_alias[key] = cmd
                self._by_name[name] = cmd
                self._commands.append(cmd)
            elif aliases:
                raise ValueError(f"aliases of {name} are declared with its first form")
            form = Form(name, tuple(args), handler, access, help, example, transactional)
            if any(f.args == form.args for f in cmd.forms):
                raise ValueError(f"{name}: two forms with the same arguments")
            cmd.forms.append(form)
            return handler

        return register

    @property
    def commands(self) -> list[Command]:
        return sorted(self._commands, key=self._rank)

    def _rank(self, cmd: Command) -> tuple[int, int]:
        order = self.module_order
        return (order.index(cmd.module) if cmd.module in order else len(order), cmd.position)

    @property
    def aliases(self) -> dict[str, Command]:
        return dict(self._by_alias)

    def get(self, name: str) -> Command | None:
        return self._by_alias.get(fold(name).lower())

    def visible_to(self, ctx: Context) -> list[Command]:
        return [c for c in self.commands if c.visible_forms(ctx)]

    def find_at(self, scan: Scan, pos: int) -> tuple[Command | None, int]:
        """The command whose alias starts at `pos` (longest wins) and where the alias ends.

        Chinese names may run straight into their arguments ("进度T7 60%"); English aliases must
        be followed by a separator or the end, so "helpme" is not "help"."""
        lowered = scan.text[pos:].lower()
        best: tuple[int, Command] | None = None
        for alias, cmd in self._by_alias.items():
            if not lowered.startswith(alias):
                continue
            nxt = lowered[len(alias) : len(alias) + 1]
            if alias.isascii() and nxt and nxt.isascii() and nxt.isalnum():
                continue
            if best is None or len(alias) > best[0]:
                best = (len(alias), cmd)
        if best is None:
            return None, pos
        return best[1], pos + best[0]

    def find(self, text: str) -> tuple[Command | None, str]:
        """The command a text starts with, and the rest of the text (folded)."""
        scan = Scan(text)
        start = scan.skip(0)
        cmd, end = self.find_at(scan, start)
        return cmd, scan.text[scan.skip(end) :].strip()

    def names_a_form(self, ctx: Context, cmd: Command, scan: Scan, pos: int) -> bool:
        """Whether the text from `pos` starts with a word that picks one of `cmd`'s forms
        ("佐证 改归 …", "交办 取消 …"): then it is written in the command's grammar."""
        pos = scan.skip(pos)
        for form in cmd.visible_forms(ctx):
            first = form.args[0] if form.args else None
            if isinstance(first, Keyword) and not first.optional and first.shapes(scan, pos):
                return True
        return False

    def parse(self, ctx: Context, cmd: Command, scan: Scan, pos: int) -> Parsed:
        """The first form of `cmd` the caller may use whose shapes fit the text from `pos`.
        Raises Refusal (forbidden, or the most telling failure with the usage lines)."""
        visible = cmd.visible_forms(ctx)
        if not visible:
            fitting = [f for f in cmd.forms if _match(f.args, scan, pos, 0, {}, []) is not None]
            raise Refusal(forbidden((fitting or cmd.forms)[0]), forbidden=True, fits=bool(fitting))
        failures: list[Failure] = []
        for form in visible:
            found: list[Failure] = []
            raw = _match(form.args, scan, pos, 0, {}, found)
            if raw is not None:
                return Parsed(form, raw)
            failures.extend(replace(f, form=form) for f in found)
        for form in cmd.forms:
            if form not in visible and _match(form.args, scan, pos, 0, {}, []) is not None:
                raise Refusal(forbidden(form), forbidden=True)
        failure = best_failure(failures, len(scan.text[pos:].split()))
        if failure is None:  # no arguments can fail: defensive
            raise Refusal("看不懂。", summary_usage(cmd.name, visible))
        if failure.kind == "missing":
            # The same thing missing from several forms: "请写明编号或单位".
            alike = [f for f in failures if f.kind == "missing" and f.pos == failure.pos]
            message = explain_missing(alike)
            usage = summary_usage(cmd.name, [f.form for f in alike if f.form is not None])
        elif failure.kind == "bad" and isinstance(failure.arg, Keyword | ChoiceArg):
            # Several forms want a fixed word here: name them all ("确认", "加", "减").
            alike = [
                f
                for f in failures
                if f.kind == "bad"
                and f.pos == failure.pos
                and isinstance(f.arg, Keyword | ChoiceArg)
            ]
            words = [w for f in alike if f.arg is not None for w in _fixed_words(f.arg)]
            word = echo(scan.word(failure.pos)[0])
            shown = "、".join(f"“{w}”" for w in dict.fromkeys(words))
            message = f"“{word}”看不懂，这里可以写{shown}。"
            usage = failure.form.usage if failure.form is not None else ""
        else:
            message = explain(failure, scan)
            usage = failure.form.usage if failure.form is not None else ""
        raise Refusal(message, usage)

    def run(self, ctx: Context, parsed: Parsed) -> str:
        """Convert the values and call the handler; every refusal is a short answer."""
        return self.try_run(ctx, parsed)[1]

    def try_run(self, ctx: Context, parsed: Parsed) -> tuple[bool, str]:
        """`run`, and whether the handler answered (True) or refused (False)."""
        form = parsed.form
        try:
            if not form.transactional:
                return True, form.handler(ctx, self.convert(ctx, parsed))
            # A savepoint: a refusal raised after a partial write leaves nothing behind.
            with database.atomic():
                return True, form.handler(ctx, self.convert(ctx, parsed))
        except (CommandError, ArgError) as exc:
            usage = form.usage if exc.show_usage else ""
            return False, ctx.say("errors.j2", "with_usage", message=exc.message, usage=usage)
        except Refused as exc:  # an action refused: what was written was understood
            return False, ctx.say("errors.j2", "with_usage", message=exc.message, usage="")
        except ParseError as exc:
            return False, ctx.say("errors.j2", "with_usage", message=str(exc), usage=form.usage)

    @staticmethod
    def convert(ctx: Context, parsed: Parsed) -> SimpleNamespace:
        """The parsed words as values (items, dates, units…); ArgError when one cannot be used."""
        values = {}
        for arg in parsed.form.args:
            value = parsed.raw.get(arg.name)
            values[arg.name] = None if value is None else arg.convert(ctx, value)
        return SimpleNamespace(**values)

    def may_call_out(self, text: str) -> bool:
        """Whether `text` names a command that calls out (自检): only then is it worth reading
        before the transaction (`transactional`). A cheap look at the words, no database."""
        folded = fold(text).lower()
        return any(
            fold(name).lower() in folded
            for cmd in self._commands
            if not all(form.transactional for form in cmd.forms)
            for name in cmd.names
        )


def forbidden(form: Form) -> str:
    words = [form.command] + [a.usage for a in form.args if isinstance(a, Keyword)]
    return (
        f"“{' '.join(words)}”只有{ACCESS_LABELS[form.access]}可以使用。发送“帮助”查看您可用的命令。"
    )


def _bare(arg: Arg) -> str:
    """An argument's usage without its brackets, for use inside a larger bracket."""
    return arg.usage.strip("<>[]")


def summary_usage(name: str, forms: list[Form]) -> str:
    """One usage line for several forms: 单位 [单位], 催办 <编号|单位>, 周报 预览|发布,
    群组 [组名] [加|减 单位…]; otherwise the forms one after another."""
    forms = list(dict.fromkeys(forms))
    if len(forms) == 1:
        return forms[0].usage
    if all(len(f.args) <= 1 for f in forms):
        args = [f.args[0] for f in forms if f.args]
        joined = "|".join(dict.fromkeys(_bare(a) for a in args))
        if len(args) < len(forms):
            return f"{name} [{joined}]"
        if all(isinstance(a, Keyword) for a in args):
            return f"{name} {joined}"
        return f"{name} <{joined}>"
    ordered = sorted(forms, key=lambda f: len(f.args))
    if all(b.args[: len(a.args)] == a.args for a, b in pairwise(ordered)):
        parts, done = [name], 0
        for form in ordered:
            new = form.args[done:]
            if new:
                text = " ".join(_bare(a) for a in new)
                parts.append(" ".join(a.usage for a in new) if form is ordered[0] else f"[{text}]")
            done = len(form.args)
        return " ".join(parts)
    rest = forms[1:]
    if all(f.args and isinstance(f.args[0], Keyword) for f in rest):
        words = "|".join(dict.fromkeys(_fixed_words(f.args[0])[0] for f in rest))
        return f"{forms[0].usage}（另有 {name} {words}…）"
    if len(forms) > 2:
        return f"{forms[0].usage}（另有 {len(forms) - 1} 种写法，见“帮助 {name}”）"
    return "；".join(f.usage for f in forms)


def summary_help(forms: list[Form]) -> str:
    """The help line for a command as one person sees it: its first form's help, or both when
    it has just two forms (周报 预览|发布, 单位 [单位])."""
    helps = list(dict.fromkeys(f.help for f in forms))
    return "；".join(helps) if len(helps) == 2 else helps[0]


REGISTRY = Registry()
command = REGISTRY.command
