"""WeCom's callback URL (/wecom/callback): the GET that checks the URL goes through Flask; the
POST that brings a message, the hot path, is answered in front of Flask (`FastPath`): no
routing, no hooks, no database connection (the journal or the writer thread writes)."""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Blueprint, Response, abort, request

from bot.recorder import JournalFull
from bot.transports.wecom.callback import MAX_BODY, CallbackError, parse_query
from bot.web.deps import WebDeps, deps
from models.db import CONNECTION_ERRORS, drop_connection

log = logging.getLogger(__name__)

PATH = "/wecom/callback"
HTTP_STATUS = {
    code: f"{code} {HTTPStatus(code).phrase}" for code in (200, 400, 403, 404, 413, 500, 503)
}

routes = Blueprint("wecom", __name__)


def receive(web: WebDeps, query: bytes, body: bytes) -> int:
    """A message from WeCom: check, decrypt, journal (or record); the HTTP status."""
    assert web.callback is not None  # the route exists only with WeCom configured
    try:
        handled = web.callback.receive(parse_query(query), body)
    except CallbackError as exc:
        log.info("callback refused (%s): %s", exc.status, exc.reason)
        return exc.status
    except JournalFull as exc:  # the database has been away for long: WeCom tries again
        log.error("callback refused: %s", exc)
        return 503
    except CONNECTION_ERRORS as exc:  # (recorded without the journal: nothing acknowledged)
        log.error("database unavailable in the callback: %s", exc)
        drop_connection()
        return 503
    if handled is not None and handled.inbound_id is not None:
        web.wake_worker()  # (a journaled row wakes the worker once it is committed)
    return 200


@routes.route(PATH, methods=["GET", "POST"])
def wecom_callback():
    web = deps()
    if web.callback is None:
        abort(404)
    if request.method == "POST":  # (only when the fast path is not in front: no WeCom)
        body = request.stream.read(MAX_BODY + 1)
        return Response("", status=receive(web, request.query_string, body))
    try:
        plain = web.callback.verify_url(parse_query(request.query_string))
    except CallbackError as exc:
        log.info("callback refused (%s): %s", exc.status, exc.reason)
        return Response("", status=exc.status)
    return Response(plain, status=200, mimetype="text/plain")


class FastPath:
    """WSGI in front of the Flask app: WeCom's POSTs to the callback are answered here, before
    Flask builds a request; everything else goes on to Flask."""

    def __init__(self, flask_app, web: WebDeps):
        self.flask_app = flask_app
        self.web = web

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH or environ["REQUEST_METHOD"] != "POST":
            return self.flask_app(environ, start_response)
        try:
            body = environ["wsgi.input"].read(MAX_BODY + 1)
            query = environ.get("QUERY_STRING", "").encode("latin-1")
            status = receive(self.web, query, body)
        except Exception:
            log.exception("unhandled error in the callback")
            status = 500
        start_response(HTTP_STATUS.get(status, f"{status} Error"), [("Content-Length", "0")])
        return [b""]
