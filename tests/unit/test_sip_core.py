"""The SIP core: message parsing and building, digest authentication (RFC 7616 vectors), the
client transactions' timers on a hand-driven clock, the dialog's requests, the outcome table."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outdial.domain.outcomes import Outcome
from outdial.telephony.sip import causes, digest
from outdial.telephony.sip.dialog import Leg, Local, new_branch, sdp_offer
from outdial.telephony.sip.message import (
    Message,
    SipParseError,
    frame_length,
    name_addr,
    parse,
    response_to,
    uri_host_port,
    via_sent_by,
)
from outdial.telephony.sip.transaction import (
    InviteClientTransaction,
    NonInviteClientTransaction,
    State,
)

RINGING = (
    b"SIP/2.0 180 Ringing\r\n"
    b"v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc;rport=5070, SIP/2.0/UDP 10.0.0.1\r\n"
    b'f: "Dialer" <sip:95187@example.com>;tag=ours\r\n'
    b"t: <sip:+8613800000001@trunk.example.com>;tag=theirs\r\n"
    b"i: call-1@outdial\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    b"Contact: <sip:callee@10.0.0.9:5062;transport=udp>\r\n"
    b"Subject: a long\r\n  folded value\r\n"
    b"l: 4\r\n\r\nbodyEXTRA"
)


# --- messages ------------------------------------------------------------------------------


def test_parse_a_response_with_compact_and_repeated_headers() -> None:
    msg = parse(RINGING)
    assert (msg.status, msg.reason, msg.is_request) == (180, "Ringing", False)
    assert msg.get_all("Via") == [
        "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc;rport=5070",
        "SIP/2.0/UDP 10.0.0.1",
    ]
    assert msg.branch == "z9hG4bKabc"
    assert (msg.from_tag, msg.to_tag, msg.call_id) == ("ours", "theirs", "call-1@outdial")
    assert msg.cseq == (1, "INVITE")
    assert msg.get("record-route") == "<sip:p1.example.com;lr>"
    assert len(msg.get_all("Record-Route")) == 2
    assert msg.get("Subject") == "a long folded value"
    assert msg.body == b"body"  # Content-Length cuts the rest off


def test_parse_a_request_and_encode_it_back() -> None:
    raw = (
        b"BYE sip:outdial@127.0.0.1:5070 SIP/2.0\n"
        b"Via: SIP/2.0/UDP 10.0.0.9:5062;branch=z9hG4bKbye\n"
        b"From: <sip:+8613800000001@trunk>;tag=theirs\n"
        b"To: <sip:95187@example.com>;tag=ours\n"
        b"Call-ID: call-1@outdial\n"
        b"CSeq: 7 BYE\n\n"
    )
    msg = parse(raw)
    assert (msg.method, msg.uri, msg.cseq) == ("BYE", "sip:outdial@127.0.0.1:5070", (7, "BYE"))
    again = parse(msg.encode())
    assert again.without("Content-Length") == msg
    assert msg.encode().endswith(b"Content-Length: 0\r\n\r\n")


def test_response_to_copies_the_transaction_headers_and_adds_our_tag() -> None:
    bye = parse(
        b"BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\n"
        b"To: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\n\r\n"
    )
    ok = response_to(bye, 200, "OK", to_tag="t9")
    assert [k for k, _ in ok.headers] == ["Via", "From", "To", "Call-ID", "CSeq"]
    assert ok.to_tag == "t9"
    assert ok.encode().startswith(b"SIP/2.0 200 OK\r\n")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"hello\r\n\r\n",
        b"SIP/2.0 abc Bad\r\n\r\n",
        b"SIP/2.0 999 Nope\r\n\r\n",
        b"INVITE sip:a@b HTTP/1.1\r\n\r\n",
        b"invite sip:a@b SIP/2.0\r\n\r\n",
        b"SIP/2.0 200 OK\r\nno colon here\r\n\r\n",
        b"SIP/2.0 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"SIP/2.0 200 OK\r\nContent-Length: x\r\n\r\n",
        b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE",
    ],
)
def test_garbage_is_a_parse_error(raw: bytes) -> None:
    with pytest.raises(SipParseError):
        parse(raw)


@given(st.binary(max_size=300))
def test_the_parser_raises_only_its_own_error(data: bytes) -> None:
    try:
        msg = parse(data)
    except SipParseError:
        return
    _ = (msg.call_id, msg.branch, msg.from_tag, msg.to_tag)


def test_frame_length_cuts_a_stream_at_content_length() -> None:
    one = b"SIP/2.0 200 OK\r\nCSeq: 1 BYE\r\nContent-Length: 3\r\n\r\nabc"
    stream = b"\r\n\r\n" + one + one[:10]
    n = frame_length(stream)
    assert n == 4 + len(one)
    assert parse(stream[:n].lstrip()).body == b"abc"
    assert frame_length(stream[n:]) is None
    assert frame_length(one[:-1]) is None
    with pytest.raises(SipParseError):
        frame_length(b"SIP/2.0 200 OK\r\nCSeq: 1 BYE\r\n\r\n")


def test_uris_name_addrs_and_vias() -> None:
    assert uri_host_port("sip:+861380@trunk.example.com:5080;transport=tcp") == (
        "trunk.example.com",
        5080,
    )
    assert uri_host_port("sip:trunk.example.com") == ("trunk.example.com", 5060)
    assert uri_host_port("sip:a@[2001:db8::1]:5062") == ("2001:db8::1", 5062)
    addr = name_addr('"Bob, Jr" <sip:bob@h;transport=udp>;tag=9;expires=60')
    assert (addr.uri, addr.display, addr.params) == (
        "sip:bob@h;transport=udp",
        "Bob, Jr",
        {"tag": "9", "expires": "60"},
    )
    assert str(addr) == '"Bob, Jr" <sip:bob@h;transport=udp>;tag=9;expires=60'
    assert via_sent_by("SIP/2.0/tcp 10.0.0.1:5070;branch=z9hG4bKx") == ("TCP", "10.0.0.1", 5070)


# --- digest --------------------------------------------------------------------------------

RFC7616 = dict(
    method="GET",
    uri="/dir/index.html",
    username="Mufasa",
    password="Circle of Life",
    cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
)
RFC7616_CHALLENGE = (
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={alg}, '
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)


@pytest.mark.parametrize(
    ("alg", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_digest_reproduces_rfc7616(alg: str, expected: str) -> None:
    challenge = digest.parse_challenge(RFC7616_CHALLENGE.format(alg=alg))
    assert challenge.qop == ("auth", "auth-int")
    assert digest.response(challenge, **RFC7616) == expected  # type: ignore[arg-type]
    header = digest.authorization(challenge, **RFC7616)  # type: ignore[arg-type]
    params = digest.auth_params(header.removeprefix("Digest "))
    assert params["response"] == expected
    assert (params["qop"], params["nc"], params["opaque"]) == (
        "auth",
        "00000001",
        "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
    )


def test_digest_without_qop_is_rfc2069() -> None:
    # RFC 2617 §3.5's request, answered as RFC 2069 did (no qop): H(HA1:nonce:HA2)
    challenge = digest.parse_challenge(
        'Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"'
    )
    got = digest.response(challenge, "GET", "/dir/index.html", "Mufasa", "Circle Of Life")
    assert got == "670fd8c2df070c60b045671b8b24ff02"
    assert "qop" not in digest.authorization(
        challenge, "GET", "/dir/index.html", "Mufasa", "Circle Of Life", "x"
    )


def test_digest_rfc2617_with_qop_auth() -> None:
    challenge = digest.parse_challenge(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    got = digest.response(
        challenge, "GET", "/dir/index.html", "Mufasa", "Circle Of Life", "0a4f113b", 1
    )
    assert got == "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize(
    "value",
    [
        'Basic realm="x"',
        'Digest realm="x"',
        'Digest realm="x", nonce="n", algorithm=SHA-512-256',
    ],
)
def test_challenges_we_cannot_answer(value: str) -> None:
    with pytest.raises(digest.DigestError):
        digest.parse_challenge(value)


def test_qop_auth_int_only_is_refused() -> None:
    challenge = digest.parse_challenge('Digest realm="r", nonce="n", qop="auth-int"')
    with pytest.raises(digest.DigestError):
        digest.authorization(challenge, "INVITE", "sip:a@b", "u", "p", "c")


def test_auth_params_handle_quotes_commas_and_escapes() -> None:
    assert digest.auth_params('a="x, y", b=z,c="q\\"t" ,stale=TRUE') == {
        "a": "x, y",
        "b": "z",
        "c": 'q"t',
        "stale": "TRUE",
    }


# --- transactions on a hand-driven clock ---------------------------------------------------


class Clock:
    """call_later on virtual time: ``advance`` runs what falls due."""

    def __init__(self) -> None:
        self.now = 0.0
        self.heap: list[tuple[float, int, Callable[[], object], list[bool]]] = []
        self.seq = itertools.count()

    def call_later(self, delay: float, callback: Callable[[], object]) -> Handle:
        flag = [False]
        heapq.heappush(self.heap, (self.now + delay, next(self.seq), callback, flag))
        return Handle(flag)

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while self.heap and self.heap[0][0] <= end:
            at, _, callback, flag = heapq.heappop(self.heap)
            self.now = at
            if not flag[0]:
                callback()
        self.now = end


class Handle:
    def __init__(self, flag: list[bool]):
        self.flag = flag

    def cancel(self) -> None:
        self.flag[0] = True


def leg() -> Leg:
    return Leg(
        Local("127.0.0.1", 5070),
        call_id="c1",
        local_tag="ours",
        request_uri="sip:+8613800000001@127.0.0.1:5080",
        from_uri="sip:95187@example.com",
        to_uri="sip:+8613800000001@example.com",
    )


def reply(req: Message, status: int, tag: str = "t1") -> Message:
    reason = {100: "Trying", 180: "Ringing", 200: "OK", 486: "Busy Here"}.get(status, "X")
    return response_to(req, status, reason, to_tag=tag if status > 100 else "")


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.got: list[int] = []
        self.timed_out = 0

    def send(self, data: bytes) -> None:
        self.sent.append(parse(data))

    def on_response(self, msg: Message) -> None:
        self.got.append(msg.status)

    def on_timeout(self) -> None:
        self.timed_out += 1


def invite_tx(clock: Clock, rec: Recorder, reliable: bool = False) -> InviteClientTransaction:
    invite = leg().build_invite(new_branch("x1"), sdp_offer("127.0.0.1", 4000, 1))
    tx = InviteClientTransaction(invite, rec.send, clock, rec.on_response, rec.on_timeout, reliable)
    tx.start()
    return tx


def test_invite_is_retransmitted_on_timer_a_until_timer_b() -> None:
    clock, rec = Clock(), Recorder()
    invite_tx(clock, rec)
    clock.advance(31.9)
    # sent at 0, then 0.5, 1.5, 3.5, 7.5, 15.5, 31.5
    assert len(rec.sent) == 7 and rec.timed_out == 0
    clock.advance(0.2)  # Timer B = 64·T1 = 32 s
    assert rec.timed_out == 1
    clock.advance(100)
    assert len(rec.sent) == 7


def test_a_provisional_stops_retransmission_and_timer_b() -> None:
    clock, rec = Clock(), Recorder()
    tx = invite_tx(clock, rec)
    clock.advance(0.6)
    tx.receive(reply(tx.request, 100))
    tx.receive(reply(tx.request, 180))
    clock.advance(120)
    assert (len(rec.sent), rec.got, rec.timed_out, tx.state) == (
        2,
        [100, 180],
        0,
        State.PROCEEDING,
    )


def test_a_failure_is_acked_in_the_invite_transaction_and_again_on_retransmission() -> None:
    clock, rec = Clock(), Recorder()
    tx = invite_tx(clock, rec)
    busy = reply(tx.request, 486)
    tx.receive(busy)
    ack = rec.sent[-1]
    assert (ack.method, ack.branch, ack.cseq, ack.to_tag) == (
        "ACK",
        tx.request.branch,
        (1, "ACK"),
        "t1",
    )
    assert ack.uri == tx.request.uri
    tx.receive(busy)  # the 486 again: our ACK was lost
    assert [m.method for m in rec.sent] == ["INVITE", "ACK", "ACK"]
    assert rec.got == [486] and tx.state is State.COMPLETED
    clock.advance(32.1)  # Timer D
    assert tx.state is State.TERMINATED


def test_a_2xx_terminates_the_transaction_and_goes_to_the_dialog() -> None:
    clock, rec = Clock(), Recorder()
    tx = invite_tx(clock, rec)
    tx.receive(reply(tx.request, 200))
    clock.advance(60)
    assert (rec.got, tx.state, len(rec.sent)) == ([200], State.TERMINATED, 1)


def test_over_tcp_nothing_is_retransmitted_but_timer_b_runs() -> None:
    clock, rec = Clock(), Recorder()
    invite_tx(clock, rec, reliable=True)
    clock.advance(40)
    assert (len(rec.sent), rec.timed_out) == (1, 1)


def test_non_invite_retransmits_up_to_t2_and_gives_up_on_timer_f() -> None:
    clock, rec = Clock(), Recorder()
    lg = leg()
    lg.remote_tag = "t1"
    tx = NonInviteClientTransaction(
        lg.bye(new_branch("b1")), rec.send, clock, rec.on_response, rec.on_timeout
    )
    tx.start()
    clock.advance(31.9)
    # 0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5
    assert len(rec.sent) == 11
    clock.advance(0.2)
    assert rec.timed_out == 1


def test_non_invite_final_response_ends_it_after_timer_k() -> None:
    clock, rec = Clock(), Recorder()
    lg = leg()
    lg.remote_tag = "t1"
    tx = NonInviteClientTransaction(
        lg.bye(new_branch("b1")), rec.send, clock, rec.on_response, rec.on_timeout
    )
    tx.start()
    tx.receive(reply(tx.request, 200))
    tx.receive(reply(tx.request, 200))  # absorbed
    assert rec.got == [200] and tx.state is State.COMPLETED
    clock.advance(5.1)
    assert tx.state is State.TERMINATED and rec.timed_out == 0


# --- the dialog's requests -----------------------------------------------------------------


def test_invite_carries_an_sdp_offer_and_no_to_tag() -> None:
    lg = leg()
    invite = parse(lg.build_invite(new_branch("abc"), sdp_offer("127.0.0.1", 4000, 7)).encode())
    assert invite.uri == "sip:+8613800000001@127.0.0.1:5080"
    assert invite.get("Via") == "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc;rport"
    assert (invite.from_tag, invite.to_tag, invite.cseq) == ("ours", "", (1, "INVITE"))
    assert invite.get("Content-Type") == "application/sdp"
    assert b"m=audio 4000 RTP/AVP 0 8 101" in invite.body
    assert int(invite.get("Content-Length")) == len(invite.body)


def test_the_dialog_learns_from_responses_and_routes_in_dialog_requests() -> None:
    lg = leg()
    invite = lg.build_invite(new_branch("i1"), b"")
    lg.learn(parse(RINGING))
    ok = response_to(invite, 200, "OK", to_tag="theirs")
    ok = ok.with_header("Contact", "<sip:callee@10.0.0.9:5062>")
    ok = Message(
        status=200,
        reason="OK",
        headers=(
            *ok.headers,
            ("Record-Route", "<sip:p1.example.com;lr>"),
            ("Record-Route", "<sip:p2.example.com;lr>"),
        ),
    )
    lg.learn(ok)
    ack = lg.ack(new_branch("a1"))
    assert ack.uri == "sip:callee@10.0.0.9:5062"
    assert ack.get_all("Route") == ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
    assert (ack.cseq, ack.to_tag, ack.branch) == ((1, "ACK"), "theirs", "z9hG4bKa1")
    bye = lg.bye(new_branch("b1"), reason='Q.850;cause=16;text="normal"')
    assert (bye.method, bye.cseq, bye.uri, bye.to_tag) == (
        "BYE",
        (2, "BYE"),
        "sip:callee@10.0.0.9:5062",
        "theirs",
    )
    assert bye.get("Reason").startswith("Q.850")


def test_cancel_matches_the_invite() -> None:
    lg = leg()
    invite = lg.build_invite(new_branch("i1"), b"")
    lg.learn(parse(RINGING))
    cancel = lg.cancel()
    assert (cancel.method, cancel.uri, cancel.branch) == ("CANCEL", invite.uri, invite.branch)
    assert (cancel.cseq, cancel.to_tag, cancel.call_id) == ((1, "CANCEL"), "", "c1")


def test_the_ack_of_a_2xx_repeats_the_credentials() -> None:
    lg = leg()
    lg.build_invite(new_branch("i2"), b"", auth=("Proxy-Authorization", "Digest x"))
    lg.remote_tag = "t"
    assert lg.ack(new_branch("a")).get("Proxy-Authorization") == "Digest x"


# --- outcomes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (486, Outcome.BUSY),
        (600, Outcome.BUSY),
        (603, Outcome.REJECTED),
        (404, Outcome.INVALID_NUMBER),
        (484, Outcome.INVALID_NUMBER),
        (480, Outcome.NO_ANSWER),
        (408, Outcome.NO_ANSWER),
        (487, Outcome.NO_ANSWER),
        (402, Outcome.IN_ARREARS),
        (500, Outcome.CARRIER_FAILURE),
        (503, Outcome.CARRIER_FAILURE),
        (502, Outcome.UNREACHABLE),
        (0, Outcome.CARRIER_FAILURE),
        (302, Outcome.UNREACHABLE),
        (415, Outcome.CARRIER_FAILURE),
        (699, Outcome.REJECTED),
    ],
)
def test_final_responses_onto_outcomes(status: int, outcome: Outcome) -> None:
    assert causes.outcome_of(status) is outcome


def test_answered_and_cancelled_come_first() -> None:
    assert causes.outcome_of(487, hung_up_by_us=True) is Outcome.CANCELLED
    assert causes.outcome_of(200, answered=True) is Outcome.ANSWERED
    assert causes.native_cause(486, "Busy Here") == "sip:486 Busy Here"
    assert causes.native_cause(0) == "sip:timeout"


@given(
    bodies=st.lists(st.binary(max_size=40), min_size=1, max_size=5),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=8),
    keepalive=st.booleans(),
)
def test_a_tcp_stream_cut_anywhere_gives_back_its_messages(
    bodies: list[bytes], cuts: list[int], keepalive: bool
) -> None:
    from outdial.telephony.sip.transport import TcpTransport

    sent = [
        Message(status=200, reason="OK", headers=(("CSeq", f"{i} BYE"),), body=body)
        for i, body in enumerate(bodies, 1)
    ]
    stream = b"".join((b"\r\n\r\n" if keepalive else b"") + m.encode() for m in sent)
    got: list[Message] = []
    framer = TcpTransport(got.append, lambda reason: None)
    buffer, last = b"", 0
    for cut in [*sorted(c % (len(stream) + 1) for c in cuts), len(stream)]:
        buffer = framer._frames(buffer + stream[last:cut])
        last = cut
    assert [(m.cseq, m.body) for m in got] == [(m.cseq, m.body) for m in sent]
    assert buffer == b""
