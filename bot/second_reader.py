"""A second reader for what the rules miss (issue 18, part 5): a language model the county runs
on its own server, behind an OpenAI-compatible chat endpoint (`/chat/completions`).

It is off unless READER_LLM_URL and READER_LLM_MODEL are set. It is asked only about a message
the rules did not understand, and only outside any database transaction. It may only propose one
command in the bot's own grammar; the reader parses that like a typed command and always asks
the person to confirm it before anything changes (bot/commands/reader.py: `second_opinion`).
Whatever goes wrong -- no answer within READER_LLM_TIMEOUT, an error, an answer that is not a
command this person may use -- the person gets the answer they would have had without it, and
after a failure the endpoint is left alone for a minute so one slow peer cannot hold up every
message behind it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

REST_AFTER_FAILURE = 60.0  # seconds the endpoint is not asked after it failed
MAX_TEXT = 300  # characters of a message worth sending

_SYSTEM = """你是县政府督查室督办机器人的辅助读者。联络员、领导和办公室人员用自己的话给机器人发消息，
机器人的规则没有看懂这一条。请把它改写成机器人的一条命令，只输出这条命令本身，不要解释；
看不出要做什么、或者命令表里没有合适的命令时，只输出“无”。
编号：T1–T22 是主要任务，Z1–Z41 是评估指标，J 开头是交办事项。日期写成 2026-12-18。
今天是 {today}。发消息的人：{who}。
此人可以用的命令（<> 必填，[] 可选）：
{commands}"""


@dataclass
class SecondReader:
    url: str  # the endpoint's base, e.g. http://10.0.0.5:8000/v1
    model: str
    key: str = field(default="", repr=False)
    timeout: float = 6.0
    _session: Any = field(default=None, repr=False)
    _resting_until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_config(cls, config) -> SecondReader | None:
        if not (config.reader_llm_url and config.reader_llm_model):
            return None
        return cls(
            url=config.reader_llm_url,
            model=config.reader_llm_model,
            key=config.reader_llm_key,
            timeout=config.reader_llm_timeout,
        )

    def propose(self, text: str, *, today: str, who: str, commands: list[str]) -> str | None:
        """One command line in the bot's grammar, or None."""
        if len(text) > MAX_TEXT:
            return None
        with self._lock:
            if time.monotonic() < self._resting_until:
                return None
        # Imported on first use: the web process never loads requests (tests/wecom/
        # test_lean_wechatpy.py holds it), and the second reader is off by default.
        import requests

        from bot.http import OutsideTransactions

        if self._session is None:
            self._session = OutsideTransactions()
        prompt = _SYSTEM.format(today=today, who=who, commands="\n".join(commands))
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        try:
            response = self._session.post(
                f"{self.url}/chat/completions",
                json={
                    "model": self.model,
                    "temperature": 0,
                    "max_tokens": 80,
                    "messages": [
                        {"role": "system", "content": prompt},
                        {"role": "user", "content": text},
                    ],
                },
                headers=headers,
                timeout=(min(3.0, self.timeout), self.timeout),
            )
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
        except (requests.RequestException, ValueError, KeyError, IndexError, TypeError) as exc:
            log.warning(
                "the second reader did not answer (%s): resting a minute", type(exc).__name__
            )
            with self._lock:
                self._resting_until = time.monotonic() + REST_AFTER_FAILURE
            return None
        return command_line(content)


_QUOTES = "`'\"“”‘’「」"


def command_line(content: object) -> str | None:
    """The command in a model's answer: its first line that is not empty, without quotes or a
    "命令：" label; None for 无 or anything not plain text."""
    if not isinstance(content, str):
        return None
    for line in content.splitlines():
        line = line.strip().strip(_QUOTES).strip()
        line = re.sub(r"^(?:命令|输出|答)\s*[:：]\s*", "", line).strip(_QUOTES).strip()
        if not line or line.startswith("```"):
            continue
        if line in ("无", "无。", "none", "None") or len(line) > 200:
            return None
        return line
    return None
