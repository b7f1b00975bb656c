"""The WeCom API client: the only importer of wechatpy's client.

wechatpy's client is a thin base here. Its traps (wecom.md) are closed: every call, gettoken and
media included, goes to WECOM_API_BASE; every call has a timeout; no unbounded auto-retry (one
token refresh and one retry on 40014/42001); the token lives in the database, per app.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests
import urllib3

from bot.transports.wecom import lean

lean.load()  # before wechatpy: its Work client alone, not all of it (lean.py)

from wechatpy.exceptions import WeChatClientException  # noqa: E402
from wechatpy.work.client import WeChatClient  # noqa: E402

from bot.clock import Clock  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.http import OutsideTransactions  # noqa: E402
from bot.transports.wecom.errors import TOKEN_ERRORS, WeComError, scrub  # noqa: E402
from bot.transports.wecom.tokens import DatabaseSessionStorage, TokenKeeper  # noqa: E402

log = logging.getLogger(__name__)

TIMEOUT = (3.05, 10)  # connect, read (seconds)
# A media/get answer this small may be WeCom's JSON error rather than the file (errors are a
# few hundred bytes); a longer body is always the file.
ERROR_BODY_LIMIT = 64 * 1024


class _Api(WeChatClient):
    """wechatpy's client pointed at our base URL, with the token supplied by TokenKeeper."""

    def __init__(self, owner: WeComClient, session: DatabaseSessionStorage):
        self._owner = owner
        super().__init__(
            owner.config.wecom_corp_id,
            owner.config.wecom_secret,
            session=session,
            timeout=owner.timeout,
            auto_retry=False,
        )
        self.API_BASE_URL = f"{owner.config.wecom_api_base}/cgi-bin/"

    @property
    def access_token_key(self):  # per app, not per corp
        return self._owner.token_key

    @property
    def access_token(self):
        return self._owner.token()

    def fetch_access_token(self):
        token, expires_in = self._owner.fetch_token()
        return {"access_token": token, "expires_in": expires_in}

    def _decode_result(self, res):
        # wechatpy hands back the raw Response when the body is not JSON (an HTML page from a
        # proxy, an empty body), and callers then fail on `.get`: make it a WeComError here.
        return _decode(res, "企业微信")


class WeComClient:
    def __init__(self, config: Config, clock: Clock, *, timeout=TIMEOUT):
        self.config = config
        self.clock = clock
        self.timeout = timeout
        self.http = OutsideTransactions()
        self.token_key = f"wecom:{config.wecom_corp_id}:{config.wecom_agent_id}:access_token"
        self.tokens = TokenKeeper(self.token_key, self.fetch_token, clock)
        self.api = _Api(self, DatabaseSessionStorage(clock))
        self.api._http = self.http
        self.token_fetches = 0

    # ------------------------------------------------------------------ token

    def token(self, stale: str | None = None) -> str:
        return self.tokens.get(stale)

    def fetch_token(self) -> tuple[str, int]:
        """GET gettoken at the configured base (wechatpy's own fetch ignores it)."""
        self.token_fetches += 1
        data = self._get_json(
            "gettoken",
            {"corpid": self.config.wecom_corp_id, "corpsecret": self.config.wecom_secret},
        )
        token = data.get("access_token")
        if not token or not isinstance(token, str):
            raise WeComError(None, "企业微信的 gettoken 应答里没有 access_token", http_status=200)
        try:
            expires_in = int(data.get("expires_in", 7200))
        except (TypeError, ValueError):
            expires_in = 7200
        return token, expires_in

    # ------------------------------------------------------------------ calls

    def _with_token(self, call):
        """call(token); if WeCom refuses the token, one fresh token and one retry, no more."""
        token = self.token()
        try:
            return call(token)
        except WeComError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            log.info("access token refused (%s); fetching a new one", exc.errcode)
            return call(self.token(stale=token))

    def post(self, path: str, payload: dict) -> dict:
        """POST JSON to a token-protected endpoint."""
        return self._with_token(lambda token: self._post(path, payload, token))

    def get(self, path: str, params: dict) -> dict:
        """GET a token-protected endpoint."""
        return self._with_token(
            lambda token: self._get_json(path, {**params, "access_token": token})
        )

    def _post(self, path: str, payload: dict, token: str) -> dict:
        try:
            return self.api.post(path, data=payload, params={"access_token": token})
        except WeChatClientException as exc:
            raise _from_wechatpy(exc) from None
        except requests.RequestException as exc:
            raise _network_error(exc) from None

    def _get_json(self, path: str, params: dict) -> dict:
        url = f"{self.config.wecom_api_base}/cgi-bin/{path}"
        try:
            response = self.http.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise _network_error(exc) from None
        return _json_result(response, "企业微信")

    def post_webhook(self, url: str, payload: dict) -> dict:
        """The group robot: no token, the key is in the URL (never log it)."""
        try:
            response = self.http.post(url, json=payload, timeout=self.timeout)
        except requests.RequestException as exc:
            raise _network_error(exc) from None
        return _json_result(response, "群机器人")

    def upload_media(self, kind: str, filename: str, data: bytes) -> str:
        """POST media/upload (multipart); returns the media_id (valid 3 days)."""
        url = f"{self.config.wecom_api_base}/cgi-bin/media/upload"

        def upload(token: str) -> str:
            try:
                response = self.http.post(
                    url,
                    params={"access_token": token, "type": kind},
                    files={"media": (filename, data)},
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                raise _network_error(exc) from None
            media_id = _json_result(response, "企业微信").get("media_id")
            if not media_id:
                raise WeComError(None, "企业微信的上传应答里没有 media_id", http_status=200)
            return str(media_id)

        return self._with_token(upload)

    @contextmanager
    def media(
        self, media_id: str, check: Callable[[], None] = lambda: None
    ) -> Iterator[MediaStream]:
        """Stream GET media/get (wechatpy's download has no timeout and misses JSON errors).

        `check` is called before every read of the body and may raise to abandon the download:
        the read timeout bounds each read, not the whole transfer, so a peer that trickles
        bytes would otherwise hold the caller for as long as it likes."""
        token = self.token()
        url = f"{self.config.wecom_api_base}/cgi-bin/media/get"
        for attempt in (1, 2):
            check()
            try:
                response = self.http.get(
                    url,
                    params={"access_token": token, "media_id": media_id},
                    timeout=self.timeout,
                    stream=True,
                )
            except requests.RequestException as exc:
                raise _network_error(exc) from None
            with response:
                if response.status_code >= 400:
                    raise WeComError(None, http_status=response.status_code)
                stream = MediaStream(response, check)
                error = stream.json_error()
                if error is None:
                    yield stream
                    return
                if error.errcode in TOKEN_ERRORS and attempt == 1:
                    token = self.token(stale=token)
                    continue
                raise error


class MediaStream:
    """A media download being read: its headers, and its bytes through `read(n)`.

    Each read returns what one read from the socket brought (`read1`), so `check` runs at
    least once per read timeout however slowly the bytes come."""

    def __init__(self, response: requests.Response, check: Callable[[], None] = lambda: None):
        self.response = response
        self.headers = response.headers
        self.check = check
        self._prefix = b""

    def json_error(self) -> WeComError | None:
        """WeCom reports errors as JSON with HTTP 200: never save that as the file.

        The content decides, not the Content-Type (a proxy may relabel the answer): a body of
        at most ERROR_BODY_LIMIT bytes that is entirely a JSON object with a non-zero errcode
        is an error. Anything else, a JSON document someone sent as evidence included, is the
        file; what was read to judge it is handed out first by `read`."""
        length = _content_length(self.headers)
        if length is not None and length > ERROR_BODY_LIMIT:
            return None
        prefix = b""
        while len(prefix) <= ERROR_BODY_LIMIT:
            chunk = self._read(ERROR_BODY_LIMIT + 1 - len(prefix))
            if not chunk:
                break  # the whole body is in `prefix`
            prefix += chunk
            start = prefix.lstrip()
            if start and not start.startswith(b"{"):
                self._prefix = prefix
                return None  # not a JSON object: the file
        else:
            self._prefix = prefix
            return None  # longer than any error
        self._prefix = prefix
        try:
            data = json.loads(prefix.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict):
            return None
        errcode = _errcode(data.get("errcode"))
        if not errcode:
            return None
        return WeComError(errcode, str(data.get("errmsg", "")))

    def read(self, size: int = 64 * 1024) -> bytes:
        if self._prefix:
            chunk, self._prefix = self._prefix, b""
            return chunk
        return self._read(size)

    def _read(self, size: int) -> bytes:
        self.check()
        raw = self.response.raw
        try:
            read1 = getattr(raw, "read1", None)  # urllib3 2; 1.26 has only read
            if read1 is not None:
                return read1(size, decode_content=True)
            return raw.read(size, decode_content=True)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _network_error(exc) from None


def _content_length(headers) -> int | None:
    try:
        return int(headers.get("Content-Length", ""))
    except ValueError:
        return None


def _errcode(value) -> int | None:
    """An errcode as WeCom writes it (a number, sometimes a numeric string); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _network_error(exc: Exception) -> WeComError:
    return WeComError(None, scrub(type(exc).__name__ + ": " + str(exc)), uncertain=_went_out(exc))


def _went_out(exc: Exception) -> bool:
    """Whether the request may have reached WeCom: no answer after it was sent (a read
    timeout, a connection cut mid-answer), not a connection that never opened."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ReadTimeout | requests.exceptions.ChunkedEncodingError):
        return True
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        never = ("NewConnectionError", "Failed to establish", "Name or service", "refused")
        return not any(word in text for word in never)
    return False


def _json_result(response: requests.Response, who: str) -> dict:
    """The JSON answer of a call, or the WeComError it reports (errcode != 0, HTTP error)."""
    if response.status_code >= 400:
        raise WeComError(None, http_status=response.status_code)
    data = _decode(response, who)
    errcode = int(data.get("errcode") or 0)
    if errcode != 0:
        raise WeComError(errcode, str(data.get("errmsg", "")))
    return data


def _decode(response: requests.Response, who: str) -> dict:
    """The body as a JSON object; anything else is an unreadable answer (retried: a proxy's
    error page or a cut-off body says nothing about whether WeCom would take the call)."""
    try:
        data = json.loads(response.content.decode("utf-8"), strict=False)
    except (UnicodeDecodeError, ValueError):
        raise _unreadable(response, who) from None
    if not isinstance(data, dict):
        raise _unreadable(response, who)
    try:
        int(data.get("errcode") or 0)
    except (TypeError, ValueError):
        raise _unreadable(response, who) from None
    return data


def _unreadable(response: requests.Response, who: str) -> WeComError:
    log.warning(
        "%s answered HTTP %s with %s, not a JSON object: %r",
        scrub(response.url),
        response.status_code,
        response.headers.get("Content-Type", "no content type"),
        response.content[:120],
    )
    return WeComError(None, f"{who}返回了无法解析的内容", http_status=response.status_code)


def _from_wechatpy(exc: WeChatClientException) -> WeComError:
    if exc.errcode is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return WeComError(None, http_status=status)
    return WeComError(int(exc.errcode), str(exc.errmsg or ""))
