"""`outdial forecast` as a user runs it: a real subprocess on a real data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from outdial.domain.agents import AgentAction
from outdial.runtime import open_runtime
from outdial.services.common import Tenant
from outdial.services.models import (
    AgentIn,
    CampaignIn,
    ContactAppendIn,
    LineIn,
    SkillGroupIn,
    TenantIn,
)
from outdial.services.validation import validate
from outdial.settings import load_settings
from tests.e2e.processes import ok, run


@pytest.fixture
def campaign(tmp_path: Path) -> tuple[Path, int]:
    """A data directory with a progressive campaign of 300 contacts and 4 logged-in agents."""
    data = tmp_path / "data"
    runtime = open_runtime(load_settings(data, env={}))
    services = runtime.services
    try:
        tenant = Tenant.from_row(services.tenants.create(validate(TenantIn, {"name": "acme"})))
        line = services.lines.create(tenant, validate(LineIn, {"name": "l", "channels": 30}))
        group = services.skill_groups.create(tenant, validate(SkillGroupIn, {"name": "sales"}))
        for n in range(4):
            body = {"name": f"agent-{n}", "skill_group_ids": [group["id"]]}
            agent = services.agents.create(tenant, validate(AgentIn, body))
            services.agents.act(tenant, agent["id"], AgentAction.LOGIN)
        body = {
            "name": "renewals",
            "line_id": line["id"],
            "skill_group_id": group["id"],
            "pacing_mode": "progressive",
            "max_concurrency": 30,
            "timezone": "UTC",
        }
        made = services.campaigns.create(tenant, validate(CampaignIn, body))
        rows = [{"phones": [{"number": f"+86138{i:08d}"}]} for i in range(300)]
        services.contacts.append(tenant, made["id"], ContactAppendIn(contacts=rows))
    finally:
        runtime.store.close()
    return data, int(made["id"])


def test_the_forecast_prints_tables(campaign: tuple[Path, int]) -> None:
    data, campaign_id = campaign
    out = ok("forecast", str(campaign_id), "--data-dir", str(data))
    assert f"Forecast: campaign {campaign_id} (progressive, 4 agents logged in)" in out
    for label in ("pending contacts", "dialing hours", "finishes at", "connects", "occupancy"):
        assert label in out
    assert "answer_rate" in out and "default" in out  # no ledger yet: dialing.md defaults


def test_the_forecast_as_json_with_given_rates_and_the_agents_needed(
    campaign: tuple[Path, int],
) -> None:
    data, campaign_id = campaign
    base = json.loads(ok("forecast", str(campaign_id), "--data-dir", str(data), "--json"))
    assert base["team"] == {"agents": 4, "source": "logged_in"}
    assert base["contacts"]["pending"] == 300 and base["dials"]["mean"] == 300
    assert base["finish"]["finishes"] and base["finish"]["at"].endswith("Z")
    half = base["dialing_hours"]["mean"] / 2
    args = ("--agents", "4", "--answer-rate", "0.35", "--talk-seconds", "120")
    found = json.loads(
        ok(
            "forecast",
            str(campaign_id),
            "--data-dir",
            str(data),
            *args,
            "--finish-by",
            f"{half:.4f}",
            "--json",
        )
    )
    assert found["rates"]["answer_rate"] == {"value": 0.35, "source": "given"}
    staffing = found["finish_by"]
    assert staffing["finishes_by"] is False and 4 < staffing["agents_needed"] <= 12
    table = ok("forecast", str(campaign_id), "--data-dir", str(data), "--finish-by", f"{half:.4f}")
    assert f"agents needed: {staffing['agents_needed']}" in table


def test_bad_options_and_unknown_campaigns_exit_2_naming_the_option(
    campaign: tuple[Path, int],
) -> None:
    data, campaign_id = campaign
    bad = run("forecast", str(campaign_id), "--data-dir", str(data), "--agents", "0")
    assert bad.returncode == 2 and "--agents" in bad.stderr and bad.stdout == ""
    late = run("forecast", str(campaign_id), "--data-dir", str(data), "--finish-by", "yesterday")
    assert late.returncode == 2 and "--finish-by" in late.stderr
    missing = run("forecast", "999", "--data-dir", str(data))
    assert missing.returncode == 2 and "not found" in missing.stderr
