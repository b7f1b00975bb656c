"""The baseline for the callback benchmark: a bare wechatpy decrypt-and-parse handler under the
same server (waitress, same thread count) as the bot, doing nothing else.

    python3 bench/bare_callback.py TOKEN AES_KEY CORP_ID   (prints "listening on PORT")
"""

from __future__ import annotations

import sys
from urllib.parse import parse_qs

from waitress import create_server
from wechatpy.work.crypto import WeChatCrypto
from wechatpy.work.parser import parse_message


def make_app(token: str, aes_key: str, corp_id: str):
    crypto = WeChatCrypto(token, aes_key, corp_id)

    def app(environ, start_response):
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        try:
            plain = crypto.decrypt_message(
                body, query["msg_signature"], query["timestamp"], query["nonce"]
            )
            parse_message(plain)
            status = "200 OK"
        except Exception:
            status = "400 Bad Request"
        start_response(status, [("Content-Length", "0")])
        return [b""]

    return app


if __name__ == "__main__":
    server = create_server(make_app(*sys.argv[1:4]), host="127.0.0.1", port=0, threads=8)
    print(f"listening on {server.effective_port}", flush=True)
    server.run()
