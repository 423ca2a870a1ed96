"""The SIP driver: the Telephony port straight to a SIP trunk, signalling only.

A call is an INVITE (with an SDP offer nobody will stream to: outdial carries no media) to
``sip:<number>@<trunk>``; the SIP Call-ID is the attempt's uuid, and ``X-Outdial-Attempt``
repeats it. 180/183 → ringing; 2xx → ACK, answered; a final 3xx–6xx → hangup with the
outcome of causes.py. The ring timeout (the campaign's, counted from the INVITE) sends
CANCEL once the trunk has sent a provisional response, and the 487 that follows is
``no_answer``; the engine's hang-up is CANCEL before an answer (``cancelled``) and BYE after.
A BYE from the trunk ends an answered call. A 401/407 is answered once with digest
credentials (a second challenge in a row ends the call: ``carrier_failure``).

Lost trunk: over UDP there is no connection, so an INVITE nobody answers ends on Timer B
(64·T1 = 32 s) as ``carrier_failure`` (``sip:timeout``); a BYE that gets no response still ends
the call. Over TCP a dropped connection ends every call on it at once (``answered`` ones as
answered, the others ``carrier_failure``), and the next call connects again. A SIP UAC keeps
no state across restarts, so after one the engine's reconciliation finds no live calls and
closes the attempts left open.

The answered call is the trunk's to handle from there: ``transfer_to_script`` and
``bridge_to_agent`` send nothing (no media, no B2BUA); ``max_call_seconds`` bounds a call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from outdial.clock import Clock
from outdial.domain.outcomes import Outcome
from outdial.engine.ports import (
    CallEvent,
    CallEventKind,
    EventSink,
    OriginateFailed,
    OriginateRequest,
    ScriptTarget,
)
from outdial.telephony.sip import causes, digest
from outdial.telephony.sip.config import SipLineConfig
from outdial.telephony.sip.dialog import Leg, new_branch, sdp_offer
from outdial.telephony.sip.message import Message, response_to
from outdial.telephony.sip.transaction import (
    ClientTransaction,
    Handle,
    InviteClientTransaction,
    NonInviteClientTransaction,
)
from outdial.telephony.sip.transport import TcpTransport, TransportError, UdpTransport, resolve

log = logging.getLogger("outdial.sip")

ATTEMPT_HEADER = "X-Outdial-Attempt"
MEDIA_PORT = 9  # the SDP's port: discard, nothing listens
MAX_AUTH_TRIES = 1
CLOSE_WAIT_SECONDS = 1.0  # close(): time for the last BYEs and CANCELs to leave


@dataclass
class SipCall:
    call_id: str
    leg: Leg
    invite_tx: InviteClientTransaction | None = None
    provisional: bool = False  # a provisional came: a CANCEL may be sent
    ringing: bool = False
    answered: bool = False
    ended: bool = False
    hung_up_by_us: str = ""  # the engine asked for it
    timed_out: bool = False  # the ring timeout fired
    cancel_pending: bool = False  # CANCEL as soon as a provisional comes
    cancel_sent: bool = False
    auth_tries: int = 0
    ack: bytes = b""  # the ACK of the 2xx, sent again for retransmitted 2xx
    timers: list[Handle] = field(default_factory=list)


class SipTelephony:
    """Implements the Telephony port for one line on one SIP trunk."""

    def __init__(self, line: dict[str, Any], clock: Clock, password: str = ""):
        self.config = SipLineConfig.from_line(line, password)
        self.clock = clock
        self.calls: dict[str, SipCall] = {}  # by attempt uuid = SIP Call-ID
        self.transactions: dict[tuple[str, str], ClientTransaction] = {}
        self.transport: UdpTransport | TcpTransport | None = None
        self._opening: asyncio.Lock | None = None
        self._sinks: list[EventSink] = []
        self.acks: dict[str, bytes] = {}  # the ACKs of ended calls' 2xx, for a while
        self.stray = 0  # responses and requests that matched nothing

    def subscribe(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    # --- the port ----------------------------------------------------------------------------

    async def originate(self, request: OriginateRequest) -> None:
        try:
            transport = await self._transport()
        except TransportError as exc:
            raise OriginateFailed(Outcome.CARRIER_FAILURE, f"sip: {exc}") from exc
        leg = Leg(
            transport.local,
            call_id=request.call_id,
            local_tag=secrets.token_hex(6),
            request_uri=self.config.request_uri(request.number),
            from_uri=self.config.from_uri(request.caller_number),
            to_uri=self.config.to_uri(request.number),
            extra_headers=[(ATTEMPT_HEADER, request.call_id)],
        )
        call = SipCall(request.call_id, leg)
        self.calls[call.call_id] = call
        self._send_invite(call)
        self._later(call, float(request.ring_timeout_seconds), self._ring_timeout)
        # A runner dials a burst in one go: let the loop read responses and run due timers
        # between its originates, so none waits behind the ledger writes of the whole burst.
        await asyncio.sleep(0)

    async def hangup(self, call_id: str, cause: str) -> None:
        call = self.calls.get(call_id)
        if call is None or call.ended:
            return
        call.hung_up_by_us = cause or "hangup"
        if call.answered:
            self._bye(call, cause)
        else:
            self._cancel(call)

    async def transfer_to_script(self, call_id: str, target: ScriptTarget) -> None:
        log.debug("sip: %s: no script on a signalling-only trunk (%s)", call_id, target.script_id)

    async def bridge_to_agent(self, call_id: str, endpoint: str) -> None:
        log.debug("sip: %s: no bridge on a signalling-only trunk (%s)", call_id, endpoint)

    async def live_calls(self) -> set[str]:
        return {c.call_id for c in self.calls.values() if not c.ended}

    async def close(self) -> None:
        """Hang up what is still up (BYE / CANCEL, unreported), then release the socket."""
        live = [c for c in self.calls.values() if not c.ended]
        for call in live:
            call.hung_up_by_us = call.hung_up_by_us or "shutdown"
            if call.answered:
                self._send_request(call, call.leg.bye(self._branch(), "outdial shutdown"))
            elif call.provisional:
                self._send_request(call, call.leg.cancel())
        if live:
            await asyncio.sleep(min(CLOSE_WAIT_SECONDS, self.config.timers.t1 * 2))
        for call in list(self.calls.values()):
            self._drop_timers(call)
        for tx in list(self.transactions.values()):
            tx.cancel()
        self.transactions.clear()
        self.calls.clear()
        if self.transport is not None:
            await self.transport.close()
            self.transport = None

    # --- the transport -----------------------------------------------------------------------

    async def _transport(self) -> UdpTransport | TcpTransport:
        if self.transport is not None and self.transport.alive:
            return self.transport
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self.transport is not None and self.transport.alive:
                return self.transport
            peer = await resolve(self.config.host, self.config.port)
            if self.config.reliable:
                self.transport = await TcpTransport.open(
                    self._on_message, self._on_lost, peer, self.config.local_host
                )
            else:
                self.transport = await UdpTransport.open(
                    self._on_message, peer, self.config.local_host, self.config.local_port
                )
            return self.transport

    def _send(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.send(data)

    def _on_lost(self, reason: str) -> None:
        """TCP only: the connection went; every call on it ends now."""
        log.warning("sip %s: connection lost: %s", self.config.host, reason)
        for call in list(self.calls.values()):
            self._end(call, self._outcome(call, 0), f"sip:connection lost ({reason})")
        for tx in list(self.transactions.values()):
            tx.cancel()
        self.transactions.clear()

    # --- requests ----------------------------------------------------------------------------

    def _branch(self) -> str:
        return new_branch(secrets.token_hex(8))

    def _send_invite(self, call: SipCall, auth: tuple[str, str] | None = None) -> None:
        local = call.leg.local
        invite = call.leg.build_invite(
            self._branch(), sdp_offer(local.host, MEDIA_PORT, secrets.randbelow(2**31)), auth
        )
        tx = InviteClientTransaction(
            invite,
            self._send,
            asyncio.get_running_loop(),
            lambda response: self._on_invite_response(call, response),
            lambda: self._on_invite_timeout(call),
            reliable=self.config.reliable,
            config=self.config.timers,
        )
        call.invite_tx = tx
        self._start(tx)

    def _send_request(self, call: SipCall, req: Message) -> NonInviteClientTransaction:
        tx = NonInviteClientTransaction(
            req,
            self._send,
            asyncio.get_running_loop(),
            lambda response: self._on_other_response(call, req.method, response),
            lambda: self._on_other_timeout(call, req.method),
            reliable=self.config.reliable,
            config=self.config.timers,
        )
        self._start(tx)
        return tx

    def _start(self, tx: ClientTransaction) -> None:
        self.transactions[tx.key] = tx
        tx.on_terminated = self._forget_tx
        tx.start()

    def _forget_tx(self, tx: ClientTransaction) -> None:
        if self.transactions.get(tx.key) is tx:
            del self.transactions[tx.key]

    def _cancel(self, call: SipCall) -> None:
        """CANCEL once a provisional has come (§9.1); until then, when one comes."""
        if call.cancel_sent or call.answered or call.ended:
            return
        if not call.provisional:
            call.cancel_pending = True
            return
        call.cancel_sent = True
        self._send_request(call, call.leg.cancel())
        # No final response within 64·T1 of the CANCEL: the INVITE is given up (§9.1).
        self._later(call, self.config.timers.timeout, self._cancel_unanswered)

    def _bye(self, call: SipCall, reason: str) -> None:
        self._send_request(call, call.leg.bye(self._branch()))
        self._end(call, Outcome.ANSWERED, f"sip:BYE sent ({reason or 'hangup'})")

    # --- timers ------------------------------------------------------------------------------

    def _later(self, call: SipCall, delay: float, callback: Any) -> None:
        loop = asyncio.get_running_loop()
        call.timers.append(loop.call_later(delay, callback, call))

    def _drop_timers(self, call: SipCall) -> None:
        for handle in call.timers:
            handle.cancel()
        call.timers.clear()

    def _ring_timeout(self, call: SipCall) -> None:
        if call.answered or call.ended:
            return
        call.timed_out = True
        self._cancel(call)

    def _cancel_unanswered(self, call: SipCall) -> None:
        if not call.ended and not call.answered:
            if call.invite_tx is not None:
                call.invite_tx.cancel()
                self._forget_tx(call.invite_tx)
            self._end(call, self._outcome(call, 487), "sip:CANCEL unanswered")

    def _max_call(self, call: SipCall) -> None:
        if call.answered and not call.ended:
            call.hung_up_by_us = "max_call_seconds"
            self._bye(call, "max_call_seconds")

    # --- what comes back ---------------------------------------------------------------------

    def _on_message(self, message: Message) -> None:
        if message.is_request:
            self._on_request(message)
            return
        try:
            key = (message.branch, message.cseq[1])
        except ValueError:
            self.stray += 1
            return
        tx = self.transactions.get(key)
        if tx is not None:
            tx.receive(message)
        else:
            self._on_stray_response(message)

    def _on_stray_response(self, message: Message) -> None:
        """A 2xx to an INVITE again (its transaction is over): ACK it again (§13.2.2.4)."""
        call = self.calls.get(message.call_id)
        ack = call.ack if call is not None else self.acks.get(message.call_id)
        if ack and message.status < 300 and message.cseq[1] == "INVITE":
            self._send(ack)
            return
        self.stray += 1

    def _on_invite_response(self, call: SipCall, response: Message) -> None:
        if response.status < 200:
            self._provisional(call, response)
        elif response.status < 300:
            self._answered(call, response)
        elif response.status in (401, 407):
            self._challenged(call, response)
        else:
            self._failed(call, response.status, response.reason)

    def _provisional(self, call: SipCall, response: Message) -> None:
        call.provisional = True
        call.leg.learn(response)
        if call.cancel_pending:
            call.cancel_pending = False
            self._cancel(call)
            return
        if response.status > 100 and not call.ringing and not call.ended:
            call.ringing = True
            self._emit(call, CallEventKind.RINGING)

    def _answered(self, call: SipCall, response: Message) -> None:
        call.leg.learn(response)
        ack = call.leg.ack(self._branch())
        call.ack = ack.encode()
        self._send(call.ack)
        if call.ended or call.hung_up_by_us or call.timed_out:
            # The 2xx crossed our CANCEL (or came after we gave up): ACK, then BYE at once.
            self._send_request(call, call.leg.bye(self._branch()))
            self._end(call, self._outcome(call, 487), "sip:200 after CANCEL, BYE sent")
            return
        call.answered = True
        self._drop_timers(call)
        self._emit(call, CallEventKind.ANSWERED)
        if self.config.max_call_seconds:
            self._later(call, float(self.config.max_call_seconds), self._max_call)

    def _challenged(self, call: SipCall, response: Message) -> None:
        header = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        answer = "Authorization" if response.status == 401 else "Proxy-Authorization"
        usable = (
            self.config.username
            and call.auth_tries < MAX_AUTH_TRIES
            and not (call.hung_up_by_us or call.timed_out)
        )
        if not usable:
            self._failed(call, response.status, response.reason)
            return
        try:
            challenge = digest.parse_challenge(response.get(header))
            invite = call.leg.invite
            assert invite is not None
            value = digest.authorization(
                challenge,
                "INVITE",
                invite.uri,
                self.config.username,
                self.config.password,
                cnonce=secrets.token_hex(8),
            )
        except digest.DigestError as exc:
            log.warning("sip: %s: %s", call.call_id, exc)
            self._failed(call, response.status, f"{response.reason} ({exc})")
            return
        call.auth_tries += 1
        call.provisional = False
        call.leg.cseq += 1
        self._send_invite(call, (answer, value))

    def _failed(self, call: SipCall, status: int, reason: str) -> None:
        self._end(call, self._outcome(call, status), causes.native_cause(status, reason))

    def _on_invite_timeout(self, call: SipCall) -> None:
        self._end(call, self._outcome(call, 0), causes.native_cause(0))

    def _on_other_response(self, call: SipCall, method: str, response: Message) -> None:
        if method == "CANCEL" and response.status == 481 and not call.ended:
            log.debug("sip: %s: CANCEL found no INVITE (481)", call.call_id)

    def _on_other_timeout(self, call: SipCall, method: str) -> None:
        log.info("sip: %s: no response to %s", call.call_id, method)

    def _outcome(self, call: SipCall, status: int) -> Outcome:
        if call.answered:
            return Outcome.ANSWERED
        if call.hung_up_by_us:
            return Outcome.CANCELLED
        if call.timed_out and status == 487:
            return Outcome.NO_ANSWER
        return causes.outcome_of(status)

    # --- requests from the trunk -------------------------------------------------------------

    def _on_request(self, req: Message) -> None:
        if req.method == "ACK":
            return
        call = self.calls.get(req.call_id)
        if req.method == "BYE" and call is not None and call.answered:
            self._send(response_to(req, 200, "OK").encode())
            self._end(call, Outcome.ANSWERED, "sip:BYE received")
        elif req.method in ("BYE", "CANCEL"):
            self._send(response_to(req, 481, "Call/Transaction Does Not Exist").encode())
        elif req.method == "OPTIONS":
            self._send(response_to(req, 200, "OK", to_tag=secrets.token_hex(4)).encode())
        else:
            self.stray += 1
            reply = response_to(req, 501, "Not Implemented", to_tag=secrets.token_hex(4))
            self._send(reply.encode())

    # --- endings and events ------------------------------------------------------------------

    def _end(self, call: SipCall, outcome: Outcome, cause: str) -> None:
        if call.ended:
            return
        call.ended = True
        self._drop_timers(call)
        self.calls.pop(call.call_id, None)
        if call.ack:  # a retransmitted 2xx is ACKed again until Timer B's span is over
            self.acks[call.call_id] = call.ack
            loop = asyncio.get_running_loop()
            loop.call_later(self.config.timers.timeout, self.acks.pop, call.call_id, None)
        event = CallEvent(
            call.call_id, CallEventKind.HANGUP, self.clock.now(), outcome, native_cause=cause
        )
        for sink in self._sinks:
            sink(event)

    def _emit(self, call: SipCall, kind: CallEventKind) -> None:
        event = CallEvent(call.call_id, kind, self.clock.now())
        for sink in self._sinks:
            sink(event)


async def wait_idle(driver: SipTelephony, timeout: float) -> None:
    """Wait until no call is in progress (tests, the benchmark)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while driver.calls:
                await asyncio.sleep(0.05)
