"""A campaign created through the native API (a real server over SQLite and PostgreSQL) runs to
completion through the FreeSWITCH driver against the fake FreeSWITCH, with every outcome
recorded in the attempt ledger as the callees' behaviour says."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from outdial.clock import SystemClock
from outdial.engine.worker import EngineSettings, Worker
from outdial.runtime import line_secrets
from outdial.services.container import Services
from outdial.store.schema import attempts, campaigns, lines
from outdial.telephony.freeswitch.driver import FreeSwitchTelephony
from outdial.telephony.registry import DriverUnavailable, driver_factory
from tests.conftest import SECRET_KEY
from tests.fake_freeswitch import Callee, FakeFreeSwitch, parse_originate
from tests.pg_server import free_port
from tests.support import Api

BEHAVIOUR = {  # the number's last two digits → (callee, outcome, native cause)
    "01": (Callee("answer", ring=3, talk=5), "answered", "NORMAL_CLEARING sip:200"),
    "02": (Callee("answer", ring=8, talk=2), "answered", "NORMAL_CLEARING sip:200"),
    "03": (Callee("busy", ring=1), "busy", "USER_BUSY sip:486"),
    "04": (Callee("no_answer"), "no_answer", "NO_ANSWER"),
    "05": (Callee("no_answer", timeout_cause="ORIGINATOR_CANCEL"), "no_answer",
           "ORIGINATOR_CANCEL sip:487"),
    "06": (Callee("reject", ring=4), "rejected", "CALL_REJECTED sip:603"),
    "07": (Callee("unallocated", ring=6), "invalid_number", "UNALLOCATED_NUMBER sip:404"),
    "08": (Callee("gateway_down"), "carrier_failure", "GATEWAY_DOWN"),
    "09": (Callee("busy", ring=1, job_first=True), "busy", "USER_BUSY sip:486"),
}  # fmt: skip


PASSWORD = "fs-s3cret"  # the Event Socket's: sealed in the store, opened by the engine


def callee(number: str) -> Callee:
    return BEHAVIOUR[number[-2:]][0]


def campaign_through_the_api(api: Api, port: int) -> int:
    settings = {
        "nodes": [{"host": "127.0.0.1", "port": port, "password": PASSWORD}],
        "gateway": "carrier",
        "variables": {"execute_on_media": "start_da2"},
    }
    line = {
        "name": "fs-trunk",
        "driver": "freeswitch",
        "channels": 4,
        "caller_numbers": [{"number": "95187"}],
        "settings": settings,
    }
    line_id = api.ok(api.post("/lines", line), 201)["id"]
    script = {"name": "robot", "extension": "renewal", "context": "outdial"}
    script_id = api.ok(api.post("/scripts", script), 201)["id"]
    body = {
        "name": "fs-campaign",
        "line_id": line_id,
        "script_id": script_id,
        "max_concurrency": 3,
        "ring_timeout_seconds": 20,
        "timezone": "Asia/Shanghai",
    }
    campaign_id = int(api.ok(api.post("/campaigns", body), 201)["id"])
    rows = [{"name": f"客户{n}", "phones": [{"number": f"138000000{n}"}]} for n in BEHAVIOUR]
    report = api.ok(api.post(f"/campaigns/{campaign_id}/contacts", {"contacts": rows}))
    assert report["accepted"] == len(rows), report
    assert api.ok(api.post(f"/campaigns/{campaign_id}/start"))["state"] == "running"
    return campaign_id


async def run_engine(services: Services, campaign_id: int, fake: FakeFreeSwitch, port: int) -> None:
    await fake.start(port)
    clock = SystemClock()
    settings = EngineSettings(state_poll_seconds=0.5, idle_poll_seconds=0.5)
    drivers = driver_factory(clock, line_secrets(SECRET_KEY))
    worker = Worker(services.store, clock, drivers, settings)
    try:
        await asyncio.wait_for(worker.run_campaign(campaign_id), 120)
    finally:
        await worker.shutdown()
        await fake.stop()


def line_row(services: Services, campaign_id: int) -> dict[str, Any]:
    query = select(lines).join(campaigns, campaigns.c.line_id == lines.c.id)
    with services.store.read() as conn:
        return dict(conn.execute(query.where(campaigns.c.id == campaign_id)).one()._mapping)


def test_the_node_password_is_opened_for_the_driver_and_needs_the_key(
    api: Api, server: tuple[str, Services]
) -> None:
    row = line_row(server[1], campaign_through_the_api(api, free_port()))

    async def build() -> list[str]:
        driver = driver_factory(SystemClock(), line_secrets(SECRET_KEY))(row)
        assert isinstance(driver, FreeSwitchTelephony)
        await driver.close()
        return [n.password for n in driver.config.nodes]

    assert asyncio.run(build()) == [PASSWORD]
    with pytest.raises(DriverUnavailable, match="no key to open its password"):
        driver_factory(SystemClock())(row)  # not logged in with the sealed text instead


def ledger(services: Services, campaign_id: int) -> list[dict[str, Any]]:
    with services.store.read() as conn:
        query = select(attempts).where(attempts.c.campaign_id == campaign_id)
        return [dict(r._mapping) for r in conn.execute(query)]


def test_a_campaign_runs_to_completion_through_freeswitch(
    api: Api, server: tuple[str, Services]
) -> None:
    services = server[1]
    fake = FakeFreeSwitch(callee, password=PASSWORD)
    port = free_port()
    campaign_id = campaign_through_the_api(api, port)
    (node,) = line_row(services, campaign_id)["settings"]["nodes"]
    assert node["password"].startswith("sealed:") and PASSWORD not in node["password"]

    asyncio.run(run_engine(services, campaign_id, fake, port))

    assert api.ok(api.get(f"/campaigns/{campaign_id}"))["state"] == "completed"
    made = ledger(services, campaign_id)
    assert len(made) == len(BEHAVIOUR)  # one attempt each: no redial policy
    got = {a["number"][-2:]: (a["outcome"], a["native_cause"]) for a in made}
    assert got == {k: (outcome, cause) for k, (_, outcome, cause) in BEHAVIOUR.items()}
    assert all(a["ended_at"] is not None for a in made)
    answered = [a for a in made if a["outcome"] == "answered"]
    assert all(a["answered_at"] is not None and a["talk_seconds"] > 0 for a in answered)
    assert all(a["ringing_at"] is not None for a in made if a["native_cause"] != "GATEWAY_DOWN")

    # What FreeSWITCH was asked: each call carries its attempt; answered calls went to the script.
    sent = [parse_originate(c.removeprefix("bgapi originate ")) for c in fake.commands
            if c.startswith("bgapi originate ")]  # fmt: skip
    by_uuid = {variables["origination_uuid"]: (variables, dial) for variables, dial, _ in sent}
    assert set(by_uuid) == {a["uuid"] for a in made}
    for attempt in made:
        variables, dial = by_uuid[attempt["uuid"]]
        assert variables["outdial_attempt_id"] == attempt["uuid"]
        assert variables["origination_caller_id_number"] == "95187"
        assert variables["originate_timeout"] == "20"
        assert dial == f"sofia/gateway/carrier/{attempt['number']}"
    for attempt in answered:
        assert f"api uuid_transfer {attempt['uuid']} renewal XML outdial" in fake.commands

    stats = api.ok(api.get(f"/campaigns/{campaign_id}/stats"))
    assert stats["contacts"]["total"] == stats["contacts"]["completed"] == len(BEHAVIOUR)
    assert stats["contacts"]["connected"] == len(answered)
    contacts = api.ok(api.get(f"/campaigns/{campaign_id}/contacts", page_size=100))["items"]
    assert sorted(c["state"] for c in contacts) == sorted(
        ["succeeded"] * len(answered) + ["failed"] * (len(BEHAVIOUR) - len(answered))
    )
