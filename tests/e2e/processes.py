"""Running ``outdial`` as a user does, for the end-to-end tests: commands as subprocesses,
``outdial serve`` on a free port, waiting for it and talking to it over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2

from tests.pg_server import free_port

OUTDIAL = Path(sys.executable).with_name("outdial")
TIMEOUT = 60  # a guard against hangs, not a speed check: the machine may be shared
SERVE = (str(OUTDIAL), "serve")
# uvicorn shuts down gracefully, then re-raises the signal it caught, so the exit status of a
# clean stop is 0 or "killed by SIGTERM".
CLEAN_EXIT = {0, -signal.SIGTERM}
ENV_KEYS = ("OUTDIAL_ADMIN_KEY", "OUTDIAL_SECRET_KEY", "OUTDIAL_DATA_DIR", "DATABASE_URL")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env["NO_COLOR"] = "1"
    return {**env, **extra}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "outdial.cli", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env or clean_env(),
    )


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    done = run(*args, env=env)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    return done.stdout


def value_after(label: str, text: str) -> str:
    """The whitespace-free word that follows ``label`` on its line."""
    for line in text.splitlines():
        if label in line:
            return line.split(label, 1)[1].split()[0]
    raise AssertionError(f"{label!r} not in output:\n{text}")


@contextmanager
def serving(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, Path]]:
    """``outdial serve`` on a free port; yields (base URL, file with its stdout)."""
    port = free_port()
    log = data_dir.parent / f"serve-{port}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*SERVE, "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env or clean_env(),
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(proc, base, log)
            yield base, log
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=TIMEOUT) in CLEAN_EXIT, log.read_text()
            assert "Application shutdown complete" in log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=TIMEOUT)


def wait_healthy(proc: subprocess.Popen[str], base: str, log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx2.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"serve did not become healthy:\n{log.read_text()}")


def call(base: str, key: str, method: str, path: str, body: Any = None) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx2.Client(base_url=f"{base}/api/v1", headers=headers, timeout=10) as client:
        return client.request(method, path, json=body)


OUTDIAL_MODULE = [sys.executable, "-m", "outdial.cli"]
SIM_LINE = {"name": "sim", "channels": 8, "caller_numbers": [{"number": "95187"}]}


def sim_settings(speed: float) -> dict[str, Any]:
    return {
        "speed": speed,
        "callees": {
            "answered_rate": 0.5,
            "busy_rate": 0.1,
            "talk": {"dist": "uniform", "low": 20, "high": 60},
        },
    }


@contextmanager
def started(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*OUTDIAL_MODULE, *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


def wait_for(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def engine_env(**extra: str) -> dict[str, str]:
    """The environment of an ``outdial serve`` or ``engine`` the tests talk to as the admin."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OUTDIAL_ADMIN_KEY")}
    return {**env, "OUTDIAL_ADMIN_KEY": "od_admin_e2e", **extra}


def api_client(port: int, key: str) -> httpx2.Client:
    return httpx2.Client(
        base_url=f"http://127.0.0.1:{port}/api/v1",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def healthy(port: int) -> bool:
    try:
        return httpx2.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200
    except httpx2.HTTPError:
        return False
