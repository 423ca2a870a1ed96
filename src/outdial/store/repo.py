"""Generic SQL for tenant-owned tables: every statement is scoped by tenant_id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, delete, func, insert, select, update

Row = dict[str, Any]

ID_MAX = 2**63 - 1
"""Ids are 64-bit signed integers on both backends; a larger number names no row (and would
overflow the driver), so it is treated as not found."""


def valid_id(row_id: int) -> bool:
    return 1 <= row_id <= ID_MAX


class TenantTable:
    """Create, read, page, update and delete rows of one table, always within one tenant."""

    def __init__(self, table: Table):
        self.table = table

    def _scope(self, tenant_id: int, row_id: int) -> ColumnElement[bool]:
        return and_(self.table.c.tenant_id == tenant_id, self.table.c.id == row_id)

    def insert(self, conn: Connection, values: Mapping[str, Any]) -> Row:
        row = conn.execute(insert(self.table).values(**values).returning(self.table)).one()
        return dict(row._mapping)

    def get(self, conn: Connection, tenant_id: int, row_id: int, lock: bool = False) -> Row | None:
        if not valid_id(row_id):
            return None
        query = select(self.table).where(self._scope(tenant_id, row_id))
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).one_or_none()
        return None if row is None else dict(row._mapping)

    def existing_ids(self, conn: Connection, tenant_id: int, ids: Sequence[int]) -> set[int]:
        ids = [i for i in ids if valid_id(i)]
        query = select(self.table.c.id).where(
            self.table.c.tenant_id == tenant_id, self.table.c.id.in_(ids)
        )
        return set(conn.scalars(query))

    def page(
        self,
        conn: Connection,
        tenant_id: int,
        where: Sequence[ColumnElement[bool]],
        offset: int,
        limit: int,
    ) -> tuple[list[Row], int]:
        cond = and_(self.table.c.tenant_id == tenant_id, *where)
        total = conn.scalar(select(func.count()).select_from(self.table).where(cond)) or 0
        query = select(self.table).where(cond).order_by(self.table.c.id).offset(offset).limit(limit)
        return [dict(r._mapping) for r in conn.execute(query)], total

    def update(
        self, conn: Connection, tenant_id: int, row_id: int, values: Mapping[str, Any]
    ) -> Row | None:
        if not valid_id(row_id):
            return None
        query = (
            update(self.table)
            .where(self._scope(tenant_id, row_id))
            .values(**values)
            .returning(self.table)
        )
        row = conn.execute(query).one_or_none()
        return None if row is None else dict(row._mapping)

    def delete(self, conn: Connection, tenant_id: int, row_id: int) -> bool:
        if not valid_id(row_id):
            return False
        return conn.execute(delete(self.table).where(self._scope(tenant_id, row_id))).rowcount > 0

    def name_taken(
        self, conn: Connection, tenant_id: int, name: str, exclude_id: int | None = None
    ) -> bool:
        cond = and_(self.table.c.tenant_id == tenant_id, self.table.c.name == name)
        if exclude_id is not None:
            cond = and_(cond, self.table.c.id != exclude_id)
        return conn.scalar(select(self.table.c.id).where(cond).limit(1)) is not None

    def count_referencing(self, conn: Connection, column: str, row_id: int) -> int:
        query = select(func.count()).select_from(self.table).where(self.table.c[column] == row_id)
        return conn.scalar(query) or 0
