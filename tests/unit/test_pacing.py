from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outdial.domain.pacing import (
    AbandonCounts,
    AdaptMode,
    AdaptSample,
    AdaptSettings,
    DropCounts,
    Estimates,
    Forecast,
    PacingDecision,
    PacingState,
    PredictiveSettings,
    RingProfile,
    adapt_step,
    agent_weights,
    agentless,
    allowed_risk,
    binomial_pmf,
    binomial_tail,
    convolve,
    expected_free,
    fixed,
    free_within,
    idle_scaled,
    lines_per_agent,
    lognormal_cdf,
    memoryless_free_within,
    poisson_binomial,
    predictive,
    progressive,
    randomised_round,
    ratio,
    rebased,
    soft_power,
    surely_free,
    vicidial_level,
    vicidial_ratio,
)

Law = Callable[[PacingState], PacingDecision]
LAWS: dict[str, Law] = {
    "agentless": agentless,
    "fixed": lambda s: fixed(s, 30),
    "progressive": progressive,
    "ratio": lambda s: ratio(s, 2.5, 0.3),
    "lines_per_agent": lambda s: lines_per_agent(s, 1.7),
    "vicidial_ratio": lambda s: vicidial_ratio(s, 1.6),
    "soft_power": lambda s: soft_power(s, 2.0, 10.0, 0.7),
    "predictive": predictive,
}
LEARNT = Estimates(live_rate=0.35, live_answers=400, answer_delay=11.0, acw_mean=10.0)
HUGE = 10_000


def team(
    agents: int = 20,
    ready: int = 0,
    talking: tuple[float, ...] = (),
    wrapping: tuple[float, ...] = (),
    pending: int = 0,
    estimates: Estimates = LEARNT,
    campaign: AbandonCounts | None = None,
    window: AbandonCounts | None = None,
    capacity: int = HUGE,
    waiting: int = 0,
    ringing: tuple[float, ...] = (),
) -> PacingState:
    return PacingState(
        agents=agents,
        ready=ready,
        waiting=waiting,
        pending=pending,
        ringing=ringing,
        talking=talking,
        wrapping=wrapping,
        line_free=capacity,
        campaign_free=capacity,
        estimates=estimates,
        campaign=campaign or AbandonCounts(10, 1000),
        window=window or AbandonCounts(3, 300),
    )


@st.composite
def states(draw: st.DrawFn) -> PacingState:
    agents = draw(st.integers(0, 60))
    ready = draw(st.integers(0, agents))
    talking = draw(st.integers(0, agents - ready))
    times = st.floats(0, 600, allow_nan=False)
    estimates = Estimates(
        # What an Observer can report: none yet, or at least one live answer in DIAL_MEMORY dials
        # (a subnormal rate would overflow the predictive launch to infinity).
        live_rate=draw(st.one_of(st.just(0.0), st.floats(1 / 400, 1.0))),
        live_answers=draw(st.integers(0, 500)),
        answer_delay=draw(st.floats(0.5, 60)),
        talk_mean=draw(st.floats(5, 400)),
        talk_cv=draw(st.floats(0, 3)),
        acw_mean=draw(st.floats(0, 60)),
    )
    answers = draw(st.integers(0, 2000))
    return PacingState(
        agents=agents,
        ready=ready,
        waiting=draw(st.integers(0, 5)),
        pending=draw(st.integers(0, 40)),
        talking=tuple(draw(st.lists(times, min_size=talking, max_size=talking))),
        wrapping=tuple(draw(st.lists(st.floats(0, 60), max_size=agents - ready - talking))),
        active_calls=draw(st.integers(0, 80)),
        line_free=draw(st.integers(-5, 200)),
        campaign_free=draw(st.integers(-5, 200)),
        estimates=estimates,
        campaign=AbandonCounts(draw(st.integers(0, answers)), answers),
        window=AbandonCounts(draw(st.integers(0, 50)), draw(st.integers(0, 500))),
        target=draw(st.floats(0.005, 0.05)),
    )


# --- Invariants of every law -------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(state=states())
@pytest.mark.parametrize("name", sorted(LAWS))
def test_every_law_launches_between_zero_and_capacity(name: str, state: PacingState) -> None:
    decision = LAWS[name](state)
    assert 0 <= decision.launch <= state.capacity
    assert decision.reason and decision.law
    assert decision.figures["capacity"] == state.capacity


@pytest.mark.parametrize("name", sorted(LAWS))
@pytest.mark.parametrize(("line", "campaign"), [(0, 50), (50, 0), (-3, 50)])
def test_no_capacity_means_no_launch(name: str, line: int, campaign: int) -> None:
    state = PacingState(agents=30, ready=30, line_free=line, campaign_free=campaign)
    assert LAWS[name](state).launch == 0


def test_capacity_caps_the_wish_and_says_so() -> None:
    decision = progressive(team(ready=10, capacity=4))
    assert decision.launch == 4 and decision.figures["wanted"] == 10
    assert "capped at capacity 4" in decision.reason


# --- Robot modes ---------------------------------------------------------------------------------


def test_agentless_fills_the_tighter_capacity() -> None:
    assert agentless(PacingState(line_free=12, campaign_free=30)).launch == 12
    assert agentless(PacingState(line_free=40, campaign_free=7)).launch == 7


def test_fixed_tops_up_to_the_concurrency() -> None:
    assert fixed(PacingState(active_calls=6, line_free=99, campaign_free=99), 10).launch == 4
    assert fixed(PacingState(active_calls=12, line_free=99, campaign_free=99), 10).launch == 0


# --- Progressive and ratio -----------------------------------------------------------------------


@given(state=states())
def test_progressive_is_ready_agents_not_spoken_for(state: PacingState) -> None:
    launch = progressive(state).launch
    if state.waiting + state.pending >= state.ready:
        assert launch == 0
    else:
        assert launch == min(state.ready - state.waiting - state.pending, state.capacity)


def test_ratio_reference_form_with_randomised_rounding() -> None:
    state = team(ready=4, pending=1)  # r* = 0.7·4 = 2.8, x = 1.8
    assert ratio(state, 0.7, u=0.9).launch == 1
    assert ratio(state, 0.7, u=0.1).launch == 2
    assert ratio(team(ready=2, pending=9), 3.0).launch == 0


def test_ratio_one_without_waiting_calls_is_progressive() -> None:
    state = team(ready=7, pending=2)
    assert ratio(state, 1.0, u=0.99).launch == progressive(state).launch == 5


@given(x=st.floats(0, 1000), u=st.floats(0, 1, exclude_max=True))
def test_randomised_rounding_brackets_x(x: float, u: float) -> None:
    assert math.floor(x) - 1 <= randomised_round(x, u) <= math.floor(x) + 1
    assert abs(randomised_round(x, u) - x) < 1 + 1e-6


def test_randomised_rounding_is_unbiased() -> None:
    draws = [(i + 0.5) / 1000 for i in range(1000)]
    assert sum(randomised_round(2.3, u) for u in draws) / 1000 == pytest.approx(2.3, abs=0.01)


def test_genesys_lines_per_agent_docs_example() -> None:
    """Genesys CX Contact: k = 0.7, 4 ready, 1 dialing → 1 (dialing.md §3.2)."""
    assert lines_per_agent(team(ready=4, pending=1), 0.7).launch == 1


def test_vicidial_ratio_at_level_one_is_progressive() -> None:
    state = team(ready=5, talking=(30.0,) * 10, pending=2)
    assert vicidial_ratio(state, 1.0).launch == progressive(state).launch == 3


def test_vicidial_ratio_counts_the_whole_team() -> None:
    """100 agents all in call at L = 1.25 keep 25 lines pending (dialing.md §3.2)."""
    state = team(agents=100, talking=(60.0,) * 100)
    assert vicidial_ratio(state, 1.25).launch == 25
    assert vicidial_ratio(team(agents=100, talking=(60.0,) * 100, pending=25), 1.25).launch == 0


def test_vicidial_ratio_ignores_agents_in_wrap_up() -> None:
    state = team(ready=2, talking=(30.0,) * 2, wrapping=(5.0,) * 6)
    assert vicidial_ratio(state, 2.0).launch == 8 - 2 - 0


# --- VICIdial adaptive dial level (dialing.md §3.6) ----------------------------------------------

QUIET = DropCounts()


def samples(ready: float, waiting: int = 0, logged_in: int = 20) -> list[AdaptSample]:
    return [AdaptSample(round(ready), waiting, logged_in)] * 15


def test_level_rises_with_ready_agents_and_falls_with_waiting_calls() -> None:
    assert vicidial_level(1.0, samples(5), QUIET, QUIET) == pytest.approx(1.25)
    assert vicidial_level(2.0, samples(0, waiting=4), QUIET, QUIET) == pytest.approx(1.6)
    assert vicidial_level(1.0, samples(0, waiting=4), QUIET, QUIET) == 1.0


def test_level_intensity_and_diff_target() -> None:
    hot = AdaptSettings(intensity=20)
    assert vicidial_level(1.0, samples(5), QUIET, QUIET, hot) == pytest.approx(1.3)
    assert vicidial_level(2.0, samples(0, 4), QUIET, QUIET, hot) == pytest.approx(2.0 * 0.84)
    eager = AdaptSettings(diff_target=2)
    assert vicidial_level(1.0, samples(0), QUIET, QUIET, eager) == pytest.approx(1.1)


def test_level_is_capped_at_the_maximum() -> None:
    assert vicidial_level(2.9, samples(20), QUIET, QUIET) == 3.0
    assert vicidial_level(1.4, samples(20), QUIET, QUIET, AdaptSettings(max_level=1.5)) == 1.5


def test_level_halves_on_a_bad_last_minute() -> None:
    bad = DropCounts(calls=21, answers=10, drops=6)
    assert vicidial_level(2.4, samples(0), bad, QUIET) == pytest.approx(1.2)
    assert vicidial_level(1.6, samples(0), bad, QUIET) == 1.0  # floored at 1.0
    few = DropCounts(calls=20, answers=10, drops=6)
    assert vicidial_level(2.4, samples(0), few, QUIET) == pytest.approx(2.4)


@pytest.mark.parametrize(
    ("mode", "hours_left", "expected"),
    [
        (AdaptMode.HARD_LIMIT, 5.0, 1.0),
        (AdaptMode.AVERAGE, 5.0, 1.2),
        (AdaptMode.TAPERED, 5.0, 1.2),
        (AdaptMode.TAPERED, 12.0, 2.4),
        (AdaptMode.TAPERED, 0.0, 1.0),
    ],
)
def test_level_over_the_daily_drop_limit(
    mode: AdaptMode, hours_left: float, expected: float
) -> None:
    today = DropCounts(calls=51, answers=100, drops=4)
    level = vicidial_level(2.4, samples(0), QUIET, today, AdaptSettings(mode=mode), hours_left)
    assert level == pytest.approx(expected)


def test_level_under_the_daily_drop_limit_or_too_few_calls_is_untouched() -> None:
    at_limit = DropCounts(calls=500, answers=100, drops=3)
    early = DropCounts(calls=50, answers=10, drops=5)
    assert vicidial_level(2.4, samples(0), QUIET, at_limit) == pytest.approx(2.4)
    assert vicidial_level(2.4, samples(0), QUIET, early) == pytest.approx(2.4)


def test_level_threshold_forces_one() -> None:
    small = AdaptSettings(threshold_agents=25)
    assert vicidial_level(2.4, samples(5), QUIET, QUIET, small) == 1.0


def test_level_uses_the_last_fifteen_samples() -> None:
    history = [AdaptSample(20, 0, 20)] * 30 + samples(0)
    assert adapt_step(1.7, history, AdaptSettings()) == pytest.approx(1.7)
    assert adapt_step(1.7, [], AdaptSettings()) == pytest.approx(1.7)


@given(
    level=st.floats(1.0, 3.0),
    ready=st.lists(st.integers(0, 50), min_size=0, max_size=20),
    waiting=st.integers(0, 20),
    logged_in=st.integers(0, 50),
    minute=st.tuples(st.integers(0, 100), st.integers(0, 60), st.integers(0, 60)),
    today=st.tuples(st.integers(0, 1000), st.integers(0, 500), st.integers(0, 100)),
    mode=st.sampled_from(AdaptMode),
    intensity=st.floats(-100, 100),
    diff=st.floats(-10, 10),
)
def test_level_stays_between_one_and_three(
    level: float,
    ready: list[int],
    waiting: int,
    logged_in: int,
    minute: tuple[int, int, int],
    today: tuple[int, int, int],
    mode: AdaptMode,
    intensity: float,
    diff: float,
) -> None:
    history = [AdaptSample(r, waiting, logged_in) for r in ready]
    config = AdaptSettings(mode=mode, intensity=intensity, diff_target=diff)
    new = vicidial_level(level, history, DropCounts(*minute), DropCounts(*today), config, 4.0)
    assert 1.0 <= new <= 3.0


# --- Forecast pieces -----------------------------------------------------------------------------


def test_talk_weights_follow_the_lognormal_hazard() -> None:
    cdf = lognormal_cdf(120.0, 1.0)
    assert cdf(0.0) == 0.0 and 0.5 < cdf(120.0) < 0.75
    fresh, old = free_within(cdf, 60.0, 30.0), free_within(cdf, 600.0, 30.0)
    assert old < fresh  # lognormal: a long call is less likely to end soon
    assert free_within(cdf, 5.0, 0.0) == 0.0
    fixed_talk = lognormal_cdf(60.0, 0.0)
    assert free_within(fixed_talk, 50.0, 10.0) == 1.0 and free_within(fixed_talk, 40.0, 10.0) == 0.0


def test_expected_free_counts_ready_wrap_up_and_ending_talk() -> None:
    est = Estimates(talk_mean=60.0, talk_cv=0.0, acw_mean=5.0)
    state = PacingState(
        ready=3, waiting=1, wrapping=(2.0, 9.0, 20.0), talking=(57.0, 10.0), estimates=est
    )
    # 3 ready − 1 waiting + 2 wrap-ups ending within 10 s + the call ending at 60 s (+5 s ACW).
    assert expected_free(state, 10.0) == 5.0


def test_soft_power_counts_agents_about_to_be_free() -> None:
    state = team(ready=1, wrapping=(3.0, 4.0, 30.0), pending=1)
    decision = soft_power(state, 2.0, horizon=10.0)
    assert decision.figures["expected_free"] == 3.0 and decision.launch == 5


# --- Predictive ----------------------------------------------------------------------------------

BUSY = tuple(20.0 + 7 * i for i in range(14))  # 14 talking agents, 20–111 s into their calls
ENDING = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)  # 6 agents in wrap-up, free within 6 s
DEFAULTS = PredictiveSettings()
# 8 abandons of slack left at 0.9 × 3 % of 1000 live answers, off the bounds.
MID = AbandonCounts(19, 1000)


def test_predictive_dials_ahead_of_agents_about_to_be_free() -> None:
    state = team(talking=BUSY, wrapping=ENDING)
    decision = predictive(state)
    assert progressive(state).launch == 0
    assert decision.launch > 0 and decision.reason == "forecast"
    assert {"risk", "slack", "answer_delay", "expected_free"} <= decision.figures.keys()
    assert decision.figures["expected_free"] >= len(ENDING)
    lam, slack = allowed_risk(state, DEFAULTS)
    assert decision.figures["risk"] == lam and decision.figures["slack"] == slack


def test_predictive_forecasts_at_the_learnt_answer_delays() -> None:
    # Talking agents a minute from the end: a list whose live answers come late (learnt delays
    # of 40–70 s) finds them free by then, one answered at once does not.
    talking = (60.0,) * 20
    late = replace(LEARNT, answer_delays=(40.0, 55.0, 70.0))
    early = replace(LEARNT, answer_delays=(1.0, 1.5, 2.0))
    assert predictive(team(talking=talking, estimates=late)).launch > 0
    assert predictive(team(talking=talking, estimates=early)).launch == 0
    # before the quantiles are learnt the median answer delay times the spread stands in
    assert forecast_of(team(talking=talking)).expected_free() == pytest.approx(
        forecast_of(
            team(talking=talking, estimates=replace(LEARNT, answer_delays=(7.7, 11.0, 15.4)))
        ).expected_free()
    )


def forecast_of(state: PacingState, settings: PredictiveSettings = DEFAULTS) -> Forecast:
    delay = state.estimates.answer_delay
    horizons = state.estimates.answer_delays or tuple(delay * f for f in settings.spread)
    return Forecast.of(state, sorted(horizons), settings)


def test_predictive_launches_while_the_last_dial_is_within_the_risk() -> None:
    state = team(talking=BUSY, wrapping=ENDING, campaign=MID)
    lam, _ = allowed_risk(state, DEFAULTS)
    forecast = forecast_of(state)
    decision = predictive(state)
    n, here = decision.launch, decision.figures["risk_here"]
    assert here == idle_scaled(lam, state, 11.0, DEFAULTS)
    assert forecast.risk(n - 1) <= here < forecast.risk(n)


def test_the_risk_of_a_dial_with_nobody_ahead_and_an_agent_ready_is_zero() -> None:
    forecast = forecast_of(team(ready=1, talking=BUSY))
    assert forecast.risk(0) == 0.0
    assert 0.0 < forecast.risk(1) < forecast.risk(2) < forecast.risk(10) <= 1.0


def test_the_risk_counts_busy_agents_by_their_chance_to_be_free() -> None:
    """One agent ready, one in wrap-up ending in 1 s (free in time for sure), one dial ahead."""
    state = team(agents=2, ready=1, wrapping=(1.0,))
    forecast = forecast_of(state)
    assert forecast.expected_free() == pytest.approx(2.0)
    assert forecast.risk(1) == 0.0  # two agents free, one live answer ahead at most
    assert forecast.risk(2) == pytest.approx(0.35**2)  # both ahead live


def test_a_dial_answered_early_carries_the_risk_of_the_later_instants() -> None:
    # an agent is free at the early instants, nobody by the last (more answers ahead by then)
    state = team(ready=1, pending=3, estimates=replace(LEARNT, answer_delays=(2.0, 6.0, 12.0)))
    forecast = forecast_of(state)
    risks = [o.risk(0) for o in forecast.outlooks]
    assert forecast.risk(0) >= sum(risks) / 3
    assert forecast.risk(0) == pytest.approx(max(risks))  # the same answers ahead at each


def test_exact_and_normal_forecasts_agree_for_a_large_team() -> None:
    state = team(agents=80, ready=10, talking=BUSY * 5, wrapping=ENDING, pending=30)
    exact = forecast_of(state, PredictiveSettings(exact_up_to=200))
    normal = forecast_of(state, PredictiveSettings(exact_up_to=0))
    assert exact.outlooks[0].free and not normal.outlooks[0].free
    assert normal.expected_free() == pytest.approx(exact.expected_free())
    assert normal.expected_ahead() == pytest.approx(exact.expected_ahead(), rel=0.01)
    for earlier in (0, 10, 30):
        assert normal.risk(earlier) == pytest.approx(exact.risk(earlier), abs=0.03)


# --- Pending dials by their age ------------------------------------------------------------------

# 100 dials: 30 answered live at 5–14 s, 20 machines at 8–17 s, 50 no-answers at 22 s.
PROFILE = RingProfile(
    tuple(
        sorted([5.0 + i % 10 for i in range(30)] + [8.0 + i % 10 for i in range(20)] + [22.0] * 50)
    ),
    tuple(sorted(5.0 + i % 10 for i in range(30))),
)


def test_a_dial_ringing_longer_is_less_likely_to_be_answered_live() -> None:
    assert PROFILE.live_within(0.0, 100.0) == pytest.approx(0.30)  # p̂ over its whole ring
    assert PROFILE.live_within(0.0, 9.0) == pytest.approx(15 / 100)  # live by 9 s
    assert PROFILE.live_within(10.0, 100.0) == pytest.approx(12 / 76)  # 12 live of 76 left
    assert PROFILE.live_within(15.0, 100.0) == 0.0  # only no-answers ring that long
    assert PROFILE.live_within(30.0, 5.0) == 0.0  # longer than any seen
    assert RingProfile().live_within(0.0, 10.0) == 0.0


@given(
    times=st.lists(st.tuples(st.floats(0.5, 60.0), st.booleans()), min_size=1, max_size=60),
    age=st.floats(0.0, 70.0),
    within=st.floats(0.0, 70.0),
)
def test_live_within_is_a_probability_falling_with_age(
    times: list[tuple[float, bool]], age: float, within: float
) -> None:
    profile = RingProfile(
        tuple(sorted(t for t, _ in times)), tuple(sorted(t for t, live in times if live))
    )
    chance = profile.live_within(age, within)
    assert 0.0 <= chance <= 1.0
    assert profile.live_within(age, within + 5.0) >= chance  # a longer wait, more answers


def test_old_pending_dials_leave_room_for_more_new_ones() -> None:
    est = replace(LEARNT, ring=PROFILE, answer_delays=(7.0, 10.0, 13.0))
    settings = PredictiveSettings(min_rings=100)
    young = team(talking=BUSY, wrapping=ENDING, pending=8, ringing=(1.0,) * 8, estimates=est)
    old = replace(young, ringing=(18.0,) * 8)
    unknown = replace(young, ringing=())  # ages unknown: counted as just launched
    assert predictive(old, settings).launch > predictive(young, settings).launch
    launched = replace(young, ringing=(0.0,) * 8)
    assert predictive(unknown, settings).launch == predictive(launched, settings).launch
    assert forecast_of(old, settings).expected_ahead() == pytest.approx(0.0)
    # too few resolutions seen: every pending dial counts at p̂, whatever its age
    assert forecast_of(old, PredictiveSettings(min_rings=101)).expected_ahead() == pytest.approx(
        8 * LEARNT.live_rate, rel=0.01
    )


# --- Distributions -------------------------------------------------------------------------------


@given(
    weights=st.lists(st.floats(0.0, 1.0), max_size=25),
    size=st.integers(1, 30),
)
def test_a_truncated_poisson_binomial_folds_its_tail(weights: list[float], size: int) -> None:
    full = poisson_binomial(weights)
    cut = poisson_binomial(weights, size)
    assert sum(full) == pytest.approx(1.0) and sum(cut) == pytest.approx(1.0)
    assert len(cut) <= size
    for k in range(len(cut) - 1):
        assert cut[k] == pytest.approx(full[k], abs=1e-9)
    assert cut[-1] == pytest.approx(sum(full[len(cut) - 1 :]), abs=1e-9)


def test_poisson_binomial_matches_its_definition() -> None:
    weights = [0.3, 0.5, 0.9, 0.1]
    expected = [0.0] * 5
    for bits in range(16):
        chosen = [(bits >> j) & 1 for j in range(4)]
        expected[sum(chosen)] += math.prod(
            w if c else 1 - w for w, c in zip(weights, chosen, strict=True)
        )
    assert poisson_binomial(weights) == pytest.approx(expected)
    assert poisson_binomial(weights, 3) == pytest.approx([*expected[:2], sum(expected[2:])])


@given(m=st.integers(0, 40), p=st.floats(0.0, 1.0), size=st.integers(1, 20))
def test_binomial_pmf_is_the_tails_difference(m: int, p: float, size: int) -> None:
    pmf = binomial_pmf(m, p, size)
    assert len(pmf) == size and sum(pmf) == pytest.approx(1.0)
    tail = binomial_tail(m, p, size)
    assert pmf[-1] == pytest.approx(tail[size - 1])


def test_convolve_folds_what_goes_beyond_the_top() -> None:
    assert convolve((0.5, 0.3, 0.2), (0.1, 0.9)) == pytest.approx((0.05, 0.48, 0.47))
    assert convolve((1.0,), (0.2, 0.8)) == pytest.approx((1.0,))


def test_binomial_tail_matches_its_definition() -> None:
    for m, p in ((0, 0.3), (1, 0.5), (7, 0.3), (40, 0.05), (5, 1.0)):
        tail = binomial_tail(m, p, 12)
        expected = [
            sum(math.comb(m, k) * p**k * (1 - p) ** (m - k) for k in range(f, m + 1))
            for f in range(13)
        ]
        assert tail == pytest.approx(expected, abs=1e-12)


def test_predictive_never_below_progressive_when_the_risk_is_low() -> None:
    state = team(ready=20, campaign=AbandonCounts(40, 1000))  # 13 abandons over the aim
    _, slack = allowed_risk(state, DEFAULTS)
    assert slack < 0
    decision = predictive(state)
    assert decision.launch >= progressive(state).launch == 20


def test_predictive_counts_pending_dials() -> None:
    idle = predictive(team(ready=10, campaign=MID)).launch
    assert predictive(team(ready=10, campaign=MID, pending=5)).launch <= idle - 5
    assert predictive(team(ready=10, campaign=MID, pending=10)).launch < idle


def test_predictive_holds_back_when_the_window_is_over_the_brake() -> None:
    state = team(talking=BUSY, wrapping=ENDING)
    over = team(talking=BUSY, wrapping=ENDING, window=AbandonCounts(40, 300))
    held, free = predictive(over), predictive(state)
    assert held.figures["risk"] < 0.1 * free.figures["risk"]
    assert held.launch < free.launch


def test_predictive_dials_harder_with_more_slack() -> None:
    lean = team(talking=BUSY, wrapping=ENDING, campaign=AbandonCounts(25, 1000))
    rich = team(talking=BUSY, wrapping=ENDING, campaign=AbandonCounts(0, 1000))
    assert allowed_risk(rich, DEFAULTS)[1] > allowed_risk(lean, DEFAULTS)[1]
    assert allowed_risk(rich, DEFAULTS)[0] > allowed_risk(lean, DEFAULTS)[0]
    assert predictive(rich).launch >= predictive(lean).launch


@pytest.mark.parametrize(
    ("agents", "answers", "why"),
    [(4, 400, "4 agents < 5"), (20, 49, "49 live answers < 50")],
)
def test_predictive_falls_back_to_progressive(agents: int, answers: int, why: str) -> None:
    est = Estimates(live_rate=0.35, live_answers=answers)
    state = team(agents=agents, ready=3, wrapping=ENDING[: agents - 3], estimates=est)
    decision = predictive(state)
    assert decision.launch == progressive(state).launch == 3
    assert decision.reason.startswith("fallback to progressive") and why in decision.reason


def test_predictive_forecasts_from_five_agents_and_fifty_answers() -> None:
    est = Estimates(live_rate=0.35, live_answers=50)
    state = team(agents=5, ready=3, wrapping=ENDING[:2], estimates=est)
    decision = predictive(state)
    assert not decision.reason.startswith("fallback")
    assert decision.launch > progressive(state).launch


def test_predictive_falls_back_without_an_answer_rate() -> None:
    state = team(ready=4, estimates=Estimates(live_rate=0.0, live_answers=100))
    decision = predictive(state)
    assert decision.launch == 4 and "no live-answer rate" in decision.reason


def test_predictive_fallback_thresholds_are_settings() -> None:
    est = Estimates(live_rate=0.35, live_answers=20)
    state = team(agents=4, talking=BUSY[:1], wrapping=ENDING[:3], estimates=est)
    loose = PredictiveSettings(min_agents=2, min_live_answers=10)
    assert predictive(state).launch == 0
    assert predictive(state, loose).launch > 0


# --- Predictive: the allowed risk ----------------------------------------------------------------


def test_risk_is_the_base_at_no_slack_and_a_quiet_window() -> None:
    state = team(campaign=AbandonCounts(27, 1000), window=AbandonCounts(0, 300))
    lam, slack = allowed_risk(state, DEFAULTS)
    assert slack == pytest.approx(0.0, abs=1e-9)
    assert lam == pytest.approx(DEFAULTS.risk)


def test_risk_is_an_integral_of_the_slack_scaled_by_the_window_noise() -> None:
    quiet = team(campaign=MID, window=AbandonCounts(0, 300))
    lam, slack = allowed_risk(quiet, DEFAULTS)
    assert slack == pytest.approx(8.0)
    scale = math.sqrt(0.03 * 300 + 1)
    risk, gain, reach = DEFAULTS.risk, DEFAULTS.gain, DEFAULTS.slack_reach
    assert lam == pytest.approx(risk * math.exp(gain * min(8.0 / scale, reach)))
    # 20 abandons in a window of 300 answers: 6.5 beyond 1.5 × 3 %, a brake on top of the slack.
    braked = team(campaign=MID, window=AbandonCounts(20, 300))
    expected = risk * math.exp(gain * (min(8.0 / scale, reach) - 6.5 / scale))
    assert allowed_risk(braked, DEFAULTS)[0] == pytest.approx(expected)


def test_a_restarted_runner_with_slack_and_an_empty_window_does_not_leap() -> None:
    """The campaign's counts come from the ledger, the rolling hour is empty: the slack counts
    at most slack_reach σ, so the risk stays well under its maximum."""
    restarted = team(campaign=AbandonCounts(0, 5000), window=AbandonCounts(0, 0))
    lam, slack = allowed_risk(restarted, DEFAULTS)
    assert slack > 100
    assert lam == pytest.approx(DEFAULTS.risk * math.exp(DEFAULTS.gain * DEFAULTS.slack_reach))
    assert lam < DEFAULTS.risk_max


def test_risk_is_clamped() -> None:
    broke = team(campaign=AbandonCounts(1000, 1000))
    assert allowed_risk(broke, DEFAULTS)[0] == pytest.approx(DEFAULTS.risk_min)
    narrow = PredictiveSettings(risk_min=0.01, risk_max=0.1)
    flush = team(campaign=AbandonCounts(0, 100_000))
    assert allowed_risk(flush, narrow)[0] == pytest.approx(0.1)
    assert allowed_risk(broke, narrow)[0] == pytest.approx(0.01)


@given(state=states(), extra=st.integers(0, 40), sooner=st.integers(0, 40))
def test_more_slack_never_lowers_the_risk(state: PacingState, extra: int, sooner: int) -> None:
    campaign = state.campaign
    worse = replace(state, campaign=AbandonCounts(campaign.abandons + extra, campaign.live_answers))
    lam, slack = allowed_risk(state, DEFAULTS)
    lam_worse, slack_worse = allowed_risk(worse, DEFAULTS)
    assert slack_worse == pytest.approx(slack - extra)
    assert lam_worse <= lam
    assert DEFAULTS.risk_min - 1e-9 <= lam_worse <= lam <= DEFAULTS.risk_max + 1e-9
    window = AbandonCounts(state.window.abandons + sooner, state.window.live_answers)
    assert allowed_risk(replace(state, window=window), DEFAULTS)[0] <= lam


def test_the_base_risk_follows_the_slack_slowly() -> None:
    rich = team(campaign=AbandonCounts(0, 1000), window=AbandonCounts(0, 300))  # 27 to spend
    broke = team(campaign=AbandonCounts(60, 1000), window=AbandonCounts(10, 300))
    even = team(campaign=AbandonCounts(27, 1000), window=AbandonCounts(8, 300))
    base = DEFAULTS.risk
    # one σ's worth at most, per rebase_seconds: e¹ over a whole period, e^0.1 over a tenth
    assert rebased(DEFAULTS, rich, DEFAULTS.rebase_seconds) == pytest.approx(base * math.e)
    assert rebased(DEFAULTS, rich, 180.0) == pytest.approx(base * math.exp(0.1))
    assert rebased(DEFAULTS, broke, 180.0) == pytest.approx(base * math.exp(-0.1))
    assert rebased(DEFAULTS, even, 180.0) == pytest.approx(base)
    assert rebased(DEFAULTS, rich, 0.0) == base
    assert rebased(PredictiveSettings(rebase_seconds=0), rich, 180.0) == base
    tight = PredictiveSettings(risk=0.5, risk_max=0.6)
    assert rebased(tight, rich, 1e6) == pytest.approx(0.6)  # bounded like the risk


@given(state=states(), seconds=st.floats(0.0, 1e5))
def test_the_base_risk_stays_within_the_bounds(state: PacingState, seconds: float) -> None:
    risk = rebased(DEFAULTS, state, seconds)
    assert DEFAULTS.risk_min - 1e-12 <= risk <= DEFAULTS.risk_max + 1e-12


# --- Predictive: properties ----------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(state=states(), u=st.floats(0, 1, exclude_max=True))
def test_predictive_between_progressive_and_capacity(state: PacingState, u: float) -> None:
    launch = predictive(state).launch
    assert progressive(state).launch <= launch <= state.capacity
    assert launch <= ratio(state, 1e9).launch or state.ready == 0


@settings(max_examples=100, deadline=None)
@given(state=states(), u=st.floats(0, 1, exclude_max=True))
def test_predictive_is_progressive_when_it_falls_back(state: PacingState, u: float) -> None:
    est = state.estimates
    if state.agents < 5 or est.live_answers < 50 or est.live_rate <= 0:
        decision = predictive(state)
        assert decision.launch == progressive(state).launch
        assert decision.reason.startswith("fallback to progressive")


@settings(max_examples=150, deadline=None)
@given(
    state=states(),
    extra=st.integers(0, 40),
    sooner=st.integers(0, 40),
    u=st.floats(0, 1, exclude_max=True),
)
def test_predictive_never_dials_more_with_more_abandons(
    state: PacingState, extra: int, sooner: int, u: float
) -> None:
    campaign = AbandonCounts(state.campaign.abandons + extra, state.campaign.live_answers)
    window = AbandonCounts(state.window.abandons + sooner, state.window.live_answers)
    worse = replace(state, campaign=campaign, window=window)
    assert predictive(worse).launch <= predictive(state).launch


# --- Predictive: the risk per state and the memoryless talk model --------------------------------


def test_surely_free_counts_ready_less_waiting_and_wrap_ups_ending_in_time() -> None:
    state = team(ready=3, waiting=1, wrapping=(2.0, 9.0, 30.0), talking=BUSY)
    assert surely_free(state, 10.0) == 3 - 1 + 2
    assert surely_free(team(ready=0, waiting=4), 10.0) == 0


def test_the_risk_allowed_grows_with_the_agents_surely_free() -> None:
    lam = 0.02
    one = idle_scaled(lam, team(agents=16, ready=1, talking=BUSY[:15]), 11.0, DEFAULTS)
    six = idle_scaled(lam, team(agents=16, ready=6, talking=BUSY[:10]), 11.0, DEFAULTS)
    assert one == pytest.approx(lam * 2 / 5)  # (1 + 1) / (1 + √16)
    assert six == pytest.approx(lam * 7 / 5)
    flat = PredictiveSettings(idle_weight=0.0)
    assert idle_scaled(lam, team(agents=16, ready=6), 11.0, flat) == lam


def test_the_risk_allowed_per_state_never_passes_its_maximum() -> None:
    crowd = team(agents=100, ready=100)
    assert idle_scaled(0.5, crowd, 11.0, DEFAULTS) == DEFAULTS.risk_max


def test_predictive_with_more_agents_free_accepts_more_risk_per_dial() -> None:
    few = predictive(team(ready=1, talking=BUSY + BUSY[:5], campaign=MID))
    many = predictive(team(ready=7, talking=BUSY[:13], campaign=MID))
    assert few.figures["risk"] == many.figures["risk"]  # the same campaign, the same λ
    assert few.figures["risk_here"] < few.figures["risk"] < many.figures["risk_here"]


def test_memoryless_talk_frees_agents_whatever_their_talk_so_far() -> None:
    est = evolve_estimates(talk_mean=130.0, talk_memoryless=True, acw_mean=0.0)
    state = team(agents=3, talking=(1.0, 100.0, 1000.0), estimates=est)
    weights = agent_weights(state, 10.0)
    assert weights == [pytest.approx(1 - math.exp(-10 / 130))] * 3
    assert memoryless_free_within(130.0, 0.0) == 0.0 == memoryless_free_within(130.0, -3.0)
    lognormal = agent_weights(replace(state, estimates=replace(est, talk_memoryless=False)), 10)
    assert lognormal[0] < weights[0]  # a lognormal call just begun hardly ever ends at once


def evolve_estimates(**changes: float | bool) -> Estimates:
    return replace(LEARNT, **changes)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(state=states(), memoryless=st.booleans(), weight=st.floats(0.0, 3.0))
def test_predictive_never_beyond_capacity_nor_below_zero(
    state: PacingState, memoryless: bool, weight: float
) -> None:
    state = replace(state, estimates=replace(state.estimates, talk_memoryless=memoryless))
    decision = predictive(state, PredictiveSettings(idle_weight=weight))
    assert 0 <= decision.launch <= state.capacity


@settings(max_examples=100, deadline=None)
@given(state=states(), memoryless=st.booleans(), weight=st.floats(0.0, 3.0))
def test_predictive_launches_no_dial_beyond_the_risk_it_may_carry(
    state: PacingState, memoryless: bool, weight: float
) -> None:
    """Beyond what progressive launches (which cannot abandon), the last dial launched carries
    a forecast risk within the risk allowed in this state, itself within the maximum: the law
    never launches a call whose expected abandonment exceeds what the target allows."""
    state = replace(state, estimates=replace(state.estimates, talk_memoryless=memoryless))
    settings_ = PredictiveSettings(idle_weight=weight)
    decision = predictive(state, settings_)
    if decision.launch <= max(state.free_now, 0) or decision.reason.startswith("fallback"):
        return
    here = decision.figures["risk_here"]
    assert here <= settings_.risk_max
    assert forecast_of(state, settings_).risk(decision.launch - 1) <= here + 1e-12
