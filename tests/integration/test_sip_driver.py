"""The SIP driver against real sipp as the callee: every outcome the router scenario can give,
BYE both ways, CANCEL on the ring timeout and on the engine's hang-up, digest challenges,
concurrent calls, TCP, and a trunk that never answers."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from outdial.clock import SystemClock
from outdial.domain.outcomes import Outcome
from outdial.engine.ports import CallEvent, CallEventKind, OriginateFailed, OriginateRequest
from outdial.services.catalog import SEALED, LineHooks, open_line_password
from outdial.services.secrets import SecretBox
from outdial.telephony.registry import DriverUnavailable, driver_factory
from outdial.telephony.sip.driver import SipTelephony
from tests.sipp_callee import PASSWORD, USERNAME, Sipp, sipp_callee
from tests.support import synchronously

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sipp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sipp]:
    """One router sipp for the module: outcomes are asserted on our side, and its error
    file must be empty at the end (SIGTERM makes it exit 0 whatever happened)."""
    with sipp_callee(tmp_path_factory.mktemp("sipp"), ring_ms=300) as callee:
        yield callee
    assert callee.error_text() == "", callee.error_text()


def line(sipp: Sipp, **settings: Any) -> dict[str, Any]:
    return {
        "id": 7,
        "driver": "sip",
        "settings": {"host": sipp.host, "port": sipp.port, "t1_ms": 100, **settings},
    }


class Recorder:
    def __init__(self, driver: SipTelephony):
        self.events: list[CallEvent] = []
        self.done: dict[str, asyncio.Future[CallEvent]] = {}
        driver.subscribe(self.on_event)

    def on_event(self, event: CallEvent) -> None:
        self.events.append(event)
        if event.kind is CallEventKind.HANGUP:
            future = self.done.setdefault(event.call_id, asyncio.Future())
            if not future.done():
                future.set_result(event)

    def kinds(self, call_id: str) -> list[str]:
        return [e.kind.value for e in self.events if e.call_id == call_id]

    async def ended(self, call_id: str, timeout: float = 10) -> CallEvent:
        future = self.done.setdefault(call_id, asyncio.Future())
        return await asyncio.wait_for(future, timeout)


async def dial(
    driver: SipTelephony, number: str, ring_timeout: int = 3, caller: str = "95187"
) -> str:
    call_id = str(uuid.uuid4())
    request = OriginateRequest(call_id, number, caller, ring_timeout, line={})
    await driver.originate(request)
    return call_id


async def answered_then(driver: SipTelephony, rec: Recorder, call_id: str) -> None:
    for _ in range(100):
        if "answered" in rec.kinds(call_id):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not answered: {rec.kinds(call_id)}")


EXPECTED = [
    ("+8613800000486", Outcome.BUSY, "sip:486 Busy Here", ["hangup"]),
    ("+8613800000603", Outcome.REJECTED, "sip:603 Decline", ["ringing", "hangup"]),
    ("+8613800000404", Outcome.INVALID_NUMBER, "sip:404 Not Found", ["hangup"]),
    ("+8613800000408", Outcome.NO_ANSWER, "sip:487 Request Terminated", ["ringing", "hangup"]),
]


@pytest.mark.parametrize(("number", "outcome", "cause", "kinds"), EXPECTED)
@synchronously
async def test_final_responses(
    sipp: Sipp, number: str, outcome: Outcome, cause: str, kinds: list[str]
) -> None:
    driver = SipTelephony(line(sipp), SystemClock())
    rec = Recorder(driver)
    try:
        call_id = await dial(driver, number, ring_timeout=1)
        ended = await rec.ended(call_id)
        assert (ended.outcome, ended.native_cause) == (outcome, cause)
        assert rec.kinds(call_id) == kinds
        assert await driver.live_calls() == set()
    finally:
        await driver.close()


@synchronously
async def test_answered_then_we_hang_up_with_bye(sipp: Sipp) -> None:
    driver = SipTelephony(line(sipp), SystemClock())
    rec = Recorder(driver)
    try:
        call_id = await dial(driver, "+8613800000001")
        await answered_then(driver, rec, call_id)
        assert await driver.live_calls() == {call_id}
        await driver.hangup(call_id, "script done")
        ended = await rec.ended(call_id)
        assert ended.outcome is Outcome.ANSWERED
        assert ended.native_cause == "sip:BYE sent (script done)"
        assert rec.kinds(call_id) == ["ringing", "answered", "hangup"]
        await asyncio.sleep(0.3)  # the BYE's 200 comes back: nothing stray
        assert driver.stray == 0
    finally:
        await driver.close()


@synchronously
async def test_the_callee_hangs_up_with_bye(sipp: Sipp) -> None:
    driver = SipTelephony(line(sipp), SystemClock())
    rec = Recorder(driver)
    try:
        call_id = await dial(driver, "+8613800000777")
        ended = await rec.ended(call_id)
        assert (ended.outcome, ended.native_cause) == (Outcome.ANSWERED, "sip:BYE received")
        assert rec.kinds(call_id) == ["ringing", "answered", "hangup"]
    finally:
        await driver.close()


@synchronously
async def test_the_engine_hangs_up_a_ringing_call_with_cancel(sipp: Sipp) -> None:
    driver = SipTelephony(line(sipp), SystemClock())
    rec = Recorder(driver)
    try:
        call_id = await dial(driver, "+8613800001408", ring_timeout=30)
        await asyncio.sleep(0.3)
        await driver.hangup(call_id, "campaign paused")
        ended = await rec.ended(call_id)
        assert (ended.outcome, ended.native_cause) == (
            Outcome.CANCELLED,
            "sip:487 Request Terminated",
        )
    finally:
        await driver.close()


@synchronously
async def test_max_call_seconds_ends_an_answered_call(sipp: Sipp) -> None:
    driver = SipTelephony(line(sipp, max_call_seconds=1), SystemClock())
    rec = Recorder(driver)
    try:
        call_id = await dial(driver, "+8613800000002")
        ended = await rec.ended(call_id)
        assert (ended.outcome, ended.native_cause) == (
            Outcome.ANSWERED,
            "sip:BYE sent (max_call_seconds)",
        )
    finally:
        await driver.close()


@pytest.mark.parametrize("number", ["+8613800000401", "+8613800000407"])
@synchronously
async def test_digest_challenge_is_answered(sipp: Sipp, number: str) -> None:
    """401 with qop=auth (WWW-Authenticate), 407 without (Proxy-Authenticate): sipp's
    verifyauth checks the response."""
    settings = {"username": USERNAME, "from_user": "dialer"}
    driver = SipTelephony(line(sipp, **settings), SystemClock(), password=PASSWORD)
    rec = Recorder(driver)
    try:
        call_id = await dial(driver, number)
        await answered_then(driver, rec, call_id)
        await driver.hangup(call_id, "done")
        assert (await rec.ended(call_id)).outcome is Outcome.ANSWERED
    finally:
        await driver.close()


@synchronously
async def test_wrong_or_missing_credentials(sipp: Sipp) -> None:
    wrong = SipTelephony(line(sipp, username=USERNAME), SystemClock(), password="nope")
    none = SipTelephony(line(sipp), SystemClock())
    try:
        for driver, cause in ((wrong, "sip:403 Forbidden"), (none, "sip:401 Unauthorized")):
            rec = Recorder(driver)
            call_id = await dial(driver, "+8613800001401")
            ended = await rec.ended(call_id)
            expected = Outcome.REJECTED if "403" in cause else Outcome.CARRIER_FAILURE
            assert (ended.outcome, ended.native_cause) == (expected, cause)
    finally:
        await wrong.close()
        await none.close()


@synchronously
async def test_concurrent_calls_each_get_their_outcome(sipp: Sipp) -> None:
    driver = SipTelephony(line(sipp, max_call_seconds=1), SystemClock())
    rec = Recorder(driver)
    plan = [(n, o) for n, o, _, _ in EXPECTED] + [("+8613800000001", Outcome.ANSWERED)]
    plan += [("+8613800000777", Outcome.ANSWERED)]
    try:
        calls = []
        for i in range(5):
            for number, outcome in plan:
                calls.append((await dial(driver, f"{number[:-4]}{i}{number[-3:]}", 1), outcome))
        got = await asyncio.gather(*(rec.ended(c, 20) for c, _ in calls))
        assert [e.outcome for e in got] == [o for _, o in calls]
        assert len(calls) == 30 and driver.calls == {}
    finally:
        await driver.close()


@synchronously
async def test_tcp(tmp_path: Path) -> None:
    with sipp_callee(tmp_path, ring_ms=200, calls=3, transport="tcp") as callee:
        driver = SipTelephony(line(callee, transport="tcp"), SystemClock())
        rec = Recorder(driver)
        try:
            busy = await dial(driver, "+8613800000486")
            assert (await rec.ended(busy)).outcome is Outcome.BUSY
            answered = await dial(driver, "+8613800000001")
            await answered_then(driver, rec, answered)
            await driver.hangup(answered, "done")
            assert (await rec.ended(answered)).outcome is Outcome.ANSWERED
            cancelled = await dial(driver, "+8613800000408", ring_timeout=1)
            assert (await rec.ended(cancelled)).outcome is Outcome.NO_ANSWER
        finally:
            await driver.close()
        callee.process.wait(timeout=10)
        assert callee.process.returncode == 0, callee.log.read_text()[-2000:]


@synchronously
async def test_a_trunk_that_never_answers_is_a_carrier_failure() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # takes the datagrams, answers nothing
        port = silent.getsockname()[1]
        settings = {"host": "127.0.0.1", "port": port, "t1_ms": 50}
        driver = SipTelephony({"id": 1, "settings": settings}, SystemClock())
        rec = Recorder(driver)
        try:
            call_id = await dial(driver, "+8613800000001", ring_timeout=60)
            ended = await rec.ended(call_id, timeout=10)  # Timer B = 64·T1 = 3.2 s
            assert (ended.outcome, ended.native_cause) == (Outcome.CARRIER_FAILURE, "sip:timeout")
            silent.setblocking(False)
            invites = 0
            while True:
                try:
                    invites += silent.recv(65536).startswith(b"INVITE ")
                except BlockingIOError:
                    break
            assert invites == 7  # 0, 1, 3, 7, 15, 31 and 63 T1: Timer A until Timer B
        finally:
            await driver.close()


@synchronously
async def test_tcp_refused_is_an_originate_failure() -> None:
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    number = port.getsockname()[1]
    port.close()
    settings = {"host": "127.0.0.1", "port": number, "transport": "tcp"}
    driver = SipTelephony({"id": 1, "settings": settings}, SystemClock())
    with pytest.raises(OriginateFailed) as failed:
        await dial(driver, "+8613800000001")
    assert failed.value.outcome is Outcome.CARRIER_FAILURE
    assert "cannot connect" in failed.value.native_cause
    await driver.close()


def test_the_registry_builds_the_sip_driver_with_the_opened_password() -> None:
    box = SecretBox(Fernet.generate_key())
    sealed = LineHooks(box)._sealed({"host": "sbc", "username": "u", "password": "pw"})
    assert sealed["password"].startswith(SEALED)
    row = {"id": 3, "driver": "sip", "settings": sealed}
    build = driver_factory(SystemClock(), lambda stored: open_line_password(box, stored))
    driver = build(row)
    assert isinstance(driver, SipTelephony)
    assert (driver.config.username, driver.config.password) == ("u", "pw")
    with pytest.raises(DriverUnavailable):
        driver_factory(SystemClock())(row)  # no key: refused, not dialled without credentials


@synchronously
async def test_a_dropped_tcp_connection_ends_every_call_on_it(tmp_path: Path) -> None:
    with sipp_callee(tmp_path, ring_ms=200, transport="tcp") as callee:
        driver = SipTelephony(line(callee, transport="tcp"), SystemClock())
        rec = Recorder(driver)
        try:
            talking = await dial(driver, "+8613800000001")
            ringing = await dial(driver, "+8613800000408", ring_timeout=30)
            await answered_then(driver, rec, talking)
            assert "ringing" in rec.kinds(ringing)
            callee.process.terminate()  # the trunk goes away: its end of the connection closes
            up, down = await rec.ended(talking), await rec.ended(ringing)
            assert up.outcome is Outcome.ANSWERED
            assert down.outcome is Outcome.CARRIER_FAILURE
            assert up.native_cause.startswith("sip:connection lost")
            assert down.native_cause.startswith("sip:connection lost")
            callee.process.wait(timeout=10)
            # The next call connects again; with nobody listening that is an originate failure.
            with pytest.raises(OriginateFailed) as failed:
                await dial(driver, "+8613800000001")
            assert "cannot connect" in failed.value.native_cause
        finally:
            await driver.close()
