"""Alembic environment: the engine is handed in through ``config.attributes``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from outdial.store.schema import metadata

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through outdial.store.migrate")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
