"""The ``outdial`` command as a user runs it: a real subprocess, real files, a real server."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

import outdial
from tests.pg_server import free_port

OUTDIAL = Path(sys.executable).with_name("outdial")
TIMEOUT = 30
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


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- tests -----------------------------------------------------------------------------------


def test_version() -> None:
    assert ok("--version").strip() == f"outdial {outdial.__version__}"


def test_entry_point_is_installed() -> None:
    assert OUTDIAL.exists()
    done = subprocess.run(
        [str(OUTDIAL), "--version"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=clean_env(),
    )
    assert done.returncode == 0, done.stderr
    assert outdial.__version__ in done.stdout


def test_help_lists_the_commands() -> None:
    out = ok("--help")
    for command in ("serve", "db", "tenant"):
        assert command in out


def test_db_upgrade_creates_the_store_and_keys_and_is_idempotent(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    first = ok("db", "upgrade", "--data-dir", str(data))
    assert "empty" in first
    db, admin_key, secret_key = data / "outdial.db", data / "admin.key", data / "secret.key"
    assert db.is_file() and db.stat().st_size > 0
    assert admin_key.is_file() and secret_key.is_file()
    assert mode(admin_key) == 0o600
    assert mode(secret_key) == 0o600
    key_text, secret_text = admin_key.read_text(), secret_key.read_text()
    assert key_text.strip().startswith("od_admin_") and len(key_text.strip()) > 30

    second = ok("db", "upgrade", "--data-dir", str(data))
    assert "empty" not in second
    head = first.split("→")[1].split()[0]
    assert second.split("→")[0].strip().endswith(head), (first, second)
    assert admin_key.read_text() == key_text
    assert secret_key.read_text() == secret_text


def test_data_dir_from_the_environment(tmp_path: Path) -> None:
    data = tmp_path / "env-data"
    ok("db", "upgrade", env=clean_env(OUTDIAL_DATA_DIR=str(data)))
    assert (data / "outdial.db").is_file()


def test_tenant_create_duplicate_and_invalid(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = ok("tenant", "create", "acme", "--data-dir", str(data))
    key = value_after("api key:", out)
    assert key.startswith("od_") and len(key) > 20
    assert "'acme'" in out

    dup = run("tenant", "create", "acme", "--data-dir", str(data))
    assert dup.returncode != 0
    assert "name" in dup.stderr
    assert "api key" not in dup.stdout

    bad = run("tenant", "create", "other", "--region", "XX", "--data-dir", str(data))
    assert bad.returncode != 0
    assert "default_region" in bad.stderr
    bad_tz = run("tenant", "create", "other", "--timezone", "Mars/Base", "--data-dir", str(data))
    assert bad_tz.returncode != 0
    assert "timezone" in bad_tz.stderr


def test_serve_sqlite_end_to_end(tmp_path: Path) -> None:
    data = tmp_path / "data"
    created = ok("tenant", "create", "from-cli", "--region", "us", "--data-dir", str(data))
    cli_key = value_after("api key:", created)
    with serving(data) as (base, log):
        printed = log.read_text()
        assert f"{base}/api/v1" in printed
        admin_key = value_after("admin key:", printed)
        assert admin_key == (data / "admin.key").read_text().strip()

        me = call(base, cli_key, "GET", "/me")
        assert me.status_code == 200, me.text
        assert me.json()["name"] == "from-cli"
        assert me.json()["default_region"] == "US"

        made = call(base, admin_key, "POST", "/tenants", {"name": "over-http"})
        assert made.status_code == 201, made.text
        tenant_key = made.json()["api_key"]
        line = call(base, tenant_key, "POST", "/lines", {"name": "trunk", "channels": 3})
        assert line.status_code == 201, line.text
        listed = call(base, admin_key, "GET", "/tenants")
        assert {t["name"] for t in listed.json()["items"]} == {"from-cli", "over-http"}
        assert call(base, "wrong-key-0123456789", "GET", "/tenants").status_code == 401

    # What the server wrote survives it: a second start serves the same tenants.
    with serving(data) as (base, log):
        assert "(new)" not in log.read_text()
        again = call(base, tenant_key, "GET", "/lines")
        assert again.status_code == 200 and again.json()["total"] == 1


def test_serve_stops_on_sigint(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    proc = subprocess.Popen(
        [str(OUTDIAL), "serve", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
    )
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", tmp_path / "none")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)


def test_serve_uses_the_admin_key_from_the_environment(tmp_path: Path) -> None:
    env = clean_env(OUTDIAL_ADMIN_KEY="od_admin_from_env_0123456789")
    with serving(tmp_path / "data", env) as (base, log):
        printed = log.read_text()
        assert "od_admin_from_env_0123456789" in printed
        assert "OUTDIAL_ADMIN_KEY" in printed
        made = call(base, "od_admin_from_env_0123456789", "POST", "/tenants", {"name": "e"})
        assert made.status_code == 201, made.text
    assert not (tmp_path / "data" / "admin.key").exists()


@pytest.mark.pg
def test_serve_on_postgresql(tmp_path: Path, pg_database: Callable[[], Any]) -> None:
    with pg_database() as url:
        env = clean_env(DATABASE_URL=url)
        data = tmp_path / "data"
        created = ok("tenant", "create", "pg-cli", "--data-dir", str(data), env=env)
        cli_key = value_after("api key:", created)
        with serving(data, env) as (base, log):
            printed = log.read_text()
            assert "postgresql" in printed
            admin_key = value_after("admin key:", printed)
            me = call(base, cli_key, "GET", "/me")
            assert me.status_code == 200 and me.json()["name"] == "pg-cli", me.text
            made = call(base, admin_key, "POST", "/tenants", {"name": "pg-http"})
            assert made.status_code == 201, made.text
            key = made.json()["api_key"]
            cred = call(base, key, "POST", "/credentials", {"kind": "aliyun_access_key"})
            assert cred.status_code == 201, cred.text
            listed = call(base, admin_key, "GET", "/tenants")
            assert {t["name"] for t in listed.json()["items"]} == {"pg-cli", "pg-http"}
        # SQLite under the data dir was not used.
        assert not (data / "outdial.db").exists()
