"""The tenant's do-not-call list (numbers in E.164)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from outdial.clock import Clock
from outdial.domain.errors import NotFound, ValidationFailed
from outdial.domain.phones import normalise
from outdial.services.common import Page, PageRequest, Tenant, integrity_guard
from outdial.services.models import DncIn
from outdial.services.validation import validate
from outdial.store.repo import valid_id
from outdial.store.schema import dnc_entries
from outdial.store.store import Store

DNC_FILTERS = ("number", "source")


class DncService:
    def __init__(self, store: Store, clock: Clock):
        self.store, self.clock = store, clock

    def add(self, tenant: Tenant, data: DncIn) -> dict[str, Any]:
        number = normalise(data.number, tenant.default_region, "number")
        now = self.clock.now()
        with integrity_guard("dnc entry"), self.store.write() as conn:
            if self._find(conn, tenant.id, number) is not None:
                raise ValidationFailed.field("number", f"{number} is already listed", "unique")
            values = {**data.model_dump(), "number": number, "tenant_id": tenant.id}
            query = insert(dnc_entries).values(**values, created_at=now, updated_at=now)
            return dict(conn.execute(query.returning(dnc_entries)).one()._mapping)

    def list(self, tenant: Tenant, page: PageRequest, filters: Mapping[str, str]) -> Page:
        where = [dnc_entries.c.tenant_id == tenant.id]
        if "number" in filters:
            where.append(
                dnc_entries.c.number
                == normalise(filters["number"], tenant.default_region, "number")
            )
        if "source" in filters:
            where.append(dnc_entries.c.source == filters["source"])
        with self.store.read() as conn:
            total = conn.scalar(select(func.count()).select_from(dnc_entries).where(*where)) or 0
            query = select(dnc_entries).where(*where).order_by(dnc_entries.c.id)
            rows = conn.execute(query.offset(page.offset).limit(page.page_size))
            return Page([dict(r._mapping) for r in rows], total, page.page, page.page_size)

    def get(self, tenant: Tenant, entry_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            return self._get(conn, tenant, entry_id)

    def update(self, tenant: Tenant, entry_id: int, patch: Mapping[str, Any]) -> dict[str, Any]:
        with integrity_guard("dnc entry"), self.store.write() as conn:
            current = self._get(conn, tenant, entry_id)
            stored = {k: current[k] for k in DncIn.model_fields}
            data = validate(DncIn, {**stored, **patch})
            number = normalise(data.number, tenant.default_region, "number")
            other = self._find(conn, tenant.id, number)
            if other is not None and other != entry_id:
                raise ValidationFailed.field("number", f"{number} is already listed", "unique")
            values = {**data.model_dump(), "number": number, "updated_at": self.clock.now()}
            query = update(dnc_entries).where(dnc_entries.c.id == entry_id).values(**values)
            return dict(conn.execute(query.returning(dnc_entries)).one()._mapping)

    def delete(self, tenant: Tenant, entry_id: int) -> None:
        with self.store.write() as conn:
            self._get(conn, tenant, entry_id)
            conn.execute(delete(dnc_entries).where(dnc_entries.c.id == entry_id))

    def _get(self, conn: Connection, tenant: Tenant, entry_id: int) -> dict[str, Any]:
        if not valid_id(entry_id):
            raise NotFound(f"dnc entry {entry_id} not found")
        query = select(dnc_entries).where(
            and_(dnc_entries.c.id == entry_id, dnc_entries.c.tenant_id == tenant.id)
        )
        row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFound(f"dnc entry {entry_id} not found")
        return dict(row._mapping)

    def _find(self, conn: Connection, tenant_id: int, number: str) -> int | None:
        query = select(dnc_entries.c.id).where(
            dnc_entries.c.tenant_id == tenant_id, dnc_entries.c.number == number
        )
        return conn.scalar(query)
