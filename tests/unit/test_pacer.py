"""A campaign's pacer: its law, what it learns online and its rounding draw
(outdial.engine.pacer)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outdial.domain.estimates import Observer
from outdial.domain.pacing import AbandonCounts, AdaptSettings, Estimates, PacingState
from outdial.engine.pacer import LAWS, Pacer, VicidialAdapt
from tests.unit.test_pacing import team

HUGE = 10_000


def state(
    agents: int = 10,
    ready: int = 10,
    waiting: int = 0,
    pending: int = 0,
    talking: tuple[float, ...] = (),
    wrapping: tuple[float, ...] = (),
) -> PacingState:
    """What the engine observes; the pacer fills in its own estimates, counts and target."""
    return team(
        agents=agents,
        ready=ready,
        waiting=waiting,
        pending=pending,
        talking=talking,
        wrapping=wrapping,
        capacity=HUGE,
    )


def learnt(live_answers: int = 60, abandons: int = 0, at: float = 0.0) -> Observer:
    """An observer that has seen 240 dials, a quarter answered live, and some live answers."""
    observer = Observer()
    for i in range(240):
        live = i % 4 == 0
        observer.dial_resolved(live, 9.0 if live else None)
    for i in range(live_answers):
        observer.live_answer(at, abandoned=i < abandons)
    for seconds in (60.0, 120.0, 180.0):
        observer.talk_ended(seconds)
        observer.wrap_ended(8.0)
    return observer


def test_unknown_law_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown pacing law 'turbo'"):
        Pacer("turbo")


@pytest.mark.parametrize("law", LAWS)
def test_every_known_law_decides(law: str) -> None:
    decision = Pacer(law).decide(state(), 0.0)
    assert 0 <= decision.launch <= HUGE and decision.reason


def test_progressive_pacer() -> None:
    pacer = Pacer("progressive")
    decision = pacer.decide(state(ready=6, pending=2), 0.0)
    assert decision.law == "progressive" and decision.launch == 4


def test_predictive_falls_back_until_the_observer_has_learnt() -> None:
    pacer = Pacer("predictive")
    # The caller's estimates and counts are replaced by what the pacer's observer has learnt.
    claimed = PacingState(
        agents=10,
        ready=10,
        line_free=HUGE,
        campaign_free=HUGE,
        estimates=Estimates(live_rate=0.5, live_answers=1000),
        campaign=AbandonCounts(0, 1000),
    )
    decision = pacer.decide(claimed, 0.0)
    assert decision.reason.startswith("fallback to progressive")
    assert decision.launch == 10


def test_predictive_uses_the_observers_estimates_and_the_pacers_target() -> None:
    pacer = Pacer("predictive", target=0.05, observer=learnt())
    decision = pacer.decide(state(), 10.0)
    assert not decision.reason.startswith("fallback")
    figures = decision.figures
    assert figures["live_rate"] == pytest.approx(0.25)
    assert figures["live_answers_seen"] == 60
    assert figures["talk_mean"] == pytest.approx(120.0)
    assert figures["answer_delay"] == pytest.approx(9.0)  # the median answer delay learnt
    assert figures["target"] == 0.05
    assert decision.launch > 10  # ahead of progressive: no abandon yet, risk to spare


def test_predictive_sees_the_campaign_and_the_rolling_window() -> None:
    pacer = Pacer("predictive", observer=learnt(live_answers=60, abandons=6, at=0.0))
    soon = pacer.decide(state(), 600.0).figures
    assert soon["campaign_abandonment"] == pytest.approx(0.1)
    assert soon["window_abandonment"] == pytest.approx(0.1)
    later = pacer.decide(state(), 7200.0).figures  # two hours on: the window is empty
    assert later["campaign_abandonment"] == pytest.approx(0.1)
    assert later["window_abandonment"] == 0.0
    assert later["risk"] >= soon["risk"]  # the window's brake is released


def test_abandons_hold_the_predictive_pacer_back() -> None:
    calm = Pacer("predictive", observer=learnt(live_answers=60, abandons=0))
    burnt = Pacer("predictive", observer=learnt(live_answers=60, abandons=20))
    busy = state(ready=2, talking=(30.0,) * 4, wrapping=(2.0, 3.0, 5.0, 30.0))
    assert burnt.decide(busy, 60.0).launch < calm.decide(busy, 60.0).launch


def test_counters_and_last_decision() -> None:
    pacer = Pacer("progressive")
    assert pacer.decisions == 0 and pacer.launched == 0 and pacer.last is None
    first = pacer.decide(state(ready=3), 0.0)
    second = pacer.decide(state(ready=5, pending=1), 0.5)
    third = pacer.decide(state(ready=0), 1.0)
    assert (first.launch, second.launch, third.launch) == (3, 4, 0)
    assert pacer.decisions == 3 and pacer.launched == 7
    assert pacer.last is third


def test_ratio_uses_the_pacers_ratio() -> None:
    ratio = Pacer("ratio", ratio=3.0).decide(state(ready=4, pending=2), 0.0)
    assert ratio.law == "ratio" and ratio.launch == 10 and ratio.figures["k"] == 3.0


def test_vicidial_ratio_dials_at_the_pacers_level() -> None:
    # 4 ready and 6 talking at L = 1.5: goal round(1.5 × 10) = 15 lines, 6 + 2 in use → 7
    observed = state(ready=4, pending=2, talking=(30.0,) * 6)
    ratio = Pacer("vicidial-ratio", ratio=1.5).decide(observed, 0.0)
    assert ratio.law == "vicidial_ratio" and ratio.launch == 7 and ratio.figures["level"] == 1.5


# --- The rounding draw ---------------------------------------------------------------------------


def leading_launches(seed: int, fraction: float) -> int:
    """The launches a pacer makes on an unchanged state with ``fraction`` of a call to round:
    its first draw is made at creation and redrawn only after a launch."""
    rng = random.Random(seed)
    count = 0
    while rng.random() < fraction:
        count += 1
    return count


@pytest.mark.parametrize("seed", range(12))
def test_the_draw_is_kept_until_a_call_is_launched(seed: int) -> None:
    pacer = Pacer("ratio", ratio=0.5, seed=seed)
    same = state(ready=1)  # r* = 0.5: half a call to round, every time
    launches = [pacer.decide(same, 0.5 * i).launch for i in range(200)]
    assert set(launches) <= {0, 1}
    stop = launches.index(0)  # a first non-launch...
    assert all(n == 0 for n in launches[stop:])  # ...and the same draw never rounds up again
    assert sum(launches) == stop == leading_launches(seed, 0.5)


def test_a_fresh_draw_at_every_tick_would_round_up_for_sure() -> None:
    """Fraction of a call at every tick: a sticky draw launches about one call in all, where a
    fresh draw would launch one every other tick."""
    total = 0
    for seed in range(40):
        pacer = Pacer("ratio", ratio=0.5, seed=seed)
        total += sum(pacer.decide(state(ready=1), 0.5 * i).launch for i in range(100))
    assert total < 40 * 3  # geometric, about 1 per pacer; a fresh draw would give ~50 each


def test_a_half_call_launches_at_most_once_once_it_is_pending() -> None:
    for seed in range(20):
        pacer = Pacer("ratio", ratio=0.5, seed=seed)
        for i in range(200):
            pacer.decide(state(ready=1, pending=pacer.launched), 0.5 * i)
        assert pacer.launched <= 1


# --- VICIdial adaptive -------------------------------------------------------------------------


def test_vicidial_adapt_level_rises_when_agents_sit_ready() -> None:
    pacer = Pacer("vicidial-adapt")
    assert pacer.adapt.level == 1.0
    first = pacer.decide(state(ready=10), 0.0)
    assert first.law == "vicidial_ratio" and first.launch == 10  # level 1: progressive
    for second in range(1, 16):
        pacer.decide(state(ready=10), float(second))
    assert 1.0 < pacer.adapt.level <= 3.0
    for second in range(16, 120):
        pacer.decide(state(ready=10), float(second))
    assert pacer.adapt.level == 3.0  # capped at adaptive_maximum_level
    assert pacer.decide(state(ready=10), 120.0).launch == 30


def test_vicidial_adapt_level_falls_back_when_calls_wait() -> None:
    adapt = VicidialAdapt(level=2.5)
    observer = Observer()
    waiting = state(ready=0, waiting=4, talking=(30.0,) * 10)
    for second in range(0, 90):
        adapt.decide(waiting, float(second), observer)
    assert adapt.level == 1.0


def test_vicidial_adapt_counts_dials_only_for_its_law() -> None:
    adaptive, plain = Pacer("vicidial-adapt"), Pacer("progressive")
    adaptive.dialed(1.0, 3)
    adaptive.dialed(2.0, 2)
    plain.dialed(1.0, 4)
    assert adaptive.adapt.dials_today == 5 and list(adaptive.adapt.dials) == [1.0] * 3 + [2.0] * 2
    assert plain.adapt.dials_today == 0


@settings(max_examples=50, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 10), st.integers(0, 30), st.booleans()),
        min_size=1,
        max_size=200,
    ),
    intensity=st.floats(-100, 100),
)
def test_vicidial_adapt_level_stays_between_one_and_three(
    steps: list[tuple[int, int, int, bool]], intensity: float
) -> None:
    pacer = Pacer("vicidial-adapt", adapt=VicidialAdapt(AdaptSettings(intensity=intensity)))
    for second, (ready, waiting, busy, abandoned) in enumerate(steps):
        now = float(second)
        pacer.observer.live_answer(now, abandoned)
        observed = state(agents=ready + busy, ready=ready, waiting=waiting, talking=(9.0,) * busy)
        decision = pacer.decide(observed, now)
        pacer.dialed(now, decision.launch)
        assert 1.0 <= pacer.adapt.level <= 3.0


def test_the_predictive_pacer_rebases_its_risk_once_it_forecasts() -> None:
    pacer = Pacer("predictive", observer=learnt(live_answers=60))
    base = pacer.settings.risk
    pacer.decide(state(ready=0, talking=(30.0,) * 10), 0.0)
    assert pacer.settings.risk == base  # the first decision has no time behind it
    pacer.decide(state(ready=0, talking=(30.0,) * 10), 600.0)
    assert pacer.settings.risk > base  # no abandons yet: slack left over raises λ₀
    young = Pacer("predictive", observer=learnt(live_answers=10))
    young.decide(state(), 0.0)
    young.decide(state(), 600.0)
    assert young.settings.risk == base  # progressive until 50 live answers: no rebase
