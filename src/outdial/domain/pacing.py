"""Pacing laws: how many new calls to launch now, as pure functions of observed state.

The engine builds a :class:`PacingState` at each decision instant (a snapshot with now-relative
times in seconds, no datetimes) and calls one law. Every law returns a :class:`PacingDecision`:
the launch count, never below 0 nor beyond the capacity left on the line and in the campaign,
with the figures it used and a short reason, so each decision can be logged and inspected.

Notation follows ``shared/reference/dialing.md`` §1: ``N`` agents logged in and not paused, ``I``
of them ready, ``Q`` answered calls waiting for an agent, ``R`` pending dials, talking agents
with elapsed talk ``e_j``, agents in after-call work (ACW) with remaining wrap ``w_j``, and
``p̂`` the live-answer probability per dial. Randomness (the uniform draw of randomised
rounding) is passed in; nothing here reads a clock.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from statistics import NormalDist
from typing import Any, TypeVar

T = TypeVar("T")
EPSILON = 1e-9
TAIL = 1e-12  # a distribution's upper tail below this is folded into its last value
UNIT_NORMAL = NormalDist()
ADAPT_SAMPLES = 15  # VICIdial keeps the last 15 one-second samples ...
ADAPT_PERIOD_SECONDS = 15  # ... and recomputes the dial level every 15 s (§3.6)


@dataclass(frozen=True)
class RingProfile:
    """How the campaign's recent dials resolved: the seconds from launch to resolution of every
    dial (live answer, machine, no answer, busy, failure) and of the live answers among them,
    each sorted. It conditions a pending dial on how long it has rung already."""

    resolved: tuple[float, ...] = ()
    live: tuple[float, ...] = ()

    def live_within(self, age: float, within: float) -> float:
        """P(a dial still pending after ``age`` s is answered live within ``within`` s more):
        the live answers in (age, age + within] over the dials resolved after ``age``. A dial
        that has rung longer than any seen carries no live answer."""
        later = len(self.resolved) - bisect.bisect_right(self.resolved, age)
        if later <= 0:
            return 0.0
        live = self.live
        hits = bisect.bisect_right(live, age + within) - bisect.bisect_right(live, age)
        return min(hits / later, 1.0)

    def live_within_each(self, age: float, withins: Sequence[float]) -> list[float]:
        """:meth:`live_within` at each of ``withins``, the dial's age looked up once."""
        later = len(self.resolved) - bisect.bisect_right(self.resolved, age)
        if later <= 0:
            return [0.0] * len(withins)
        live, right = self.live, bisect.bisect_right
        before = right(live, age)
        return [min((right(live, age + within) - before) / later, 1.0) for within in withins]


@dataclass(frozen=True)
class Estimates:
    """Rates and times learnt online from the campaign's ledger."""

    live_rate: float = 0.0  # p̂: live (human) answers per dial
    live_answers: int = 0  # live answers seen behind p̂
    answer_delay: float = 11.0  # median seconds from launch to a live answer
    answer_delays: tuple[float, ...] = ()  # learnt delays to a live answer, equally likely
    # (quantiles of the delays seen); empty: the median times PredictiveSettings.spread
    talk_mean: float = 120.0
    talk_cv: float = 1.0  # coefficient of variation of talk; lognormal shape (0: fixed)
    talk_memoryless: bool = False  # the recent talks fit an exponential better than the
    # lognormal of this mean and CV: a call ends at the same rate whatever its talk so far
    acw_mean: float = 10.0
    ring: RingProfile = RingProfile()  # recent dials' resolution times


@dataclass(frozen=True)
class AbandonCounts:
    """Abandoned calls and live answers (the FCC denominator) over some period."""

    abandons: int = 0
    live_answers: int = 0

    def ratio(self) -> float:
        return self.abandons / self.live_answers if self.live_answers else 0.0

    def slack(self, rate: float) -> float:
        """Abandons still allowed at ``rate`` (negative: over it). The integral of the error."""
        return rate * self.live_answers - self.abandons


@dataclass(frozen=True)
class PacingState:
    """What the dialer observes at a decision instant. All times are seconds, relative to now."""

    agents: int = 0  # N: logged in and not paused
    ready: int = 0  # I: ready (idle) agents
    waiting: int = 0  # Q: answered calls waiting for an agent
    pending: int = 0  # R: dials launched and not yet answered or failed
    ringing: tuple[float, ...] = ()  # seconds since launch of each pending dial (a_k); dials
    # beyond these (an observer that does not know their ages) count as just launched
    talking: tuple[float, ...] = ()  # elapsed talk seconds of each agent on a call
    wrapping: tuple[float, ...] = ()  # remaining ACW seconds of each agent in wrap-up
    active_calls: int = 0  # the campaign's calls in progress, whatever their stage
    line_free: int = 0  # channels left on the line (line capacity − its active calls)
    campaign_free: int = 0  # campaign max concurrency − the campaign's active calls
    # (immutable defaults shared by every state: the pacing benchmark builds one per decision)
    estimates: Estimates = Estimates()
    campaign: AbandonCounts = AbandonCounts()  # since the campaign began
    window: AbandonCounts = AbandonCounts()  # over the rolling window
    target: float = 0.03  # α, abandoned / live answers, as a fraction

    @property
    def capacity(self) -> int:
        return max(0, min(self.line_free, self.campaign_free))

    @property
    def free_now(self) -> int:
        """Ready agents not yet spoken for by a waiting answer or a pending dial: I − Q − R."""
        return self.ready - self.waiting - self.pending


@dataclass(frozen=True)
class PacingDecision:
    law: str
    launch: int
    reason: str
    figures: dict[str, float] = field(default_factory=dict)


def decide(
    law: str, state: PacingState, wanted: int, reason: str, **figures: float
) -> PacingDecision:
    """Clamp a law's wish to [0, capacity] and record the inputs with the law's own figures."""
    capacity = state.capacity
    launch = min(max(0, wanted), capacity)
    if wanted > capacity:
        reason = f"{reason}; capped at capacity {capacity}"
    base = {
        "agents": float(state.agents),
        "ready": float(state.ready),
        "waiting": float(state.waiting),
        "pending": float(state.pending),
        "capacity": float(capacity),
        "wanted": float(wanted),
    }
    return PacingDecision(law, launch, reason, base | figures)


def randomised_round(x: float, u: float) -> int:
    """⌊x⌋ + 1{u < x − ⌊x⌋} for ``u`` ~ U(0, 1): unbiased rounding (dialing.md §3.7)."""
    whole = math.floor(x + EPSILON)
    return whole + (1 if u < x - whole - EPSILON else 0)


def round_half_up(x: float) -> int:
    return math.floor(x + 0.5 + EPSILON)


def evolve(value: T, **changes: Any) -> T:
    """``dataclasses.replace`` for the value objects rebuilt at every decision (a state with
    its estimates, the settings with the drifted λ₀), without replace's per-field checks: the
    pacing benchmark makes millions of them. Only for dataclasses whose fields are all in
    ``__init__``."""
    return type(value)(**(vars(value) | changes))


# --- Robot modes ------------------------------------------------------------------------------


def agentless(state: PacingState) -> PacingDecision:
    """Robot campaigns have no agent to wait for: fill the line and campaign capacity
    (dialing.md introduction; Alibaba OutboundBot, 云蝠 ``maximumcall``)."""
    return decide("agentless", state, state.capacity, "fill capacity")


def fixed(state: PacingState, concurrency: int) -> PacingDecision:
    """Fixed concurrency (云蝠 ``maximumcall``): top the campaign's active calls up to
    ``concurrency``. The gap between calls (``call_pause_second``) is enforced by the runner."""
    wanted = concurrency - state.active_calls
    return decide("fixed", state, wanted, f"fill to {concurrency} calls", concurrency=concurrency)


# --- Agent modes: progressive and ratio -------------------------------------------------------


def progressive(state: PacingState) -> PacingDecision:
    """Progressive 1:1, ``n = max(0, I − Q − R)`` (dialing.md §3.1): one call per ready agent not
    already spoken for. Abandonment is zero when answers are bridged at once."""
    return decide("progressive", state, state.free_now, "one call per unclaimed ready agent")


def ratio(state: PacingState, k: float, u: float = 0.5) -> PacingDecision:
    """Power, reference form (dialing.md §3.2): target pending dials ``r* = k·I`` and
    ``n = max(0, r* − R)``, randomised-rounded as in §3.7 with the uniform draw ``u`` (the default
    0.5 rounds to nearest). 得助 ``multiplyPower``; ``k`` is tuned offline."""
    x = max(0.0, k * state.ready - state.pending)
    return decide("ratio", state, randomised_round(x, u), f"{k:g} dials per ready agent", k=k)


def lines_per_agent(state: PacingState, k: float) -> PacingDecision:
    """Genesys CX Contact "lines per agent" (dialing.md §3.2): ``n = ⌊k·(I − Q) − R⌋``.
    The docs' example: k = 0.7, 4 ready, 1 dialing → 1."""
    wanted = math.floor(k * (state.ready - state.waiting) - state.pending + EPSILON)
    return decide("lines_per_agent", state, wanted, f"{k:g} lines per ready agent", k=k)


def vicidial_ratio(state: PacingState, level: float) -> PacingDecision:
    """VICIdial RATIO at dial level ``L`` (dialing.md §3.2, ported from the description):
    ``goal = round(L·(READY + INCALL agents))`` and ``n = goal − (pending + waiting + in-call
    lines)``. Lines talking to agents count on both sides, so L = 1.0 is progressive. Agents in
    wrap-up are not counted."""
    in_call = len(state.talking)
    goal = vicidial_goal(level, state.ready + in_call)
    wanted = goal - (state.pending + state.waiting + in_call)
    return decide(
        "vicidial_ratio", state, wanted, f"dial level {level:.3f}", level=level, goal=goal
    )


def vicidial_goal(level: float, agents: int) -> int:
    """VICIdial RATIO's lines for ``agents`` ready or on a call at dial level ``level``: the law
    depends on its level through these roundings only, so two levels with the same goals for
    every count up to the team's size dial alike."""
    return round_half_up(level * agents)


# --- VICIdial adaptive dial level (a port of the description in dialing.md §3.6) ---------------


class AdaptMode(StrEnum):
    HARD_LIMIT = "ADAPT_HARD_LIMIT"
    AVERAGE = "ADAPT_AVERAGE"
    TAPERED = "ADAPT_TAPERED"


@dataclass(frozen=True)
class AdaptSample:
    """One one-second sample of the campaign."""

    ready: int  # READY (+DONE) agents
    waiting: int  # LIVE calls waiting for an agent
    logged_in: int  # total logged-in agents


@dataclass(frozen=True)
class DropCounts:
    """Calls, human answers and drops over a period (the last minute, or today)."""

    calls: int = 0
    answers: int = 0
    drops: int = 0

    def percent(self) -> float:
        """Drop % on the human-answered denominator (VICIdial since build 61215)."""
        return 100.0 * self.drops / self.answers if self.answers else 0.0


@dataclass(frozen=True)
class AdaptSettings:
    """The campaign settings of the adaptive modes, with VICIdial's defaults."""

    mode: AdaptMode = AdaptMode.HARD_LIMIT
    diff_target: float = 0.0  # adaptive_dl_diff_target
    intensity: float = 0.0  # adaptive_intensity, i
    max_level: float = 3.0  # adaptive_maximum_level
    dropped_percentage: float = 3.0  # adaptive_dropped_percentage
    threshold_agents: int = 0  # dial-level threshold: fewer logged-in agents → level 1.0


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def adapt_step(level: float, samples: Sequence[AdaptSample], settings: AdaptSettings) -> float:
    """The proportional update: ``D = mean(ready) − mean(waiting) + diff_target``,
    ``m = D / mean(logged_in)``, scaled by the intensity, ``L ← L·(1 + m')`` within [1, max]."""
    recent = samples[-ADAPT_SAMPLES:]
    agents = _mean([s.logged_in for s in recent])
    if agents <= 0:
        return min(max(level, 1.0), settings.max_level)
    diff = _mean([s.ready for s in recent]) - _mean([s.waiting for s in recent])
    m = (diff + settings.diff_target) / agents
    i = settings.intensity / 100.0
    m = m * (1.0 + i) if m >= 0 else m * abs(i - 1.0)
    return max(min(level * (1.0 + m), settings.max_level), 1.0)


def _over_drop_limit(level: float, settings: AdaptSettings, hours_left: float) -> float:
    if settings.mode is AdaptMode.HARD_LIMIT:
        return 1.0
    if settings.mode is AdaptMode.AVERAGE:
        return level / 2.0
    return level * min(1.0, hours_left / 10.0) if hours_left > 0 else 1.0


def vicidial_level(
    level: float,
    samples: Sequence[AdaptSample],
    last_minute: DropCounts,
    today: DropCounts,
    settings: AdaptSettings | None = None,
    hours_left: float = 0.0,
) -> float:
    """The next dial level, computed every 15 s from the last 15 one-second ``samples``
    (VICIdial ``AST_VDadapt.pl`` ``calculate_dial_level``, ported from dialing.md §3.6, never from
    its code). After the proportional step: halve when the last minute had > 20 calls and > 50 %
    drops; when today has > 50 calls and drops above ``dropped_percentage`` % of answers,
    HARD_LIMIT sets 1.0, AVERAGE halves, TAPERED scales by ``min(1, hours_left / 10)`` (1.0 once
    ``hours_left`` to the latest server time is spent); the agent threshold forces 1.0. The level
    stays in [1.0, max_level]."""
    settings = settings or AdaptSettings()
    level = adapt_step(level, samples, settings)
    if last_minute.calls > 20 and last_minute.percent() > 50.0:
        level /= 2.0
    if today.calls > 50 and today.percent() > settings.dropped_percentage:
        level = _over_drop_limit(level, settings, hours_left)
    if samples and samples[-1].logged_in < settings.threshold_agents:
        level = 1.0
    return max(level, 1.0)


# --- Forecast of agents free and of live answers -----------------------------------------------


def lognormal_cdf(mean: float, cv: float) -> Callable[[float], float]:
    """P(S ≤ x) for a lognormal S with this mean and coefficient of variation (fixed if cv ≤ 0)."""
    if cv < 1e-6 or mean <= 0:
        return lambda x: 1.0 if x >= mean else 0.0
    s2 = math.log1p(cv * cv)
    mu = math.log(mean) - s2 / 2.0
    scale = math.sqrt(2.0 * s2)
    return lambda x: 0.5 * math.erfc((mu - math.log(x)) / scale) if x > 0 else 0.0


def free_within(cdf: Callable[[float], float], elapsed: float, within: float) -> float:
    """P(S ≤ elapsed + within | S > elapsed): the EIS weight of an agent ``elapsed`` into talk."""
    if within <= 0:
        return 0.0
    start = cdf(elapsed)
    if start >= 1.0 - EPSILON:
        return 0.0  # beyond the learnt distribution: no evidence the call is about to end
    return (cdf(elapsed + within) - start) / (1.0 - start)


def agent_weights(state: PacingState, horizon: float) -> list[float]:
    """For each busy agent, the probability of being free within ``horizon`` seconds: 1 for ACW
    remaining ≤ horizon, else 0; for talking agents, talk ending within horizon − mean ACW."""
    return agent_weight_sets(state, [horizon])[0]


def agent_weight_sets(state: PacingState, horizons: Sequence[float]) -> list[list[float]]:
    """:func:`agent_weights` at each of ``horizons``."""
    est = state.estimates
    sets = [[1.0 if w <= h else 0.0 for w in state.wrapping] for h in horizons]
    withins = [h - est.acw_mean for h in horizons]
    if est.talk_memoryless and est.talk_mean > 0:
        talks = [[memoryless_free_within(est.talk_mean, w)] * len(state.talking) for w in withins]
    elif est.talk_cv < 1e-6 or est.talk_mean <= 0:
        cdf = lognormal_cdf(est.talk_mean, est.talk_cv)
        talks = [[free_within(cdf, e, w) for e in state.talking] for w in withins]
    else:
        talks = _lognormal_free_within(est.talk_mean, est.talk_cv, state.talking, withins)
    return [wrap + talk for wrap, talk in zip(sets, talks, strict=True)]


def memoryless_free_within(mean: float, within: float) -> float:
    """P(S ≤ e + within | S > e) for an exponential talk time of this mean, whatever e."""
    return -math.expm1(-within / mean) if within > 0 else 0.0


def _lognormal_free_within(
    mean: float, cv: float, elapsed: Sequence[float], withins: Sequence[float]
) -> list[list[float]]:
    """:func:`free_within` for a lognormal talk time at each of ``withins``, inlined: the
    pacing benchmark calls it for every talking agent at every decision."""
    s2 = math.log1p(cv * cv)
    mu = math.log(mean) - s2 / 2.0
    scale = math.sqrt(2.0 * s2)
    log, erfc = math.log, math.erfc
    survives = [0.5 * erfc((log(e) - mu) / scale) if e > 0 else 1.0 for e in elapsed]  # P(S > e)
    return [
        [
            (sv - 0.5 * erfc((log(e + within) - mu) / scale)) / sv if sv > EPSILON else 0.0
            for e, sv in zip(elapsed, survives, strict=True)
        ]
        if within > 0
        else [0.0] * len(elapsed)
        for within in withins
    ]


def expected_free(state: PacingState, horizon: float) -> float:
    """``E(h) = I − Q + Σ_j w_j(h)`` (dialing.md §3.3 EIS, §3.7): agents free within ``h``."""
    return float(state.ready - state.waiting + sum(agent_weights(state, horizon)))


def soft_power(
    state: PacingState, k: float, horizon: float = 10.0, u: float = 0.5
) -> PacingDecision:
    """Soft-power (dialing.md §3.7, the best-known causal policy in the reference simulations):
    ``r* = k·E(h)`` with agents in wrap-up counted as about to be free, ``n = r* − R``,
    randomised-rounded with ``u``; h = 10 s and ``k`` tuned offline per cell."""
    free = expected_free(state, horizon)
    x = max(0.0, k * free - state.pending)
    reason = f"{k:g} dials per agent free within {horizon:g} s"
    return decide("soft_power", state, randomised_round(x, u), reason, k=k, expected_free=free)


# --- Predictive with an abandonment target -----------------------------------------------------


@dataclass(frozen=True)
class PredictiveSettings:
    aim: float = 0.9  # steer abandonment to aim × target, leaving room for noise
    risk: float = 0.02  # λ₀: the abandonment risk a new dial may carry, at no slack
    gain: float = 1.0  # feedback: log-change of the risk per unit of scaled slack
    risk_min: float = 0.001
    risk_max: float = 0.9
    slack_reach: float = 1.7  # at most this many σ of slack count (a runner that restarted
    # with a campaign's slack and an empty rolling window must not leap to the maximum)
    brake: float = 1.5  # the rolling window over brake × target: back off per abandon beyond
    spread: tuple[float, ...] = (0.7, 1.0, 1.4)  # until the answer delays' quantiles are learnt:
    # a new dial is answered at these multiples of the median delay, equally likely (±0.84 σ)
    exact_up_to: int = 30  # agents counted exactly (Poisson-binomial); more: normal approximation
    min_rings: int = 400  # resolved dials seen before pending dials are conditioned on their age
    rebase_seconds: float = 1800.0  # λ₀ drifts by one unit of scaled slack per this (0: fixed)
    min_agents: int = 5  # fewer agents: progressive (dialing.md §6.3 item 5)
    min_live_answers: int = 50  # fewer live answers seen: progressive (ibid.)
    idle_weight: float = 1.0  # the risk allowed grows with the agents surely free when a new
    # dial answers: λ·((1 + F)/(1 + √N))^idle_weight (0: the same risk in every state)


def _fallback(state: PacingState, settings: PredictiveSettings) -> str | None:
    if state.agents < settings.min_agents:
        return f"fallback to progressive: {state.agents} agents < {settings.min_agents}"
    if state.estimates.live_answers < settings.min_live_answers:
        seen = state.estimates.live_answers
        return f"fallback to progressive: {seen} live answers < {settings.min_live_answers}"
    if state.estimates.live_rate < EPSILON:
        return "fallback to progressive: no live-answer rate yet"
    return None


def allowed_risk(state: PacingState, settings: PredictiveSettings) -> tuple[float, float]:
    """(the abandonment risk a new dial may carry, the campaign's slack).

    An integral controller on abandonment: the slack is the abandons the campaign may still
    spend at ``aim·α`` (``aim·α·A − X``, the integral of the error); the allowed risk is
    ``λ₀·exp(gain·slack/σ)``, ``σ = √(α·A_w + 1)`` the noise of an hour's abandons (A_w the live
    answers in the rolling window), so every live answer connected lets the dialer lean forward a
    little and every abandon pulls it back, and the campaign settles where the realised rate is
    the aim whatever the team, list or talk times. slack/σ counts at most ``slack_reach``. When
    the rolling window runs above ``brake·α`` the risk drops further per abandon beyond it, so an
    hour's burst cannot hide behind a good campaign average. Bounded by ``risk_min`` and
    ``risk_max``."""
    push, slack = scaled_slack(state, settings)
    log_r = math.log(settings.risk) + settings.gain * push
    low, high = math.log(settings.risk_min), math.log(settings.risk_max)
    return math.exp(min(max(log_r, low), high)), slack


def scaled_slack(state: PacingState, settings: PredictiveSettings) -> tuple[float, float]:
    """(the slack in units of σ, at most ``slack_reach``, less the brake; the slack)."""
    slack = state.campaign.slack(settings.aim * state.target)
    window = state.window
    beyond = max(0.0, window.abandons - settings.brake * state.target * window.live_answers)
    scale = math.sqrt(state.target * window.live_answers + 1.0)
    return min(slack / scale, settings.slack_reach) - beyond / scale, slack


def rebased(settings: PredictiveSettings, state: PacingState, seconds: float) -> float:
    """λ₀ after ``seconds`` more of the campaign: the slow second integrator of the feedback.

    With λ₀ fixed, the campaign settles where λ₀·exp(gain·slack/σ) is the risk its team and
    list need — a few σ of abandons short of the aim (or past it) for good, which a short run
    or a small team feels. λ₀ therefore drifts by the scaled slack (at most one σ's worth)
    per ``rebase_seconds``: slack left over raises it, an overspend lowers it, so the slack
    itself returns to zero. Bounded like the risk."""
    if settings.rebase_seconds <= 0 or seconds <= 0:
        return settings.risk
    push, _ = scaled_slack(state, settings)
    step = max(-1.0, min(1.0, push)) * seconds / settings.rebase_seconds
    low, high = math.log(settings.risk_min), math.log(settings.risk_max)
    return math.exp(min(max(math.log(settings.risk) + step, low), high))


def predictive(state: PacingState, settings: PredictiveSettings | None = None) -> PacingDecision:
    """Predictive pacing with an abandonment target (dialing.md §3.3, §3.4; issue 5).

    Launch the most new dials each of which, if answered live, finds an agent free with
    probability at least ``1 − λ`` (``λ`` from :func:`allowed_risk`). A new dial is answered
    after a delay ``D`` drawn from the learnt answer delays (three quantiles, equally likely;
    before enough are seen, the median times ``spread``). By then the agents free are the ready
    ones less the answered calls waiting, plus each agent in wrap-up whose ACW ends within
    ``D`` and each talking agent with the probability, under the learnt talk distribution and
    given the talk elapsed, that the call and the mean ACW end by then (EIS, §3.3). The live
    answers ahead of it are those of the dials already pending that come before ``D`` — each
    dial by its age, from the learnt resolution times (:class:`RingProfile`: a dial that has
    rung 18 s is almost surely a no-answer) — and of the new dials launched with it. The risk
    of the k-th new dial at ``D`` is P(live answers ahead ≥ agents free), or more if it is
    higher at a later quantile (answered at ``D``, the dial takes an agent a later answer would
    have had), averaged over ``D``. Never fewer calls than progressive (which cannot abandon),
    never beyond capacity; progressive below ``min_agents`` agents or before
    ``min_live_answers`` live answers (§6.3 item 5)."""
    settings = settings or PredictiveSettings()
    floor = state.free_now
    why_not = _fallback(state, settings)
    if why_not is not None:
        return decide("predictive", state, floor, why_not)
    lam, slack = allowed_risk(state, settings)
    est = state.estimates
    delay = max(est.answer_delay, 1.0)
    horizons = sorted(
        max(h, 1.0) for h in est.answer_delays or [delay * f for f in settings.spread]
    )
    forecast = Forecast.of(state, horizons, settings)
    allowed = idle_scaled(lam, state, horizons[len(horizons) // 2], settings)
    n = forecast.launches(allowed, state.capacity)
    reason = "forecast" if n > floor else "progressive floor"
    return decide(
        "predictive",
        state,
        max(n, floor),
        reason,
        risk=lam,
        risk_here=allowed,
        slack=slack,
        answer_delay=delay,
        expected_free=forecast.expected_free(),
        expected_ahead=forecast.expected_ahead(),
        live_rate=est.live_rate,
        live_answers_seen=float(est.live_answers),
        talk_mean=est.talk_mean,
        target=state.target,
        campaign_abandonment=state.campaign.ratio(),
        window_abandonment=state.window.ratio(),
    )


def surely_free(state: PacingState, horizon: float) -> int:
    """F: the agents free for sure ``horizon`` s from now — ready, less the answered calls
    waiting for them, plus those whose wrap-up ends by then (at least 0)."""
    wraps = sum([1 for w in state.wrapping if w <= horizon])
    return max(0, state.ready - state.waiting + wraps)


def idle_scaled(
    lam: float, state: PacingState, horizon: float, settings: PredictiveSettings
) -> float:
    """The risk a new dial may carry in this state: ``λ·((1 + F)/(1 + √N))^idle_weight``,
    F from :func:`surely_free` at the median answer delay, at most ``risk_max``.

    A live answer is worth most when it takes an agent who would otherwise sit idle: with many
    agents free the dialer should accept more risk per dial, with one agent free less (a
    connect then mostly takes the agent a dial already pending would have had). The exact
    optimum of the Markov cell (dialing.md §4.2) has this shape: the per-dial risk its
    policy accepts grows about linearly with the idle agents. The feedback sets the level
    (λ₀ is learnt), so √N only centres the scale on a team's usual idle count."""
    if settings.idle_weight <= 0 or state.agents <= 0:
        return lam
    free = surely_free(state, horizon)
    scale = (1.0 + free) / (1.0 + math.sqrt(state.agents))
    return min(lam * math.pow(scale, settings.idle_weight), settings.risk_max)


def pending_live_sets(
    state: PacingState, horizons: Sequence[float], min_rings: int
) -> tuple[list[list[float]], list[float]]:
    """(for each horizon, each pending dial's chance to be answered live within it; a new
    dial's chance). From the learnt resolution times once ``min_rings`` are seen, each pending
    dial conditioned on how long it has rung; before that every dial, old or new, counts as a
    live answer ahead with probability p̂."""
    est = state.estimates
    ring = est.ring
    if len(ring.resolved) < min_rings:
        return [[est.live_rate] * state.pending for _ in horizons], [est.live_rate] * len(horizons)
    ages = list(state.ringing[: state.pending])
    ages += [0.0] * (state.pending - len(ages))
    by_age = {age: ring.live_within_each(age, horizons) for age in set(ages)}
    rows = [by_age[age] for age in ages]  # dials launched together share their age
    sets = [[row[i] for row in rows] for i in range(len(horizons))]
    return sets, ring.live_within_each(0.0, horizons)


@dataclass(frozen=True)
class Outlook:
    """The instant a new dial may be answered: the agents free by then (``base`` plus a
    Poisson-binomial count of the busy agents) against the live answers ahead of it (a
    Poisson-binomial count of the pending dials, plus each earlier new dial with probability
    ``new``) — their distributions for a small team, their means and variances for a large one
    (normal approximation)."""

    base: int
    new: float
    free: tuple[float, ...] = ()  # exact: P(busy agents free = s)
    ahead: tuple[float, ...] = ()  # exact: P(pending live answers ahead = a), a ≤ len − 1
    free_moments: tuple[float, float] = (0.0, 0.0)  # normal: (mean, variance)
    ahead_moments: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def exact(
        cls, base: int, weights: Sequence[float], chances: Sequence[float], new: float
    ) -> Outlook:
        free = poisson_binomial(weights)
        most = max(base + len(free), 1)  # this many live answers ahead take every agent free
        ahead = poisson_binomial(chances, most)
        return cls(base, new, free=free, ahead=ahead + (0.0,) * (most - len(ahead)))

    @classmethod
    def normal(
        cls, base: int, weights: Sequence[float], chances: Sequence[float], new: float
    ) -> Outlook:
        return cls(base, new, free_moments=moments(weights), ahead_moments=moments(chances))

    def expected_free(self) -> float:
        if self.free:
            return self.base + sum([s * q for s, q in enumerate(self.free)])
        return self.base + self.free_moments[0]

    def expected_ahead(self) -> float:
        if self.ahead:
            return sum([a * q for a, q in enumerate(self.ahead)])
        return self.ahead_moments[0]

    def risk(self, earlier: int) -> float:
        """P(the live answers ahead, with ``earlier`` new dials, take every agent free): the
        chance a new dial, answered live then, finds nobody."""
        if self.free:
            ahead = convolve(self.ahead, binomial_pmf(earlier, self.new, len(self.ahead)))
            tail = tails(ahead)
            base = self.base
            return sum(
                [q * (1.0 if base + s <= 0 else tail[base + s]) for s, q in enumerate(self.free)]
            )
        mean_a = self.ahead_moments[0] + earlier * self.new
        var_a = self.ahead_moments[1] + earlier * self.new * (1.0 - self.new)
        mean_f, var_f = self.free_moments
        z = (mean_a - self.base - mean_f + 0.5) / math.sqrt(var_a + var_f + EPSILON)
        return UNIT_NORMAL.cdf(z)


@dataclass(frozen=True)
class Forecast:
    """The outlooks at each answer-delay quantile (equally likely), in order of time."""

    outlooks: tuple[Outlook, ...]

    @classmethod
    def of(
        cls, state: PacingState, horizons: Sequence[float], settings: PredictiveSettings
    ) -> Forecast:
        base = state.ready - state.waiting
        weights = agent_weight_sets(state, horizons)
        chances, new = pending_live_sets(state, horizons, settings.min_rings)
        busy = max((len([w for w in ws if w > EPSILON]) for ws in weights), default=0)
        make = Outlook.exact if busy + max(base, 0) <= settings.exact_up_to else Outlook.normal
        return cls(
            tuple(make(base, ws, cs, q) for ws, cs, q in zip(weights, chances, new, strict=True))
        )

    def expected_free(self) -> float:
        return sum(o.expected_free() for o in self.outlooks) / len(self.outlooks)

    def expected_ahead(self) -> float:
        return sum(o.expected_ahead() for o in self.outlooks) / len(self.outlooks)

    def risk(self, earlier: int) -> float:
        """The risk of a new dial launched after ``earlier`` others, averaged over the
        instants it may be answered. Answered at one, it takes an agent that a dial answering
        later would have had: its risk there is the highest at that instant or any later one."""
        risks = [o.risk(earlier) for o in self.outlooks]
        total = worst = 0.0
        for risk in reversed(risks):
            worst = max(worst, risk)
            total += worst
        return total / len(risks)

    def launches(self, lam: float, capacity: int) -> int:
        """The most new dials (≤ capacity) whose last one carries a risk within ``lam``: the
        k-th new dial has k − 1 new dials ahead of it besides the pending ones (the risk grows
        with k). A galloping search, since the answer is usually a handful."""

        def fits(k: int) -> bool:
            return self.risk(k - 1) <= lam

        if capacity <= 0 or not fits(1):
            return 0
        low, step = 1, 1  # fits(low) holds
        while low + step <= capacity and fits(low + step):
            low, step = low + step, step * 2
        high = min(low + step, capacity + 1)  # fits(high) fails or high is beyond capacity
        while high - low > 1:
            mid = (low + high) // 2
            if fits(mid):
                low = mid
            else:
                high = mid
        return low


def moments(weights: Sequence[float]) -> tuple[float, float]:
    """(mean, variance) of a sum of independent Bernoulli(w_j)."""
    return sum(weights), sum([w * (1.0 - w) for w in weights])


def convolve(pmf: Sequence[float], other: Sequence[float]) -> tuple[float, ...]:
    """The distribution of the sum, its last value the mass at or beyond it, as in ``pmf``."""
    top = len(pmf) - 1
    used = len(other)  # trailing zeros add nothing (a binomial's mass ends at its m)
    while used and not other[used - 1]:
        used -= 1
    if used == 1 and other[0] == 1.0:
        return tuple(q if q > TAIL else 0.0 for q in pmf)  # plus nothing: the same, less dust
    total = [0.0] * len(pmf)
    for a, q in enumerate(pmf):
        if q <= TAIL:
            continue
        room = top - a  # sums beyond the top are folded into it
        for b, r in enumerate(other[: min(room, used)]):
            total[a + b] += q * r
        total[top] += q * sum(other[room:used])
    return tuple(total)


def tails(pmf: Sequence[float]) -> list[float]:
    """[P(X ≥ f) for f in 0..len − 1]."""
    out = [0.0] * len(pmf)
    acc = 0.0
    for f in range(len(pmf) - 1, -1, -1):
        acc += pmf[f]
        out[f] = min(acc, 1.0)
    return out


def binomial_pmf(m: int, p: float, size: int) -> tuple[float, ...]:
    """P(Binomial(m, p) = k) for k < size − 1, the last value P(Binomial ≥ size − 1)."""
    tail = binomial_tail(m, p, size)
    return (*[tail[k] - tail[k + 1] for k in range(size - 1)], tail[size - 1])


def poisson_binomial(weights: Sequence[float], size: int | None = None) -> tuple[float, ...]:
    """P(S = s) for S a sum of independent Bernoulli(w_j), without its negligible upper tail
    (below ``TAIL`` it is folded into the last value kept); with ``size``, only s < size − 1,
    the last value P(S ≥ size − 1)."""
    pmf = [1.0]
    for w in weights:
        if w <= EPSILON:
            continue
        stay = 1.0 - w
        nxt = [q * stay for q in pmf]
        nxt.append(0.0)
        for k, q in enumerate(pmf, 1):
            nxt[k] += q * w
        if (size is not None and len(nxt) > size) or nxt[-1] < TAIL:
            beyond = nxt.pop()
            nxt[-1] += beyond  # at or beyond the top stays there
        pmf = nxt
    return tuple(pmf)


def binomial_tail(m: int, p: float, upto: int) -> list[float]:
    """[P(Binomial(m, p) ≥ f) for f in 0..upto]."""
    tail = [1.0] + [0.0] * max(upto, 0)
    if m <= 0:
        return tail
    if p >= 1.0 - EPSILON:
        return [1.0 if f <= m else 0.0 for f in range(upto + 1)]
    q, odds, acc = (1.0 - p) ** m, p / (1.0 - p), 1.0
    for f in range(1, upto + 1):
        acc -= q  # drop P(Binomial = f − 1)
        tail[f] = max(acc, 0.0)
        q = q * (m - f + 1) / f * odds if f <= m else 0.0
    return tail
