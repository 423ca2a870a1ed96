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

4. claim:   with --claim N (instead of 1-3): the time the delivery worker's claim of due
            deliveries takes, in-process: 5 busy subscriptions alone, beside N idle ones
            (enabled, each with a delivered delivery behind it), and the N idle ones alone
            (an idle worker's poll).

    .venv/bin/python -m bench.webhooks --claim 10000 [--database-url URL]
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
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, insert, select

from outdial.clock import SystemClock
from outdial.engine.ledger import record_event
from outdial.services.common import Tenant
from outdial.services.container import Services
from outdial.services.models import CampaignIn, TenantIn, WebhookIn
from outdial.store import outbox
from outdial.store.db import normalise_url, sqlite_url
from outdial.store.migrate import upgrade
from outdial.store.schema import webhook_deliveries as d
from outdial.store.schema import webhook_subscriptions as s
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


def measure_claim(url: str, idle: int, busy: int = 5, due: int = 2_000) -> dict[str, Any]:
    """Median and 90th percentile of outbox.claim (up to 256 leases, rolled back so every
    claim sees the same outbox) with ``idle`` idle subscriptions beside ``busy`` ones holding
    ``due`` due deliveries each."""
    store = Store.from_url(url)
    upgrade(store.engine)
    services = Services.build(store, SystemClock(), base64.urlsafe_b64encode(os.urandom(32)))
    tenant = Tenant.from_row(services.tenants.create(TenantIn(name=f"claim-{time.time_ns()}")))
    sealed = services.box.seal(SECRET)
    now = datetime.now(UTC)
    subscription = {
        "tenant_id": tenant.id, "url": "http://127.0.0.1:9/hook", "events": ["campaign.progress"],
        "description": "", "secret_encrypted": sealed, "enabled": True, "max_concurrency": 8,
        "max_tries": 15, "format": "outdial", "dead_in_row": 0, "created_at": now,
        "updated_at": now,
    }  # fmt: skip
    delivery = {
        "tenant_id": tenant.id, "event": "campaign.progress", "payload": {}, "tries": 0,
        "next_attempt_at": now, "replays": 0, "created_at": now, "updated_at": now,
    }  # fmt: skip
    with store.write() as conn:
        ids = [
            conn.execute(
                insert(s).values(**subscription, uuid=str(uuid.uuid4())).returning(s.c.id)
            ).scalar_one()
            for _ in range(idle + busy)
        ]
        rows = [
            {**delivery, "event_id": str(uuid.uuid4()), "subscription_id": sub,
             "state": "delivered", "delivered_at": now}
            for sub in ids[:idle]
        ] + [
            {**delivery, "event_id": str(uuid.uuid4()), "subscription_id": sub,
             "state": "pending", "delivered_at": None}
            for sub in ids[idle:] for _ in range(due)
        ]  # fmt: skip
        for start in range(0, len(rows), 5_000):
            conn.execute(insert(d), rows[start : start + 5_000])
    if store.dialect == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) webhook_subscriptions, webhook_deliveries")
    times = []
    for _ in range(60):
        with store.engine.connect() as conn, conn.begin() as transaction:
            started = time.perf_counter()
            claimed = outbox.claim(conn, "bench", datetime.now(UTC), 30, 256)
            times.append(time.perf_counter() - started)
            transaction.rollback()
    store.close()
    times = sorted(times[10:])  # the first ones warm the caches
    return {
        "idle": idle,
        "claimed": len(claimed),
        "median_ms": 1000 * times[len(times) // 2],
        "p90_ms": 1000 * times[int(len(times) * 0.9)],
    }


def main_claim(url: str | None, idle: int) -> None:
    table = Table(title="webhook claim (outbox.claim, up to 256 leases)")
    for column in ("store", "idle subscriptions", "busy", "leased", "median ms", "p90 ms"):
        table.add_column(column)
    for count, busy in ((0, 5), (idle, 5), (idle, 0)):
        with tempfile.TemporaryDirectory(prefix="bench-claim-") as tmp:
            target = url or sqlite_url(Path(tmp))
            if url:
                pg_database(url)
            got = measure_claim(target, count, busy)
        name = normalise_url(target).get_backend_name()
        work = f"{busy} × 2,000 due" if busy else "none (a poll)"
        times = f"{got['median_ms']:.2f}", f"{got['p90_ms']:.2f}"
        table.add_row(name, f"{count:,}", work, str(got["claimed"]), *times)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="default: SQLite in a temporary data dir")
    parser.add_argument("--events", type=int, default=20_000, help="the rate's backlog")
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the receiver fails")
    parser.add_argument("--feed", type=int, default=100, help="events a second in the outage")
    parser.add_argument("--restart-events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32, help="the subscription's limit")
    parser.add_argument("--quick", action="store_true", help="outage 20 s, 5,000-event backlogs")
    parser.add_argument("--claim", type=int, help="only time the claim, with N idle subscriptions")
    args = parser.parse_args()
    if args.claim is not None:
        main_claim(args.database_url, args.claim)
        return
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
