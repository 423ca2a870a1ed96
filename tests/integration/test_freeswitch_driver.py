"""The FreeSWITCH driver against a fake FreeSWITCH that speaks the Event Socket wire protocol
(tests/fake_freeswitch.py): every outcome, transfers and bridges, hang-ups, a connection
dropped mid-call, reconciliation after a restart, bad credentials, shared connections."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from outdial.clock import SystemClock
from outdial.domain.outcomes import Outcome
from outdial.domain.transfer import TransferFallback
from outdial.engine.ports import (
    ATTEMPT_VARIABLE,
    CallEvent,
    CallEventKind,
    OriginateFailed,
    OriginateRequest,
    ScriptTarget,
)
from outdial.telephony.freeswitch import driver as fs_driver
from outdial.telephony.freeswitch.connection import Backoff
from outdial.telephony.freeswitch.driver import FreeSwitchTelephony
from outdial.telephony.freeswitch.pool import EslPool
from tests.fake_freeswitch import Callee, FakeFreeSwitch, parse_originate

K = CallEventKind
SCRIPT = ScriptTarget(4, "robot", "XML", "outdial", 2, 30.0, TransferFallback.CONTINUE)
PLAN = {
    "01": Callee("answer", ring=3),
    "02": Callee("busy", ring=1),
    "03": Callee("no_answer"),
    "04": Callee("no_answer", timeout_cause="ORIGINATOR_CANCEL"),
    "05": Callee("reject", ring=4),
    "06": Callee("unallocated", ring=5),
    "07": Callee("gateway_down"),
    "08": Callee("busy", ring=1, job_first=True),
    "09": Callee("answer", ring=2, talk=5, handoff=3),
    "10": Callee("answer", ring=2, talk=300, patience=3000),
    "11": Callee("answer", ring=3000, patience=3000),  # rings until told to answer
}


def plan(number: str) -> Callee:
    return PLAN.get(number[-2:], Callee("no_answer"))


def line(port: int, line_id: int = 7, **settings: Any) -> dict[str, Any]:
    return {
        "id": line_id,
        "driver": "freeswitch",
        "settings": {
            "nodes": [{"host": "127.0.0.1", "port": port, "password": "ClueCon"}],
            "gateway": "carrier",
            "dial_string": "sofia/gateway/{gateway}/{number}",
            "variables": {"execute_on_media": "start_da2"},
            **settings,
        },
    }


class Rig:
    """A driver on one line of the fake FreeSWITCH, and every event it reported."""

    def __init__(self, fake: FakeFreeSwitch, pool: EslPool | None = None, **settings: Any):
        self.fake = fake
        self.pool = pool or EslPool(Backoff(first=0.05, cap=0.2))
        self.line = line(fake.port, **settings)
        self.driver = FreeSwitchTelephony(self.line, SystemClock(), self.pool)
        self.events: list[CallEvent] = []
        self.driver.subscribe(self.events.append)

    def request(self, number: str, ring_timeout: int = 20) -> OriginateRequest:
        call_id = str(uuid.uuid4())
        variables = {ATTEMPT_VARIABLE: call_id, "outdial_campaign_id": "3"}
        return OriginateRequest(call_id, number, "95187", ring_timeout, self.line, variables)

    async def dial(self, number: str, ring_timeout: int = 20) -> str:
        request = self.request(number, ring_timeout)
        await self.driver.originate(request)
        return request.call_id

    def of(self, call_id: str) -> list[CallEvent]:
        return [e for e in self.events if e.call_id == call_id]

    def kinds(self, call_id: str) -> list[CallEventKind]:
        return [e.kind for e in self.of(call_id)]

    async def until(self, call_id: str, kind: CallEventKind) -> CallEvent:
        await eventually(lambda: kind in self.kinds(call_id), f"{kind} of {call_id}")
        return next(e for e in self.of(call_id) if e.kind is kind)

    async def ended(self, call_id: str) -> CallEvent:
        return await self.until(call_id, K.HANGUP)


async def eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def run(body: Callable[[FakeFreeSwitch], Awaitable[None]], **fake_options: Any) -> None:
    async def main() -> None:
        fake = FakeFreeSwitch(plan, **fake_options)
        await fake.start()
        try:
            await asyncio.wait_for(body(fake), 90)
        finally:
            await fake.stop()

    asyncio.run(main())


@pytest.fixture(autouse=True)
def quick_waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(fs_driver, "HANGUP_GRACE_SECONDS", 2.0)
    monkeypatch.setattr(fs_driver, "CONNECT_WAIT_SECONDS", 5.0)
    yield


def originates(fake: FakeFreeSwitch) -> list[tuple[dict[str, str], str, str]]:
    return [
        parse_originate(c.removeprefix("bgapi originate "))
        for c in fake.commands
        if c.startswith("bgapi originate ")
    ]


# --- outcomes --------------------------------------------------------------------------------


def test_an_answered_call_goes_to_the_script_and_ends_answered() -> None:
    async def body(fake: FakeFreeSwitch) -> None:
        rig = Rig(fake)
        call = await rig.dial("+8613800000001")
        await rig.until(call, K.ANSWERED)
        await rig.driver.transfer_to_script(call, SCRIPT)
        hangup = await rig.ended(call)
        assert rig.kinds(call) == [K.RINGING, K.ANSWERED, K.HANGUP]
        assert (hangup.outcome, hangup.native_cause) == (
            Outcome.ANSWERED,
            "NORMAL_CLEARING sip:200",
        )
        variables, dial, destination = originates(fake)[0]
        assert dial == "sofia/gateway/carrier/+8613800000001"
        assert destination == "&park()"
        assert variables["origination_uuid"] == call == variables[ATTEMPT_VARIABLE]
        assert variables["origination_caller_id_number"] == "95187"
        assert variables["originate_timeout"] == "20"
        assert variables["outdial_line_id"] == "7"
        assert variables["outdial_campaign_id"] == "3"
        assert variables["execute_on_media"] == "start_da2"
        assert f"api uuid_transfer {call} robot XML outdial" in fake.commands
        assert f"api uuid_setvar_multi {call} outdial_script_id=4" in fake.commands
        await rig.driver.close()

    run(body)


@pytest.mark.parametrize(
    ("number", "outcome", "native"),
    [
        ("+8613800000002", Outcome.BUSY, "USER_BUSY sip:486"),
        ("+8613800000003", Outcome.NO_ANSWER, "NO_ANSWER"),
        ("+8613800000004", Outcome.NO_ANSWER, "ORIGINATOR_CANCEL sip:487"),
        ("+8613800000005", Outcome.REJECTED, "CALL_REJECTED sip:603"),
        ("+8613800000006", Outcome.INVALID_NUMBER, "UNALLOCATED_NUMBER sip:404"),
        ("+8613800000008", Outcome.BUSY, "USER_BUSY sip:486"),  # BACKGROUND_JOB came first
    ],
)
def test_unanswered_calls_end_with_their_outcome(
    number: str, outcome: Outcome, native: str
) -> None:
    async def body(fake: FakeFreeSwitch) -> None:
        rig = Rig(fake)
        call = await rig.dial(number)
        hangup = await rig.ended(call)
        assert rig.kinds(call) == [K.RINGING, K.HANGUP]
        assert (hangup.outcome, hangup.native_cause) == (outcome, native)
        assert not rig.driver.calls and not rig.driver.jobs
        await rig.driver.close()

    run(body)


def test_an_originate_that_makes_no_channel_ends_from_its_background_job() -> None:
    async def body(fake: FakeFreeSwitch) -> None:
        rig = Rig(fake)
        call = await rig.dial("+8613800000007")
        hangup = await rig.ended(call)
        assert rig.kinds(call) == [K.HANGUP]
        assert (hangup.outcome, hangup.native_cause) == (Outcome.CARRIER_FAILURE, "GATEWAY_DOWN")
        await rig.driver.close()

    run(body)


def test_many_calls_at_once_each_get_their_own_outcome() -> None:
    async def body(fake: FakeFreeSwitch) -> None:
        rig = Rig(fake)
        numbers = [f"+86138000000{n:02d}" for n in (2, 3, 5, 6, 7)] * 6
        calls = await asyncio.gather(*(rig.dial(n) for n in numbers))
        await eventually(lambda: all(K.HANGUP in rig.kinds(c) for c in calls), "all hangups")
        got = [rig.of(c)[-1].outcome for c in calls]
        expected = [Outcome.BUSY, Outcome.NO_ANSWER, Outcome.REJECTED, Outcome.INVALID_NUMBER,
                    Outcome.CARRIER_FAILURE] * 6  # fmt: skip
        assert got == expected
        await rig.driver.close()

    run(body)


# --- hang-ups, bridges, hand-offs ------------------------------------------------------------


def test_hanging_up_a_ringing_call_cancels_it() -> None:
    async def body(fake: FakeFreeSwitch) -> None:
        rig = Rig(fake)
        call = await rig.dial("+8613800000003")
        await rig.until(call, K.RINGING)
        await rig.driver.hangup(call, "campaign cancelled")
        hangup = await rig.ended(call)
        assert (hangup.outcome, hangup.native_cause) == (
            Outcome.CANCELLED,
            "ORIGINATOR_CANCEL sip:487",
        )
        assert f"api uuid_kill {call} ORIGINATOR_CANCEL" in fake.commands
        await rig.driver.close()

    run(body)


def test_hanging_up_before_the_channel_exists_kills_it_when_it_appears() -> None:
    async def body(fake: FakeFreeSwitch) -> None:
        rig = Rig(fake)
        call = await rig.dial("+8613800000003")
        await rig.driver.hangup(call, "campaign cancelled")  # -ERR No such channel
        hangup = await rig.ended(call)
        assert hangup.outcome is Outcome.CANCELLED
        assert rig.kinds(call) == [K.HANGUP]
        assert fake.commands.count(f"api uuid_kill {call} ORIGINATOR_CANCEL") == 2
        await rig.driver.close()

    run(body, create_delay=0.2)


def test_an_answered_call_bridges_to_an_agent() -> None:
    async def body(fake: FakeFreeSwitch) -> None:
        rig = Rig(fake)
        call = await rig.dial("+8613800000001")
        await rig.until(call, K.ANSWERED)
        await rig.driver.bridge_to_agent(call, "1001")
        hangup = await rig.ended(call)
        assert hangup.outcome is Outcome.ANSWERED
        plan = "'m:^:set:hangup_after_bridge=true^bridge:user/1001'"
        assert f"api uuid_transfer {call} {plan} inline" in fake.commands
        await rig.driver.close()

    run(body)


def test_the_script_hands_off_and_gets_the_call_back_with_the_reason() -> None:
    async def body(fake: FakeFreeSwitch) -> None:
        rig = Rig(fake)
        call = await rig.dial("+8613800000009")
        await rig.until(call, K.ANSWERED)
        await rig.driver.transfer_to_script(call, SCRIPT)
        await rig.until(call, K.HANDOFF)
        back = ScriptTarget(
            4, "robot", "XML", "outdial", variables={"outdial_transfer": "no_agent"}
        )
        await rig.driver.transfer_to_script(call, back)
        hangup = await rig.ended(call)
        assert rig.kinds(call) == [K.RINGING, K.ANSWERED, K.HANDOFF, K.HANGUP]
        assert hangup.outcome is Outcome.ANSWERED
        setvar = f"api uuid_setvar_multi {call} outdial_script_id=4;outdial_transfer=no_agent"
        assert setvar in fake.commands
        await rig.driver.close()

    run(body)


def test_hanging_up_an_answered_call_ends_it_answered() -> None:
    async def body(fake: FakeFreeSwitch) -> None:
        rig = Rig(fake)
        call = await rig.dial("+8613800000010")
        await rig.until(call, K.ANSWERED)
        await rig.driver.hangup(call, "abandoned: no agent")
        hangup = await rig.ended(call)
        assert (hangup.outcome, hangup.native_cause) == (Outcome.ANSWERED, "NORMAL_CLEARING")
        await rig.driver.close()

    run(body)


# --- lost connections, restarts --------------------------------------------------------------


def test_a_connection_dropped_mid_call_reconnects_and_reconciles() -> None:
    async def body(fake: FakeFreeSwitch) -> None:
        rig = Rig(fake)
        talking = await rig.dial("+8613800000010")  # answered, still talking after the outage
        ending = await rig.dial("+8613800000010")  # answered, hangs up during the outage
        ringing = await rig.dial("+8613800000011", 6000)  # answers during the outage
        await rig.until(talking, K.ANSWERED)
        await rig.until(ending, K.ANSWERED)
        await rig.until(ringing, K.RINGING)
        fake.accepting = False
        await fake.drop()
        await fake.hang_up_remotely(ending)  # nobody hears this hangup
        fake.answer_now(ringing)  # nobody hears this answer either
        await asyncio.sleep(0.3)
        assert not rig.driver.nodes[0].connected.is_set()
        fake.accepting = True
        lost = await rig.ended(ending)
        assert lost.outcome is Outcome.ANSWERED
        assert lost.native_cause == "esl: ended while the connection was down"
        await rig.until(ringing, K.ANSWERED)
        assert K.HANGUP not in rig.kinds(talking)
        # Once back, the calls still up go on as usual.
        await rig.driver.hangup(talking, "done")
        assert (await rig.ended(talking)).outcome is Outcome.ANSWERED
        assert "api show channels as json" in fake.commands
        await rig.driver.close()

    run(body)


def test_after_a_restart_live_calls_are_found_and_followed() -> None:
    async def body(fake: FakeFreeSwitch) -> None:
        before = Rig(fake)
        call = await before.dial("+8613800000010")
        await before.until(call, K.ANSWERED)
        await before.driver.close()  # the engine stops; FreeSWITCH keeps the call
        after = Rig(fake)
        assert call in await after.driver.live_calls()
        await after.driver.hangup(call, "done")
        hangup = await after.ended(call)
        assert hangup.outcome is Outcome.ANSWERED
        assert call not in await after.driver.live_calls()
        await after.driver.close()

    run(body)


def test_live_calls_refuses_to_answer_for_a_node_it_cannot_reach(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fs_driver, "CONNECT_WAIT_SECONDS", 0.3)

    async def body(fake: FakeFreeSwitch) -> None:
        rig = Rig(fake)
        fake.accepting = False
        await fake.drop()
        with pytest.raises(Exception, match="not connected"):
            await rig.driver.live_calls()
        await rig.driver.close()

    run(body)


def test_a_wrong_password_fails_the_originate_as_a_carrier_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fs_driver, "CONNECT_WAIT_SECONDS", 0.3)

    async def body(fake: FakeFreeSwitch) -> None:
        rig = Rig(fake, nodes=[{"host": "127.0.0.1", "port": fake.port, "password": "nope"}])
        with pytest.raises(OriginateFailed) as failed:
            await rig.driver.originate(rig.request("+8613800000001"))
        assert failed.value.outcome is Outcome.CARRIER_FAILURE
        assert "no node connected" in failed.value.native_cause
        assert "auth nope" in fake.commands
        assert not originates(fake)
        await rig.driver.close()

    run(body)


def test_lines_on_one_node_share_one_connection_and_see_only_their_calls() -> None:
    async def body(fake: FakeFreeSwitch) -> None:
        pool = EslPool(Backoff(first=0.05, cap=0.2))
        one, two = Rig(fake, pool), Rig(fake, pool)
        two.driver.config = type(two.driver.config)(**{**two.driver.config.__dict__, "line_id": 8})
        a = await one.dial("+8613800000002")
        b = await two.dial("+8613800000005")
        await one.ended(a)
        await two.ended(b)
        assert [e.call_id for e in one.events] == [a, a]
        assert [e.call_id for e in two.events] == [b, b]
        assert sum(c.startswith("auth ") for c in fake.commands) == 1
        await one.driver.close()
        assert len(fake.clients) == 1  # the other line still uses it
        await two.driver.close()
        await eventually(lambda: not fake.clients, "the connection closed")

    run(body)


def test_several_nodes_share_the_calls_of_a_line() -> None:
    async def body(fake: FakeFreeSwitch) -> None:
        other = FakeFreeSwitch(plan)
        await other.start()
        nodes = [
            {"host": "127.0.0.1", "port": fake.port, "password": "ClueCon"},
            {"host": "127.0.0.1", "port": other.port, "password": "ClueCon"},
        ]
        rig = Rig(fake, nodes=nodes)
        await eventually(lambda: all(n.connected.is_set() for n in rig.driver.nodes), "nodes")
        calls = [await rig.dial("+8613800000010") for _ in range(4)]
        await eventually(lambda: all(K.ANSWERED in rig.kinds(c) for c in calls), "answers")
        assert len(fake.channels) == len(other.channels) == 2
        for call in calls:
            await rig.driver.hangup(call, "done")
        await eventually(lambda: all(K.HANGUP in rig.kinds(c) for c in calls), "hangups")
        await rig.driver.close()
        await other.stop()

    run(body)
