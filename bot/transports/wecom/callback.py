"""The WeCom callback (接收消息): the only importer of wechatpy's crypto and parser.

Checked here before wechatpy sees anything: body size, timestamp window, and the signature in
constant time. Every decode, decrypt or parse failure becomes a CallbackError with a 4xx status;
nothing is stored for a request that fails. A good message is only recorded (the pipeline's
`receive`), so WeCom gets its 200 within a second; a worker does the rest.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import logging
import struct
from urllib.parse import unquote
from xml.parsers.expat import ExpatError

import xmltodict

from bot.clock import Clock
from bot.config import Config
from bot.pipeline import Handled, Incoming, Pipeline
from bot.transports.wecom import lean

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
TIMESTAMP_WINDOW = 300  # seconds either side of now
FILE_TYPES = {"image", "voice", "video", "file"}

# Everything wechatpy may raise on hostile input (wecom.md lists them), with its own two
# exception types added where the crypto is loaded (WeComCallback).
_DECODE_ERRORS = (
    ExpatError,
    KeyError,
    TypeError,
    binascii.Error,
    UnicodeDecodeError,
    ValueError,
    IndexError,
    AttributeError,
    struct.error,  # wechatpy unpacks the length field without checking it (found by fuzzing)
)


class CallbackError(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_query(raw: bytes) -> dict[str, str]:
    """The query string, percent-decoded but with "+" kept: WeCom's base64 echostr holds "+",
    and turning it into a space (form decoding) breaks the signature."""
    result: dict[str, str] = {}
    for pair in raw.decode("latin-1").split("&"):
        name, _, value = pair.partition("=")
        if name and name not in result:
            result[unquote(name)] = unquote(value)
    return result


class WeComCallback:
    def __init__(self, config: Config, clock: Clock, pipeline: Pipeline):
        self.config = config
        self.clock = clock
        self.pipeline = pipeline
        # Loaded here, not when this module is imported: the web page's error types live here
        # too, and only the process that takes WeCom's callbacks needs the crypto (lean.py).
        lean.load()
        from wechatpy.exceptions import InvalidSignatureException
        from wechatpy.work.crypto import WeChatCrypto
        from wechatpy.work.exceptions import InvalidCorpIdException
        from wechatpy.work.parser import parse_message

        self.crypto = WeChatCrypto(
            config.wecom_token, config.wecom_encoding_aes_key, config.wecom_corp_id
        )
        self.parse_message = parse_message
        self.decode_errors = (InvalidSignatureException, InvalidCorpIdException, *_DECODE_ERRORS)

    # ------------------------------------------------------------------ checks

    def _check_time(self, timestamp: str) -> None:
        try:
            sent = int(timestamp)
        except (TypeError, ValueError):
            raise CallbackError(403, "bad timestamp") from None
        if abs(self.clock.now().timestamp() - sent) > TIMESTAMP_WINDOW:
            raise CallbackError(403, "stale or future timestamp")

    def _check_signature(self, signature: str, timestamp: str, nonce: str, encrypted: str):
        parts = sorted([self.config.wecom_token, timestamp, nonce, encrypted])
        expected = hashlib.sha1("".join(parts).encode()).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.lower().encode("utf-8", "replace")):
            raise CallbackError(403, "bad signature")

    def _params(self, args) -> tuple[str, str, str]:
        signature = args.get("msg_signature") or ""
        timestamp = args.get("timestamp") or ""
        nonce = args.get("nonce") or ""
        if not signature or not timestamp or not nonce:
            raise CallbackError(400, "missing msg_signature, timestamp or nonce")
        if len(signature) > 64 or len(nonce) > 64 or len(timestamp) > 20:
            raise CallbackError(400, "oversized parameters")
        return signature, timestamp, nonce

    # ------------------------------------------------------------------ GET: the URL check

    def verify_url(self, args) -> str:
        signature, timestamp, nonce = self._params(args)
        echostr = args.get("echostr") or ""
        if not echostr or len(echostr) > 4096:
            raise CallbackError(400, "missing echostr")
        self._check_time(timestamp)
        self._check_signature(signature, timestamp, nonce, echostr)
        try:
            return self.crypto.check_signature(signature, timestamp, nonce, echostr)
        except self.decode_errors as exc:
            raise CallbackError(400, f"echostr does not decrypt: {type(exc).__name__}") from None

    # ------------------------------------------------------------------ POST: a message

    def receive(self, args, body: bytes) -> Handled | None:
        """Check, decrypt, parse and record one callback. None: a message we ignore."""
        signature, timestamp, nonce = self._params(args)
        if len(body) > MAX_BODY:
            raise CallbackError(413, "body too large")
        self._check_time(timestamp)
        try:
            envelope = xmltodict.parse(body)["xml"]
            encrypted = envelope["Encrypt"]
        except self.decode_errors as exc:
            raise CallbackError(400, f"malformed envelope: {type(exc).__name__}") from None
        if not isinstance(encrypted, str) or not encrypted:
            raise CallbackError(400, "no Encrypt element")
        self._check_signature(signature, timestamp, nonce, encrypted)
        try:
            plaintext = self.crypto.decrypt_message(
                {"Encrypt": encrypted}, signature, timestamp, nonce
            )
            message = self.parse_message(plaintext)
            data = dict(message._data)  # raw fields: file and card events parse as Unknown
        except self.decode_errors as exc:
            raise CallbackError(400, f"does not decrypt or parse: {type(exc).__name__}") from None
        incoming = to_incoming(data)
        if incoming is None:
            return None
        return self.pipeline.receive(incoming)


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def to_incoming(data: dict) -> Incoming | None:
    """A decrypted WeCom message as the pipeline's Incoming; None for what the bot ignores."""
    userid = _text(data, "FromUserName")
    msg_type = _text(data, "MsgType").lower()
    if not userid or not msg_type:
        raise CallbackError(400, "message without sender or type")
    if msg_type == "event":
        event = _text(data, "Event").lower()
        if event not in ("enter_agent", "template_card_event"):
            return None
        keys = [
            userid,
            _text(data, "CreateTime"),
            event,
            _text(data, "EventKey"),
            _text(data, "TaskId"),
        ]
        payload = {
            "event": event,
            "EventKey": _text(data, "EventKey"),
            "TaskId": _text(data, "TaskId"),
            "ResponseCode": _text(data, "ResponseCode"),
            "CardType": _text(data, "CardType"),
        }
        return Incoming("wecom", "event:" + ":".join(keys), userid, kind="event", payload=payload)
    msg_id = _text(data, "MsgId")
    if not msg_id:
        raise CallbackError(400, "message without MsgId")
    if msg_type == "text":
        return Incoming("wecom", msg_id, userid, kind="text", text=_text(data, "Content"))
    if msg_type in FILE_TYPES:
        payload = {"media_id": _text(data, "MediaId"), "file_name": _text(data, "FileName")}
        if not payload["media_id"]:
            raise CallbackError(400, "file message without MediaId")
        return Incoming("wecom", msg_id, userid, kind=msg_type, payload=payload)
    return None  # location, link…: nothing to do
