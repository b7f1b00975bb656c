"""Wake-ups between the two processes on one machine: the web process sends a datagram to the
worker when it has recorded a callback or queued a sandbox reply, so neither waits for the
worker's poll (which stays, as the fallback)."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from pathlib import Path

from bot.services import Services

log = logging.getLogger("run")


def listen_for_wakes(services: Services, stop: threading.Event, path: Path) -> int | None:
    """A datagram on 127.0.0.1 wakes the worker at once. The port is written to `path`, in the
    DATA_DIR both processes share. Returns the port, or None (no socket: the worker polls)."""
    try:
        listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(1.0)
        port = listener.getsockname()[1]
        path.write_text(str(port), encoding="ascii")
    except OSError as exc:
        log.warning("no wake-up socket (%s): the worker polls", exc)
        return None

    def listen() -> None:
        with listener:
            while not stop.is_set():
                try:
                    listener.recv(64)
                except TimeoutError:
                    continue
                except OSError:
                    return
                services.worker_wake()
                services.sender.notify()
        with contextlib.suppress(OSError):
            if path.read_text(encoding="ascii") == str(port):
                path.unlink()

    threading.Thread(target=listen, name="wake-listener", daemon=True).start()
    return port


class RemoteWake:
    """The web process's side: a datagram to the worker on this machine, at the port in the
    worker's wake file (re-read every few seconds: a restarted worker has a new one). No worker
    here (it runs on another machine), or no file: nothing is sent, and the worker polls."""

    REREAD = 5.0

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.port: int | None = None
        self.read_at = -self.REREAD
        self.lock = threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            # No port yet (the worker is still starting): look each time, it is one small file.
            if self.port is None or time.monotonic() - self.read_at >= self.REREAD:
                self.read_at = time.monotonic()
                self.port = self._port()
            port = self.port
        if port:
            with contextlib.suppress(OSError):
                self.sock.sendto(b"w", ("127.0.0.1", port))

    def _port(self) -> int | None:
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() and 0 < int(text) < 65536 else None

    def close(self) -> None:
        self.sock.close()
