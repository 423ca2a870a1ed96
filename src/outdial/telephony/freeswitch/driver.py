"""The FreeSWITCH driver: the Telephony port over inbound Event Socket connections.

A call is ``bgapi originate {origination_uuid=<attempt uuid>,…}<dial string> &park()`` on one
of the line's nodes (the connected one with the fewest of our calls). The channel's uuid *is*
the attempt's uuid, so events, ``uuid_kill`` / ``uuid_transfer`` and reconciliation after a
restart need no mapping table. Only channels whose ``outdial_attempt_id`` equals their own
Unique-ID and whose ``outdial_line_id`` is this line are ours (a bridged agent's leg, other
traffic on the node and other lines sharing the connection are not).

Events: CHANNEL_PROGRESS / CHANNEL_PROGRESS_MEDIA → ringing; CHANNEL_ANSWER → answered;
CUSTOM ``outdial::handoff`` → hand-off; CHANNEL_HANGUP_COMPLETE → hangup with the outcome of
Hangup-Cause and ``sip_term_status`` (causes.py). A BACKGROUND_JOB ``-ERR`` ends a call whose
channel never existed (a bad gateway, no channels left); when the channel did exist its
CHANNEL_HANGUP_COMPLETE, which carries the SIP status, is awaited a moment first.

After the connection to a node comes back, the calls we track there are looked up in
``show channels as json``: gone ones end (``cancelled``, or ``answered`` when they had been),
live ones answered meanwhile are reported answered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from outdial.clock import Clock
from outdial.domain.outcomes import Outcome
from outdial.engine.ports import (
    ATTEMPT_VARIABLE,
    CallEvent,
    CallEventKind,
    EventSink,
    OriginateFailed,
    OriginateRequest,
    ScriptTarget,
)
from outdial.telephony.freeswitch.causes import native_cause, outcome_of
from outdial.telephony.freeswitch.config import LineConfig, originate_command
from outdial.telephony.freeswitch.connection import EslConnection, EslError
from outdial.telephony.freeswitch.pool import EslPool

log = logging.getLogger("outdial.freeswitch")

LINE_VARIABLE = "outdial_line_id"
HANDOFF_SUBCLASS = "outdial::handoff"
HANGUP_GRACE_SECONDS = 5.0  # a failed originate's CHANNEL_HANGUP_COMPLETE, awaited this long
CONNECT_WAIT_SECONDS = 5.0  # an originate waits this long for a node to (re)connect
ANSWERED_STATES = frozenset({"ACTIVE", "HELD"})


@dataclass
class Call:
    call_id: str
    node: EslConnection
    created: bool = False
    ringing: bool = False
    answered: bool = False
    hung_up_by_us: str = ""  # why we hung it up
    ended: bool = False
    job_uuid: str = ""
    grace: asyncio.TimerHandle | None = field(default=None, repr=False)


class FreeSwitchTelephony:
    """Implements the Telephony port for one line (its nodes: ``line.settings.nodes``)."""

    def __init__(self, line: dict[str, Any], clock: Clock, pool: EslPool):
        self.config = LineConfig.from_line(line)
        self.clock, self.pool = clock, pool
        self.calls: dict[str, Call] = {}
        self.jobs: dict[str, str] = {}  # Job-UUID → call id
        self._sinks: list[EventSink] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.nodes = [pool.acquire(node) for node in self.config.nodes]
        self._listeners = [(n, self._listener(n), self._reconnect_handler(n)) for n in self.nodes]
        for node, on_event, on_connect in self._listeners:
            node.listeners.append(on_event)
            node.on_connect.append(on_connect)

    def _listener(self, node: EslConnection) -> Callable[[dict[str, str]], None]:
        return lambda event: self._on_event(node, event)

    def _reconnect_handler(self, node: EslConnection) -> Callable[[], Awaitable[None]]:
        return lambda: self._reconnected(node)

    def subscribe(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    # --- the port ----------------------------------------------------------------------------

    async def originate(self, request: OriginateRequest) -> None:
        node = await self._pick_node()
        if node is None:
            names = ", ".join(n.name for n in self.nodes)
            raise OriginateFailed(Outcome.CARRIER_FAILURE, f"esl: no node connected ({names})")
        call = Call(request.call_id, node, job_uuid=str(uuid.uuid4()))
        self.calls[call.call_id] = call
        self.jobs[call.job_uuid] = call.call_id
        text = originate_command(self.config.dial(request.number), self._variables(request))
        try:
            reply = await node.bgapi(text, call.job_uuid)
        except EslError as exc:
            # Sent or not, we cannot tell: the reconnect's reconciliation settles it.
            log.warning("freeswitch %s: originate %s: %s", node.name, call.call_id, exc)
            return
        if not reply.startswith("+OK"):
            self._forget(call)
            raise OriginateFailed(Outcome.CARRIER_FAILURE, f"esl: {reply or 'no reply'}")

    async def hangup(self, call_id: str, cause: str) -> None:
        call = self.calls.get(call_id)
        if call is None:
            return
        call.hung_up_by_us = cause or "hangup"
        await self._kill(call)

    async def transfer_to_script(self, call_id: str, target: ScriptTarget) -> None:
        call = self.calls.get(call_id)
        if call is None or not call.answered:
            return
        variables = {"outdial_script_id": str(target.script_id), **target.variables}
        pairs = ";".join(f"{k}={v}" for k, v in variables.items())
        extension = target.extension or str(target.script_id)
        await self._api(call, f"uuid_setvar_multi {call_id} {pairs}")
        await self._api(
            call, f"uuid_transfer {call_id} {extension} {target.dialplan} {target.context}"
        )

    async def bridge_to_agent(self, call_id: str, endpoint: str) -> None:
        call = self.calls.get(call_id)
        if call is None or not call.answered:
            return
        dial = endpoint if "/" in endpoint else f"user/{endpoint}"
        plan = f"'m:^:set:hangup_after_bridge=true^bridge:{dial}'"
        await self._api(call, f"uuid_transfer {call_id} {plan} inline")

    async def live_calls(self) -> set[str]:
        """Every channel uuid on the line's nodes (ours are the attempts' uuids). A node that
        cannot be asked raises EslError: better no answer than calls wrongly declared gone."""
        live: set[str] = set()
        for node in self.nodes:
            if not await node.wait_connected(CONNECT_WAIT_SECONDS):
                raise EslError(f"FreeSWITCH {node.name} is not connected")
            for row in await self._channels(node):
                live.add(row["uuid"])
                if row["uuid"] not in self.calls:
                    adopted = Call(row["uuid"], node, created=True)
                    adopted.answered = row.get("callstate") in ANSWERED_STATES
                    self.calls[row["uuid"]] = adopted
        return live

    async def close(self) -> None:
        for call in self.calls.values():
            if call.grace is not None:
                call.grace.cancel()
        for task in self._tasks:
            task.cancel()
        for node, on_event, on_connect in self._listeners:
            node.listeners.remove(on_event)
            node.on_connect.remove(on_connect)
        for config in self.config.nodes:
            await self.pool.release(config)

    # --- commands ----------------------------------------------------------------------------

    async def _pick_node(self) -> EslConnection | None:
        connected = [n for n in self.nodes if n.connected.is_set()]
        if not connected:
            waits = [asyncio.ensure_future(n.connected.wait()) for n in self.nodes]
            _, pending = await asyncio.wait(
                waits, timeout=CONNECT_WAIT_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            connected = [n for n in self.nodes if n.connected.is_set()]
        if not connected:
            return None
        load = {id(n): 0 for n in connected}
        for call in self.calls.values():
            if id(call.node) in load:
                load[id(call.node)] += 1
        return min(connected, key=lambda n: load[id(n)])

    def _variables(self, request: OriginateRequest) -> dict[str, str]:
        return {
            **self.config.variables,
            "origination_uuid": request.call_id,
            "origination_caller_id_number": request.caller_number,
            "originate_timeout": str(request.ring_timeout_seconds),
            LINE_VARIABLE: str(self.config.line_id),
            **request.variables,
            ATTEMPT_VARIABLE: request.call_id,
        }

    async def _kill(self, call: Call) -> None:
        cause = "NORMAL_CLEARING" if call.answered else "ORIGINATOR_CANCEL"
        await self._api(call, f"uuid_kill {call.call_id} {cause}")

    async def _api(self, call: Call, text: str) -> str:
        try:
            reply = await call.node.api(text)
        except EslError as exc:
            log.warning("freeswitch %s: %s: %s", call.node.name, text.split()[0], exc)
            return ""
        if reply.startswith("-ERR"):
            log.info("freeswitch %s: %s: %s", call.node.name, text.split()[0], reply.strip())
        return reply

    async def _channels(self, node: EslConnection) -> list[dict[str, str]]:
        body = await node.api("show channels as json")
        try:
            rows = json.loads(body).get("rows") or []
        except (ValueError, AttributeError) as exc:
            raise EslError(f"{node.name}: show channels: {body[:100]!r}") from exc
        return [r for r in rows if isinstance(r, dict) and "uuid" in r]

    # --- events ------------------------------------------------------------------------------

    def _on_event(self, node: EslConnection, event: dict[str, str]) -> None:
        name = event.get("Event-Name", "")
        if name == "BACKGROUND_JOB":
            self._job_done(event)
            return
        call = self._call_of(node, event)
        if call is None:
            return
        if name == "CHANNEL_CREATE":
            call.created = True
            if call.hung_up_by_us:  # we hung up before the channel existed
                self._spawn(self._kill(call))
        elif name in ("CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA"):
            if not call.ringing and not call.answered:
                call.ringing = True
                self._emit(call, CallEventKind.RINGING)
        elif name == "CHANNEL_ANSWER":
            self._answered(call)
        elif name == "CUSTOM" and event.get("Event-Subclass") == HANDOFF_SUBCLASS:
            self._emit(call, CallEventKind.HANDOFF)
        elif name == "CHANNEL_HANGUP_COMPLETE":
            answered = call.answered or _answered_time(event)
            outcome = outcome_of(
                event.get("Hangup-Cause", ""),
                event.get("variable_sip_term_status", ""),
                answered=answered,
                hung_up_by_us=bool(call.hung_up_by_us),
                override=event.get("variable_outdial_outcome", ""),
                machine=event.get("variable_outdial_machine", "") == "true",
            )
            cause = native_cause(
                event.get("Hangup-Cause", ""), event.get("variable_sip_term_status", "")
            )
            self._end(call, outcome, cause)

    def _call_of(self, node: EslConnection, event: dict[str, str]) -> Call | None:
        """Our call for a channel event: its attempt id is its own uuid, on this line."""
        call_id = event.get("Unique-ID", "")
        if not call_id or event.get(f"variable_{ATTEMPT_VARIABLE}") != call_id:
            return None
        if event.get(f"variable_{LINE_VARIABLE}") != str(self.config.line_id):
            return None
        call = self.calls.get(call_id)
        if call is None:  # a call from before a restart, not yet reconciled
            call = self.calls[call_id] = Call(call_id, node, created=True)
        return None if call.ended else call

    def _answered(self, call: Call) -> None:
        if call.answered:
            return
        call.answered = True
        if call.hung_up_by_us:  # answered as we hung up: the kill is under way
            return
        self._emit(call, CallEventKind.ANSWERED)

    def _job_done(self, event: dict[str, str]) -> None:
        call_id = self.jobs.pop(event.get("Job-UUID", ""), None)
        call = self.calls.get(call_id or "")
        if call is None or call.ended:
            return
        result = event.get("_body", "").strip()
        if not result.startswith("-ERR"):
            return  # +OK <uuid>: answered, CHANNEL_ANSWER has said so
        cause = result.removeprefix("-ERR").strip() or "NORMAL_TEMPORARY_FAILURE"
        outcome = outcome_of(cause, hung_up_by_us=bool(call.hung_up_by_us))
        if not call.created:
            self._end(call, outcome, native_cause(cause))
            return
        loop = asyncio.get_running_loop()
        call.grace = loop.call_later(
            HANGUP_GRACE_SECONDS, self._end, call, outcome, native_cause(cause)
        )

    def _end(self, call: Call, outcome: Outcome, cause: str) -> None:
        if call.ended:
            return
        call.ended = True
        self._forget(call)
        event = CallEvent(
            call.call_id, CallEventKind.HANGUP, self.clock.now(), outcome, native_cause=cause
        )
        for sink in self._sinks:
            sink(event)

    def _forget(self, call: Call) -> None:
        if call.grace is not None:
            call.grace.cancel()
        self.calls.pop(call.call_id, None)
        self.jobs.pop(call.job_uuid, None)

    def _emit(self, call: Call, kind: CallEventKind) -> None:
        event = CallEvent(call.call_id, kind, self.clock.now())
        for sink in self._sinks:
            sink(event)

    # --- after a lost connection -------------------------------------------------------------

    async def _reconnected(self, node: EslConnection) -> None:
        """The node is back: settle the calls we track there against its channels."""
        ours = [c for c in self.calls.values() if c.node is node and not c.ended]
        if not ours:
            return
        rows = {r["uuid"]: r for r in await self._channels(node)}
        for call in ours:
            row = rows.get(call.call_id)
            if row is None:
                self._lost(call)
            elif row.get("callstate") in ANSWERED_STATES:
                self._answered(call)

    def _lost(self, call: Call) -> None:
        outcome = Outcome.ANSWERED if call.answered else Outcome.CANCELLED
        self._end(call, outcome, "esl: ended while the connection was down")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _answered_time(event: dict[str, str]) -> bool:
    stamp = event.get("Caller-Channel-Answered-Time", "0")
    return stamp.isdigit() and int(stamp) > 0
