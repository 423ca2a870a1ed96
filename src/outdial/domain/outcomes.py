"""The normalised call outcomes that drive redial rules and statistics."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    ANSWERED = "answered"
    ANSWERED_MACHINE = "answered_machine"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"
    POWERED_OFF = "powered_off"
    INVALID_NUMBER = "invalid_number"
    SUSPENDED = "suspended"
    IN_ARREARS = "in_arrears"
    CARRIER_FAILURE = "carrier_failure"
    ABANDONED = "abandoned"
    CANCELLED = "cancelled"
    DNC_BLOCKED = "dnc_blocked"


CONNECTED: frozenset[Outcome] = frozenset({Outcome.ANSWERED})
"""Outcomes that count a contact as connected (a person was reached and served)."""


class ContactState(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


CONTACT_TERMINAL: frozenset[ContactState] = frozenset(
    {ContactState.SUCCEEDED, ContactState.FAILED, ContactState.CANCELLED}
)
