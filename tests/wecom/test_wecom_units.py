"""Pure parts of the WeCom stack: splitting, query decoding, message mapping, names, rates."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.text import split_utf8
from bot.transports.wecom.callback import CallbackError, parse_query, to_incoming
from bot.transports.wecom.errors import WeComError, scrub
from bot.transports.wecom.media import filename_from
from bot.transports.wecom.transport import SlidingWindow


def test_split_keeps_order_and_limits_at_line_boundaries():
    lines = [f"第{i}行：" + "县市场监管局" * 5 for i in range(100)]
    text = "\n".join(lines)
    parts = split_utf8(text, 2048)
    assert len(parts) > 1
    assert all(len(p.encode()) <= 2048 for p in parts)
    assert "\n".join(parts) == text
    assert all(not p.startswith("\n") for p in parts)


def test_split_cuts_a_single_long_line_between_characters():
    text = "监" * 1000  # 3000 bytes
    parts = split_utf8(text, 2048)
    assert "".join(parts) == text and all(len(p.encode()) <= 2048 for p in parts)


@given(st.text(max_size=3000), st.integers(min_value=4, max_value=300))
def test_split_never_loses_or_exceeds(text, limit):
    parts = split_utf8(text, limit)
    assert all(len(p.encode()) <= limit for p in parts)
    joined = "\n".join(parts)
    assert joined.replace("\n", "") == text.replace("\n", "")


def test_query_keeps_plus_signs():
    args = parse_query(b"echostr=ab+c%2Bd%3D%3D&nonce=1&nonce=2")
    assert args == {"echostr": "ab+c+d==", "nonce": "1"}


def test_text_message_maps_to_incoming():
    msg = to_incoming(
        {"FromUserName": "li", "MsgType": "text", "Content": "进度 T7 60%", "MsgId": "42"}
    )
    assert (msg.transport, msg.external_id, msg.userid, msg.text) == (
        "wecom",
        "42",
        "li",
        "进度 T7 60%",
    )


def test_file_and_card_event_map_with_their_ids():
    f = to_incoming(
        {
            "FromUserName": "li",
            "MsgType": "file",
            "MediaId": "m1",
            "FileName": "a.pdf",
            "MsgId": "7",
        }
    )
    assert f.kind == "file" and f.payload == {"media_id": "m1", "file_name": "a.pdf"}
    e = to_incoming(
        {
            "FromUserName": "li",
            "MsgType": "event",
            "Event": "template_card_event",
            "CreateTime": "1",
            "EventKey": "ack",
            "TaskId": "t1",
            "ResponseCode": "rc",
        }
    )
    assert e.kind == "event" and e.payload["TaskId"] == "t1" and "t1" in e.external_id
    assert to_incoming({"FromUserName": "li", "MsgType": "location", "MsgId": "8"}) is None
    assert to_incoming({"FromUserName": "li", "MsgType": "event", "Event": "view"}) is None


def test_messages_without_sender_or_id_are_refused():
    with pytest.raises(CallbackError):
        to_incoming({"MsgType": "text", "MsgId": "1"})
    with pytest.raises(CallbackError):
        to_incoming({"FromUserName": "li", "MsgType": "text"})


def test_filename_prefers_rfc5987():
    header = "attachment; filename=\"Ã¦Â–Â¹.pdf\"; filename*=utf-8''%E6%96%B9%E6%A1%88.pdf"
    assert filename_from(header) == "方案.pdf"
    mojibake = "方案.pdf".encode().decode("latin-1")
    assert filename_from(f'attachment; filename="{mojibake}"') == "方案.pdf"
    assert filename_from("inline") == ""


def test_errors_name_what_to_do_and_hide_secrets():
    assert "可信IP" in WeComError(60020, "not allow to access from your ip").describe()
    assert WeComError(81013).permanent and not WeComError(-1).permanent
    assert (
        WeComError(None, http_status=502).retry_after
        and WeComError(None, http_status=404).permanent
    )
    assert scrub("GET /gettoken?corpid=x&corpsecret=abc&access_token=tok") == (
        "GET /gettoken?corpid=x&corpsecret=***&access_token=***"
    )


def test_sliding_window():
    now = [0.0]
    window = SlidingWindow(3, 60, now=lambda: now[0])
    assert window.wait_needed(["a"], 2) == 0
    assert window.wait_needed(["a"], 1) == 0
    assert window.wait_needed(["a"], 1) == pytest.approx(60)
    assert window.wait_needed(["b"], 3) == 0
    now[0] = 61
    assert window.wait_needed(["a"], 3) == 0


def test_sliding_window_lets_a_request_larger_than_the_limit_through_an_empty_window():
    now = [0.0]
    window = SlidingWindow(3, 60, now=lambda: now[0])
    assert window.wait_needed(["a"], 5) == 0, "an empty window lets it through whole"
    now[0] = 10
    assert window.wait_needed(["a"], 1) == pytest.approx(50), "and it fills the window"
    now[0] = 60
    assert window.wait_needed(["a"], 1) == 0
    now[0] = 70
    # Not empty (one event at 60): a large request waits until the newest event has left.
    assert window.wait_needed(["a", "b"], 4) == pytest.approx(50)
    assert window.wait_needed(["b"], 4) == 0, "nothing was recorded for b by the refusal"
    now[0] = 120
    assert window.wait_needed(["a"], 30) == 0
