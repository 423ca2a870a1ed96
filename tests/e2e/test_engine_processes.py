"""The engine as a user runs it: inside `outdial serve`, killed with SIGKILL and restarted, and
as two `outdial engine` workers on one PostgreSQL."""

from __future__ import annotations

import signal
from collections import defaultdict
from collections.abc import Callable
from contextlib import closing
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from outdial.clock import SystemClock
from outdial.domain.campaign_state import LifecycleAction
from outdial.services.common import Tenant
from outdial.services.container import Services
from outdial.services.models import CampaignIn, ContactAppendIn, LineIn, ScriptIn, TenantIn
from outdial.sim.auditor import audit
from outdial.store.db import sqlite_url
from outdial.store.schema import attempts
from outdial.store.store import Store
from tests.conftest import SECRET_KEY
from tests.e2e.processes import (
    SIM_LINE,
    api_client,
    engine_env,
    healthy,
    sim_settings,
    started,
    wait_for,
)
from tests.pg_server import free_port


def _set_up_over_http(port: int, contacts: int, speed: float) -> tuple[httpx2.Client, int]:
    with api_client(port, "od_admin_e2e") as admin:
        key = admin.post("/tenants", json={"name": "e2e"}).json()["api_key"]
    api = api_client(port, key)
    line = api.post("/lines", json={**SIM_LINE, "settings": sim_settings(speed)}).json()
    script = api.post("/scripts", json={"name": "robot"}).json()
    body = {
        "name": "e2e",
        "line_id": line["id"],
        "script_id": script["id"],
        "timezone": "UTC",
        "max_concurrency": 6,
    }
    campaign = api.post("/campaigns", json=body).json()
    rows = [{"phones": [{"number": f"138{i:08d}"}]} for i in range(contacts)]
    assert (
        api.post(f"/campaigns/{campaign['id']}/contacts", json={"contacts": rows}).json()[
            "accepted"
        ]
        == contacts
    )
    assert api.post(f"/campaigns/{campaign['id']}/start").json()["state"] == "running"
    return api, campaign["id"]


def _state(api: httpx2.Client, campaign_id: int) -> str:
    return str(api.get(f"/campaigns/{campaign_id}").json()["state"])


def _assert_audited(url: str, campaign_id: int) -> dict[str, Any]:
    store = Store.from_url(url)
    try:
        result = audit(store, campaign_id)
        failed = {k: c.examples for k, c in result.checks.items() if c.violations}
        assert not failed, failed
        with store.read() as conn:
            rows = [
                dict(r._mapping)
                for r in conn.execute(select(attempts).where(attempts.c.campaign_id == campaign_id))
            ]
        return {"attempts": rows, "audit": result}
    finally:
        store.close()


def test_serve_runs_a_campaign_to_completion_and_stats_equal_the_ledger(tmp_path: Path) -> None:
    port = free_port()
    args = ["serve", "--port", str(port), "--data-dir", str(tmp_path)]
    with started(args, engine_env(), tmp_path / "serve.log"):
        wait_for(lambda: healthy(port), 60, "outdial serve")
        api, campaign_id = _set_up_over_http(port, contacts=60, speed=200)
        with closing(api):
            wait_for(
                lambda: _state(api, campaign_id) == "completed", 60, "the campaign to complete"
            )
            stats = api.get(f"/campaigns/{campaign_id}/stats").json()
    ledger = _assert_audited(sqlite_url(tmp_path), campaign_id)
    assert stats["attempts"]["total"] == len(ledger["attempts"]) > 0
    assert stats["contacts"]["completed"] == 60


def test_sigkill_mid_campaign_then_restart_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    port = free_port()
    args = ["serve", "--port", str(port), "--data-dir", str(tmp_path)]
    with started(args, engine_env(), tmp_path / "first.log") as first:
        wait_for(lambda: healthy(port), 60, "outdial serve")
        api, campaign_id = _set_up_over_http(port, contacts=80, speed=20)
        stats = lambda: api.get(f"/campaigns/{campaign_id}/stats").json()  # noqa: E731
        wait_for(lambda: stats()["attempts"]["total"] >= 12, 60, "attempts to be under way")
        before = stats()
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert before["attempts"]["open"] > 0, "kill while calls are up, to exercise recovery"
    with started(args, engine_env(), tmp_path / "second.log"), closing(api):
        wait_for(lambda: healthy(port), 60, "outdial serve after the crash")
        wait_for(lambda: _state(api, campaign_id) == "completed", 90, "the campaign to complete")
        after = api.get(f"/campaigns/{campaign_id}/stats").json()
    ledger = _assert_audited(sqlite_url(tmp_path), campaign_id)
    lost = [a for a in ledger["attempts"] if a["native_cause"].startswith("lost")]
    assert len(lost) >= before["attempts"]["open"] > 0
    assert after["contacts"]["completed"] == 80 and after["contacts"]["in_progress"] == 0


@pytest.mark.usefixtures("pg_server_url")
def test_two_engine_workers_on_postgresql_share_work_and_take_over(
    tmp_path: Path, pg_database: Callable[[], Any]
) -> None:
    with pg_database() as url:
        store = Store.from_url(url)
        services = Services.build(store, SystemClock(), SECRET_KEY)
        tenant = Tenant.from_row(services.tenants.create(TenantIn(name="pg-e2e")))
        line = services.lines.create(
            tenant,
            LineIn.model_validate({**SIM_LINE, "channels": 12, "settings": sim_settings(40)}),
        )
        script = services.scripts.create(tenant, ScriptIn(name="robot"))
        ids = []
        for n in range(4):
            campaign = services.campaigns.create(
                tenant,
                CampaignIn(
                    name=f"c{n}",
                    line_id=line["id"],
                    script_id=script["id"],
                    timezone="UTC",
                    max_concurrency=4,
                ),
            )
            rows = [{"phones": [{"number": f"13{n}{i:08d}"}]} for i in range(40)]
            services.contacts.append(tenant, campaign["id"], ContactAppendIn(contacts=rows))
            services.campaigns.act(tenant, campaign["id"], LifecycleAction.START)
            ids.append(campaign["id"])
        env = engine_env(DATABASE_URL=url, OUTDIAL_ENGINE_LEASE_SECONDS="3")
        engine = ["engine", "--data-dir", str(tmp_path)]

        def started_by() -> set[str]:
            with store.read() as conn:
                return set(conn.scalars(select(attempts.c.worker_id).distinct()))

        with (
            started(engine, env, tmp_path / "a.log") as a,
            started(engine, env, tmp_path / "b.log"),
        ):
            wait_for(lambda: len(started_by()) == 2, 60, "both workers to dial")
            a.send_signal(signal.SIGKILL)
            a.wait(timeout=10)

            def all_done() -> bool:
                return all(services.campaigns.get(tenant, i)["state"] == "completed" for i in ids)

            wait_for(all_done, 120, "the surviving worker to finish every campaign")
        per_contact: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
        for campaign_id in ids:
            for row in _assert_audited(url, campaign_id)["attempts"]:
                per_contact[row["contact_id"]].append((row["created_at"], row["ended_at"]))
        for spans in per_contact.values():
            spans.sort()
            assert all(later[0] >= earlier[1] for earlier, later in pairwise(spans))
        store.close()
