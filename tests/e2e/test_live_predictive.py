"""Issue 5's done-when, as a user sees it: a 30-agent predictive campaign started through the
native API of a running `outdial serve` shows its agents, their states and the controller's
decisions live (GET /campaigns/{id}/pacing).

The callees are the sim line's (real time, played 20x faster); the 30 agents are driven as
their softphones would: logged in and made ready through the API once, after which the engine
moves them through on-call and after-call work and back to ready.
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.e2e.processes import api_client, engine_env, healthy, started, wait_for
from tests.pg_server import free_port

AGENTS = 30
CONTACTS = 3000
SIM = {
    "speed": 20,  # a 120-s talk lasts 6 s of the test
    "seed": 5,
    "callees": {
        "answered_rate": 0.35,
        "busy_rate": 0.1,
        "talk": {"dist": "lognormal", "mean": 120, "cv": 0.5},
    },
}


def _ok(resp: httpx2.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def _set_up(api: httpx2.Client) -> int:
    group = _ok(api.post("/skill-groups", json={"name": "sales"}), 201)
    for n in range(AGENTS):
        body = {
            "name": f"agent {n}",
            "endpoint": f"user/{1000 + n}",
            "skill_group_ids": [group["id"]],
        }
        agent = _ok(api.post("/agents", json=body), 201)
        _ok(api.post(f"/agents/{agent['id']}/login"))
        _ok(api.post(f"/agents/{agent['id']}/ready"))
    line = {
        "name": "sim",
        "channels": 200,
        "caller_numbers": [{"number": "95187"}],
        "settings": SIM,
    }
    line_id = _ok(api.post("/lines", json=line), 201)["id"]
    campaign = {
        "name": "predictive-30",
        "line_id": line_id,
        "skill_group_id": group["id"],
        "pacing_mode": "predictive",
        "abandon_target_percent": 3,
        "acw_seconds": 1,
        "max_concurrency": 200,
        "timezone": "UTC",
    }
    campaign_id = int(_ok(api.post("/campaigns", json=campaign), 201)["id"])
    for first in range(0, CONTACTS, 1000):  # the API takes at most 1,000 per request
        rows = [{"phones": [{"number": f"139{i:08d}"}]} for i in range(first, first + 1000)]
        added = _ok(api.post(f"/campaigns/{campaign_id}/contacts", json={"contacts": rows}))
        assert added["accepted"] == len(rows)
    assert _ok(api.post(f"/campaigns/{campaign_id}/start"))["state"] == "running"
    return campaign_id


def _watch(api: httpx2.Client, campaign_id: int, seconds: float) -> list[dict[str, Any]]:
    """The pacing view, polled as a console would, until the predictive law has forecast
    three times (it falls back to progressive until 50 live answers are seen)."""
    views: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        views.append(_ok(api.get(f"/campaigns/{campaign_id}/pacing", params={"limit": "50"})))
        forecasts = {d["id"] for v in views for d in v["decisions"] if d["reason"] == "forecast"}
        if len(views) >= 10 and len(forecasts) >= 3:
            break
        time.sleep(0.5)
    return views


@pytest.mark.timeout(300)  # serve's start (≤ 60 s), 30 agents and 3,000 contacts, ≤ 90 s watched
def test_a_30_agent_predictive_campaign_shows_its_team_and_decisions_live(tmp_path: Path) -> None:
    port = free_port()
    args = ["serve", "--port", str(port), "--data-dir", str(tmp_path)]
    with started(args, engine_env(), tmp_path / "serve.log"):
        wait_for(lambda: healthy(port), 60, "outdial serve")
        with api_client(port, "od_admin_e2e") as admin:
            key = _ok(admin.post("/tenants", json={"name": "live"}), 201)["api_key"]
        with closing(api_client(port, key)) as api:
            campaign_id = _set_up(api)
            views = _watch(api, campaign_id, 90)
            _ok(api.post(f"/campaigns/{campaign_id}/cancel"))

    last = views[-1]
    assert last["pacing_mode"] == "predictive" and last["abandon_target_percent"] == 3
    # the team: all 30 agents, each with its state, and the counts per state adding up
    assert len(last["agents"]) == AGENTS
    assert all(a["state"] and a["state_changed_at"] for a in last["agents"])
    for view in views:
        assert sum(view["agent_states"].values()) == AGENTS
        assert Counter(a["state"] for a in view["agents"]) == +Counter(view["agent_states"])
    # live: the engine moves the agents, so the states seen change from poll to poll
    seen = {a["state"] for v in views for a in v["agents"]}
    assert {"on_call", "after_call_work"} <= seen, seen
    assert len({tuple(sorted(v["agent_states"].items())) for v in views}) > 1
    # the controller: the predictive law's own decisions, newest first, growing as it runs
    decisions = {d["id"]: d for v in views for d in v["decisions"]}
    assert decisions and {d["law"] for d in decisions.values()} == {"predictive"}
    ids = [d["id"] for d in last["decisions"]]
    assert ids == sorted(ids, reverse=True)
    assert len({v["decisions"][0]["id"] for v in views if v["decisions"]}) > 1
    # first progressive until 50 live answers are seen, then the forecast with its figures
    reasons = [d["reason"] for _, d in sorted(decisions.items())]
    assert reasons[0].startswith("fallback to progressive"), reasons[0]
    forecast = [d for d in decisions.values() if d["reason"] == "forecast"]
    assert len(forecast) >= 3, reasons
    figures = forecast[-1]["figures"]
    for key in ("risk", "expected_free", "live_rate", "talk_mean", "agents", "pending"):
        assert key in figures, figures
    assert figures["agents"] <= AGENTS and 0 < figures["live_rate"] < 1
    assert forecast[-1]["launched"] >= forecast[-1]["launch"] > 0
