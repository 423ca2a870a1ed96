"""Webhooks: subscriptions over the native API, the outbox written with the engine's changes,
and the delivery worker against a real receiver on a port that fails on purpose, on SQLite and
PostgreSQL: signatures, retries with back-off, dead letters and replay, a per-subscription
concurrency limit, and a worker that stops or dies mid-delivery without losing an event."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from outdial.clock import SystemClock
from outdial.domain.campaign_state import LifecycleAction
from outdial.domain.outcomes import Outcome
from outdial.domain.webhooks import (
    EVENT_TYPE_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Backoff,
    DeliveryState,
    signature,
)
from outdial.engine.ledger import record_event
from outdial.io.webhooks import DeliverySettings
from outdial.runtime import WebhookThread
from outdial.services.common import Tenant
from outdial.services.container import Services
from outdial.services.models import CampaignIn, TenantIn, WebhookIn
from outdial.services.validation import validate
from outdial.store import outbox
from outdial.store.schema import attempts, contacts, webhook_deliveries, webhook_subscriptions
from outdial.store.store import Store
from tests.conftest import SECRET_KEY, unique
from tests.integration.test_api_catalog import invalid, not_found
from tests.integration.test_engine_rules import RigFactory, callees, people
from tests.support import Api, live_server
from tests.webhook_receiver import Receiver

SECRET = "whsec_test_0123456789abcdef"
FAST = DeliverySettings(
    poll_seconds=0.05, lease_seconds=5, timeout_seconds=5, backoff=Backoff(0.05, 0.2)
)
d = webhook_deliveries


# --- the API -----------------------------------------------------------------------------


def hook(url: str = "https://hooks.example.com/outdial", **fields: Any) -> dict[str, Any]:
    return {"url": url, "events": ["attempt.ended", "campaign.state_changed"], **fields}


def test_subscription_lifecycle(api: Api) -> None:
    made = api.ok(api.post("/webhooks", hook(description="crm")), 201)
    assert made["secret"] and len(made["secret"]) >= 16
    assert made["max_concurrency"] == 8 and made["max_tries"] == 15 and made["enabled"]
    assert made["format"] == "outdial" and made["managed_by"] is None
    shown = api.ok(api.get(f"/webhooks/{made['id']}"))
    assert "secret" not in shown or shown["secret"] is None
    assert "secret_encrypted" not in shown
    listed = api.ok(api.get("/webhooks"))
    assert [w["id"] for w in listed["items"]] == [made["id"]]
    changed = api.ok(api.patch(f"/webhooks/{made['id']}", {"max_tries": 3, "enabled": False}))
    assert (changed["max_tries"], changed["enabled"], changed["url"]) == (3, False, made["url"])
    rotated = api.ok(api.post(f"/webhooks/{made['id']}/rotate-secret"))
    assert rotated["secret"] not in (None, made["secret"])
    given = api.ok(api.post("/webhooks", hook(secret=SECRET)), 201)
    assert given["secret"] == SECRET
    assert api.ok(api.get("/webhooks", enabled="false"))["total"] == 1
    api.ok(api.delete(f"/webhooks/{made['id']}"), 204)
    not_found(api.get(f"/webhooks/{made['id']}"))
    assert api.ok(api.get(f"/webhooks/{given['id']}/deliveries"))["total"] == 0
    not_found(api.get(f"/webhooks/{given['id']}/deliveries/1"))
    not_found(api.post(f"/webhooks/{given['id']}/deliveries/1/replay"))
    assert api.ok(api.post(f"/webhooks/{given['id']}/replay")) == {"replayed": 0}


BAD_SUBSCRIPTIONS = [
    ({"url": "ftp://hooks.example.com/x"}, "url"),
    ({"url": "hooks.example.com/x"}, "url"),
    ({"url": "http:///path-only"}, "url"),
    ({"url": "https://user:pw@hooks.example.com/"}, "url"),
    ({"url": "https://hooks.example.com/#frag"}, "url"),
    ({"url": "https://hooks.example.com:99999/"}, "url"),
    ({"url": "https://hooks.example.com/" + "a" * 1000}, "url"),
    ({"events": []}, "events"),
    ({"events": ["call.ended"]}, "events[0]"),
    ({"events": ["attempt.ended", "attempt.ended"]}, "events[1]"),
    ({"secret": "short"}, "secret"),
    ({"secret": "has spaces in the secret text"}, "secret"),
    ({"secret": "x" * 129}, "secret"),
    ({"max_concurrency": 0}, "max_concurrency"),
    ({"max_concurrency": 101}, "max_concurrency"),
    ({"max_tries": 0}, "max_tries"),
    ({"max_tries": 51}, "max_tries"),
    ({"campaign_id": 0}, "campaign_id"),
    ({"campaign_id": 999999999}, "campaign_id"),
    ({"outcomes": ["answered"], "events": ["campaign.progress"]}, "outcomes"),
    ({"outcomes": ["picked_up"]}, "outcomes[0]"),
    ({"outcomes": ["busy", "busy"]}, "outcomes[1]"),
    ({"colour": "blue"}, "colour"),
]


@pytest.mark.parametrize(("change", "field"), BAD_SUBSCRIPTIONS)
def test_bad_subscriptions_are_refused_by_field_and_change_nothing(
    api: Api, change: dict[str, Any], field: str
) -> None:
    before = api.ok(api.post("/webhooks", hook()), 201)
    invalid(api.post("/webhooks", {**hook(), **change}), field, change)
    invalid(api.patch(f"/webhooks/{before['id']}", change), field, change)
    listed = api.ok(api.get("/webhooks"))
    assert listed["total"] == 1
    assert {k: v for k, v in listed["items"][0].items() if k != "secret"} == {
        k: v for k, v in before.items() if k != "secret"
    }


def test_another_tenants_campaign_cannot_be_subscribed_to(new_tenant: Callable[..., Api]) -> None:
    owner, other = new_tenant(), new_tenant()
    campaign = owner.ok(owner.post("/campaigns", {"name": unique("c")}), 201)
    invalid(other.post("/webhooks", hook(campaign_id=campaign["id"])), "campaign_id")
    assert other.ok(other.get("/webhooks"))["total"] == 0
    mine = owner.ok(owner.post("/webhooks", hook(campaign_id=campaign["id"])), 201)
    not_found(other.get(f"/webhooks/{mine['id']}"))
    not_found(other.get(f"/webhooks/{mine['id']}/deliveries"))


def test_a_replay_of_a_live_delivery_is_a_conflict(server: tuple[str, Services], api: Api) -> None:
    services = server[1]
    tenant = Tenant.from_row(services.tenants.get(api.tenant["id"]))  # type: ignore[attr-defined]
    campaign = api.ok(api.post("/campaigns", {"name": unique("c")}), 201)
    sub = api.ok(api.post("/webhooks", hook(campaign_id=campaign["id"])), 201)
    with services.store.write() as conn:
        change = {"from": "draft", "to": "scheduled", "reason": "test"}
        record_event(conn, campaign["id"], "campaign.state_changed", change, now(), tenant.id)
    page = api.ok(api.get(f"/webhooks/{sub['id']}/deliveries"))
    assert page["total"] == 1
    delivery = page["items"][0]
    assert delivery["state"] == "pending" and delivery["payload"]["data"] == change
    response = api.post(f"/webhooks/{sub['id']}/deliveries/{delivery['id']}/replay")
    assert response.status_code == 409 and response.json()["state"] == "pending"
    invalid(api.get(f"/webhooks/{sub['id']}/deliveries", state="lost"), "state")
    invalid(api.get(f"/webhooks/{sub['id']}/deliveries", colour="red"), "colour")


def now() -> Any:
    return SystemClock().now()


# --- the outbox, written with the engine's changes -----------------------------------------


def test_the_engine_puts_every_event_in_the_outbox(make_rig: RigFactory) -> None:
    rig = make_rig()
    services = rig.services
    every = [e.value for e in _events()]
    everything = services.webhooks.create(
        rig.tenant, validate(WebhookIn, {"url": "http://127.0.0.1:9/all", "events": every})
    )
    answered = services.webhooks.create(
        rig.tenant,
        validate(
            WebhookIn,
            {"url": "http://127.0.0.1:9/a", "events": ["attempt.ended"], "outcomes": ["answered"]},
        ),
    )
    plan = {"+8613800": Outcome.ANSWERED, "+8613801": Outcome.BUSY}
    numbers = people(3, "+8613800") + people(3, "+8613801", 10)
    campaign_id = rig.campaign(numbers)
    rig.run(campaign_id, callees(plan=plan))
    with rig.store.read() as conn:
        kinds = Counter(
            conn.execute(
                select(d.c.event, func.count())
                .where(d.c.subscription_id == everything["id"])
                .group_by(d.c.event)
            ).all()
        )
        n_attempts = conn.scalar(select(func.count()).where(attempts.c.campaign_id == campaign_id))
        n_contacts = conn.scalar(select(func.count()).where(contacts.c.campaign_id == campaign_id))
        answered_rows = conn.execute(
            select(d.c.payload).where(d.c.subscription_id == answered["id"])
        ).all()
    got = {k: n for (k, n) in kinds.elements()}
    assert got["attempt.ended"] == n_attempts
    assert got["contact.completed"] == n_contacts == 6
    assert got["campaign.state_changed"] >= 2  # started, then completed by the engine
    assert len(answered_rows) == 3
    for (payload,) in answered_rows:
        data = payload["data"]
        assert data["outcome"] == "answered" and data["number"].startswith("+8613800")
        assert data["contact"]["uuid"] and payload["campaign"]["id"] == campaign_id
        assert payload["type"] == "attempt.ended" and payload["id"]


def _events() -> list[Any]:
    from outdial.domain.webhooks import WebhookEvent

    return list(WebhookEvent)


# --- delivery to a real receiver ---------------------------------------------------------


class Setup:
    """A tenant and a campaign on ``store``; events published straight into the outbox."""

    def __init__(self, store: Store):
        self.services = Services.build(store, SystemClock(), SECRET_KEY)
        row = self.services.tenants.create(validate(TenantIn, {"name": unique("hooks")}))
        self.tenant = Tenant.from_row(row)
        made = self.services.campaigns.create(
            self.tenant, validate(CampaignIn, {"name": unique("c")})
        )
        self.campaign_id = int(made["id"])

    def subscribe(self, url: str, **fields: Any) -> int:
        body = {"url": url, "events": ["campaign.progress"], "secret": SECRET, **fields}
        return int(self.services.webhooks.create(self.tenant, validate(WebhookIn, body))["id"])

    def publish(self, count: int) -> None:
        with self.services.store.write() as conn:
            for i in range(count):
                data = {"seq": i, "contacts": count}
                record_event(
                    conn, self.campaign_id, "campaign.progress", data, now(), self.tenant.id
                )

    def states(self, sub_id: int) -> Counter[str]:
        with self.services.store.read() as conn:
            rows = conn.execute(select(d.c.state).where(d.c.subscription_id == sub_id)).all()
        return Counter(r.state for r in rows)

    def rows(self, sub_id: int) -> list[dict[str, Any]]:
        with self.services.store.read() as conn:
            query = select(d).where(d.c.subscription_id == sub_id).order_by(d.c.id)
            return [dict(r._mapping) for r in conn.execute(query)]

    def worker(self, settings: DeliverySettings = FAST) -> WebhookThread:
        thread = WebhookThread(self.services, settings)
        thread.start()
        return thread


@pytest.fixture
def setup(store: Store) -> Setup:
    return Setup(store)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    rx = Receiver(secret=SECRET)
    with live_server(rx) as url:
        yield rx, url


def wait_for(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.02)


def test_deliveries_are_signed_and_carry_the_event_id(
    setup: Setup, receiver: tuple[Receiver, str]
) -> None:
    rx, url = receiver
    sub = setup.subscribe(f"{url}/hook")
    setup.publish(20)
    worker = setup.worker()
    try:
        wait_for(lambda: setup.states(sub)["delivered"] == 20)
    finally:
        worker.stop()
    assert rx.bad_signatures == 0 and len(rx.delivered()) == 20
    rows = {r["event_id"]: r for r in setup.rows(sub)}
    for got in rx.delivered():
        h = got.headers
        stamp = int(h[TIMESTAMP_HEADER.lower()])
        assert h[SIGNATURE_HEADER.lower()] == signature(SECRET, stamp, got.body)
        assert abs(stamp - time.time()) < 120
        assert h[IDEMPOTENCY_HEADER.lower()] == got.event_id == got.json()["id"]
        assert h[EVENT_TYPE_HEADER.lower()] == "campaign.progress"
        assert h["content-type"] == "application/json"
        assert got.json() == rows[got.event_id]["payload"]
        row = rows[got.event_id]
        assert (row["tries"], row["last_status"], row["lease_owner"]) == (1, 200, None)
    assert sorted(g.json()["data"]["seq"] for g in rx.delivered()) == list(range(20))


def test_a_failing_receiver_gets_every_event_after_back_off(
    setup: Setup, receiver: tuple[Receiver, str]
) -> None:
    rx, url = receiver
    sub = setup.subscribe(f"{url}/hook", max_tries=20)
    rx.fail_first = 25
    setup.publish(10)
    worker = setup.worker()
    try:
        wait_for(lambda: setup.states(sub)["delivered"] == 10)
    finally:
        worker.stop()
    assert rx.failed_count == 25
    assert {r.event_id for r in rx.delivered()} == {r["event_id"] for r in setup.rows(sub)}
    assert sum(r["tries"] for r in setup.rows(sub)) == 35
    by_event = Counter(r.event_id for r in rx.got)
    assert all(
        n == 1 + sum(1 for g in rx.got if g.event_id == e and g.status != 200)
        for e, n in by_event.items()
    )


def test_dead_letters_then_replay(setup: Setup, receiver: tuple[Receiver, str]) -> None:
    rx, url = receiver
    sub = setup.subscribe(f"{url}/hook", max_tries=3)
    other = setup.subscribe("http://127.0.0.1:9/closed-port", max_tries=2)
    unsealable = setup.subscribe(f"{url}/hook", max_tries=1)
    with setup.services.store.write() as conn:  # say the secret key was changed under it
        conn.execute(
            update(webhook_subscriptions)
            .where(webhook_subscriptions.c.id == unsealable)
            .values(secret_encrypted="not-a-fernet-token")
        )
    rx.fail_first = 10**6
    setup.publish(4)
    worker = setup.worker()
    try:
        wait_for(lambda: setup.states(sub)["dead"] == 4 and setup.states(other)["dead"] == 4)
        wait_for(lambda: setup.states(unsealable)["dead"] == 4)
        assert rx.failed_count == 12 and not rx.delivered()
        dead = setup.services.webhooks.deliveries(setup.tenant, sub, _page(), {"state": "dead"})
        assert dead.total == 4
        assert all(r["last_status"] == 503 and r["tries"] == 3 for r in dead.items)
        assert all(r["last_error"] == "HTTP 503: {}" for r in dead.items)
        closed = setup.rows(other)
        assert all(r["last_status"] is None and r["last_error"] for r in closed)
        assert all("InvalidToken" in r["last_error"] for r in setup.rows(unsealable))
        rx.fail_first = 0
        one = dead.items[0]
        replayed = setup.services.webhooks.replay(setup.tenant, sub, one["id"])
        assert (replayed["state"], replayed["tries"], replayed["replays"]) == ("pending", 0, 1)
        wait_for(lambda: setup.states(sub)["delivered"] == 1)
        assert setup.services.webhooks.replay_dead(setup.tenant, sub) == {"replayed": 3}
        wait_for(lambda: setup.states(sub)["delivered"] == 4)
    finally:
        worker.stop()
    ids = [r.event_id for r in rx.delivered()]
    assert sorted(ids) == sorted(r["event_id"] for r in setup.rows(sub)) and len(set(ids)) == 4


def _page() -> Any:
    from outdial.services.common import PageRequest

    return PageRequest(1, 50)


def test_a_stopped_worker_loses_nothing(setup: Setup, receiver: tuple[Receiver, str]) -> None:
    rx, url = receiver
    rx.delay = 0.02
    sub = setup.subscribe(f"{url}/hook", max_concurrency=4)
    setup.publish(200)
    first = setup.worker()
    wait_for(lambda: rx.ok_count >= 30)
    first.stop()
    halfway = setup.states(sub)
    assert 0 < halfway["delivered"] < 200, halfway
    with setup.services.store.read() as conn:
        leased = conn.scalar(select(func.count()).where(d.c.lease_owner.is_not(None)))
    assert leased == 0  # a stopping worker gives its leases back
    second = setup.worker()
    try:
        wait_for(lambda: setup.states(sub)["delivered"] == 200)
    finally:
        second.stop()
    assert_once_each(rx, setup.rows(sub))


def test_a_dead_workers_leases_run_out_and_nothing_is_lost(
    setup: Setup, receiver: tuple[Receiver, str]
) -> None:
    rx, url = receiver
    sub = setup.subscribe(f"{url}/hook", max_concurrency=10)
    setup.publish(30)
    with setup.services.store.write() as conn:  # a worker took ten and died mid-try
        taken = outbox.claim(conn, "dead-worker", now(), lease_seconds=1.0, limit=10)
    assert len(taken) == 10
    worker = setup.worker()
    try:
        wait_for(lambda: setup.states(sub)["delivered"] == 30)
    finally:
        worker.stop()
    assert_once_each(rx, setup.rows(sub))
    retried = [r for r in setup.rows(sub) if r["id"] in {t.id for t in taken}]
    assert all(r["tries"] == 2 for r in retried)  # the dead worker's try counts


def assert_once_each(rx: Receiver, rows: list[dict[str, Any]]) -> None:
    """Every event arrived; a repeat, if any, carries the same idempotency key."""
    expected = {r["event_id"] for r in rows}
    got = [r.headers[IDEMPOTENCY_HEADER.lower()] for r in rx.delivered()]
    assert set(got) == expected
    assert all(r.json()["id"] == r.event_id for r in rx.delivered())


def test_concurrency_per_subscription_holds_across_workers(
    setup: Setup, receiver: tuple[Receiver, str]
) -> None:
    rx, url = receiver
    rx.delay = 0.05
    sub = setup.subscribe(f"{url}/hook", max_concurrency=3)
    setup.publish(40)
    workers = [setup.worker(), setup.worker()]
    try:
        wait_for(lambda: setup.states(sub)["delivered"] == 40)
    finally:
        for w in workers:
            w.stop()
    assert rx.max_in_flight <= 3
    assert rx.max_in_flight >= 2  # and it does run requests side by side
    assert_once_each(rx, setup.rows(sub))


def test_a_paused_campaign_event_reaches_a_tenant_wide_subscription(
    make_rig: RigFactory,
) -> None:
    rig = make_rig()
    sub = rig.services.webhooks.create(
        rig.tenant,
        validate(WebhookIn, {"url": "http://127.0.0.1:9/", "events": ["campaign.state_changed"]}),
    )
    campaign_id = rig.campaign(people(1))
    rig.act(campaign_id, LifecycleAction.PAUSE)
    with rig.store.read() as conn:
        changes = [
            r.payload["data"]
            for r in conn.execute(
                select(d.c.payload).where(d.c.subscription_id == sub["id"]).order_by(d.c.id)
            )
        ]
    assert changes[0]["from"] == "draft" and changes[-1]["to"] == "paused"
    assert changes[-1]["reason"] == "pause"


def test_an_endpoint_that_answers_again_has_its_waiting_retries_due_at_once(
    setup: Setup,
) -> None:
    sub = setup.subscribe("http://127.0.0.1:9/", max_tries=10)
    other = setup.subscribe("http://127.0.0.1:9/other", max_tries=10)
    setup.publish(3)
    later = now() + timedelta(hours=1)
    with setup.services.store.write() as conn:
        taken = outbox.claim(conn, "w", now(), lease_seconds=30, limit=10)
        failed = [
            outbox.TryResult(t.id, t.subscription_id, DeliveryState.PENDING, 503, "HTTP 503", later)
            for t in taken
        ]
        outbox.finish(conn, "w", failed, now())
    assert all(r["next_attempt_at"] == later for r in setup.rows(sub) + setup.rows(other))
    moment = now()
    with setup.services.store.write() as conn:
        outbox.finish(conn, "w", [], moment, answered=[sub])
    assert all(r["next_attempt_at"] == moment for r in setup.rows(sub))
    assert all(r["next_attempt_at"] == later for r in setup.rows(other))


def test_delivered_deliveries_are_forgotten_after_a_while_dead_letters_stay(
    setup: Setup, receiver: tuple[Receiver, str]
) -> None:
    rx, url = receiver
    sub = setup.subscribe(f"{url}/hook", max_tries=1)
    rx.fail_first = 2
    setup.publish(5)
    worker = setup.worker()
    try:
        wait_for(lambda: sum(setup.states(sub).values()) == 5 and not setup.states(sub)["pending"])
    finally:
        worker.stop()
    assert setup.states(sub) == Counter({"delivered": 3, "dead": 2})
    with setup.services.store.write() as conn:
        assert outbox.purge(conn, now() - timedelta(days=7)) == 0
        assert outbox.purge(conn, now() + timedelta(seconds=1)) == 3
    assert setup.states(sub) == Counter({"dead": 2})


def test_a_receivers_retry_after_is_honoured(setup: Setup, receiver: tuple[Receiver, str]) -> None:
    rx, url = receiver
    rx.fail_first, rx.fail_status, rx.retry_after = 1, 429, "2"
    sub = setup.subscribe(f"{url}/hook")
    setup.publish(1)
    worker = setup.worker(replace(FAST, backoff=Backoff(0.05, 60)))  # honoured up to the cap
    try:
        wait_for(lambda: rx.failed_count == 1 and setup.rows(sub)[0]["lease_owner"] is None)
        [row] = setup.rows(sub)
        assert row["last_status"] == 429
        assert (row["next_attempt_at"] - row["last_tried_at"]).total_seconds() >= 2
        wait_for(lambda: setup.states(sub)["delivered"] == 1)
    finally:
        worker.stop()


def test_a_cancelled_campaigns_contacts_are_each_reported_completed(make_rig: RigFactory) -> None:
    rig = make_rig()
    body = {"url": "http://127.0.0.1:9/", "events": ["contact.completed"]}
    sub = rig.services.webhooks.create(rig.tenant, validate(WebhookIn, body))
    campaign_id = rig.campaign(people(5))
    rig.act(campaign_id, LifecycleAction.CANCEL)
    rig.run(campaign_id, callees())
    with rig.store.read() as conn:
        payloads = [
            r.payload
            for r in conn.execute(select(d.c.payload).where(d.c.subscription_id == sub["id"]))
        ]
    ids = {c["id"] for c in rig.contacts(campaign_id)}
    assert sorted(p["data"]["contact_id"] for p in payloads) == sorted(ids)
    for p in payloads:
        assert p["data"]["state"] == "cancelled" and p["data"]["contact"]["id"] in ids
        assert p["campaign"]["id"] == campaign_id
    assert len({p["id"] for p in payloads}) == 5


# --- an endpoint that keeps failing is disabled -------------------------------------------


def _publish(services: Services, tenant_id: int, campaign_id: int, count: int) -> None:
    with services.store.write() as conn:
        for i in range(count):
            data = {"seq": i}
            record_event(conn, campaign_id, "campaign.progress", data, now(), tenant_id)


@pytest.mark.parametrize(
    "rule",
    [
        {"disable_after_seconds": 1.0},  # failing a second without a success
        {"disable_after_seconds": None, "disable_after_dead": 3},  # 3 dead letters in a row
    ],
)
def test_an_endpoint_failing_on_and_on_is_disabled_with_its_reason_and_enabled_again(
    server: tuple[str, Services], api: Api, receiver: tuple[Receiver, str], rule: dict[str, Any]
) -> None:
    rx, url = receiver
    services = server[1]
    campaign = api.ok(api.post("/campaigns", {"name": unique("c")}), 201)
    sub = api.ok(
        api.post(
            "/webhooks",
            {"url": f"{url}/hook", "events": ["campaign.progress"], "secret": SECRET,
             "campaign_id": campaign["id"], "max_tries": 1 if "disable_after_dead" in rule else 50},
        ),
        201,
    )  # fmt: skip
    assert (sub["failing_since"], sub["dead_in_row"], sub["disabled_reason"]) == (None, 0, None)
    rx.fail_first = 10**6
    _publish(services, api.tenant["id"], campaign["id"], 5)  # type: ignore[attr-defined]
    thread = WebhookThread(services, replace(FAST, **rule))
    thread.start()
    try:
        wait_for(lambda: not api.ok(api.get(f"/webhooks/{sub['id']}"))["enabled"])
        shown = api.ok(api.get(f"/webhooks/{sub['id']}"))
        assert shown["disabled_reason"].startswith("failing since ")
        assert "HTTP 503" in shown["disabled_reason"] and shown["disabled_at"]
        assert shown["failing_since"] is not None
        listed = api.ok(api.get("/webhooks", enabled="false", campaign_id=campaign["id"]))
        assert [w["disabled_reason"] for w in listed["items"]] == [shown["disabled_reason"]]
        tried = rx.failed_count
        time.sleep(0.5)  # disabled: nothing more is tried
        assert rx.failed_count == tried
        rx.fail_first = 0
        again = api.ok(api.patch(f"/webhooks/{sub['id']}", {"enabled": True}))
        assert again["enabled"] and again["disabled_reason"] is None
        assert (again["failing_since"], again["dead_in_row"], again["disabled_at"]) == (
            None,
            0,
            None,
        )
        if "disable_after_dead" in rule:
            replayed = api.ok(api.post(f"/webhooks/{sub['id']}/replay"))
            assert replayed["replayed"] >= 3
        wait_for(
            lambda: (
                api.ok(api.get(f"/webhooks/{sub['id']}/deliveries", state="delivered"))["total"]
                == 5
            )
        )
    finally:
        thread.stop()
    assert api.ok(api.get(f"/webhooks/{sub['id']}"))["enabled"]


def test_a_healthy_endpoints_failures_are_forgotten_on_success(
    setup: Setup, receiver: tuple[Receiver, str]
) -> None:
    """A few failures then a success: the endpoint is healthy again, never disabled."""
    rx, url = receiver
    sub = setup.subscribe(f"{url}/hook", max_tries=20)
    rx.fail_first = 4
    setup.publish(3)
    worker = setup.worker(replace(FAST, disable_after_seconds=30.0, disable_after_dead=1))
    try:
        wait_for(lambda: setup.states(sub)["delivered"] == 3)
    finally:
        worker.stop()
    row = setup.services.webhooks.get(setup.tenant, sub)
    assert row["enabled"] and (row["failing_since"], row["dead_in_row"]) == (None, 0)


def test_a_campaigns_own_webhook_disabled_for_failing_stays_so_until_its_url_changes(
    server: tuple[str, Services], api: Api
) -> None:
    services = server[1]
    first = "https://hooks.example.com/one"
    campaign = api.ok(api.post("/campaigns", {"name": unique("c"), "webhook_url": first}), 201)
    own = api.ok(api.get("/webhooks", campaign_id=campaign["id"]))["items"][0]
    with services.store.write() as conn:  # as the delivery worker leaves it
        conn.execute(
            update(webhook_subscriptions)
            .where(webhook_subscriptions.c.id == own["id"])
            .values(enabled=False, disabled_reason="failing since …", disabled_at=now())
        )
    renamed = api.ok(api.patch(f"/campaigns/{campaign['id']}", {"name": unique("renamed")}))
    assert renamed["webhook_disabled_reason"] == "failing since …"
    kept = api.ok(api.get(f"/webhooks/{own['id']}"))
    assert not kept["enabled"] and kept["disabled_reason"] == "failing since …"
    listed = api.ok(api.get("/campaigns"))["items"]
    assert [c["webhook_disabled_reason"] for c in listed if c["id"] == campaign["id"]] == [
        "failing since …"
    ]
    api.ok(
        api.patch(f"/campaigns/{campaign['id']}", {"webhook_url": "https://hooks.example.com/two"})
    )
    again = api.ok(api.get(f"/webhooks/{own['id']}"))
    assert again["enabled"] and again["disabled_reason"] is None and again["url"].endswith("/two")
    shown = api.ok(api.get(f"/campaigns/{campaign['id']}"))
    assert shown["webhook_disabled_reason"] is None
