"""Exchanges sipp's scenarios cannot stage, played by a scripted trunk on a real UDP socket: a
200 OK crossing our CANCEL, a 200 OK retransmitted after our ACK, a CANCEL before any
provisional response, and requests from the trunk outside any call (OPTIONS, BYE, INVITE)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from outdial.clock import SystemClock
from outdial.domain.outcomes import Outcome
from outdial.engine.ports import CallEvent, CallEventKind, OriginateRequest
from outdial.telephony.sip.driver import SipTelephony
from outdial.telephony.sip.message import Message, parse, request, response_to
from tests.support import synchronously


class Trunk:
    """A UDP socket that reads what the driver sends and answers as the test says."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])
        self.peer: tuple[str, int] | None = None

    async def receive(self, method_or_status: str | int, timeout: float = 5) -> Message:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while True:
                data, self.peer = await loop.sock_recvfrom(self.sock, 65535)
                message = parse(data)
                if method_or_status in (message.method, message.status):
                    return message

    def send(self, message: Message) -> None:
        assert self.peer is not None
        self.sock.sendto(message.encode(), self.peer)


@asynccontextmanager
async def rig() -> AsyncIterator[tuple[SipTelephony, Trunk, list[CallEvent]]]:
    trunk = Trunk()
    settings = {"host": "127.0.0.1", "port": trunk.port, "t1_ms": 100}
    driver = SipTelephony({"id": 1, "settings": settings}, SystemClock())
    events: list[CallEvent] = []
    driver.subscribe(events.append)
    try:
        yield driver, trunk, events
    finally:
        await driver.close()
        trunk.sock.close()


async def dial(driver: SipTelephony, ring_timeout: int = 30) -> str:
    call_id = str(uuid.uuid4())
    await driver.originate(OriginateRequest(call_id, "+8613800000001", "95187", ring_timeout, {}))
    return call_id


async def until(events: list[CallEvent], kind: CallEventKind) -> CallEvent:
    async with asyncio.timeout(5):
        while not any(e.kind is kind for e in events):
            await asyncio.sleep(0.01)
    return next(e for e in events if e.kind is kind)


@synchronously
async def test_a_200_crossing_our_cancel_is_acked_then_byed() -> None:
    async with rig() as (driver, trunk, events):
        call_id = await dial(driver)
        invite = await trunk.receive("INVITE")
        trunk.send(response_to(invite, 180, "Ringing", to_tag="t1"))
        await until(events, CallEventKind.RINGING)
        await driver.hangup(call_id, "campaign paused")
        cancel = await trunk.receive("CANCEL")
        assert (cancel.branch, cancel.cseq) == (invite.branch, (1, "CANCEL"))
        trunk.send(response_to(invite, 200, "OK", to_tag="t1"))  # answered just then
        ack = await trunk.receive("ACK")
        bye = await trunk.receive("BYE")
        assert ack.to_tag == bye.to_tag == "t1" and ack.branch != invite.branch
        ended = await until(events, CallEventKind.HANGUP)
        assert (ended.outcome, ended.native_cause) == (
            Outcome.CANCELLED,
            "sip:200 after CANCEL, BYE sent",
        )
        assert [e.kind for e in events] == [CallEventKind.RINGING, CallEventKind.HANGUP]


@synchronously
async def test_a_retransmitted_200_is_acked_again_even_after_the_call_ended() -> None:
    async with rig() as (driver, trunk, events):
        call_id = await dial(driver)
        invite = await trunk.receive("INVITE")
        ok = response_to(invite, 200, "OK", to_tag="t2").with_header(
            "Contact", f"<sip:callee@127.0.0.1:{trunk.port}>"
        )
        trunk.send(ok)
        first = await trunk.receive("ACK")
        trunk.send(ok)  # our ACK was "lost"
        again = await trunk.receive("ACK")
        assert again.encode() == first.encode()
        await driver.hangup(call_id, "done")
        bye = await trunk.receive("BYE")
        assert bye.uri == f"sip:callee@127.0.0.1:{trunk.port}" and bye.cseq == (2, "BYE")
        trunk.send(response_to(bye, 200, "OK"))
        trunk.send(ok)  # and once more after the BYE
        assert (await trunk.receive("ACK")).encode() == first.encode()
        assert driver.stray == 0
        kinds = [e.kind for e in events]
        assert kinds == [CallEventKind.ANSWERED, CallEventKind.HANGUP]


@synchronously
async def test_cancel_waits_for_a_provisional_response() -> None:
    async with rig() as (driver, trunk, events):
        call_id = await dial(driver, ring_timeout=1)
        invite = await trunk.receive("INVITE")
        await asyncio.sleep(1.2)  # the ring timeout fired: nothing may be cancelled yet
        trunk.send(response_to(invite, 100, "Trying"))
        cancel = await trunk.receive("CANCEL")
        trunk.send(response_to(cancel, 200, "OK", to_tag="t3"))
        trunk.send(response_to(invite, 487, "Request Terminated", to_tag="t3"))
        ack = await trunk.receive("ACK")
        assert (ack.branch, ack.cseq) == (invite.branch, (1, "ACK"))
        ended = await until(events, CallEventKind.HANGUP)
        assert (ended.call_id, ended.outcome) == (call_id, Outcome.NO_ANSWER)


@synchronously
async def test_requests_outside_any_call() -> None:
    async with rig() as (driver, trunk, _):
        await dial(driver)
        await trunk.receive("INVITE")
        headers = [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{trunk.port};branch=z9hG4bKo1"),
            ("From", "<sip:sbc@127.0.0.1>;tag=x"),
            ("To", "<sip:outdial@127.0.0.1>"),
            ("Call-ID", "other-call"),
        ]
        for method, status in (("OPTIONS", 200), ("BYE", 481), ("INVITE", 501)):
            trunk.send(
                request(method, "sip:outdial@127.0.0.1", [*headers, ("CSeq", f"1 {method}")])
            )
            reply = await trunk.receive(status)
            assert (reply.call_id, reply.cseq) == ("other-call", (1, method))
