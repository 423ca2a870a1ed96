"""Why not now? Whether a contact may be dialed at an instant, every reason it may not, and
the earliest instant it may be."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from outdial.domain.calendar import Closed, Schedule, closed_reason, next_open
from outdial.domain.campaign_state import TERMINAL, CampaignState
from outdial.domain.outcomes import ContactState

MAX_ZONE_ROUNDS = 8


@dataclass(frozen=True)
class DialFacts:
    """What is known about a contact's next call at instant ``at``."""

    at: datetime
    campaign_state: CampaignState
    contact_state: ContactState
    contact_reason: str
    next_eligible_at: datetime | None
    schedule: Schedule
    zones: Sequence[ZoneInfo]  # the contact's possible zones; the schedule is read in each
    number_attempts_today: int = 0
    day_ends_at: datetime | None = None  # end of the number's local day
    last_attempt_at: datetime | None = None
    max_attempts_per_day: int | None = None
    min_attempt_interval_seconds: int = 0
    on_dnc: bool = False
    line_free: int = 1
    campaign_free: int = 1


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: list[str] = field(default_factory=list)
    next_eligible_at: datetime | None = None


CAMPAIGN_REASON = {
    CampaignState.DRAFT: "campaign_not_started",
    CampaignState.SCHEDULED: "campaign_scheduled",
    CampaignState.PAUSED: "campaign_paused",
    CampaignState.COMPLETED: "campaign_completed",
    CampaignState.EXPIRED: "campaign_expired",
    CampaignState.CANCELLED: "campaign_cancelled",
    CampaignState.FAILED: "campaign_failed",
}
CONTACT_REASON = {
    ContactState.IN_PROGRESS: "in_progress",
    ContactState.PAUSED: "contact_paused",
    ContactState.SUCCEEDED: "succeeded",
    ContactState.FAILED: "exhausted",
    ContactState.CANCELLED: "contact_cancelled",
}


def eligibility(f: DialFacts) -> Eligibility:
    """Every reason the contact may not be dialed at ``f.at``, and when it next may be."""
    if f.contact_state is not ContactState.PENDING:
        return Eligibility(False, [CONTACT_REASON[f.contact_state]], None)
    reasons: list[str] = []
    earliest = f.at
    if f.campaign_state is not CampaignState.RUNNING:
        reasons.append(CAMPAIGN_REASON[f.campaign_state])
    if f.next_eligible_at is not None and f.next_eligible_at > f.at:
        reasons.append(f.contact_reason or "retry_backoff")
        earliest = max(earliest, f.next_eligible_at)
    if f.on_dnc:
        reasons.append("dnc")
    earliest = _number_limits(f, reasons, earliest)
    closed = [closed_reason(f.schedule.in_zone(z), f.at) for z in f.zones]
    reasons.extend(sorted({c.value for c in closed if c is not None}))
    if f.line_free <= 0:
        reasons.append("line_busy")
    if f.campaign_free <= 0:
        reasons.append("concurrency_limit")
    if not reasons:
        return Eligibility(True, [], f.at)
    if f.on_dnc or f.campaign_state in TERMINAL:
        return Eligibility(False, reasons, None)
    return Eligibility(False, reasons, first_open_in_all(f.schedule, f.zones, earliest))


def _number_limits(f: DialFacts, reasons: list[str], earliest: datetime) -> datetime:
    cap = f.max_attempts_per_day
    if cap is not None and f.number_attempts_today >= cap:
        reasons.append("daily_cap")
        if f.day_ends_at is not None:
            earliest = max(earliest, f.day_ends_at)
    if f.last_attempt_at is not None and f.min_attempt_interval_seconds:
        ready = f.last_attempt_at + timedelta(seconds=f.min_attempt_interval_seconds)
        if ready > f.at:
            # Named only when it binds beyond the contact's own wait (which usually covers it).
            own_wait = (
                f.next_eligible_at if f.next_eligible_at and f.next_eligible_at > f.at else None
            )
            if own_wait is None or ready > own_wait:
                reasons.append("min_interval")
            earliest = max(earliest, ready)
    return earliest


def first_open_in_all(
    schedule: Schedule, zones: Sequence[ZoneInfo], since: datetime
) -> datetime | None:
    """The first instant from ``since`` at which the schedule is open in every zone."""
    at: datetime | None = since
    for _ in range(MAX_ZONE_ROUNDS):
        assert at is not None
        candidates = [next_open(schedule.in_zone(z), at) for z in zones]
        if any(c is None for c in candidates):
            return None
        latest = max(c for c in candidates if c is not None)
        if latest == at:
            return at
        at = latest
    return None


def is_closed(schedule: Schedule, zones: Sequence[ZoneInfo], at: datetime) -> Closed | None:
    for zone in zones:
        reason = closed_reason(schedule.in_zone(zone), at)
        if reason is not None:
            return reason
    return None
