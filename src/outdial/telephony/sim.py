"""The sim driver: simulated calls on the engine's own event loop, in real or virtual time."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from outdial.clock import Clock
from outdial.domain.outcomes import Outcome
from outdial.engine.ports import (
    CallEvent,
    CallEventKind,
    EventSink,
    OriginateRequest,
    ScriptTarget,
)
from outdial.sim.callees import NATIVE_CAUSE, CalleeModel

ANNOUNCED = (
    Outcome.POWERED_OFF,
    Outcome.UNREACHABLE,
    Outcome.INVALID_NUMBER,
    Outcome.SUSPENDED,
    Outcome.IN_ARREARS,
)
FAST = (Outcome.BUSY, Outcome.CARRIER_FAILURE)
PATIENCE = 2.0  # an answered caller hears silence this long, then hangs up
HOLD_PATIENCE = 180.0  # a handed-off caller on hold nobody picks up hangs up after this
RESUMED_TALK = 20.0  # the script's talk after a hand-off came back (takes a message)


@dataclass
class SimCall:
    request: OriginateRequest
    outcome: Outcome
    talk: float
    machine_detect: float
    handoff: tuple[float, float] | None = None  # (script talk first, talk with the agent)
    handed_off: bool = False
    answered_at: datetime | None = None
    timers: list[asyncio.TimerHandle] = field(default_factory=list)


class SimTelephony:
    """Implements the Telephony port with CalleeModel callees. ``speed`` > 1 shortens every
    duration (for real-time demos); in virtual time leave it at 1. ``patience``: how long an
    answered callee listens to silence before hanging up."""

    def __init__(
        self, model: CalleeModel, clock: Clock, speed: float = 1.0, patience: float = PATIENCE
    ):
        self.model, self.clock, self.speed, self.patience = model, clock, speed, patience
        self.calls: dict[str, SimCall] = {}
        self.dialed: Counter[str] = Counter()
        self._sinks: list[EventSink] = []

    def subscribe(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    async def originate(self, request: OriginateRequest) -> None:
        self.dialed[request.number] += 1
        outcome, rng = self.model.behaviour(request.number, self.dialed[request.number])
        pdd = self.model.pdd.sample(rng)
        timeout = float(request.ring_timeout_seconds)
        call = SimCall(
            request, outcome, self.model.talk.sample(rng), self.model.machine_detect.sample(rng)
        )
        if outcome is Outcome.ANSWERED:
            call.handoff = self.model.handoff(request.number, self.dialed[request.number])
        self.calls[request.call_id] = call
        if outcome in FAST:
            self._at(call, pdd, self._hangup, outcome)
            return
        if outcome in ANNOUNCED:
            self._at(call, pdd + self.model.announcement.sample(rng), self._hangup, outcome)
            return
        self._at(call, pdd, self._emit, CallEventKind.RINGING)
        if outcome in (Outcome.ANSWERED, Outcome.ANSWERED_MACHINE):
            ring = self.model.ring_answer.sample(rng)
            if ring < timeout:
                self._at(call, pdd + ring, self._answer)
                return
        elif outcome is Outcome.REJECTED:
            ring = self.model.ring_reject.sample(rng)
            if ring < timeout:
                self._at(call, pdd + ring, self._hangup, Outcome.REJECTED)
                return
        self._at(call, pdd + timeout, self._hangup, Outcome.NO_ANSWER)

    async def hangup(self, call_id: str, cause: str) -> None:
        call = self.calls.get(call_id)
        if call is None:
            return
        outcome = Outcome.CANCELLED if call.answered_at is None else call.outcome
        self._hangup(call, outcome, cause)

    async def transfer_to_script(self, call_id: str, target: ScriptTarget) -> None:
        """The script talks with the callee; a callee drawn to ask for a human is handed off
        (HANDOFF event, then on hold) unless the call comes back from a hand-off."""
        call = self.calls.get(call_id)
        if call is None or call.answered_at is None:
            return
        self._cancel_timers(call)
        if call.outcome is Outcome.ANSWERED_MACHINE:
            self._at(call, call.machine_detect, self._hangup, Outcome.ANSWERED_MACHINE)
        elif call.handed_off:
            self._at(call, RESUMED_TALK, self._hangup, Outcome.ANSWERED)
        elif call.handoff is not None and call.handoff[0] < call.talk:
            self._at(call, call.handoff[0], self._hand_off)
        else:
            self._at(call, call.talk, self._hangup, Outcome.ANSWERED)

    async def bridge_to_agent(self, call_id: str, endpoint: str) -> None:
        call = self.calls.get(call_id)
        if call is None or call.answered_at is None:
            return
        self._cancel_timers(call)
        talk = call.handoff[1] if call.handed_off and call.handoff else call.talk
        self._at(call, talk, self._hangup, Outcome.ANSWERED)

    async def live_calls(self) -> set[str]:
        return set(self.calls)

    async def close(self) -> None:
        for call in list(self.calls.values()):
            self._cancel_timers(call)
        self.calls.clear()

    # --- internals ---------------------------------------------------------------------------

    def _at(self, call: SimCall, delay: float, callback: object, *args: object) -> None:
        loop = asyncio.get_running_loop()
        handle = loop.call_later(delay / self.speed, callback, call, *args)  # type: ignore[arg-type]
        call.timers.append(handle)

    def _cancel_timers(self, call: SimCall) -> None:
        for handle in call.timers:
            handle.cancel()
        call.timers.clear()

    def _answer(self, call: SimCall) -> None:
        call.answered_at = self.clock.now()
        machine = call.outcome is Outcome.ANSWERED_MACHINE
        self._emit(call, CallEventKind.ANSWERED, machine=machine)
        # Nobody takes the call: the caller hangs up on the silence, a normal clearing as any
        # network reports it; the engine knows the call was waiting for an agent.
        self._at(call, self.patience, self._hangup, Outcome.ANSWERED, "sim:caller_hung_up")

    def _hand_off(self, call: SimCall) -> None:
        call.handed_off = True
        self._emit(call, CallEventKind.HANDOFF)
        self._at(call, HOLD_PATIENCE, self._hangup, Outcome.ANSWERED)

    def _emit(self, call: SimCall, kind: CallEventKind, machine: bool = False) -> None:
        event = CallEvent(call.request.call_id, kind, self.clock.now(), machine=machine)
        for sink in self._sinks:
            sink(event)

    def _hangup(self, call: SimCall, outcome: Outcome, cause: str = "") -> None:
        self._cancel_timers(call)
        self.calls.pop(call.request.call_id, None)
        native = cause or f"sim:{NATIVE_CAUSE.get(outcome, outcome.value)}"
        event = CallEvent(
            call.request.call_id,
            CallEventKind.HANGUP,
            self.clock.now(),
            outcome=outcome,
            native_cause=native,
        )
        for sink in self._sinks:
            sink(event)
