"""The 得助 facade over HTTP, per store: a signed create with 1,000 customers, appends of 1,000 up
to a 20,000-customer task, and the page of 20 tasks with their statistics.

    .venv/bin/python -m bench.dezhu [--tasks 10] [--database-url URL ...]

Without --database-url it measures a fresh SQLite file. Each PostgreSQL URL must point at an
empty database (the benchmark migrates it and leaves its rows behind). The server is uvicorn on
a loopback port in this process; the client signs every request (SHA256withRSA, RSA-2048).
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from rich.console import Console
from rich.table import Table

from outdial.api.app import create_app
from outdial.clock import SystemClock
from outdial.services.common import Tenant
from outdial.services.container import Services
from outdial.services.models import (
    CredentialIn,
    LineIn,
    NumberGroupIn,
    SkillGroupIn,
    TenantIn,
)
from outdial.store.db import normalise_url, sqlite_url
from outdial.store.migrate import upgrade
from outdial.store.store import Store

PREFIX = "/speech/openapi/v1/task/outbound"
BATCH = 1000
PER_TASK = 20_000


@contextmanager
def serving(services: Services) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(services, "od_admin_bench_0123456789"),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}{PREFIX}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Client:
    def __init__(self, url: str, app_id: str, key: rsa.RSAPrivateKey):
        self.http = httpx2.Client(base_url=url, timeout=120)
        self.app_id, self.key = app_id, key

    def call(self, method: str, path: str, **kw: Any) -> Any:
        ts = str(int(time.time() * 1000))
        sign = self.key.sign((self.app_id + ts).encode(), padding.PKCS1v15(), hashes.SHA256())
        headers = {"appId": self.app_id, "timestamp": ts, "sign": base64.b64encode(sign).decode()}
        body = self.http.request(method, path, headers=headers, **kw).json()
        assert body["code"] == "10000", body["message"][:300]
        return body["data"]


def customers(start: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"客户{i}",
            "externalCustomerId": str(i),
            "externalData": f"order-{i}",
            "phoneGroupVoList": [
                {
                    "phoneGroupIdentify": "default",
                    "relations": [
                        {"mobile": f"138{i:08d}", "relation": "本人"},
                        {"mobile": f"139{i:08d}", "relation": "配偶"},
                    ],
                }
            ],
        }
        for i in range(start, start + BATCH)
    ]


def task_body(name: str, skills: int, numbers: int) -> dict[str, Any]:
    return {
        "taskName": name,
        "taskType": 1,
        "taskExecStartDate": "2026-01-01",
        "taskExecEndDate": "2099-12-31",
        "taskExecTimes": [{"taskExecTimeStartStr": "09:00:00", "taskExecTimeEndStr": "21:00:00"}],
        "skillSetId": str(skills),
        "outboundNumberGroupId": str(numbers),
        "strategyDisplaySwitch": 0,
        "sendNumberStrategy": 0,
        "multiplyPower": 2,
        "maxRingingDuration": 45,
        "acw": 10,
        "outboundPhoneGroups": [{"name": "本人", "identify": "default", "autoOutboundSwitch": 0}],
        "outBoundCustomers": customers(0),
    }


def tenant_with_catalogue(services: Services, key: rsa.RSAPrivateKey) -> tuple[str, int, int]:
    made = services.tenants.create(TenantIn(name=f"bench-{time.time_ns()}"))
    tenant = Tenant.from_row(made)
    line = services.lines.create(
        tenant, LineIn(name="line", channels=30, caller_numbers=[{"number": "02161230000"}])
    )
    numbers = services.number_groups.create(
        tenant, NumberGroupIn(name="numbers", line_id=line["id"], numbers=["02161230000"])
    )
    skills = services.skill_groups.create(tenant, SkillGroupIn(name="skills"))
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, spki).decode()
    cred = services.credentials.create(
        tenant, CredentialIn(kind="dezhu_public_key", public_key=pem)
    )
    return cred["key_id"], skills["id"], numbers["id"]


def timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def measure(url: str, tasks: int) -> dict[str, float]:
    store = Store.from_url(url)
    upgrade(store.engine)
    services = Services.build(store, SystemClock(), base64.urlsafe_b64encode(os.urandom(32)))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    app_id, skills, numbers = tenant_with_catalogue(services, key)
    out: dict[str, float] = {}
    with serving(services) as base:
        client = Client(base, app_id, key)
        ids: list[int] = []
        creates, appends = [], []
        for n in range(tasks):
            body = task_body(f"任务{n}", skills, numbers)
            creates.append(timed(lambda b=body: ids.append(client.call("POST", "/create", json=b))))
        for s in range(BATCH, PER_TASK, BATCH):
            body = {"taskId": ids[0], "outBoundCustomers": customers(s)}
            appends.append(timed(lambda b=body: client.call("POST", "/customer/append", json=b)))
        pages = [
            timed(lambda: client.call("GET", "/page", params={"pageSize": 20})) for _ in range(20)
        ]
        empty = [timed(lambda: client.call("GET", "/getSkillSets")) for _ in range(50)]
        client.http.close()
    store.close()
    out["create"] = statistics.median(creates)
    out["append"] = statistics.median(appends)
    out["page"] = statistics.median(pages)
    out["signed"] = statistics.median(empty)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--database-url", action="append", default=[])
    args = parser.parse_args()
    urls = args.database_url or [sqlite_url(Path(tempfile.mkdtemp(prefix="bench-")))]
    table = Table(
        "store",
        "create, 1,000 customers (ms)",
        "append 1,000 (ms)",
        f"page of 20 tasks, {PER_TASK + (args.tasks - 1) * BATCH:,} customers (ms)",
        "a signed small call (ms)",
    )
    for url in urls:
        m = measure(url, args.tasks)
        name = normalise_url(url).get_backend_name()
        table.add_row(name, *(f"{m[k]:.0f}" for k in ("create", "append", "page", "signed")))
    Console().print(table)
    Console().print("medians; appends fill the first task to 20,000 customers")


if __name__ == "__main__":
    main()
