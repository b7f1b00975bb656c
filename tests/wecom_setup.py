"""Shared set-up for WeCom tests: the fake WeCom, a bot configured against it, a running server."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from conftest import make_config
from helpers import stop_waitress
from waitress import create_server

from bot.web import create_app

TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
AGENT_ID = 1000002


def wecom_config(tmp_path, db_url, fake, **overrides):
    settings = {
        "WECOM_CORP_ID": fake.corp_id,
        "WECOM_AGENT_ID": str(AGENT_ID),
        "WECOM_SECRET": fake.secret,
        "WECOM_TOKEN": TOKEN,
        "WECOM_ENCODING_AES_KEY": AES_KEY,
        "WECOM_API_BASE": fake.base_url,
        "WECOM_GROUP_WEBHOOK_URL": fake.webhook_url,
    }
    settings.update(overrides)
    return make_config(tmp_path, db_url, **settings)


@contextmanager
def running(services, idle=0.05):
    """The real WSGI app under waitress on port 0, with the outbox sender and inbound worker."""
    stop = threading.Event()
    threads = [
        threading.Thread(target=services.sender.loop, args=(stop, idle), daemon=True),
        threading.Thread(target=services.worker_loop, args=(stop, idle), daemon=True),
    ]
    for thread in threads:
        thread.start()
    server = create_server(create_app(services), host="127.0.0.1", port=0, threads=4)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop.set()
        services.sender.notify()
        services.worker_wake()
        stop_waitress(server, serving)
        for thread in threads:
            thread.join(timeout=5)
