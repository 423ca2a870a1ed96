"""Migrations produce exactly the declared schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from outdial.store.migrate import current_revision, head_revision, upgrade
from outdial.store.schema import metadata
from outdial.store.store import Store


def _diff(store: Store) -> list[object]:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_migrations_match_the_declared_schema(store: Store) -> None:
    assert _diff(store) == []


def test_store_is_at_head_and_upgrade_is_idempotent(store: Store) -> None:
    assert current_revision(store.engine) == head_revision(store.engine)
    upgrade(store.engine)
    assert current_revision(store.engine) == head_revision(store.engine)
    assert _diff(store) == []


def test_every_table_is_created(store: Store) -> None:
    from sqlalchemy import inspect

    tables = set(inspect(store.engine).get_table_names())
    assert set(metadata.tables) <= tables
