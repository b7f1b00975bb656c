"""Connections and start-up as a county server meets them: a stranger's idle connections do not
hold WeCom's callbacks back, and a process started before its database (PostgreSQL still coming
up after a reboot) waits for it, journals WeCom's callbacks meanwhile and says so in Chinese,
without a traceback."""

from __future__ import annotations

import contextlib
import socket

from fakes.wecom_callback import CallbackClient
from service_setup import Proc, wecom_env, write_env
from wecom_setup import AES_KEY, AGENT_ID, TOKEN

IDLE = 200  # waitress's own limit is 100: this many idle connections once held callbacks 40 s


def test_idle_connections_do_not_hold_back_a_callback(tmp_path, db_url, db, fake, bot):
    bot.bind("li", "市监局")
    db.close()
    env_file = write_env(tmp_path / "bot.env", wecom_env(tmp_path, db_url, fake))
    web = Proc(["web"], env_file, tmp_path)
    with contextlib.ExitStack() as stack:
        stack.callback(web.close)
        url = web.wait_for_line("服务已启动：").split("：", 1)[1].strip()
        port = int(url.split(":")[2].split("/")[0])
        for n in range(IDLE):
            idle = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
            if n % 4 == 0:  # some send half a request and stop, as a slow client would
                idle.sendall(b"POST /wecom/callback HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        client = CallbackClient(url.replace("/healthz", "/wecom/callback"), TOKEN, AES_KEY,
                                fake.corp_id, AGENT_ID)  # fmt: skip
        # Within WeCom's own 5 s (and the client's timeout): it is accepted and answered.
        answer = client.post(client.text("li", "我的任务", msg_id=8_000_001), timeout=5)
        assert answer.status_code == 200
    assert "Traceback" not in web.output()
