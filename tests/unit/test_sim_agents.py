"""The simulated team's pure parts: the [agents] table, login and break plans, ACW draws and
the record the report's agent figures come from."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from outdial.domain.errors import ValidationFailed
from outdial.sim.agents import (
    BreakRule,
    BreakTaken,
    TeamSpec,
    Timeline,
    draw_acw,
    plan_breaks,
    plan_team,
    team_figures,
)
from outdial.sim.callees import Dist

FULL = {
    "count": 10,
    "stagger_minutes": 10,
    "logout_after_hours": 4,
    "acw": {"dist": "lognormal", "mean": 8, "cv": 0.5},
    "breaks": [{"every_minutes": 120, "length_minutes": 10, "jitter_minutes": 15, "share": 0.3}],
}


# --- the table -------------------------------------------------------------------------------


def test_the_table_reads_every_field() -> None:
    spec = TeamSpec.from_mapping(FULL)
    assert (spec.count, spec.stagger_minutes, spec.logout_after_hours) == (10, 10.0, 4.0)
    assert spec.breaks == (BreakRule(120.0, 10.0, 15.0, 0.3),)
    assert spec.acw is not None and spec.acw.kind == "lognormal"
    median, sigma = spec.acw.a, spec.acw.b
    assert median * math.exp(sigma * sigma / 2) == pytest.approx(8)  # the mean
    assert math.sqrt(math.exp(sigma * sigma) - 1) == pytest.approx(0.5)  # the cv


def test_a_count_alone_is_the_old_team_and_no_table_no_team() -> None:
    assert TeamSpec.from_mapping({"count": 3}) == TeamSpec(count=3)
    assert not TeamSpec.from_mapping({})
    assert TeamSpec.from_mapping({"count": 2, "acw": 6}).acw == Dist("fixed", 6.0)
    fixed = TeamSpec.from_mapping({"count": 2, "acw": {"dist": "fixed", "mean": 6}})
    assert fixed.acw == Dist("fixed", 6.0)
    one = TeamSpec.from_mapping({"count": 2, "breaks": {"every_minutes": 60, "length_minutes": 5}})
    assert one.breaks == (BreakRule(60.0, 5.0),)


@pytest.mark.parametrize(
    ("table", "field", "words"),
    [
        ({"count": -1}, "agents.count", "≥ 0"),
        ({"count": 2.5}, "agents.count", "integer"),
        ({"count": True}, "agents.count", "integer"),
        ({"stagger_minutes": 5}, "agents.count", "required"),
        ({"count": 2, "stagger_minutes": "10"}, "agents.stagger_minutes", "number"),
        ({"count": 2, "logout_after_hours": 0}, "agents.logout_after_hours", "> 0"),
        ({"count": 2, "acw": {"dist": "gamma", "mean": 3}}, "agents.acw.dist", "lognormal"),
        ({"count": 2, "acw": {"mean": 8, "cv": -1}}, "agents.acw.cv", "> 0"),
        ({"count": 2, "acw": {"cv": 1}}, "agents.acw.mean", "required"),
        ({"count": 2, "acw": {"mean": 0}}, "agents.acw.mean", "> 0"),
        ({"count": 2, "acw": {"dist": "fixed", "mean": 3, "cv": 1}}, "agents.acw.cv", "unknown"),
        ({"count": 2, "acw": -4}, "agents.acw", "≥ 0"),
        ({"count": 2, "breaks": 3}, "agents.breaks", "list"),
        ({"count": 2, "breaks": [{"length_minutes": 5}]}, "agents.breaks[0].every_minutes", ""),
        (
            {"count": 2, "breaks": [{"every_minutes": 60, "length_minutes": 5, "share": 1.5}]},
            "agents.breaks[0].share",
            "≤ 1",
        ),
        (
            {"count": 2, "breaks": [{"every_minutes": 10, "length_minutes": 10}]},
            "agents.breaks[0].length_minutes",
            "shorter",
        ),
        (
            {"count": 2, "breaks": [{"every_minutes": 10, "length_minutes": 1, "often": 2}]},
            "agents.breaks[0].often",
            "unknown",
        ),
        ({"count": 2, "talk": {"mean": 60}}, "agents.talk", "[callees] talk"),
        ({"count": 2, "shift": 8}, "agents.shift", "unknown"),
    ],
)
def test_a_bad_value_names_its_field(table: object, field: str, words: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        TeamSpec.from_mapping(table)
    fields = {d.field: d.message for d in caught.value.details}
    assert field in fields and words in fields[field], fields
    assert field in caught.value.message


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(ValidationFailed) as caught:
        TeamSpec.from_mapping({"count": "x", "acw": {"mean": -1}, "breaks": [{"share": 2}]})
    assert {d.field for d in caught.value.details} >= {
        "agents.count",
        "agents.acw.mean",
        "agents.breaks[0].every_minutes",
        "agents.breaks[0].length_minutes",
        "agents.breaks[0].share",
    }


def test_a_table_that_is_not_a_table_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="agents: must be a table"):
        TeamSpec.from_mapping(30)


# --- plans -----------------------------------------------------------------------------------


def test_logins_are_spread_evenly_over_the_stagger_and_shifts_follow_them() -> None:
    plans = plan_team(TeamSpec(count=4, stagger_minutes=8, logout_after_hours=2), 1, 86400)
    assert [p.login for p in plans] == [0, 120, 240, 360]
    assert [p.logout for p in plans] == [7200, 7320, 7440, 7560]
    assert all(p.breaks == () for p in plans)
    assert [p.login for p in plan_team(TeamSpec(count=3), 1, 3600)] == [0, 0, 0]


def test_a_break_rule_goes_to_its_share_of_the_team() -> None:
    rule = BreakRule(every_minutes=60, length_minutes=5, share=0.3)
    plans = plan_team(TeamSpec(count=30, breaks=(rule,)), 7, 4 * 3600)
    takers = [p for p in plans if p.breaks]
    assert len(takers) == 9
    assert all(len(p.breaks) == 3 for p in takers)  # at 1 h, 2 h, 3 h of a 4-hour run
    everyone = plan_team(TeamSpec(count=5, breaks=(BreakRule(60, 5),)), 7, 4 * 3600)
    assert all(p.breaks for p in everyone)


def test_breaks_fall_within_their_jitter_and_the_agents_shift() -> None:
    rule = BreakRule(every_minutes=120, length_minutes=10, jitter_minutes=15)
    found = plan_breaks(rule, login=600, end=600 + 8 * 3600, rng=random.Random(3))
    assert len(found) in (3, 4)  # the 4th, due at the shift's end, only if jittered early
    for k, brk in enumerate(found, start=1):
        assert abs(brk.due - (600 + k * 7200)) <= 15 * 60
        assert brk.length == 600
        assert brk.due < 600 + 8 * 3600


def test_a_jittered_break_never_comes_before_the_login() -> None:
    rule = BreakRule(every_minutes=10, length_minutes=1, jitter_minutes=30)
    found = plan_breaks(rule, login=100, end=100 + 3600, rng=random.Random(1))
    assert found and min(b.due for b in found) >= 100


def test_several_rules_merge_in_time_order() -> None:
    rules = (BreakRule(120, 10), BreakRule(240, 30))
    (plan,) = plan_team(TeamSpec(count=1, breaks=rules), 1, 5 * 3600)
    assert [(b.due, b.length) for b in plan.breaks] == [
        (7200, 600),
        (14400, 600),
        (14400, 1800),
    ]


def test_plans_repeat_for_a_seed_and_differ_across_seeds() -> None:
    spec = TeamSpec.from_mapping(FULL)
    assert plan_team(spec, 30, 43200) == plan_team(spec, 30, 43200)
    assert plan_team(spec, 30, 43200) != plan_team(spec, 31, 43200)


# --- ACW draws -------------------------------------------------------------------------------


def test_acw_draws_are_capped_by_the_campaign() -> None:
    dist = TeamSpec.from_mapping({"count": 1, "acw": {"mean": 10, "cv": 1}}).acw
    rng = random.Random(5)
    draws = [draw_acw(dist, 15.0, rng) for _ in range(20_000)]
    assert max(draws) == 15.0 and min(draws) > 0
    capped = sum(d == 15.0 for d in draws) / len(draws)
    assert dist is not None
    z = (math.log(15) - math.log(dist.a)) / dist.b
    assert capped == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)), abs=0.01)  # P(X ≥ cap)
    assert statistics.fmean(draws) < 10  # the cap cuts the tail


def test_acw_draws_follow_the_distribution_below_the_cap() -> None:
    dist = TeamSpec.from_mapping({"count": 1, "acw": {"mean": 8, "cv": 0.5}}).acw
    rng = random.Random(9)
    draws = [draw_acw(dist, 1000.0, rng) for _ in range(20_000)]
    assert statistics.fmean(draws) == pytest.approx(8, rel=0.02)
    assert statistics.stdev(draws) / statistics.fmean(draws) == pytest.approx(0.5, rel=0.05)


def test_without_a_distribution_an_agent_wraps_up_for_the_whole_cap() -> None:
    assert draw_acw(None, 10.0, random.Random(1)) == 10.0
    assert draw_acw(Dist("fixed", 4.0), 10.0, random.Random(1)) == 4.0
    assert draw_acw(Dist("fixed", 40.0), 10.0, random.Random(1)) == 10.0


# --- the record ------------------------------------------------------------------------------


def _working_day() -> Timeline:
    line = Timeline()
    for state, at in [
        ("not_ready", 100),  # logs in
        ("ready", 100),
        ("on_call", 110),
        ("after_call_work", 170),
        ("ready", 178),
        ("not_ready", 200),  # a break
        ("ready", 800),
        ("ready", 800),  # a repeat is no move
        ("on_call", 820),
        ("after_call_work", 900),
        ("offline", 910),  # logs out from wrap-up
    ]:
        line.move(state, at)
    return line


def test_a_timeline_adds_up_the_time_in_each_state() -> None:
    line = _working_day()
    assert line.seconds == {
        "offline": 100,
        "not_ready": 600,
        "ready": 10 + 22 + 20,
        "on_call": 60 + 80,
        "after_call_work": 8 + 10,
    }
    assert line.wraps == [8, 10]
    assert line.rests == [600]  # the login's instant of not-ready is no rest


def test_team_figures_split_the_logged_in_time() -> None:
    line = _working_day()
    taken = [BreakTaken(1, due=190, start=200, length=600, end=800)]
    figures = team_figures([line], taken, cap=15.0, end=910)
    assert figures["logged_in_hours"] == pytest.approx(810 / 3600, abs=1e-3)
    assert figures["occupancy"] == pytest.approx((140 + 18) / 810, abs=1e-4)
    assert figures["occupancy_off_break"] == pytest.approx((140 + 18) / 210, abs=1e-4)
    assert figures["break_hours"] == pytest.approx(600 / 3600, abs=1e-3)
    assert (figures["wraps"], figures["mean_acw_seconds"], figures["max_acw_seconds"]) == (
        2,
        9.0,
        10.0,
    )
    assert (figures["breaks"], figures["mean_break_minutes"]) == (1, 10.0)
    assert figures["mean_break_delay_seconds"] == 10.0
    parts = ("talk_hours", "acw_hours", "break_hours", "idle_hours")
    assert sum(figures[p] for p in parts) == pytest.approx(figures["logged_in_hours"], abs=2e-3)


def test_an_idle_team_has_no_occupancy() -> None:
    figures = team_figures([Timeline()], [], cap=10.0, end=0.0)
    assert figures["occupancy"] == 0.0 and figures["wraps"] == 0
