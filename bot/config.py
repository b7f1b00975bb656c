"""The bot's settings: one frozen object built from a mapping and validated at start.

Only `run.py` reads the environment; it passes the merged mapping here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# name -> (default, one-line description). The order is the order of config.example.env.
SETTINGS: dict[str, tuple[str, str]] = {
    "DATABASE_URL": (
        "sqlite:///data/bot.db",
        "数据库地址：sqlite:///路径 或 postgresql://用户@主机:端口/库名",
    ),
    "DATA_DIR": ("data", "数据目录：演示库、佐证材料文件都放在这里"),
    "HTTP_HOST": ("127.0.0.1", "HTTP 服务监听地址"),
    "HTTP_PORT": ("8000", "HTTP 服务端口"),
    "BOT_TIMEZONE": ("Asia/Shanghai", "时区（提醒、期限、周报都按这个时区计算）"),
    "BOT_ADMINS": ("", "管理员的企业微信 userid，多个用英文逗号分隔"),
    "SANDBOX": ("", "浏览器沙盒：留空=未配置企业微信时仅本机可用；1=允许其他机器访问；0=关闭"),
    "EVIDENCE_MAX_MB": ("20", "单个佐证材料文件的大小上限（MB）"),
    "EVIDENCE_ATTACH_MINUTES": ("30", "未注明编号的文件，归到该联络员多少分钟内最后提到的任务"),
    "REMIND_AT": ("09:00", "每个工作日发送提醒的时间"),
    "REMIND_DAYS_BEFORE": ("7,3,1", "期限前几个工作日提醒（逗号分隔）"),
    "ESCALATE_AFTER": ("3", "逾期第几个工作日起同时提醒单位负责人"),
    "QUIET_HOURS": ("21:00-08:00", "免打扰时段：这段时间不发提醒和周报"),
    "DIGEST_AT": ("09:00", "每周第一个工作日发送周报的时间"),
    "OUTBOX_MAX_AGE_HOURS": (
        "24",
        "企业微信持续无法送达时，消息最多保留重试多少小时，之后作废并通知管理员"
        "（提醒只当天有效，周报只本周有效）",
    ),
    "WECOM_CORP_ID": ("", "企业ID（我的企业 → 企业信息）"),
    "WECOM_AGENT_ID": ("", "自建应用的 AgentId"),
    "WECOM_SECRET": ("", "自建应用的 Secret"),
    "WECOM_TOKEN": ("", "接收消息的 Token（不超过 32 位字母数字）"),
    "WECOM_ENCODING_AES_KEY": ("", "接收消息的 EncodingAESKey（43 位）"),
    "WECOM_API_BASE": (
        "https://qyapi.weixin.qq.com",
        "企业微信 API 地址（测试时可指向本机的模拟服务）",
    ),
    "WECOM_GROUP_WEBHOOK_URL": ("", "领导小组群的群机器人 Webhook 地址（与下一项二选一）"),
    "WECOM_GROUP_CHAT_ID": ("", "领导小组群的应用群聊 chatid（与上一项二选一）"),
}

WECOM_APP_KEYS = (
    "WECOM_CORP_ID",
    "WECOM_AGENT_ID",
    "WECOM_SECRET",
    "WECOM_TOKEN",
    "WECOM_ENCODING_AES_KEY",
)

_USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class ConfigError(ValueError):
    """Raised with every problem found, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("配置有误：\n" + "\n".join(f"- {p}" for p in problems))


@dataclass(frozen=True)
class Config:
    database_url: str
    data_dir: Path
    http_host: str
    http_port: int
    timezone: ZoneInfo
    admins: frozenset[str]
    sandbox_mode: str  # "auto" | "open" | "off"
    evidence_max_bytes: int
    evidence_attach_minutes: int
    remind_at: time = time(9, 0)
    remind_days_before: tuple[int, ...] = (7, 3, 1)
    escalate_after: int = 3
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    digest_at: time = time(9, 0)
    outbox_max_age_hours: int = 24
    wecom_corp_id: str = ""
    wecom_agent_id: int | None = None
    wecom_secret: str = field(default="", repr=False)
    wecom_token: str = field(default="", repr=False)
    wecom_encoding_aes_key: str = field(default="", repr=False)
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    wecom_group_webhook_url: str = field(default="", repr=False)
    wecom_group_chat_id: str = ""

    @property
    def wecom_enabled(self) -> bool:
        return bool(self.wecom_corp_id)

    def in_quiet_hours(self, now: datetime) -> bool:
        moment = now.astimezone(self.timezone).time()
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= moment < self.quiet_end
        return moment >= self.quiet_start or moment < self.quiet_end

    @property
    def sandbox_enabled(self) -> bool:
        return not self.wecom_enabled and self.sandbox_mode != "off"

    @property
    def sandbox_remote_allowed(self) -> bool:
        return self.sandbox_mode == "open"

    @classmethod
    def from_mapping(cls, mapping: dict[str, str], base_dir: Path | None = None) -> Config:
        """Relative paths (DATA_DIR, a SQLite file in DATABASE_URL) are resolved here, once,
        against `base_dir` (the working directory by default): the web process, its worker and
        every file store then mean the same folder, whatever directory each of them runs in."""
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        raw = {k: (mapping.get(k) or "").strip() or default for k, (default, _) in SETTINGS.items()}
        problems: list[str] = []

        url = raw["DATABASE_URL"]
        scheme = url.split(":", 1)[0].lower()
        if scheme not in ("sqlite", "postgresql", "postgres") or "://" not in url:
            problems.append(f"DATABASE_URL={url!r} 无法识别：应为 sqlite:///路径 或 postgresql://…")
        elif scheme == "sqlite":
            url = _absolute_sqlite_url(url, base)

        port = _parse_int(raw["HTTP_PORT"], "HTTP_PORT", 0, 65535, problems)

        host = raw["HTTP_HOST"]
        if host != "localhost":
            try:
                ipaddress.ip_address(host)
            except ValueError:
                problems.append(f"HTTP_HOST={host!r} 不是 IP 地址或 localhost")

        try:
            tz = ZoneInfo(raw["BOT_TIMEZONE"])
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"BOT_TIMEZONE={raw['BOT_TIMEZONE']!r} 不是有效的时区名")
            tz = ZoneInfo("Asia/Shanghai")

        admins = [a.strip() for a in raw["BOT_ADMINS"].replace("，", ",").split(",") if a.strip()]
        bad_admins = [a for a in admins if not _USERID.match(a)]
        if bad_admins:
            problems.append(f"BOT_ADMINS 中的 userid 格式不对：{', '.join(bad_admins)}")

        sandbox = {"": "auto", "1": "open", "0": "off"}.get(raw["SANDBOX"].lower())
        if sandbox is None:
            problems.append(f"SANDBOX={raw['SANDBOX']!r} 只能留空、1 或 0")
            sandbox = "auto"

        max_mb = _parse_int(raw["EVIDENCE_MAX_MB"], "EVIDENCE_MAX_MB", 1, 1024, problems)
        minutes = _parse_int(
            raw["EVIDENCE_ATTACH_MINUTES"], "EVIDENCE_ATTACH_MINUTES", 0, 24 * 60, problems
        )

        agent_id = _check_wecom(raw, problems)
        remind_at = _parse_time(raw["REMIND_AT"], "REMIND_AT", problems)
        digest_at = _parse_time(raw["DIGEST_AT"], "DIGEST_AT", problems)
        quiet_start, quiet_end = time(21, 0), time(8, 0)
        quiet = raw["QUIET_HOURS"].replace(" ", "").split("-")
        if len(quiet) != 2:
            problems.append(f"QUIET_HOURS={raw['QUIET_HOURS']!r} 应写成 21:00-08:00")
        else:
            quiet_start = _parse_time(quiet[0], "QUIET_HOURS", problems)
            quiet_end = _parse_time(quiet[1], "QUIET_HOURS", problems)
        days_before: tuple[int, ...] = ()
        try:
            days_before = tuple(
                sorted(
                    {int(x) for x in raw["REMIND_DAYS_BEFORE"].split(",") if x.strip()},
                    reverse=True,
                )
            )
            if not days_before or min(days_before) < 1 or max(days_before) > 60:
                raise ValueError
        except ValueError:
            problems.append(
                f"REMIND_DAYS_BEFORE={raw['REMIND_DAYS_BEFORE']!r} 应为 1–60 的整数，逗号分隔"
            )
        escalate = _parse_int(raw["ESCALATE_AFTER"], "ESCALATE_AFTER", 1, 60, problems)
        max_age = _parse_int(
            raw["OUTBOX_MAX_AGE_HOURS"], "OUTBOX_MAX_AGE_HOURS", 1, 30 * 24, problems
        )

        if problems:
            raise ConfigError(problems)
        return cls(
            database_url=url,
            data_dir=(base / raw["DATA_DIR"]).resolve(),
            http_host=host,
            http_port=port,
            timezone=tz,
            admins=frozenset(admins),
            sandbox_mode=sandbox,
            evidence_max_bytes=max_mb * 1024 * 1024,
            evidence_attach_minutes=minutes,
            remind_at=remind_at,
            remind_days_before=days_before,
            escalate_after=escalate,
            quiet_start=quiet_start,
            quiet_end=quiet_end,
            digest_at=digest_at,
            outbox_max_age_hours=max_age,
            wecom_corp_id=raw["WECOM_CORP_ID"],
            wecom_agent_id=agent_id,
            wecom_secret=raw["WECOM_SECRET"],
            wecom_token=raw["WECOM_TOKEN"],
            wecom_encoding_aes_key=raw["WECOM_ENCODING_AES_KEY"],
            wecom_api_base=raw["WECOM_API_BASE"].rstrip("/"),
            wecom_group_webhook_url=raw["WECOM_GROUP_WEBHOOK_URL"],
            wecom_group_chat_id=raw["WECOM_GROUP_CHAT_ID"],
        )


def sqlite_url(path: Path) -> str:
    """The DATABASE_URL of a SQLite file (sqlite:////abs/path, or sqlite:///C:/path on Windows)."""
    return "sqlite:///" + quote(Path(path).as_posix(), safe="/:")


def _absolute_sqlite_url(url: str, base: Path) -> str:
    """sqlite:///relative/path made absolute against `base`; anything else left as it is."""
    path = unquote(url.split(":///", 1)[1]) if ":///" in url else ""
    if not path or path == ":memory:" or Path(path).is_absolute():
        return url
    return sqlite_url((base / path).resolve())


def _parse_time(text: str, name: str, problems: list[str]) -> time:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
        return time(int(match.group(1)), int(match.group(2)))
    problems.append(f"{name}={text!r} 应为 时:分，如 09:00")
    return time(9, 0)


def _parse_int(text: str, name: str, low: int, high: int, problems: list[str]) -> int:
    try:
        value = int(text)
    except ValueError:
        problems.append(f"{name}={text!r} 应为整数")
        return low
    if not low <= value <= high:
        problems.append(f"{name}={value} 超出范围 {low}–{high}")
    return value


def _check_wecom(raw: dict[str, str], problems: list[str]) -> int | None:
    """WeCom settings are all-or-nothing: a half-filled set is a mistake worth naming."""
    present = [k for k in WECOM_APP_KEYS if raw[k]]
    if not present:
        return None
    for key in WECOM_APP_KEYS:
        if not raw[key]:
            problems.append(f"{key} 未填写（已填写企业微信设置 {', '.join(present)}，需全部填写）")
    agent_id = None
    if raw["WECOM_AGENT_ID"]:
        try:
            agent_id = int(raw["WECOM_AGENT_ID"])
        except ValueError:
            problems.append(f"WECOM_AGENT_ID={raw['WECOM_AGENT_ID']!r} 应为数字")
    token = raw["WECOM_TOKEN"]
    if token and not re.fullmatch(r"[A-Za-z0-9]{1,32}", token):
        problems.append("WECOM_TOKEN 应为不超过 32 位的字母或数字")
    key = raw["WECOM_ENCODING_AES_KEY"]
    # wechatpy checks this with `assert`, which `python -O` strips: check it here.
    if key and not re.fullmatch(r"[A-Za-z0-9]{43}", key):
        problems.append("WECOM_ENCODING_AES_KEY 应为 43 位字母或数字")
    for name in ("WECOM_API_BASE", "WECOM_GROUP_WEBHOOK_URL"):
        value = raw[name]
        if value and urlsplit(value).scheme not in ("http", "https"):
            problems.append(f"{name} 应以 http:// 或 https:// 开头")
    return agent_id
