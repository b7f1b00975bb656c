"""Next year's holidays in one paste: an admin pastes the State Council's notice, or sends it as a
.txt or .docx file; the bot previews it by date with weekdays and what it changes; 确认 applies
it through the calendar's own action, logged. Others are refused; what is not a notice changes
nothing."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import pytest
from conftest import TZ
from helpers import snapshot
from holiday_setup import OFF_2027, SAMPLE_2027, WORK_2027, docx

from bot.pipeline import Incoming
from bot.selfcheck import OK, WARN, run_checks
from bot.text import split_utf8
from models.audit import AuditEntry
from models.messages import InteractiveCard
from models.progress import Evidence
from models.schedule import CalendarDay, CalendarYear
from reminders import digest
from reminders.stored import load_calendar

NOTICES = Path(__file__).resolve().parent.parent / "fixtures" / "holiday_notices"


def send_file(services, userid: str, data: bytes, name: str, caption: str = "", n: str = "1"):
    stored = services.evidence.save(io.BytesIO(data), name)
    return services.pipeline.handle(
        Incoming("test", f"notice-{n}", userid, kind="file", text=caption, file=stored)
    ).reply


def test_a_pasted_notice_is_previewed_by_date_with_weekdays_and_changes_nothing(bot):
    before = snapshot()
    reply = bot.say("boss", SAMPLE_2027)
    assert "读到国务院 2027 年节假日安排" in reply
    assert "· 元旦：1月1日（星期五）至1月3日（星期日），3 天" in reply
    assert "· 春节：2月5日（星期五）至2月13日（星期六），9 天" in reply
    assert "· 2月14日（星期日），春节调休" in reply and "· 10月9日（星期六），国庆节调休" in reply
    # Against today's calendar (2027 unknown: Monday–Friday): 12 weekdays become days off.
    assert "12 天改为放假（1月1日、2月5日、2月8日" in reply and "其余 7 天已一致" in reply
    assert "4 天改为上班（2月14日、2月20日、9月26日、10月9日）" in reply
    assert "请核对原文" not in reply
    assert "回复“确认”" in reply
    assert snapshot() == before


def test_confirm_applies_it_through_the_calendar_action_and_logs_it(bot, services):
    bot.say("boss", SAMPLE_2027)
    reply = bot.say("boss", "确认")
    assert "已按国务院通知录入 2027 年节假日安排：放假 19 天、调休上班 4 天" in reply
    assert "并标记 2027 年已全部录入" in reply
    rows = {r.day: (r.workday, r.note, r.created_by) for r in CalendarDay.select()}
    assert len(rows) == OFF_2027 + len(WORK_2027)
    assert rows[date(2027, 2, 5)] == (False, "春节", "boss")
    assert rows[date(2027, 10, 9)] == (True, "国庆节调休上班", "boss")
    assert CalendarYear.get(CalendarYear.year == 2027).marked_by == "boss"
    cal = load_calendar()
    assert cal.covers(2027)
    assert not cal.is_workday(date(2027, 2, 8)) and cal.is_workday(date(2027, 2, 20))
    assert cal.next_workday(date(2027, 9, 30)) == date(2027, 10, 8)
    # One entry per day (as if typed one by one) and one for the notice.
    assert AuditEntry.select().where(AuditEntry.action == "calendar").count() == len(rows)
    entry = AuditEntry.get(AuditEntry.action == "calendar_notice")
    assert entry.actor == "boss" and "放假 19 天、调休上班 4 天" in entry.summary
    # The warning for 2027 is gone; the calendar command shows the days.
    assert cal.missing_year_warning(date(2026, 12, 7)) is None
    assert "2027-02-05 放假（春节）" in bot.say("boss", "日历 2027")


@pytest.mark.parametrize("answer", ["是", "好", "确认。"])
def test_yes_words_apply_it(bot, answer):
    bot.say("boss", SAMPLE_2027)
    assert "已按国务院通知录入" in bot.say("boss", answer)


def test_no_or_anything_else_drops_it(bot):
    before = snapshot()
    bot.say("boss", SAMPLE_2027)
    assert "没有记录" in bot.say("boss", "不")
    assert "已按国务院通知录入" not in bot.say("boss", "确认")
    assert snapshot() == before


def test_the_card_button_applies_it(bot, services):
    bot.say("boss", SAMPLE_2027)
    bot.deliver()
    card = InteractiveCard.select().order_by(InteractiveCard.id.desc()).first()
    if card is None:
        pytest.skip("this transport sends the text, not the card")
    event = {"event": "template_card_event", "EventKey": "yes", "TaskId": card.task_id}
    reply = services.pipeline.handle(
        Incoming("test", "click-1", "boss", kind="event", payload=event)
    ).reply
    assert "已按国务院通知录入 2027 年" in reply
    assert CalendarDay.select().count() == OFF_2027 + len(WORK_2027)


def test_a_wrong_weekday_is_flagged_in_the_preview(bot):
    reply = bot.say("boss", SAMPLE_2027.replace("2月20日（周六）", "2月20日（周日）"))
    assert "⚠ 请核对原文" in reply
    assert "2月20日通知写的是“星期日”，但这一天是星期六" in reply


def test_what_the_office_entered_is_compared_and_kept(bot):
    bot.say("boss", "日历 2027-02-05 休 除夕")  # the same day, another note
    bot.say("boss", "日历 2027-02-14 休 误录")  # the notice says this Sunday is worked
    bot.say("boss", "日历 2027-06-09 休 县里活动")  # not in the notice
    reply = bot.say("boss", SAMPLE_2027)
    assert "11 天改为放假" in reply  # 2月5日 is already off
    assert "4 天改为上班（2月14日" in reply
    assert "通知未提到的 1 天保持不变：6月9日（星期三）" in reply
    bot.say("boss", "确认")
    assert CalendarDay.get(CalendarDay.day == date(2027, 2, 14)).workday
    assert CalendarDay.get(CalendarDay.day == date(2027, 2, 5)).note == "春节"
    assert CalendarDay.get(CalendarDay.day == date(2027, 6, 9)).note == "县里活动"


def test_a_notice_the_calendar_already_has_needs_nothing(bot):
    before = snapshot()
    reply = bot.say("boss", (NOTICES / "2026.txt").read_text(encoding="utf-8"))
    assert "与现在的 2026 年工作日历完全一致，无需录入" in reply
    assert "已按" not in bot.say("boss", "确认")
    assert snapshot() == before


def test_a_non_admin_is_refused_and_nothing_changes(bot):
    bot.bind("li", "市监局")
    before = snapshot()
    reply = bot.say("li", SAMPLE_2027)
    assert "只有管理员可以录入国务院节假日安排" in reply
    assert "已按" not in bot.say("li", "确认")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "国务院办公厅关于2027年部分节假日安排的通知（还没发，先占个位，放假另行通知）",
            "没有找到“一、元旦：…”",
        ),
        ("一、元旦：1月1日放假。二、春节：2月5日至13日放假调休。", "没有找到通知的年份"),
        (
            "国务院办公厅关于2027年部分节假日安排的通知 一、春节：2月30日至3月5日放假。",
            "日期不存在",
        ),
    ],
)
def test_a_text_that_is_not_a_whole_notice_gets_the_reason_and_changes_nothing(bot, text, reason):
    before = snapshot()
    reply = bot.say("boss", text)
    assert "这段文字没有读成节假日安排，什么也没有录入" in reply and reason in reply
    assert snapshot() == before


def test_ordinary_messages_about_holidays_are_not_taken_for_a_notice(bot):
    bot.bind("li", "市监局")
    reply = bot.say("li", "进度 T7 60% 国庆放假前完成初稿")
    assert "节假日安排" not in reply and "T7" in reply


# ---------------------------------------------------------------- files


def test_a_docx_notice_is_previewed_and_applied(bot, services):
    reply = send_file(services, "boss", docx(SAMPLE_2027), "关于2027年部分节假日安排的通知.docx")
    assert reply.startswith("“关于2027年部分节假日安排的通知.docx”：读到国务院 2027 年节假日安排")
    assert "· 国庆节：10月1日（星期五）至10月7日（星期四），7 天" in reply
    assert Evidence.select().count() == 0  # not filed as evidence
    assert "已按国务院通知录入 2027 年" in bot.say("boss", "确认")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
def test_a_txt_notice_in_any_usual_encoding_is_read(services, encoding):
    reply = send_file(services, "boss", SAMPLE_2027.encode(encoding), "通知.txt", n=encoding)
    assert "读到国务院 2027 年节假日安排" in reply and "4 天改为上班" in reply


def test_a_real_notice_sent_as_docx_reads_like_the_text(bot, services):
    bot.say("boss", "日历 2023-10-07 休 误录")  # a make-up Saturday typed as a day off
    text = (NOTICES / "2023.txt").read_text(encoding="utf-8")
    reply = send_file(services, "boss", docx(text), "2023.docx")
    assert "· 元旦：2022年12月31日（星期六）至1月2日（星期一），3 天" in reply
    assert "· 中秋节、国庆节：9月29日（星期五）至10月6日（星期五），8 天" in reply
    assert "与现在的工作日历相比：1 天改为上班（10月7日）" in reply
    assert "已按国务院通知录入 2023 年" in bot.say("boss", "确认")
    assert load_calendar().is_workday(date(2023, 10, 7))


def test_a_docx_that_is_not_a_notice_stays_evidence(bot, services):
    bot.bind("li", "市监局")
    reply = send_file(services, "li", docx("工作方案\n一、目标"), "方案.docx", "T7")
    assert "已收到佐证材料" in reply
    assert Evidence.select().count() == 1


def test_a_broken_docx_captioned_as_holidays_gets_the_reason(services):
    before = snapshot()
    reply = send_file(services, "boss", b"PK\x03\x04 not really", "节假日.docx", "节假日安排")
    assert "没有读成节假日安排" in reply and "打不开" in reply
    assert snapshot() == before


def test_a_notice_file_from_a_non_admin_is_refused_and_not_filed(bot, services):
    bot.bind("li", "市监局")
    before = snapshot()
    reply = send_file(services, "li", docx(SAMPLE_2027), "放假通知.docx")
    assert "只有管理员可以录入国务院节假日安排" in reply and "写上编号" in reply
    assert snapshot() == before


# ---------------------------------------------------------------- from 1 December

DEC_7 = datetime(2026, 12, 7, 9, 30, tzinfo=TZ)  # a Monday
NOV_30 = datetime(2026, 11, 30, 9, 30, tzinfo=TZ)  # the Monday before


def calendar_check(config, now):
    return next(c for c in run_checks(config, now, None) if c.name == "节假日日历")


def test_from_1_december_selfcheck_says_next_year_is_missing_and_what_to_do(bot, clock, config):
    clock.set(NOV_30)
    assert calendar_check(config, NOV_30).level == OK
    clock.set(DEC_7)
    check = calendar_check(config, DEC_7)
    assert check.level == WARN and "缺少 2027 年的节假日安排" in check.detail
    assert "全文粘贴发给机器人" in check.advice and "确认" in check.advice
    reply = bot.say("boss", "自检")
    assert "缺少 2027 年的节假日安排" in reply and "全文粘贴发给机器人" in reply
    bot.say("boss", SAMPLE_2027)
    bot.say("boss", "确认")
    assert calendar_check(config, DEC_7).level == OK
    assert "缺少 2027 年" not in bot.say("boss", "自检")


def test_from_1_december_the_digest_says_so_until_the_notice_is_applied(bot, clock, services):
    quiet = digest.build(NOV_30, services.config, load_calendar())
    assert quiet["calendar_warning"] is None
    assert "2027 年的节假日安排" not in digest.render_markdown(quiet, services.renderer)
    data = digest.build(DEC_7, services.config, load_calendar())
    assert data["calendar_warning"] == 2027
    text = digest.render_markdown(data, services.renderer)
    assert "尚未录入 2027 年的节假日安排" in text and "通知全文发给机器人" in text
    clock.set(DEC_7)
    bot.say("boss", SAMPLE_2027)
    bot.say("boss", "确认")
    after = digest.build(DEC_7, services.config, load_calendar())
    assert after["calendar_warning"] is None
    assert "2027 年的节假日安排" not in digest.render_markdown(after, services.renderer)


def test_the_calendar_command_has_a_notice_form_in_its_help(bot):
    reply = bot.say("boss", "日历 通知")
    assert "全文直接粘贴发给我" in reply and ".docx" in reply
    assert "日历 通知 [通知全文]" in bot.say("boss", "帮助 日历")
    assert "已按国务院通知录入" not in bot.say("boss", "日历 通知 " + SAMPLE_2027)
    assert "已按国务院通知录入 2027 年" in bot.say("boss", "确认")
    bot.bind("li", "市监局")
    assert "只有管理员可以使用" in bot.say("li", "日历 通知")


def test_a_holiday_duty_roster_from_a_liaison_is_evidence_whatever_its_caption(bot, services):
    bot.bind("li", "市监局")
    roster = docx("国庆假期值班安排\n10月1日 张三\n10月2日 李四")
    reply = send_file(services, "li", roster, "值班表.docx", "T7 节假日值班安排", n="r1")
    assert "已收到佐证材料" in reply
    other = docx("春节假期值班安排\n2月5日 王五")
    reply = send_file(services, "li", other, "值班表2.docx", "节假日值班安排", n="r2")
    assert "已收到文件“值班表2.docx”并妥善保存" in reply


def test_a_notice_file_captioned_with_an_item_code_stays_evidence(bot, services):
    bot.bind("li", "市监局")
    reply = send_file(services, "li", docx(SAMPLE_2027), "放假通知.docx", "T7", n="c1")
    assert "已收到佐证材料" in reply and Evidence.select().count() == 1


def test_the_largest_preview_fits_in_few_messages(bot):
    """2026's notice relabelled 2027: seven festivals, six make-up days, and every stated
    weekday wrong (a year off), the most a preview says."""
    text = (NOTICES / "2026.txt").read_text(encoding="utf-8").replace("2026年", "2027年")
    reply = bot.say("boss", text)
    assert reply.count("请核对原文") >= 20
    assert len(split_utf8(reply, 2048)) <= 3
    assert "已按国务院通知录入 2027 年" in bot.say("boss", "确认")
