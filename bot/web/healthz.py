"""/healthz: the web process (this one, answering), the worker (its heartbeat) and the scheduler
(its last tick), each apart; 503 with the reasons when any of them is in trouble."""

from __future__ import annotations

import logging
import os

import peewee
from flask import Blueprint, jsonify

from bot import health
from bot.outbox import views as outbox_views
from bot.web.deps import deps

log = logging.getLogger(__name__)

routes = Blueprint("health", __name__)


@routes.get("/healthz")
def healthz():
    web_deps = deps()
    config = web_deps.config
    started_at = web_deps.started_at
    now = web_deps.clock.now()
    web = {
        "status": "ok",
        "pid": os.getpid(),
        "started_at": started_at.isoformat(),
        "uptime_seconds": health.seconds_since(started_at, now),
    }
    try:
        pending = outbox_views.count_with_status("pending")
        failed = outbox_views.count_with_status("failed")
        states = health.parts(now, config.health_worker_silent_seconds, since=started_at)
        leases = health.duties(now, config.timezone)
    except peewee.PeeweeException:
        log.exception("health check: database unavailable")
        return jsonify(status="error", database=False, web=web, reasons=["数据库无法读取"]), 503
    reasons = [state.reason for state in states if state.failing]
    body = {
        "status": "error" if reasons else "ok",
        "database": True,
        "mode": "wecom" if config.wecom_enabled else "sandbox",
        "sandbox": config.sandbox_enabled,
        "outbox": {"pending": pending, "failed": failed},
        "web": web,
        "leases": leases,  # which host and process sends and schedules, for the whole deployment
        **{state.name: state.as_json(config.timezone) for state in states},
        "reasons": reasons,
    }
    return jsonify(body), 503 if reasons else 200
