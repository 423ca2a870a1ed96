from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from outdial.domain.outcomes import ContactState, Outcome
from outdial.domain.redial import UNLIMITED, RedialSettings, Rule, after_attempt, redials_allowed

Oc = Outcome
END = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
POLICY = (
    Rule(frozenset({Oc.BUSY, Oc.NO_ANSWER}), 600, 2),
    Rule(frozenset({Oc.POWERED_OFF}), 3600, 1),
)


def test_precedence_policy_then_group_then_daily_cap_then_once() -> None:
    everything = RedialSettings(policy_rules=POLICY, group_redial=(3, 300), max_attempts_per_day=2)
    assert redials_allowed(everything, Oc.BUSY) == (2, 600)
    assert redials_allowed(everything, Oc.REJECTED) == (0, 0)  # in no rule: not redialed
    group = RedialSettings(group_redial=(3, 300), max_attempts_per_day=2)
    assert redials_allowed(group, Oc.REJECTED) == (3, 300)
    daily = RedialSettings(max_attempts_per_day=2, min_attempt_interval_seconds=900)
    assert redials_allowed(daily, Oc.BUSY) == (UNLIMITED, 900)
    assert redials_allowed(RedialSettings(), Oc.BUSY) == (0, 0)


def test_answered_succeeds_and_cancelled_requeues() -> None:
    settings = RedialSettings(policy_rules=POLICY)
    done = after_attempt(settings, Oc.ANSWERED, END, 0, 2, 1)
    assert done.state is ContactState.SUCCEEDED and done.outcome is Oc.ANSWERED
    back = after_attempt(settings, Oc.CANCELLED, END, 1, 2, 3)
    assert back.state is ContactState.PENDING and back.next_eligible_at == END
    assert back.phone_index == 1 and not back.phone_finished


def test_redials_wait_then_move_to_the_next_phone_then_fail() -> None:
    settings = RedialSettings(policy_rules=POLICY, min_attempt_interval_seconds=900)
    first = after_attempt(settings, Oc.BUSY, END, 0, 2, 1)
    assert first.reason == "redial_wait" and first.next_eligible_at == END + timedelta(seconds=900)
    third = after_attempt(settings, Oc.BUSY, END, 0, 2, 3)
    assert third.reason == "next_phone" and third.phone_index == 1 and third.phone_finished
    last = after_attempt(settings, Oc.BUSY, END, 1, 2, 3)
    assert (
        last.state is ContactState.FAILED and last.reason == "exhausted" and last.outcome is Oc.BUSY
    )


@pytest.mark.parametrize("outcome", [Oc.INVALID_NUMBER, Oc.SUSPENDED, Oc.IN_ARREARS])
def test_skip_flags_end_a_dead_number_at_once(outcome: Outcome) -> None:
    keep = RedialSettings(group_redial=(3, 60))
    assert after_attempt(keep, outcome, END, 0, 1, 1).reason == "redial_wait"
    skip = RedialSettings(group_redial=(3, 60), skip=frozenset({outcome}))
    verdict = after_attempt(skip, outcome, END, 0, 1, 1)
    assert verdict.state is ContactState.FAILED and verdict.reason == outcome.value


def test_dnc_blocked_moves_on_without_redial() -> None:
    verdict = after_attempt(RedialSettings(group_redial=(3, 60)), Oc.DNC_BLOCKED, END, 0, 3, 0)
    assert verdict.phone_index == 1 and verdict.reason == "next_phone"
