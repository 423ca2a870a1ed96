"""Progressive dialing with agents, in virtual time through the real engine."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from outdial.domain.agents import AgentAction
from outdial.domain.outcomes import Outcome
from outdial.services.models import AgentIn, SkillGroupIn
from outdial.services.validation import validate
from outdial.sim.callees import CalleeModel
from outdial.sim.run import simulate
from outdial.sim.scenario import load_scenario
from outdial.store.schema import agents, attempts, events
from outdial.store.store import Store
from tests.integration.test_engine_rules import RigFactory, peak, people, spans

SCENARIO = Path(__file__).parents[2] / "scenarios" / "progressive-agents.toml"


def test_progressive_gives_every_answer_an_agent_and_never_double_books() -> None:
    result = simulate(load_scenario(SCENARIO))
    report = result.report()
    assert all(g["passed"] for g in report["guarantees"].values()), report["guarantees"]
    assert report["campaign_state"] == "completed"
    assert "abandoned" not in report["attempts_by_outcome"]
    assert report["peak_concurrency"] <= 10  # one call per agent at most
    assert report["attempts_by_outcome"]["answered"] > 100


def test_ratio_dials_ahead_of_the_agents_and_still_keeps_every_guarantee() -> None:
    base = load_scenario(SCENARIO)
    campaign = {**base.campaign, "pacing_mode": "ratio", "ratio": 2.0}
    report = simulate(replace(base, campaign=campaign)).report()
    assert all(g["passed"] for g in report["guarantees"].values()), report["guarantees"]
    assert report["campaign_state"] == "completed"
    assert 10 < report["peak_concurrency"] <= 20  # up to k × ready agents in flight
    progressive = simulate(base).report()
    assert report["simulated_seconds"] < progressive["simulated_seconds"]  # agents wait less


def test_answered_calls_record_their_agent_and_agents_end_ready(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    scenario = replace(load_scenario(SCENARIO), contact_count=120)
    simulate(scenario, url)
    store = Store.from_url(url)
    try:
        with store.read() as conn:
            made = [dict(r._mapping) for r in conn.execute(select(attempts))]
            states = set(conn.scalars(select(agents.c.state)))
    finally:
        store.close()
    answered = [a for a in made if a["outcome"] == "answered"]
    assert answered and all(a["agent_id"] is not None for a in answered)
    assert all(a["agent_id"] is None for a in made if a["outcome"] in ("no_answer", "busy"))
    assert states == {"ready"}  # after-call work ended for everyone


def test_progressive_waits_for_ready_agents(make_rig: RigFactory) -> None:
    rig = make_rig()
    group = rig.services.skill_groups.create(rig.tenant, validate(SkillGroupIn, {"name": "g"}))
    ids = []
    for n in range(3):
        agent = rig.services.agents.create(
            rig.tenant, validate(AgentIn, {"name": f"a{n}", "skill_group_ids": [group["id"]]})
        )
        rig.services.agents.act(rig.tenant, agent["id"], AgentAction.LOGIN)  # not ready yet
        ids.append(agent["id"])
    campaign_id = rig.campaign(
        people(20),
        pacing_mode="progressive",
        script_id=None,
        skill_group_id=group["id"],
        timezone="UTC",
    )
    ready_at = rig.clock.now() + timedelta(hours=1)

    def ready_all() -> None:
        for agent_id in ids:
            rig.services.agents.act(rig.tenant, agent_id, AgentAction.READY)

    rig.at(ready_at, ready_all)
    rig.run(campaign_id, CalleeModel(rates={Outcome.ANSWERED: 1.0}, seed=3), horizon_days=1)
    made = rig.attempts(campaign_id)
    assert len(made) == 20 and min(a["created_at"] for a in made) >= ready_at
    assert peak(spans(made)) <= 3
    assert rig.audited(campaign_id).passed


PREDICTIVE = Path(__file__).parents[2] / "scenarios" / "predictive-30.toml"


def test_predictive_keeps_its_target_and_logs_its_decisions(tmp_path: Path) -> None:
    """A 30-agent predictive campaign through the real engine: every guarantee holds, the FCC
    abandonment stays within the campaign's 3 % target, agents are never double-booked, and
    the pacer's decisions are in the event log with the figures they used."""
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    scenario = replace(load_scenario(PREDICTIVE), contact_count=2500)
    report = simulate(scenario, url).report()
    assert all(g["passed"] for g in report["guarantees"].values()), report["guarantees"]
    assert report["campaign_state"] == "completed"
    assert 0 < report["abandonment"] <= 0.03
    assert report["peak_concurrency"] > 30  # dials ahead of the agents
    store = Store.from_url(url)
    try:
        with store.read() as conn:
            logged = [
                r.data
                for r in conn.execute(
                    select(events.c.data).where(events.c.kind == "pacing.decision")
                )
            ]
    finally:
        store.close()
    assert logged and {d["law"] for d in logged} == {"predictive"}
    reasons = {d["reason"].split(":")[0] for d in logged}
    assert "fallback to progressive" in reasons  # before 50 live answers were seen
    assert reasons & {"forecast", "progressive floor"}  # then the forecast
    forecast = next(d for d in logged if d["reason"] == "forecast")
    assert {"risk", "slack", "live_rate", "expected_free", "agents"} <= set(forecast["figures"])
    assert logged[-1]["launched"] >= logged[0]["launched"]
