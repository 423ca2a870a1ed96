"""The Telephony port: what the engine asks of a driver, and the events a driver reports."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from outdial.domain.outcomes import Outcome
from outdial.domain.transfer import TransferFallback

ATTEMPT_VARIABLE = "outdial_attempt_id"
TRANSFER_VARIABLE = "outdial_transfer"  # set to "no_agent" when a hand-off comes back


class CallEventKind(StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"
    HANDOFF = "handoff"  # the script asks for a human (robot then human)
    HANGUP = "hangup"


@dataclass(frozen=True)
class CallEvent:
    call_id: str  # the attempt's uuid, carried into the call as a variable
    kind: CallEventKind
    at: datetime
    outcome: Outcome | None = None  # hangup: the normalised outcome
    native_cause: str = ""  # hangup: SIP code, Q.850 / Hangup-Cause, sim label
    machine: bool = False  # answered: an answering machine picked up
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OriginateRequest:
    call_id: str
    number: str
    caller_number: str
    ring_timeout_seconds: int
    line: Mapping[str, Any]  # the line row: driver settings, gateway, nodes
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScriptTarget:
    """Where an answered call goes in agentless mode (FreeSWITCH: transfer to extension), and
    where a hand-off goes: the skill group, how long the caller waits, and what then."""

    script_id: int
    extension: str
    dialplan: str
    context: str
    transfer_skill_group_id: int | None = None
    transfer_wait_seconds: float = 0.0
    transfer_fallback: TransferFallback = TransferFallback.CONTINUE
    variables: Mapping[str, str] = field(default_factory=dict)  # set on the call at transfer


class OriginateFailed(Exception):
    """The driver could not place the call at all; carries the outcome to record."""

    def __init__(self, outcome: Outcome, native_cause: str):
        super().__init__(f"{outcome.value}: {native_cause}")
        self.outcome = outcome
        self.native_cause = native_cause


EventSink = Callable[[CallEvent], None]


class Telephony(Protocol):
    """A telephony driver (sim, freeswitch, sip). Every method runs on the engine's loop."""

    def subscribe(self, sink: EventSink) -> None:
        """Deliver call events to ``sink`` (called on the engine's loop)."""

    async def originate(self, request: OriginateRequest) -> None:
        """Start dialing; events follow. Raise OriginateFailed if the call cannot start."""

    async def hangup(self, call_id: str, cause: str) -> None:
        """End a call in any state; a hangup event follows (outcome ``cancelled`` if unanswered)."""

    async def transfer_to_script(self, call_id: str, target: ScriptTarget) -> None:
        """Hand an answered call to the script (again, after a hand-off no agent took: then
        ``target.variables`` tells the script why it has the call back)."""

    async def bridge_to_agent(self, call_id: str, endpoint: str) -> None:
        """Connect an answered call to an agent's endpoint."""

    async def live_calls(self) -> set[str]:
        """Call ids of the calls alive now (after a restart: for reconciliation)."""

    async def close(self) -> None:
        """Release connections."""
