"""The optional second reader (issue 18, part 5): a language model behind an OpenAI-compatible
endpoint, played by a fake on port 0. It is asked only about what the rules miss, outside any
transaction (the suite makes an outside call inside one an error, which would come back as the
"系统出错" reply), may only propose a command this person may use, and is always confirmed."""

from __future__ import annotations

import pytest
from conftest import make_config
from fakes.llm_server import FakeLLM
from fakes.transport import RecordingTransport
from helpers import ChatDriver

from bot.services import build_services
from models.progress import ProgressReport

UNCLEAR = "帮我弄一下上回说的那个事情"


@pytest.fixture
def llm():
    with FakeLLM() as fake:
        yield fake


def _driver(tmp_path, db_url, clock, **settings) -> ChatDriver:
    config = make_config(tmp_path, db_url, **settings)
    driver = ChatDriver(build_services(config, clock, RecordingTransport()))
    driver.bind("li", "市监局")
    return driver


@pytest.fixture
def with_llm(tmp_path, db_url, clock, db, llm):
    return _driver(
        tmp_path,
        db_url,
        clock,
        READER_LLM_URL=llm.url,
        READER_LLM_MODEL="qwen-local",
        READER_LLM_KEY="k-123",
        READER_LLM_TIMEOUT="1",
    )


def _reports() -> list[tuple[str, int]]:
    return [(r.assignment.item.code, r.percent) for r in ProgressReport.select()]


def test_off_by_default_and_with_nothing_to_propose_the_answer_is_the_same(
    bot, with_llm, llm, services
):
    bot.bind("li", "市监局")
    without = bot.say("li", UNCLEAR)
    llm.answer = "无"
    assert with_llm.say("li", UNCLEAR) == without
    assert len(llm.requests) == 1
    assert _reports() == []


def test_its_command_is_asked_first_and_carried_out_on_yes(with_llm, llm):
    llm.answer = "命令：`进度 T7 60%`"
    reply = with_llm.say("li", UNCLEAR)
    assert "T7" in reply and "60%" in reply and "是" in reply
    assert _reports() == []  # asked, nothing changed yet
    request = llm.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["model"] == "qwen-local"
    assert request["messages"][1]["content"] == UNCLEAR
    system = request["messages"][0]["content"]
    assert "进度 <编号> <百分比>" in system and "联络员" in system and "\n评分 " not in system
    assert llm.headers[0]["Authorization"] == "Bearer k-123"
    assert "已记录" in with_llm.say("li", "是")
    assert _reports() == [("T7", 60)]


def test_anything_but_yes_drops_it(with_llm, llm):
    llm.answer = "进度 T7 60%"
    with_llm.say("li", UNCLEAR)
    with_llm.say("li", "不是")
    assert _reports() == []


@pytest.mark.parametrize(
    "proposed",
    ["评分 Z11 3", "进度 T1 60%", "进度 T7 160%", "请您发送进度", "自检", "x" * 300],
)
def test_a_command_not_theirs_or_not_valid_is_not_offered(with_llm, llm, bot, proposed):
    bot.bind("li", "市监局")
    without = bot.say("li", UNCLEAR)
    llm.answer = proposed
    assert with_llm.say("li", UNCLEAR) == without
    assert _reports() == []


def test_what_the_rules_understand_never_reaches_it(with_llm, llm):
    with_llm.say("li", "进度 T7 60%")
    with_llm.say("li", "T11完成了一半")
    with_llm.say("li", "你好")
    assert llm.requests == []
    assert _reports() == [("T7", 60), ("T11", 50)]


def test_a_slow_or_failing_endpoint_is_left_alone_for_a_minute(with_llm, llm, bot):
    bot.bind("li", "市监局")
    without = bot.say("li", UNCLEAR)
    llm.answer, llm.delay = "进度 T7 60%", 3.0  # longer than READER_LLM_TIMEOUT=1
    assert with_llm.say("li", UNCLEAR) == without
    assert with_llm.say("li", UNCLEAR) == without  # not asked again while it rests
    assert len(llm.requests) == 1
    assert _reports() == []


def test_an_error_from_the_endpoint_gives_the_rules_answer(with_llm, llm, bot):
    bot.bind("li", "市监局")
    without = bot.say("li", UNCLEAR)
    llm.status = 500
    assert with_llm.say("li", UNCLEAR) == without


def test_settings_are_checked(tmp_path):
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match="READER_LLM_MODEL"):
        make_config(tmp_path, READER_LLM_URL="http://10.0.0.5:8000/v1")
    with pytest.raises(ConfigError, match="http"):
        make_config(tmp_path, READER_LLM_URL="10.0.0.5:8000", READER_LLM_MODEL="m")
    on = {"READER_LLM_URL": "http://h/v1", "READER_LLM_MODEL": "m"}
    with pytest.raises(ConfigError, match="READER_LLM_TIMEOUT"):
        make_config(tmp_path, READER_LLM_TIMEOUT="99", **on)
    assert "k-1" not in repr(make_config(tmp_path, READER_LLM_KEY="k-1", **on))
