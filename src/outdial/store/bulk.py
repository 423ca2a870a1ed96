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
    """Which of ``values`` are in ``column`` (among the rows ``where`` selects), the values
    sent as one parameter. On PostgreSQL each is looked up on its own (a semi-join from the
    array), so the unique index serves it however stale the planner's statistics are in the
    middle of a bulk load."""
    if not values:
        return set()
    if conn.dialect.name == "postgresql":
        array = bindparam("values", list(values), type_=ARRAY(String))
        wanted = func.unnest(array).table_valued("value").render_derived()
        query = select(wanted.c.value).where(exists().where(*where, column == wanted.c.value))
        return set(conn.scalars(query))
    # one JSON parameter rather than thousands of bound ones (SQLite's JSON1 is built in)
    listed = select(
        func.json_each(bindparam("values", json.dumps(list(values)))).table_valued("value").c.value
    )
    return set(conn.scalars(select(column).where(*where, column.in_(listed.scalar_subquery()))))


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
        if isinstance(column_type, JSON):
            out.append(_json)  # as SQLAlchemy writes it (json.dumps), the empty object at once
        elif dialect.name == "postgresql":
            out.append(None)
        else:
            out.append(column_type.bind_processor(dialect))
    return out


def _json(value: Any) -> Any:
    if value is None:
        return None
    return "{}" if value == {} else json.dumps(value)


def _converted(
    rows: Sequence[Sequence[Any]], processors: list[Processor | None]
) -> list[tuple[Any, ...]]:
    """The rows with each column's processing applied, a column at a time (a batch repeats
    the same times and the same empty JSON, so each distinct value is processed once)."""
    if not any(processors):
        return [tuple(row) for row in rows]
    columns = list(zip(*rows, strict=True))
    for k, process in enumerate(processors):
        if process is not None:
            columns[k] = tuple(_processed(columns[k], process))
    return list(zip(*columns, strict=True))


def _processed(values: Sequence[Any], process: Processor) -> list[Any]:
    done: dict[Any, Any] = {None: None}
    out = []
    for value in values:
        try:
            out.append(done[value])
        except KeyError:
            out.append(converted := process(value))
            if len(done) < 1024:
                done[value] = converted
        except TypeError:  # unhashable: a dict or a list (JSON)
            out.append(process(value))
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
