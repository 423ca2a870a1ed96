"""`outdial serve` picks the SIP driver for a SIP line: a campaign created over HTTP against the
real server process dials sipp and completes, the line's password sealed with the data
directory's key and opened by the engine inside the server."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.e2e.processes import call, ok, serving, value_after
from tests.sipp_callee import PASSWORD, USERNAME, sipp_callee

pytestmark = pytest.mark.slow

NUMBERS = {"001": "answered", "401": "answered", "486": "busy", "404": "invalid_number"}


def test_outdial_serve_dials_a_sip_line_to_sipp(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = value_after("api key:", ok("tenant", "create", "sip-e2e", "--data-dir", str(data)))
    with sipp_callee(tmp_path, ring_ms=200, calls=len(NUMBERS)) as sipp, serving(data) as (base, _):
        settings = {
            "host": sipp.host,
            "port": sipp.port,
            "username": USERNAME,
            "password": PASSWORD,
            "max_call_seconds": 1,
        }
        line = {"name": "sipp", "driver": "sip", "channels": 2, "settings": settings}
        made = call(base, key, "POST", "/lines", {**line, "caller_numbers": [{"number": "95187"}]})
        assert made.status_code == 201, made.text
        script = call(base, key, "POST", "/scripts", {"name": "robot"}).json()
        body = {"name": "c", "line_id": made.json()["id"], "script_id": script["id"]}
        body |= {"max_concurrency": 2, "ring_timeout_seconds": 5, "timezone": "Asia/Shanghai"}
        campaign = call(base, key, "POST", "/campaigns", body).json()
        path = f"/campaigns/{campaign['id']}"
        rows = [{"phones": [{"number": f"13800000{n}"}]} for n in NUMBERS]
        assert call(base, key, "POST", f"{path}/contacts", {"contacts": rows}).status_code == 200
        assert call(base, key, "POST", f"{path}/start").json()["state"] == "running"
        deadline = time.monotonic() + 60
        while call(base, key, "GET", path).json()["state"] != "completed":
            assert time.monotonic() < deadline, call(base, key, "GET", path).text
            time.sleep(0.5)
        sipp.process.wait(timeout=20)
        assert sipp.process.returncode == 0, sipp.log.read_text(errors="replace")[-2000:]

    with sqlite3.connect(data / "outdial.db") as db:
        got = dict(db.execute("SELECT substr(number, -3), outcome FROM attempts").fetchall())
        (stored,) = db.execute("SELECT settings FROM lines").fetchone()
    assert got == NUMBERS
    assert PASSWORD not in stored and '"sealed:' in stored  # encrypted at rest
