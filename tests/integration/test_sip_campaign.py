"""A campaign created through the native API (a real server over SQLite and PostgreSQL) runs to
completion through the SIP driver to real sipp, with every outcome recorded in the attempt
ledger as the dialled numbers make sipp behave (tests/sipp/callee_router.xml)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from outdial.clock import SystemClock
from outdial.engine.worker import EngineSettings, Worker
from outdial.runtime import line_secrets
from outdial.services.container import Services
from outdial.store.schema import attempts
from outdial.telephony.registry import driver_factory
from tests.conftest import SECRET_KEY
from tests.sipp_callee import PASSWORD, USERNAME, Sipp, sipp_callee
from tests.support import Api

pytestmark = pytest.mark.slow

BEHAVIOUR = {  # the number's last three digits → (outcome, native cause)
    "001": ("answered", "sip:BYE sent (max_call_seconds)"),
    "002": ("answered", "sip:BYE sent (max_call_seconds)"),
    "777": ("answered", "sip:BYE received"),
    "401": ("answered", "sip:BYE sent (max_call_seconds)"),  # after the digest challenge
    "486": ("busy", "sip:486 Busy Here"),
    "603": ("rejected", "sip:603 Decline"),
    "404": ("invalid_number", "sip:404 Not Found"),
    "408": ("no_answer", "sip:487 Request Terminated"),
}


def campaign_through_the_api(api: Api, sipp: Sipp) -> tuple[int, int]:
    settings = {
        "host": sipp.host,
        "port": sipp.port,
        "username": USERNAME,
        "password": PASSWORD,
        "from_domain": "outdial.test",
        "max_call_seconds": 1,
        "t1_ms": 100,
    }
    line = {
        "name": "sip-trunk",
        "driver": "sip",
        "channels": 4,
        "caller_numbers": [{"number": "95187"}],
        "settings": settings,
    }
    made = api.ok(api.post("/lines", line), 201)
    assert made["settings"]["password"] == "********"
    script_id = api.ok(api.post("/scripts", {"name": "robot"}), 201)["id"]
    body = {
        "name": "sip-campaign",
        "line_id": made["id"],
        "script_id": script_id,
        "max_concurrency": 4,
        "ring_timeout_seconds": 5,
        "timezone": "Asia/Shanghai",
    }
    campaign_id = int(api.ok(api.post("/campaigns", body), 201)["id"])
    rows = [{"name": f"客户{n}", "phones": [{"number": f"13800000{n}"}]} for n in BEHAVIOUR]
    report = api.ok(api.post(f"/campaigns/{campaign_id}/contacts", {"contacts": rows}))
    assert report["accepted"] == len(rows), report
    assert api.ok(api.post(f"/campaigns/{campaign_id}/start"))["state"] == "running"
    return campaign_id, int(made["id"])


async def run_engine(services: Services, campaign_id: int, secret_key: bytes) -> None:
    clock = SystemClock()
    settings = EngineSettings(state_poll_seconds=0.5, idle_poll_seconds=0.5)
    drivers = driver_factory(clock, line_secrets(secret_key))
    worker = Worker(services.store, clock, drivers, settings)
    try:
        await asyncio.wait_for(worker.run_campaign(campaign_id), 120)
    finally:
        await worker.shutdown()


def ledger(services: Services, campaign_id: int) -> list[dict[str, Any]]:
    with services.store.read() as conn:
        query = select(attempts).where(attempts.c.campaign_id == campaign_id)
        return [dict(r._mapping) for r in conn.execute(query)]


def test_a_campaign_runs_to_completion_through_sip_to_sipp(
    api: Api, server: tuple[str, Services], tmp_path: Path
) -> None:
    services = server[1]
    with sipp_callee(tmp_path, ring_ms=300, calls=len(BEHAVIOUR)) as sipp:
        campaign_id, _ = campaign_through_the_api(api, sipp)
        asyncio.run(run_engine(services, campaign_id, SECRET_KEY))
        sipp.process.wait(timeout=20)
        # -m N: sipp's own verdict is real; every call it took part in succeeded.
        assert sipp.process.returncode == 0, sipp.log.read_text(errors="replace")[-3000:]
        assert sipp.error_text() == ""

    assert api.ok(api.get(f"/campaigns/{campaign_id}"))["state"] == "completed"
    made = ledger(services, campaign_id)
    assert len(made) == len(BEHAVIOUR)  # one attempt each: no redial policy
    got = {a["number"][-3:]: (a["outcome"], a["native_cause"]) for a in made}
    assert got == BEHAVIOUR
    assert all(a["ended_at"] is not None for a in made)
    answered = [a for a in made if a["outcome"] == "answered"]
    assert all(a["answered_at"] is not None and a["talk_seconds"] > 0 for a in answered)
    rang = [a for a in made if a["number"][-3:] not in ("486", "404")]  # those never ring
    assert all(a["ringing_at"] is not None for a in rang)

    stats = api.ok(api.get(f"/campaigns/{campaign_id}/stats"))
    assert stats["contacts"]["total"] == stats["contacts"]["completed"] == len(BEHAVIOUR)
    assert stats["contacts"]["connected"] == len(answered) == 4
    contacts = api.ok(api.get(f"/campaigns/{campaign_id}/contacts", page_size=100))["items"]
    assert sorted(c["state"] for c in contacts) == sorted(
        ["succeeded"] * len(answered) + ["failed"] * (len(BEHAVIOUR) - len(answered))
    )
