"""The bot's settings: one frozen object built from a mapping and validated at start.

Only the composition root (`bot/runtime/`) reads the environment; it passes the merged
mapping here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models import userids

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
    "SANDBOX": (
        "",
        "浏览器沙盒：留空=未配置企业微信时仅本机可用；1=允许其他机器访问（须设置 SANDBOX_SECRET）；"
        "0=关闭",
    ),
    "SANDBOX_SECRET": (
        "",
        "沙盒口令（至少 16 个英文字母、数字或符号）：SANDBOX=1 时必须填写，打开沙盒页面时要输入",
    ),
    "SANDBOX_HOSTS": (
        "",
        "SANDBOX=1 时，其他电脑在浏览器地址栏里访问本服务所用的主机名或 IP（逗号分隔，可带端口）；"
        "留空即 HTTP_HOST",
    ),
    "SANDBOX_USE_MAIN_DATABASE": (
        "",
        "SANDBOX=1 时沙盒用单独的数据库 DATA_DIR/sandbox.db；写“是”（或 yes）才让沙盒直接操作正式数据库",
    ),
    "EVIDENCE_MAX_MB": ("20", "单个佐证材料文件的大小上限（MB）"),
    "EVIDENCE_ATTACH_MINUTES": ("30", "未注明编号的文件，归到该联络员多少分钟内最后提到的任务"),
    "REMIND_AT": ("09:00", "每个工作日发送提醒的时间"),
    "REMIND_DAYS_BEFORE": ("7,3,1", "期限前几个工作日提醒（逗号分隔）"),
    "ESCALATE_AFTER": ("3", "逾期第几个工作日起同时提醒单位负责人"),
    "QUIET_HOURS": ("21:00-08:00", "免打扰时段：这段时间不发提醒和周报"),
    "DIGEST_AT": ("09:00", "每周第一个工作日发送周报的时间"),
    "NODE_REMIND_DAYS_BEFORE": (
        "3,1",
        "节点（实施细则）和定期报送：期限前几个工作日提醒（逗号分隔）",
    ),
    "REVIEW": (
        "plan,assigned,milestone",
        "报告“完成”后须经办公室审核（办结审核）的事项：plan=方案任务和指标，assigned=交办事项，"
        "milestone=节点；逗号分隔，留空写 none 表示都不审核",
    ),
    "RECURRING_DAY_OFF": (
        "previous",
        "定期报送的日子不是工作日时：previous=提前到前一个工作日，next=顺延到下一个工作日，keep=不变",
    ),
    "OUTBOX_MAX_AGE_HOURS": (
        "24",
        "企业微信持续无法送达时，消息最多保留重试多少小时，之后作废并通知管理员"
        "（提醒只当天有效，周报只本周有效）",
    ),
    "HEALTH_WORKER_SILENT_SECONDS": (
        "120",
        "后台进程（或定时任务）超过多少秒没有动静，/healthz 就答 503、自检报故障（5–86400）",
    ),
    "WORKER_POLL_SECONDS": (
        "2",
        "后台进程多久查一次新消息（1–300 秒）；同一台电脑上的网页进程收到消息会立刻叫醒它，"
        "这只是兜底（后台进程在另一台电脑上时就是回复的最长延迟）",
    ),
    "LOG_LEVEL": ("INFO", "日志级别：DEBUG、INFO、WARNING 或 ERROR"),
    "LOG_FILE": (
        "",
        "日志文件（如 data/logs/bot.log，后台进程写 bot-worker.log）；留空只输出到终端（systemd 日志）",
    ),
    "LOG_MAX_MB": ("10", "每个日志文件最大多少 MB，超过即轮换（1–1024）"),
    "LOG_BACKUPS": ("5", "轮换后保留几个旧日志文件（1–100），更早的删除"),
    "BACKUP_DIR": ("", "备份文件夹；留空即 DATA_DIR/backups"),
    "BACKUP_DAILY_AT": (
        "",
        "每天几点自动备份（如 02:30，只用于 SQLite）；留空不自动备份",
    ),
    "BACKUP_KEEP": ("7", "自动备份保留几份（1–365），更早的删除；手动备份不删"),
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
    "BOARD_BASE_URL": (
        "",
        "领导看板的对外地址，如 https://duban.example.gov.cn（不含 /board）：企业微信网页登录、"
        "应用主页、个人链接和周报、提醒里的链接都用它；留空则消息里不带链接，接入企业微信后看板不可用",
    ),
    "BOARD_SESSION_HOURS": ("12", "登录看板后多少小时内不必重新登录（1–168）"),
    "WECOM_OAUTH_URL": (
        "https://open.weixin.qq.com/connect/oauth2/authorize",
        "企业微信网页授权（登录看板）的地址（一般不用改；测试时可指向本机的模拟服务）",
    ),
    "WECOM_WEBLOGIN_URL": (
        "https://login.work.weixin.qq.com/wwlogin/sso/login",
        "企业微信 Web 登录（电脑浏览器扫码登录办公桌）的地址（一般不用改；测试时可指向本机的模拟服务）",
    ),
    "READER_LLM_URL": (
        "",
        "可选：本单位自己部署的大模型（OpenAI 兼容接口）地址，如 http://10.0.0.5:8000/v1；"
        "规则看不懂的消息请它改写成命令，且每次都先问本人“是/不是”再执行。留空不用",
    ),
    "READER_LLM_MODEL": ("", "上一项的模型名称（两项都填才启用）"),
    "READER_LLM_KEY": ("", "上一项接口的密钥（API key，没有就留空）"),
    "READER_LLM_TIMEOUT": ("6", "等大模型回答最多几秒（1–30），超时就按规则的回答答复"),
}

WECOM_APP_KEYS = (
    "WECOM_CORP_ID",
    "WECOM_AGENT_ID",
    "WECOM_SECRET",
    "WECOM_TOKEN",
    "WECOM_ENCODING_AES_KEY",
)

# Sent by the page as an HTTP header (Latin-1 only), so printable ASCII; 16 or more characters.
_SECRET = re.compile(r"^[\x21-\x7e]{16,256}$")
_HOST_ENTRY = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::(\d{1,5}))?$")
WILDCARD_HOSTS = ("0.0.0.0", "::")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SANDBOX_DATABASE = "sandbox.db"  # under DATA_DIR: the remote sandbox's own database
READERS_UNKNOWN = "?"  # in Config.env_file_readers: the file's permissions could not be read


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
    node_remind_days_before: tuple[int, ...] = (3, 1)
    review_kinds: frozenset[str] = frozenset({"plan", "assigned", "milestone"})
    recurring_day_off: str = "previous"
    outbox_max_age_hours: int = 24
    health_worker_silent_seconds: int = 120
    worker_poll_seconds: int = 2
    log_level: str = "INFO"
    log_file: Path | None = None
    log_max_bytes: int = 10 * 1024 * 1024
    log_backups: int = 5
    backup_dir: Path = Path("data/backups")
    backup_daily_at: time | None = None
    backup_keep: int = 7
    wecom_corp_id: str = ""
    wecom_agent_id: int | None = None
    wecom_secret: str = field(default="", repr=False)
    wecom_token: str = field(default="", repr=False)
    wecom_encoding_aes_key: str = field(default="", repr=False)
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    wecom_group_webhook_url: str = field(default="", repr=False)
    wecom_group_chat_id: str = ""
    sandbox_secret: str = field(default="", repr=False)
    # The host names (and ports, None = any) a browser may use for a remote sandbox.
    sandbox_hosts: tuple[tuple[str, int | None], ...] = ()
    sandbox_use_main_database: bool = False
    board_base_url: str = ""  # no trailing slash; the board lives under /board
    board_session_hours: int = 12
    wecom_oauth_url: str = "https://open.weixin.qq.com/connect/oauth2/authorize"
    wecom_weblogin_url: str = "https://login.work.weixin.qq.com/wwlogin/sso/login"
    reader_llm_url: str = ""  # no trailing slash
    reader_llm_model: str = ""
    reader_llm_key: str = field(default="", repr=False)
    reader_llm_timeout: int = 6
    # Where the settings came from, set by the composition root after from_mapping (自检 shows
    # them): the settings file read (None: none was found), its keys that are no setting, each
    # with the setting it probably means ("" when none is close), and who besides the service's
    # own account may read the file although it holds a secret.
    env_file: Path | None = None
    unknown_settings: tuple[tuple[str, str], ...] = ()
    env_file_readers: tuple[str, ...] = ()

    @property
    def database_text(self) -> str:
        """The database as people read it: a SQLite file's path, or PostgreSQL's address
        without its password."""
        return database_text(self.database_url)

    @property
    def board_enabled(self) -> bool:
        """The board is served in sandbox mode (signed in through the sandbox) and, with WeCom,
        once its public address is known (WeCom sends people back to it after signing in)."""
        if self.wecom_enabled:
            return bool(self.board_base_url)
        return self.sandbox_enabled

    @property
    def board_secure(self) -> bool:
        """Behind https: the board's cookies are Secure."""
        return self.board_base_url.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

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

    @property
    def sandbox_separate_database(self) -> bool:
        """A sandbox served to other machines works on DATA_DIR/sandbox.db unless the admin
        wrote SANDBOX_USE_MAIN_DATABASE=是: whoever knows the secret can act as any admin."""
        return (
            self.sandbox_enabled
            and self.sandbox_remote_allowed
            and not self.sandbox_use_main_database
        )

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
        bad_admins = [a for a in admins if not userids.valid(a)]
        if bad_admins:
            why = "；".join(userids.problem(a) or "" for a in bad_admins[:3])
            problems.append(f"BOT_ADMINS 中的 userid 格式不对：{', '.join(bad_admins)}（{why}）")

        sandbox = {"": "auto", "1": "open", "0": "off"}.get(raw["SANDBOX"].lower())
        if sandbox is None:
            problems.append(f"SANDBOX={raw['SANDBOX']!r} 只能留空、1 或 0")
            sandbox = "auto"
        data_dir = (base / raw["DATA_DIR"]).resolve()
        remote_sandbox = sandbox == "open" and not raw["WECOM_CORP_ID"]
        secret = raw["SANDBOX_SECRET"]
        if secret and not _SECRET.match(secret):
            problems.append(
                "SANDBOX_SECRET 应为 16 个以上的英文字母、数字或符号（不能有空格和中文）"
            )
        elif remote_sandbox and not secret:
            problems.append(
                "SANDBOX=1 允许其他电脑使用沙盒（可以冒充任何人，包括管理员），必须同时设置 "
                "SANDBOX_SECRET：16 个以上的英文字母、数字或符号，可用命令 "
                'python3 -c "import secrets; print(secrets.token_urlsafe(18))" 生成'
            )
        sandbox_hosts = _parse_hosts(raw["SANDBOX_HOSTS"], problems)
        if remote_sandbox and not sandbox_hosts:
            if host in WILDCARD_HOSTS:
                problems.append(
                    f"SANDBOX=1 且 HTTP_HOST={host} 时，请在 SANDBOX_HOSTS 中写明其他电脑在浏览器"
                    "地址栏里访问本服务所用的主机名或 IP（如 192.168.1.20），其他地址一律拒绝"
                )
            else:
                sandbox_hosts = ((host.lower(), None),)
        use_main = {"": False, "否": False, "no": False, "是": True, "yes": True}.get(
            raw["SANDBOX_USE_MAIN_DATABASE"].lower()
        )
        if use_main is None:
            problems.append(
                f"SANDBOX_USE_MAIN_DATABASE={raw['SANDBOX_USE_MAIN_DATABASE']!r} 只能留空、"
                "写“是”（yes）或“否”（no）"
            )
            use_main = False
        if remote_sandbox and not use_main:
            # The remote sandbox's own database, for every command of this deployment (serve,
            # its worker, init, say…), so they all mean the same one.
            url = sqlite_url(data_dir / SANDBOX_DATABASE)

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
        days_before = _parse_days(raw, "REMIND_DAYS_BEFORE", problems)
        node_days_before = _parse_days(raw, "NODE_REMIND_DAYS_BEFORE", problems)
        escalate = _parse_int(raw["ESCALATE_AFTER"], "ESCALATE_AFTER", 1, 60, problems)
        review = {
            k.strip().lower() for k in raw["REVIEW"].replace("，", ",").split(",") if k.strip()
        }
        if review == {"none"}:
            review = set()
        if review - {"plan", "assigned", "milestone"}:
            problems.append(
                f"REVIEW={raw['REVIEW']!r} 只能是 plan、assigned、milestone 的组合（逗号分隔）或 none"
            )
        day_off = raw["RECURRING_DAY_OFF"].lower()
        if day_off not in ("previous", "next", "keep"):
            problems.append(
                f"RECURRING_DAY_OFF={raw['RECURRING_DAY_OFF']!r} 只能是 previous、next 或 keep"
            )
        max_age = _parse_int(
            raw["OUTBOX_MAX_AGE_HOURS"], "OUTBOX_MAX_AGE_HOURS", 1, 30 * 24, problems
        )

        silent = _parse_int(
            raw["HEALTH_WORKER_SILENT_SECONDS"], "HEALTH_WORKER_SILENT_SECONDS", 5, 86400, problems
        )
        poll = _parse_int(raw["WORKER_POLL_SECONDS"], "WORKER_POLL_SECONDS", 1, 300, problems)
        log_level = raw["LOG_LEVEL"].upper()
        if log_level not in LOG_LEVELS:
            problems.append(f"LOG_LEVEL={raw['LOG_LEVEL']!r} 只能是 {'、'.join(LOG_LEVELS)}")
        log_file = (base / raw["LOG_FILE"]).resolve() if raw["LOG_FILE"] else None
        log_mb = _parse_int(raw["LOG_MAX_MB"], "LOG_MAX_MB", 1, 1024, problems)
        log_backups = _parse_int(raw["LOG_BACKUPS"], "LOG_BACKUPS", 1, 100, problems)
        backup_dir = (base / raw["BACKUP_DIR"]).resolve() if raw["BACKUP_DIR"] else None
        daily_at = None
        if raw["BACKUP_DAILY_AT"]:
            daily_at = _parse_time(raw["BACKUP_DAILY_AT"], "BACKUP_DAILY_AT", problems)
            if url.startswith(("postgres://", "postgresql://")):
                problems.append(
                    "BACKUP_DAILY_AT 只用于 SQLite：PostgreSQL 请用 pg_dump 定时备份（见 README"
                    "“备份与恢复”），并留空 BACKUP_DAILY_AT"
                )
        keep = _parse_int(raw["BACKUP_KEEP"], "BACKUP_KEEP", 1, 365, problems)
        board_base = _parse_base_url(raw["BOARD_BASE_URL"], problems)
        session_hours = _parse_int(
            raw["BOARD_SESSION_HOURS"], "BOARD_SESSION_HOURS", 1, 168, problems
        )
        oauth_url = raw["WECOM_OAUTH_URL"]
        llm_url = raw["READER_LLM_URL"].strip().rstrip("/")
        if llm_url and urlsplit(llm_url).scheme not in ("http", "https"):
            problems.append(f"READER_LLM_URL={llm_url!r} 应以 http:// 或 https:// 开头")
        if bool(llm_url) != bool(raw["READER_LLM_MODEL"].strip()):
            problems.append("READER_LLM_URL 和 READER_LLM_MODEL 要么都填，要么都留空")
        llm_timeout = _parse_int(raw["READER_LLM_TIMEOUT"], "READER_LLM_TIMEOUT", 1, 30, problems)
        parts = urlsplit(oauth_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append("WECOM_OAUTH_URL 应以 http:// 或 https:// 开头")
        weblogin_url = raw["WECOM_WEBLOGIN_URL"]
        parts = urlsplit(weblogin_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append("WECOM_WEBLOGIN_URL 应以 http:// 或 https:// 开头")

        if problems:
            raise ConfigError(problems)
        return cls(
            database_url=url,
            data_dir=data_dir,
            http_host=host,
            http_port=port,
            timezone=tz,
            admins=userids.UserIdSet(admins),
            sandbox_mode=sandbox,
            evidence_max_bytes=max_mb * 1024 * 1024,
            evidence_attach_minutes=minutes,
            remind_at=remind_at,
            remind_days_before=days_before,
            escalate_after=escalate,
            node_remind_days_before=node_days_before,
            review_kinds=frozenset(review),
            recurring_day_off=day_off,
            quiet_start=quiet_start,
            quiet_end=quiet_end,
            digest_at=digest_at,
            outbox_max_age_hours=max_age,
            health_worker_silent_seconds=silent,
            worker_poll_seconds=poll,
            log_level=log_level,
            log_file=log_file,
            log_max_bytes=log_mb * 1024 * 1024,
            log_backups=log_backups,
            backup_dir=backup_dir or data_dir / "backups",
            backup_daily_at=daily_at,
            backup_keep=keep,
            wecom_corp_id=raw["WECOM_CORP_ID"],
            wecom_agent_id=agent_id,
            wecom_secret=raw["WECOM_SECRET"],
            wecom_token=raw["WECOM_TOKEN"],
            wecom_encoding_aes_key=raw["WECOM_ENCODING_AES_KEY"],
            wecom_api_base=raw["WECOM_API_BASE"].rstrip("/"),
            wecom_group_webhook_url=raw["WECOM_GROUP_WEBHOOK_URL"],
            wecom_group_chat_id=raw["WECOM_GROUP_CHAT_ID"],
            sandbox_secret=secret,
            sandbox_hosts=sandbox_hosts,
            sandbox_use_main_database=use_main,
            board_base_url=board_base,
            board_session_hours=session_hours,
            wecom_oauth_url=oauth_url,
            wecom_weblogin_url=weblogin_url,
            reader_llm_url=llm_url,
            reader_llm_model=raw["READER_LLM_MODEL"].strip(),
            reader_llm_key=raw["READER_LLM_KEY"].strip(),
            reader_llm_timeout=llm_timeout,
        )


def unknown_settings_text(unknown: tuple[tuple[str, str], ...]) -> str:
    """(("HTTP_PROT", "HTTP_PORT"), ("FOO", "")) -> HTTP_PROT（是不是 HTTP_PORT？）、FOO"""
    return "、".join(f"{key}（是不是 {guess}？）" if guess else key for key, guess in unknown)


def database_text(url: str) -> str:
    """sqlite:////srv/data/bot.db -> /srv/data/bot.db; a password in a PostgreSQL address ->
    ***. For messages and logs: never the password."""
    if url.startswith("sqlite:///"):
        return unquote(url[len("sqlite:///") :])
    parts = urlsplit(url)
    try:
        password = parts.password
    except ValueError:
        password = None
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def sqlite_url(path: Path) -> str:
    """The DATABASE_URL of a SQLite file (sqlite:////abs/path, or sqlite:///C:/path on Windows)."""
    return "sqlite:///" + quote(Path(path).as_posix(), safe="/:")


def _absolute_sqlite_url(url: str, base: Path) -> str:
    """sqlite:///relative/path made absolute against `base`; anything else left as it is."""
    path = unquote(url.split(":///", 1)[1]) if ":///" in url else ""
    if not path or path == ":memory:" or Path(path).is_absolute():
        return url
    return sqlite_url((base / path).resolve())


def _parse_base_url(text: str, problems: list[str]) -> str:
    """ "https://duban.example.gov.cn/" -> "https://duban.example.gov.cn": a scheme and a host
    (and port), nothing else; the board's paths (/board/…) are added to it."""
    if not text:
        return ""
    parts = urlsplit(text)
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or parts.username
        or parts.password
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        problems.append(
            f"BOARD_BASE_URL={text!r} 应为 https://域名（可带 :端口），不带路径，"
            "如 https://duban.example.gov.cn"
        )
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def _parse_days(raw: dict[str, str], name: str, problems: list[str]) -> tuple[int, ...]:
    """ "7,3,1" -> (7, 3, 1): working days before a deadline, largest first."""
    try:
        days = tuple(
            sorted(
                {int(x) for x in raw[name].replace("，", ",").split(",") if x.strip()}, reverse=True
            )
        )
        if not days or min(days) < 1 or max(days) > 60:
            raise ValueError
    except ValueError:
        problems.append(f"{name}={raw[name]!r} 应为 1–60 的整数，逗号分隔")
        return ()
    return days


def _parse_hosts(text: str, problems: list[str]) -> tuple[tuple[str, int | None], ...]:
    """`name`, `name:port`, `192.168.1.20`, `[fe80::1]:8000`, comma separated."""
    hosts = []
    for entry in (e.strip().lower() for e in text.replace("，", ",").split(",")):
        if not entry:
            continue
        match = _HOST_ENTRY.match(entry)
        port = int(match.group(2)) if match and match.group(2) else None
        if not match or (port is not None and not 0 < port < 65536):
            problems.append(
                f"SANDBOX_HOSTS 中的 {entry!r} 不是主机名或 IP（可带 :端口，IPv6 写成 [地址]）"
            )
            continue
        hosts.append((match.group(1).strip("[]"), port))  # as urlsplit().hostname gives it
    return tuple(hosts)


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
