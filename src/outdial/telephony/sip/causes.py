"""SIP final responses onto the normalised outcomes (docs/telephony.md has the table).

Read in this order for a call that ended before it was answered:

1. a call we cancelled because the engine hung up (not the ring timeout) is ``cancelled``;
2. the 487 that follows our CANCEL on the ring timeout is ``no_answer``;
3. the status code in ``STATUSES``, else by class: other 4xx and 5xx ``carrier_failure``,
   other 6xx ``rejected``, 3xx (we follow no redirects) ``unreachable``; no final response at
   all (Timer B, a lost connection) ``carrier_failure``.

A call that was answered is ``answered`` however it ended.
"""

from __future__ import annotations

from outdial.domain.outcomes import Outcome

STATUSES: dict[int, Outcome] = {
    486: Outcome.BUSY,  # Busy Here
    600: Outcome.BUSY,  # Busy Everywhere
    603: Outcome.REJECTED,  # Decline
    403: Outcome.REJECTED,  # Forbidden: the carrier refuses this call
    404: Outcome.INVALID_NUMBER,  # Not Found: 空号
    484: Outcome.INVALID_NUMBER,  # Address Incomplete
    410: Outcome.INVALID_NUMBER,  # Gone: the number was disconnected
    604: Outcome.INVALID_NUMBER,  # Does Not Exist Anywhere
    480: Outcome.NO_ANSWER,  # Temporarily Unavailable
    408: Outcome.NO_ANSWER,  # Request Timeout (the callee's side gave up ringing)
    487: Outcome.NO_ANSWER,  # Request Terminated: our ring-timeout CANCEL
    401: Outcome.CARRIER_FAILURE,  # still challenged after our credentials: a line problem
    407: Outcome.CARRIER_FAILURE,
    402: Outcome.IN_ARREARS,  # Payment Required: 欠费
    488: Outcome.CARRIER_FAILURE,  # Not Acceptable Here: no common codec
    606: Outcome.CARRIER_FAILURE,  # Not Acceptable
    502: Outcome.UNREACHABLE,  # Bad Gateway: the next hop is down
    504: Outcome.UNREACHABLE,  # Server Time-out: the callee's network did not answer
}

TIMEOUT_CAUSE = "sip:timeout"
"""No final response within Timer B (the trunk never answered the INVITE)."""


def outcome_of(status: int, answered: bool = False, hung_up_by_us: bool = False) -> Outcome:
    """The outcome of a call that ended with final response ``status`` (0: no response)."""
    if answered:
        return Outcome.ANSWERED
    if hung_up_by_us:
        return Outcome.CANCELLED
    if status in STATUSES:
        return STATUSES[status]
    if 300 <= status < 400:
        return Outcome.UNREACHABLE
    if 600 <= status < 700:
        return Outcome.REJECTED
    return Outcome.CARRIER_FAILURE


def native_cause(status: int, reason: str = "") -> str:
    """What the attempt records: ``sip:486 Busy Here``."""
    if status == 0:
        return TIMEOUT_CAUSE
    return f"sip:{status} {reason}".strip()
