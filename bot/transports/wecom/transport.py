"""The WeCom transport: outbox rows to message/send, template cards, card updates, and the
leading group through the group robot (webhook) or an app chat.

Long texts are split at line boundaries into parts within WeCom's byte limits. Every
message/send asks for WeCom's duplicate check, which drops a request whose JSON is the same as
one delivered within `duplicate_check_interval`. The JSON is made identical for every attempt
at the same outbox row and part (a retry after a timeout whose answer was lost, or of a part
sent before a later part failed, is dropped by WeCom) and different between rows (the same
answer asked for twice is delivered twice): the interval is derived from the row id. Rates are
kept below WeCom's silent-drop limits with sliding windows.
"""

from __future__ import annotations

import base64
import functools
import logging
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.config import Config
from bot.evidence import EvidenceStore
from bot.task_ids import renewed_task_id
from bot.text import split_utf8
from bot.transports.base import (
    Delivered,
    Outgoing,
    PermanentSendError,
    Throttled,
    TransientSendError,
)
from bot.transports.wecom.errors import TELL, WeComError
from bot.transports.wecom.stored import MediaIds, MemberWindow, stored_chat_id

if TYPE_CHECKING:  # built on first use (bot/services.py): requests and wechatpy wait till then
    from bot.transports.wecom.client import WeComClient

log = logging.getLogger(__name__)

APP_TEXT_LIMIT = 2048  # text and app markdown
ROBOT_MARKDOWN_LIMIT = 4096
ROBOT_TEXT_LIMIT = 2048
# duplicate_check_interval: WeCom's default is 1800 s, its maximum 4 h. Each row gets its own
# value in that range, so two rows never send the same JSON (unless 12600 rows apart).
DUPLICATE_CHECK_MIN = 1800
DUPLICATE_CHECK_SPAN = 4 * 3600 - DUPLICATE_CHECK_MIN


class SlidingWindow:
    """At most `limit` events per `seconds` for each key; says how long to wait otherwise."""

    def __init__(self, limit: int, seconds: float, now: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.seconds = seconds
        self.now = now
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def wait_needed(self, keys, count: int = 1) -> float:
        """0 and the events recorded, or the seconds to wait before all keys have room.

        A request for more than `limit` events at once (a reply of more than 30 parts) can
        never have room: it waits until the key's window is empty and is then let through
        whole. Splitting it across attempts would resend the first parts on every attempt, and
        the outbox row is one unit. WeCom may drop what exceeds its own limit; replies are kept
        far below it (tests/test_message_sizes.py)."""
        with self._lock:
            now = self.now()
            wait = 0.0
            for key in keys:
                events = self._events[key]
                while events and events[0] <= now - self.seconds:
                    events.popleft()
                if not events or len(events) + count <= self.limit:
                    continue
                # The event that must leave the window first: the oldest ones go first.
                index = min(len(events) + count - self.limit, len(events)) - 1
                wait = max(wait, events[index] + self.seconds - now)
            if wait > 0:
                return wait
            for key in keys:
                self._events[key].extend([now] * count)
            return 0.0


class WeComTransport:
    name = "wecom"

    def __init__(
        self, config: Config, client: WeComClient, now: Callable[[], float] = time.monotonic
    ):
        self.config = config
        self.client = client
        # WeCom drops more than 30 a minute per member, and more than 20 a minute per group
        # robot. A wait for room is not a failure: `Throttled` puts the row back in line.
        # Counted in the database (stored.MemberWindow): whichever process sent them.
        self.per_member: SlidingWindow | MemberWindow = MemberWindow(30, 60)
        self.per_robot = SlidingWindow(20, 60, now=now)
        self.media = MediaIds(client)
        # The app chat the app created (建群), read from the database at each group send.
        self.chat_id: Callable[[], str] = stored_chat_id

    def send(self, message: Outgoing) -> Delivered | None:
        try:
            if message.channel == "group":
                return self._send_group(message)
            if message.msg_type == "card_update":
                return self._update_card(message)
            return self._send_members(message)
        except WeComError as exc:
            if exc.permanent:
                raise PermanentSendError(exc.describe(), errcode=exc.errcode) from None
            raise TransientSendError(
                exc.describe(),
                retry_after=exc.retry_after,
                outage=exc.outage,
                errcode=exc.errcode,
                tell=exc.action == TELL,
                uncertain=exc.uncertain,
            ) from None

    # ------------------------------------------------------------------ members

    def _send_members(self, message: Outgoing) -> Delivered:
        text = message.content.get("text", "")
        if message.msg_type == "file":
            media_id = self._upload_file(message)
            payloads = [self._payload(message, "file", {"media_id": media_id})]
        elif message.msg_type == "card" and message.content.get("card"):
            payloads = [self._payload(message, "template_card", message.content["card"])]
        elif message.msg_type == "markdown":
            payloads = self._text_payloads(message, "markdown", text)
        else:
            payloads = self._text_payloads(message, "text", text)
        if len(payloads) > self.per_member.limit:
            log.warning(
                "outbox row %s is %s messages, more than WeCom delivers to a member in a minute;"
                " it may drop the excess",
                message.id,
                len(payloads),
            )
        wait = self.per_member.wait_needed(message.recipients, len(payloads))
        if wait:
            raise Throttled("每人每分钟最多接收 30 条消息，稍后再发", wait)
        if payloads[0]["msgtype"] == "template_card":
            return self._send_card(message, payloads[0], text)
        try:
            results = [self.client.post("message/send", payload) for payload in payloads]
        except WeComError as exc:
            if message.msg_type != "file" or exc.errcode != MEDIA_GONE:
                raise
            # WeCom let the uploaded file go before its 3 days: upload afresh, once.
            self.media.forget(media_id)
            fresh = self._payload(message, "file", {"media_id": self._upload_file(message)})
            results = [self.client.post("message/send", fresh)]
        return _delivered(results)

    def _send_card(self, message: Outgoing, payload: dict, text: str) -> Delivered:
        """The card; under a new task id once if WeCom has seen this one (42014: a database
        reset or restore brought back an id used before); else, if WeCom refuses the card
        itself, its text, logged and reported to the sender. Never silently."""
        try:
            return _delivered([self.client.post("message/send", payload)])
        except WeComError as exc:
            refusal = exc
        if refusal.errcode == TASK_ID_USED:
            old = payload["template_card"].get("task_id", "")
            task_id = renewed_task_id(old)
            log.info(
                "outbox row %s: task_id %s was used before; sending as %s", message.id, old, task_id
            )
            payload = {**payload, "template_card": {**payload["template_card"], "task_id": task_id}}
            try:
                delivered = _delivered([self.client.post("message/send", payload)])
            except WeComError as exc:
                refusal = exc
            else:
                return replace(delivered, task_id=task_id)
        if not _card_refused(refusal):
            raise refusal
        reason = refusal.describe()
        log.warning(
            "outbox row %s: WeCom refused the card (%s); sending its text", message.id, reason
        )
        results = [
            self.client.post("message/send", fallback)
            for fallback in self._text_payloads(message, "text", text)
        ]
        return replace(_delivered(results), fallback_reason=reason)

    def _upload_file(self, message: Outgoing) -> str:
        """Files we send (the ledger) are kept by SHA-256 under DATA_DIR/<store>; uploaded once
        and the media_id reused while it lives (MediaIds), so a retry is the very same message
        and WeCom's duplicate check catches it."""
        meta = message.content["file"]
        store = EvidenceStore(self.config.data_dir / meta.get("store", "exports"), max_bytes=0)
        try:
            data = store.path_for(meta["sha256"]).read_bytes()
        except (OSError, ValueError) as exc:
            raise PermanentSendError(
                f"要发送的文件不存在：{meta.get('name', '')}（{exc}）"
            ) from None
        return self.media.upload("file", meta.get("name", "file"), data)

    def _text_payloads(self, message: Outgoing, msgtype: str, text: str) -> list[dict]:
        """One payload per part. Two parts of one row with the same words (rare: a repeated
        2 KB block) would be the same JSON, and WeCom would drop the second: a repeat gets the
        next interval."""
        payloads: list[dict] = []
        seen: Counter[str] = Counter()
        for part in split_utf8(text, APP_TEXT_LIMIT):
            payloads.append(self._payload(message, msgtype, {"content": part}, repeat=seen[part]))
            seen[part] += 1
        return payloads

    def _payload(self, message: Outgoing, msgtype: str, body: dict, repeat: int = 0) -> dict:
        return {
            "touser": "|".join(message.recipients),
            "msgtype": msgtype,
            "agentid": self.config.wecom_agent_id,
            msgtype: body,
            "enable_duplicate_check": 1,
            "duplicate_check_interval": duplicate_check_interval(message.id + repeat),
        }

    def _update_card(self, message: Outgoing) -> Delivered:
        self.client.post(
            "message/update_template_card",
            {
                "userids": list(message.recipients),
                "agentid": self.config.wecom_agent_id,
                "response_code": message.content["response_code"],
                "button": {"replace_name": message.content["replace_name"]},
            },
        )
        return Delivered()

    # ------------------------------------------------------------------ the leading group

    def _send_group(self, message: Outgoing) -> Delivered:
        """Each part once: the robot and app chats have no duplicate check (see _post_parts)."""
        if message.msg_type == "image":
            return self._send_group_image(message)
        text = message.content.get("text", "")
        markdown = message.msg_type == "markdown"
        kind = "markdown" if markdown else "text"
        if self.config.wecom_group_webhook_url:
            url = self.config.wecom_group_webhook_url
            limit = ROBOT_MARKDOWN_LIMIT if markdown else ROBOT_TEXT_LIMIT
            parts = split_utf8(text, limit)
            left = [i for i in range(len(parts)) if not _posted(message, i)]
            wait = self.per_robot.wait_needed(["robot"], len(left))
            if wait:
                raise Throttled("群机器人每分钟最多 20 条，稍后再发", wait)
            self._post_parts(
                message,
                [
                    functools.partial(
                        self.client.post_webhook, url, {"msgtype": kind, kind: {"content": part}}
                    )
                    for part in parts
                ],
            )
            return Delivered()
        chatid = self.group_chat_id()
        if chatid:
            self._post_parts(
                message,
                [
                    functools.partial(
                        self.client.post,
                        "appchat/send",
                        {"chatid": chatid, "msgtype": kind, kind: {"content": part}},
                    )
                    for part in split_utf8(text, APP_TEXT_LIMIT)
                ],
            )
            return Delivered()
        raise _no_group()

    def _send_group_image(self, message: Outgoing) -> Delivered:
        b64, md5 = message.content["png_b64"], message.content["md5"]
        if self.config.wecom_group_webhook_url:
            if not _posted(message, 0):
                wait = self.per_robot.wait_needed(["robot"], 1)
                if wait:
                    raise Throttled("群机器人每分钟最多 20 条，稍后再发", wait)
            url = self.config.wecom_group_webhook_url
            payload = {"msgtype": "image", "image": {"base64": b64, "md5": md5}}
            self._post_parts(message, [functools.partial(self.client.post_webhook, url, payload)])
            return Delivered()
        chatid = self.group_chat_id()
        if chatid:

            def post() -> None:
                media_id = self.media.upload("image", "chart.png", base64.b64decode(b64))
                self.client.post(
                    "appchat/send",
                    {"chatid": chatid, "msgtype": "image", "image": {"media_id": media_id}},
                )

            self._post_parts(message, [post])
            return Delivered()
        raise _no_group()

    def group_chat_id(self) -> str:
        """The app chat of the leading group: the one the app created (建群), else the setting."""
        return self.chat_id() or self.config.wecom_group_chat_id

    def _post_parts(self, message: Outgoing, posts: list[Callable[[], object]]) -> None:
        """Post each part not yet posted. A part is recorded as begun before it goes (committed:
        no network call waits in a transaction) and as posted once taken. A part whose answer
        never came, now or in an attempt before (its sender died), is not posted again blindly:
        the row fails as uncertain, and the admins are asked to look and 重发."""
        log = message.parts
        for index, post in enumerate(posts):
            if log is not None:
                if log.posted(index):
                    continue
                if log.uncertain() == index:
                    raise _uncertain(index, len(posts), "上次发送时没有等到应答（发送进程中断）")
                log.begin(index)
            try:
                post()
            except WeComError as exc:
                if log is not None and exc.uncertain:
                    raise _uncertain(index, len(posts), exc.describe()) from None
                if log is not None:
                    log.undo(index)
                raise
            if log is not None:
                log.done(index)


def duplicate_check_interval(row_id: int) -> int:
    """1800..14400 s, fixed for an outbox row: WeCom's duplicate check compares the whole request
    JSON, so this is what tells two rows with the same words apart, while every retry of one row
    sends the very same JSON and is dropped by WeCom if an earlier attempt got through."""
    return DUPLICATE_CHECK_MIN + row_id % DUPLICATE_CHECK_SPAN


TASK_ID_USED = 42014  # a template card's task_id this app has used before
MEDIA_GONE = 40007  # a media_id WeCom no longer knows

# Errors about who, when or how often, not about the card: a text would fail the same way.
_NOT_ABOUT_THE_CARD = {-1, 40014, 42001, 41001, 45009, 45033, 48002, 60011, 60020, 81013}


def _delivered(results: list[dict]) -> Delivered:
    invalid = {
        userid
        for result in results
        for userid in str(result.get("invaliduser") or "").split("|")
        if userid
    }
    msgid = next((str(r["msgid"]) for r in results if r.get("msgid")), "")
    return Delivered(msgid=msgid, invalid_recipients=tuple(sorted(invalid)))


def _card_refused(exc: WeComError) -> bool:
    return exc.errcode is not None and exc.errcode not in _NOT_ABOUT_THE_CARD


def _posted(message: Outgoing, index: int) -> bool:
    return message.parts is not None and message.parts.posted(index)


def _uncertain(index: int, total: int, why: str) -> PermanentSendError:
    which = f"第 {index + 1}/{total} 段" if total > 1 else "消息"
    return PermanentSendError(
        f"{which}发出后没有收到应答，可能已经送达，也可能没有：{why}", uncertain=True
    )


def _no_group() -> PermanentSendError:
    return PermanentSendError(
        "未配置领导小组群：请填写 WECOM_GROUP_WEBHOOK_URL（群机器人）"
        "或 WECOM_GROUP_CHAT_ID（应用群聊）"
    )
