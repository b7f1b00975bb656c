"""The fake WeCom in a process of its own, for benchmarks: the replies the bot sends are then not
answered by threads that share the load generator's interpreter (and its GIL).

    python3 bench/fake_wecom.py   (prints "fake wecom BASE_URL CORP_ID SECRET"; stops when its
                                   standard input is closed)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fakes.wecom_server import FakeWeCom  # noqa: E402


class _Forgetful(list):
    """A long benchmark's requests are not kept (the fake's memory stays flat)."""

    def append(self, _item) -> None:
        pass


def main() -> None:
    with FakeWeCom() as fake:
        fake.requests = _Forgetful()
        fake.messages = _Forgetful()
        print(f"fake wecom {fake.base_url} {fake.corp_id} {fake.secret}", flush=True)
        sys.stdin.read()  # until the parent closes the pipe (or dies)


if __name__ == "__main__":
    main()
