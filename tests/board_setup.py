"""A small campaign for the board's tests, built through the chat as people would: a leader, two
liaisons of two units, an admin (BOT_ADMINS: boss), deadlines (some overdue), progress, scores,
evidence files of both units, 交办 items from two sources, a milestone, and three weekly digests
published on earlier Mondays (the trend). The clock ends at START (Thursday 2026-11-26 10:00)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from conftest import START, TZ
from helpers import ChatDriver

from bot.pipeline import Incoming
from models.org import Unit
from models.progress import Evidence

LEADER, LIAISON, OTHER, STRANGER, ADMIN = "wang", "li", "gong", "stranger", "boss"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@dataclass(frozen=True)
class Campaign:
    own_unit: int  # 县市场监管局, LIAISON's
    other_unit: int  # 县工信科技局, OTHER's
    own_file: int  # an evidence id of LIAISON's unit
    other_file: int  # an evidence id of OTHER's unit
    own_file_bytes: bytes


def _at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 11, day, hour, 30, tzinfo=TZ)


def _file(services, userid: str, name: str, data: bytes, caption: str) -> None:
    stored = services.evidence.save(io.BytesIO(data), name)
    handled = services.pipeline.handle(
        Incoming("test", f"file-{userid}-{name}", userid, kind="file", text=caption, file=stored)
    )
    assert "已收到" in (handled.reply or ""), handled.reply


def build_campaign(services, clock) -> Campaign:
    bot = ChatDriver(services)
    clock.set(_at(2))  # Monday of week 45
    bot.bind(LEADER, "县人民政府", "领导")
    bot.bind(LIAISON, "市监局")
    bot.bind(OTHER, "工信局")
    for text in (
        "期限 T11 市监局 2026-11-20",
        "期限 T14 市监局 2026-12-04",
        "期限 T17 工信局 2026-11-24",
        "期限 Z11 2026-12-18",
        "评分 Z1 1 近两年一年超过全国",
        "评分 Z35 2 已成立领导小组",
    ):
        assert "已" in bot.say(ADMIN, text), text
    assert "已发布" in bot.say(ADMIN, "周报 发布")
    services.sender.drain()  # each step's messages leave on their day
    clock.set(_at(9))
    bot.say(LIAISON, "进度 T11 30% 已完成摸底")
    bot.say(ADMIN, "评分 Z36 3 制度健全")
    assert "已发布" in bot.say(ADMIN, "周报 发布")
    services.sender.drain()  # each step's messages leave on their day
    clock.set(_at(16))
    reply = bot.say(LEADER, "交办 市监局 2026-11-20 整治直播带货乱象（领导批示）")
    assert "已交办" in reply, reply
    reply = bot.say(ADMIN, "交办 工信局 每月5日 报送直播电商数据（会议议定）")
    assert "已交办" in reply, reply
    reply = bot.say(LIAISON, "节点 T14 2026-11-25 完成摸底调查")
    assert "T14-1" in reply, reply
    bot.say(ADMIN, "评分 Z37 2 保障到位")
    assert "已发布" in bot.say(ADMIN, "周报 发布")
    services.sender.drain()  # each step's messages leave on their day
    clock.set(_at(24, 10))  # this week (48): what the home page counts as the week's change
    bot.say(LIAISON, "进度 T11 60% 已完成整改方案")
    bot.say(OTHER, "进度 T17 20% 正在梳理")
    _file(services, LIAISON, "检查记录.png", PNG, "T11 佐证")
    _file(services, OTHER, "工信局名录.pdf", b"%PDF-1.4 other unit's file", "T17 佐证")
    services.sender.drain()  # each step's messages leave on their day
    clock.set(START)
    own = Unit.get(Unit.name == "县市场监管局").id
    other = Unit.get(Unit.name == "县工信科技局").id
    return Campaign(
        own_unit=own,
        other_unit=other,
        own_file=Evidence.get(Evidence.unit == own).id,
        other_file=Evidence.get(Evidence.unit == other).id,
        own_file_bytes=PNG,
    )
