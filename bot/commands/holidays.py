"""节假日安排: the State Council's notice, pasted or sent as a .txt / .docx file by an admin, read
(reminders/holiday_notice.py), previewed by date with weekdays and with what it changes, and
applied on 确认 by the calendar's own action (bot/actions/calendar.py: apply_notice). The
preview is a pending question (bot/actions/questions.py), answered like the reader's yes/no."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any

from bot.actions import questions
from bot.actions.base import Refused
from bot.actions.calendar import apply_notice
from bot.cards import CONFIRM_BUTTONS, task_id_for
from bot.commands.registry import Context, Reply
from bot.documents import MAX_TEXT_BYTES, DocumentError, document_text, is_text_document
from bot.evidence import EvidenceStore, StoredFile
from bot.text import find_code
from models.schedule import CalendarDay
from reminders.holiday_notice import (
    Notice,
    NoticeError,
    looks_like_notice,
    parse_notice,
    weekday_name,
)

NOTICE_TTL = timedelta(minutes=30)
TEMPLATE = "holiday_notice.j2"


def is_notice(text: str) -> bool:
    return looks_like_notice(text)


def notice_reply(ctx: Context, text: str, source: str = "") -> str:
    """The answer to a notice pasted (or read from a file named `source`): its preview and a
    pending 确认, or why nothing was taken. Changes nothing."""
    if not ctx.is_admin:
        return ctx.say(TEMPLATE, "not_admin", source=source)
    try:
        notice = parse_notice(text)
    except NoticeError as exc:
        return ctx.say(TEMPLATE, "unreadable", source=source, reason=str(exc))
    return _preview(ctx, notice, source)


def notice_file(ctx: Context, stored: StoredFile, caption: str = "") -> str | None:
    """The answer to a .txt / .docx file that is a holiday notice; None when the file is
    something else (evidence), which then goes its usual way. A caption naming an item (Z12)
    keeps any file evidence; an admin's caption saying 节假日 makes it meant as the notice, so
    that an unreadable one is answered with why."""
    if not is_text_document(stored.original_name) or stored.size > MAX_TEXT_BYTES:
        return None
    if find_code(caption or "") is not None:
        return None
    meant = ctx.is_admin and "节假日" in (caption or "")
    store = EvidenceStore(ctx.config.data_dir / "evidence", max_bytes=0)
    try:
        text = document_text(store.path_for(stored.sha256).read_bytes(), stored.original_name)
    except (DocumentError, OSError) as exc:
        if not meant:
            return None
        reason = exc.args[0] if isinstance(exc, DocumentError) else "文件读取失败，请重新发送。"
        return ctx.say(TEMPLATE, "unreadable", source=stored.original_name, reason=reason)
    if not meant and not looks_like_notice(text):
        return None
    return notice_reply(ctx, text, source=stored.original_name)


def confirm_notice(ctx: Context, question: dict[str, Any]) -> str:
    """确认 (or 是 on the card) after a preview: exactly the days that were shown."""
    if not ctx.is_admin:
        return ctx.say(TEMPLATE, "not_admin", source="")
    data = question["notice"]
    days = {date.fromisoformat(d): (bool(w), str(n)) for d, w, n in data["days"]}
    try:
        done = apply_notice(ctx, int(data["year"]), days)
    except Refused as exc:
        return exc.message
    off = sum(1 for workday, _ in days.values() if not workday)
    return ctx.say(
        TEMPLATE,
        "applied",
        year=done.year,
        off=off,
        work=len(days) - off,
        changed=done.changed,
        marked=done.marked,
    )


def _preview(ctx: Context, notice: Notice, source: str) -> str:
    year = notice.year
    days = notice.days()
    cal = ctx.calendar
    to_off = [d for d, (work, _) in days.items() if not work and cal.is_workday(d)]
    to_work = [d for d, (work, _) in days.items() if work and not cal.is_workday(d)]
    if not to_off and not to_work and cal.covers(year):
        return ctx.say(TEMPLATE, "nothing_new", year=year)
    stored = CalendarDay.select(CalendarDay.day).where(
        CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31))
    )
    kept = [_day(row.day, year) for row in stored.order_by(CalendarDay.day) if row.day not in days]
    text = ctx.say(
        TEMPLATE,
        "preview",
        year=year,
        source=source,
        holidays=[_range_line(h.name, h.start, h.end, year) for h in notice.holidays],
        workdays=[f"{_day(m.day, year)}，{m.name}调休" for m in notice.workdays],
        warnings=list(notice.warnings),
        skipped=list(notice.skipped),
        to_off=[_day(d, year, weekday=False) for d in to_off],
        to_work=[_day(d, year, weekday=False) for d in to_work],
        kept=kept,
        same=len(days) - len(to_off) - len(to_work),
    )
    token = secrets.token_hex(4)
    payload = [[d.isoformat(), work, note] for d, (work, note) in days.items()]
    questions.ask(ctx, {"notice": {"year": year, "days": payload}, "token": token}, NOTICE_TTL)
    off = sum(1 for work, _ in days.values() if not work)
    card = {
        "kind": "confirm",
        "title": f"请确认 {year} 年节假日安排",
        "description": f"放假 {off} 天、调休上班 {len(days) - off} 天",
        "rows": [(h.name[:10], _span(h.start, h.end)) for h in notice.holidays][:6],
        "task_id": task_id_for("confirm", ctx.cause, token),
        "buttons": CONFIRM_BUTTONS,
        "subject": f"q{token}",
    }
    return Reply(text, card=card)


def _day(day: date, year: int, *, weekday: bool = True) -> str:
    text = (
        f"{day.month}月{day.day}日" if day.year == year else f"{day.year}年{day.month}月{day.day}日"
    )
    return f"{text}（{weekday_name(day)}）" if weekday else text


def _range_line(name: str, start: date, end: date, year: int) -> str:
    if start == end:
        return f"{name}：{_day(start, year)}，1 天"
    return f"{name}：{_day(start, year)}至{_day(end, year)}，{(end - start).days + 1} 天"


def _span(start: date, end: date) -> str:
    first = f"{start.month}月{start.day}日"
    return first if start == end else f"{first}至{end.month}月{end.day}日"
