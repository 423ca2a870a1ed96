"""What a campaign's calls have taught the dialer so far: the live-answer rate, answer delays,
talk and wrap-up times, and the abandonment counts behind the pacing feedback.

Pure bookkeeping over recent observations (times are plain seconds on any monotonic scale), so
the engine and the pacing benchmark learn in exactly the same way. Rates come from the most
recent observations only, so a list going stale or talk getting longer shows within minutes.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from outdial.domain.pacing import AbandonCounts, Estimates, RingProfile, evolve

DIAL_MEMORY = 400  # resolved dials behind p̂
TIME_MEMORY = 200  # answer delays, talks and wraps behind their estimates
WINDOW_SECONDS = 3600.0  # the rolling abandonment window (dialing.md §6.3 item 3)
DELAY_LEVELS = (1 / 6, 1 / 2, 5 / 6)  # the answer-delay distribution as three equally likely
# points: the middles of its lower, middle and upper thirds
MIN_DELAYS = 20  # live answers seen before the learnt delay quantiles replace the default spread
MIN_TALKS_SHAPE = 30  # talks seen before their shape (lognormal or memoryless) is judged
SHORTEST_TALK = 0.1  # seconds: a talk's logarithm is taken at least at this


@dataclass
class Observer:
    """Online estimates for one campaign. Feed it each dial's resolution, each talk and wrap-up
    as they end, and each live answer once it is connected or abandoned."""

    window_seconds: float = WINDOW_SECONDS
    defaults: Estimates = field(default_factory=Estimates)
    resolved: deque[bool] = field(default_factory=lambda: deque(maxlen=DIAL_MEMORY))
    delays: deque[float] = field(default_factory=lambda: deque(maxlen=TIME_MEMORY))
    rings: deque[tuple[float, bool]] = field(default_factory=lambda: deque(maxlen=DIAL_MEMORY))
    talks: deque[float] = field(default_factory=lambda: deque(maxlen=TIME_MEMORY))
    wraps: deque[float] = field(default_factory=lambda: deque(maxlen=TIME_MEMORY))
    live_answers: int = 0
    abandons: int = 0
    recent: deque[tuple[float, bool]] = field(default_factory=deque)  # (at, abandoned)
    recent_abandons: int = 0
    _live_resolved: int = 0
    _talk_sum: float = 0.0
    _talk_squares: float = 0.0
    _log_talk_sum: float = 0.0  # Σ ln S and Σ (ln S)² of ``talks``: their log-likelihood
    _log_talk_squares: float = 0.0
    talks_ended: int = 0  # since the campaign began, with their total seconds: the time on test
    talk_seconds: float = 0.0
    _wrap_sum: float = 0.0
    _sorted_delays: list[float] = field(default_factory=list)  # ``delays``, in order
    _sorted_rings: list[float] = field(default_factory=list)  # ``rings``' seconds, in order
    _sorted_live_rings: list[float] = field(default_factory=list)  # those answered live
    _cached: Estimates | None = None
    _window: AbandonCounts = field(default_factory=AbandonCounts)  # the last counts handed out
    _campaign: AbandonCounts = field(default_factory=AbandonCounts)  # (while they hold)

    def dial_resolved(self, live: bool, delay: float | None = None) -> None:
        """A dial stopped ringing ``delay`` s after its launch (when known): answered live, or
        not (machine, no answer, busy, failure)."""
        if len(self.resolved) == self.resolved.maxlen:
            self._live_resolved -= self.resolved[0]
        self.resolved.append(live)
        self._live_resolved += live
        if delay is not None:
            self._ring(delay, live)
            if live:
                _slide(self.delays, self._sorted_delays, delay)
        self._cached = None

    def _ring(self, seconds: float, live: bool) -> None:
        if len(self.rings) == self.rings.maxlen:
            old, was_live = self.rings[0]
            if was_live:
                _drop(self._sorted_live_rings, old)
            _drop(self._sorted_rings, old)
        self.rings.append((seconds, live))
        bisect.insort(self._sorted_rings, seconds)
        if live:
            bisect.insort(self._sorted_live_rings, seconds)

    def talk_ended(self, seconds: float) -> None:
        if len(self.talks) == self.talks.maxlen:
            old = self.talks[0]
            self._talk_sum -= old
            self._talk_squares -= old * old
            log_old = math.log(max(old, SHORTEST_TALK))
            self._log_talk_sum -= log_old
            self._log_talk_squares -= log_old * log_old
        self.talks.append(seconds)
        self._talk_sum += seconds
        self._talk_squares += seconds * seconds
        log_talk = math.log(max(seconds, SHORTEST_TALK))
        self._log_talk_sum += log_talk
        self._log_talk_squares += log_talk * log_talk
        self.talks_ended += 1
        self.talk_seconds += seconds
        self._cached = None

    def wrap_ended(self, seconds: float) -> None:
        if len(self.wraps) == self.wraps.maxlen:
            self._wrap_sum -= self.wraps[0]
        self.wraps.append(seconds)
        self._wrap_sum += seconds
        self._cached = None

    def live_answer(self, at: float, abandoned: bool) -> None:
        """A live answer was connected to an agent, or abandoned (the FCC numerator)."""
        self.live_answers += 1
        self.abandons += abandoned
        self.recent.append((at, abandoned))
        self.recent_abandons += abandoned
        self._cached = None

    def campaign(self) -> AbandonCounts:
        last = self._campaign
        if last.abandons != self.abandons or last.live_answers != self.live_answers:
            self._campaign = AbandonCounts(self.abandons, self.live_answers)
        return self._campaign

    def window(self, now: float) -> AbandonCounts:
        start = now - self.window_seconds
        while self.recent and self.recent[0][0] < start:
            _, abandoned = self.recent.popleft()
            self.recent_abandons -= abandoned
        last = self._window
        if last.abandons != self.recent_abandons or last.live_answers != len(self.recent):
            self._window = AbandonCounts(self.recent_abandons, len(self.recent))
        return self._window  # the same counts as at the last decision: the same value

    def estimates(self, ongoing: Sequence[float] = ()) -> Estimates:
        """What has been learnt, given the elapsed seconds of the talks in progress.

        The recent talks are a fair sample of talk times once a campaign runs, but not while a
        team is on its first calls: the short ones end first. The mean talk is therefore never
        taken below the time on test — every second talked since the campaign began, the talks
        in progress included, per talk ended — which is right from the first calls on and
        converges to the mean of all talks; the recent mean, above it, follows talk getting
        longer."""
        if self._cached is None:
            self._cached = self._estimate()
        est = self._cached
        if self.talks_ended >= 2:
            on_test = (self.talk_seconds + sum(ongoing)) / self.talks_ended
            if on_test > est.talk_mean:
                return evolve(est, talk_mean=on_test)
        return est

    def _median_delay(self) -> float:
        ordered, n = self._sorted_delays, len(self._sorted_delays)
        if n == 0:
            return self.defaults.answer_delay
        middle = n // 2
        return ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2

    def _delay_quantiles(self) -> tuple[float, ...]:
        """The learnt answer delays at ``DELAY_LEVELS``; none before ``MIN_DELAYS`` are seen."""
        ordered = self._sorted_delays
        if len(ordered) < MIN_DELAYS:
            return ()
        last = len(ordered) - 1
        return tuple(ordered[min(int(level * len(ordered)), last)] for level in DELAY_LEVELS)

    def _estimate(self) -> Estimates:
        d = self.defaults
        talk_mean, talk_cv, memoryless = d.talk_mean, d.talk_cv, d.talk_memoryless
        count = len(self.talks)
        if count >= 2 and self._talk_sum > 0:
            talk_mean = self._talk_sum / count
            variance = max(0.0, self._talk_squares / count - talk_mean * talk_mean)
            talk_cv = math.sqrt(variance) / talk_mean
            if count >= MIN_TALKS_SHAPE:
                memoryless = talk_shape_memoryless(
                    count, talk_mean, talk_cv, self._log_talk_sum, self._log_talk_squares
                )
        resolved = len(self.resolved)
        return Estimates(
            live_rate=self._live_resolved / resolved if resolved else d.live_rate,
            live_answers=self.live_answers,
            answer_delay=self._median_delay(),
            answer_delays=self._delay_quantiles(),
            talk_mean=talk_mean,
            talk_cv=talk_cv,
            talk_memoryless=memoryless,
            acw_mean=self._wrap_sum / len(self.wraps) if self.wraps else d.acw_mean,
            ring=RingProfile(tuple(self._sorted_rings), tuple(self._sorted_live_rings)),
        )


def talk_shape_memoryless(
    count: int, mean: float, cv: float, log_sum: float, log_squares: float
) -> bool:
    """Whether ``count`` talks of this mean and CV (with Σ ln S and Σ (ln S)²) are better
    explained by an exponential of that mean than by the lognormal of that mean and CV the
    pacing law would otherwise assume (the larger log-likelihood; a tie keeps the lognormal).

    The two can share a mean and a CV of 1 and still differ where pacing looks: an exponential
    call just begun may end within seconds, a lognormal one hardly ever, and a call long under
    way ends at the same rate as any other instead of ever more slowly."""
    if mean <= 0 or cv < 1e-6:
        return False
    s2 = math.log1p(cv * cv)
    mu = math.log(mean) - s2 / 2.0
    squares = log_squares - 2.0 * mu * log_sum + count * mu * mu  # Σ (ln S − μ)²
    lognormal = -log_sum - count * 0.5 * math.log(2.0 * math.pi * s2) - squares / (2.0 * s2)
    exponential = -count * math.log(mean) - count  # Σ (−ln m − S/m), Σ S = count·m
    return exponential > lognormal


def _drop(ordered: list[float], value: float) -> None:
    del ordered[bisect.bisect_left(ordered, value)]


def _slide(recent: deque[float], ordered: list[float], value: float) -> None:
    """Append ``value`` to a bounded deque and to its sorted copy, the oldest leaving both."""
    if len(recent) == recent.maxlen:
        _drop(ordered, recent[0])
    recent.append(value)
    bisect.insort(ordered, value)
