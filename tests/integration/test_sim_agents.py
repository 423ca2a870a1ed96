"""Simulated agents through the real engine: staggered logins, a drawn after-call work the
campaign caps, breaks taken only between calls, shifts that end, and the report's figures."""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from outdial.sim.agents import draw_acw
from outdial.sim.run import Simulation, simulate
from outdial.sim.scenario import load_scenario
from outdial.store.schema import agents, attempts
from outdial.store.store import Store

CAP = 30
TEAM = f"""
name = "agents-on-break"
start = "2026-11-23T01:00:00+00:00"
seed = 11
horizon_hours = 6

[line]
name = "sim"
channels = 40
caller_numbers = [{{ number = "+862161234567" }}]

[agents]
count = 8
stagger_minutes = 4
acw = {{ dist = "lognormal", mean = 14, cv = 0.8 }}
breaks = [
  {{ every_minutes = 20, length_minutes = 4, jitter_minutes = 3, share = 0.5 }},
  {{ every_minutes = 45, length_minutes = 6 }},
]

[campaign]
name = "team"
timezone = "Asia/Shanghai"
pacing_mode = "progressive"
windows = [{{ start = "09:00", end = "17:00" }}]
max_concurrency = 40
acw_seconds = {CAP}
ring_timeout_seconds = 20

[contacts]
count = 700
pools = [{{ template = "+86139{{i}}", width = 8 }}]

[callees]
answered_rate = 0.5
busy_rate = 0.1
talk = {{ dist = "lognormal", mean = 50, cv = 0.8 }}
"""


def _run(tmp_path: Path, toml: str, name: str = "team") -> tuple[Simulation, list[dict[str, Any]]]:
    path = tmp_path / f"{name}.toml"
    path.write_text(toml)
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    result = simulate(load_scenario(path), url)
    store = Store.from_url(url)
    try:
        with store.read() as conn:
            made = [dict(r._mapping) for r in conn.execute(select(attempts))]
            ids = list(conn.scalars(select(agents.c.id)))
    finally:
        store.close()
    assert result.team is not None and sorted(result.team.agents) == sorted(ids)
    return result, made


@pytest.fixture(scope="module")
def team_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Simulation, list[dict[str, Any]]]:
    return _run(tmp_path_factory.mktemp("team"), TEAM)


def _seconds(result: Simulation, at: datetime) -> float:
    return (at - result.scenario.start).total_seconds()


def _calls(result: Simulation, made: list[dict[str, Any]]) -> dict[int, list[tuple[float, float]]]:
    """Each agent's calls from the ledger: (answered, ended) in seconds from the start."""
    calls: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for a in made:
        if a["agent_id"] is not None:
            span = (_seconds(result, a["answered_at"]), _seconds(result, a["ended_at"]))
            calls[a["agent_id"]].append(span)
    return {k: sorted(v) for k, v in calls.items()}


def test_the_team_run_keeps_every_guarantee(team_run: tuple[Simulation, Any]) -> None:
    result, made = team_run
    report = result.report()
    assert all(g["passed"] for g in report["guarantees"].values()), report["guarantees"]
    assert report["campaign_state"] == "completed"
    # Progressive dials one call per ready agent; only an agent who leaves for a break while
    # their call rings can leave an answer without an agent.
    assert result.team is not None
    assert report["attempts_by_outcome"].get("abandoned", 0) <= len(result.team.taken)
    assert all(a["agent_id"] is not None for a in made if a["outcome"] == "answered")


def test_agents_log_in_one_after_another(team_run: tuple[Simulation, Any]) -> None:
    result, made = team_run
    calls = _calls(result, made)
    assert result.team is not None
    for agent in result.team.agents.values():
        assert agent.plan.login == pytest.approx(30 * (agent.id - min(result.team.agents)))
        assert calls[agent.id][0][0] >= agent.plan.login  # no call before the login


def test_breaks_are_taken_between_calls_and_agents_come_back(
    team_run: tuple[Simulation, Any],
) -> None:
    result, made = team_run
    team = result.team
    assert team is not None
    calls = _calls(result, made)
    taken = team.taken
    assert len(taken) >= 8
    for brk in taken:
        assert brk.start >= brk.due - 1e-6
        end = brk.end if brk.end is not None else result.simulated_seconds
        for answered, ended in calls[brk.agent_id]:
            assert ended <= brk.start + 1e-6 or answered >= end - 1e-6, (brk, answered, ended)
        if brk.end is not None:
            assert brk.end - brk.start == pytest.approx(brk.length)
    back = [b for b in taken if b.end is not None and any(a >= b.end for a, _ in calls[b.agent_id])]
    assert len(back) >= len(taken) - 8  # all but each agent's last took calls again
    # The half of the team on the 20-minute rule took more breaks than the others.
    per_agent: dict[int, int] = defaultdict(int)
    for brk in taken:
        per_agent[brk.agent_id] += 1
    counts = sorted(per_agent.get(a, 0) for a in team.agents)
    assert counts[-1] > counts[0]


def test_every_break_due_before_the_end_was_taken(team_run: tuple[Simulation, Any]) -> None:
    result, _ = team_run
    team = result.team
    assert team is not None
    end = result.simulated_seconds
    planned = [
        (agent.id, brk.due)
        for agent in team.agents.values()
        for brk in agent.plan.breaks
        if brk.due < end - 600  # not cut by the end of the run (a call, a wrap-up, a break)
    ]
    started = {(b.agent_id, b.due) for b in team.taken}
    assert planned and set(planned) <= started


def test_acw_ends_early_as_drawn_but_never_beyond_the_cap(
    team_run: tuple[Simulation, Any],
) -> None:
    result, made = team_run
    team = result.team
    assert team is not None
    wraps = [w for agent in team.agents.values() for w in agent.timeline.wraps]
    agent_calls = [a for a in made if a["agent_id"] is not None]
    assert len(wraps) == len(agent_calls)  # one wrap-up per call an agent took
    assert max(wraps) <= CAP + 1e-6
    at_cap = sum(w >= CAP - 0.01 for w in wraps) / len(wraps)
    rng = random.Random(1)
    expected = [draw_acw(team.spec.acw, CAP, rng) for _ in range(50_000)]
    expected_at_cap = sum(e >= CAP - 0.01 for e in expected) / len(expected)
    assert 0 < at_cap < 0.25
    assert at_cap == pytest.approx(expected_at_cap, abs=0.06)
    assert statistics.fmean(wraps) == pytest.approx(statistics.fmean(expected), rel=0.15)
    # Independently, from the ledger: some agents took their next call sooner than the
    # campaign's ACW would have let them.
    gaps = [b[0] - a[1] for spans in _calls(result, made).values() for a, b in pairwise(spans)]
    assert min(gaps) < CAP / 2


def test_the_report_adds_up(team_run: tuple[Simulation, Any]) -> None:
    result, made = team_run
    figures = result.report()["agents"]
    assert figures == result.agents
    assert figures["count"] == 8
    assert 0 < figures["occupancy"] <= 1
    parts = ("talk_hours", "acw_hours", "break_hours", "idle_hours")
    assert sum(figures[p] for p in parts) == pytest.approx(figures["logged_in_hours"], abs=0.005)
    # Logged in from each agent's login to the end of the run.
    team = result.team
    assert team is not None
    end = result.simulated_seconds
    logged_in = sum(end - a.plan.login for a in team.agents.values()) / 3600
    assert figures["logged_in_hours"] == pytest.approx(logged_in, abs=0.005)
    # Talk is the agents' calls in the ledger (answered at once in progressive mode).
    talk = sum(b - a for spans in _calls(result, made).values() for a, b in spans) / 3600
    assert figures["talk_hours"] == pytest.approx(talk, abs=0.005)
    # Time on break is what was planned for the breaks taken, but for breaks the end of the
    # run cut short.
    spent = sum((b.end if b.end is not None else end) - b.start for b in team.taken) / 3600
    assert figures["break_hours"] == pytest.approx(spent, abs=0.002)
    planned = sum(b.length for b in team.taken if b.end is not None) / 3600
    cut = [b for b in team.taken if b.end is None]
    assert len(cut) <= 8 and spent >= planned
    assert figures["breaks"] == len(team.taken)
    assert figures["max_acw_seconds"] <= figures["acw_cap_seconds"] == CAP
    assert 0 < figures["mean_acw_seconds"] < CAP


def test_a_run_repeats_exactly(tmp_path: Path, team_run: tuple[Simulation, Any]) -> None:
    again, _ = _run(tmp_path, TEAM, "again")
    assert again.report()["agents"] == team_run[0].report()["agents"]
    assert again.report()["attempts_by_outcome"] == team_run[0].report()["attempts_by_outcome"]


SHIFT = (
    TEAM.replace("count = 700", "count = 3000")
    .replace("stagger_minutes = 4", "stagger_minutes = 4\nlogout_after_hours = 0.5")
    .replace('name = "agents-on-break"', 'name = "short-shift"')
    .replace("horizon_hours = 6", "horizon_hours = 1")
)


def test_agents_log_out_at_their_shifts_end_never_during_a_call(tmp_path: Path) -> None:
    result, made = _run(tmp_path, SHIFT, "shift")
    team = result.team
    assert team is not None
    assert all(g["passed"] for g in result.report()["guarantees"].values())
    assert result.state == "running"  # nobody left to take the calls
    calls = _calls(result, made)
    for agent in team.agents.values():
        assert agent.timeline.state == "offline"
        due, out = agent.plan.logout, agent.logged_out
        assert due is not None and out is not None and out >= due
        last_answered, last_ended = calls[agent.id][-1]
        assert last_ended <= out  # never during a call
        if out > due + 1e-6:  # on a call, wrapping up or on a break when the shift ended
            after_break = any(b.end == out for b in team.taken if b.agent_id == agent.id)
            assert last_answered <= due and (out <= last_ended + CAP or after_break)
    figures = result.report()["agents"]
    assert figures["logged_in_hours"] == pytest.approx(8 * 0.5, abs=0.1)
    assert not [a for a in made if a["outcome"] == "answered" and a["agent_id"] is None]


def test_a_bad_agents_table_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(TEAM.replace("cv = 0.8 }", "cv = -1 }"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OUTDIAL_DATA_DIR")}
    done = subprocess.run(
        [sys.executable, "-m", "outdial.cli", "simulate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**env, "NO_COLOR": "1", "COLUMNS": "200"},
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "agents.acw.cv: must be > 0, got -1" in done.stderr
    assert "Traceback" not in done.stderr
