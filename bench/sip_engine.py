"""bench.sip --engine: a campaign through the real engine (runner, pacing, ledger, store) and the
SIP driver to sipp. The attempt ledger is the record: rate, concurrency and outcomes are read
back from it."""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from outdial.clock import SystemClock
from outdial.domain.campaign_state import LifecycleAction
from outdial.domain.outcomes import Outcome
from outdial.engine.worker import EngineSettings, Worker
from outdial.runtime import line_secrets
from outdial.services.common import Tenant
from outdial.services.container import Services
from outdial.services.models import CampaignIn, ContactAppendIn, LineIn, ScriptIn, TenantIn
from outdial.services.validation import validate
from outdial.store.db import sqlite_url
from outdial.store.migrate import upgrade
from outdial.store.schema import attempts
from outdial.store.store import Store
from outdial.telephony.registry import driver_factory
from tests.sipp_callee import Sipp

SECRET_KEY = base64.urlsafe_b64encode(b"b" * 32)
BATCH = 1000


def set_up(
    services: Services, args: argparse.Namespace, sipp: Sipp, numbers: list[str]
) -> tuple[Tenant, int]:
    limit = max(len(numbers), 20_000)
    body = {"name": "bench-sip", "max_contacts_per_campaign": limit}
    tenant = Tenant.from_row(services.tenants.create(validate(TenantIn, body)))
    concurrency = args.concurrency or args.rate * (args.hold + 2)
    line = {
        "name": "sipp",
        "driver": "sip",
        "channels": concurrency,
        "caller_numbers": [{"number": "95187"}],
        "settings": {
            "host": sipp.host,
            "port": sipp.port,
            "transport": args.transport,
            "max_call_seconds": args.hold,
        },
    }
    line_id = services.lines.create(tenant, validate(LineIn, line))["id"]
    script_id = services.scripts.create(tenant, validate(ScriptIn, {"name": "robot"}))["id"]
    campaign = {
        "name": "bench-sip",
        "line_id": line_id,
        "script_id": script_id,
        "max_concurrency": concurrency,
        "ring_timeout_seconds": 5,
    }
    campaign_id = int(services.campaigns.create(tenant, validate(CampaignIn, campaign))["id"])
    for i in range(0, len(numbers), BATCH):
        rows = [{"phones": [{"number": n}]} for n in numbers[i : i + BATCH]]
        services.contacts.append(tenant, campaign_id, ContactAppendIn(contacts=rows))
    services.campaigns.act(tenant, campaign_id, LifecycleAction.START)
    return tenant, campaign_id


async def run_campaign(
    args: argparse.Namespace, sipp: Sipp, workdir: Path, plan: list[tuple[str, Outcome]]
) -> dict[str, Any]:
    url = args.database_url or sqlite_url(workdir)
    store = Store.from_url(url)
    upgrade(store.engine)
    clock = SystemClock()
    services = Services.build(store, clock, SECRET_KEY, workdir / "files")
    expected = {number: outcome for number, outcome in plan}
    _, campaign_id = set_up(services, args, sipp, [n for n, _ in plan])
    settings = EngineSettings(state_poll_seconds=0.5, idle_poll_seconds=0.5)
    worker = Worker(store, clock, driver_factory(clock, line_secrets(SECRET_KEY)), settings)
    started = time.monotonic()
    try:
        await asyncio.wait_for(worker.run_campaign(campaign_id), 600)
    finally:
        await worker.shutdown()
    elapsed = time.monotonic() - started
    with store.read() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(select(attempts).where(attempts.c.campaign_id == campaign_id))
        ]
    store.close()
    return summarise(rows, expected, elapsed)


def summarise(
    rows: list[dict[str, Any]], expected: dict[str, Outcome], elapsed: float
) -> dict[str, Any]:
    starts = sorted(r["created_at"] for r in rows)
    span = (starts[-1] - starts[0]).total_seconds() if len(starts) > 1 else 1.0
    wrong = [
        (r["uuid"], r["outcome"] or "open", r["native_cause"] or "")
        for r in rows
        if r["outcome"] != expected.get(r["number"], Outcome.ANSWERED).value
    ]
    return {
        "calls": len(rows),
        "offered_seconds": span,
        "cps": len(rows) / span if span else 0.0,
        "max_lag": 0.0,
        "elapsed": elapsed,
        "peak": peak_concurrency(rows),
        "peak_answered": peak_concurrency([r for r in rows if r["answered_at"] is not None]),
        "ended": sum(1 for r in rows if r["ended_at"] is not None),
        "lost": len(expected) - sum(1 for r in rows if r["ended_at"] is not None),
        "wrong": wrong,
        "outcomes": dict(Counter(r["outcome"] or "open" for r in rows)),
    }


def peak_concurrency(rows: list[dict[str, Any]]) -> int:
    edges: list[tuple[datetime, int]] = []
    for r in rows:
        edges.append((r["created_at"], 1))
        if r["ended_at"] is not None:
            edges.append((r["ended_at"], -1))
    live = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        live += step
        peak = max(peak, live)
    return peak
