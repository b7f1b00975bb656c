"""The command line: the parser (in Chinese, as users read it) and one function per command.
`run.py` calls `entry()`; `serve`, `web` and `demo` go on in bot/runtime/processes.py, `worker`
in bot/runtime/worker.py."""

from __future__ import annotations

import dataclasses
import getpass
import hashlib
import logging
import os
import sys
import uuid
from pathlib import Path

from bot import backup, memory
from bot.cli import ChineseArgumentParser, moment
from bot.clock import Clock
from bot.commands.imports import report_text
from bot.config import WECOM_APP_KEYS, Config, ConfigError, sqlite_url
from bot.demo import DEMO_ADMIN, DEMO_PEOPLE, seed_demo
from bot.importer import batch_changes, confirm, count_text, dry_run, pending_batch
from bot.logs import configure_logging
from bot.outbox import Outbox
from bot.pack import build as build_pack
from bot.pipeline import Incoming
from bot.runtime.files import hold_lock, web_lock_path, worker_lock_path
from bot.runtime.processes import serve, worker_argv
from bot.runtime.startup import (
    PROGRAM,
    StartError,
    clock_at,
    clock_banner,
    config_from,
    database_problem,
    make_services,
    prepare_database,
    read_settings,
    require_database,
    running_clock,
    secure_data,
    settle_settings_file,
    setup_logging,
    storage_line,
)
from bot.runtime.worker import run_worker
from bot.selfcheck import FAIL, run_checks, worst
from bot.services import build_services
from bot.sheets import SheetError
from models.db import CONNECTION_ERRORS, database, open_database
from models.loader import PlanError, load_plan
from models.migrations import migrate, newest_version
from reminders import digest
from reminders.jobs import ensure_occurrences, reminder_round
from reminders.stored import load_calendar


def cmd_serve(config: Config, args) -> int:
    if getattr(args, "at", None) is not None and config.wecom_enabled:
        # WeCom checks callback timestamps against our clock, and reminders would reach real
        # people for a day that is not today.
        raise StartError(
            "--at 只能用于浏览器沙盒（未填写企业微信设置时）：接入企业微信后，"
            "回调按真实时间校验，提醒也会按假定的日期发给真实的人"
        )
    clock = running_clock(config, args)
    supervised = worker_argv(args, clock) if args.command != "web" else None
    serve(
        config,
        make_services(config, clock),
        supervised,
        clock_banner(clock),
        prepare=lambda: prepare_database(config, clock),
    )
    return 0


def cmd_backup(config: Config, args) -> int:
    clock = Clock(config.timezone)
    folder = Path(args.to).resolve() if args.to else None
    print(backup.make_backup(config, clock.now(), folder=folder).summary())
    return 0


def cmd_restore(config: Config, args) -> int:
    """Put a backup back: only while nothing of this deployment runs (its locks are free, and
    held here so that nothing starts meanwhile), after a confirmation; then migrate."""
    if not config.is_sqlite:
        raise backup.BackupError(backup.postgres_advice(config))
    archive = Path(args.archive).resolve()
    info = backup.inspect(archive)
    locks = [hold_lock(worker_lock_path(config)), hold_lock(web_lock_path(config))]
    try:
        if None in locks:
            raise StartError(
                "服务正在运行，不能恢复：请先停止服务（systemctl stop dubanbot-web dubanbot-worker，"
                "Windows 在“服务”中停止两个督办服务，或在运行 run.py 的窗口按 Ctrl+C），再运行 restore"
            )
        target = backup.sqlite_path(config.database_url)
        print(info.summary())
        print(
            f"恢复会用这份备份替换数据库 {target} 以及 {config.data_dir / 'evidence'}、"
            f"{config.data_dir / 'exports'} 两个文件夹；现在的数据先另存为 {config.backup_dir} 中的 "
            "before-restore-….zip。"
        )
        if not args.yes and not _confirmed("确认恢复请输入“是”："):
            print("未确认，什么也没有改变。")
            return 1
        clock = Clock(config.timezone)
        backup.restore(config, archive, clock.now(), newest_schema=newest_version())
        prepare_database(config, clock, load=False)
        secure_data(config)
        print(f"已恢复：{info.summary()}。现在可以启动服务。")
        return 0
    finally:
        for lock in locks:
            if lock is not None:
                lock.release()


def _confirmed(prompt: str) -> bool:
    try:
        answer = input(prompt)
    except EOFError:
        return False
    return answer.strip().lower() in ("是", "y", "yes")


def cmd_init(config: Config, _args) -> int:
    print(storage_line(config))
    open_database(config.database_url)
    with database.connection_context():
        applied = migrate(database.obj)
        if applied:
            print("数据库结构已更新：" + "、".join(applied))
        print(load_plan(Clock(config.timezone).now()).summary())
    print("已完成。重复运行 init 只会更新方案文字，不会重置进度、评分、绑定、期限和日志。")
    return 0


DEMO_FOLDER = "demo"  # under DATA_DIR


def demo_config(config: Config) -> Config:
    """The demo's own folder (DATA_DIR/demo: its database, evidence, exports, locks) and admin;
    never WeCom and no daily backups, whatever .env holds. A real backup then holds none of the
    demo's files, and deleting the folder resets the demo."""
    folder = config.data_dir / DEMO_FOLDER
    return dataclasses.replace(
        config,
        data_dir=folder,
        database_url=sqlite_url(folder / "demo.db"),
        sandbox_use_main_database=False,  # the demo's database is its own, always
        admins=config.admins | {DEMO_ADMIN},
        wecom_corp_id="",
        backup_dir=folder / "backups",
        backup_daily_at=None,
    )


def seed_demo_once(clock: Clock, out=None) -> None:
    with database.connection_context():
        if seed_demo(clock.now()):
            print("已载入演示数据。", file=out or sys.stdout)


def cmd_demo(config: Config, args) -> int:
    config = demo_config(config)
    clock = running_clock(config, args)
    prepare_database(config, clock)
    seed_demo_once(clock)
    people = "\n".join(f"  {u}：{unit} {name}" for u, name, unit, _ in DEMO_PEOPLE)
    banner = (
        f"演示数据库：{config.database_text}（演示的数据和文件都在 {config.data_dir}，"
        "与正式数据分开；删掉这个文件夹即可重置演示）\n"
        f"可以扮演的人员：\n{people}\n"
        "在沙盒页面选择人员后发送“帮助”开始。按 Ctrl+C 退出。"
    )
    banner = "\n".join(filter(None, [clock_banner(clock), banner]))
    child_env = {
        "BOT_ADMINS": ",".join(sorted(config.admins)),
        **{key: "" for key in WECOM_APP_KEYS},
        "BACKUP_DAILY_AT": "",
        "BACKUP_DIR": str(config.backup_dir),
    }
    serve(config, make_services(config, clock), worker_argv(args, clock), banner, child_env)
    return 0


def cmd_say(config: Config, args) -> int:
    text = " ".join(args.text)
    clock = clock_at(config, args.at)
    if args.demo:
        config = demo_config(config)
    else:
        require_database(config, "say")
    # Setting-up notices go to stderr: stdout carries the reply alone (for pipes and scripts).
    prepare_database(config, clock, out=sys.stderr)
    if args.demo:
        seed_demo_once(clock, out=sys.stderr)
    services = make_services(config, clock)
    with database.connection_context():
        result = services.pipeline.handle(
            Incoming("cli", uuid.uuid4().hex, args.userid, kind="text", text=text)
        )
        services.sender.drain()
    print(result.reply or "（没有回复）")
    return 0


def cmd_selfcheck(config: Config, args) -> int:
    clock = clock_at(config, args.at)
    require_database(config, "selfcheck")
    prepare_database(config, clock)
    services = make_services(config, clock)
    with database.connection_context():
        checks = run_checks(config, services.clock.now(), services.client)
        print(services.renderer.render("selfcheck.j2", checks=checks, verdict=worst(checks)))
    return 1 if worst(checks) == FAIL else 0


def cmd_remind(config: Config, args) -> int:
    """One reminder round as if the clock read --at; delivers what it queued, prints a summary."""
    clock = clock_at(config, args.at)
    require_database(config, "remind")
    prepare_database(config, clock)
    services = build_services(config, clock)
    with database.connection_context():
        cal = load_calendar()
        with database.atomic():
            ensure_occurrences(clock.now(), config, cal)
        result = reminder_round(clock.now(), config, cal, Outbox(clock), services.renderer)
        services.sender.drain()
    print(result.summary())
    return 0


def cmd_digest(config: Config, args) -> int:
    """This week's digest as if the clock read --at: --preview prints it, else publishes if due."""
    clock = clock_at(config, args.at)
    require_database(config, "digest")
    prepare_database(config, clock)
    services = build_services(config, clock)
    with database.connection_context():
        cal = load_calendar()
        if args.preview:
            print(digest.render_markdown(digest.build(clock.now(), config, cal), services.renderer))
            return 0
        result = digest.publish_if_due(clock.now(), config, cal, Outbox(clock), services.renderer)
        services.sender.drain()
    print(result.summary())
    return 0


def cmd_import(config: Config, args) -> int:
    """导入: the dry run of a spreadsheet (kept for --apply), or --apply of the dry run shown
    for the same file; both in the chat's words (bot/commands/imports.py)."""
    path = Path(args.file)
    if not path.is_file():
        raise StartError(f"找不到文件 {path}")
    data = path.read_bytes()
    clock = Clock(config.timezone)
    require_database(config, "import")
    prepare_database(config, clock, out=sys.stderr)
    services = make_services(config, clock)
    actor = args.by or f"cli:{getpass.getuser()}"
    now = clock.now()
    today = now.date()
    with database.connection_context():
        if not args.apply:
            try:
                with database.atomic():
                    run = dry_run(data, path.name, now, today, actor)
            except SheetError as exc:
                print(f"“{path.name}”无法导入：{exc}", file=sys.stderr)
                return 1
            hint = f"确认无误后运行：python3 run.py import {args.file} --apply" + (
                f" --by {args.by}" if args.by else ""
            )
            print(report_text(services.renderer, run, path.name, hint=hint))
            return 0
        sha = hashlib.sha256(data).hexdigest()
        with database.atomic():
            batch = pending_batch(actor, sha)
            if batch is None:
                print(
                    f"没有“{path.name}”的预览：请先运行 python3 run.py import {args.file}"
                    "（不加 --apply），看过预览再确认。",
                    file=sys.stderr,
                )
                return 1
            cal = load_calendar()
            done = confirm(
                batch, now, today, actor, services.pipeline.outbox, services.renderer, config, cal
            )
        if done.refused is not None:
            print(
                f"未导入：{done.refused.where}的改动已无法按预览执行：{done.refused.message}"
                "请重新运行预览，看过再确认。",
                file=sys.stderr,
            )
            return 1
        if done.applied is None:
            print(
                "未导入：预览之后系统中的期限、分工或节点已有变化。请重新运行预览，看过再确认。",
                file=sys.stderr,
            )
            return 1
        services.sender.drain()
    print(
        f"已导入“{path.name}”：{count_text(batch_changes(batch))}。"
        f"已通知 {done.told} 位联络员，改动已记入日志。"
    )
    return 0


def cmd_pack(config: Config, args) -> int:
    """材料包 to disk: one zip, no size limit."""
    clock = Clock(config.timezone)
    require_database(config, "pack")
    prepare_database(config, clock, out=sys.stderr)
    out = Path(args.out) if args.out else None
    now = clock.now()
    with database.connection_context():
        target = (out.parent if out else Path.cwd()).resolve()
        built = build_pack(
            args.scope, config.data_dir / "evidence", target, config.timezone, now, limit=None
        )
        if built is None:
            print(
                f"没有“{args.scope}”这一指标或类别：请写 Z 编号、一级或二级指标名称，或“全部”。",
                file=sys.stderr,
            )
            return 2
    ((_name, written),) = built.parts
    if out is not None and written != out.resolve():
        written = written.replace(out)
    pack = built.pack
    print(
        f"已生成：{written}（{pack.label}：{len(pack.indicators)} 项指标，{len(pack.files)} 份材料）"
    )
    for gap in pack.gaps:
        print(f"✗ {gap.item.code} {gap.item.title}：{gap.text}")
    return 0


AT_HELP = "如 2026-10-09T09:00（不写时区即按 BOT_TIMEZONE）；默认用电脑的时间"
START_HELP = "机器人的时间从这一刻开始往后走（演示、核对某一天的提醒和周报），" + AT_HELP

EPILOG = """例子：
  python3 run.py demo                         启动演示（浏览器沙盒）
  python3 run.py demo --at 2026-11-26T09:30   演示某一天：机器人的时间从这一刻开始走
  python3 run.py say --demo demo_scj 我的任务  在演示数据库里以 demo_scj 的身份发一条消息
  python3 run.py init && python3 run.py       正式使用：建库、载入方案、启动服务
每个命令的参数：python3 run.py 命令 --help"""


def build_parser() -> ChineseArgumentParser:
    parser = ChineseArgumentParser(
        prog=PROGRAM.removeprefix("python3 "),
        description="新绛县示范区创建督办机器人",
        epilog=EPILOG.replace("python3 run.py", PROGRAM),
    )
    parser.add_argument(
        "--env-file",
        metavar="文件",
        help="设置文件；不写时读取当前目录下的 .env（没有也可以），写了就必须存在",
    )
    sub = parser.add_subparsers(
        dest="command", title="命令", metavar="命令", help="不写命令时即 serve（启动服务）"
    )

    def command(name: str, text: str) -> ChineseArgumentParser:
        return sub.add_parser(name, help=text, description=text)

    def at_option(cmd: ChineseArgumentParser, text: str) -> None:
        cmd.add_argument("--at", type=moment, metavar="时间", help=text)

    at_option(
        command("serve", "启动服务并自动启动、看护后台进程（不写命令时默认就是它）"), START_HELP
    )
    at_option(
        command(
            "web",
            "只启动网页服务（企业微信回调、/healthz、沙盒），后台进程 run.py worker 另行运行"
            "（两个 systemd 服务或 Windows 服务）",
        ),
        START_HELP,
    )
    at_option(
        command("demo", "用单独的演示数据库（DATA_DIR/demo/demo.db）启动浏览器沙盒"), START_HELP
    )
    command("init", "创建数据库并载入方案（重复运行安全）")
    selfcheck = command(
        "selfcheck", "自检：配置、管理员、企业微信连接、发件箱、文件下载、节假日日历"
    )
    at_option(selfcheck, "按这个时间检查，" + AT_HELP)
    at_option(command("remind", "按提醒阶梯发送一轮提醒，打印摘要"), "假定现在的时间，" + AT_HELP)
    digest = command("digest", "发布本周周报（每周一次），或 --preview 预览")
    at_option(digest, "假定现在的时间，" + AT_HELP)
    digest.add_argument("--preview", action="store_true", help="只打印，不发布")
    say = command("say", "以某个 userid 发送一条消息并打印回复（与聊天走同一条处理流程）")
    say.add_argument("userid", help="以谁的身份发送（企业微信 userid，如 demo_scj）")
    say.add_argument("text", nargs="+", metavar="消息", help="消息内容，可以有空格，如 我的任务")
    say.add_argument(
        "--demo", action="store_true", help="发到演示数据库（DATA_DIR/demo/demo.db，含演示人员）"
    )
    at_option(say, "假定现在的时间，" + AT_HELP)
    importer = command(
        "import", "导入 Excel（任务分解表、实施细则、期限表或导出的台账）：先预览，--apply 才执行"
    )
    importer.add_argument("file", metavar="文件", help=".xlsx 或 .xls 文件")
    importer.add_argument(
        "--apply", action="store_true", help="执行此前对同一文件的预览（预览后数据有变化则拒绝）"
    )
    importer.add_argument(
        "--by", metavar="userid", help="记入日志的管理员 userid（默认 cli:当前系统用户）"
    )
    pack = command("pack", "生成迎检材料包（zip，附目录.xlsx），写到磁盘，不限大小")
    pack.add_argument(
        "scope", nargs="?", metavar="范围", help="Z 编号（如 Z12）、一级或二级指标名称，默认全部"
    )
    pack.add_argument("--out", metavar="路径", help="zip 文件的路径（默认当前目录下按日期命名）")
    worker = command(
        "worker",
        "后台进程：处理消息、发送、下载文件、定时提醒和备份（serve 会自动启动它；"
        "用 web 时作为单独的服务运行）",
    )
    worker.add_argument(
        "--clock-offset",
        type=float,
        metavar="秒",
        help="机器人的时间比电脑快多少秒（由服务按 --at 传入，一般无需手动设置）",
    )
    worker.add_argument(
        "--with-parent",
        action="store_true",
        help="标准输入关闭时退出（serve 启动后台进程时使用，一般无需手动设置）",
    )
    backup = command(
        "backup",
        "备份：数据库（运行中也可以，SQLite）、佐证材料和台账打包成一个带日期的 zip",
    )
    backup.add_argument(
        "--to", metavar="文件夹", help="备份放在哪个文件夹；默认 BACKUP_DIR（DATA_DIR/backups）"
    )
    restore = command("restore", "从备份恢复数据库、佐证材料和台账（须先停止服务；会先确认）")
    restore.add_argument("archive", metavar="备份文件", help="run.py backup 做的 zip 文件")
    restore.add_argument("--yes", action="store_true", help="不再询问，直接恢复（用于脚本）")
    return parser


def main(argv: list[str] | None = None) -> int:
    memory.limit_arenas()  # before any thread starts (bot/memory.py)
    args = build_parser().parse_args(argv)
    configure_logging(logging.INFO)
    handlers = {
        "serve": cmd_serve,
        None: cmd_serve,
        "web": cmd_serve,
        "backup": cmd_backup,
        "restore": cmd_restore,
        "demo": cmd_demo,
        "init": cmd_init,
        "say": cmd_say,
        "selfcheck": cmd_selfcheck,
        "worker": run_worker,
        "remind": cmd_remind,
        "digest": cmd_digest,
        "import": cmd_import,
        "pack": cmd_pack,
    }
    try:
        source = read_settings(args.env_file)
        config = config_from(source)
        setup_logging(config, args.command)
        quiet = getattr(args, "with_parent", False)  # serve's worker: serve has said it all
        config = settle_settings_file(source, config, quiet=quiet)
        secure_data(config)
        return handlers[args.command](config, args)
    except (ConfigError, PlanError, StartError, backup.BackupError) as exc:
        print(exc, file=sys.stderr)
        return 2
    except CONNECTION_ERRORS as exc:  # a one-off command does not wait for the database
        print(
            f"{database_problem(config, exc)}：请检查 DATABASE_URL 和数据库服务是否已启动",
            file=sys.stderr,
        )
        return 2
    except BrokenPipeError:
        raise  # our reader went away (see entry): not a start-up problem
    except OSError as exc:
        print(f"无法启动：{exc}", file=sys.stderr)
        return 2


def entry(argv: list[str] | None = None) -> int:
    """main(), quiet when the reader of our output goes away (`run.py say … | head -1`)."""
    try:
        try:
            return main(argv)
        finally:
            sys.stdout.flush()  # inside the try: a closed pipe shows here, not at exit
    except BrokenPipeError:
        # As the Python docs advise: point stdout at devnull so the interpreter's own final
        # flush does not complain either. Works on Windows too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
