"""A 云蝠 client against a running outdial with its engine: it creates a task, imports numbers,
starts and stops it, and the engine dials them (simulated callees, fast)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from outdial.api.app import create_app
from outdial.clock import SystemClock
from outdial.engine.worker import EngineSettings
from outdial.runtime import EngineThread
from outdial.services.container import Services
from tests.conftest import ADMIN_KEY, BACKENDS, SECRET_KEY, migrated_store, unique
from tests.integration.test_yunfu import Yunfu, make_yunfu, ok
from tests.support import Api, live_server

WAIT_SECONDS = 120  # generous: the machine is shared


@pytest.fixture(scope="module", params=BACKENDS)
def engine_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Services]]:
    """outdial as `outdial serve` runs it: the HTTP app and the engine on one store."""
    directory: Path = tmp_path_factory.mktemp(f"yunfu-engine-{request.param}")
    with migrated_store(str(request.param), directory, request) as store:
        services = Services.build(store, SystemClock(), SECRET_KEY, directory / "files")
        engine = EngineThread(store, EngineSettings(state_poll_seconds=0.2, idle_poll_seconds=0.5))
        engine.start()
        with live_server(create_app(services, ADMIN_KEY)) as url:
            yield url, services
        engine.stop()


@pytest.fixture
def yf(engine_server: tuple[str, Services]) -> Iterator[Yunfu]:
    url = engine_server[0]
    admin = Api(url, ADMIN_KEY)
    tenant = admin.ok(admin.post("/tenants", {"name": unique("yunfu")}), 201)
    admin.close()
    api = Api(url, tenant["api_key"])
    api.tenant = tenant  # type: ignore[attr-defined]
    made = make_yunfu(url, api, callees={"answered_rate": 0.5, "busy_rate": 0.2})
    # dial at any hour the test runs: a blackout in the past, no redials
    past = {"start": "2020-01-01T00:00:00", "end": "2020-01-02T00:00:00"}
    api.ok(api.patch(f"/blackout-calendars/{made.calendar['id']}", {"weekly": [], "dated": [past]}))
    api.ok(api.patch(f"/redial-policies/{made.policy['id']}", {"rules": []}))
    yield made
    made.http.close()
    api.close()


def wait_for(predicate: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_yunfu_client_creates_imports_starts_and_stops_a_task(yf: Yunfu) -> None:
    task = yf.create(maximumcall=1, call_pause_second=1)
    uuid = task["uuid"]
    rows = [{"name": f"客户{i}", "phone": f"1380013{i:04d}", "extra": f"x-{i}"} for i in range(6)]
    imported = ok(yf.http.post(f"/task/import_task_customer/{uuid}", json={"data": rows}))
    assert imported["data"] == {"success": 6, "fail": []}

    assert ok(yf.http.get(f"/task/start/{uuid}"))["start"] == 1
    wait_for(lambda: ok(yf.http.get(f"/task/progress/{uuid}"))["progress"] >= 1, "a first call")
    stopped = ok(yf.http.get(f"/task/stop/{uuid}"))
    assert stopped["start"] == 0
    [campaign] = yf.native_campaigns()
    assert campaign["state"] == "paused"

    # paused: once the call in progress (if any) ends, nothing more is dialed
    attempts = f"/campaigns/{campaign['id']}/attempts"
    wait_for(lambda: yf.api.ok(yf.api.get(attempts, open="true"))["total"] == 0, "no open call")
    dialed = yf.api.ok(yf.api.get(attempts))["total"]
    time.sleep(1.5)
    assert yf.api.ok(yf.api.get(attempts))["total"] == dialed
    assert dialed < 6

    assert ok(yf.http.get(f"/task/start/{uuid}"))["start"] == 1
    done = wait_for(
        lambda: (p := ok(yf.http.get(f"/task/progress/{uuid}")))["percent"] == 100 and p,
        "every number dialed",
    )
    assert done == {"total": 6, "progress": 6, "percent": 100}
    assert yf.api.ok(yf.api.get(attempts))["total"] == 6
    stats = yf.api.ok(yf.api.get(f"/campaigns/{campaign['id']}/stats"))
    assert stats["contacts"]["total"] == 6 and stats["attempts"]["total"] == 6
