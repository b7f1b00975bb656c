"""The sandbox's doors: one check before every /sandbox request, before the database is opened
(docs/decisions.md, "The sandbox's doors"). Whoever gets through can act as anyone, admins
included. A refusal is a 403 (415 for a content type) with a short Chinese `error` and a
`reason` the page acts on. The same-origin test also guards the board's sign-out form.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
from urllib.parse import urlsplit

from flask import Response, abort, jsonify, request

from bot.config import Config
from bot.web.deps import deps

log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Sandbox-Token"
SECRET_HEADER = "X-Sandbox-Secret"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
_HOST_HEADER = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
# POST endpoints and the one content type each accepts (anything else is a 415).
BODY_TYPES = {
    "sandbox.send": "application/json",
    "sandbox.click": "application/json",
    "sandbox.upload": "multipart/form-data",
    "board_sandbox.signin": "application/json",  # the board's way in from the sandbox
    "desk_sandbox.sandbox_desk": "application/json",  # the desk's way in from the sandbox
}


def is_sandbox_path(path: str) -> bool:
    return path == "/sandbox" or path.startswith("/sandbox/")


def sandbox_doors() -> Response | tuple[Response, int] | None:
    """Every /sandbox request (routed or not), before anything is read or written. None lets
    the request through."""
    path = request.path
    if not is_sandbox_path(path):
        return None
    config = deps().config
    if not config.sandbox_enabled:
        abort(404)
    if not host_allowed(config, request.headers.get("Host", ""), request.environ):
        log.warning("sandbox refused a request for host %r", request.headers.get("Host"))
        return _refused("host", "地址不对：请用启动时显示的地址打开沙盒。")
    if not config.sandbox_remote_allowed and not is_loopback(request.remote_addr):
        return _refused("remote", "沙盒只允许本机访问。")
    if not path.startswith("/sandbox/api/"):
        return None
    if not same_origin(request.headers):
        log.warning("sandbox refused a cross-site request from %r", request.headers.get("Origin"))
        return _refused("cross-site", "拒绝跨站请求。")
    if not equal(request.headers.get(TOKEN_HEADER, ""), deps().page_token):
        return _refused("token", "页面已过期（服务可能已重启），请刷新页面。")
    if config.sandbox_secret and not equal(
        request.headers.get(SECRET_HEADER, ""), config.sandbox_secret
    ):
        log.warning("sandbox refused a wrong secret from %s", request.remote_addr)
        return _refused("secret", "沙盒口令不对。")
    wanted = BODY_TYPES.get(request.endpoint or "")
    if request.method == "POST" and wanted and request.mimetype != wanted:
        return jsonify(ok=False, reason="content-type", error=f"请求格式不对：需要 {wanted}。"), 415
    return None


def sandbox_headers(response: Response) -> Response:
    if is_sandbox_path(request.path):
        # Not in anyone's frame (clicks steered from another site), not cached (the page
        # carries the token), JSON never sniffed as HTML.
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
    return response


def _refused(reason: str, message: str):
    return jsonify(ok=False, reason=reason, error=message), 403


def equal(given: str, expected: str) -> bool:
    """Constant time, whatever was sent (header values may hold any Latin-1 byte)."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def split_host(value: str) -> tuple[str, int | None] | None:
    """`name:port` of a Host or Origin as (lower-case name without brackets, port or None)."""
    if not _HOST_HEADER.match(value):
        return None
    parts = urlsplit("//" + value)
    try:
        return (parts.hostname or "", parts.port)
    except ValueError:  # a port above 65535
        return None


def host_allowed(config: Config, host_header: str, environ: dict) -> bool:
    """The Host a browser put in the request names this server as configured. Another name
    (DNS rebinding: a site's own name resolving to 127.0.0.1) is refused. Loopback names must
    carry the port the server listens on; configured remote names may leave it out (a proxy)."""
    host = split_host(host_header)
    if host is None:
        return False
    name, port = host
    if name in LOOPBACK_NAMES:
        return (port or 80) == int(environ.get("SERVER_PORT") or 0)
    if not config.sandbox_remote_allowed:
        return False
    for allowed, allowed_port in config.sandbox_hosts:
        if name == allowed and (
            allowed_port is None
            or port == allowed_port
            or (port is None and allowed_port in (80, 443))
        ):
            return True
    return False


def same_origin(headers) -> bool:
    """What the browser says about who sent the request: Sec-Fetch-Site (when sent) is
    same-origin or none (typed in), and an Origin (when sent) is the Host asked for."""
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = headers.get("Origin")
    if origin is None:
        return True  # not a browser's cross-origin request (they always send Origin)
    parts = urlsplit(origin)
    host = split_host(headers.get("Host", ""))
    if parts.scheme not in ("http", "https") or host is None or parts.path:
        return False
    default = 443 if parts.scheme == "https" else 80
    try:
        origin_host = (parts.hostname or "", parts.port or default)
    except ValueError:
        return False
    return origin_host == (host[0], host[1] or default)


def is_loopback(addr: str | None) -> bool:
    try:
        return ipaddress.ip_address((addr or "").split("%", 1)[0]).is_loopback
    except ValueError:
        return False
