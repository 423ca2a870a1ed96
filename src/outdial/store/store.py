"""The Store: one engine, transactions for writers and snapshots for readers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from outdial.store.db import create_db_engine


class Store:
    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> Store:
        return cls(create_db_engine(url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def concurrent_writers(self) -> bool:
        """Whether two transactions may write at once (PostgreSQL); SQLite has one writer."""
        return self.dialect != "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A read-write transaction; committed on success, rolled back on any error."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (deferred on SQLite, so readers do not block each other)."""
        with self.engine.connect().execution_options(readonly=True) as conn, conn.begin():
            yield conn

    def close(self) -> None:
        self.engine.dispose()
