"""云蝠 call_notify_url end to end: a 云蝠 client creates a task with a notify URL, imports
numbers and starts it; outdial's engine dials them (simulated callees) and its webhook worker
POSTs a 云蝠-shaped notification for each finished call (type 2) or each answered one (type 1)
to a real receiver, retried when the receiver fails. On SQLite and PostgreSQL."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from outdial.api.app import create_app
from outdial.clock import SystemClock
from outdial.domain.webhooks import Backoff
from outdial.engine.worker import EngineSettings
from outdial.io.webhooks import DeliverySettings
from outdial.runtime import EngineThread, WebhookThread
from outdial.services.container import Services
from tests.conftest import ADMIN_KEY, BACKENDS, SECRET_KEY, migrated_store, unique
from tests.integration.test_yunfu import Yunfu, make_yunfu, ok
from tests.support import Api, live_server
from tests.webhook_receiver import Receiver

WAIT_SECONDS = 120  # generous: the machine is shared
DELIVERY = DeliverySettings(poll_seconds=0.1, lease_seconds=10, backoff=Backoff(0.1, 0.5))


@pytest.fixture(scope="module", params=BACKENDS)
def outdial(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Services]]:
    """outdial as `outdial serve` runs it: the HTTP app, the engine and the webhook worker."""
    directory: Path = tmp_path_factory.mktemp(f"yunfu-notify-{request.param}")
    with migrated_store(str(request.param), directory, request) as store:
        services = Services.build(store, SystemClock(), SECRET_KEY, directory / "files")
        engine = EngineThread(store, EngineSettings(state_poll_seconds=0.2, idle_poll_seconds=0.5))
        hooks = WebhookThread(services, DELIVERY)
        engine.start()
        hooks.start()
        with live_server(create_app(services, ADMIN_KEY)) as url:
            yield url, services
        hooks.stop()
        engine.stop()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    rx = Receiver()  # 云蝠 receivers do not check signatures
    with live_server(rx) as url:
        yield rx, url


@pytest.fixture
def yf(outdial: tuple[str, Services]) -> Iterator[Yunfu]:
    url = outdial[0]
    admin = Api(url, ADMIN_KEY)
    tenant = admin.ok(admin.post("/tenants", {"name": unique("yunfu")}), 201)
    admin.close()
    api = Api(url, tenant["api_key"])
    api.tenant = tenant  # type: ignore[attr-defined]
    made = make_yunfu(url, api, callees={"answered_rate": 0.5, "busy_rate": 0.3})
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


def run_task(yf: Yunfu, notify_url: str, notify_type: int, count: int) -> dict[str, Any]:
    task = yf.create(
        maximumcall=2, call_pause_second=0, call_notify_url=notify_url, call_notify_type=notify_type
    )
    rows = [
        {"name": f"客户{i}", "phone": f"1380013{i:04d}", "extra": f"x-{i}"} for i in range(count)
    ]
    imported = ok(yf.http.post(f"/task/import_task_customer/{task['uuid']}", json={"data": rows}))
    assert imported["data"]["success"] == count
    assert ok(yf.http.get(f"/task/start/{task['uuid']}"))["start"] == 1
    wait_for(
        lambda: ok(yf.http.get(f"/task/progress/{task['uuid']}"))["percent"] == 100,
        "every number dialed",
    )
    return dict(task)


def attempts_of(yf: Yunfu) -> list[dict[str, Any]]:
    [campaign] = yf.native_campaigns()
    return list(yf.api.ok(yf.api.get(f"/campaigns/{campaign['id']}/attempts"))["items"])


def test_every_finished_call_is_notified_in_yunfus_shape(
    yf: Yunfu, receiver: tuple[Receiver, str]
) -> None:
    rx, url = receiver
    rx.fail_first = 3  # the first tries fail: the notifications are retried
    task = run_task(yf, f"{url}/api/hangup_notify", 2, 6)
    calls = attempts_of(yf)
    assert len(calls) == 6
    wait_for(lambda: len({r.event_id for r in rx.delivered()}) == 6, "six notifications")
    assert rx.failed_count == 3
    by_call = {}
    for got in rx.delivered():
        body = got.json()
        assert body["count"] == 1 and len(body["data"]) == 1
        by_call[body["data"][0]["callid"]] = body["data"][0]
    assert set(by_call) == {a["uuid"] for a in calls}
    tenant = yf.api.tenant  # type: ignore[attr-defined]
    for attempt in calls:
        note = by_call[attempt["uuid"]]
        assert note["task"] == {"id": task["uuid"], "name": task["name"]}
        assert note["user_id"] == note["master_user_id"] == tenant["uuid"]
        assert note["type"] == 4
        assert note["number_data"]["number"] == attempt["number"].removeprefix("+86")
        assert note["number_data"]["hangupdate"] and note["calldate"]
        assert note["outcome"] == attempt["outcome"]
        assert (note["answerdate"] is not None) == (attempt["answered_at"] is not None)
        assert note["status"] == ("answered" if attempt["answered_at"] else "unanswered")
        assert note["bill"] == math.ceil(attempt["talk_seconds"])
        assert note["extra"].startswith("x-") and note["customer_id"]
    assert all(r.headers["content-type"] == "application/json" for r in rx.delivered())


def test_type_1_notifies_answered_calls_only(yf: Yunfu, receiver: tuple[Receiver, str]) -> None:
    rx, url = receiver
    run_task(yf, f"{url}/api/hangup_notify", 1, 8)
    calls = attempts_of(yf)
    answered = {a["uuid"] for a in calls if a["outcome"] == "answered"}
    wait_for(lambda: {r.json()["data"][0]["callid"] for r in rx.delivered()} == answered or None,
             "the answered calls' notifications")  # fmt: skip
    time.sleep(1)  # and no other comes after them
    assert {r.json()["data"][0]["callid"] for r in rx.delivered()} == answered
    [campaign] = yf.native_campaigns()
    [sub] = yf.api.ok(yf.api.get("/webhooks", campaign_id=str(campaign["id"])))["items"]
    assert sub["managed_by"] == "campaign" and sub["format"] == "yunfu"
    assert sub["outcomes"] == ["answered"] and sub["events"] == ["attempt.ended"]
    # it follows the task: change it there, not here
    assert yf.api.patch(f"/webhooks/{sub['id']}", {"max_tries": 2}).status_code == 409


def test_a_task_without_a_notify_url_has_no_subscription(yf: Yunfu) -> None:
    yf.create(call_notify_url=None)
    assert yf.api.ok(yf.api.get("/webhooks"))["total"] == 0
    task = yf.create(name="有通知的任务")
    [sub] = yf.api.ok(yf.api.get("/webhooks"))["items"]
    assert sub["url"] == "http://127.0.0.1:81/api/hangup_notify" and sub["enabled"]
    changed = yf.task_body(name="有通知的任务", call_notify_url=None)
    ok(yf.http.put(f"/task/{task['uuid']}", json=changed))
    [sub] = yf.api.ok(yf.api.get("/webhooks"))["items"]
    assert not sub["enabled"]
