"""WeCom error codes, what they mean to a person, and whether retrying can help."""

from __future__ import annotations

from bot.logs import scrub

# errcode -> (Chinese explanation with what to do, retry after seconds or None for permanent)
ERRORS: dict[int, tuple[str, float | None]] = {
    -1: ("企业微信系统繁忙", 5),
    40001: ("Secret 不正确：请核对 WECOM_SECRET（自建应用详情页的 Secret）", 600),
    40013: ("企业ID 不正确：请核对 WECOM_CORP_ID（我的企业 → 企业信息）", 600),
    40014: ("access_token 无效", 5),
    42001: ("access_token 已过期", 5),
    41001: ("缺少 access_token", 5),
    40007: ("文件的 media_id 无效或已过期（企业微信只保留 3 天）", None),
    40079: ("卡片的 response_code 无效或已用过", None),
    42014: ("卡片的 task_id 本应用已经用过", None),
    45002: ("消息内容超过长度上限", None),
    45009: ("调用频率超过企业微信的限制，稍后再试", 60),
    45033: ("并发调用过多，稍后再试", 5),
    48002: ("应用没有这项接口权限：请在管理后台检查应用权限", None),
    60011: ("收件人不在应用的可见范围内：请在管理后台把其加入应用可见范围", None),
    60020: (
        "服务器 IP 不在企业微信“企业可信IP”名单中：请在管理后台 → 应用管理 → 本应用 → "
        "企业可信IP 中添加本机的出口 IP（约 1 分钟后生效）",
        300,
    ),
    81013: ("收件人全部无效（userid 不存在或不在可见范围内）", None),
    86003: ("应用群聊不存在：请核对 WECOM_GROUP_CHAT_ID", None),
    93000: ("群机器人地址无效：请核对 WECOM_GROUP_WEBHOOK_URL", None),
}

TOKEN_ERRORS = (40014, 42001, 41001)
# Answers that say nothing about the message: WeCom is busy or rate-limiting the app, or refuses
# every call (the trusted IP, the secret, the corp id). Network failures and 5xx are the same.
OUTAGE_ERRORS = frozenset({-1, 40001, 40013, 45009, 45033, 60020, *TOKEN_ERRORS})


class WeComError(Exception):
    """An answer from WeCom with errcode != 0, or an HTTP/network failure (errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str = "", *, http_status: int | None = None):
        self.errcode = errcode
        self.errmsg = scrub(errmsg)
        self.http_status = http_status
        super().__init__(self.describe())

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before retrying, or None when retrying cannot help."""
        if self.errcode is None:
            if self.http_status is not None and 400 <= self.http_status < 500:
                return None
            return 5  # network failures, timeouts and 5xx
        known = ERRORS.get(self.errcode)
        return known[1] if known else 30

    @property
    def permanent(self) -> bool:
        return self.retry_after is None

    @property
    def outage(self) -> bool:
        """WeCom (or the way to it) is down for every message, not just this one: sending
        more while it lasts only adds load, so the sender holds the channel."""
        if self.errcode is None:
            return not self.permanent
        return self.errcode in OUTAGE_ERRORS

    def describe(self) -> str:
        if self.errcode is None:
            if self.http_status and self.errmsg:
                return f"{self.errmsg}（HTTP {self.http_status}）"
            if self.http_status:
                return f"企业微信返回 HTTP {self.http_status}"
            return f"无法连接企业微信：{self.errmsg}"
        meaning = ERRORS.get(self.errcode, ("",))[0]
        text = f"企业微信错误 {self.errcode}"
        if meaning:
            text += f"：{meaning}"
        if self.errmsg:
            text += f"（{self.errmsg[:120]}）"
        return text
