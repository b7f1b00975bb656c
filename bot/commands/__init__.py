"""The command registry and every command, one module per audience.

Importing a module registers its commands; the order here is the order help lists them in.
"""

import importlib

from bot.commands.registry import REGISTRY

for _module in ("member", "evidence", "leader", "admin"):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["REGISTRY"]
