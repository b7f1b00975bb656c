"""The command registry and every command, one module per audience or topic.

Importing a module registers its commands; the order here is the order help lists them in.
"""

import importlib

from bot.commands.registry import REGISTRY

_MODULES = (
    "member",
    "evidence",
    "leader",
    "assigned",
    "milestones",
    "people",
    "deadlines",
    "scoring",
    "nudge",
    "office",
    "imports",
    "pack",
    "board",
    "sending",
)
REGISTRY.module_order = _MODULES
for _module in _MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["REGISTRY"]
