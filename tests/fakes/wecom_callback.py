"""A client that plays WeCom's side of the app callback: builds the plaintext XML WeCom sends,
encrypts and signs it with wechatpy's real crypto, and posts it to the bot's callback URL.
"""

from __future__ import annotations

import re
import secrets
import time

import requests
from wechatpy.crypto import _get_signature
from wechatpy.work.crypto import PrpCrypto, WeChatCrypto


class RawXml(str):
    """A field value inserted as XML, not as text (e.g. SelectedItems of a template_card_event)."""


def _cdata(value: object) -> str:
    """Wrap in CDATA; a "]]>" inside is split across two sections, as XML requires."""
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _element(name: str, value: object) -> str:
    """Numbers bare (as WeCom sends CreateTime, MsgId, AgentID), everything else in CDATA."""
    if isinstance(value, RawXml):
        return f"<{name}>{value}</{name}>"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"<{name}>{value}</{name}>"
    return f"<{name}>{_cdata(value)}</{name}>"


class CallbackClient:
    """Builds and posts WeCom callbacks with real encryption, as WeCom would."""

    def __init__(
        self,
        url: str,
        token: str,
        encoding_aes_key: str,
        corp_id: str,
        agent_id: int = 1000002,
    ):
        self.url = url
        self.token = token
        self.encoding_aes_key = encoding_aes_key
        self.corp_id = corp_id
        self.agent_id = agent_id
        self.crypto = WeChatCrypto(token, encoding_aes_key, corp_id)
        # WeCom's receive-message documentation does not list MsgType file: with this off, a
        # file callback is never sent (kept in `withheld`), as when WeCom does not deliver one.
        self.file_callbacks = True
        self.withheld: list[str] = []

    # ------------------------------------------------------------------ plaintext XML

    def _xml(self, from_user: str, msg_type: str, create_time: int | None, fields: list) -> str:
        parts = [
            _element("ToUserName", self.corp_id),
            _element("FromUserName", from_user),
            _element("CreateTime", int(time.time()) if create_time is None else int(create_time)),
            _element("MsgType", msg_type),
        ]
        parts += [_element(name, value) for name, value in fields]
        parts.append(_element("AgentID", self.agent_id))
        return "<xml>" + "".join(parts) + "</xml>"

    def text(
        self, from_user: str, content: str, msg_id: int, create_time: int | None = None
    ) -> str:
        return self._xml(from_user, "text", create_time, [("Content", content), ("MsgId", msg_id)])

    def image(
        self,
        from_user: str,
        media_id: str,
        msg_id: int,
        pic_url: str = "http://example.invalid/p.jpg",
        create_time: int | None = None,
    ) -> str:
        return self._xml(
            from_user,
            "image",
            create_time,
            [("PicUrl", pic_url), ("MediaId", media_id), ("MsgId", msg_id)],
        )

    def file(
        self,
        from_user: str,
        media_id: str,
        file_name: str,
        file_size: int,
        msg_id: int,
        create_time: int | None = None,
    ) -> str:
        """MsgType file: not in WeCom's official list, but reported to arrive like this."""
        return self._xml(
            from_user,
            "file",
            create_time,
            [
                ("MediaId", media_id),
                ("FileName", file_name),
                ("FileSize", int(file_size)),
                ("MsgId", msg_id),
            ],
        )

    def event(
        self, from_user: str, event: str, create_time: int | None = None, **fields: object
    ) -> str:
        """An event, e.g. event("u", "template_card_event", EventKey="ack", TaskId="t1",
        CardType="button_interaction", ResponseCode="rc"). A field given as raw XML must be
        wrapped with `RawXml` (e.g. SelectedItems)."""
        items: list = [("Event", event)]
        if "EventKey" not in fields and event in ("enter_agent", "click", "view"):
            items.append(("EventKey", ""))
        items += list(fields.items())
        return self._xml(from_user, "event", create_time, items)

    # ------------------------------------------------------------------ encryption

    def encrypt(self, plaintext: str) -> str:
        """The base64 Encrypt value for a plaintext (random 16 | len | text | corp id, AES-CBC)."""
        return PrpCrypto(self.crypto.key).encrypt(plaintext, self.corp_id).decode("ascii")

    def sign(self, timestamp: str | int, nonce: str, encrypted: str) -> str:
        return _get_signature(self.token, str(timestamp), nonce, encrypted)

    @staticmethod
    def new_nonce() -> str:
        return str(secrets.randbelow(9 * 10**9) + 10**9)

    def envelope(
        self, plaintext_xml: str, timestamp: int | None = None, nonce: str | None = None
    ) -> tuple[dict, bytes]:
        """Return (query params msg_signature/timestamp/nonce, the POST body WeCom would send)."""
        ts = str(int(time.time()) if timestamp is None else int(timestamp))
        nonce = self.new_nonce() if nonce is None else str(nonce)
        out = self.crypto.encrypt_message(plaintext_xml, nonce, timestamp=ts)
        encrypted = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", out).group(1)
        signature = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", out).group(1)
        body = (
            "<xml>"
            f"<ToUserName>{_cdata(self.corp_id)}</ToUserName>"
            f"<AgentID>{_cdata(self.agent_id)}</AgentID>"
            f"<Encrypt>{_cdata(encrypted)}</Encrypt>"
            "</xml>"
        ).encode()
        return {"msg_signature": signature, "timestamp": ts, "nonce": nonce}, body

    # ------------------------------------------------------------------ HTTP

    def post(
        self,
        plaintext_xml: str,
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
        params_override: dict | None = None,
        body_override: bytes | None = None,
        timeout: float = 10,
    ) -> requests.Response | None:
        """POST one encrypted callback. params_override values replace (None removes) params.
        None, and nothing sent, for a file while `file_callbacks` is off."""
        if not self.file_callbacks and "<MsgType><![CDATA[file]]></MsgType>" in plaintext_xml:
            self.withheld.append(plaintext_xml)
            return None
        params, body = self.envelope(plaintext_xml, timestamp, nonce)
        params.update(params_override or {})
        return requests.post(
            self.url,
            params=params,
            data=body if body_override is None else body_override,
            headers={"Content-Type": "text/xml"},
            timeout=timeout,
        )

    def verify_url(
        self,
        echostr_plain: str,
        timestamp: int | None = None,
        nonce: str | None = None,
        timeout: float = 10,
    ) -> requests.Response:
        """The URL check: GET ?msg_signature&timestamp&nonce&echostr=<encrypted, URL-encoded>."""
        ts = str(int(time.time()) if timestamp is None else int(timestamp))
        nonce = self.new_nonce() if nonce is None else str(nonce)
        echostr = self.encrypt(echostr_plain)
        params = {
            "msg_signature": self.sign(ts, nonce, echostr),
            "timestamp": ts,
            "nonce": nonce,
            "echostr": echostr,  # requests percent-encodes + / = (%2B %2F %3D)
        }
        return requests.get(self.url, params=params, timeout=timeout)
