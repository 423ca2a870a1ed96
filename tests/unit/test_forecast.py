"""The pre-launch forecast model (outdial.sim.forecast) and the finite list of the call centre."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from outdial.domain.calendar import Schedule
from outdial.domain.outcomes import Outcome
from outdial.domain.redial import RedialSettings, Rule
from outdial.domain.schedule import PacingMode, RepeatBy
from outdial.engine.pacer import Pacer
from outdial.sim import forecast as fc
from outdial.sim.callcentre import CallCentre, Cell

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)  # a Monday
MORNINGS = Schedule(SHANGHAI, windows=((time(9), time(12)),))
ALWAYS = Schedule(ZoneInfo("UTC"))
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
RATES = fc.Rates()  # dialing.md defaults: p = 0.35, talk 120 s, ACW 10 s
ONE_EACH = RedialSettings()


def work(contacts: int, settings: RedialSettings = ONE_EACH, rates: fc.Rates = RATES) -> fc.Work:
    start = fc.Start("default", 1, 0, 0, contacts)
    return fc.remaining_work([start], lambda group: settings, rates.mix)


def agents_setup(
    agents: int, mode: PacingMode = PacingMode.PROGRESSIVE, max_calls: int = 500
) -> fc.Setup:
    return fc.Setup(mode, ALWAYS, agents=agents, max_calls=max_calls, ring_timeout=20)


# --- the finite list of the call centre ----------------------------------------------------------


def test_a_finite_list_is_dialed_once_and_the_run_ends_with_its_last_call() -> None:
    cell = Cell("f", 5, 0.35, hours=8.0, warmup_hours=0.0, leads=300)
    centre = CallCentre(cell, 1, Pacer("progressive", seed=1))
    tally = centre.run()
    assert tally.dials == 300 and centre.next_lead == 300
    assert 0 < tally.last_dial <= tally.end < cell.hours * 3600.0
    assert centre.pending == 0 and not centre.waiting and centre.talking == 0
    assert tally.connects + tally.abandons == tally.live > 0


def test_an_unlimited_list_runs_the_whole_shift() -> None:
    cell = Cell("u", 5, 0.35, hours=0.5, warmup_hours=0.0)
    tally = CallCentre(cell, 1, Pacer("progressive", seed=1)).run()
    assert tally.end == 0.5 * 3600.0 and tally.dials > 0


# --- remaining work: the redial rules ---------------------------------------------------------


def test_group_redials_give_a_geometric_number_of_attempts() -> None:
    p = 0.4
    rates = fc.Rates(mix={Outcome.ANSWERED: p, Outcome.NO_ANSWER: 1 - p})
    found = work(100, RedialSettings(group_redial=(2, 3600)), rates)
    assert found.attempts == pytest.approx(100 * (1 + (1 - p) + (1 - p) ** 2))
    assert found.reached == pytest.approx(100 * (1 - (1 - p) ** 3))
    assert found.live_rate == pytest.approx(found.reached / found.attempts)


def test_attempts_already_made_count_and_a_pending_contact_gets_at_least_one_more() -> None:
    rates = fc.Rates(mix={Outcome.ANSWERED: 0.5, Outcome.NO_ANSWER: 0.5})
    settings = RedialSettings(group_redial=(2, 60))
    mix = tuple(rates.mix.items())
    assert fc.expected_attempts(settings, mix, 1, 0, 2) == pytest.approx((1.0, 0.5))
    assert fc.expected_attempts(settings, mix, 1, 0, 1) == pytest.approx((1.5, 0.75))
    assert fc.expected_attempts(ONE_EACH, mix, 1, 0, 5) == pytest.approx((1.0, 0.5))


def test_a_dead_number_stays_dead_and_skip_flags_move_on_to_the_next_phone() -> None:
    rates = fc.Rates(mix={Outcome.INVALID_NUMBER: 0.5, Outcome.NO_ANSWER: 0.5})
    mix = tuple(rates.mix.items())
    redial_all = (Rule(frozenset({Outcome.INVALID_NUMBER, Outcome.NO_ANSWER}), 60, 3),)
    retried = RedialSettings(policy_rules=redial_all)
    attempts, reached = fc.expected_attempts(retried, mix, 1, 0, 0)
    assert attempts == pytest.approx(4.0) and reached == 0.0  # every path takes all 4 attempts
    skipping = RedialSettings(policy_rules=redial_all, skip=frozenset({Outcome.INVALID_NUMBER}))
    attempts, _ = fc.expected_attempts(skipping, mix, 2, 0, 0)
    # per phone: stops at the first dead answer, else 4 no-answers → 1 + .5 + .25 + .125
    assert attempts == pytest.approx(2 * 1.875)


def test_an_unlimited_daily_cap_rule_is_capped_per_number() -> None:
    p = 0.1
    rates = fc.Rates(mix={Outcome.ANSWERED: p, Outcome.NO_ANSWER: 1 - p})
    daily = RedialSettings(max_attempts_per_day=2)
    attempts, reached = fc.expected_attempts(daily, tuple(rates.mix.items()), 1, 0, 0)
    cap = fc.MAX_ATTEMPTS_PER_PHONE
    assert attempts == pytest.approx(sum((1 - p) ** k for k in range(cap)))
    assert reached == pytest.approx(1 - (1 - p) ** cap)


def test_a_given_answer_rate_keeps_the_other_outcomes_in_proportion() -> None:
    rates = fc.Rates().with_answer_rate(0.2)
    assert rates.answer_rate == 0.2 and sum(rates.mix.values()) == pytest.approx(1.0)
    assert rates.share_of_non_live(Outcome.NO_ANSWER) == pytest.approx(0.45)
    assert rates.share_of_non_live(Outcome.ANSWERED_MACHINE) == pytest.approx(0.30)


# --- the calendar -----------------------------------------------------------------------------


def test_ten_dialing_hours_in_three_hour_mornings_span_four_days() -> None:
    found = fc.walk(MORNINGS, MONDAY_9, 10 * 3600.0)
    assert found.at == datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)  # Thursday 10:00
    early = fc.walk(MORNINGS, MONDAY_9 - timedelta(hours=3), 10 * 3600.0)  # from 06:00
    assert early.at == found.at
    assert fc.walk(MORNINGS, MONDAY_9, 0.0).at == MONDAY_9


def test_weekdays_blackouts_and_the_period_end_are_walked() -> None:
    weekdays = Schedule(
        SHANGHAI,
        windows=((time(9), time(12)),),
        repeat_by=RepeatBy.WEEK,
        repeat_days=frozenset({1, 2, 3, 4, 5}),
    )
    friday = datetime(2026, 11, 27, 9, 0, tzinfo=SHANGHAI)
    assert fc.walk(weekdays, friday, 4 * 3600.0).at == datetime(
        2026, 11, 30, 10, 0, tzinfo=SHANGHAI
    )  # Friday's 3 h, then Monday 09:00–10:00
    ending = Schedule(
        SHANGHAI, windows=((time(9), time(12)),), period_end=MONDAY_9 + timedelta(days=2)
    )
    short = fc.walk(ending, MONDAY_9, 10 * 3600.0)
    assert short.at is None and short.open_seconds == 6 * 3600.0
    assert fc.open_between(MORNINGS, MONDAY_9, MONDAY_9 + timedelta(days=1, hours=1)) == 4 * 3600.0


def test_a_period_that_ends_first_does_not_finish_and_leaves_contacts() -> None:
    ending = Schedule(
        SHANGHAI, windows=((time(9), time(12)),), period_end=MONDAY_9 + timedelta(hours=2)
    )
    setup = fc.Setup(PacingMode.PROGRESSIVE, ending, agents=5, max_calls=50, ring_timeout=20)
    found = fc.forecast(setup, RATES, work(2000), MONDAY_9, seeds=1)
    assert not found.finish.finishes and found.finish.at is None
    assert found.finish.open_hours == pytest.approx(2.0)
    assert 0 < found.finish.contacts_left < 2000
    assert any("closes for good" in note for note in found.notes)


# --- agent campaigns --------------------------------------------------------------------------


def test_more_agents_finish_sooner_and_the_forecast_repeats() -> None:
    todo = work(3000)
    hours = [
        fc.forecast(agents_setup(n), RATES, todo, NOW, seeds=2).hours.mean for n in (5, 10, 20)
    ]
    assert hours[0] > hours[1] > hours[2] > 0
    assert hours[0] / hours[2] == pytest.approx(4.0, rel=0.25)  # about the same agent-hours
    once = fc.forecast(agents_setup(10), RATES, todo, NOW, seeds=2)
    assert once == fc.forecast(agents_setup(10), RATES, todo, NOW, seeds=2)


def test_the_forecast_reports_a_mean_and_a_range_and_scales_a_long_list() -> None:
    found = fc.forecast(agents_setup(20, PacingMode.PREDICTIVE), RATES, work(6000), NOW)
    assert len(found.seeds) == fc.SEEDS and found.scaled
    assert found.simulated_dials == fc.SIM_DIALS < found.dials.mean == 6000
    for spread in (found.hours, found.connects, found.abandonment, found.occupancy):
        assert spread is not None and spread.low <= spread.mean <= spread.high
    assert found.abandonment is not None and found.abandonment.mean <= 0.05
    assert found.occupancy is not None and 0.7 < found.occupancy.mean <= 1.0
    assert found.connects.mean == pytest.approx(
        6000 * 0.35 * (1 - found.abandonment.mean), rel=0.01
    )
    assert found.finish.finishes and found.finish.at == NOW + timedelta(hours=found.hours.mean)


def test_progressive_never_abandons_and_a_concurrency_limit_idles_agents() -> None:
    todo = work(1500)
    free = fc.forecast(agents_setup(20), RATES, todo, NOW, seeds=1)
    capped = fc.forecast(agents_setup(20, max_calls=5), RATES, todo, NOW, seeds=1)
    assert free.abandonment is not None and free.abandonment.high == 0.0
    assert capped.hours.mean > 2 * free.hours.mean
    assert any("concurrency limit" in note for note in capped.notes)


def test_the_agents_needed_are_the_fewest_that_meet_finish_by() -> None:
    todo = work(3000)
    base = fc.forecast(agents_setup(10), RATES, todo, NOW, seeds=2)
    finish_by = NOW + timedelta(hours=base.hours.mean * 0.6)
    found = fc.forecast(agents_setup(10), RATES, todo, NOW, finish_by, seeds=2)
    staffing = found.staffing
    assert staffing is not None and not staffing.finishes_by
    needed = staffing.agents
    assert needed is not None and 10 < needed <= 25
    assert staffing.finish_at is not None and staffing.finish_at <= finish_by
    tried = {t.agents: t.hours for t in staffing.tried}
    assert tried[needed] * 3600 <= (finish_by - NOW).total_seconds()
    assert tried[needed - 1] * 3600 > (finish_by - NOW).total_seconds()  # one fewer misses
    ordered = [tried[n] for n in sorted(tried)]
    assert ordered == sorted(ordered, reverse=True)  # more agents, fewer hours


def test_no_team_meets_a_finish_by_beyond_reach() -> None:
    setup = agents_setup(5, max_calls=8)
    found = fc.forecast(setup, RATES, work(2000), NOW, NOW + timedelta(minutes=10), seeds=1)
    assert found.staffing is not None and found.staffing.agents is None
    assert found.staffing.max_agents == 8 and found.staffing.finish_at is None


# --- robot campaigns --------------------------------------------------------------------------


def robot(max_calls: int, gap: float = 0.0) -> fc.Setup:
    return fc.Setup(
        PacingMode.AGENTLESS, ALWAYS, max_calls=max_calls, call_gap=gap, ring_timeout=20
    )


def test_a_robot_campaign_is_limited_by_its_channels_and_call_gap() -> None:
    busy = fc.Rates(mix={Outcome.BUSY: 1.0}, fail_seconds=4.0)  # each call holds 4 s on average
    todo = work(10_000, rates=busy)
    ten = fc.forecast(robot(10), busy, todo, NOW)
    assert ten.hours.mean == pytest.approx(10_000 * 4.0 / 10 / 3600, rel=0.02)
    twenty = fc.forecast(robot(20), busy, todo, NOW)
    assert twenty.hours.mean == pytest.approx(ten.hours.mean / 2, rel=0.02)
    gapped = fc.forecast(robot(10, gap=1.0), busy, todo, NOW)
    assert gapped.hours.mean == pytest.approx(10_000 * 5.0 / 10 / 3600, rel=0.02)
    assert ten.abandonment is None and ten.occupancy is None and ten.law == "capacity"
    assert ten.connects.mean == 0.0 and not ten.scaled


def test_robot_live_answers_hold_the_line_for_their_talk() -> None:
    live = fc.Rates(mix={Outcome.ANSWERED: 1.0}, answer_delay=10.0, talk_mean=50.0, talk_cv=0.0)
    found = fc.forecast(robot(5), live, work(1000, rates=live), NOW)
    # a call: PDD U(1, 3) + ring (median 8 s, lognormal) + 50 s of talk ≈ 60 s
    assert found.hours.mean == pytest.approx(1000 * 60.0 / 5 / 3600, rel=0.05)
    assert found.connects.mean == 1000.0
    staffing = fc.forecast(
        robot(5), live, work(1000, rates=live), NOW, NOW + timedelta(days=1)
    ).staffing
    assert staffing is not None and staffing.finishes_by and staffing.agents is None


def test_nothing_left_finishes_now() -> None:
    found = fc.forecast(agents_setup(5), RATES, work(0), NOW)
    assert found.hours.mean == 0.0 and found.finish.at == NOW and found.dials.mean == 0.0
