"""wechatpy loaded a part at a time (bot/transports/wecom/lean.py), in a fresh interpreter as
`run.py` starts one: the web process decrypts Tencent's sample without requests or wechatpy's
Official Account and Pay parts, the client comes only with its first use, and it works."""

from __future__ import annotations

import json
import subprocess
import sys

from service_setup import ROOT, clean_env
from wecom_setup import wecom_settings

PROBE = r"""
import json, sys
from datetime import UTC, datetime
from urllib.parse import quote

sys.path.insert(0, sys.argv[1])
from bot.clock import FakeClock
from bot.config import Config
from bot.services import build_services
from bot.web import create_app
from models.db import database, open_database

settings = json.loads(sys.argv[2])
config = Config.from_mapping(settings)
open_database(settings["DATABASE_URL"])
HEAVY = ("requests", "wechatpy.pay", "wechatpy.client.api.menu", "wechatpy.component",
         "wechatpy.oauth", "cryptography")
seen = {}
clock = FakeClock(datetime.fromtimestamp(1476416373, UTC))
services = build_services(config, clock)
seen["built"] = [name for name in HEAVY if name in sys.modules]
app = create_app(services).test_client()
echostr = "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
answer = app.get(
    "/wecom/callback?msg_signature=012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb"
    f"&timestamp=1476416373&nonce=47744683&echostr={quote(echostr, safe='')}"
)
seen["echo"] = [answer.status_code, answer.data.decode()]
seen["web"] = [name for name in HEAVY if name in sys.modules]
with database.connection_context():
    seen["token"] = services.client.token()
seen["client"] = [name for name in HEAVY if name in sys.modules]
print(json.dumps(seen))
"""


def test_the_web_process_loads_only_the_crypto_and_the_client_comes_on_first_use(
    tmp_path, db_url, fake
):
    settings = {
        **wecom_settings(fake),
        "DATABASE_URL": db_url,
        "DATA_DIR": str(tmp_path / "data"),
    }
    assert fake.corp_id == "ww1436e0e65a779aee"  # the fake plays the sample's corp
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT), json.dumps(settings)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["built"] == []  # services built: no WeCom library loaded yet
    assert seen["echo"] == [200, "1288432023552776189"]  # Tencent's sample decrypts
    assert seen["web"] == ["cryptography"]  # the callback's crypto, nothing else
    assert seen["token"]  # the client, built on first use, fetched a token from the fake
    assert seen["client"] == ["requests", "cryptography"]  # no Pay, OAuth, component, MP APIs
