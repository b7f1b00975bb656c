"""WeCom error codes, what they mean to a person, and whether retrying can help."""

from __future__ import annotations

from dataclasses import dataclass

from bot.logs import scrub

# What the bot does about an errcode:
RETRY = "retry"  # wait and try again (busy, rate limits, the network)
REFRESH = "refresh"  # fetch a new access_token, try once more (the client does it at once)
TELL = "tell"  # a person must act (settings, trusted IP): the admins hear now; retried meanwhile
DROP = "drop"  # this message can never go: not retried, recorded, the admins hear of it
ACTIONS = {
    RETRY: "稍后自动重试",
    REFRESH: "换新的 access_token 再试一次",
    TELL: "立即告诉管理员（需要人处理），同时稍后重试",
    DROP: "不再重试：记为发送失败并告诉管理员",
}


@dataclass(frozen=True)
class ErrorInfo:
    """One WeCom errcode: what it means (Chinese, with what to do) and what the bot does."""

    meaning: str
    action: str
    retry_after: float | None = None  # seconds before a retry (RETRY, REFRESH, TELL)


ERRORS: dict[int, ErrorInfo] = {
    -1: ErrorInfo("企业微信系统繁忙", RETRY, 5),
    40001: ErrorInfo("Secret 不正确：请核对 WECOM_SECRET（自建应用详情页的 Secret）", TELL, 600),
    40003: ErrorInfo("userid 不正确（企业里没有这个人）：请核对绑定的 userid", DROP),
    40004: ErrorInfo("文件类型不对", DROP),
    40006: ErrorInfo("文件大小不符合企业微信的要求（文件最大 20MB，图片 10MB，至少 6 字节）", DROP),
    40007: ErrorInfo("文件的 media_id 无效或已过期（企业微信只保留 3 天）", DROP),
    40008: ErrorInfo("消息类型不对", DROP),
    40013: ErrorInfo("企业ID 不正确：请核对 WECOM_CORP_ID（我的企业 → 企业信息）", TELL, 600),
    40014: ErrorInfo("access_token 无效", REFRESH, 5),
    40031: ErrorInfo("收件人列表不正确（userid 格式不对或重复）", DROP),
    40056: ErrorInfo(
        "AgentId 不正确：请核对 WECOM_AGENT_ID（自建应用详情页的 AgentId）", TELL, 600
    ),
    40058: ErrorInfo("参数不正确（消息内容不符合企业微信的格式）", DROP),
    40079: ErrorInfo("卡片的 response_code 无效或已用过", DROP),
    41001: ErrorInfo("缺少 access_token", REFRESH, 5),
    42001: ErrorInfo("access_token 已过期", REFRESH, 5),
    42014: ErrorInfo("卡片的 task_id 本应用已经用过", DROP),
    44004: ErrorInfo("消息内容为空", DROP),
    45002: ErrorInfo("消息内容超过长度上限", DROP),
    45009: ErrorInfo("调用频率超过企业微信的限制，稍后再试", RETRY, 60),
    45033: ErrorInfo("并发调用过多，稍后再试", RETRY, 5),
    47001: ErrorInfo("数据格式不对（请求不是企业微信能读的 JSON）", DROP),
    48002: ErrorInfo("应用没有这项接口权限：请在管理后台检查应用权限", DROP),
    60011: ErrorInfo("收件人不在应用的可见范围内：请在管理后台把其加入应用可见范围", DROP),
    60020: ErrorInfo(
        "服务器 IP 不在企业微信“企业可信IP”名单中：请在管理后台 → 应用管理 → 本应用 → "
        "企业可信IP 中添加本机的出口 IP（约 1 分钟后生效）",
        TELL,
        300,
    ),
    60111: ErrorInfo("企业里没有这个 userid：请核对绑定的 userid", DROP),
    81013: ErrorInfo("收件人全部无效（userid 不存在或不在可见范围内）", DROP),
    86003: ErrorInfo("应用群聊不存在：请用“建群”命令由应用创建，或核对 WECOM_GROUP_CHAT_ID", DROP),
    86004: ErrorInfo("群主不正确：群主必须是群成员", DROP),
    86215: ErrorInfo("群成员不正确：至少 2 人，且都在应用的可见范围内", DROP),
    93000: ErrorInfo("群机器人地址无效：请核对 WECOM_GROUP_WEBHOOK_URL", DROP),
}
# A code not in the table: the admins hear at once (at most once an hour), and it is retried.
UNKNOWN = ErrorInfo("企业微信返回了未收录的错误码，请按错误码查阅企业微信文档", TELL, 30)


def lookup(errcode: int) -> ErrorInfo:
    return ERRORS.get(errcode, UNKNOWN)


TOKEN_ERRORS = tuple(code for code, info in ERRORS.items() if info.action == REFRESH)
# Answers that say nothing about the message: WeCom is busy or rate-limiting the app, or refuses
# every call (the trusted IP, the secret, the corp id). Network failures and 5xx are the same.
OUTAGE_ERRORS = frozenset(
    code for code, info in ERRORS.items() if info.action in (RETRY, REFRESH, TELL)
)


class WeComError(Exception):
    """An answer from WeCom with errcode != 0, or an HTTP/network failure (errcode None)."""

    def __init__(
        self,
        errcode: int | None,
        errmsg: str = "",
        *,
        http_status: int | None = None,
        uncertain: bool = False,
    ):
        self.errcode = errcode
        self.errmsg = scrub(errmsg)
        self.http_status = http_status
        # The request went out and no answer came back (a read timeout, a connection cut
        # after sending): WeCom may have taken it.
        self.uncertain = uncertain
        super().__init__(self.describe())

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before retrying, or None when retrying cannot help."""
        if self.errcode is None:
            if self.http_status is not None and 400 <= self.http_status < 500:
                return None
            return 5  # network failures, timeouts and 5xx
        return lookup(self.errcode).retry_after

    @property
    def action(self) -> str:
        """What the bot does about it: RETRY (network, 5xx) or the table's action."""
        if self.errcode is None:
            return RETRY if not self.permanent else DROP
        return lookup(self.errcode).action

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
        meaning = lookup(self.errcode).meaning
        text = f"企业微信错误 {self.errcode}"
        if meaning:
            text += f"：{meaning}"
        if self.errmsg:
            text += f"（{self.errmsg[:120]}）"
        return text
