"""``outdial simulate``: one campaign in virtual time, through the real engine and services."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select

from outdial.domain.campaign_state import LifecycleAction
from outdial.engine.worker import EngineSettings, Worker
from outdial.services.common import Tenant
from outdial.services.container import Services
from outdial.services.models import (
    BlackoutCalendarIn,
    CampaignIn,
    ContactAppendIn,
    DncIn,
    LineIn,
    RedialPolicyIn,
    ScriptIn,
    TenantIn,
)
from outdial.services.validation import validate
from outdial.sim.agents import SimTeam, create_team
from outdial.sim.auditor import Audit, audit
from outdial.sim.loop import LoopClock, VirtualEventLoop
from outdial.sim.scenario import Scenario
from outdial.store.migrate import upgrade
from outdial.store.schema import contacts
from outdial.store.store import Store
from outdial.telephony.sim import SimTelephony

SIM_ENGINE = EngineSettings(state_poll_seconds=60, idle_poll_seconds=60, progress_seconds=900)
BATCH = 1000
Progress = Callable[[int, int, float], None]  # (contacts done, total, simulated seconds)


@dataclass
class Simulation:
    scenario: Scenario
    campaign_id: int
    state: str
    audit: Audit
    stats: dict[str, Any]
    simulated_seconds: float
    wall_seconds: float
    agents: dict[str, Any] | None = None  # the simulated team's figures (sim/agents.py)
    team: SimTeam | None = None  # and its record, for a closer look

    def abandonment(self) -> float:
        """Abandoned / live answers (the FCC ratio; 0 for robot campaigns)."""
        return _abandonment(self.audit.attempts_by_outcome)

    def report(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "campaign_state": self.state,
            "guarantees": {k: c.as_dict() for k, c in self.audit.checks.items()},
            "attempts_by_outcome": self.audit.attempts_by_outcome,
            "contacts_by_state": self.audit.contacts_by_state,
            "connect_rate": self.stats["connect_rate"],
            "abandonment": self.abandonment(),
            "simulated_seconds": round(self.simulated_seconds, 1),
            "peak_concurrency": self.audit.peak_concurrency,
            "wall_seconds": round(self.wall_seconds, 2),
            **({"agents": self.agents} if self.agents is not None else {}),
        }


def _abandonment(by_outcome: dict[str, int]) -> float:
    abandoned = by_outcome.get("abandoned", 0)
    live = abandoned + by_outcome.get("answered", 0)
    return abandoned / live if live else 0.0


def simulate(
    scenario: Scenario, database_url: str = "sqlite://", progress: Progress | None = None
) -> Simulation:
    """Set the scenario up through the services, run it in virtual time, audit the ledger."""
    started = time.perf_counter()
    loop = VirtualEventLoop()
    clock = LoopClock(loop, scenario.start)
    store = Store.from_url(database_url)
    try:
        upgrade(store.engine)
        services = Services.build(store, clock, base64.urlsafe_b64encode(os.urandom(32)))
        tenant, campaign_id, agent_ids = _set_up(services, scenario)
        team = _team(services, tenant, campaign_id, scenario, agent_ids)

        def drivers(line: dict[str, Any]) -> SimTelephony:
            driver = SimTelephony(scenario.callees, clock)
            if team is not None:  # the agents watch the calls the engine hands them
                driver.subscribe(team.on_call_event)
            return driver

        worker = Worker(store, clock, drivers, SIM_ENGINE)
        if team is not None:
            team.nudge = partial(_poke, worker, campaign_id)
        figures = loop.run_until_complete(
            _run(worker, services, tenant, campaign_id, scenario, progress, team)
        )
        simulated = loop.time()
        found = audit(store, campaign_id)
        stats = services.campaigns.stats(tenant, campaign_id)
        state = services.campaigns.get(tenant, campaign_id)["state"]
    finally:
        loop.close()
        store.close()
    wall = time.perf_counter() - started
    return Simulation(scenario, campaign_id, state, found, stats, simulated, wall, figures, team)


def _team(
    services: Services,
    tenant: Tenant,
    campaign_id: int,
    scenario: Scenario,
    agent_ids: list[int],
) -> SimTeam | None:
    if not agent_ids:
        return None
    cap = float(services.campaigns.get(tenant, campaign_id)["acw_seconds"])
    until = scenario.horizon_hours * 3600
    return SimTeam(
        services, tenant, scenario.start, scenario.agents, agent_ids, scenario.seed, cap, until
    )


def _poke(worker: Worker, campaign_id: int) -> None:
    """An agent became ready: the runner looks at once (a production runner notices within its
    state poll; the simulation's polls are minutes apart)."""
    runner = worker.runners.get(campaign_id)
    if runner is not None:
        runner.poke()


def _set_up(services: Services, scenario: Scenario) -> tuple[Tenant, int, list[int]]:
    tenant_body = {"name": f"sim-{scenario.name}"[:100], **scenario.tenant}
    tenant_body.setdefault("max_contacts_per_campaign", max(scenario.contact_count, 20_000))
    tenant = Tenant.from_row(services.tenants.create(validate(TenantIn, tenant_body)))

    def make(service: Any, model: type[BaseModel], body: dict[str, Any] | None) -> int | None:
        return None if body is None else int(service.create(tenant, validate(model, body))["id"])

    refs = {
        "line_id": make(services.lines, LineIn, scenario.line),
        "script_id": make(services.scripts, ScriptIn, scenario.script),
        "blackout_calendar_id": make(
            services.blackout_calendars, BlackoutCalendarIn, scenario.blackout_calendar
        ),
        "redial_policy_id": make(services.redial_policies, RedialPolicyIn, scenario.redial_policy),
    }
    agent_ids: list[int] = []
    if scenario.agents:
        refs["skill_group_id"], agent_ids = create_team(services, tenant, scenario.agents.count)
    body = {**scenario.campaign, **{k: v for k, v in refs.items() if v is not None}}
    campaign_id = int(services.campaigns.create(tenant, validate(CampaignIn, body))["id"])
    for number in scenario.dnc:
        services.dnc.add(tenant, DncIn(number=number, source="scenario"))
    batch: list[dict[str, Any]] = []
    for contact in scenario.contacts():
        batch.append(contact)
        if len(batch) == BATCH:
            services.contacts.append(tenant, campaign_id, ContactAppendIn(contacts=batch))
            batch = []
    if batch:
        services.contacts.append(tenant, campaign_id, ContactAppendIn(contacts=batch))
    services.campaigns.act(tenant, campaign_id, LifecycleAction.START)
    return tenant, campaign_id, agent_ids


async def _run(
    worker: Worker,
    services: Services,
    tenant: Tenant,
    campaign_id: int,
    scenario: Scenario,
    progress: Progress | None,
    team: SimTeam | None,
) -> dict[str, Any] | None:
    """Run the campaign to its end or the horizon; the team's figures (None without agents)."""
    reporter = asyncio.ensure_future(_report(services, campaign_id, progress))
    if team is not None:
        team.begin()  # agents due at the start are in before the runner's first look
    try:
        await asyncio.wait_for(
            worker.run_campaign(campaign_id),
            timedelta(hours=scenario.horizon_hours).total_seconds(),
        )
    except TimeoutError:
        await worker.shutdown()
    finally:
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter
    return team.stop() if team is not None else None


async def _report(services: Services, campaign_id: int, progress: Progress | None) -> None:
    if progress is None:
        return
    loop = asyncio.get_running_loop()
    while True:
        with services.store.read() as conn:
            total, done = conn.execute(
                select(
                    func.count(),
                    func.count().filter(contacts.c.state.in_(["succeeded", "failed", "cancelled"])),
                ).where(contacts.c.campaign_id == campaign_id)
            ).one()
        progress(int(done), int(total), loop.time())
        await asyncio.sleep(600)
