"""Webhook delivery: the rate to a local receiver, and no event lost while the receiver fails
or outdial restarts.

Three processes: this one (it writes the events into the outbox, as the engine does, and
watches the store), `outdial serve --no-engine` (its delivery worker does the work), and the
receiver (tests/webhook_receiver.py: uvicorn, checks every signature, fails when told).

1. rate:    a backlog of --events events, then outdial starts; events/s from its first
            delivery to its last.
2. outage:  the receiver answers 503 for --outage seconds while events keep coming (--feed per
            second); every event must arrive after it recovers, none dead.
3. restart: a backlog, and outdial is killed (SIGKILL) a third of the way through and stopped
            (SIGTERM) at two thirds, started again each time; every event must arrive, repeats
            only with the same idempotency key.

    .venv/bin/python -m bench.webhooks                    # SQLite under a temporary data dir
    .venv/bin/python -m bench.webhooks --quick            # outage 20 s, smaller backlogs
    .venv/bin/python -m bench.webhooks --database-url postgresql://postgres@127.0.0.1:5432/bench_webhooks
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from outdial.clock import SystemClock
from outdial.engine.ledger import record_event
from outdial.services.common import Tenant
from outdial.services.container import Services
from outdial.services.models import CampaignIn, TenantIn, WebhookIn
from outdial.store.db import normalise_url, sqlite_url
from outdial.store.migrate import upgrade
from outdial.store.schema import webhook_deliveries as d
from outdial.store.store import Store
from tests.pg_server import free_port

console = Console()
SECRET = "whsec_bench_0123456789abcdef"
ADMIN_KEY = "od_admin_bench_0123456789"
BATCH = 500
OUTDIAL = str(Path(sys.executable).parent / "outdial")


class Bench:
    def __init__(self, url: str, data_dir: Path, concurrency: int):
        self.url, self.data_dir = url, data_dir
        self.key = base64.urlsafe_b64encode(os.urandom(32))
        self.store = Store.from_url(url)
        upgrade(self.store.engine)
        self.services = Services.build(self.store, SystemClock(), self.key)
        made = self.services.tenants.create(TenantIn(name=f"bench-{time.time_ns()}"))
        self.tenant = Tenant.from_row(made)
        campaign = self.services.campaigns.create(self.tenant, CampaignIn(name="bench"))
        self.campaign_id = int(campaign["id"])
        self.receiver_port = free_port()
        self.receiver = subprocess.Popen(
            [sys.executable, "-m", "tests.webhook_receiver", "--port", str(self.receiver_port),
             "--secret", SECRET],
        )  # fmt: skip
        wait(lambda: self.stats() is not None, 20, "the receiver")
        body = {
            "url": f"http://127.0.0.1:{self.receiver_port}/hook",
            "events": ["campaign.progress"],
            "secret": SECRET,
            "max_concurrency": concurrency,
        }
        self.sub = int(self.services.webhooks.create(self.tenant, WebhookIn(**body))["id"])
        self.serve: subprocess.Popen[bytes] | None = None
        self.published = 0

    # --- the receiver and outdial ------------------------------------------------------------

    def stats(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.receiver_port}/stats") as r:
                return dict(json.load(r))
        except OSError:
            return None

    def control(self, order: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.receiver_port}/control",
            data=json.dumps(order).encode(),
            method="POST",
        )
        urllib.request.urlopen(request).close()

    def start(self) -> None:
        port = free_port()
        env = {**os.environ, "DATABASE_URL": self.url, "OUTDIAL_SECRET_KEY": self.key.decode()}
        env["OUTDIAL_ADMIN_KEY"] = ADMIN_KEY
        command = [OUTDIAL, "serve", "--no-engine", "--port", str(port)]
        command += ["--data-dir", str(self.data_dir)]
        self.serve = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        assert self.serve is not None
        self.serve.send_signal(how)
        self.serve.wait(60)
        self.serve = None

    def close(self) -> None:
        if self.serve is not None:
            self.stop()
        self.receiver.terminate()
        self.receiver.wait(10)
        self.store.close()

    # --- the outbox ---------------------------------------------------------------------------

    def publish(self, count: int) -> None:
        now = SystemClock().now
        for start in range(0, count, BATCH):
            with self.store.write() as conn:
                for i in range(start, min(count, start + BATCH)):
                    data = {"seq": self.published + i}
                    record_event(
                        conn, self.campaign_id, "campaign.progress", data, now(), self.tenant.id
                    )
        self.published += count

    def counts(self) -> dict[str, int]:
        with self.store.read() as conn:
            rows = conn.execute(
                select(d.c.state, func.count()).where(d.c.subscription_id == self.sub)
                .group_by(d.c.state)
            ).all()  # fmt: skip
        return {str(state): int(n) for state, n in rows}

    def delivered(self) -> int:
        return self.counts().get("delivered", 0)


def wait(check: Callable[[], bool], seconds: float, what: str, step: float = 0.05) -> float:
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > seconds:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(step)
    return time.perf_counter()


def measure_rate(bench: Bench, events: int) -> dict[str, Any]:
    bench.publish(events)
    started = time.perf_counter()
    bench.start()
    first = wait(lambda: bench.delivered() > 0, 60, "the first delivery", 0.01)
    last = wait(lambda: bench.delivered() >= events, 600, "every delivery", 0.05)
    bench.stop()
    return {
        "events": events,
        "seconds": last - first,
        "per_second": events / (last - first),
        "with_start": last - started,
    }


def measure_outage(bench: Bench, outage: float, feed: int) -> dict[str, Any]:
    before = bench.published
    bench.start()
    wait(lambda: bench.stats() is not None, 10, "the receiver")
    bench.control({"fail_for": outage})
    began = time.perf_counter()
    while time.perf_counter() - began < outage + 5:  # through the outage and a little after
        tick = time.perf_counter()
        bench.publish(feed)
        time.sleep(max(0.0, 1 - (time.perf_counter() - tick)))
    total = bench.published
    recovered = began + outage
    done = wait(lambda: bench.delivered() >= total, outage * 4 + 300, "the backlog", 0.2)
    bench.stop()
    stats = bench.stats() or {}
    return {
        "events": total - before,
        "outage": outage,
        "failed_tries": stats.get("failed", 0),
        "drained_after": done - recovered,
        "dead": bench.counts().get("dead", 0),
    }


def measure_restarts(bench: Bench, events: int) -> dict[str, Any]:
    base = bench.delivered()
    total = bench.published + events
    bench.publish(events)
    bench.start()
    wait(lambda: bench.delivered() >= base + events // 3, 600, "a third")
    bench.stop(signal.SIGKILL)
    killed = time.perf_counter()
    bench.start()
    wait(lambda: bench.delivered() >= base + 2 * events // 3, 600, "two thirds")
    resumed = time.perf_counter() - killed
    bench.stop(signal.SIGTERM)
    bench.start()
    wait(lambda: bench.delivered() >= total, 600, "the rest")
    bench.stop()
    return {"events": events, "after_kill": resumed}


def pg_database(url: str) -> None:
    """Create (afresh) the PostgreSQL database the URL names."""
    parsed = normalise_url(url)
    name = parsed.database
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="default: SQLite in a temporary data dir")
    parser.add_argument("--events", type=int, default=20_000, help="the rate's backlog")
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the receiver fails")
    parser.add_argument("--feed", type=int, default=100, help="events a second in the outage")
    parser.add_argument("--restart-events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32, help="the subscription's limit")
    parser.add_argument("--quick", action="store_true", help="outage 20 s, 5,000-event backlogs")
    args = parser.parse_args()
    if args.quick:
        args.events, args.outage, args.restart_events = 5_000, 20.0, 3_000
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        data_dir = Path(tmp)
        url = args.database_url or sqlite_url(data_dir)
        if args.database_url:
            pg_database(url)
        bench = Bench(url, data_dir, args.concurrency)
        try:
            rate = measure_rate(bench, args.events)
            outage = measure_outage(bench, args.outage, args.feed)
            restarts = measure_restarts(bench, args.restart_events)
            stats = bench.stats() or {}
            counts = bench.counts()
        finally:
            bench.close()
    report(normalise_url(url).get_backend_name(), args, rate, outage, restarts, stats, counts,
           bench.published)  # fmt: skip


def report(
    backend: str,
    args: argparse.Namespace,
    rate: dict[str, Any],
    outage: dict[str, Any],
    restarts: dict[str, Any],
    stats: dict[str, Any],
    counts: dict[str, int],
    published: int,
) -> None:
    table = Table(title=f"webhook delivery ({backend}, max_concurrency {args.concurrency})")
    for column in ("measure", "figure"):
        table.add_column(column)
    table.add_row("rate: backlog", f"{rate['events']:,} events")
    table.add_row("rate: first to last delivery", f"{rate['seconds']:.1f} s")
    table.add_row("rate: events/s", f"{rate['per_second']:,.0f}")
    table.add_row("rate: incl. outdial start", f"{rate['with_start']:.1f} s")
    table.add_row("outage: receiver failing", f"{outage['outage']:.0f} s")
    table.add_row("outage: events during it", f"{outage['events']:,}")
    table.add_row("outage: failed tries (503)", f"{outage['failed_tries']:,}")
    table.add_row("outage: all delivered after recovery", f"{outage['drained_after']:.1f} s")
    table.add_row("restart: backlog (kill -9 at 1/3, SIGTERM at 2/3)", f"{restarts['events']:,}")
    table.add_row("restart: kill to two thirds", f"{restarts['after_kill']:.1f} s")
    table.add_row("events published", f"{published:,}")
    table.add_row("received once at least (unique ids)", f"{stats.get('unique', 0):,}")
    table.add_row("lost", f"{published - stats.get('unique', 0):,}")
    table.add_row(
        "repeats (same idempotency key)", f"{stats.get('ok', 0) - stats.get('unique', 0):,}"
    )
    table.add_row("bad signatures", f"{stats.get('bad_signatures', 0):,}")
    table.add_row("outbox: delivered / dead / pending", " / ".join(
        f"{counts.get(k, 0):,}" for k in ("delivered", "dead", "pending")))  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
