"""Bulk writes for the hot paths of contact imports: ids reserved up front, then PostgreSQL's
COPY or SQLite's executemany of plain tuples, with no per-row statement building.

Values arrive as the services hold them (aware datetimes, dicts for JSON); each column's own
SQLAlchemy bind processing makes them what the backend stores, so rows written here read back
exactly like rows written through Core.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Table,
    bindparam,
    cast,
    func,
    literal,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import JSON

from outdial.domain.file_rows import ReadyRows

Processor = Callable[[Any], Any]


def reserve_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """``count`` new ids of ``table``'s primary key, for rows this transaction will insert.
    On SQLite the writer holds the database's one write lock, so the next ids are free."""
    if count == 0:
        return []
    if conn.dialect.name == "postgresql":
        # one row (an array) rather than a row per id; the sequence looked up once
        query = text(
            "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(:table, 'id')::regclass AS seq)"
            " SELECT array_agg(nextval(s.seq)) FROM s, generate_series(1, :n)"
        )
        return list(conn.scalar(query, {"table": table.name, "n": count}))
    top = conn.scalar(select(func.coalesce(func.max(table.c.id), 0)))
    return list(range(int(top or 0) + 1, int(top or 0) + 1 + count))


def present(
    conn: Connection, column: Column[str], values: Sequence[str], *where: ColumnElement[bool]
) -> set[str]:
    """Which of ``values`` are in ``column`` (among the rows ``where`` selects), the values
    sent as one parameter. On PostgreSQL each is looked up on its own (a lateral probe with
    LIMIT 1, which the planner cannot turn into a hash of the whole campaign), so the index
    serves it however stale the planner's statistics are in the middle of a bulk load."""
    if not values:
        return set()
    if conn.dialect.name == "postgresql":
        # the values as one JSON text, which the server splits (psycopg adapts a list of
        # thousands of strings to an array slowly, in Python)
        array = func.jsonb_array_elements_text(
            cast(bindparam("values", json.dumps(list(values))), JSONB)
        )
        wanted = array.table_valued("value").render_derived()
        probe = select(literal(1)).where(*where, column == wanted.c.value).limit(1).lateral()
        return set(conn.scalars(select(wanted.c.value).select_from(wanted.join(probe, true()))))
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


# --- plain rows: values as the driver takes them, the columns every row shares bound once ---


def insert_plain(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Any],
    constants: Mapping[str, Any],
) -> None:
    """Insert ``rows`` into ``table``, each with the same ``constants`` (column: value, as the
    services hold it). The rows skip bind processing: on SQLite each is a tuple of plain values
    (str, int, float or None) in the order of ``columns``; on PostgreSQL each is already the
    text of its COPY line (copy_text) without the newline. The constants are processed once,
    as their columns' types say, and written into the statement (SQLite) or after each line
    (PostgreSQL), so a row costs the driver only its own values."""
    if not rows:
        return
    processors = _processors(conn, table, list(constants))
    values = [
        value if process is None else process(value)
        for value, process in zip(constants.values(), processors, strict=True)
    ]
    names = ", ".join((*columns, *constants))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if conn.dialect.name == "postgresql":
            tail = "".join("\t" + _copy_value(v) for v in values) + "\n"
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                copy.write(tail.join(rows) + tail)
        else:
            marks = ", ".join(["?"] * len(columns) + [_sqlite_literal(v) for v in values])
            cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)
    finally:
        cursor.close()


def text_rows(conn: Connection) -> bool:
    """Whether insert_plain takes COPY text lines here (PostgreSQL) rather than tuples."""
    return conn.dialect.name == "postgresql"


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(values: Sequence[str | int | None]) -> str:
    """Values as (part of) a line of PostgreSQL's COPY text format: tab-separated, with
    backslash, tab, newline and carriage return escaped and None as ``\\N``."""
    return "\t".join(_copy_value(v) for v in values)


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def _sqlite_literal(value: Any) -> str:
    """A processed value as an SQLite literal: NULL, a number, or a quoted string."""
    if value is None:
        return "NULL"
    if isinstance(value, bool | int | float):
        return str(int(value) if isinstance(value, bool) else value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQLite literal for {type(value).__name__}")


def json_text(value: Mapping[str, Any]) -> str:
    """A JSON column's value as insert_rows writes it (json.dumps; the empty object at once)."""
    return "{}" if not value else json.dumps(value)


def encode_ready(ready: ReadyRows, text: bool) -> None:
    """A batch's ready rows made what insert_plain takes (in place, where they are prepared:
    the child reader pays for it, not the writer): each contact's (name, description,
    external_id, pass_through, attributes, primary number) with the attributes as JSON text,
    as a tuple or, with ``text``, as COPY text; with ``text`` the phones' relations escaped."""
    if text:
        ready.contacts = [
            _copy_line(n, d, e, p, json_text(a), number) for n, d, e, p, a, number in ready.contacts
        ]
        ready.phones = [
            row
            if not any(_COPY_SPECIAL.search(phone[2]) for phone in row)
            else tuple((k, n, r.translate(_COPY_ESCAPES), c) for k, n, r, c in row)
            for row in ready.phones
        ]
    else:
        ready.contacts = [
            (n, d, e, p, json_text(a), number) for n, d, e, p, a, number in ready.contacts
        ]


_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")  # what COPY text escapes
_COPY_SPECIAL_BUT_TAB = re.compile(r"[\\\n\r]")  # in a line whose tabs are counted


def _copy_line(*values: str | None) -> str:
    """copy_text(values) of text values (None: NULL), most of which need no escape: joined
    first, escaped only when the line shows a character to escape."""
    line = "\t".join(["" if v is None else v for v in values])
    if line.count("\t") != len(values) - 1 or _COPY_SPECIAL_BUT_TAB.search(line):
        return copy_text(values)
    return line if None not in values else "\t".join(["\\N" if v is None else v for v in values])
