"""What the board's pages show to whom: a leader and an admin see every unit, a liaison the
whole scorecard and their own unit's items, files and milestones only (bot/board/pages.py and
the templates, through the Flask app as a browser reaches it)."""

from __future__ import annotations

import re

import pytest
from board_setup import ADMIN, LEADER, LIAISON, build_campaign

from bot.board import access
from bot.web import create_app
from models.audit import AuditEntry


@pytest.fixture
def campaign(services, clock):
    return build_campaign(services, clock)


@pytest.fixture
def browser_as(services, clock):
    """A test client signed in as someone (a session as the sandbox or a link would give)."""
    app = create_app(services)

    def signed_in(userid: str):
        client = app.test_client()
        value, _ = access.start_session(userid, "sandbox", clock.now(), 12)
        client.set_cookie("board_session", value, path="/board")
        return client

    return signed_in


def text_of(response) -> str:
    html = response.get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_campaign_builds(campaign):
    assert campaign.own_unit != campaign.other_unit


def test_a_leader_sees_every_unit_and_the_whole_scorecard(campaign, browser_as):
    leader = browser_as(LEADER)
    home = leader.get("/board/")
    assert home.status_code == 200
    text = text_of(home)
    assert "预计评估得分" in text and "合格线 85 分" in text and "不合格" in text
    assert "项未评分" in text  # kept apart from 0
    for category in ("促进发展", "规范监管", "优化服务", "探索创新", "综合保障"):
        assert category in text
    assert "要合格，至少还需" in text and "本周变化" in text
    assert "数据计算于 2026-11-26 10:00:00" in text
    units = text_of(leader.get("/board/units"))
    assert "市监局" in units and "工信局" in units
    assert leader.get(f"/board/unit/{campaign.other_unit}").status_code == 200
    assigned = text_of(leader.get("/board/assigned"))
    assert "领导批示" in assigned and "会议议定" in assigned
    assert assigned.index("领导批示") < assigned.index("会议议定")


def test_the_trend_has_a_point_per_weekly_snapshot_and_now(campaign, browser_as):
    html = browser_as(LEADER).get("/board/").get_data(as_text=True)
    trend = html[html.index('id="trend"') : html.index('id="week"')]
    assert trend.count("<circle") == 4  # weeks 45, 46, 47 and now
    assert "45周" in trend and "47周" in trend and "现在" in trend and "合格线 85" in trend


def test_the_weeks_change_counts_this_week_only(campaign, browser_as):
    html = browser_as(LEADER).get("/board/").get_data(as_text=True)
    week = text_of_html(html[html.index('id="week"') : html.index('id="gap"')])
    # Since Monday 23 November: two progress reports, two files, T11 and J1 fell overdue.
    assert "2 进度报告" in week and "2 新佐证材料" in week and "2 本周新逾期" in week
    assert "与 2026-W47 周报相比" in week


def text_of_html(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_liaison_sees_the_scorecard_but_only_their_own_unit(campaign, browser_as):
    liaison = browser_as(LIAISON)
    home = text_of(liaison.get("/board/"))
    assert "预计评估得分" in home and "要合格，至少还需" in home
    assert "本周变化（县市场监管局）" in home
    units = liaison.get("/board/units").get_data(as_text=True)
    assert f'data-unit="{campaign.own_unit}"' in units
    assert f'data-unit="{campaign.other_unit}"' not in units and "工信局" not in units
    own = liaison.get(f"/board/unit/{campaign.own_unit}")
    assert own.status_code == 200 and "T14-1" in own.get_data(as_text=True)
    other = liaison.get(f"/board/unit/{campaign.other_unit}")
    assert other.status_code == 403 and "只能查看本单位的事项" in text_of(other)
    assert "T17" not in other.get_data(as_text=True)
    assigned = liaison.get("/board/assigned").get_data(as_text=True)
    assert "J1" in assigned and "J2" not in assigned  # J2 is 工信局's
    indicators = text_of(liaison.get("/board/indicators"))
    assert "Z1" in indicators and "Z41" in indicators  # the whole scorecard


def test_an_indicators_page_shows_its_rule_reports_and_only_visible_files(campaign, browser_as):
    leader = text_of(browser_as(LEADER).get("/board/indicator/Z11"))
    assert "评分标准" in leader and "国家网络交易监管平台" in leader
    assert "责任单位" in leader and "市监局" in leader
    liaison = text_of(browser_as(LIAISON).get("/board/indicator/Z11"))
    assert "责任单位（本单位）" in liaison
    assert browser_as(LEADER).get("/board/indicator/T7").status_code == 404
    assert browser_as(LEADER).get("/board/indicator/Z99").status_code == 404


def test_opening_a_file_is_logged_and_other_units_files_stay_closed(campaign, browser_as, db):
    liaison = browser_as(LIAISON)
    own = liaison.get(f"/board/file/{campaign.own_file}")
    assert own.status_code == 200 and own.data == campaign.own_file_bytes
    assert own.headers["Content-Type"] == "image/png"
    assert "sandbox" in own.headers["Content-Security-Policy"]
    opened = list(AuditEntry.select().where(AuditEntry.action == "board_file"))
    assert len(opened) == 1 and opened[0].actor == LIAISON
    assert opened[0].unit_name == "县市场监管局" and opened[0].item_code == "T11"
    other = liaison.get(f"/board/file/{campaign.other_file}")
    assert other.status_code == 403 and b"%PDF" not in other.data
    assert liaison.get("/board/file/999999").status_code == 404
    assert AuditEntry.select().where(AuditEntry.action == "board_file").count() == 1
    # A leader may open it; a PDF is a download, never shown inline.
    leader = browser_as(LEADER).get(f"/board/file/{campaign.other_file}")
    assert leader.status_code == 200 and leader.data.startswith(b"%PDF")
    assert leader.headers["Content-Type"] == "application/octet-stream"
    assert leader.headers["Content-Disposition"].startswith("attachment")


def test_a_withdrawn_file_is_not_listed_and_not_opened(campaign, browser_as, services):
    from helpers import ChatDriver

    reply = ChatDriver(services).say(LIAISON, f"佐证 撤回 {campaign.own_file} 传错了")
    assert "已撤回" in reply, reply
    liaison = browser_as(LIAISON)
    assert liaison.get(f"/board/file/{campaign.own_file}").status_code == 404
    page = liaison.get(f"/board/unit/{campaign.own_unit}").get_data(as_text=True)
    assert f"/board/file/{campaign.own_file}" not in page


def test_units_sort_by_any_column_both_ways(campaign, browser_as):
    leader = browser_as(LEADER)

    def order(query: str) -> list[str]:
        html = leader.get(f"/board/units?{query}").get_data(as_text=True)
        return re.findall(r'<tr data-unit="(\d+)"', html)

    default = order("")
    assert default[:2] == [str(campaign.own_unit), str(campaign.other_unit)]  # most red first
    assert order("sort=red&order=asc")[-2:] == [str(campaign.other_unit), str(campaign.own_unit)]
    for key in ("unit", "yellow", "blue", "milestones", "review", "last", "silent", "rate"):
        for direction in ("asc", "desc"):
            assert sorted(order(f"sort={key}&order={direction}")) == sorted(default), key
    assert order("sort=bogus&order=sideways") == default
    silent = leader.get("/board/units?sort=silent").get_data(as_text=True)
    assert 'aria-sort="descending"' in silent


def test_a_bound_person_without_a_unit_sees_the_scorecard_only(campaign, browser_as):
    admin_only = browser_as(ADMIN)  # BOT_ADMINS, bound to no unit: an admin sees all
    assert admin_only.get(f"/board/unit/{campaign.other_unit}").status_code == 200
    assert "在企业微信中催办" in text_of(admin_only.get(f"/board/unit/{campaign.own_unit}"))


def test_each_page_names_the_chat_command_for_its_reader(campaign, browser_as):
    admin = text_of(browser_as(ADMIN).get(f"/board/unit/{campaign.own_unit}"))
    assert "催办 市监局" in admin
    liaison = text_of(browser_as(LIAISON).get(f"/board/unit/{campaign.own_unit}"))
    assert "进度 编号 百分比 说明" in liaison and "催办 市监局" not in liaison
    leader = text_of(browser_as(LEADER).get("/board/"))
    assert "总览" in leader and "周报 预览" in leader


def test_the_pages_load_nothing_from_elsewhere(campaign, browser_as):
    leader = browser_as(LEADER)
    for path in ("/board/", "/board/units", f"/board/unit/{campaign.own_unit}",
                 "/board/indicators", "/board/indicator/Z11", "/board/assigned"):  # fmt: skip
        answer = leader.get(path)
        html = answer.get_data(as_text=True)
        assert answer.status_code == 200, path
        assert "<script" not in html and "http://" not in html and "https://" not in html, path
        assert re.findall(r'(?:href|src)="(?!/board/|/sandbox|data:|#)', html) == [], path
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert answer.headers["Cache-Control"] == "no-store"
    css = leader.get(re.search(r'href="(/board/static/board\.css\?v=\w+)"', html).group(1))
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert "@import" not in css.get_data(as_text=True) and "url(" not in css.get_data(as_text=True)


def test_someone_signed_in_but_not_bound_sees_the_refusal(campaign, browser_as):
    answer = browser_as("nobody")
    page = answer.get("/board/")
    assert page.status_code == 403 and "没有看板的查看权限" in text_of(page)
    assert "预计评估得分" not in text_of(page) and "/board/units" not in page.get_data(as_text=True)


def test_odd_ids_and_codes_in_addresses_are_not_found(campaign, browser_as):
    leader = browser_as(LEADER)
    for path in (
        "/board/unit/99999999999999999999999",
        "/board/file/99999999999999999999999",
        "/board/unit/-1",
        "/board/unit/2147483647",
        "/board/file/0",
        "/board/indicator/Z1%27%20OR%201=1",
        "/board/indicator/../units",
    ):
        answer = leader.get(path)
        assert answer.status_code == 404, path
