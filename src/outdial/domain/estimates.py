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
from dataclasses import dataclass, field

from outdial.domain.pacing import AbandonCounts, Estimates

DIAL_MEMORY = 400  # resolved dials behind p̂
TIME_MEMORY = 200  # answer delays, talks and wraps behind their estimates
WINDOW_SECONDS = 3600.0  # the rolling abandonment window (dialing.md §6.3 item 3)
DELAY_LEVELS = (1 / 6, 1 / 2, 5 / 6)  # the answer-delay distribution as three equally likely
# points: the middles of its lower, middle and upper thirds
MIN_DELAYS = 20  # live answers seen before the learnt delay quantiles replace the default spread


@dataclass
class Observer:
    """Online estimates for one campaign. Feed it each dial's resolution, each talk and wrap-up
    as they end, and each live answer once it is connected or abandoned."""

    window_seconds: float = WINDOW_SECONDS
    defaults: Estimates = field(default_factory=Estimates)
    resolved: deque[bool] = field(default_factory=lambda: deque(maxlen=DIAL_MEMORY))
    delays: deque[float] = field(default_factory=lambda: deque(maxlen=TIME_MEMORY))
    talks: deque[float] = field(default_factory=lambda: deque(maxlen=TIME_MEMORY))
    wraps: deque[float] = field(default_factory=lambda: deque(maxlen=TIME_MEMORY))
    live_answers: int = 0
    abandons: int = 0
    recent: deque[tuple[float, bool]] = field(default_factory=deque)  # (at, abandoned)
    recent_abandons: int = 0
    _live_resolved: int = 0
    _talk_sum: float = 0.0
    _talk_squares: float = 0.0
    _wrap_sum: float = 0.0
    _sorted_delays: list[float] = field(default_factory=list)  # ``delays``, in order
    _cached: Estimates | None = None

    def dial_resolved(self, live: bool, delay: float | None = None) -> None:
        """A dial stopped ringing: answered live after ``delay`` s, or not (machine, no answer,
        busy, failure)."""
        if len(self.resolved) == self.resolved.maxlen:
            self._live_resolved -= self.resolved[0]
        self.resolved.append(live)
        self._live_resolved += live
        if live and delay is not None:
            ordered = self._sorted_delays
            if len(self.delays) == self.delays.maxlen:
                del ordered[bisect.bisect_left(ordered, self.delays[0])]
            self.delays.append(delay)
            bisect.insort(ordered, delay)
        self._cached = None

    def talk_ended(self, seconds: float) -> None:
        if len(self.talks) == self.talks.maxlen:
            old = self.talks[0]
            self._talk_sum -= old
            self._talk_squares -= old * old
        self.talks.append(seconds)
        self._talk_sum += seconds
        self._talk_squares += seconds * seconds
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
        return AbandonCounts(self.abandons, self.live_answers)

    def window(self, now: float) -> AbandonCounts:
        start = now - self.window_seconds
        while self.recent and self.recent[0][0] < start:
            _, abandoned = self.recent.popleft()
            self.recent_abandons -= abandoned
        return AbandonCounts(self.recent_abandons, len(self.recent))

    def estimates(self) -> Estimates:
        if self._cached is None:
            self._cached = self._estimate()
        return self._cached

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
        talk_mean, talk_cv = d.talk_mean, d.talk_cv
        count = len(self.talks)
        if count >= 2 and self._talk_sum > 0:
            talk_mean = self._talk_sum / count
            variance = max(0.0, self._talk_squares / count - talk_mean * talk_mean)
            talk_cv = math.sqrt(variance) / talk_mean
        resolved = len(self.resolved)
        return Estimates(
            live_rate=self._live_resolved / resolved if resolved else d.live_rate,
            live_answers=self.live_answers,
            answer_delay=self._median_delay(),
            answer_delays=self._delay_quantiles(),
            talk_mean=talk_mean,
            talk_cv=talk_cv,
            acw_mean=self._wrap_sum / len(self.wraps) if self.wraps else d.acw_mean,
        )
