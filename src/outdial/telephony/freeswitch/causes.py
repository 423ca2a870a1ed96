"""FreeSWITCH hangup causes (Q.850 names) and SIP final responses onto the normalised outcomes.

A pure table, read in this order for a call that ended:

1. ``outdial_outcome`` set on the channel (by a carrier-announcement or machine detector in the
   dialplan) names the outcome outright, when it is one of ours;
2. an answered call is ``answered`` (``answered_machine`` when ``outdial_machine`` is true),
   whatever cause ended it;
3. a call we hung up before it was answered is ``cancelled`` — but ``ORIGINATOR_CANCEL`` that we
   did not ask for is the originate timeout firing: ``no_answer``;
4. ``sip_term_status`` (the carrier's final response) when it is telling, else Hangup-Cause;
   an unknown cause is ``carrier_failure``.
"""

from __future__ import annotations

from outdial.domain.outcomes import Outcome

CAUSES: dict[str, Outcome] = {
    "USER_BUSY": Outcome.BUSY,  # 17, SIP 486/600
    "NO_ANSWER": Outcome.NO_ANSWER,  # 19, the originate timeout fired
    "NO_USER_RESPONSE": Outcome.NO_ANSWER,  # 18, SIP 408/480
    "ORIGINATOR_CANCEL": Outcome.NO_ANSWER,  # 487 after the timeout's CANCEL
    "ALLOTTED_TIMEOUT": Outcome.NO_ANSWER,
    "PROGRESS_TIMEOUT": Outcome.UNREACHABLE,  # not even ringing within progress_timeout
    "CALL_REJECTED": Outcome.REJECTED,  # 21, SIP 603 (and 403 in FreeSWITCH's table)
    "UNALLOCATED_NUMBER": Outcome.INVALID_NUMBER,  # 1, SIP 404/604, 空号
    "NUMBER_CHANGED": Outcome.INVALID_NUMBER,  # 22, SIP 410
    "INVALID_NUMBER_FORMAT": Outcome.INVALID_NUMBER,  # 28, SIP 484
    "SUBSCRIBER_ABSENT": Outcome.POWERED_OFF,  # 20, 关机 / out of coverage
    "NO_ROUTE_DESTINATION": Outcome.UNREACHABLE,  # 3
    "DESTINATION_OUT_OF_ORDER": Outcome.UNREACHABLE,  # 27, SIP 502
    "USER_NOT_REGISTERED": Outcome.UNREACHABLE,  # user/… endpoints not registered
    "OUTGOING_CALL_BARRED": Outcome.SUSPENDED,  # 52, 停机
    "INCOMING_CALL_BARRED": Outcome.SUSPENDED,  # 54
    "NORMAL_CLEARING": Outcome.NO_ANSWER,  # 16 before an answer: the network released the ring
    "NORMAL_UNSPECIFIED": Outcome.NO_ANSWER,  # 31
    "NORMAL_TEMPORARY_FAILURE": Outcome.CARRIER_FAILURE,  # 41, SIP 503
    "NORMAL_CIRCUIT_CONGESTION": Outcome.CARRIER_FAILURE,  # 34
    "SWITCH_CONGESTION": Outcome.CARRIER_FAILURE,  # 42
    "NETWORK_OUT_OF_ORDER": Outcome.CARRIER_FAILURE,  # 38
    "RECOVERY_ON_TIMER_EXPIRE": Outcome.CARRIER_FAILURE,  # 102, no response at all
    "SERVICE_UNAVAILABLE": Outcome.CARRIER_FAILURE,  # 63
    "FACILITY_REJECTED": Outcome.CARRIER_FAILURE,  # 29
    "INCOMPATIBLE_DESTINATION": Outcome.CARRIER_FAILURE,  # 88, SIP 488
    "GATEWAY_DOWN": Outcome.CARRIER_FAILURE,
    "MANAGER_REQUEST": Outcome.CANCELLED,  # uuid_kill from elsewhere: the contact goes back
}

SIP_STATUSES: dict[str, Outcome] = {
    "486": Outcome.BUSY,
    "600": Outcome.BUSY,
    "603": Outcome.REJECTED,
    "404": Outcome.INVALID_NUMBER,
    "604": Outcome.INVALID_NUMBER,
    "484": Outcome.INVALID_NUMBER,
    "410": Outcome.INVALID_NUMBER,
    "408": Outcome.NO_ANSWER,
    "480": Outcome.NO_ANSWER,
}
"""Final responses that say more than the cause FreeSWITCH derives from them. 487 is left out:
it answers our own CANCEL (a timeout or a hang-up), which rules 3 and the cause tell apart."""

OVERRIDES = frozenset(o.value for o in Outcome)
CANCELLED_BY_US = frozenset({"ORIGINATOR_CANCEL", "MANAGER_REQUEST", "NORMAL_CLEARING"})


def outcome_of(
    cause: str,
    sip_status: str = "",
    answered: bool = False,
    hung_up_by_us: bool = False,
    override: str = "",
    machine: bool = False,
) -> Outcome:
    """The normalised outcome of a call that ended with Hangup-Cause ``cause``."""
    if override in OVERRIDES:
        return Outcome(override)
    if answered:
        return Outcome.ANSWERED_MACHINE if machine else Outcome.ANSWERED
    if hung_up_by_us and cause in CANCELLED_BY_US:
        return Outcome.CANCELLED
    if sip_status in SIP_STATUSES:
        return SIP_STATUSES[sip_status]
    if sip_status.startswith("5") and cause not in CAUSES:
        return Outcome.CARRIER_FAILURE
    return CAUSES.get(cause, Outcome.CARRIER_FAILURE)


def native_cause(cause: str, sip_status: str = "") -> str:
    """What the attempt records as the native cause: ``USER_BUSY sip:486``."""
    return f"{cause} sip:{sip_status}" if sip_status else cause
