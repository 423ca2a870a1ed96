"""The in-memory call centre of the pacing benchmark (outdial.sim.callcentre)."""

from __future__ import annotations

import pytest

from outdial.engine.pacer import Pacer
from outdial.sim.callcentre import BUCKET, CallCentre, Cell, Leads, Tally

SHORT = Cell("t", 5, 0.35, hours=1.0, warmup_hours=0.25)
MARKOV = Cell("m", 5, 0.35, markov=True, grace=0.0, hours=1.0, warmup_hours=0.25)
COUNTED = (1.0 - 0.25) * 3600.0  # seconds after the warm-up


def occupancy(tally: Tally) -> float:
    return (tally.talk + tally.acw) / tally.logged_in


def consistent(tally: Tally) -> None:
    """Counts that must hold whatever the policy. (Not live <= dials: a call dialed in the
    warm-up and answered after it counts as live but not as dialed.)"""
    assert 0 <= tally.abandons <= tally.live
    assert tally.connects + tally.abandons == tally.live
    assert tally.live <= tally.run_live and tally.abandons <= tally.run_abandons <= tally.run_live
    assert sum(b[0] for b in tally.buckets) == tally.run_live
    assert sum(b[1] for b in tally.buckets) == tally.run_abandons
    assert 0 <= tally.talk + tally.acw <= tally.logged_in + 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_clairvoyant_oracle_keeps_agents_busy_and_never_abandons(seed: int) -> None:
    tally = CallCentre(SHORT, seed, None).run()
    consistent(tally)
    assert tally.logged_in == pytest.approx(SHORT.agents * COUNTED)
    assert occupancy(tally) >= 0.99
    assert tally.abandons == tally.run_abandons == 0
    assert tally.live > 0 and tally.wait == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_progressive_never_abandons(seed: int) -> None:
    tally = CallCentre(SHORT, seed, Pacer("progressive", seed=seed)).run()
    consistent(tally)
    assert tally.run_abandons == 0 and tally.run_live > 0
    assert tally.dials > tally.live  # non-live dials were made too
    assert occupancy(tally) < 0.99  # agents wait for their calls to be answered


def test_the_same_seed_gives_the_same_tally() -> None:
    for law in ("predictive", "ratio"):
        first = CallCentre(SHORT, 7, Pacer(law, seed=7)).run()
        again = CallCentre(SHORT, 7, Pacer(law, seed=7)).run()
        assert first == again
    assert CallCentre(SHORT, 7, None).run() == CallCentre(SHORT, 7, None).run()
    other = CallCentre(SHORT, 8, Pacer("predictive", seed=8)).run()
    assert other != CallCentre(SHORT, 7, Pacer("predictive", seed=7)).run()


def test_leads_are_common_to_every_policy() -> None:
    in_order, skipping = Leads(11), Leads(11)
    forward = [in_order[i] for i in range(30)]
    assert skipping[29] == forward[29]  # drawn lazily, whatever is asked first
    assert [skipping[i] for i in range(30)] == forward
    assert Leads(12)[0] != forward[0]
    # The leads each policy dialed are the same list: the oracle skips the dead ones.
    oracle, progressive = CallCentre(SHORT, 11, None), CallCentre(SHORT, 11, Pacer("progressive"))
    oracle.run()
    progressive.run()
    shared = min(len(oracle.leads.drawn), len(progressive.leads.drawn))
    assert shared > 50
    assert oracle.leads.drawn[:shared] == progressive.leads.drawn[:shared]


def test_a_high_ratio_abandons_calls() -> None:
    tally = CallCentre(SHORT, 3, Pacer("ratio", ratio=5.0, seed=3)).run()
    consistent(tally)
    assert tally.abandons > 0 and tally.run_abandons >= tally.abandons
    assert tally.abandons <= tally.live and tally.run_abandons <= tally.run_live
    progressive = CallCentre(SHORT, 3, Pacer("progressive", seed=3)).run()
    assert tally.dials > progressive.dials and occupancy(tally) > occupancy(progressive)


def test_the_pacer_is_fed_what_happens() -> None:
    pacer = Pacer("predictive", seed=5)
    tally = CallCentre(SHORT, 5, pacer).run()
    consistent(tally)
    observer = pacer.observer
    assert observer.live_answers == tally.run_live
    assert observer.abandons == tally.run_abandons
    est = observer.estimates()
    assert est.live_rate == pytest.approx(0.35, abs=0.12)
    assert 60.0 < est.talk_mean < 200.0 and est.acw_mean == pytest.approx(SHORT.acw_mean)
    assert pacer.launched >= tally.dials and pacer.decisions > 0


@pytest.mark.parametrize("law", ["progressive", "predictive"])
def test_the_markov_cell_runs(law: str | None) -> None:
    pacer = None if law is None else Pacer(law, seed=2)
    tally = CallCentre(MARKOV, 2, pacer).run()
    consistent(tally)
    assert tally.live > 0 and tally.acw == 0.0  # the ACW is folded into the handling time
    assert tally.logged_in == pytest.approx(MARKOV.agents * COUNTED)
    if law == "progressive":
        assert tally.run_abandons == 0  # no grace, but a ready agent for every pending dial
    if law is None:
        assert tally.run_abandons == 0


BREAKS = Cell("b", 5, 0.35, hours=1.0, warmup_hours=0.25, breaks=(0.4, 0.5, 10.0))


@pytest.mark.parametrize("law", ["progressive", "predictive"])
def test_breaks_reduce_the_time_logged_in(law: str) -> None:
    present = CallCentre(SHORT, 4, Pacer(law, seed=4)).run()
    tally = CallCentre(BREAKS, 4, Pacer(law, seed=4)).run()
    consistent(tally)
    # Two agents (40 % of 5) away for ten minutes each, from when they are next free after
    # half an hour: both breaks end well within the counted part of the shift.
    assert present.logged_in == pytest.approx(SHORT.agents * COUNTED)
    assert tally.logged_in == pytest.approx(present.logged_in - 2 * 600.0)
    assert sum(b[3] for b in tally.buckets) == pytest.approx(5 * 3600.0 - 2 * 600.0)
    if law == "progressive":
        assert tally.run_abandons == 0


def test_the_clairvoyant_oracle_refuses_teams_with_breaks() -> None:
    # It plans each agent's next call for the instant they are free; a break would strand it.
    with pytest.raises(ValueError, match="without breaks"):
        CallCentre(BREAKS, 0, None)


def test_buckets_cover_the_shift() -> None:
    tally = CallCentre(SHORT, 6, Pacer("progressive")).run()
    assert len(tally.buckets) == int(SHORT.hours * 3600.0 / BUCKET)
    assert sum(b[3] for b in tally.buckets) == pytest.approx(SHORT.agents * 3600.0)
