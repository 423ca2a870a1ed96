"""`outdial simulate` and the auditor: every shipped scenario keeps guarantees 1–6, runs are
deterministic, and the auditor catches a ledger that breaks a guarantee (so a pass means
something)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from outdial.domain.outcomes import Outcome
from outdial.services.common import new_uuid
from outdial.services.models import AgentIn
from outdial.services.stats import campaign_stats
from outdial.services.validation import validate
from outdial.sim import auditor
from outdial.sim.run import simulate
from outdial.sim.scenario import load_scenario
from outdial.store.schema import attempts, contacts, dnc_entries
from outdial.store.store import Store
from tests.integration.test_engine_rules import SHANGHAI, T0, Rig, callees, people

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
TOO_SLOW = {"national-10k"}  # 10,000 contacts: a benchmark, not a test
SLOW = {"alibaba-daily-cap", "dezhu-phone-groups"}
GUARANTEES = {
    "1_calling_hours",
    "2_number_limits",
    "3_concurrency",
    "4_dnc",
    "5_contacts",
    "6_statistics",
}


def shipped() -> list[Any]:
    paths = sorted(p for p in SCENARIOS.glob("*.toml") if p.stem not in TOO_SLOW)
    return [
        pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in SLOW else [])
        for p in paths
    ]


def test_scenarios_are_shipped() -> None:
    assert {p.stem for p in SCENARIOS.glob("*.toml")} >= {"quick-agentless", "national-10k"}
    assert len(shipped()) >= 4


# --- the command ----------------------------------------------------------------------------


def test_simulate_command_writes_a_passing_report(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OUTDIAL_DATA_DIR")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "outdial.cli",
            "simulate",
            str(SCENARIOS / "quick-agentless.toml"),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**env, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    report = json.loads(out.read_text())
    assert set(report) >= {
        "guarantees",
        "attempts_by_outcome",
        "contacts_by_state",
        "simulated_seconds",
        "peak_concurrency",
    }
    assert set(report["guarantees"]) == GUARANTEES
    for name, check in report["guarantees"].items():
        assert check["passed"] is True and check["violations"] == 0, (name, check)
    assert sum(report["attempts_by_outcome"].values()) >= 500
    assert sum(report["contacts_by_state"].values()) == 500
    assert set(report["contacts_by_state"]) <= {"succeeded", "failed"}
    assert report["simulated_seconds"] > 0
    assert 1 <= report["peak_concurrency"] <= 15


# --- the shipped scenarios ------------------------------------------------------------------


@pytest.mark.timeout(600)  # whole scenarios in virtual time: a minute or two of CPU each
@pytest.mark.parametrize("path", shipped())
def test_shipped_scenario_keeps_every_guarantee(path: Path) -> None:
    scenario = load_scenario(path)
    result = simulate(scenario)
    report = result.report()
    failed = {k: v for k, v in report["guarantees"].items() if not v["passed"]}
    assert not failed, failed
    assert set(report["guarantees"]) == GUARANTEES
    assert result.state in ("completed", "expired")
    assert sum(report["attempts_by_outcome"].values()) > 0
    assert "open" not in report["attempts_by_outcome"]
    assert set(report["contacts_by_state"]) <= {"succeeded", "failed", "cancelled"}
    limit = min(int(scenario.campaign["max_concurrency"]), int(scenario.line["channels"]))
    assert 1 <= report["peak_concurrency"] <= limit


def test_a_scenario_runs_the_same_twice() -> None:
    scenario = load_scenario(SCENARIOS / "quick-agentless.toml")
    one, two = simulate(scenario).report(), simulate(scenario).report()
    assert one["attempts_by_outcome"] == two["attempts_by_outcome"]
    assert one["contacts_by_state"] == two["contacts_by_state"]
    assert one["simulated_seconds"] == two["simulated_seconds"]
    assert one["peak_concurrency"] == two["peak_concurrency"]


# --- the auditor catches a broken ledger ----------------------------------------------------

CHANNELS = 3


@pytest.fixture
def audited_run(store: Store) -> Iterator[tuple[Rig, int]]:
    """A small finished campaign that passes the audit: 09:00–18:00 in Shanghai, a line of
    three channels, one attempt per phone (no redial rule)."""
    rig = Rig(store, channels=CHANNELS)
    try:
        cid = rig.campaign(
            people(12),
            windows=[{"start": "09:00", "end": "18:00"}],
            max_concurrency=CHANNELS,
        )
        rig.run(cid, callees(Outcome.NO_ANSWER, {"+8613800000000": Outcome.ANSWERED}))
        assert auditor.audit(store, cid).passed
        yield rig, cid
    finally:
        rig.close()


def _copy_attempt(row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    copy = {k: v for k, v in row.items() if k != "id"}
    uid = new_uuid()
    return {**copy, "uuid": uid, "call_id": uid, **changes}


def _night_call(rig: Rig, cid: int) -> None:
    first = rig.attempts(cid)[0]
    night = datetime(2026, 11, 23, 3, 0, tzinfo=SHANGHAI)
    with rig.store.write() as conn:
        conn.execute(
            insert(attempts).values(
                _copy_attempt(
                    first,
                    created_at=night,
                    ringing_at=None,
                    answered_at=None,
                    ended_at=night + timedelta(seconds=20),
                    outcome="busy",
                    talk_seconds=0.0,
                )
            )
        )


def _dnc_number_dialed(rig: Rig, cid: int) -> None:
    first = rig.attempts(cid)[0]
    listed = T0 - timedelta(days=1)
    with rig.store.write() as conn:
        conn.execute(
            insert(dnc_entries).values(
                tenant_id=rig.tenant.id,
                number=first["number"],
                reason="complained",
                source="test",
                expires_at=None,
                created_at=listed,
                updated_at=listed,
            )
        )


def _over_the_line(rig: Rig, cid: int) -> None:
    """Extra calls overlapping an existing one on other contacts: more than the line holds."""
    made = rig.attempts(cid)
    base = made[0]
    with rig.store.write() as conn:
        for other in made[1 : CHANNELS + 1]:
            conn.execute(
                insert(attempts).values(
                    _copy_attempt(
                        other,
                        created_at=base["created_at"],
                        ringing_at=base["ringing_at"],
                        ended_at=base["ended_at"],
                    )
                )
            )


def _redial_without_a_rule(rig: Rig, cid: int) -> None:
    last = rig.attempts(cid)[-1]
    later = last["ended_at"] + timedelta(minutes=30)
    with rig.store.write() as conn:
        conn.execute(
            insert(attempts).values(
                _copy_attempt(
                    last,
                    created_at=later,
                    ringing_at=later + timedelta(seconds=2),
                    ended_at=later + timedelta(seconds=30),
                )
            )
        )


def _left_in_progress(rig: Rig, cid: int) -> None:
    with rig.store.write() as conn:
        victim = conn.scalar(
            select(contacts.c.id).where(contacts.c.campaign_id == cid).order_by(contacts.c.id)
        )
        conn.execute(update(contacts).where(contacts.c.id == victim).values(state="in_progress"))


def _open_attempt(rig: Rig, cid: int) -> None:
    last = rig.attempts(cid)[-1]
    with rig.store.write() as conn:
        conn.execute(
            update(attempts).where(attempts.c.id == last["id"]).values(ended_at=None, outcome=None)
        )


def _agent_on_two_calls(rig: Rig, cid: int) -> None:
    """One agent connected to two calls that overlap."""
    agent = rig.services.agents.create(rig.tenant, validate(AgentIn, {"name": "double"}))
    made = rig.attempts(cid)
    first, second = made[0], made[1]
    both = [first["id"], second["id"]]
    with rig.store.write() as conn:
        conn.execute(
            update(attempts)
            .where(attempts.c.id.in_(both))
            .values(
                agent_id=agent["id"],
                answered_at=first["created_at"] + timedelta(seconds=5),
                connected_at=first["created_at"] + timedelta(seconds=5),
                ended_at=first["created_at"] + timedelta(seconds=60),
            )
        )


TAMPERING: dict[str, tuple[Callable[[Rig, int], None], str]] = {
    "agent on two calls": (_agent_on_two_calls, "3_concurrency"),
    "call at 03:00 local": (_night_call, "1_calling_hours"),
    "redial with no rule": (_redial_without_a_rule, "2_number_limits"),
    "calls beyond the line": (_over_the_line, "3_concurrency"),
    "DNC number dialed": (_dnc_number_dialed, "4_dnc"),
    "contact left in progress": (_left_in_progress, "5_contacts"),
    "attempt never closed": (_open_attempt, "5_contacts"),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_auditor_catches_a_tampered_ledger(audited_run: tuple[Rig, int], case: str) -> None:
    rig, cid = audited_run
    tamper, guarantee = TAMPERING[case]
    tamper(rig, cid)
    found = auditor.audit(rig.store, cid)
    assert not found.passed
    assert found.checks[guarantee].violations >= 1, found.checks[guarantee]
    assert found.checks[guarantee].examples


@pytest.mark.parametrize("field", ["connected", "dialed", "talk_seconds", "by_outcome"])
def test_auditor_catches_statistics_that_disagree_with_the_ledger(
    audited_run: tuple[Rig, int], monkeypatch: pytest.MonkeyPatch, field: str
) -> None:
    rig, cid = audited_run

    def skewed(conn: Any, campaign_id: int) -> dict[str, Any]:
        stats = campaign_stats(conn, campaign_id)
        if field in stats["contacts"]:
            stats["contacts"][field] += 1
        elif field == "by_outcome":
            stats["attempts"]["by_outcome"]["busy"] = 1
        else:
            stats["attempts"][field] += 1.5
        return stats

    monkeypatch.setattr(auditor, "campaign_stats", skewed)
    found = auditor.audit(rig.store, cid)
    assert found.checks["6_statistics"].violations >= 1
    assert not found.passed
