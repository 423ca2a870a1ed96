"""The forecast (`GET /campaigns/{id}/forecast`) through the real HTTP server, on SQLite and
PostgreSQL: learnt, default and given rates, the calendar, the agents needed, and field-level
422s that change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from outdial.domain.agents import AgentAction
from outdial.domain.outcomes import Outcome
from outdial.services.container import Services
from outdial.services.models import AgentIn, ApiKeyIn, SkillGroupIn
from outdial.services.validation import validate
from outdial.sim.callees import CalleeModel
from tests.conftest import unique
from tests.integration.test_engine_rules import Rig, people
from tests.support import Api, ended_attempt, fields


def _contacts(api: Api, campaign_id: int, count: int, start: int = 0) -> list[dict[str, Any]]:
    for first in range(start, start + count, 1000):
        rows = [
            {"phones": [{"number": f"+86139{i:08d}"}]}
            for i in range(first, min(first + 1000, start + count))
        ]
        api.ok(api.post(f"/campaigns/{campaign_id}/contacts", {"contacts": rows}))
    return list(api.ok(api.get(f"/campaigns/{campaign_id}/contacts", page_size=500))["items"])


def _team(api: Api, size: int, logged_in: int) -> tuple[int, list[int]]:
    group = api.ok(api.post("/skill-groups", {"name": unique("sales")}), 201)
    ids = []
    for n in range(size):
        body = {
            "name": unique("agent"),
            "endpoint": f"user/{1000 + n}",
            "skill_group_ids": [group["id"]],
        }
        agent = api.ok(api.post("/agents", body), 201)
        if n < logged_in:
            api.ok(api.post(f"/agents/{agent['id']}/login"))
            api.ok(api.post(f"/agents/{agent['id']}/ready"))
        ids.append(agent["id"])
    return group["id"], ids


def _agent_campaign(
    api: Api, contacts: int = 60, team: tuple[int, int] = (3, 2), **over: Any
) -> dict[str, Any]:
    group, agent_ids = _team(api, *team)
    line = api.ok(api.post("/lines", {"name": unique("line"), "channels": 50}), 201)
    body = {
        "name": unique("campaign"),
        "line_id": line["id"],
        "skill_group_id": group,
        "pacing_mode": "progressive",
        "max_concurrency": 50,
        "timezone": "UTC",
        **over,
    }
    campaign = api.ok(api.post("/campaigns", body), 201)
    campaign["agent_ids"] = agent_ids
    campaign["contact_rows"] = _contacts(api, campaign["id"], contacts)
    return dict(campaign)


def _robot_campaign(api: Api, contacts: int = 200, **over: Any) -> dict[str, Any]:
    line = api.ok(api.post("/lines", {"name": "l", "channels": 20}), 201)
    script = api.ok(api.post("/scripts", {"name": "s"}), 201)
    body = {"name": "r", "line_id": line["id"], "script_id": script["id"], "timezone": "UTC"}
    campaign = api.ok(api.post("/campaigns", {**body, **over}), 201)
    _contacts(api, campaign["id"], contacts)
    return dict(campaign)


def _forecast(api: Api, campaign: dict[str, Any], **params: str) -> dict[str, Any]:
    return dict(api.ok(api.get(f"/campaigns/{campaign['id']}/forecast", **params)))


def _snapshot(api: Api, campaign_id: int) -> tuple[Any, ...]:
    return (
        api.ok(api.get(f"/campaigns/{campaign_id}")),
        api.ok(api.get(f"/campaigns/{campaign_id}/stats")),
        api.ok(api.get(f"/campaigns/{campaign_id}/contacts", page_size=500)),
        api.ok(api.get(f"/campaigns/{campaign_id}/attempts"))["total"],
        api.ok(api.get("/agents"))["items"],
    )


def _sources(answer: dict[str, Any]) -> dict[str, str]:
    return {k: v["source"] for k, v in answer["rates"].items() if isinstance(v, dict)}


# --- answers ----------------------------------------------------------------------------------


def test_a_fresh_campaign_is_forecast_from_defaults_and_its_logged_in_team(api: Api) -> None:
    campaign = _agent_campaign(api)
    before = _snapshot(api, campaign["id"])
    answer = _forecast(api, campaign)
    assert answer["campaign_id"] == campaign["id"] and answer["state"] == "draft"
    assert answer["pacing_mode"] == "progressive" and answer["law"] == "progressive"
    assert answer["team"] == {"agents": 2, "source": "logged_in"} and answer["agents"] == 2
    assert answer["max_calls"] == 50
    assert answer["contacts"]["pending"] == 60 and answer["contacts"]["attempts_per_contact"] == 1
    assert set(_sources(answer).values()) == {"default", "setting"}
    assert (
        answer["rates"]["answer_rate"]["value"] == 0.35 and answer["rates"]["ledger_attempts"] == 0
    )
    assert answer["rates"]["acw_seconds"] == {"value": 10.0, "source": "setting"}
    hours = answer["dialing_hours"]
    assert 0 < hours["low"] <= hours["mean"] <= hours["high"]
    assert answer["dials"]["mean"] == 60 and answer["abandonment"]["high"] == 0.0
    assert answer["connects"]["mean"] == pytest.approx(60 * 0.35, rel=0.01)
    finish = answer["finish"]
    at = datetime.fromisoformat(finish["at"])
    assert finish["finishes"] and finish["contacts_left"] == 0
    assert at - datetime.fromisoformat(answer["at"]) == pytest.approx(
        timedelta(hours=hours["mean"]), abs=timedelta(seconds=4)
    )
    assert answer["finish_by"] is None and answer["method"]["seeds"]
    assert any("draft" in note for note in answer["notes"])
    assert _snapshot(api, campaign["id"]) == before


def test_rates_are_learnt_from_the_ledger(api: Api, server: tuple[str, Services]) -> None:
    campaign = _agent_campaign(api, contacts=100)
    rows, agent = campaign["contact_rows"], campaign["agent_ids"][0]
    start = datetime.now(UTC) - timedelta(hours=1)
    plan = [("answered", 40), ("no_answer", 40), ("busy", 15), ("abandoned", 5)]
    with server[1].store.write() as conn:
        index = 0
        for outcome, count in plan:
            for _ in range(count):
                created = start + timedelta(seconds=index * 200)
                conn.execute(_attempt(api, campaign["id"], rows[index], outcome, created, agent))
                index += 1
    answer = _forecast(api, campaign)
    rates = answer["rates"]
    assert rates["ledger_attempts"] == 100
    assert rates["answer_rate"] == {"value": 0.45, "source": "learnt"}  # abandoned ones count
    assert rates["outcome_mix"]["value"] == {"answered": 0.45, "busy": 0.15, "no_answer": 0.4}
    assert rates["answer_delay_seconds"] == {"value": 10.0, "source": "learnt"}
    assert rates["no_answer_seconds"] == {"value": 25.0, "source": "learnt"}
    assert rates["fail_seconds"] == {"value": 3.0, "source": "learnt"}
    assert rates["talk_seconds"] == {"value": 60.0, "source": "learnt", "cv": 0.0}
    assert answer["so_far"] == {"live_answers": 45, "abandoned": 5}
    assert answer["contacts"]["pending"] == 100  # the rows above moved no contact on


def _attempt(
    api: Api, campaign_id: int, contact: dict[str, Any], outcome: str, at: datetime, agent: int
) -> Any:
    live = outcome in ("answered", "abandoned")
    ends = {"answered": 70, "abandoned": 12, "no_answer": 25, "busy": 3}
    return ended_attempt(
        api,
        campaign_id,
        contact,
        outcome=outcome,
        created_at=at,
        answered_at=at + timedelta(seconds=10) if live else None,
        ended_at=at + timedelta(seconds=ends[outcome]),
        talk_seconds=60.0 if outcome == "answered" else 0.0,
        agent_id=agent if outcome == "answered" else None,
        abandoned=outcome == "abandoned",
    )


def test_given_rates_and_team_replace_the_campaigns_own(api: Api) -> None:
    campaign = _agent_campaign(api)
    params = {"agents": "4", "answer_rate": "0.2", "talk_seconds": "90", "acw_seconds": "5"}
    answer = _forecast(api, campaign, seeds="2", **params)
    assert answer["team"] == {"agents": 4, "source": "given"}
    rates = answer["rates"]
    assert rates["answer_rate"] == {"value": 0.2, "source": "given"}
    assert rates["talk_seconds"]["value"] == 90.0 and rates["talk_seconds"]["source"] == "given"
    assert rates["acw_seconds"] == {"value": 5.0, "source": "given"}
    assert sum(rates["outcome_mix"]["value"].values()) == pytest.approx(1.0, abs=1e-3)
    assert len(answer["method"]["seeds"]) == 2
    assert answer["connects"]["mean"] == pytest.approx(60 * 0.2, rel=0.01)


def test_finish_by_finds_the_fewest_agents_that_make_it(api: Api) -> None:
    campaign = _agent_campaign(api, contacts=600)
    base = _forecast(api, campaign)
    target = base["dialing_hours"]["mean"] / 2
    answer = _forecast(api, campaign, finish_by=f"{target:.4f}")
    staffing = answer["finish_by"]
    assert staffing is not None and staffing["finishes_by"] is False
    needed = staffing["agents_needed"]
    assert needed is not None and 2 < needed <= 8 and staffing["max_agents"] == 50
    by = datetime.fromisoformat(staffing["at"])
    assert datetime.fromisoformat(staffing["finish_at"]) <= by
    tried = {t["agents"]: t for t in staffing["tried"]}
    assert needed - 1 in tried and datetime.fromisoformat(tried[needed - 1]["finish_at"]) > by
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    easy = _forecast(api, campaign, finish_by=later)["finish_by"]
    assert easy["finishes_by"] is True and easy["agents_needed"] <= 2


def test_the_calendar_says_when_and_whether_it_finishes(api: Api) -> None:
    now = datetime.now(UTC)
    window = {
        "start": (now + timedelta(hours=1)).strftime("%H:%M"),
        "end": (now + timedelta(hours=3)).strftime("%H:%M"),
    }
    opens_later = _agent_campaign(api, windows=[window])
    answer = _forecast(api, opens_later)
    assert datetime.fromisoformat(answer["finish"]["at"]) > now + timedelta(minutes=59)
    short = _agent_campaign(
        api, contacts=300, period_end=(now + timedelta(minutes=5)).isoformat(), team=(1, 1)
    )
    answer = _forecast(api, short)
    finish = answer["finish"]
    assert finish["finishes"] is False and finish["at"] is None
    assert 0 < finish["contacts_left"] < 300 and finish["open_hours"] <= 5 / 60
    assert any("closes for good" in note for note in answer["notes"])


def test_an_agentless_campaign_is_forecast_by_its_channels(api: Api) -> None:
    campaign = _robot_campaign(api, max_concurrency=10, call_gap_seconds=2)
    answer = _forecast(api, campaign, finish_by="48")
    assert answer["pacing_mode"] == "agentless" and answer["law"] == "capacity"
    assert answer["agents"] is None and answer["team"] is None and answer["max_calls"] == 10
    assert answer["abandonment"] is None and answer["occupancy"] is None
    assert "acw_seconds" not in answer["rates"]
    assert answer["finish_by"]["finishes_by"] is True
    assert answer["finish_by"]["agents_needed"] is None and answer["finish_by"]["tried"] == []
    # 200 calls on 10 channels, each about 0.35·(11 + 120) + 0.65·(≈20) s, plus the 2-s gap
    assert 0.1 < answer["dialing_hours"]["mean"] < 0.5


def test_a_campaign_run_by_the_engine_is_forecast_from_its_ledger(
    server: tuple[str, Services],
) -> None:
    """A progressive campaign dialed through the real engine in virtual time; then new contacts
    are appended and the forecast learns the rates from what the engine wrote."""
    rig = Rig(server[1].store)
    try:
        key = rig.services.tenants.issue_api_key(rig.tenant.id, ApiKeyIn())["secret"]
        group = rig.services.skill_groups.create(rig.tenant, validate(SkillGroupIn, {"name": "g"}))
        for n in range(3):
            body = {"name": f"a{n}", "skill_group_ids": [group["id"]]}
            agent = rig.services.agents.create(rig.tenant, validate(AgentIn, body))
            rig.services.agents.act(rig.tenant, agent["id"], AgentAction.LOGIN)
            rig.services.agents.act(rig.tenant, agent["id"], AgentAction.READY)
        campaign_id = rig.campaign(
            people(150),
            pacing_mode="progressive",
            script_id=None,
            skill_group_id=group["id"],
            timezone="UTC",
        )
        callees = CalleeModel(rates={Outcome.ANSWERED: 0.4, Outcome.BUSY: 0.1}, seed=3)
        rig.run(campaign_id, callees, horizon_days=1)
    finally:
        rig.close()
    api = Api(server[0], key)
    try:
        api.ok(api.post(f"/campaigns/{campaign_id}/contacts", {"contacts": people(200, "+86137")}))
        answer = _forecast(api, {"id": campaign_id})
    finally:
        api.close()
    rates = answer["rates"]
    assert rates["ledger_attempts"] == 150 and answer["contacts"]["pending"] == 200
    assert {s for k, s in _sources(answer).items() if k != "acw_seconds"} == {"learnt"}
    assert rates["answer_rate"]["value"] == pytest.approx(0.4, abs=0.1)
    assert 20 < rates["talk_seconds"]["value"] < 150
    assert answer["team"] == {"agents": 3, "source": "logged_in"}
    assert answer["finish"]["finishes"] and answer["connects"]["mean"] > 40


# --- refusals ---------------------------------------------------------------------------------

BAD = [
    ({"agents": "0"}, {"agents"}),
    ({"agents": "501"}, {"agents"}),
    ({"agents": "two"}, {"agents"}),
    ({"agents": "2.5"}, {"agents"}),
    ({"answer_rate": "0"}, {"answer_rate"}),
    ({"answer_rate": "1.5"}, {"answer_rate"}),
    ({"answer_rate": "nan"}, {"answer_rate"}),
    ({"answer_rate": "half"}, {"answer_rate"}),
    ({"talk_seconds": "0"}, {"talk_seconds"}),
    ({"talk_seconds": "inf"}, {"talk_seconds"}),
    ({"acw_seconds": "-1"}, {"acw_seconds"}),
    ({"acw_seconds": "601"}, {"acw_seconds"}),
    ({"finish_by": "2020-01-01T00:00:00Z"}, {"finish_by"}),
    ({"finish_by": "2099-01-01T00:00:00"}, {"finish_by"}),
    ({"finish_by": "2099-01-01T00:00:00Z"}, {"finish_by"}),
    ({"finish_by": "tomorrow"}, {"finish_by"}),
    ({"finish_by": "0"}, {"finish_by"}),
    ({"finish_by": "-5"}, {"finish_by"}),
    ({"seeds": "0"}, {"seeds"}),
    ({"seeds": "11"}, {"seeds"}),
    ({"page": "1"}, {"page"}),
    ({"agent": "3"}, {"agent"}),
    ({"agents": "0", "seeds": "x", "talk_seconds": "-1"}, {"agents", "seeds", "talk_seconds"}),
]


@pytest.mark.parametrize(("params", "named"), BAD, ids=[str(p) for p, _ in BAD])
def test_each_bad_parameter_is_a_field_level_422_that_changes_nothing(
    api: Api, params: dict[str, str], named: set[str]
) -> None:
    campaign = _agent_campaign(api, contacts=5)
    before = _snapshot(api, campaign["id"])
    refused = api.get(f"/campaigns/{campaign['id']}/forecast", **params)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "validation_error" and fields(refused) == named
    assert _snapshot(api, campaign["id"]) == before


def test_a_parameter_given_twice_is_refused(api: Api) -> None:
    campaign = _agent_campaign(api, contacts=5)
    path = f"/campaigns/{campaign['id']}/forecast"
    refused = api.http.get(path, params=[("agents", "2"), ("agents", "3")])
    assert refused.status_code == 422 and fields(refused) == {"agents"}


@pytest.mark.parametrize("name", ["agents", "acw_seconds"])
def test_a_robot_campaign_refuses_agent_figures(api: Api, name: str) -> None:
    campaign = _robot_campaign(api, contacts=5)
    before = _snapshot(api, campaign["id"])
    refused = api.get(f"/campaigns/{campaign['id']}/forecast", **{name: "5"})
    assert refused.status_code == 422 and fields(refused) == {name}
    assert refused.json()["details"][0]["type"] == "not_applicable"
    assert _snapshot(api, campaign["id"]) == before


def test_an_agent_campaign_without_a_team_must_be_given_one(api: Api) -> None:
    campaign = _agent_campaign(api, contacts=5, team=(0, 0))
    before = _snapshot(api, campaign["id"])
    refused = api.get(f"/campaigns/{campaign['id']}/forecast")
    assert refused.status_code == 422 and fields(refused) == {"agents"}
    assert _forecast(api, campaign, agents="3")["team"] == {"agents": 3, "source": "given"}
    assert _snapshot(api, campaign["id"]) == before


def test_another_tenants_or_an_unknown_campaign_is_404(api: Api, new_tenant: Any) -> None:
    campaign = _agent_campaign(api, contacts=5)
    path = f"/campaigns/{campaign['id']}/forecast"
    other = new_tenant()
    for resp in (
        other.get(path),
        other.get(path, agents="0"),
        api.get("/campaigns/999999/forecast"),
    ):
        assert resp.status_code == 404 and resp.json()["code"] == "not_found"
