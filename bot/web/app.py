"""The app factory: the Flask app, its dependencies (one `WebDeps`) and its Blueprints.

/healthz (healthz.py), the browser sandbox behind its doors (sandbox.py, doors.py), WeCom's
callback with its fast path in front of Flask (callback.py), and the leaders' board
(board.py). Hooks that hold for every route live here, in the order they must run: the
sandbox's doors before the database is opened.
"""

from __future__ import annotations

import logging
import secrets

from flask import Flask, jsonify, request

from bot.render import TEMPLATE_DIR
from bot.services import Services
from bot.web import board, callback, desk, doors, healthz, sandbox, upload
from bot.web.deps import EXTENSION, WebDeps, deps
from models.db import CONNECTION_ERRORS, database, drop_connection, is_postgres

log = logging.getLogger(__name__)


def create_app(services: Services) -> Flask:
    config = services.config
    # (Flask's default /static route stays as it was: nothing is there, every file is a 404.)
    app = Flask("bot.web", template_folder=str(TEMPLATE_DIR))
    # Chinese errors readable as they are (a refused page shows its JSON in the browser).
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Flask's default provider
    # Uploads are capped by the evidence limit plus room for the form fields.
    app.config["MAX_CONTENT_LENGTH"] = config.evidence_max_bytes + 64 * 1024
    web = WebDeps(
        config=config,
        clock=services.clock,
        renderer=services.renderer,
        pipeline=services.pipeline,
        evidence=services.evidence,
        client=services.client,
        callback=services.wecom_callback(),
        wake_worker=services.worker_wake,
        page_token=secrets.token_urlsafe(32),
        started_at=services.clock.now(),
        per_request_connection=is_postgres(),
    )
    app.extensions[EXTENSION] = web

    # Every request, in this order: the sandbox's doors (nothing is read before them), then
    # the database connection.
    app.before_request(doors.sandbox_doors)
    app.before_request(_open_db)
    app.after_request(doors.sandbox_headers)
    app.teardown_request(_close_db)
    app.register_error_handler(413, _too_large)
    app.register_error_handler(Exception, _crash)

    app.register_blueprint(healthz.routes)
    app.register_blueprint(callback.routes)
    app.register_blueprint(sandbox.routes)
    app.register_blueprint(board.routes)  # the leaders' board: /board, its own sign-in
    app.register_blueprint(desk.routes)  # the office's desk: /desk, the board's sign-in
    app.register_blueprint(upload.routes)  # the upload page: /board/upload, the board's sign-in
    if config.sandbox_enabled:
        app.register_blueprint(board.sandbox_signin)
        app.register_blueprint(desk.sandbox_signin)
    if web.callback is not None:
        app.wsgi_app = callback.FastPath(app.wsgi_app, web)  # type: ignore[method-assign]
    return app


def _open_db() -> None:
    # SQLite: one connection per server thread, kept open (closing the last connection to a WAL
    # database checkpoints it, a millisecond or more a request). PostgreSQL: one per request, so
    # a connection the server dropped (a restart, a failover, a proxy's idle timeout) is never
    # reused; the callback's hot path writes through the recorder anyway.
    database.connect(reuse_if_open=True)


def _close_db(_exc) -> None:
    if deps().per_request_connection:
        drop_connection()


def _too_large(_exc):
    mb = deps().config.evidence_max_bytes // (1024 * 1024)
    return jsonify(ok=False, error=f"文件超过 {mb} MB 上限。"), 413


def _crash(exc):
    if hasattr(exc, "code") and isinstance(exc.code, int):
        return jsonify(ok=False, error=str(exc.description)), exc.code
    if isinstance(exc, CONNECTION_ERRORS):
        # The database is away: 503 makes WeCom deliver the callback again, and the next
        # request connects anew. Nothing was acknowledged, so nothing is lost.
        log.error("database unavailable in %s: %s", request.path, exc)
        drop_connection()
        return jsonify(ok=False, error="数据库暂时不可用，请稍后再试"), 503
    log.exception("unhandled error in %s", request.path)
    return jsonify(ok=False, error="服务器内部错误"), 500
