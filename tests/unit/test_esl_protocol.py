"""The Event Socket frame parser, the dial-string rules and the hangup-cause table."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outdial.domain.outcomes import Outcome
from outdial.telephony.freeswitch.causes import native_cause, outcome_of
from outdial.telephony.freeswitch.config import (
    LineConfig,
    escape,
    originate_command,
    template_problems,
)
from outdial.telephony.freeswitch.protocol import (
    Message,
    ProtocolError,
    command,
    encode,
    parse_event,
    read_message,
)


def read_all(data: bytes, chunks: list[int]) -> list[Message]:
    """Feed ``data`` to a StreamReader in pieces of the given sizes; read every message."""

    async def main() -> list[Message]:
        reader = asyncio.StreamReader()
        rest = data
        for size in chunks:
            reader.feed_data(rest[:size])
            rest = rest[size:]
        reader.feed_data(rest)
        reader.feed_eof()
        messages = []
        while not reader.at_eof():
            try:
                messages.append(await read_message(reader))
            except asyncio.IncompleteReadError:
                break
        return messages

    return asyncio.run(main())


names = st.from_regex(r"[A-Z][A-Za-z-]{0,20}", fullmatch=True).filter(
    lambda n: n != "Content-Length"
)
values = st.text(st.characters(blacklist_categories=["Cc", "Cs"]), max_size=30).map(str.strip)
bodies = st.text(max_size=200)


@given(
    st.lists(st.tuples(st.dictionaries(names, values, max_size=5), bodies), max_size=5),
    st.lists(st.integers(1, 50), max_size=20),
)
def test_messages_split_anywhere_read_back_whole(
    messages: list[tuple[dict[str, str], str]], chunks: list[int]
) -> None:
    data = b"".join(encode({"Content-Type": "x/y", **h}, b) for h, b in messages)
    got = read_all(data, chunks)
    assert [(m.headers.get("Content-Type"), m.body) for m in got] == [
        ("x/y", b) for _, b in messages
    ]
    for (headers, _), message in zip(messages, got, strict=True):
        assert all(message.headers[k] == v for k, v in headers.items())


def test_content_length_counts_bytes_and_the_body_may_hold_blank_lines() -> None:
    body = json.dumps({"Caller-Caller-ID-Name": "客户", "_body": "+OK\n\n"}, ensure_ascii=False)
    data = f"Content-Length: {len(body.encode())}\nContent-Type: text/event-json\n\n{body}"
    data += "Content-Type: command/reply\nReply-Text: +OK\n\n"
    event, reply = read_all(data.encode(), [7, 3])
    assert parse_event(event) == {"Caller-Caller-ID-Name": "客户", "_body": "+OK\n\n"}
    assert reply.headers == {"Content-Type": "command/reply", "Reply-Text": "+OK"}


def test_plain_events_are_url_decoded_and_carry_their_own_body() -> None:
    inner = "+OK 9b1c\n"
    block = (
        "Event-Name: BACKGROUND_JOB\n"
        f"Job-Command-Arg: {quote('{origination_uuid=9b1c}sofia/gateway/gw/+8613800000001')}\n"
        f"Caller-Caller-ID-Name: {quote('客户 王')}\n"
        f"Content-Length: {len(inner.encode())}\n\n{inner}"
    )
    message = Message({"Content-Type": "text/event-plain"}, block)
    event = parse_event(message)
    assert event["Job-Command-Arg"] == "{origination_uuid=9b1c}sofia/gateway/gw/+8613800000001"
    assert event["Caller-Caller-ID-Name"] == "客户 王"
    assert event["_body"] == inner


@pytest.mark.parametrize(
    "data",
    [
        b"Content-Type: text/event-json\nContent-Length: abc\n\n",
        b"no colon here\n\n",
        b"Content-Type: text/event-json\nContent-Length: 99999999999\n\n",
    ],
)
def test_broken_frames_are_protocol_errors(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        read_all(data, [])


def test_a_json_event_that_is_not_json_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        parse_event(Message({"Content-Type": "text/event-json"}, "{nope"))


def test_commands_are_one_line_with_headers() -> None:
    assert command("bgapi status", **{"Job-UUID": "j1"}) == b"bgapi status\nJob-UUID: j1\n\n"
    with pytest.raises(ValueError):
        command("api status\n\nauth x")


# --- dial strings and originate ---------------------------------------------------------------


def test_dial_string_templates() -> None:
    assert template_problems("sofia/gateway/{gateway}/{number}") == []
    assert template_problems("user/{national}@{gateway}") == []
    assert template_problems("user/{x}")
    assert template_problems("user/{number")
    assert template_problems("user/{number!r}")
    assert template_problems("user/1 &park()")


def test_the_originate_command_carries_the_variables_escaped() -> None:
    config = LineConfig(1, (), gateway="gw", dial_string="sofia/gateway/{gateway}/0{national}")
    assert config.dial("+8613800000001") == "sofia/gateway/gw/013800000001"
    text = originate_command(config.dial("+8613800000001"), {"a": "x,y", "b": "two words"})
    assert text == "originate {a=x\\,y,b='two words'}sofia/gateway/gw/013800000001 &park()"
    assert escape("plain") == "plain"


# --- causes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cause", "sip", "outcome"),
    [
        ("USER_BUSY", "486", Outcome.BUSY),
        ("NO_ANSWER", "", Outcome.NO_ANSWER),
        ("ORIGINATOR_CANCEL", "487", Outcome.NO_ANSWER),  # the originate timeout fired
        ("NO_USER_RESPONSE", "480", Outcome.NO_ANSWER),
        ("CALL_REJECTED", "603", Outcome.REJECTED),
        ("CALL_REJECTED", "486", Outcome.BUSY),  # the SIP status says more
        ("UNALLOCATED_NUMBER", "404", Outcome.INVALID_NUMBER),
        ("INVALID_NUMBER_FORMAT", "484", Outcome.INVALID_NUMBER),
        ("SUBSCRIBER_ABSENT", "", Outcome.POWERED_OFF),
        ("NO_ROUTE_DESTINATION", "", Outcome.UNREACHABLE),
        ("OUTGOING_CALL_BARRED", "", Outcome.SUSPENDED),
        ("NORMAL_TEMPORARY_FAILURE", "503", Outcome.CARRIER_FAILURE),
        ("GATEWAY_DOWN", "", Outcome.CARRIER_FAILURE),
        ("SOMETHING_NEW", "", Outcome.CARRIER_FAILURE),
        ("SOMETHING_NEW", "502", Outcome.CARRIER_FAILURE),
    ],
)
def test_unanswered_causes(cause: str, sip: str, outcome: Outcome) -> None:
    assert outcome_of(cause, sip) is outcome


def test_answered_ours_and_overrides() -> None:
    assert outcome_of("NORMAL_CLEARING", "200", answered=True) is Outcome.ANSWERED
    assert outcome_of("MEDIA_TIMEOUT", answered=True) is Outcome.ANSWERED
    assert outcome_of("NORMAL_CLEARING", answered=True, machine=True) is Outcome.ANSWERED_MACHINE
    assert outcome_of("ORIGINATOR_CANCEL", "487", hung_up_by_us=True) is Outcome.CANCELLED
    assert outcome_of("USER_BUSY", "486", hung_up_by_us=True) is Outcome.BUSY  # it was first
    assert outcome_of("NORMAL_CLEARING", override="in_arrears") is Outcome.IN_ARREARS
    assert outcome_of("USER_BUSY", override="nonsense") is Outcome.BUSY
    assert native_cause("USER_BUSY", "486") == "USER_BUSY sip:486"
    assert native_cause("NO_ANSWER") == "NO_ANSWER"
