"""A 得助 client against a running outdial with its engine: signing with its private key, it
creates a task with 1,000 customers, starts it, and pages it while the engine dials (simulated
callees, fast; agents ready in the task's skill set): the page's statistics are the ledger's."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from outdial.api.app import create_app
from outdial.clock import SystemClock
from outdial.engine.worker import EngineSettings
from outdial.runtime import EngineThread
from outdial.services.container import Services
from tests.conftest import ADMIN_KEY, BACKENDS, SECRET_KEY, migrated_store, unique
from tests.integration.dezhu_support import Dezhu, customers, make_dezhu, ok
from tests.support import Api, live_server

WAIT_SECONDS = 180  # generous: the machine is shared
AGENTS = 4


@pytest.fixture(scope="module", params=BACKENDS)
def engine_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Services]]:
    """outdial as `outdial serve` runs it: the HTTP app and the engine on one store."""
    directory: Path = tmp_path_factory.mktemp(f"dezhu-engine-{request.param}")
    with migrated_store(str(request.param), directory, request) as store:
        services = Services.build(store, SystemClock(), SECRET_KEY, directory / "files")
        engine = EngineThread(store, EngineSettings(state_poll_seconds=0.2, idle_poll_seconds=0.5))
        engine.start()
        with live_server(create_app(services, ADMIN_KEY)) as url:
            yield url, services
        engine.stop()


@pytest.fixture
def dz(engine_server: tuple[str, Services]) -> Iterator[Dezhu]:
    url = engine_server[0]
    admin = Api(url, ADMIN_KEY)
    tenant = admin.ok(admin.post("/tenants", {"name": unique("dezhu")}), 201)
    admin.close()
    api = Api(url, tenant["api_key"])
    api.tenant = tenant  # type: ignore[attr-defined]
    callees = {"answered_rate": 0.5, "busy_rate": 0.2}
    made = make_dezhu(url, api, channels=10, settings={"speed": 1000, "callees": callees})
    for i in range(AGENTS):
        body = {"name": f"坐席{i}", "skill_group_ids": [made.skills["id"]]}
        agent = api.ok(api.post("/agents", body), 201)
        api.ok(api.post(f"/agents/{agent['id']}/login"))
        api.ok(api.post(f"/agents/{agent['id']}/ready"))
    yield made
    made.close()
    api.close()


def wait_for(predicate: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def the_task(dz: Dezhu) -> dict[str, Any]:
    [task] = dz.page()["list"]
    return dict(task)


def test_a_signing_client_creates_a_thousand_customers_and_pages_live_statistics(
    dz: Dezhu,
) -> None:
    today = date.today()
    body = dz.task_body(
        taskName="千人外呼",
        taskExecStartDate=(today - timedelta(days=1)).isoformat(),
        taskExecEndDate=(today + timedelta(days=1)).isoformat(),
        taskExecTimes=[{"taskExecTimeStartStr": "00:00:00", "taskExecTimeEndStr": "23:59:59"}],
        acw=1,
        outboundPhoneGroups=[{"name": "本人", "identify": "default", "autoOutboundSwitch": 0}],
        outBoundCustomers=customers(1000),
    )
    task_id = ok(dz.client.post("/create", body))
    assert the_task(dz)["customerAmount"] == 1000
    assert (the_task(dz)["taskStatus"], the_task(dz)["completedCount"]) == (1, 0)

    ok(dz.client.post("/start", {"taskId": task_id}))
    live = wait_for(
        lambda: (t := the_task(dz))["completedCount"] >= 30 and t["connectedCount"] >= 5 and t,
        "some calls finished",
    )
    assert live["taskStatus"] == 3
    assert live["customerAmount"] == 1000
    ok(dz.client.post("/pause", {"taskId": task_id}))
    attempts = f"/campaigns/{task_id}/attempts"
    wait_for(lambda: dz.api.ok(dz.api.get(attempts, open="true"))["total"] == 0, "no open call")

    # paused and quiet: the page and the native statistics agree, both from the ledger
    paused = the_task(dz)
    stats = dz.api.ok(dz.api.get(f"/campaigns/{task_id}/stats"))
    c = stats["contacts"]
    assert paused["taskStatus"] == 2
    assert paused["completedCount"] == c["completed"] >= live["completedCount"]
    assert paused["connectedCount"] == c["connected"] >= live["connectedCount"]
    assert 0 < c["completed"] < 1000
    assert paused["connectPercentage"] == f"{100 * c['connected'] / c['dialed']:.2f}%"
    assert paused["taskProgress"] == f"{100 * c['completed'] / 1000:.2f}%"
    answered = stats["attempts"]["by_outcome"].get("answered", 0)
    assert answered >= c["connected"] > 0


def test_a_manual_task_is_worked_by_its_agents_through_preview(dz: Dezhu) -> None:
    """taskType 2: the customers go to the agents by taskAgents; an agent previews one, dials it
    (the native preview API), and the page counts the call."""
    today = date.today()
    team = dz.api.ok(dz.api.get("/agents"))["items"][:2]
    body = dz.task_body(
        taskName="手动外呼",
        taskType=2,
        taskExecTimes=None,  # optional on a manual task: all day
        taskExecStartDate=(today - timedelta(days=1)).isoformat(),
        taskExecEndDate=(today + timedelta(days=1)).isoformat(),
        acw=1,
        taskAgents=[{"agentId": a["id"], "assignNum": 2} for a in team],
        outboundPhoneGroups=[{"name": "本人", "identify": "default", "autoOutboundSwitch": 0}],
        outBoundCustomers=customers(4, start=5000),
    )
    task_id = ok(dz.client.post("/create", body))
    ok(dz.client.post("/start", {"taskId": task_id}))
    first = team[0]["id"]
    held = dz.api.ok(dz.api.post(f"/agents/{first}/preview/next", {"campaign_id": task_id}))
    contact = held["contact"]
    assert contact["assigned_agent_id"] == first
    dz.api.ok(dz.api.post(f"/agents/{first}/preview/dial", {"contact_id": contact["id"]}), 202)
    wait_for(lambda: the_manual(dz, task_id)["completedCount"] == 1, "the previewed call")
    shown = the_manual(dz, task_id)
    assert (shown["taskType"], shown["taskStatus"], shown["customerAmount"]) == (2, 3, 4)
    assert shown["taskProgress"] == "25.00%"
    [made] = dz.api.ok(dz.api.get(f"/campaigns/{task_id}/attempts"))["items"]
    assert (made["agent_id"], made["contact_id"]) == (first, contact["id"])


def the_manual(dz: Dezhu, task_id: int) -> dict[str, Any]:
    [task] = dz.page(taskType=2)["list"]
    assert task["taskId"] == task_id
    return dict(task)
