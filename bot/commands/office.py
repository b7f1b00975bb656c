"""The office's records and housekeeping: the audit log (日志), the self-check (自检), the Excel
ledger (导出), publishing the weekly digest (周报 发布), and the working-day calendar (日历)."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

from bot.actions.calendar import delete_day, mark_year, set_day, unmark_year
from bot.actions.records import exported, publish_digest
from bot.commands.args import (
    ChoiceArg,
    DateArg,
    ItemArg,
    Keyword,
    RestArg,
    UnitArg,
    WordArg,
    year_word,
)
from bot.commands.holidays import notice_reply
from bot.commands.registry import CommandError, Context, Reply, command, file_message
from bot.evidence import EvidenceStore
from bot.ledger import build_ledger
from bot.render import format_size
from bot.selfcheck import run_checks, worst
from models.audit import AuditEntry
from models.schedule import CalendarDay, CalendarYear


def _log(ctx: Context, query, subject: str) -> str:
    total = query.count()
    entries = list(query.order_by(AuditEntry.id.desc()).limit(20))
    return ctx.renderer.render(
        "log.j2", entries=entries, subject=subject, total=total, tz=ctx.config.timezone
    )


@command(
    "日志",
    aliases=("log", "留痕", "记录"),
    access="admin",
    help="查看操作记录（留痕），最新的在前",
)
def log_all(ctx: Context, args) -> str:
    return _log(ctx, AuditEntry.select(), "全部")


@command("日志", access="admin", args=(ItemArg(),), help="一项任务或指标的操作记录")
def log_item(ctx: Context, args) -> str:
    return _log(
        ctx, AuditEntry.select().where(AuditEntry.item_code == args.item.code), args.item.code
    )


@command("日志", access="admin", args=(UnitArg(),), help="一个单位（或单位组）的操作记录")
def log_unit(ctx: Context, args) -> str:
    match = args.unit
    names = [u.name for u in match.units]
    query = AuditEntry.select().where(AuditEntry.unit_name.in_(names or [""]))
    return _log(ctx, query, match.unit.name if match.unit else match.group.name)


@command(
    "自检",
    aliases=("selfcheck", "检查"),
    access="admin",
    help="检查配置、企业微信连接、发件箱、文件下载和节假日日历",
    transactional=False,  # it calls WeCom: never inside a database transaction
)
def selfcheck_cmd(ctx: Context, args) -> str:
    checks = run_checks(ctx.config, ctx.now, ctx.wecom)
    return ctx.renderer.render("selfcheck.j2", checks=checks, verdict=worst(checks))


@command(
    "周报",
    access="admin",
    args=(Keyword(words=("发布", "publish", "发送")),),
    help="提前发布本周通报到领导小组群（每周只发一次）",
)
def digest_publish(ctx: Context, args) -> str:
    week = publish_digest(ctx)
    return f"已发布 {week} 周报到领导小组群。"


YEAR = WordArg("year", "年份", check=year_word, message="“{word}”不是年份，请写四位数，如 2027。")


def _year(ctx: Context, year: int) -> int:
    if not 2000 <= year <= 2100:
        raise CommandError(f"年份 {year} 不对。")
    return year


def _show_calendar(ctx: Context, year: int) -> str:
    cal = ctx.calendar
    entries = list(
        CalendarDay.select()
        .where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
        .order_by(CalendarDay.day)
    )
    return ctx.renderer.render(
        "calendar.j2",
        year=year,
        entries=entries,
        package=cal.package_covers(year),
        marked=CalendarYear.get_or_none(CalendarYear.year == year),
        warning=cal.missing_year_warning(ctx.today),
    )


@command(
    "日历",
    aliases=("calendar", "节假日"),
    access="admin",
    args=(replace(YEAR, optional=True),),
    help="查看某年的节假日、调休安排（国务院安排和办公室录入的）",
)
def calendar_show(ctx: Context, args) -> str:
    return _show_calendar(ctx, _year(ctx, int(args.year)) if args.year else ctx.today.year)


@command(
    "日历",
    access="admin",
    args=(
        YEAR,
        ChoiceArg(
            "mark",
            "已录入|未录入",
            choices=(("已录入", "done"), ("录入完成", "done"), ("未录入", "undo")),
        ),
    ),
    help="标记某年的节假日和调休已全部录入（此后不再提示缺少该年安排），或撤销标记",
    example="日历 2027 已录入",
)
def calendar_mark(ctx: Context, args) -> str:
    year = _year(ctx, int(args.year))
    if args.mark == "done":
        entries = mark_year(ctx, year)
        return f"已标记：{year} 年的节假日和调休已全部录入（办公室录入 {entries} 天）。不再提示缺少 {year} 年的安排。"
    unmark_year(ctx, year)
    return f"已撤销 {year} 年的“已录入”标记，将继续提示录入。"


_DAY_KINDS = (
    ("班", "work"),
    ("上班", "work"),
    ("work", "work"),
    ("休", "off"),
    ("放假", "off"),
    ("off", "off"),
    ("删除", "delete"),
    ("delete", "delete"),
)


@command(
    "日历",
    access="admin",
    args=(
        DateArg(),
        ChoiceArg("kind", "班|休|删除", choices=_DAY_KINDS),
        RestArg("note", "说明", limit=100),
    ),
    help="录入一天的安排：班（调休上班）、休（放假）或删除录入，优先于国务院安排",
    example="日历 2027-02-07 班 春节调休",
)
def calendar_day(ctx: Context, args) -> str:
    day, kind, note = args.date, args.kind, args.note or ""
    if kind == "delete":
        delete_day(ctx, day)
        return f"已删除 {day} 的安排，恢复按国务院安排（或周一至周五）计算。"
    done = set_day(ctx, day, kind == "work", note)
    label = "上班" if done.workday else "放假"
    hint = "" if done.year_known else f"全部录入后请发送“日历 {day.year} 已录入”。"
    return f"已录入：{day} {label}{f'（{note}）' if note else ''}。提醒和周报将按此计算。{hint}"


@command(
    "日历",
    access="admin",
    args=(Keyword(words=("通知", "导入", "notice")), RestArg("text", "通知全文", limit=20000)),
    help="录入国务院节假日安排：粘贴通知全文（直接粘贴也可，或发送 .txt / .docx 文件），"
    "按日期预览后回复“确认”，一次录入全年的放假和调休",
    example="日历 通知 国务院办公厅关于2027年部分节假日安排的通知……",
)
def calendar_notice(ctx: Context, args) -> str:
    if not args.text:
        return (
            "请把《国务院办公厅关于XXXX年部分节假日安排的通知》全文直接粘贴发给我（标题、正文都要），"
            "或发送通知的 .txt / .docx 文件。我会按日期列出放假和调休上班的日子，核对后回复“确认”即可录入。"
        )
    return notice_reply(ctx, args.text)  # the same as a notice pasted without the command


@command(
    "导出",
    aliases=("export", "台账"),
    access="admin",
    help="导出 Excel 台账：任务进度、评估得分、佐证材料清单、操作记录",
)
def export_cmd(ctx: Context, args) -> str:
    data = build_ledger(ctx.now, ctx.config.timezone, ctx.calendar)
    name = f"示范区创建台账_{ctx.now:%Y%m%d_%H%M}.xlsx"
    store = EvidenceStore(ctx.config.data_dir / "exports", max_bytes=200 * 1024 * 1024)
    stored = store.save(io.BytesIO(data), name)
    exported(ctx, "导出台账", name, stored.size)
    file = file_message(ctx.userid, name, stored, f"export:{ctx.cause}")
    # The file follows the reply that announces it.
    return Reply(
        f"台账已生成：{name}（{format_size(stored.size)}），随后以文件发送给您。", after=[file]
    )
