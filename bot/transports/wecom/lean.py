"""wechatpy without its package `__init__` files, which import all of it.

`import wechatpy.work.crypto` first runs `wechatpy/__init__.py`, and that imports the Official
Account client with its forty APIs, WeChat Pay and the component client: 25 MB resident in every
process that touches wechatpy, where the callback's crypto needs 7 MB (most of it the
`cryptography` library) and the Work client 2 MB more than `requests`. The bot uses only
`wechatpy.work.crypto`, `wechatpy.work.parser`, `wechatpy.work.client`, `wechatpy.session` and
`wechatpy.exceptions`, always by their full module names.

`load()` registers the four packages whose `__init__` pulls in the rest as plain package
objects (found by the normal import system, their own code not run), so that importing a
submodule loads that submodule and what it imports itself, nothing else. It is called by the
modules here before they import wechatpy. If wechatpy was already imported in full (a test's
fake WeCom may do so first), it changes nothing. After it, `from wechatpy import X` and
`from wechatpy.work import X` do not work: import from the submodule that defines X.
"""

from __future__ import annotations

import importlib.util
import sys
import threading

# Parent first: a subpackage is found through its parent's __path__.
PACKAGES = ("wechatpy", "wechatpy.client", "wechatpy.client.api", "wechatpy.work")

_lock = threading.Lock()


def load() -> None:
    with _lock:
        for name in PACKAGES:
            if name in sys.modules:
                continue
            spec = importlib.util.find_spec(name)
            if spec is None or spec.submodule_search_locations is None:
                raise ImportError(f"{name} is not an installed package")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            parent, _, child = name.rpartition(".")
            if parent:
                setattr(sys.modules[parent], child, module)
