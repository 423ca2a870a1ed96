"""Preview (manual) tasks, 得助 taskType 2, through the real HTTP server and the real engine.

Each test serves the services of a ``Rig`` (tenant, line, store, virtual clock) over a real
uvicorn server and, where calls are placed, runs the real Worker and CampaignRunner with the sim
driver on the Rig's virtual loop. The API and the engine share only the store (and the clock):
an agent's dial request reaches the engine through the ``previews`` table, as it does when the
API and the worker are separate processes. Virtual time moves only while the loop runs, so the
HTTP calls made between runs see one frozen instant. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from outdial.api.app import create_app
from outdial.domain.outcomes import Outcome
from outdial.engine.worker import EngineSettings, Worker
from outdial.services.common import Tenant
from outdial.services.models import CredentialIn, TenantIn
from outdial.services.validation import validate
from outdial.sim.callees import CalleeModel
from outdial.store.schema import agents, attempts, contacts, previews
from tests.conftest import ADMIN_KEY, unique
from tests.integration.test_engine_rules import Rig, RigFactory, callees, people
from tests.support import Api, live_server

ANSWERS = "+86139"  # numbers starting so answer (after 2 s to ring, 5 s of ringing; 30 s talk)
SILENT = "+86138"  # numbers starting so ring out (ring timeout) unanswered
PICKUP = 7.0  # originate → answer
TALK = 30.0


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Floor:
    """A call floor for preview tasks: the Rig's services over HTTP, agents, campaigns, and an
    engine worker on the Rig's virtual loop."""

    def __init__(self, rig: Rig, api: Api):
        self.rig, self.api = rig, api
        self.worker: Worker | None = None
        self.group = self.ok(self.api.post("/skill-groups", {"name": "outbound"}), 201)["id"]

    # --- set-up ------------------------------------------------------------------------------

    def ok(self, response: httpx2.Response, status: int = 200) -> Any:
        return self.api.ok(response, status)

    def agent(self, name: str, ready: bool = True, in_group: bool = False) -> int:
        body = {"name": name, "endpoint": f"user/{name}"}
        if in_group:
            body["skill_group_ids"] = [self.group]  # type: ignore[assignment]
        agent_id = int(self.ok(self.api.post("/agents", body), 201)["id"])
        if ready:
            self.ok(self.api.post(f"/agents/{agent_id}/login"))
            self.ok(self.api.post(f"/agents/{agent_id}/ready"))
        return agent_id

    def campaign(
        self,
        rows: list[dict[str, Any]],
        assignments: list[dict[str, Any]] | None = None,
        start: bool = True,
        **fields: Any,
    ) -> int:
        body = {
            "name": unique("manual"),
            "kind": "manual",
            "pacing_mode": "preview",
            "line_id": self.rig.line_id,
            "acw_seconds": 10,
            "ring_timeout_seconds": 20,
            "agent_assignments": assignments or [],
            **fields,
        }
        campaign_id = int(self.ok(self.api.post("/campaigns", body), 201)["id"])
        if rows:
            report = self.ok(
                self.api.post(f"/campaigns/{campaign_id}/contacts", {"contacts": rows})
            )
            assert report["accepted"] == len(rows), report
        if start:
            assert self.ok(self.api.post(f"/campaigns/{campaign_id}/start"))["state"] == "running"
        return campaign_id

    # --- the engine and virtual time ---------------------------------------------------------

    def start_engine(self, *campaign_ids: int, model: CalleeModel | None = None) -> None:
        plan = {ANSWERS: Outcome.ANSWERED}
        self.worker = self.rig.worker(model or callees(plan=plan), EngineSettings())
        worker = self.worker

        async def start() -> None:
            for campaign_id in campaign_ids:
                worker.start(campaign_id)

        self.rig.loop.run_until_complete(start())
        self.run(0.1)

    def stop_engine(self) -> None:
        if self.worker is not None:
            self.rig.loop.run_until_complete(self.worker.shutdown())
            self.worker = None

    def run(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass (the engine works meanwhile)."""
        self.rig.loop.run_until_complete(asyncio.sleep(seconds))

    def now(self) -> datetime:
        return self.rig.clock.now()

    # --- the agent's side --------------------------------------------------------------------

    def next(self, agent_id: int, **body: Any) -> httpx2.Response:
        return self.api.post(f"/agents/{agent_id}/preview/next", body or None)

    def take(self, agent_id: int, **body: Any) -> dict[str, Any]:
        return dict(self.ok(self.next(agent_id, **body)))

    def dial(self, agent_id: int, contact_id: int) -> httpx2.Response:
        return self.api.post(f"/agents/{agent_id}/preview/dial", {"contact_id": contact_id})

    def skip(self, agent_id: int, contact_id: int, **body: Any) -> httpx2.Response:
        body = {"contact_id": contact_id, **body}
        return self.api.post(f"/agents/{agent_id}/preview/skip", body)

    def preview(self, agent_id: int) -> dict[str, Any]:
        return dict(self.ok(self.api.get(f"/agents/{agent_id}/preview")))

    def state(self, agent_id: int) -> str:
        return str(self.ok(self.api.get(f"/agents/{agent_id}"))["state"])

    def contacts(self, campaign_id: int) -> list[dict[str, Any]]:
        got = self.ok(self.api.get(f"/campaigns/{campaign_id}/contacts", page_size=500))
        return list(got["items"])

    def owners(self, campaign_id: int) -> list[int | None]:
        return [c["assigned_agent_id"] for c in self.contacts(campaign_id)]

    # --- the store, read directly ------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything a preview request could change, straight from the store."""
        tenant = self.rig.tenant.id
        with self.rig.store.read() as conn:

            def rows(table: Any) -> list[dict[str, Any]]:
                query = select(table).where(table.c.tenant_id == tenant).order_by(table.c.id)
                return [dict(r._mapping) for r in conn.execute(query)]

            return {t.name: rows(t) for t in (agents, contacts, previews, attempts)}

    def ledger(self, campaign_id: int) -> list[dict[str, Any]]:
        return self.rig.attempts(campaign_id)


@pytest.fixture
def floor(make_rig: RigFactory) -> Iterator[Floor]:
    rig = make_rig()
    key = rig.services.credentials.create(rig.tenant, CredentialIn(kind="api_key"))["secret"]
    with live_server(create_app(rig.services, ADMIN_KEY)) as url:
        api = Api(url, key)
        made = Floor(rig, api)
        try:
            yield made
        finally:
            made.stop_engine()
            api.close()


def refused(response: httpx2.Response, status: int, code: str, field: str, kind: str) -> Any:
    """Assert an error in the native shape naming ``field`` with ``kind``; return its body."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert set(body) >= {"code", "message", "details"}
    assert {(d["field"], d["type"]) for d in body["details"]} >= {(field, kind)}, body
    return body


# --- assignment: 得助 taskAgents {agentId, assignNum} -------------------------------------------


def test_contacts_go_to_agents_by_assign_count_and_the_rest_is_a_pool(floor: Floor) -> None:
    a, b, c = (floor.agent(n, ready=False) for n in ("ann", "bob", "cyd"))
    campaign = floor.campaign(
        people(8), [{"agent_id": a, "assign_count": 3}, {"agent_id": b, "assign_count": 2}]
    )
    assert floor.owners(campaign) == [a, a, a, b, b, None, None, None]

    # A lower count gives back the newest contacts never dialed; an agent without a count
    # shares whatever the counts leave.
    assignments = [
        {"agent_id": a, "assign_count": 1},
        {"agent_id": b, "assign_count": 2},
        {"agent_id": c},
    ]
    floor.ok(floor.api.patch(f"/campaigns/{campaign}", {"agent_assignments": assignments}))
    assert floor.owners(campaign) == [a, c, c, b, b, c, c, c]
    report = floor.ok(
        floor.api.post(f"/campaigns/{campaign}/contacts", {"contacts": people(2, start=8)})
    )
    assert report["accepted"] == 2
    assert floor.owners(campaign)[8:] == [c, c]

    # An agent taken off the list gives their undialed contacts back to the pool.
    floor.ok(floor.api.patch(f"/campaigns/{campaign}", {"agent_assignments": assignments[:2]}))
    assert floor.owners(campaign) == [a, None, None, b, b, None, None, None, None, None]
    stats = floor.ok(floor.api.get(f"/campaigns/{campaign}/agents"))
    per_agent = {r["agent_id"]: r for r in stats["agents"]}
    assert [r["agent_id"] for r in stats["agents"]][:2] == [a, b]
    assert (per_agent[a]["contacts"]["assigned"], per_agent[a]["assign_count"]) == (1, 1)
    assert per_agent[b]["contacts"]["assigned"] == 2
    assert stats["pool"] == {"total": 7, "pending": 7}


def test_two_agents_without_counts_split_a_list_evenly(floor: Floor) -> None:
    a, b = floor.agent("ann", ready=False), floor.agent("bob", ready=False)
    campaign = floor.campaign(people(5), [{"agent_id": a}, {"agent_id": b}], start=False)
    assert floor.owners(campaign) == [a, b, a, b, a]
    floor.ok(floor.api.post(f"/campaigns/{campaign}/contacts", {"contacts": people(3, start=5)}))
    assert floor.owners(campaign)[5:] == [b, a, b]  # b held 2, a held 3: b first, then alternate


# --- next → dial → answer → bridged → ACW → ready ---------------------------------------------


def test_an_agent_previews_dials_talks_wraps_up_and_is_ready(floor: Floor) -> None:
    a = floor.agent("ann")
    rows = [
        {
            "name": "王芳",
            "external_id": "crm-1",
            "pass_through": "renewal-7",
            "attributes": {"plan": "gold"},
            "phones": [{"number": f"{ANSWERS}00000001"}, {"number": f"{SILENT}00000009"}],
        },
        *people(2, prefix=ANSWERS, start=2),
    ]
    campaign = floor.campaign(rows, [{"agent_id": a, "assign_count": 1}])
    floor.start_engine(campaign)

    held = floor.take(a)
    assert held["state"] == "previewing" and held["campaign_id"] == campaign
    contact = held["contact"]
    assert (contact["name"], contact["pass_through"], contact["attributes"]) == (
        "王芳",
        "renewal-7",
        {"plan": "gold"},
    )
    assert contact["assigned_agent_id"] == a and len(contact["phones"]) == 2
    assert held["phone"]["number"] == "+8613900000001" and held["phone"]["position"] == 0
    assert held["attempts"] == [] and held["attempt"] is None
    assert iso(held["expires_at"]) == floor.now() + timedelta(seconds=120)
    assert floor.state(a) == "reserved"

    requested = floor.ok(floor.dial(a, contact["id"]), 202)
    assert requested["state"] == "dial_requested"
    floor.run(0.6)  # the runner polls every half second
    dialing = floor.preview(a)
    assert dialing["state"] == "dialing" and dialing["attempt"]["agent_id"] == a
    assert dialing["attempt"]["outcome"] is None
    assert floor.state(a) == "reserved"  # ringing: the agent waits for the answer

    floor.run(PICKUP)
    assert floor.state(a) == "on_call"
    floor.run(TALK)
    assert floor.state(a) == "after_call_work"
    done = floor.preview(a)
    assert (done["state"], done["reason"]) == ("dialed", "answered")
    floor.run(10)  # the campaign's ACW
    assert floor.state(a) == "ready"

    [made] = floor.ledger(campaign)
    assert (made["outcome"], made["agent_id"], made["contact_id"]) == ("answered", a, contact["id"])
    assert made["connected_at"] == made["answered_at"]  # bridged at once: never abandoned
    assert made["talk_seconds"] == pytest.approx(TALK)
    assert not made["abandoned"]
    after = floor.ok(floor.api.get(f"/campaigns/{campaign}/contacts/{contact['id']}"))
    assert (after["state"], after["outcome"]) == ("succeeded", "answered")
    assert floor.rig.audited(campaign).passed


def test_a_call_nobody_answers_frees_the_agent_at_once_and_the_redial_comes_back(
    floor: Floor,
) -> None:
    a, b = floor.agent("ann"), floor.agent("bob", in_group=True)
    group = [
        {
            "identify": "default",
            "name": "default",
            "redial_enabled": True,
            "redial_times": 1,
            "redial_interval_seconds": 300,
        }
    ]
    campaign = floor.campaign(
        people(2, prefix=SILENT),
        [{"agent_id": a, "assign_count": 0}],
        skill_group_id=floor.group,
        phone_groups=group,
    )
    floor.start_engine(campaign)
    held = floor.take(b)  # a skill-group agent takes from the pool
    assert held["contact"]["assigned_agent_id"] is None
    floor.ok(floor.dial(b, held["contact"]["id"]), 202)
    floor.run(0.6 + 2 + 20)  # picked up, then 2 s to ring and the 20 s ring timeout
    assert floor.state(b) == "ready"  # nobody answered: no after-call work
    ended = floor.preview(b)
    assert (ended["state"], ended["reason"]) == ("dialed", "no_answer")
    redial = floor.ok(floor.api.get(f"/campaigns/{campaign}/contacts/{held['contact']['id']}"))
    assert (redial["state"], redial["reason"]) == ("pending", "redial_wait")
    assert redial["assigned_agent_id"] == b  # a pool contact an agent dialed becomes theirs

    other = floor.take(b)  # the redial is not due yet: the other pool contact
    assert other["contact"]["id"] != held["contact"]["id"]
    floor.ok(floor.skip(b, other["contact"]["id"], retry_after_seconds=3600))
    nothing = floor.next(a)  # a holds nothing; the pool's contact was skipped
    assert nothing.status_code == 404 and nothing.json()["code"] == "nothing_due"
    # b's redial is b's; the pool's only contact comes back in an hour.
    assert iso(nothing.json()["next_due_at"]) == floor.now() + timedelta(seconds=3600)

    floor.run(300)
    again = floor.take(b)
    assert again["contact"]["id"] == held["contact"]["id"]  # their own redial first
    assert [x["outcome"] for x in again["attempts"]] == ["no_answer"]
    assert again["contact"]["attempt_count"] == 1


def test_agents_asking_at_once_never_hold_the_same_contact(floor: Floor) -> None:
    team = [floor.agent(f"agent{i}") for i in range(4)]
    floor.campaign(people(3), [{"agent_id": a, "assign_count": 0} for a in team])
    with ThreadPoolExecutor(len(team)) as pool:
        answers = list(pool.map(floor.next, team))
    held = [r.json()["contact"]["id"] for r in answers if r.status_code == 200]
    assert len(held) == len(set(held)) == 3  # every pool contact once; the fourth waits
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 404]
    assert Counter(floor.state(a) for a in team) == {"reserved": 3, "ready": 1}


# --- skip and lapse -----------------------------------------------------------------------------


def test_skip_gives_the_contact_back_and_frees_the_agent(floor: Floor) -> None:
    a = floor.agent("ann")
    campaign = floor.campaign(people(2), [{"agent_id": a, "assign_count": 2}])
    first = floor.take(a)
    skipped = floor.ok(floor.skip(a, first["contact"]["id"], reason="customer at work"))
    assert (skipped["state"], skipped["reason"]) == ("skipped", "customer at work")
    assert floor.state(a) == "ready"
    back = floor.ok(floor.api.get(f"/campaigns/{campaign}/contacts/{first['contact']['id']}"))
    assert (back["state"], back["reason"]) == ("pending", "skipped_by_agent")
    assert iso(back["next_eligible_at"]) == floor.now() + timedelta(seconds=600)
    assert back["assigned_agent_id"] == a
    why = floor.ok(
        floor.api.get(f"/campaigns/{campaign}/contacts/{first['contact']['id']}/eligibility")
    )
    assert why["reasons"] == ["skipped_by_agent"]
    second = floor.take(a)
    assert second["contact"]["id"] != first["contact"]["id"]
    floor.ok(floor.skip(a, second["contact"]["id"], retry_after_seconds=0))
    assert floor.take(a)["contact"]["id"] == second["contact"]["id"]  # due again at once
    assert floor.ledger(campaign) == []  # skipping dials nothing


def test_a_hold_that_lapses_frees_the_contact_and_the_agent(floor: Floor) -> None:
    a, b = floor.agent("ann"), floor.agent("bob")
    pool_only = [{"agent_id": a, "assign_count": 0}, {"agent_id": b, "assign_count": 0}]
    campaign = floor.campaign(people(1), pool_only)
    # Without an engine: the agent's next request lapses their old hold first.
    held = floor.take(a, preview_seconds=10)
    floor.run(11)
    assert floor.state(a) == "reserved"  # nobody looked yet
    again = floor.take(a)
    assert again["contact"]["id"] == held["contact"]["id"]
    lapsed = floor.snapshot()["previews"][0]
    assert (lapsed["state"], lapsed["reason"]) == ("expired", "preview_timeout")
    floor.ok(floor.skip(a, again["contact"]["id"], retry_after_seconds=0))

    # With the engine: its poll lapses a hold within half a second.
    floor.start_engine(campaign)
    floor.take(a, preview_seconds=10)
    floor.run(10.6)
    assert floor.state(a) == "ready"
    assert floor.preview(a)["state"] == "expired"
    contact = floor.snapshot()["contacts"][0]
    assert (contact["state"], contact["lease_owner"]) == ("pending", None)
    moved = floor.take(b, campaign_id=campaign)
    assert moved["contact"]["id"] == held["contact"]["id"]  # undialed, it is still the pool's


def test_a_dial_request_no_engine_takes_lapses_and_loses_nothing(floor: Floor) -> None:
    a = floor.agent("ann")
    campaign = floor.campaign(people(1, prefix=ANSWERS), [{"agent_id": a}])
    held = floor.take(a)
    floor.ok(floor.dial(a, held["contact"]["id"]), 202)
    floor.run(31)  # no engine runs: nobody takes the request within 30 s
    floor.start_engine(campaign)
    assert floor.preview(a)["state"] == "expired"
    assert floor.preview(a)["reason"] == "dial_not_taken"
    assert floor.state(a) == "ready" and floor.ledger(campaign) == []
    contact = floor.snapshot()["contacts"][0]
    assert (contact["state"], contact["lease_owner"], contact["attempt_count"]) == (
        "pending",
        None,
        0,
    )


# --- the engine's rules at offer and at the dial instant ----------------------------------------


def test_rules_apply_when_a_contact_is_offered_and_again_when_it_is_dialed(floor: Floor) -> None:
    a = floor.agent("ann")
    rows = people(3, prefix=ANSWERS)
    campaign = floor.campaign(rows, [{"agent_id": a}])
    floor.start_engine(campaign)
    numbers = [r["phones"][0]["number"] for r in rows]
    floor.rig.dnc(numbers[0])  # listed after import
    held = floor.take(a)
    assert held["phone"]["number"] == numbers[1]  # the listed number is never offered
    blocked = floor.snapshot()["contacts"][0]
    assert (blocked["state"], blocked["outcome"]) == ("failed", "dnc_blocked")

    floor.rig.dnc(numbers[1])  # listed while the agent reads the contact
    floor.ok(floor.dial(a, held["contact"]["id"]), 202)
    floor.run(1)
    ended = floor.preview(a)
    assert (ended["state"], ended["reason"]) == ("refused", "dnc")
    assert floor.state(a) == "ready"
    assert floor.ledger(campaign) == []  # nothing dialed
    assert floor.rig.audited(campaign).passed


def test_nothing_due_says_when_the_next_contact_is(floor: Floor) -> None:
    a = floor.agent("ann")
    # 08:00 in Shanghai now; the window opens at 09:00.
    campaign = floor.campaign(
        people(2), [{"agent_id": a}], windows=[{"start": "09:00", "end": "18:00"}]
    )
    response = floor.next(a)
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["code"] == "nothing_due" and body["campaign_ids"] == [campaign]
    assert iso(body["next_due_at"]) == floor.now() + timedelta(hours=1)
    assert {c["reason"] for c in floor.contacts(campaign)} == {"outside_window"}
    assert floor.state(a) == "ready"
    floor.run(3600)
    assert floor.take(a)["contact"]["id"] == floor.contacts(campaign)[0]["id"]


# --- campaigns that stop, engines that restart ------------------------------------------------


def test_pausing_the_campaign_releases_holds_and_dialing_is_refused(floor: Floor) -> None:
    a = floor.agent("ann")
    campaign = floor.campaign(people(1), [{"agent_id": a}])
    held = floor.take(a)
    floor.ok(floor.api.post(f"/campaigns/{campaign}/pause"))
    assert floor.state(a) == "ready"
    assert (floor.preview(a)["state"], floor.preview(a)["reason"]) == (
        "released",
        "campaign_paused",
    )
    refused(floor.dial(a, held["contact"]["id"]), 409, "conflict", "contact_id", "preview_ended")
    body = refused(floor.next(a), 409, "conflict", "campaign_id", "not_running")
    assert body["state"] == "paused"


def test_an_engine_restart_mid_call_loses_no_contact_and_frees_the_agent(floor: Floor) -> None:
    a = floor.agent("ann")
    campaign = floor.campaign(people(1, prefix=ANSWERS), [{"agent_id": a}])
    floor.start_engine(campaign)
    held = floor.take(a)
    floor.ok(floor.dial(a, held["contact"]["id"]), 202)
    floor.run(3)  # ringing
    floor.stop_engine()  # the worker dies; its calls are gone with its driver
    floor.start_engine(campaign)  # another worker reconciles the ledger
    floor.run(1)
    [lost] = floor.ledger(campaign)
    assert (lost["outcome"], lost["native_cause"]) == ("cancelled", "lost: engine restarted")
    assert (floor.preview(a)["state"], floor.preview(a)["reason"]) == ("dialed", "cancelled")
    assert floor.state(a) == "ready"
    contact = floor.snapshot()["contacts"][0]
    assert (contact["state"], contact["reason"]) == ("pending", "requeued")
    assert floor.take(a)["contact"]["id"] == held["contact"]["id"]


def test_a_contact_held_for_preview_cannot_be_deleted(floor: Floor) -> None:
    a = floor.agent("ann")
    campaign = floor.campaign(people(1), [{"agent_id": a}])
    held = floor.take(a)
    before = floor.snapshot()
    response = floor.api.delete(f"/campaigns/{campaign}/contacts/{held['contact']['id']}")
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert floor.snapshot() == before


# --- statistics per agent equal the ledger ------------------------------------------------------


def test_statistics_per_agent_equal_the_ledger(floor: Floor) -> None:
    a, b = floor.agent("ann"), floor.agent("bob")
    rows = people(4, prefix=ANSWERS) + people(4, prefix=SILENT)  # 2 stay for the pool
    campaign = floor.campaign(
        rows, [{"agent_id": a, "assign_count": 2}, {"agent_id": b, "assign_count": 2}]
    )
    floor.start_engine(campaign)
    for _ in range(3):
        for agent in (a, b):
            response = floor.next(agent)
            if response.status_code == 200:
                floor.ok(floor.dial(agent, response.json()["contact"]["id"]), 202)
        floor.run(60)
    held = floor.take(a)
    floor.ok(floor.skip(a, held["contact"]["id"]))

    made = floor.ledger(campaign)
    assert {m["agent_id"] for m in made} == {a, b} and all(m["ended_at"] for m in made)
    stats = floor.ok(floor.api.get(f"/campaigns/{campaign}/agents"))
    per_agent = {r["agent_id"]: r for r in stats["agents"]}
    owned: defaultdict[int | None, Counter[str]] = defaultdict(Counter)
    for c in floor.snapshot()["contacts"]:
        owned[c["assigned_agent_id"]][c["state"]] += 1
    for agent in (a, b):
        mine = [m for m in made if m["agent_id"] == agent]
        answered = [m for m in mine if m["outcome"] == "answered"]
        talk = sum(m["talk_seconds"] for m in mine)
        row = per_agent[agent]["attempts"]
        assert row["total"] == len(mine) and row["open"] == 0
        assert row["answered"] == len(answered)
        assert row["contacts_dialed"] == len({m["contact_id"] for m in mine})
        assert row["talk_seconds"] == pytest.approx(talk)
        if answered:
            assert row["average_talk_seconds"] == pytest.approx(talk / len(answered))
            assert row["average_handle_seconds"] == pytest.approx(talk / len(answered) + 10)
        counts = per_agent[agent]["contacts"]
        assert counts["assigned"] == sum(owned[agent].values())
        assert counts["pending"] == owned[agent]["pending"]
        assert counts["succeeded"] == owned[agent]["succeeded"]
    assert per_agent[a]["previews"]["skipped"] == 1
    assert per_agent[a]["previews"]["dialed"] + per_agent[b]["previews"]["dialed"] == len(made)
    assert stats["pool"]["total"] == sum(owned[None].values())
    totals = floor.ok(floor.api.get(f"/campaigns/{campaign}/stats"))["attempts"]
    assert totals["total"] == sum(r["attempts"]["total"] for r in stats["agents"]) == len(made)
    assert floor.rig.audited(campaign).passed


# --- bad input: a field-level error, and nothing changes ----------------------------------------


def test_agents_who_may_not_take_a_contact_are_refused_and_nothing_changes(
    floor: Floor, new_tenant_api: Api
) -> None:
    offline = floor.agent("off", ready=False)
    resting = floor.agent("rest", ready=False)
    floor.ok(floor.api.post(f"/agents/{resting}/login"))
    stranger = floor.agent("stranger")
    ready = floor.agent("ready")
    team = [
        {"agent_id": ready},
        {"agent_id": offline, "assign_count": 0},
        {"agent_id": resting, "assign_count": 0},
    ]
    campaign = floor.campaign(people(2), team)
    auto = floor.ok(
        floor.api.post(
            "/campaigns",
            {"name": "robot", "line_id": floor.rig.line_id, "script_id": floor.rig.script_id},
        ),
        201,
    )["id"]
    draft = floor.campaign(people(1, start=50), [{"agent_id": ready}], start=False)
    before = floor.snapshot()

    unknown = floor.next(999_999)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    foreign = new_tenant_api.post(f"/agents/{ready}/preview/next")
    assert foreign.status_code == 404
    body = refused(floor.next(offline), 409, "conflict", "agent_id", "not_logged_in")
    assert body["state"] == "offline"
    body = refused(floor.next(resting), 409, "conflict", "agent_id", "not_ready")
    assert body["state"] == "not_ready"
    refused(floor.next(stranger), 409, "conflict", "agent_id", "not_assigned")
    refused(
        floor.next(stranger, campaign_id=campaign),
        422,
        "validation_error",
        "campaign_id",
        "not_assigned",
    )
    refused(
        floor.next(ready, campaign_id=999_999), 422, "validation_error", "campaign_id", "not_found"
    )
    refused(
        floor.next(ready, campaign_id=auto), 422, "validation_error", "campaign_id", "not_preview"
    )
    body = refused(
        floor.next(ready, campaign_id=draft), 409, "conflict", "campaign_id", "not_running"
    )
    assert body["state"] == "draft"
    refused(
        floor.next(ready, campaign_id="first"),
        422,
        "validation_error",
        "campaign_id",
        "int_parsing",
    )
    refused(
        floor.next(ready, preview_seconds=5),
        422,
        "validation_error",
        "preview_seconds",
        "greater_than_equal",
    )
    refused(floor.next(ready, agent="me"), 422, "validation_error", "agent", "extra_forbidden")
    wrong_path = floor.api.post("/agents/first/preview/next")
    assert wrong_path.status_code == 422 and "agent_id" in {
        d["field"] for d in wrong_path.json()["details"]
    }
    assert floor.snapshot() == before

    held = floor.take(ready)  # a valid request changes things; asking again while holding:
    before = floor.snapshot()
    body = refused(floor.next(ready), 409, "conflict", "agent_id", "previewing")
    assert (body["contact_id"], body["campaign_id"]) == (held["contact"]["id"], campaign)
    assert floor.snapshot() == before


def test_dial_and_skip_only_what_the_agent_holds(floor: Floor, new_tenant_api: Api) -> None:
    a, b = floor.agent("ann"), floor.agent("bob")
    campaign = floor.campaign(people(2), [{"agent_id": a}, {"agent_id": b}])
    held = floor.take(a, preview_seconds=30)
    other = floor.contacts(campaign)[1]["id"]
    mine = held["contact"]["id"]
    before = floor.snapshot()

    for act in (floor.dial, floor.skip):
        refused(act(a, other), 422, "validation_error", "contact_id", "not_previewed")
        refused(act(b, mine), 422, "validation_error", "contact_id", "not_previewed")
        assert act(999_999, mine).status_code == 404
    assert new_tenant_api.post(f"/agents/{a}/preview/dial", {"contact_id": mine}).status_code == 404
    for path in ("dial", "skip"):
        url = f"/agents/{a}/preview/{path}"
        refused(floor.api.post(url, {}), 422, "validation_error", "contact_id", "missing")
        refused(
            floor.api.post(url, {"contact_id": "x"}),
            422,
            "validation_error",
            "contact_id",
            "int_parsing",
        )
        refused(
            floor.api.post(url, {"contact_id": 0}),
            422,
            "validation_error",
            "contact_id",
            "greater_than_equal",
        )
        refused(
            floor.api.post(url, {"contact_id": mine, "extra": 1}),
            422,
            "validation_error",
            "extra",
            "extra_forbidden",
        )
    refused(
        floor.skip(a, mine, retry_after_seconds=-1),
        422,
        "validation_error",
        "retry_after_seconds",
        "greater_than_equal",
    )
    refused(
        floor.skip(a, mine, reason="x" * 201), 422, "validation_error", "reason", "string_too_long"
    )
    assert floor.snapshot() == before

    floor.ok(floor.dial(a, mine), 202)
    before = floor.snapshot()
    refused(floor.dial(a, mine), 409, "conflict", "contact_id", "already_dialing")
    refused(floor.skip(a, mine), 409, "conflict", "contact_id", "already_dialing")
    assert floor.snapshot() == before

    floor.run(31)  # no engine: the request lapses
    floor.take(b)
    late = floor.take(a, preview_seconds=10)
    floor.run(11)
    before = floor.snapshot()
    body = refused(
        floor.dial(a, late["contact"]["id"]), 409, "conflict", "contact_id", "preview_expired"
    )
    assert body["state"] == "expired"
    assert floor.snapshot() == before


def test_reading_previews_and_statistics(floor: Floor, new_tenant_api: Api) -> None:
    a = floor.agent("ann")
    campaign = floor.campaign(people(1), [{"agent_id": a}])
    missing = floor.api.get(f"/agents/{a}/preview")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert floor.api.get("/agents/999999/preview").status_code == 404
    assert floor.api.get("/campaigns/999999/agents").status_code == 404
    assert new_tenant_api.get(f"/campaigns/{campaign}/agents").status_code == 404
    assert new_tenant_api.get(f"/agents/{a}/preview").status_code == 404
    held = floor.take(a)
    assert floor.preview(a) == held
    stats = floor.ok(floor.api.get(f"/campaigns/{campaign}/agents"))
    [row] = stats["agents"]
    assert row["state"] == "reserved" and row["previews"]["previewing"] == 1
    assert row["attempts"]["average_handle_seconds"] is None


@pytest.fixture
def new_tenant_api(floor: Floor) -> Iterator[Api]:
    """A client of another tenant on the same server."""
    services = floor.rig.services
    row = services.tenants.create(validate(TenantIn, {"name": unique("other")}))
    assert Tenant.from_row(row).id != floor.rig.tenant.id
    api = Api(str(floor.api.http.base_url).removesuffix("/api/v1"), row["api_key"])
    yield api
    api.close()
