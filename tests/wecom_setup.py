"""Shared set-up for WeCom tests: the fake WeCom, a bot configured against it, a running server."""

from __future__ import annotations

from conftest import make_config

TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
AGENT_ID = 1000002


def wecom_settings(fake) -> dict[str, str]:
    """The WeCom app's settings against the fake WeCom."""
    return {
        "WECOM_CORP_ID": fake.corp_id,
        "WECOM_AGENT_ID": str(AGENT_ID),
        "WECOM_SECRET": fake.secret,
        "WECOM_TOKEN": TOKEN,
        "WECOM_ENCODING_AES_KEY": AES_KEY,
        "WECOM_API_BASE": fake.base_url,
    }


def wecom_config(tmp_path, db_url, fake, **overrides):
    settings = {**wecom_settings(fake), "WECOM_GROUP_WEBHOOK_URL": fake.webhook_url}
    settings.update(overrides)
    return make_config(tmp_path, db_url, **settings)


def paced_by(services, clock):
    """The WeCom transport's rate windows on the test's fake clock (the fake WeCom's, too, when
    its clock is set from the same): pacing then moves only when the test moves time."""
    from bot.transports.wecom.stored import MemberWindow
    from bot.transports.wecom.transport import SlidingWindow

    def tick() -> float:
        return clock.now().timestamp()

    services.transport.per_member = MemberWindow(30, 60, now=tick)
    services.transport.per_robot = SlidingWindow(20, 60, now=tick)
    return services
