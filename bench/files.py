"""Contact files and exports: throughput and peak memory, per store.

    .venv/bin/python -m bench.files [--rows 1000000] [--xlsx-rows 200000]
        [--attempts 1000000] [--database-url URL ...] [--only import|export]

* import of a CSV roster (姓名, 手机号, 客户编号, 备注; UTF-8), validation and E.164 included,
  as an import job runs it (the file on disk, so a child process reads it beside the writer);
* import of an XLSX roster (the same columns, phone numbers stored as numbers);
* export of a campaign's attempts (the ledger) to CSV.

Each measurement runs in a fresh child process, so its peak memory (max RSS) is its own (an
import's is that of the importing process and its reader child together, sampled every 20 ms).
An import also reports the CPU seconds it took: of the
importing process, of its reader child and, on PostgreSQL, of the server's backends — on a
shared machine they say more than the wall time about what the job costs.
Without --database-url it measures a fresh SQLite file; each PostgreSQL URL must point at an
empty database (the benchmark migrates it and leaves its rows behind).
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import xlsxwriter
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import text

from outdial.clock import SystemClock
from outdial.services.common import Tenant
from outdial.services.container import Services
from outdial.services.exports import ExportRequest
from outdial.services.models import CampaignIn, TenantIn
from outdial.store import bulk
from outdial.store.db import normalise_url, sqlite_url
from outdial.store.migrate import upgrade
from outdial.store.schema import attempts, contact_phones, contacts
from outdial.store.store import Store

HEADER = ["姓名", "手机号", "客户编号", "备注"]


def row(i: int) -> list[str]:
    return [f"客户{i}", f"1{3 + i % 7}{i % 10**9:09d}", f"C{i:07d}", f"第{i}行"]


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(HEADER) + "\n")
        for start in range(0, rows, 10_000):
            chunk = range(start, min(rows, start + 10_000))
            out.write("".join(",".join(row(i)) + "\n" for i in chunk))


def write_xlsx(path: Path, rows: int) -> None:
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, HEADER)
    for i in range(rows):
        name, phone, ident, note = row(i)
        sheet.write_string(i + 1, 0, name)
        sheet.write_number(i + 1, 1, int(phone))  # as Excel users store them
        sheet.write_string(i + 1, 2, ident)
        sheet.write_string(i + 1, 3, note)
    book.close()


def services_for(url: str) -> tuple[Services, Tenant, int]:
    store = Store.from_url(url)
    upgrade(store.engine)
    services = Services.build(store, SystemClock(), base64.urlsafe_b64encode(os.urandom(32)))
    made = services.tenants.create(
        TenantIn(name=f"bench-{time.time_ns()}", max_contacts_per_campaign=10_000_000)
    )
    tenant = Tenant.from_row(made)
    campaign = services.campaigns.create(tenant, CampaignIn(name="bench"))
    return services, tenant, int(campaign["id"])


def measure_import(url: str, path: Path) -> dict[str, Any]:
    """The whole job, file to committed rows; and the CPU time it took of this process, of
    the reader child and of the database server (PostgreSQL: the bench database's backends)."""
    services, tenant, campaign = services_for(url)
    server = _server_cpu(services)
    mine, reader = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    memory = _Memory()
    memory.start()
    started = time.perf_counter()
    with path.open("rb") as stream:
        result = services.imports.run(tenant, campaign, stream, path=path)
    elapsed = time.perf_counter() - started
    memory.stop.set()
    memory.join()
    cpu = {
        "importer": _cpu(resource.RUSAGE_SELF) - mine,
        "reader": _cpu(resource.RUSAGE_CHILDREN) - reader,
        "server": _server_cpu(services) - server,
    }
    services.store.close()
    rows = result.progress.rows_read
    assert result.progress.accepted == rows, result.problems[:3]
    return {"rows": rows, "seconds": elapsed, "cpu": cpu, "peak_both_mb": memory.peak / 1024}


class _Memory(threading.Thread):
    """The largest resident size of this process and its reader child together, sampled
    every 20 ms (KiB)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.peak = 0

    def run(self) -> None:
        while not self.stop.wait(0.02):
            pids = [os.getpid(), *(c.pid for c in multiprocessing.active_children())]
            self.peak = max(self.peak, sum(_rss_kib(pid) for pid in pids if pid))


def _rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return int(status.split("VmRSS:")[1].split()[0]) if "VmRSS:" in status else 0


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(services: Services) -> float:
    """CPU seconds the database's PostgreSQL backends have used (read from /proc: the server
    runs on this machine); 0 for SQLite, which runs in the importing process."""
    if services.store.dialect != "postgresql":
        return 0.0
    with services.store.read() as conn:
        pids = conn.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).all()
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def fill_ledger(services: Services, tenant: Tenant, campaign: int, count: int) -> None:
    """``count`` ended attempts over count/10 contacts, written in bulk."""
    people = max(1, count // 10)
    now = datetime.now(UTC)
    with services.store.write() as conn:
        ids = bulk.reserve_ids(conn, contacts, people)
        bulk.insert_rows(
            conn,
            contacts,
            ("id", "uuid", "tenant_id", "campaign_id", "name", "description", "pass_through",
             "attributes", "primary_number", "state", "reason", "next_eligible_at",
             "attempt_count", "phone_index", "created_at", "updated_at"),
            [
                (cid, f"00000000-0000-4000-8000-{cid:012d}", tenant.id, campaign, f"客户{cid}",
                 "", "", {}, f"+86138{cid:08d}", "failed", "", None, 10, 0, now, now)
                for cid in ids
            ],
        )  # fmt: skip
        bulk.insert_rows(
            conn,
            contact_phones,
            ("contact_id", "campaign_id", "position", "number", "relation", "phone_group",
             "state", "attempt_count"),
            [(cid, campaign, 0, f"+86138{cid:08d}", "self", "default", "finished", 10)
             for cid in ids],
        )  # fmt: skip
        phone_ids = dict(
            conn.execute(
                contact_phones.select()
                .with_only_columns(contact_phones.c.contact_id, contact_phones.c.id)
                .where(contact_phones.c.campaign_id == campaign)
            ).all()
        )
    columns = (
        "uuid", "tenant_id", "campaign_id", "contact_id", "phone_id", "number", "caller_number",
        "worker_id", "created_at", "ringing_at", "answered_at", "ended_at", "outcome",
        "native_cause", "talk_seconds", "abandoned", "data",
    )  # fmt: skip
    for start in range(0, count, 50_000):
        with services.store.write() as conn:
            batch = []
            for n in range(start, min(count, start + 50_000)):
                cid = ids[n % people]
                at = now - timedelta(seconds=count - n)
                answered = n % 3 == 0
                batch.append(
                    (f"00000000-0000-4000-9000-{n:012d}", tenant.id, campaign, cid,
                     phone_ids[cid], f"+86138{cid:08d}", "95187", "bench", at,
                     at + timedelta(seconds=3), at + timedelta(seconds=9) if answered else None,
                     at + timedelta(seconds=60), "answered" if answered else "no_answer",
                     "NORMAL_CLEARING" if answered else "NO_ANSWER",
                     51.0 if answered else 0.0, False, {})
                )  # fmt: skip
            bulk.insert_rows(conn, attempts, columns, batch)
    if services.store.dialect == "postgresql":
        # as autovacuum leaves a table soon after a bulk load (it is off on the bench server):
        # planner statistics, and the hint bits a first read would otherwise set
        with services.store.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        ) as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) attempts, contacts, contact_phones")


def measure_export(url: str, count: int) -> dict[str, Any]:
    services, tenant, campaign = services_for(url)
    fill_ledger(services, tenant, campaign, count)
    out = Path(tempfile.mkdtemp(prefix="bench-export-")) / "attempts.csv"
    started = time.perf_counter()
    result = services.exports.run(tenant, campaign, ExportRequest("attempts", "csv"), out)
    elapsed = time.perf_counter() - started
    services.store.close()
    assert result["rows"] == count, result
    return {"rows": count, "seconds": elapsed, "bytes": result["bytes"]}


def child(kind: str, url: str, arg: str) -> None:
    """One measurement, in this (child) process; prints its result with the peak RSS."""
    figures = measure_export(url, int(arg)) if kind == "export" else measure_import(url, Path(arg))
    # an import: this process and its reader child at once, sampled (the larger of that and
    # this process's own peak, which sampling may miss)
    figures["peak_mb"] = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, figures.pop("peak_both_mb", 0)
    )
    print(json.dumps(figures))


def in_child(kind: str, url: str, arg: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.files", "--child", kind, url, arg],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=200_000)
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--database-url", action="append", default=[])
    parser.add_argument("--only", choices=["import", "export"], help="run only these measurements")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    work = Path(tempfile.mkdtemp(prefix="bench-files-"))
    csv_file, xlsx_file = work / "roster.csv", work / "roster.xlsx"
    urls = args.database_url or [sqlite_url(work)]
    table = Table("store", "what", "rows", "seconds", "rows/s", "peak MB", "CPU s")
    runs = [
        ("import CSV (UTF-8)", "import", str(csv_file)),
        ("import XLSX", "import", str(xlsx_file)),
        ("export attempts to CSV", "export", str(args.attempts)),
    ]
    runs = [run for run in runs if args.only in (None, run[1])]
    with Progress(console=Console(stderr=True)) as progress:
        task = progress.add_task("writing the files", total=2 + len(runs) * len(urls))
        if args.only != "export":
            write_csv(csv_file, args.rows)
            write_xlsx(xlsx_file, args.xlsx_rows)
        progress.advance(task, 2)
        for k, url in enumerate(urls):
            name = normalise_url(url).get_backend_name()
            fresh = url if k or args.database_url else sqlite_url(Path(tempfile.mkdtemp()))
            for what, kind, arg in runs:
                progress.update(task, description=f"{name}: {what}")
                figures = in_child(kind, fresh, arg)
                table.add_row(
                    name,
                    what,
                    f"{figures['rows']:,}",
                    f"{figures['seconds']:.1f}",
                    f"{figures['rows'] / figures['seconds']:,.0f}",
                    f"{figures['peak_mb']:.0f}",
                    _cpu_text(figures.get("cpu")),
                )
                progress.advance(task)
    Console().print(table)


def _cpu_text(cpu: dict[str, float] | None) -> str:
    """An import's CPU seconds: importer + reader child (+ PostgreSQL server)."""
    if not cpu:
        return ""
    parts = [cpu["importer"], cpu["reader"]] + ([cpu["server"]] if cpu["server"] else [])
    return " + ".join(f"{part:.1f}" for part in parts)


if __name__ == "__main__":
    main()
