"""Tenants, managed by the operator with the admin key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update

from outdial.clock import Clock
from outdial.domain.errors import ValidationFailed
from outdial.services.common import (
    Page,
    PageRequest,
    found,
    integrity_guard,
    new_uuid,
    parse_choice,
)
from outdial.services.credentials import CredentialService
from outdial.services.models import ApiKeyIn, CredentialIn, TenantIn
from outdial.services.validation import validate
from outdial.store.repo import valid_id
from outdial.store.schema import tenants
from outdial.store.store import Store

TENANT_STATUSES = ("active", "disabled")


class TenantService:
    def __init__(self, store: Store, clock: Clock, credentials: CredentialService):
        self.store, self.clock, self.credentials = store, clock, credentials

    def create(self, data: TenantIn) -> dict[str, Any]:
        """Create a tenant with its first API key, returned once in ``api_key``."""
        now = self.clock.now()
        with integrity_guard("tenant"), self.store.write() as conn:
            self._check_name(conn, data.name)
            values = {**data.model_dump(), "uuid": new_uuid(), "created_at": now, "updated_at": now}
            row = conn.execute(insert(tenants).values(**values).returning(tenants)).one()._mapping
            key = self.credentials.create_in(
                conn, row["id"], CredentialIn(kind="api_key", name="first key")
            )
        return {**row, "api_key": key["secret"]}

    def issue_api_key(self, tenant_id: int, data: ApiKeyIn) -> dict[str, Any]:
        """A new API key for the tenant, shown once: the operator's way back in for a tenant
        that revoked its last key."""
        with integrity_guard("credential"), self.store.write() as conn:
            query = select(tenants.c.id).where(tenants.c.id == tenant_id)
            exists = valid_id(tenant_id) and conn.scalar(query) is not None
            found({} if exists else None, "tenant", tenant_id)
            return self.credentials.create_in(
                conn, tenant_id, CredentialIn(kind="api_key", name=data.name)
            )

    def list(self, page: PageRequest, q: str | None, status: str | None) -> Page:
        where = []
        if q:
            where.append(tenants.c.name.contains(q, autoescape=True))
        if status is not None:
            where.append(tenants.c.status == parse_choice("status", status, TENANT_STATUSES))
        with self.store.read() as conn:
            total = conn.scalar(select(func.count()).select_from(tenants).where(*where)) or 0
            query = select(tenants).where(*where).order_by(tenants.c.id)
            rows = conn.execute(query.offset(page.offset).limit(page.page_size))
            items = [dict(r._mapping) for r in rows]
        return Page(items, total, page.page, page.page_size)

    def get(self, tenant_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            row = conn.execute(select(tenants).where(tenants.c.id == tenant_id)).one_or_none()
        return found(None if row is None else dict(row._mapping), "tenant", tenant_id)

    def update(self, tenant_id: int, patch: dict[str, Any]) -> dict[str, Any]:
        current = self.get(tenant_id)
        merged = {k: current[k] for k in TenantIn.model_fields} | patch
        data = validate(TenantIn, merged)
        with integrity_guard("tenant"), self.store.write() as conn:
            self._check_name(conn, data.name, tenant_id)
            values = {**data.model_dump(), "updated_at": self.clock.now()}
            query = update(tenants).where(tenants.c.id == tenant_id).values(**values)
            row = conn.execute(query.returning(tenants)).one()
        return dict(row._mapping)

    def delete(self, tenant_id: int) -> None:
        """Delete a tenant and everything it owns."""
        self.get(tenant_id)
        with self.store.write() as conn:
            conn.execute(delete(tenants).where(tenants.c.id == tenant_id))

    def _check_name(self, conn: Any, name: str, exclude: int | None = None) -> None:
        query = select(tenants.c.id).where(tenants.c.name == name)
        if exclude is not None:
            query = query.where(tenants.c.id != exclude)
        if conn.scalar(query) is not None:
            raise ValidationFailed.field("name", f"a tenant named {name!r} exists", "unique")
