"""Fixtures: the store on real SQLite and real PostgreSQL, services, a live HTTP server."""

from __future__ import annotations

import base64
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from outdial.api.app import create_app
from outdial.clock import SystemClock
from outdial.services.container import Services
from outdial.store.db import sqlite_url
from outdial.store.migrate import upgrade
from outdial.store.store import Store
from tests.pg_server import postgres_server
from tests.support import Api, ManualClock, live_server

ADMIN_KEY = "od_admin_test_key_0123456789"
SECRET_KEY = base64.urlsafe_b64encode(b"0" * 32)
BACKENDS = ["sqlite", "postgresql"]
_names = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}-{uuid.uuid4().hex[:6]}"


# --- PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    with postgres_server() as url:
        if url is None:
            if os.environ.get("CI"):
                pytest.fail(
                    "PostgreSQL tests must run in CI (install postgresql or set DATABASE_URL)"
                )
            pytest.skip("no PostgreSQL available")
        yield url


def pg_url_for(server_url: str, dbname: str) -> str:
    """A SQLAlchemy URL for database ``dbname`` on the server of ``server_url``."""
    base, _, _ = server_url.partition("?")
    return base.rsplit("/", 1)[0] + f"/{dbname}"


def _admin(server_url: str, statement: sql.Composable) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(statement)


@pytest.fixture(scope="session")
def pg_template(pg_server_url: str) -> Iterator[str]:
    name = f"tmpl_{uuid.uuid4().hex[:8]}"
    _admin(pg_server_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    store = Store.from_url(pg_url_for(pg_server_url, name))
    upgrade(store.engine)
    store.close()
    yield name
    _admin(pg_server_url, sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_database(pg_server_url: str, pg_template: str) -> Callable[[], Any]:
    """A factory of fresh, migrated PostgreSQL databases (copies of the template)."""

    @contextmanager
    def make() -> Iterator[str]:
        name = f"t_{uuid.uuid4().hex[:10]}"
        _admin(
            pg_server_url,
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(pg_template)
            ),
        )
        try:
            yield pg_url_for(pg_server_url, name)
        finally:
            _admin(
                pg_server_url, sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
            )

    return make


@contextmanager
def migrated_store(
    backend: str, directory: Path, request: pytest.FixtureRequest
) -> Iterator[Store]:
    if backend == "sqlite":
        store = Store.from_url(sqlite_url(directory))
        upgrade(store.engine)
        yield store
        store.close()
        return
    make = request.getfixturevalue("pg_database")
    with make() as url:
        store = Store.from_url(url)
        yield store
        store.close()


# --- store and services ----------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    with migrated_store(backend, tmp_path, request) as s:
        yield s


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def services(store: Store, clock: ManualClock) -> Services:
    return Services.build(store, clock, SECRET_KEY)


# --- a live HTTP server per backend ----------------------------------------------------------


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Services]]:
    """A real uvicorn server over a real store; yields (base URL, its services)."""
    directory = tmp_path_factory.mktemp(f"server-{request.param}")
    with migrated_store(str(request.param), directory, request) as store:
        services = Services.build(store, SystemClock(), SECRET_KEY, directory / "files")
        runner = services.job_runner()
        runner.start()
        with live_server(create_app(services, ADMIN_KEY)) as url:
            yield url, services
        runner.stop()


@pytest.fixture
def admin(server: tuple[str, Services]) -> Iterator[Api]:
    api = Api(server[0], ADMIN_KEY)
    yield api
    api.close()


@pytest.fixture
def anonymous(server: tuple[str, Services]) -> Iterator[Api]:
    api = Api(server[0])
    yield api
    api.close()


@pytest.fixture
def new_tenant(server: tuple[str, Services], admin: Api) -> Iterator[Callable[..., Api]]:
    """A factory of fresh tenants, each with its own API client."""
    made: list[Api] = []

    def make(**fields: Any) -> Api:
        body = admin.ok(admin.post("/tenants", {"name": unique("tenant"), **fields}), 201)
        api = Api(server[0], body["api_key"])
        api.tenant = body  # type: ignore[attr-defined]
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


@pytest.fixture
def api(new_tenant: Callable[..., Api]) -> Api:
    """A client for a fresh tenant."""
    return new_tenant()
