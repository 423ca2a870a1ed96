"""Contact append throughput: 1,000-contact batches through the services, per store.

    .venv/bin/python -m bench.append [--contacts 20000] [--database-url URL ...]

Without --database-url it measures a fresh SQLite file. Each PostgreSQL URL must point at an
empty database (the benchmark migrates it and leaves its rows behind).
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from outdial.clock import SystemClock
from outdial.services.common import Tenant
from outdial.services.container import Services
from outdial.services.models import CampaignIn, ContactAppendIn, TenantIn
from outdial.store.db import normalise_url, sqlite_url
from outdial.store.migrate import upgrade
from outdial.store.store import Store

BATCH = 1000


def batch(start: int) -> ContactAppendIn:
    rows = [
        {
            "name": f"客户{i}",
            "external_id": str(i),
            "pass_through": f"order-{i}",
            "phones": [{"number": f"138{i:08d}"}, {"number": f"139{i:08d}", "relation": "配偶"}],
        }
        for i in range(start, start + BATCH)
    ]
    return ContactAppendIn(contacts=rows)


def measure(url: str, contacts: int, progress: Progress) -> tuple[float, float]:
    store = Store.from_url(url)
    upgrade(store.engine)
    services = Services.build(store, SystemClock(), base64.urlsafe_b64encode(os.urandom(32)))
    made = services.tenants.create(
        TenantIn(name=f"bench-{time.time_ns()}", max_contacts_per_campaign=contacts)
    )
    tenant = Tenant.from_row(made)
    campaign = services.campaigns.create(tenant, CampaignIn(name="bench"))
    task = progress.add_task(normalise_url(url).get_backend_name(), total=contacts)
    latencies = []
    started = time.perf_counter()
    for start in range(0, contacts, BATCH):
        body = batch(start)
        t0 = time.perf_counter()
        report = services.contacts.append(tenant, campaign["id"], body)
        latencies.append(time.perf_counter() - t0)
        assert report["accepted"] == BATCH, report["results"][:3]
        progress.advance(task, BATCH)
    elapsed = time.perf_counter() - started
    store.close()
    latencies.sort()
    return contacts / elapsed, latencies[len(latencies) // 2] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--database-url", action="append", default=[])
    args = parser.parse_args()
    urls = args.database_url or [sqlite_url(Path(tempfile.mkdtemp(prefix="bench-")))]
    table = Table("store", "contacts", "contacts/s", "median ms per 1,000-row request")
    with Progress() as progress:
        for url in urls:
            rate, median = measure(url, args.contacts, progress)
            name = normalise_url(url).get_backend_name()
            table.add_row(name, f"{args.contacts:,}", f"{rate:,.0f}", f"{median:.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
