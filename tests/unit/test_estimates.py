"""The online estimates a campaign's pacer learns from its calls (outdial.domain.estimates)."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from outdial.domain.estimates import (
    DIAL_MEMORY,
    MIN_DELAYS,
    MIN_TALKS_SHAPE,
    TIME_MEMORY,
    WINDOW_SECONDS,
    Observer,
    talk_shape_memoryless,
)
from outdial.domain.pacing import AbandonCounts, Estimates


def test_defaults_before_any_observation() -> None:
    observer = Observer()
    assert observer.estimates() == Estimates()
    assert observer.campaign() == AbandonCounts(0, 0)
    assert observer.window(0.0) == AbandonCounts(0, 0)
    mine = Estimates(live_rate=0.2, answer_delay=8.0, talk_mean=90.0, talk_cv=0.5, acw_mean=4.0)
    assert Observer(defaults=mine).estimates() == mine


def test_live_rate_counts_live_answers_per_resolved_dial() -> None:
    observer = Observer()
    for i in range(20):
        observer.dial_resolved(live=i % 4 == 0, delay=9.0 if i % 4 == 0 else None)
    assert observer.estimates().live_rate == pytest.approx(5 / 20)


def test_live_rate_forgets_dials_beyond_its_memory() -> None:
    observer = Observer()
    for _ in range(DIAL_MEMORY):
        observer.dial_resolved(live=True, delay=5.0)
    assert observer.estimates().live_rate == 1.0
    for _ in range(DIAL_MEMORY // 4):
        observer.dial_resolved(live=False)
    assert observer.estimates().live_rate == pytest.approx(0.75)
    for _ in range(DIAL_MEMORY):
        observer.dial_resolved(live=False)
    assert observer.estimates().live_rate == 0.0
    assert len(observer.resolved) == DIAL_MEMORY


def test_live_rate_over_a_mixed_history_matches_the_last_dials() -> None:
    outcomes = [(i * 7) % 10 < 3 for i in range(3 * DIAL_MEMORY + 17)]
    observer = Observer()
    for live in outcomes:
        observer.dial_resolved(live, 6.0 if live else None)
    recent = outcomes[-DIAL_MEMORY:]
    assert observer.estimates().live_rate == pytest.approx(sum(recent) / DIAL_MEMORY)


def test_answer_delay_is_the_median_of_live_answers() -> None:
    observer = Observer()
    for delay in (3.0, 20.0, 7.0, 9.0, 40.0):
        observer.dial_resolved(live=True, delay=delay)
    observer.dial_resolved(live=False, delay=1.0)  # not a live answer: no delay learnt
    observer.dial_resolved(live=True)  # a live answer without a delay
    assert observer.estimates().answer_delay == 9.0
    assert list(observer.delays) == [3.0, 20.0, 7.0, 9.0, 40.0]


def test_answer_delay_quantiles_are_learnt_once_enough_answers_are_seen() -> None:
    observer = Observer()
    delays = [float(d) for d in range(1, MIN_DELAYS + 1)]  # 1 … 20 s
    for delay in delays[:-1]:
        observer.dial_resolved(live=True, delay=delay)
    assert observer.estimates().answer_delays == ()  # too few: the pacer uses its default spread
    observer.dial_resolved(live=True, delay=delays[-1])
    # the middles of the lower, middle and upper thirds of the delays seen
    assert observer.estimates().answer_delays == (4.0, 11.0, 17.0)


def test_answer_delay_forgets_old_answers() -> None:
    observer = Observer()
    for _ in range(TIME_MEMORY):
        observer.dial_resolved(live=True, delay=30.0)
    for _ in range(TIME_MEMORY // 2 + 1):
        observer.dial_resolved(live=True, delay=6.0)
    assert observer.estimates().answer_delay == 6.0


def test_talk_mean_and_coefficient_of_variation() -> None:
    talks = [30.0, 95.0, 120.0, 61.0, 400.0, 12.5, 180.0]
    observer = Observer()
    for seconds in talks:
        observer.talk_ended(seconds)
    est = observer.estimates()
    assert est.talk_mean == pytest.approx(statistics.fmean(talks))
    assert est.talk_cv == pytest.approx(statistics.pstdev(talks) / statistics.fmean(talks))


def test_talk_estimates_cover_the_last_talks_only() -> None:
    talks = [60.0 + (i * 37) % 200 for i in range(TIME_MEMORY + 150)]
    observer = Observer()
    for seconds in talks:
        observer.talk_ended(seconds)
    recent = talks[-TIME_MEMORY:]
    est = observer.estimates()
    assert est.talk_mean == pytest.approx(statistics.fmean(recent))
    assert est.talk_cv == pytest.approx(statistics.pstdev(recent) / statistics.fmean(recent))


def test_fixed_talks_have_no_variation() -> None:
    observer = Observer()
    for _ in range(10):
        observer.talk_ended(45.0)
    assert observer.estimates().talk_mean == pytest.approx(45.0)
    assert observer.estimates().talk_cv == pytest.approx(0.0, abs=1e-6)


def test_one_talk_is_not_enough() -> None:
    observer = Observer()
    observer.talk_ended(300.0)
    est = observer.estimates()
    assert est.talk_mean == Estimates().talk_mean and est.talk_cv == Estimates().talk_cv


def test_acw_mean() -> None:
    observer = Observer()
    for seconds in (4.0, 6.0, 11.0):
        observer.wrap_ended(seconds)
    assert observer.estimates().acw_mean == pytest.approx(7.0)


def test_campaign_counts_every_live_answer() -> None:
    observer = Observer()
    for i in range(50):
        observer.live_answer(at=60.0 * i, abandoned=i % 10 == 0)
    assert observer.campaign() == AbandonCounts(5, 50)
    assert observer.estimates().live_answers == 50
    assert observer.campaign().ratio() == pytest.approx(0.1)


def test_window_drops_answers_older_than_the_window() -> None:
    observer = Observer()
    assert observer.window_seconds == WINDOW_SECONDS
    observer.live_answer(at=0.0, abandoned=True)
    observer.live_answer(at=100.0, abandoned=False)
    observer.live_answer(at=200.0, abandoned=True)
    observer.live_answer(at=3000.0, abandoned=False)
    assert observer.window(3600.0) == AbandonCounts(2, 4)
    assert observer.window(3700.0) == AbandonCounts(1, 3)  # the answer at 0 s has gone
    assert observer.window(3800.0) == AbandonCounts(1, 2)  # exactly an hour old: still in
    assert observer.window(3800.5) == AbandonCounts(0, 1)
    assert observer.window(7000.0) == AbandonCounts(0, 0)
    assert observer.campaign() == AbandonCounts(2, 4)  # the campaign forgets nothing


def test_window_length_is_a_setting() -> None:
    observer = Observer(window_seconds=60.0)
    for at in range(0, 300, 10):
        observer.live_answer(at=float(at), abandoned=at % 20 == 0)
    # Answers at 230…290 s are within a minute of 290 s: 7, abandoned at 240, 260 and 280 s.
    assert observer.window(290.0) == AbandonCounts(3, 7)


def test_estimates_are_cached_until_a_new_observation() -> None:
    observer = Observer()
    first = observer.estimates()
    assert observer.estimates() is first
    observer.dial_resolved(live=True, delay=4.0)
    second = observer.estimates()
    assert second is not first and second.live_rate == 1.0 and second.answer_delay == 4.0
    observer.talk_ended(50.0)
    observer.talk_ended(70.0)
    third = observer.estimates()
    assert third is not second and third.talk_mean == pytest.approx(60.0)
    observer.wrap_ended(3.0)
    fourth = observer.estimates()
    assert fourth is not third and fourth.acw_mean == 3.0
    observer.live_answer(at=1.0, abandoned=False)
    fifth = observer.estimates()
    assert fifth is not fourth and fifth.live_answers == 1
    assert observer.estimates() is fifth


def test_resolution_times_of_every_dial_make_the_ring_profile() -> None:
    observer = Observer()
    observer.dial_resolved(True, 9.0)
    observer.dial_resolved(False, 23.0)  # a no-answer
    observer.dial_resolved(False, 3.0)  # busy
    observer.dial_resolved(False)  # time unknown: in p̂, not in the profile
    ring = observer.estimates().ring
    assert ring.resolved == (3.0, 9.0, 23.0) and ring.live == (9.0,)
    assert observer.estimates().live_rate == pytest.approx(0.25)


def test_the_ring_profile_keeps_the_last_dials() -> None:
    observer = Observer()
    for i in range(DIAL_MEMORY + 50):
        observer.dial_resolved(i % 2 == 0, float(i))
    ring = observer.estimates().ring
    assert len(ring.resolved) == DIAL_MEMORY and ring.resolved[0] == 50.0
    assert len(ring.live) == DIAL_MEMORY // 2 and ring.live[0] == 50.0


def test_talks_in_progress_keep_the_mean_from_the_short_first_ones() -> None:
    """A team on its first calls: the short ones have ended, the long ones are going on."""
    observer = Observer()
    for seconds in (20.0, 30.0, 40.0):
        observer.talk_ended(seconds)
    assert observer.estimates().talk_mean == pytest.approx(30.0)
    # 90 + 600 s more talked in the calls still going: (90 + 600) / 3 talks ended
    assert observer.estimates([200.0, 400.0]).talk_mean == pytest.approx(230.0)
    # once the recent talks are longer than the time on test, they stand
    for _ in range(TIME_MEMORY):
        observer.talk_ended(300.0)
    assert observer.estimates([10.0]).talk_mean == pytest.approx(300.0)


@pytest.mark.parametrize("seed", range(5))
def test_exponential_talks_are_judged_memoryless_and_lognormal_ones_not(seed: int) -> None:
    rng = random.Random(seed)
    exponential, lognormal = Observer(), Observer()
    for _ in range(200):
        exponential.talk_ended(rng.expovariate(1 / 130))
        lognormal.talk_ended(math.exp(4.441 + 0.833 * rng.gauss(0.0, 1.0)))  # mean 120, CV 1
    assert exponential.estimates().talk_memoryless
    assert not lognormal.estimates().talk_memoryless
    assert lognormal.estimates().talk_cv == pytest.approx(1.0, abs=0.4)


def test_the_talk_shape_is_judged_from_thirty_talks_and_fixed_talks_are_not_memoryless() -> None:
    rng = random.Random(3)
    few, fixed = Observer(), Observer()
    for _ in range(MIN_TALKS_SHAPE - 1):
        few.talk_ended(rng.expovariate(1 / 130))
    assert not few.estimates().talk_memoryless  # not yet judged: the default shape
    for _ in range(100):
        fixed.talk_ended(60.0)
    assert not fixed.estimates().talk_memoryless
    assert not talk_shape_memoryless(50, 60.0, 0.0, 50 * math.log(60.0), 50 * math.log(60.0) ** 2)
