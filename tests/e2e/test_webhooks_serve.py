"""Webhooks as a user runs them: `outdial serve` dials a sim campaign and delivers its events
to a real receiver; killed with SIGKILL mid-campaign and started again, it still delivers every
call's attempt.ended and every contact's contact.completed, a repeat only with the same
idempotency key, each signed."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest

from outdial.domain.webhooks import IDEMPOTENCY_HEADER
from outdial.store.db import sqlite_url
from outdial.store.schema import attempts, contacts
from outdial.store.store import Store
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
from tests.support import live_server
from tests.webhook_receiver import Receiver

SECRET = "whsec_e2e_0123456789abcdef"
CONTACTS = 40


@pytest.mark.slow
def test_serve_delivers_every_event_across_a_kill(tmp_path: Path) -> None:
    rx = Receiver(secret=SECRET, delay=0.05)  # slow enough that a kill catches some in flight
    port = free_port()
    args = ["serve", "--port", str(port), "--data-dir", str(tmp_path)]
    with live_server(rx) as hook_url:
        with started(args, engine_env(), tmp_path / "serve-1.log") as first:
            wait_for(lambda: healthy(port), 60, "outdial serve")
            with api_client(port, "od_admin_e2e") as admin:
                key = admin.post("/tenants", json={"name": "e2e"}).json()["api_key"]
            api = api_client(port, key)
            sub = {"url": f"{hook_url}/hook", "secret": SECRET, "max_concurrency": 2,
                   "events": ["attempt.ended", "contact.completed"]}  # fmt: skip
            assert api.post("/webhooks", json=sub).status_code == 201
            line = api.post("/lines", json={**SIM_LINE, "settings": sim_settings(100)}).json()
            script = api.post("/scripts", json={"name": "robot"}).json()
            body = {"name": "e2e", "line_id": line["id"], "script_id": script["id"],
                    "timezone": "UTC", "max_concurrency": 6}  # fmt: skip
            campaign = api.post("/campaigns", json=body).json()
            rows = [{"phones": [{"number": f"138{i:08d}"}]} for i in range(CONTACTS)]
            added = api.post(f"/campaigns/{campaign['id']}/contacts", json={"contacts": rows})
            assert added.json()["accepted"] == CONTACTS
            assert api.post(f"/campaigns/{campaign['id']}/start").json()["state"] == "running"
            wait_for(lambda: len(rx.delivered()) >= 10, 120, "the first deliveries")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            api.close()
        killed_at = len(rx.delivered())
        with started(args, engine_env(), tmp_path / "serve-2.log"):
            wait_for(lambda: healthy(port), 60, "outdial serve again")
            api = api_client(port, key)
            wait_for(
                lambda: api.get(f"/campaigns/{campaign['id']}").json()["state"] == "completed",
                240,
                "the campaign's end",
            )
            store = Store.from_url(sqlite_url(tmp_path))
            with store.read() as conn:
                calls = {r.uuid for r in conn.execute(attempts.select())}
                people = {r.id for r in conn.execute(contacts.select())}
            store.close()
            wait_for(
                lambda: len({r.event_id for r in rx.delivered()}) == len(calls) + len(people),
                120,
                "every event",
            )
            api.close()
    assert killed_at < len(calls) + len(people)
    assert rx.bad_signatures == 0
    bodies = {r.event_id: r.json() for r in rx.delivered()}
    assert all(r.headers[IDEMPOTENCY_HEADER.lower()] == r.event_id for r in rx.delivered())
    kinds = Counter(b["type"] for b in bodies.values())
    assert kinds == {"attempt.ended": len(calls), "contact.completed": len(people)}
    ended = [b["data"]["attempt_uuid"] for b in bodies.values() if b["type"] == "attempt.ended"]
    assert sorted(ended) == sorted(calls)  # each call once, however often its event was sent
    done = [b["data"]["contact_id"] for b in bodies.values() if b["type"] == "contact.completed"]
    assert sorted(done) == sorted(people)
