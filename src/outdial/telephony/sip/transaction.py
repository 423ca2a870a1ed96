"""Client transactions (RFC 3261 §17.1): the INVITE one and the non-INVITE one.

Each takes the request to send, a ``send`` function (bytes to the peer) and a ``Timers``
(``call_later``: the event loop, or a hand-driven clock in tests), and reports to its owner
(the dialog) through ``on_response`` and ``on_timeout``. Over UDP (``reliable=False``) the
request is retransmitted on Timer A (INVITE: T1, doubling, until a response) or Timer E
(others: T1 doubling up to T2, then T2 once a provisional came); Timer B / Timer F (64·T1)
give up. A non-2xx final response to an INVITE is ACKed by the transaction itself, with the
INVITE's branch (§17.1.1.3), and retransmissions of it are ACKed again during Timer D.
Over TCP nothing is retransmitted; Timers B and F still bound the wait.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from outdial.telephony.sip.message import Message, in_invite_transaction

T1 = 0.5
T2 = 4.0
T4 = 5.0
TIMER_D_UDP = 32.0


class Handle(Protocol):
    def cancel(self) -> None: ...


class Timers(Protocol):
    def call_later(self, delay: float, callback: Callable[[], object], /) -> Handle: ...


class State(StrEnum):
    CALLING = "calling"  # INVITE sent, nothing back yet (non-INVITE: "trying")
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    TERMINATED = "terminated"


@dataclass(frozen=True)
class TimerConfig:
    t1: float = T1
    t2: float = T2
    t4: float = T4

    @property
    def timeout(self) -> float:
        """Timer B and Timer F: 64·T1."""
        return 64 * self.t1


Send = Callable[[bytes], None]
OnResponse = Callable[[Message], None]
OnTimeout = Callable[[], None]


class ClientTransaction:
    """What the two kinds share: the request, timers, the owner's callbacks."""

    def __init__(
        self,
        req: Message,
        send: Send,
        timers: Timers,
        on_response: OnResponse,
        on_timeout: OnTimeout,
        reliable: bool = False,
        config: TimerConfig | None = None,
    ):
        self.request, self.send, self.timers = req, send, timers
        self.on_response, self.on_timeout = on_response, on_timeout
        self.reliable = reliable
        self.config = config or TimerConfig()
        self.state = State.CALLING
        self.wire = req.encode()
        self.retransmissions = 0
        self._retransmit: Handle | None = None
        self._give_up: Handle | None = None
        self._interval = self.config.t1
        self.on_terminated: Callable[[ClientTransaction], None] | None = None

    @property
    def key(self) -> tuple[str, str]:
        """(branch, method): how responses find their transaction (§17.1.3)."""
        return self.request.branch, self.request.cseq[1]

    def start(self) -> None:
        self.send(self.wire)
        if not self.reliable:
            self._retransmit = self.timers.call_later(self._interval, self._on_retransmit)
        self._give_up = self.timers.call_later(self.config.timeout, self._on_give_up)

    def _on_retransmit(self) -> None:
        if self.state not in (State.CALLING, State.PROCEEDING):
            return
        self.send(self.wire)
        self.retransmissions += 1
        self._interval = self._next_interval()
        self._retransmit = self.timers.call_later(self._interval, self._on_retransmit)

    def _next_interval(self) -> float:
        raise NotImplementedError

    def _on_give_up(self) -> None:
        if self.state in (State.CALLING, State.PROCEEDING):
            self._terminate()
            self.on_timeout()

    def _stop_timers(self) -> None:
        for handle in (self._retransmit, self._give_up):
            if handle is not None:
                handle.cancel()
        self._retransmit = self._give_up = None

    def _terminate(self) -> None:
        self._stop_timers()
        self.state = State.TERMINATED
        if self.on_terminated is not None:
            self.on_terminated(self)

    def _linger(self, seconds: float) -> None:
        """Completed: absorb retransmitted finals for a while, then terminate."""
        self._stop_timers()
        self.state = State.COMPLETED
        if seconds <= 0:
            self._terminate()
        else:
            self.timers.call_later(seconds, self._terminate)

    def receive(self, response: Message) -> None:
        raise NotImplementedError

    def cancel(self) -> None:
        """The owner is gone (closing): stop every timer, report nothing more."""
        self._stop_timers()
        self.state = State.TERMINATED


class InviteClientTransaction(ClientTransaction):
    def _next_interval(self) -> float:
        return self._interval * 2  # Timer A doubles without a cap

    def receive(self, response: Message) -> None:
        status = response.status
        if self.state is State.CALLING and status < 200:
            self.state = State.PROCEEDING
            if self._retransmit is not None:
                self._retransmit.cancel()
                self._retransmit = None
            # Timer B no longer runs once a provisional came (§17.1.1.2); the owner's ring
            # timeout bounds the wait.
            if self._give_up is not None:
                self._give_up.cancel()
                self._give_up = None
            self.on_response(response)
        elif self.state is State.PROCEEDING and status < 200:
            self.on_response(response)
        elif self.state in (State.CALLING, State.PROCEEDING) and status < 300:
            self._terminate()  # a 2xx: the dialog ACKs it (and its retransmissions)
            self.on_response(response)
        elif self.state in (State.CALLING, State.PROCEEDING):
            self.send(ack_for_failure(self.request, response))
            self._linger(0 if self.reliable else TIMER_D_UDP)
            self.on_response(response)
        elif self.state is State.COMPLETED and status >= 300:
            self.send(ack_for_failure(self.request, response))  # our ACK was lost


class NonInviteClientTransaction(ClientTransaction):
    def _next_interval(self) -> float:
        if self.state is State.PROCEEDING:
            return self.config.t2
        return min(self._interval * 2, self.config.t2)

    def receive(self, response: Message) -> None:
        if self.state not in (State.CALLING, State.PROCEEDING):
            return
        if response.status < 200:
            self.state = State.PROCEEDING
            self.on_response(response)
            return
        self._linger(0 if self.reliable else self.config.t4)  # Timer K
        self.on_response(response)


def ack_for_failure(invite: Message, response: Message) -> bytes:
    """The ACK of a 3xx–6xx (§17.1.1.3): the INVITE's Request-URI, top Via (same branch),
    From, Call-ID and Route; the response's To (with its tag); CSeq number with ACK."""
    return in_invite_transaction("ACK", invite, response.get("To")).encode()
