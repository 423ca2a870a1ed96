"""Robot then human: a script hands the answered call to a skill group; the engine reserves an
agent and bridges, counts the transfer, and falls back per script when nobody is free. Also:
a caller who hangs up on the silence before an agent came is abandoned. Virtual time, real
engine, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

from outdial.domain.agents import AgentAction
from outdial.domain.outcomes import Outcome
from outdial.engine.worker import Worker
from outdial.services.models import AgentIn, ScriptIn, SkillGroupIn
from outdial.services.validation import validate
from outdial.sim.callees import CalleeModel, Dist
from outdial.telephony.sim import RESUMED_TALK, SimTelephony
from tests.integration.test_engine_rules import DAYS, Rig, RigFactory, peak, people, unique

SCRIPT_TALK, HANDOFF_AFTER, AGENT_TALK = 60.0, 10.0, 100.0
CALLEES = CalleeModel(
    rates={Outcome.ANSWERED: 1.0},
    pdd=Dist("fixed", 1),
    ring_answer=Dist("fixed", 5),
    talk=Dist("fixed", SCRIPT_TALK),
    handoff_share=0.5,
    handoff_after=Dist("fixed", HANDOFF_AFTER),
    agent_talk=Dist("fixed", AGENT_TALK),
    seed=5,
)


def team(rig: Rig, size: int, ready: bool = True) -> tuple[int, list[int]]:
    group = rig.services.skill_groups.create(
        rig.tenant, validate(SkillGroupIn, {"name": unique("humans")})
    )
    ids = []
    for n in range(size):
        body = {"name": unique(f"agent{n}"), "skill_group_ids": [group["id"]]}
        agent = rig.services.agents.create(rig.tenant, validate(AgentIn, body))
        rig.services.agents.act(rig.tenant, agent["id"], AgentAction.LOGIN)
        if ready:
            rig.services.agents.act(rig.tenant, agent["id"], AgentAction.READY)
        ids.append(agent["id"])
    return group["id"], ids


def script(rig: Rig, **body: Any) -> int:
    made = rig.services.scripts.create(
        rig.tenant, validate(ScriptIn, {"name": unique("bot"), **body})
    )
    return int(made["id"])


def seconds(a: dict[str, Any], start: str, end: str) -> float:
    return float((a[end] - a[start]).total_seconds())


def test_hand_offs_reach_an_agent_or_the_scripts_fallback(make_rig: RigFactory) -> None:
    rig = make_rig()
    group, agent_ids = team(rig, 2)
    bot = script(rig, transfer_skill_group_id=group, transfer_wait_seconds=15)
    campaign_id = rig.campaign(people(40), script_id=bot, max_concurrency=10, acw_seconds=5)
    rig.run(campaign_id, CALLEES, horizon_days=1)
    made = rig.attempts(campaign_id)
    assert len(made) == 40 and {a["outcome"] for a in made} == {"answered"}
    handed = [a for a in made if a["transferred_at"] is not None]
    bridged = [a for a in handed if a["transfer_result"] == "bridged"]
    missed = [a for a in handed if a["transfer_result"] == "no_agent"]
    assert 10 <= len(handed) <= 30 and bridged and missed
    assert len(bridged) + len(missed) == len(handed)
    for a in handed:
        assert seconds(a, "answered_at", "transferred_at") == HANDOFF_AFTER
    for a in bridged:  # an agent took it within the wait and talked with the caller
        assert a["agent_id"] in agent_ids
        assert AGENT_TALK <= seconds(a, "transferred_at", "ended_at") <= AGENT_TALK + 15
    for a in missed:  # nobody within 15 s: the script took the call back
        assert a["agent_id"] is None
        assert seconds(a, "transferred_at", "ended_at") == 15 + RESUMED_TALK
    for a in made:
        if a["transferred_at"] is None:
            assert (a["agent_id"], a["transfer_result"]) == (None, None)
            assert seconds(a, "answered_at", "ended_at") == SCRIPT_TALK
    for agent_id in agent_ids:  # one call at a time, after-call work included
        mine = [a for a in bridged if a["agent_id"] == agent_id]
        talk, acw = timedelta(seconds=AGENT_TALK), timedelta(seconds=5)
        busy = [(a["ended_at"] - talk, a["ended_at"] + acw) for a in mine]  # bridge to ready
        assert mine and peak(busy) == 1
    transfers = rig.services.campaigns.stats(rig.tenant, campaign_id)["attempts"]["transfers"]
    assert transfers == {"requested": len(handed), "bridged": len(bridged), "no_agent": len(missed)}
    states = {rig.services.agents.get(rig.tenant, i)["state"] for i in agent_ids}
    assert states == {"ready"}
    rig.audited(campaign_id)


def test_no_agent_and_a_hangup_fallback_ends_the_call(make_rig: RigFactory) -> None:
    rig = make_rig()
    group, _ = team(rig, 2, ready=False)  # logged in, not ready: nobody takes a call
    bot = script(rig, transfer_skill_group_id=group, transfer_fallback="hangup")
    campaign_id = rig.campaign(people(20), script_id=bot)
    rig.run(campaign_id, CALLEES, horizon_days=1)
    made = rig.attempts(campaign_id)
    handed = [a for a in made if a["transferred_at"] is not None]
    assert handed and all(a["transfer_result"] == "no_agent" for a in handed)
    for a in handed:  # no wait: the apology and the hangup come at once
        assert a["transferred_at"] == a["ended_at"] and a["agent_id"] is None
        assert a["outcome"] == "answered"
    rig.audited(campaign_id)


def test_the_campaigns_skill_group_takes_hand_offs_when_the_script_names_none(
    make_rig: RigFactory,
) -> None:
    """云蝠's customer_service_id: the transfer group set on the task itself."""
    rig = make_rig()
    group, agent_ids = team(rig, 3)
    campaign_id = rig.campaign(people(12), skill_group_id=group, max_concurrency=3)
    rig.run(campaign_id, CALLEES, horizon_days=1)
    handed = [a for a in rig.attempts(campaign_id) if a["transferred_at"] is not None]
    assert handed and all(a["transfer_result"] == "bridged" for a in handed)
    assert {a["agent_id"] for a in handed} <= set(agent_ids)
    rig.audited(campaign_id)


def test_a_caller_who_hangs_up_while_waiting_for_an_agent_is_abandoned(
    make_rig: RigFactory,
) -> None:
    """The network reports a normal clearing; the engine knows nobody had taken the call, so
    the attempt is abandoned (FCC) all the same."""
    rig = make_rig()
    group, _ = team(rig, 1)
    campaign_id = rig.campaign(
        people(30),
        pacing_mode="ratio",
        ratio=3.0,
        script_id=None,
        skill_group_id=group,
        max_concurrency=3,
    )
    callees = CalleeModel(
        rates={Outcome.ANSWERED: 1.0},
        pdd=Dist("fixed", 1),
        ring_answer=Dist("uniform", 3, 6),
        talk=Dist("fixed", 30),
        seed=9,
    )
    clock = rig.clock
    worker = Worker(rig.store, clock, lambda line: SimTelephony(callees, clock, patience=1.0), DAYS)
    rig.loop.run_until_complete(asyncio.wait_for(worker.run_campaign(campaign_id), 86400))
    made = rig.attempts(campaign_id)
    lost = [a for a in made if a["outcome"] == Outcome.ABANDONED.value]
    assert lost, "three calls per agent must leave some callers waiting"
    for a in lost:
        assert a["abandoned"] and a["agent_id"] is None
        assert seconds(a, "answered_at", "ended_at") == 1.0  # their patience, not our grace
        assert a["native_cause"] == "sim:caller_hung_up"
    assert all(a["agent_id"] is not None for a in made if a["outcome"] == "answered")
    stats = rig.services.campaigns.stats(rig.tenant, campaign_id)
    assert stats["attempts"]["abandoned"] == len(lost)
    rig.audited(campaign_id)


def test_an_agent_who_presses_ready_takes_the_caller_already_waiting(
    make_rig: RigFactory,
) -> None:
    """The desk hands a waiting caller to an agent who became ready through the agent API,
    not only to one whose after-call work ended."""
    rig = make_rig()
    group, (agent_id,) = team(rig, 1, ready=False)
    bot = script(rig, transfer_skill_group_id=group, transfer_wait_seconds=60)
    callees = replace(CALLEES, handoff_share=1.0)
    campaign_id = rig.campaign(people(1), script_id=bot)
    handoff_at = rig.clock.now() + timedelta(seconds=1 + 5 + HANDOFF_AFTER)
    ready_at = handoff_at + timedelta(seconds=20)
    rig.at(ready_at, lambda: rig.services.agents.act(rig.tenant, agent_id, AgentAction.READY))
    rig.run(campaign_id, callees, horizon_days=1)
    (made,) = rig.attempts(campaign_id)
    assert made["transferred_at"] == handoff_at
    assert (made["transfer_result"], made["agent_id"]) == ("bridged", agent_id)
    assert ready_at <= made["connected_at"] <= ready_at + timedelta(seconds=0.25)
