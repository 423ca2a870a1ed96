"""The ``outdial`` command as a user runs it: a real subprocess, real files, a real server."""

from __future__ import annotations

import signal
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import outdial
from tests.e2e.processes import (
    OUTDIAL,
    TIMEOUT,
    call,
    clean_env,
    ok,
    run,
    serving,
    value_after,
    wait_healthy,
)
from tests.pg_server import free_port


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
