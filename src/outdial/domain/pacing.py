"""Pacing laws: how many new calls to launch now, as pure functions of observed state.

The engine builds a :class:`PacingState` at each decision instant (a snapshot with now-relative
times in seconds, no datetimes) and calls one law. Every law returns a :class:`PacingDecision`:
the launch count, never below 0 nor beyond the capacity left on the line and in the campaign,
with the figures it used and a short reason, so each decision can be logged and inspected.

Notation follows ``shared/reference/dialing.md`` §1: ``N`` agents logged in and not paused, ``I``
of them ready, ``Q`` answered calls waiting for an agent, ``R`` pending dials with elapsed times
``a_k``, talking agents with elapsed talk ``e_j``, agents in after-call work (ACW) with remaining
wrap ``w_j``, and ``p̂`` the live-answer probability per dial. Randomness (the uniform draw of
randomised rounding) is passed in; nothing here reads a clock.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

EPSILON = 1e-9
NEGLIGIBLE = 1e-6  # expected abandons treated as none
ADAPT_SAMPLES = 15  # VICIdial keeps the last 15 one-second samples ...
ADAPT_PERIOD_SECONDS = 15  # ... and recomputes the dial level every 15 s (§3.6)


@dataclass(frozen=True)
class Estimates:
    """Rates and times learnt online from the campaign's ledger."""

    live_rate: float = 0.0  # p̂: live (human) answers per dial
    live_answers: int = 0  # live answers seen behind p̂
    answer_delays: tuple[float, ...] = ()  # sample: seconds from launch to a live answer
    answer_delay_mean: float = 12.0  # used, with an exponential shape, when the sample is empty
    talk_mean: float = 120.0
    talk_cv: float = 1.0  # coefficient of variation of talk; lognormal shape (0: fixed)
    acw_mean: float = 10.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "answer_delays", tuple(sorted(self.answer_delays)))


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
    ringing: tuple[float, ...] = ()  # elapsed seconds of each pending dial; R = len
    talking: tuple[float, ...] = ()  # elapsed talk seconds of each agent on a call
    wrapping: tuple[float, ...] = ()  # remaining ACW seconds of each agent in wrap-up
    active_calls: int = 0  # the campaign's calls in progress, whatever their stage
    line_free: int = 0  # channels left on the line (line capacity − its active calls)
    campaign_free: int = 0  # campaign max concurrency − the campaign's active calls
    estimates: Estimates = field(default_factory=Estimates)
    campaign: AbandonCounts = field(default_factory=AbandonCounts)  # since the campaign began
    window: AbandonCounts = field(default_factory=AbandonCounts)  # over the rolling window
    target: float = 0.03  # α, abandoned / live answers, as a fraction

    @property
    def pending(self) -> int:
        return len(self.ringing)

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
    goal = round_half_up(level * (state.ready + in_call))
    wanted = goal - (state.pending + state.waiting + in_call)
    return decide(
        "vicidial_ratio", state, wanted, f"dial level {level:.3f}", level=level, goal=goal
    )


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
    est = state.estimates
    cdf = lognormal_cdf(est.talk_mean, est.talk_cv)
    wrap = [1.0 if w <= horizon else 0.0 for w in state.wrapping]
    talk = [free_within(cdf, e, horizon - est.acw_mean) for e in state.talking]
    return wrap + talk


def expected_free(state: PacingState, horizon: float) -> float:
    """``E(h) = I − Q + Σ_j w_j(h)`` (dialing.md §3.3 EIS, §3.7): agents free within ``h``."""
    return float(state.ready - state.waiting + sum(agent_weights(state, horizon)))


def answer_delay_cdf(est: Estimates) -> Callable[[float], float]:
    """P(live answer within x s of launch | live): empirical, else exponential on the mean."""
    sample = est.answer_delays
    if sample:
        return lambda x: bisect_right(sample, x) / len(sample)
    mean = max(est.answer_delay_mean, EPSILON)
    return lambda x: 1.0 - math.exp(-max(x, 0.0) / mean)


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
    aim: float = 0.85  # steer abandonment to aim × target, leaving room for noise
    calibration: float = 0.1  # model abandons allowed per real one (the forecast is optimistic)
    gain: float = 1.5  # feedback: log-change of the allowance per unit of surplus z-score
    grace: float = 2.0  # seconds an answered call may wait for an agent
    horizon: float = 60.0  # longest look-ahead, seconds
    steps: int = 12  # points of the look-ahead grid
    min_agents: int = 6  # fewer agents: progressive (dialing.md §6.3 item 5)
    min_live_answers: int = 50  # fewer live answers seen: progressive (ibid.)


@dataclass(frozen=True)
class Outlook:
    """The pipeline over a grid of future instants t, before any new dial. At each t: the mean
    and variance of (live answers by t − agents free by t + grace), and the probability that a
    dial launched now is answered live by t. ``answers`` is the expected live answers by the end."""

    times: tuple[float, ...]
    mean: tuple[float, ...]
    var: tuple[float, ...]
    new: tuple[float, ...]
    answers: float

    def expected_answers(self, n: int) -> float:
        return self.answers + n * self.new[-1]

    def expected_abandons(self, n: int) -> float:
        """max_t E[(answers − agents)⁺] with n new dials (normal approximation): a lower bound
        of the expected overflow sup_t (answers − agents)⁺ of zero-patience matching."""
        return max(
            _normal_excess(m + n * q, v + n * q * (1.0 - q))
            for m, v, q in zip(self.mean, self.var, self.new, strict=True)
        )


def _normal_excess(mean: float, var: float) -> float:
    """E[X⁺] for X ~ Normal(mean, var)."""
    if var <= EPSILON:
        return max(mean, 0.0)
    sd = math.sqrt(var)
    z = mean / sd
    density = math.exp(-z * z / 2.0) / math.sqrt(2.0 * math.pi)
    return sd * density + mean * 0.5 * math.erfc(-z / math.sqrt(2.0))


def look_ahead(state: PacingState, settings: PredictiveSettings) -> float:
    """How far answers to dials launched now reach: the longest answer delay seen (3 means
    when only a mean is known), at most ``settings.horizon``."""
    est = state.estimates
    reach = est.answer_delays[-1] if est.answer_delays else 3.0 * est.answer_delay_mean
    return max(min(reach, settings.horizon), settings.grace)


def outlook(state: PacingState, settings: PredictiveSettings) -> Outlook:
    """Forecast the pipeline: live answers from ``Q`` and the pending dials against agents ready
    and freeing (EIS weights from the learnt talk distribution, ACW remaining)."""
    p = state.estimates.live_rate
    cdf = answer_delay_cdf(state.estimates)
    end = look_ahead(state, settings)
    times = tuple(end * i / settings.steps for i in range(settings.steps + 1))
    calls = _answer_curves(state, times)
    agents = _agent_curves(state, [t + settings.grace for t in times])
    mean = tuple(
        state.waiting + c - state.ready - a for c, a in zip(calls[0], agents[0], strict=True)
    )
    var = tuple(c + a for c, a in zip(calls[1], agents[1], strict=True))
    new = tuple(p * cdf(t) for t in times)
    return Outlook(times, mean, var, new, state.waiting + calls[0][-1])


Curves = tuple[list[float], list[float]]


def _sum_curves(weights_at: Callable[[float], list[float]], times: Sequence[float]) -> Curves:
    """Mean and variance of a sum of independent Bernoulli trials at each instant."""
    means, variances = [], []
    for t in times:
        weights = weights_at(t)
        means.append(sum(weights))
        variances.append(sum(w * (1.0 - w) for w in weights))
    return means, variances


def _answer_curves(state: PacingState, times: Sequence[float]) -> Curves:
    """Live answers expected by each instant from the pending dials: a dial ``a`` s old and not
    yet answered live is answered live within t s with p̂·(F(a + t) − F(a)) / (1 − p̂·F(a))."""
    p = state.estimates.live_rate
    cdf = answer_delay_cdf(state.estimates)
    started = [(a, cdf(a)) for a in state.ringing]
    dials = [(a, f, p / (1.0 - p * f)) for a, f in started if 1.0 - p * f > EPSILON]
    return _sum_curves(lambda t: [scale * (cdf(a + t) - f) for a, f, scale in dials], times)


def _agent_curves(state: PacingState, times: Sequence[float]) -> Curves:
    """Agents expected free by each instant: ACW remaining, then talk ending under the learnt
    talk distribution given the elapsed talk, plus the mean ACW (EIS weights)."""
    est = state.estimates
    cdf = lognormal_cdf(est.talk_mean, est.talk_cv)
    started = [(e, cdf(e)) for e in state.talking]
    talks = [(e, f, 1.0 - f) for e, f in started if f < 1.0 - EPSILON]

    def weights_at(t: float) -> list[float]:
        wrap = [1.0 if w <= t else 0.0 for w in state.wrapping]
        within = t - est.acw_mean
        if within <= 0:
            return wrap
        return wrap + [(cdf(e + within) - f) / left for e, f, left in talks]

    return _sum_curves(weights_at, times)


def _largest(fits: Callable[[int], bool], limit: int) -> int:
    """The largest n in [0, limit] with fits(n), given fits(0) and that fits holds on a prefix."""
    low, high = 0, 1
    while high <= limit and fits(high):
        low, high = high, high * 2
    high = min(high, limit + 1)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def _fallback(state: PacingState, settings: PredictiveSettings) -> str | None:
    if state.agents < settings.min_agents:
        return f"fallback to progressive: {state.agents} agents < {settings.min_agents}"
    if state.estimates.live_answers < settings.min_live_answers:
        seen = state.estimates.live_answers
        return f"fallback to progressive: {seen} live answers < {settings.min_live_answers}"
    if state.estimates.live_rate <= 0:
        return "fallback to progressive: no live-answer rate yet"
    return None


def surplus(counts: AbandonCounts, rate: float) -> float:
    """Abandons still allowed at ``rate`` as a z-score: slack / √(abandons expected + 1)."""
    return counts.slack(rate) / math.sqrt(rate * counts.live_answers + 1.0)


def allowance(state: PacingState, settings: PredictiveSettings) -> tuple[float, float]:
    """(model abandons allowed per expected live answer, surplus z-score). The feedback: the
    smaller surplus of the campaign and the rolling window, both at ``aim·α``, scales the
    allowance by ``exp(gain·z)``. Slack is the integral of the abandonment error, so this is an
    integral controller, as EIS's on the horizon ``h`` or ITC's margin (dialing.md §3.3)."""
    rate = settings.aim * state.target
    z = min(surplus(state.campaign, rate), surplus(state.window, rate))
    factor = math.exp(min(max(settings.gain * z, -8.0), 2.0))
    return rate * settings.calibration * factor, z


def predictive(state: PacingState, settings: PredictiveSettings | None = None) -> PacingDecision:
    """Predictive pacing with an abandonment target (dialing.md §3.3, issue 5).

    Forecast, over the reach of a new dial's answer, the agents free at each instant (ready now,
    plus EIS-style weights from each busy agent's elapsed talk under the learnt talk distribution
    and from ACW remaining) and the live answers expected from the waiting calls, the pending dials
    (by their elapsed ring time) and ``n`` new ones (``p̂`` times the learnt answer-delay
    distribution). Launch the largest ``n`` whose expected abandons (answers finding no agent
    within the grace) stay within the allowance times the expected live answers. The allowance is
    ``aim·α·calibration``, scaled by the abandonment feedback of :func:`allowance`:
    ``calibration`` (< 1) corrects the forecast's optimism (it takes the maximum over time of the
    expected overflow, a lower bound of the expected overflow), the feedback corrects the rest.
    Never fewer than progressive (which cannot abandon), never beyond capacity; progressive below
    ``min_agents`` agents or before ``min_live_answers`` live answers (§6.3 item 5). The figures
    also record the EIS figure ``E(h)/p̂ − R`` with h the mean answer delay plus the grace.
    """
    settings = settings or PredictiveSettings()
    floor = state.free_now
    why_not = _fallback(state, settings)
    if why_not is not None:
        return decide("predictive", state, floor, why_not)
    forecast = outlook(state, settings)
    allowed, z = allowance(state, settings)

    def fits(n: int) -> bool:
        return forecast.expected_abandons(n) <= allowed * forecast.expected_answers(n) + NEGLIGIBLE

    n = _largest(fits, state.capacity) if fits(0) else 0
    reason = "forecast" if n > floor else f"progressive floor (the forecast allows {n})"
    figures = _predictive_figures(state, settings, forecast, n)
    return decide("predictive", state, max(n, floor), reason, allowed=allowed, surplus=z, **figures)


def _predictive_figures(
    state: PacingState, settings: PredictiveSettings, forecast: Outlook, n: int
) -> dict[str, float]:
    est = state.estimates
    mean_delay = _mean(est.answer_delays) if est.answer_delays else est.answer_delay_mean
    horizon = mean_delay + settings.grace
    free = expected_free(state, horizon)
    return {
        "live_rate": est.live_rate,
        "live_answers_seen": float(est.live_answers),
        "look_ahead": forecast.times[-1],
        "eis_horizon": horizon,
        "expected_free": free,
        "eis_launch": free / est.live_rate - state.pending,
        "forecast_launch": float(n),
        "expected_answers": forecast.expected_answers(n),
        "expected_abandons": forecast.expected_abandons(n),
        "target": state.target,
        "campaign_abandonment": state.campaign.ratio(),
        "window_abandonment": state.window.ratio(),
    }
