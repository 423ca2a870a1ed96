from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from outdial.domain.calendar import Schedule, parse_windows
from outdial.domain.campaign_state import CampaignState
from outdial.domain.eligibility import DialFacts, eligibility, first_open_in_all
from outdial.domain.outcomes import ContactState

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
OPEN = Schedule(UTC_ZONE)


def facts(**over: Any) -> DialFacts:
    base: dict[str, Any] = {
        "at": NOW,
        "campaign_state": CampaignState.RUNNING,
        "contact_state": ContactState.PENDING,
        "contact_reason": "not_dialed",
        "next_eligible_at": NOW,
        "schedule": OPEN,
        "zones": [UTC_ZONE],
    }
    return DialFacts(**{**base, **over})


def test_eligible_now() -> None:
    verdict = eligibility(facts())
    assert verdict.eligible and verdict.reasons == [] and verdict.next_eligible_at == NOW


def test_every_reason_is_named_and_the_latest_constraint_wins() -> None:
    schedule = Schedule(UTC_ZONE, windows=parse_windows([{"start": "14:00", "end": "18:00"}]))
    verdict = eligibility(
        facts(
            campaign_state=CampaignState.PAUSED,
            schedule=schedule,
            max_attempts_per_day=1,
            number_attempts_today=1,
            day_ends_at=NOW.replace(hour=0) + timedelta(days=1),
            line_free=0,
            campaign_free=0,
        )
    )
    assert verdict.reasons == [
        "campaign_paused",
        "daily_cap",
        "outside_window",
        "line_busy",
        "concurrency_limit",
    ]
    assert verdict.next_eligible_at == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def test_min_interval_is_named_only_when_it_binds() -> None:
    last = NOW - timedelta(minutes=10)
    waits = facts(
        contact_reason="redial_wait",
        next_eligible_at=NOW + timedelta(hours=1),
        last_attempt_at=last,
        min_attempt_interval_seconds=1800,
    )
    assert eligibility(waits).reasons == ["redial_wait"]
    binds = facts(last_attempt_at=last, min_attempt_interval_seconds=1800)
    verdict = eligibility(binds)
    assert verdict.reasons == ["min_interval"]
    assert verdict.next_eligible_at == last + timedelta(minutes=30)


def test_dnc_and_terminal_states_never_come_back() -> None:
    assert eligibility(facts(on_dnc=True)).next_eligible_at is None
    assert eligibility(facts(campaign_state=CampaignState.CANCELLED)).next_eligible_at is None
    done = eligibility(facts(contact_state=ContactState.SUCCEEDED))
    assert done.reasons == ["succeeded"] and done.next_eligible_at is None


def test_no_opening_left_in_the_period_means_never() -> None:
    ended = Schedule(
        UTC_ZONE,
        period_end=NOW + timedelta(hours=1),
        windows=parse_windows([{"start": "20:00", "end": "21:00"}]),
    )
    verdict = eligibility(facts(schedule=ended))
    assert verdict.reasons == ["outside_window"] and verdict.next_eligible_at is None


def test_open_in_every_candidate_zone() -> None:
    schedule = Schedule(UTC_ZONE, windows=parse_windows([{"start": "09:00", "end": "18:00"}]))
    zones = [ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")]
    start = first_open_in_all(schedule, zones, NOW)
    assert start == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 09:00 in Los Angeles
