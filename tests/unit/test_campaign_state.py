from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outdial.domain.campaign_rules import period_has_begun, readiness_problems
from outdial.domain.campaign_state import (
    TERMINAL,
    CampaignState,
    LifecycleAction,
    apply_action,
)
from outdial.domain.errors import IllegalTransition

S, A = CampaignState, LifecycleAction
NOW = datetime(2026, 11, 23, tzinfo=UTC)

LEGAL = {
    (S.DRAFT, A.START): S.RUNNING,
    (S.DRAFT, A.CANCEL): S.CANCELLED,
    (S.SCHEDULED, A.PAUSE): S.PAUSED,
    (S.SCHEDULED, A.CANCEL): S.CANCELLED,
    (S.RUNNING, A.PAUSE): S.PAUSED,
    (S.RUNNING, A.CANCEL): S.CANCELLED,
    (S.PAUSED, A.RESUME): S.RUNNING,
    (S.PAUSED, A.CANCEL): S.CANCELLED,
}


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("action", list(A))
def test_every_transition(state: CampaignState, action: LifecycleAction) -> None:
    expected = LEGAL.get((state, action))
    if expected is None:
        with pytest.raises(IllegalTransition) as err:
            apply_action(state, action, period_has_begun=True)
        assert err.value.extra["state"] == state.value
    else:
        assert apply_action(state, action, period_has_begun=True) is expected


def test_start_before_the_period_schedules() -> None:
    assert apply_action(S.DRAFT, A.START, period_has_begun=False) is S.SCHEDULED
    assert apply_action(S.PAUSED, A.RESUME, period_has_begun=False) is S.SCHEDULED


@given(st.lists(st.sampled_from(list(A)), max_size=30), st.booleans())
def test_terminal_states_are_final(actions: list[LifecycleAction], begun: bool) -> None:
    state = S.DRAFT
    for action in actions:
        try:
            state = apply_action(state, action, begun)
        except IllegalTransition:
            continue
    if state in TERMINAL:
        for action in A:
            with pytest.raises(IllegalTransition):
                apply_action(state, action, begun)


def _campaign(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "pacing_mode": "agentless",
        "line_id": 1,
        "script_id": 1,
        "skill_group_id": None,
        "period_start": None,
        "period_end": None,
    }
    return {**base, **over}


def test_readiness_by_mode() -> None:
    assert readiness_problems(_campaign(), NOW) == []
    fields = [p.field for p in readiness_problems(_campaign(line_id=None, script_id=None), NOW)]
    assert fields == ["line_id", "script_id"]
    agent = _campaign(pacing_mode="predictive", script_id=None)
    assert [p.field for p in readiness_problems(agent, NOW)] == ["skill_group_id"]
    ended = _campaign(period_end=datetime(2026, 1, 1, tzinfo=UTC))
    assert [p.field for p in readiness_problems(ended, NOW)] == ["period_end"]


def test_period_has_begun() -> None:
    assert period_has_begun(_campaign(), NOW)
    assert not period_has_begun(_campaign(period_start=datetime(2027, 1, 1, tzinfo=UTC)), NOW)
