"""A campaign's pacer: the pacing law it dials by, what it has learnt online, its own memory
(VICIdial's dial level), and a count of what it decided.

The runner and the pacing benchmark both hand it the observed state (agents, calls, capacity)
and get a :class:`PacingDecision` back, so the benchmark measures the pacer the engine runs.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

from outdial.domain import pacing
from outdial.domain.estimates import Observer
from outdial.domain.pacing import (
    AdaptSample,
    DropCounts,
    PacingDecision,
    PacingState,
)

LAWS = ("progressive", "ratio", "vicidial-ratio", "predictive", "vicidial-adapt")


@dataclass
class VicidialAdapt:
    """VICIdial's ADAPT modes: a one-second sample of the team, the dial level recomputed every
    15 s from the last 15 samples and the drop rates, then RATIO dialing at that level."""

    settings: pacing.AdaptSettings = field(default_factory=pacing.AdaptSettings)
    level: float = 1.0
    samples: deque[AdaptSample] = field(default_factory=lambda: deque(maxlen=pacing.ADAPT_SAMPLES))
    dials: deque[float] = field(default_factory=deque)  # launch instants of the last minute
    dials_today: int = 0
    next_sample: float = 0.0
    next_adapt: float = pacing.ADAPT_PERIOD_SECONDS

    def decide(self, state: PacingState, now: float, observer: Observer) -> PacingDecision:
        if now >= self.next_sample:
            self.samples.append(AdaptSample(state.ready, state.waiting, state.agents))
            self.next_sample = now + 1.0
        if now >= self.next_adapt:
            self.level = pacing.vicidial_level(
                self.level,
                list(self.samples),
                self._last_minute(now, observer),
                DropCounts(self.dials_today, observer.live_answers, observer.abandons),
                self.settings,
            )
            self.next_adapt = now + pacing.ADAPT_PERIOD_SECONDS
        return pacing.vicidial_ratio(state, self.level)

    def launched(self, now: float, count: int) -> None:
        self.dials.extend([now] * count)
        self.dials_today += count

    def _last_minute(self, now: float, observer: Observer) -> DropCounts:
        while self.dials and self.dials[0] < now - 60.0:
            self.dials.popleft()
        answers = drops = 0
        for at, abandoned in reversed(observer.recent):
            if at < now - 60.0:
                break
            answers += 1
            drops += abandoned
        return DropCounts(len(self.dials), answers, drops)


@dataclass
class Pacer:
    law: str
    target: float = 0.03  # α as a fraction
    ratio: float = 2.0  # dials per ready agent (ratio), or the dial level L (vicidial-ratio)
    seed: int = 0
    observer: Observer = field(default_factory=Observer)
    settings: pacing.PredictiveSettings = field(default_factory=pacing.PredictiveSettings)
    adapt: VicidialAdapt = field(default_factory=VicidialAdapt)
    decisions: int = 0
    launched: int = 0
    last: PacingDecision | None = None
    _rng: random.Random = field(init=False)
    _u: float = 0.5
    _seen: float | None = None  # when the predictive law last decided

    def __post_init__(self) -> None:
        if self.law not in LAWS:
            raise ValueError(f"unknown pacing law {self.law!r}")
        self._rng = random.Random(self.seed)
        self._u = self._rng.random()

    @property
    def reads_times(self) -> bool:
        """Whether the law reads the pending dials' ages and the wrap-ups left (the predictive
        law's forecast); the fixed laws count agents and calls only."""
        return self.law == "predictive"

    def decide(self, observed: PacingState, now: float) -> PacingDecision:
        """The number of calls to launch now, given what the agents and calls look like."""
        obs = self.observer
        window = obs.window(now)  # slides the rolling hour whatever the law
        state = observed  # the fixed laws look at the team and the calls only
        if self.law == "predictive":
            state = pacing.evolve(
                observed,
                estimates=obs.estimates(observed.talking),
                campaign=obs.campaign(),
                window=window,
                target=self.target,
            )
        if self.law == "predictive":
            self._rebase(state, now)
        decision = self._apply(state, now)
        if decision.launch > 0:
            # The rounding draw is kept until a call is launched: drawn afresh at every tick, a
            # fraction of a call would soon round up for sure.
            self._u = self._rng.random()
        self.decisions += 1
        self.launched += decision.launch
        self.last = decision
        return decision

    def _rebase(self, state: PacingState, now: float) -> None:
        """Let λ₀ follow the campaign's slack (:func:`pacing.rebased`); not before the law
        forecasts, since progressive leaves slack the forecast did not earn."""
        seen, self._seen = self._seen, now
        if seen is not None and state.estimates.live_answers >= self.settings.min_live_answers:
            risk = pacing.rebased(self.settings, state, now - seen)
            self.settings = pacing.evolve(self.settings, risk=risk)

    def dialed(self, now: float, count: int) -> None:
        """How many of the decided calls were actually launched (contacts may run out)."""
        if self.law == "vicidial-adapt":
            self.adapt.launched(now, count)

    def _apply(self, state: PacingState, now: float) -> PacingDecision:
        if self.law == "progressive":
            return pacing.progressive(state)
        if self.law == "ratio":
            return pacing.ratio(state, self.ratio, self._u)
        if self.law == "vicidial-ratio":
            return pacing.vicidial_ratio(state, self.ratio)
        if self.law == "vicidial-adapt":
            return self.adapt.decide(state, now, self.observer)
        return pacing.predictive(state, self.settings)
