"""Bulk writes for the hot paths of contact imports: ids reserved up front, then PostgreSQL's
COPY or SQLite's executemany of plain tuples, with no per-row statement building.

Values arrive as the services hold them (aware datetimes, dicts for JSON); each column's own
SQLAlchemy bind processing makes them what the backend stores, so rows written here read back
exactly like rows written through Core.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    String,
    Table,
    bindparam,
    exists,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import JSON

Processor = Callable[[Any], Any]


def reserve_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """``count`` new ids of ``table``'s primary key, for rows this transaction will insert.
    On SQLite the writer holds the database's one write lock, so the next ids are free."""
    if count == 0:
        return []
    if conn.dialect.name == "postgresql":
        query = text(
            "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
        )
        return list(conn.scalars(query, {"table": table.name, "n": count}))
    top = conn.scalar(select(func.coalesce(func.max(table.c.id), 0)))
    return list(range(int(top or 0) + 1, int(top or 0) + 1 + count))


def present(
    conn: Connection, column: Column[str], values: Sequence[str], *where: ColumnElement[bool]
) -> set[str]:
    """Which of ``values`` are in ``column`` (among the rows ``where`` selects). On PostgreSQL
    each value is looked up on its own (a semi-join from the array), so the unique index
    serves it however stale the planner's statistics are in the middle of a bulk load."""
    if not values:
        return set()
    if conn.dialect.name == "postgresql":
        array = bindparam("values", list(values), type_=ARRAY(String))
        wanted = func.unnest(array).table_valued("value").render_derived()
        query = select(wanted.c.value).where(exists().where(*where, column == wanted.c.value))
        return set(conn.scalars(query))
    return set(conn.scalars(select(column).where(*where, column.in_(values))))


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``) into ``table``."""
    if not rows:
        return
    processors = _processors(conn, table, columns)
    if conn.dialect.name == "postgresql":
        _copy(conn, table, columns, rows, processors)
    else:
        _executemany(conn, table, columns, rows, processors)


def _processors(conn: Connection, table: Table, columns: Sequence[str]) -> list[Processor | None]:
    """Each column's bind processing. psycopg adapts Python values itself in COPY, except
    JSON, which goes as its text."""
    dialect = conn.dialect
    out: list[Processor | None] = []
    for name in columns:
        column_type = table.c[name].type.dialect_impl(dialect)
        if dialect.name == "postgresql":
            out.append(_json if isinstance(column_type, JSON) else None)
        else:
            out.append(column_type.bind_processor(dialect))
    return out


def _json(value: Any) -> Any:
    return None if value is None else json.dumps(value)


def _converted(
    rows: Sequence[Sequence[Any]], processors: list[Processor | None]
) -> list[tuple[Any, ...]]:
    active = [(k, p) for k, p in enumerate(processors) if p is not None]
    if not active:
        return [tuple(row) for row in rows]
    caches: list[dict[Any, Any]] = [{} for _ in active]
    out = []
    for row in rows:
        values = list(row)
        for (k, process), cache in zip(active, caches, strict=True):
            value = values[k]
            if value is None:
                continue
            key = value if not isinstance(value, dict | list) else None
            if key is not None and key in cache:
                values[k] = cache[key]
                continue
            values[k] = converted = process(value)
            if key is not None and len(cache) < 1024:
                cache[key] = converted
        out.append(tuple(values))
    return out


def _executemany(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    processors: list[Processor | None],
) -> None:
    marks = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(statement, _converted(rows, processors))
    finally:
        cursor.close()


def _copy(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    processors: list[Processor | None],
) -> None:
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            for row in _converted(rows, processors):
                copy.write_row(row)
    finally:
        cursor.close()
