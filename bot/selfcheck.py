"""Self-check (自检): each part of a deployment with a plain verdict and what to do about it.

Used by the `自检` command and by `python3 run.py selfcheck` (which exits non-zero on a failure).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import peewee

from bot import health
from bot.backup import daily_archives, newest_archive
from bot.board.access import fingerprint
from bot.config import READERS_UNKNOWN, Config, unknown_settings_text
from bot.outbox import errors_seen
from bot.outbox import views as outbox_views
from bot.transports.wecom import errors as wecom_errors
from bot.transports.wecom.errors import WeComError
from bot.transports.wecom.stored import stored_chat_id
from models.db import tuples
from models.messages import InboundMessage, MediaDownload
from models.org import UnitGroup, admin_userids
from models.plan import Assignment, Item
from reminders.stored import load_calendar

OK, WARN, FAIL = "ok", "warn", "fail"
WINDOWS = sys.platform == "win32"
LABELS = {OK: "正常", WARN: "注意", FAIL: "故障"}


@dataclass(frozen=True)
class Check:
    name: str
    level: str
    detail: str
    advice: str = ""

    @property
    def label(self) -> str:
        return LABELS[self.level]


def run_checks(config: Config, now: datetime, client=None) -> list[Check]:
    checks = [_settings(config)]
    if config.env_file_readers:
        checks.append(_settings_access(config))
    checks.append(_database())
    if checks[-1].level == OK:
        checks.append(_admins(config))
    if config.wecom_enabled:
        checks.append(_token(client))
        if checks[-1].level == OK:
            checks.append(_agent(client, config))
        checks.append(_last_callback(now))
        checks.append(_group(config, client))
    else:
        checks.append(
            Check(
                "企业微信",
                WARN,
                "未填写企业微信设置，目前只能用浏览器沙盒",
                "按 README“接入企业微信”一节填写 WECOM_* 设置",
            )
        )
    checks.extend(_processes(config, now))
    checks.append(_backups(config, now))
    checks.append(_board(config))
    checks.append(_outbox(now))
    errcodes = _errcodes(now)
    if errcodes is not None:
        checks.append(errcodes)
    checks.append(_downloads())
    checks.append(_calendar(now.astimezone(config.timezone).date()))
    checks.append(_plan_open_questions())
    return checks


def unconfirmed_groups() -> list[str]:
    """Unit groups whose membership the plan leaves open and the office has not confirmed."""
    query = UnitGroup.select(UnitGroup.name).where(UnitGroup.confirmed_at.is_null())
    return [name for (name,) in tuples(query.order_by(UnitGroup.position))]


def _plan_open_questions() -> Check:
    """What the plan leaves open must not silently decide who is chased."""
    groups = unconfirmed_groups()
    led = Assignment.select(Assignment.item).where(
        Assignment.shares() & (Assignment.role == "lead")
    )
    leadless = (
        Item.select()
        .where(
            (Item.kind != "assigned")
            & Item.id.not_in(led)
            & Item.id.in_(Assignment.select(Assignment.item).where(Assignment.shares()))
        )
        .count()
    )
    if not groups and not leadless:
        return Check("方案待定事项", OK, "单位组均已确认，所有事项都有牵头单位")
    parts = []
    if groups:
        parts.append("单位组未确认：" + "、".join(groups))
    if leadless:
        parts.append(f"{leadless} 项没有牵头单位")
    return Check(
        "方案待定事项",
        WARN,
        "；".join(parts),
        "核对单位组后发送“群组 组名 确认”；发送“牵头”查看没有牵头单位的事项，用“牵头 编号 单位”指定",
    )


def _settings(config: Config) -> Check:
    """Which settings, database and data folder are used; keys of the file that are no
    setting (a misspelt HTTP_PROT leaves HTTP_PORT at its default in silence)."""
    source = f"读取 {config.env_file}" if config.env_file else "未找到 .env，使用默认设置"
    where = f"{source}；数据库 {config.database_text}；数据文件夹 {config.data_dir}"
    if not config.unknown_settings:
        return Check("配置", OK, f"设置已读取并通过校验（{where}）")
    return Check(
        "配置",
        WARN,
        f"设置文件中有不认识的设置，它们不起作用：{unknown_settings_text(config.unknown_settings)}"
        f"（{where}）",
        f"在 {config.env_file} 中改正设置名（所有设置见 config.example.env），然后重新启动服务",
    )


def _settings_access(config: Config) -> Check:
    """A settings file with the WeCom Secret that others may read (POSIX when it could not be
    tightened at start; Windows, where the bot changes no permissions, by its access list)."""
    path = config.env_file
    readers = "、".join(config.env_file_readers)
    if WINDOWS:
        advice = (
            f'在管理员命令提示符中运行：icacls "{path}" /inheritance:r /grant:r "%USERNAME%:F" '
            "/grant:r *S-1-5-18:F /grant:r *S-1-5-32-544:F（只留本人、SYSTEM 和管理员；"
            "服务以别的账户运行时再加 /grant:r 该账户:R）"
        )
    else:
        advice = f"运行 chmod 600 {path}，并用 chown 让运行本服务的用户拥有它"
    if config.env_file_readers == (READERS_UNKNOWN,):
        detail = f"{path} 含有企业微信 Secret 等密钥，无法读取它的权限，不知道还有谁能读取它"
    else:
        detail = f"{path} 含有企业微信 Secret 等密钥，除本人外 {readers} 也能读取"
    return Check("设置文件权限", WARN, detail, advice)


def worst(checks: list[Check]) -> str:
    levels = {c.level for c in checks}
    return FAIL if FAIL in levels else WARN if WARN in levels else OK


def _database() -> Check:
    try:
        InboundMessage.select().limit(1).count()
    except peewee.PeeweeException as exc:
        return Check(
            "数据库", FAIL, f"无法读取：{type(exc).__name__}", "检查 DATABASE_URL 和数据库服务"
        )
    return Check("数据库", OK, "可以读写")


def _admins(config: Config) -> Check:
    """Without an admin nobody can bind people or run the office's commands."""
    admins = admin_userids(config.admins)
    if not admins:
        return Check(
            "管理员",
            FAIL,
            "没有管理员：BOT_ADMINS 为空，也没有人被绑定为管理员，没有人能绑定人员、设定期限",
            "在 .env 中填写 BOT_ADMINS=办公室管理员的企业微信 userid（多个用英文逗号分隔），"
            "然后重新启动服务（python3 run.py）",
        )
    shown = "、".join(admins[:5]) + (f" 等 {len(admins)} 位" if len(admins) > 5 else "")
    return Check("管理员", OK, shown)


def _token(client) -> Check:
    try:
        client.token(stale=None)
    except WeComError as exc:
        return Check("access_token", FAIL, exc.describe(), _token_advice(exc))
    except TimeoutError as exc:
        return Check("access_token", FAIL, str(exc), "稍后再试")
    return Check("access_token", OK, "已从企业微信获取（企业ID 和 Secret 正确）")


def _agent(client, config: Config) -> Check:
    """A call that needs the trusted IP and the right AgentId (gettoken alone needs neither)."""
    try:
        info = client.get("agent/get", {"agentid": config.wecom_agent_id})
    except WeComError as exc:
        return Check("应用接口", FAIL, exc.describe(), _token_advice(exc))
    return Check("应用接口", OK, f"应用“{info.get('name', '')}”可以调用（可信IP 已生效）")


def _token_advice(exc) -> str:
    if exc.errcode == 60020:
        return (
            "在管理后台 → 应用管理 → 本应用 → 企业可信IP 中添加本服务器的出口 IP，约 1 分钟后生效"
        )
    if exc.errcode == 40001:
        return "核对 WECOM_SECRET：自建应用详情页 → Secret（查看后会发到管理员的企业微信）"
    if exc.errcode in (40056, 301002):
        return "核对 WECOM_AGENT_ID：自建应用详情页 → AgentId"
    if exc.errcode == 40013:
        return "核对 WECOM_CORP_ID：管理后台 → 我的企业 → 企业信息 → 企业ID"
    if exc.errcode is None:
        return "检查服务器能否访问 WECOM_API_BASE（网络、防火墙、代理）"
    return "按错误码查阅企业微信文档，或联系技术支持"


def _last_callback(now: datetime) -> Check:
    last = (
        InboundMessage.select()
        .where(InboundMessage.transport == "wecom")
        .order_by(InboundMessage.id.desc())
        .first()
    )
    if last is None:
        return Check(
            "接收消息",
            WARN,
            "还没有收到过企业微信的回调",
            "在应用的“接收消息”中设置 URL（https://你的域名/wecom/callback）、Token 和 "
            "EncodingAESKey，保存时企业微信会校验；然后在企业微信里给应用发一条消息",
        )
    ago = now - last.received_at
    return Check("接收消息", OK, f"最近一次回调在 {duration_text(ago)}前")


def _group(config: Config, client=None) -> Check:
    if config.wecom_group_webhook_url:
        return Check("领导小组群", OK, "使用群机器人（每分钟最多 20 条）")
    chatid = stored_chat_id() or config.wecom_group_chat_id
    if chatid:
        return _app_chat(chatid, client)
    return Check(
        "领导小组群",
        WARN,
        "未设置，周报无法发到群里",
        "在领导小组群里添加群机器人，把 Webhook 地址填入 WECOM_GROUP_WEBHOOK_URL",
    )


def _app_chat(chatid: str, client) -> Check:
    """An app chat takes messages only if this app created it: appchat/get says whether."""
    if client is None:
        return Check("领导小组群", WARN, f"使用应用群聊 {chatid}（未检查：没有企业微信连接）")
    try:
        info = client.get("appchat/get", {"chatid": chatid}).get("chat_info") or {}
    except WeComError as exc:
        advice = "检查与企业微信的连接后再试"
        if exc.errcode == 86003:
            advice = (
                "应用群聊必须由本应用创建：发送“建群 userid userid …”创建（应用的可见范围须为根部门），"
                "或改用群机器人（WECOM_GROUP_WEBHOOK_URL）"
            )
        return Check("领导小组群", FAIL, f"应用群聊 {chatid}：{exc.describe()}", advice)
    members = info.get("userlist") or []
    return Check(
        "领导小组群",
        OK,
        f"使用应用群聊“{info.get('name', '')}”（{chatid}，{len(members)} 人，群主 {info.get('owner', '')}）",
    )


def _duties(config: Config, now: datetime) -> Check:
    """Which host and process hold the sender's and the scheduler's leases (one each for the
    whole deployment, bot/duty.py)."""
    shown = []
    for name, lease in health.duties(now, config.timezone).items():
        label = health.DUTY_LABELS[name]
        if lease is None:
            shown.append(f"{label}：暂无（后台进程运行后 1 分钟内接手）")
        else:
            shown.append(f"{label}：{lease['host']}（进程 {lease['pid']}）")
    return Check("单实例职责", OK, "；".join(shown))


def _processes(config: Config, now: datetime) -> list[Check]:
    """The worker's heartbeat and the scheduler's last tick, as /healthz reads them."""
    limit = config.health_worker_silent_seconds
    checks = [_duties(config, now)]
    for state in health.parts(now, limit):
        name = health.LABELS[state.name]
        if state.status == health.OK:
            detail = f"最近一次在 {duration_text(timedelta(seconds=state.seconds_ago or 0))}前"
            if state.name == "worker" and state.info.get("pid"):
                detail += f"（进程 {state.info['pid']}，{state.info.get('host', '')}）"
            checks.append(Check(name, OK, detail))
        elif state.status == health.NEVER:
            checks.append(
                Check(
                    name,
                    WARN,
                    "没有运行过的记录（服务还没有启动过？）",
                    "启动服务：python3 run.py；作为系统服务运行见 README“部署为系统服务”",
                )
            )
        else:
            checks.append(
                Check(
                    name,
                    FAIL,
                    state.reason,
                    "后台进程（run.py worker）可能已停止：Linux 上 systemctl status dubanbot-worker、"
                    "journalctl -u dubanbot-worker；Windows 上在“服务”中查看督办后台服务；"
                    "用 python3 run.py 启动时重启它",
                )
            )
    return checks


def _backups(config: Config, now: datetime) -> Check:
    if not config.is_sqlite:
        return Check("备份", OK, "PostgreSQL：请用 pg_dump 定时备份（见 README“备份与恢复”）")
    if config.backup_daily_at is None:
        newest = newest_archive(config.backup_dir)
        made = f"最近一次备份：{newest.name}" if newest else "还没有备份"
        return Check(
            "备份",
            WARN,
            f"没有开启每日自动备份；{made}",
            "在 .env 中设置 BACKUP_DAILY_AT=02:30（每天自动备份，保留 BACKUP_KEEP 份），"
            "或定期运行 python3 run.py backup",
        )
    daily = daily_archives(config.backup_dir)
    at = f"{config.backup_daily_at:%H:%M}"
    if not daily:
        return Check("备份", WARN, f"已开启每日 {at} 自动备份，还没有做过", "")
    age = now - datetime.fromtimestamp(daily[0].stat().st_mtime, now.tzinfo)
    if age > timedelta(hours=26):
        return Check(
            "备份",
            FAIL,
            f"每日 {at} 自动备份已 {duration_text(age)}没有做成（最近：{daily[0].name}）",
            f"查看后台进程的日志；检查 {config.backup_dir} 所在磁盘的空间和权限",
        )
    return Check("备份", OK, f"每日 {at} 自动备份，最近一次：{daily[0].name}，保留 {len(daily)} 份")


BOARD_PROBE_TIMEOUT = (3.05, 5)  # connect, read (seconds)


def _board(config: Config) -> Check:
    """The board's homepage (应用主页) answers at its public address, and it is this deployment
    answering: /board/ping names the deployment by a fingerprint of the board's key, which
    lives in this database."""
    if not config.board_base_url:
        if config.wecom_enabled:
            return Check(
                "领导看板",
                WARN,
                "未设置 BOARD_BASE_URL：看板不可用，周报和提醒里没有看板链接",
                "按 README“领导看板”一节设置 BOARD_BASE_URL=https://你的域名，"
                "并在应用详情页设置可信域名和应用主页",
            )
        return Check(
            "领导看板",
            OK,
            "沙盒模式：在浏览器沙盒里点“看板”打开（未设置 BOARD_BASE_URL，消息里不带看板链接）",
        )
    # Lazy on purpose, measured: requests (through bot.http) is 4.3 MB and 210 modules, which
    # the web process and the sandbox's worker never need otherwise.
    import requests

    from bot.http import OutsideTransactions

    home = f"{config.board_base_url}/board/"
    host = config.board_base_url.split("://", 1)[1]
    try:
        # Not through the WeCom client: this is our own address, seen from outside. Never
        # inside a transaction (自检 runs outside one), always with a timeout.
        with OutsideTransactions() as http:
            answer = http.get(
                f"{config.board_base_url}/board/ping",
                timeout=BOARD_PROBE_TIMEOUT,
                allow_redirects=False,
            )
    except requests.RequestException as exc:
        return Check(
            "领导看板",
            FAIL,
            f"应用主页 {home} 无法访问：{type(exc).__name__}",
            "检查域名解析、防火墙，以及 https 反向代理（nginx 等）是否把 /board/ 转发到本服务的 "
            "HTTP_HOST:HTTP_PORT",
        )
    try:
        data = answer.json() if answer.status_code == 200 else {}
    except ValueError:  # requests' JSONDecodeError is one
        data = {}
    if not isinstance(data, dict) or data.get("board") != "ok":
        return Check(
            "领导看板",
            FAIL,
            f"应用主页 {home} 的应答不是本服务的看板（HTTP {answer.status_code}）",
            "检查反向代理是否把 /board/ 转发到本服务，BOARD_BASE_URL 是否写对",
        )
    if data.get("instance") != fingerprint():
        return Check(
            "领导看板",
            FAIL,
            f"应用主页 {home} 由另一套部署（另一个数据库）应答",
            "BOARD_BASE_URL 指向了别的服务器或测试环境：请改为本服务的对外地址",
        )
    if not config.board_base_url.startswith("https://"):
        return Check(
            "领导看板",
            WARN,
            f"应用主页 {home} 可以访问，但用的是 http：登录信息和个人链接以明文传输",
            "在前面加 https 反向代理，BOARD_BASE_URL 改为 https:// 开头",
        )
    return Check(
        "领导看板",
        OK,
        f"应用主页 {home} 可以访问；企业微信里的可信域名应为 {host}",
    )


def _outbox(now: datetime) -> Check:
    pending = outbox_views.waiting()
    oldest = pending.first()
    given_up = outbox_views.given_up_since(now - timedelta(days=7))
    backlog = pending.count()
    if given_up:
        last = outbox_views.last_given_up()
        counts = "、".join(
            f"{n} 条{label}"
            for status, label in (("failed", "发送失败"), ("expired", "过期未能送达"))
            if (n := given_up.get(status))
        )
        return Check(
            "发件箱",
            FAIL,
            f"近 7 天有 {counts}，待发 {backlog} 条；最近的错误：{last.last_error[:120] if last else ''}",
            "按错误提示处理（常见：可信IP、收件人不在可见范围），然后发送“发件箱”查看编号，"
            "“重发 编号”或“重发 全部”重新发送",
        )
    if oldest is not None and now - oldest.created_at > timedelta(minutes=10):
        return Check(
            "发件箱",
            WARN,
            f"待发 {backlog} 条，最早的已等待 {duration_text(now - oldest.created_at)}："
            f"{oldest.last_error[:120]}",
            "检查与企业微信的连接；消息会自动重试，超过 OUTBOX_MAX_AGE_HOURS 仍未送达的作废并通知管理员",
        )
    return Check("发件箱", OK, f"待发 {backlog} 条，近 7 天无失败或过期")


def _errcodes(now: datetime) -> Check | None:
    """The WeCom error codes met in the last 7 days, each named with what it means and what
    the bot does about it (bot/transports/wecom/errors.py); None when there were none."""
    seen = errors_seen.recent(now)
    if not seen:
        return None
    lines = []
    worst = WARN
    for s in seen[:8]:
        info = wecom_errors.lookup(s.errcode)
        known = s.errcode in wecom_errors.ERRORS
        lines.append(
            f"{s.errcode}（{s.count} 次，最近 {duration_text(now - s.last_at)}前）："
            f"{info.meaning if known else '未收录的错误码'}；处理：{wecom_errors.ACTIONS[info.action]}"
        )
        if info.action == wecom_errors.TELL and now - s.last_at < timedelta(hours=1):
            worst = FAIL
    return Check(
        "企业微信错误码",
        worst,
        "近 7 天：" + "\n".join(lines),
        "按每个错误码后的说明处理；处理后发送“发件箱”查看，“重发 编号”重新发送",
    )


def _downloads() -> Check:
    # A file is a download from the moment it arrives; only one that failed waits for a retry.
    pending = (
        MediaDownload.select()
        .where(MediaDownload.status.in_(("pending", "fetching")) & (MediaDownload.attempts > 0))
        .count()
    )
    failed = MediaDownload.select().where(MediaDownload.status == "failed").count()
    if failed:
        return Check(
            "文件下载",
            WARN,
            f"{failed} 个文件未能取回，{pending} 个等待重试",
            "已通知发送人重新发送",
        )
    if pending:
        return Check("文件下载", WARN, f"{pending} 个文件等待重试下载", "系统会自动重试")
    return Check("文件下载", OK, "没有等待重试的文件")


def _calendar(today: date) -> Check:
    cal = load_calendar()
    missing = cal.missing_year_warning(today)
    if missing == today.year:
        return Check(
            "节假日日历",
            FAIL,
            f"缺少 {today.year} 年的国务院节假日安排，暂按周一至周五计算",
            f"把《国务院办公厅关于{today.year}年部分节假日安排的通知》全文粘贴发给机器人"
            "（或发送 .txt / .docx 文件），核对预览后回复“确认”；或升级 chinesecalendar",
        )
    if missing is not None:
        return Check(
            "节假日日历",
            WARN,
            f"缺少 {missing} 年的节假日安排（国务院通常在年底前公布），"
            f"1 月 1 日起将按周一至周五计算工作日",
            f"公布后把《国务院办公厅关于{missing}年部分节假日安排的通知》全文粘贴发给机器人"
            "（或发送 .txt / .docx 文件），核对预览后回复“确认”；或升级 chinesecalendar",
        )
    return Check("节假日日历", OK, f"已包含 {today.year} 年的节假日和调休")


def duration_text(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)} 秒"
    if seconds < 7200:
        return f"{seconds // 60} 分钟"
    if seconds < 172800:
        return f"{seconds // 3600} 小时"
    return f"{seconds // 86400} 天"
