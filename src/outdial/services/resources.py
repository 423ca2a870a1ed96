"""One generic service for tenant-owned resources; per-resource rules live in hooks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Connection, Table, select

from outdial.clock import Clock
from outdial.domain.errors import Conflict, ValidationFailed
from outdial.services.common import Page, PageRequest, Tenant, found, integrity_guard, new_uuid
from outdial.services.validation import validate
from outdial.store.repo import ID_MAX, TenantTable
from outdial.store.store import Store
from outdial.store.types import UTCDateTime

Filter = Callable[[str], ColumnElement[bool]]


class Hooks:
    """Per-resource rules around the generic create/read/update/delete. Defaults do nothing."""

    def check(self, conn: Connection, tenant: Tenant, data: Any, row_id: int | None) -> None:
        """Cross-row validation; raise ValidationFailed naming the field."""

    def values(
        self, tenant: Tenant, data: Any, current: dict[str, Any] | None, now: datetime
    ) -> dict[str, Any]:
        """Columns to write besides the model's own fields; ``current`` is the stored row
        as read from the table (not presented), None on create."""
        return {}

    def after_write(self, conn: Connection, row: dict[str, Any], data: Any) -> None:
        """Write child rows."""

    def present(self, conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add derived fields to rows read from the table."""
        return rows

    def check_update(self, current: dict[str, Any]) -> None:
        """Refuse an update the resource's state forbids."""

    def check_delete(self, conn: Connection, row: dict[str, Any]) -> None:
        """Refuse a delete the resource's state forbids."""


@dataclass(frozen=True)
class ResourceKind:
    label: str
    table: Table
    model: type[BaseModel]
    refs: Mapping[str, Table] = field(default_factory=dict)
    used_by: Sequence[tuple[Table, str]] = ()
    filters: Mapping[str, Filter] = field(default_factory=dict)
    hooks: Hooks = field(default_factory=Hooks)


class ResourceService:
    def __init__(self, store: Store, clock: Clock, kind: ResourceKind):
        self.store, self.clock, self.kind = store, clock, kind
        self.rows = TenantTable(kind.table)

    @property
    def hooks(self) -> Hooks:
        return self.kind.hooks

    def create(
        self, tenant: Tenant, data: BaseModel, extra: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Insert a row; ``extra`` sets columns outside the model (a facade's vendor data)."""
        with integrity_guard(self.kind.label), self.store.write() as conn:
            return self.create_in(conn, tenant, data, extra)

    def create_in(
        self,
        conn: Connection,
        tenant: Tenant,
        data: BaseModel,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``create`` inside the caller's transaction (a facade writing more in the same one)."""
        now = self.clock.now()
        self._check(conn, tenant, data, None)
        values = {
            **self._columns(data),
            **self.hooks.values(tenant, data, None, now),
            **(extra or {}),
            "uuid": new_uuid(),
            "tenant_id": tenant.id,
            "created_at": now,
            "updated_at": now,
        }
        row = self.rows.insert(conn, values)
        self.hooks.after_write(conn, row, data)
        return self.hooks.present(conn, [row])[0]

    def get(self, tenant: Tenant, row_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            return self.get_in(conn, tenant, row_id)

    def get_in(self, conn: Connection, tenant: Tenant, row_id: int) -> dict[str, Any]:
        row = found(self.rows.get(conn, tenant.id, row_id), self.kind.label, row_id)
        return self.hooks.present(conn, [row])[0]

    def by_uuid(self, tenant: Tenant, uuid: str) -> dict[str, Any] | None:
        """The row a vendor API names by its uuid, or None."""
        table = self.kind.table
        query = select(table).where(table.c.tenant_id == tenant.id, table.c.uuid == uuid)
        with self.store.read() as conn:
            row = conn.execute(query).one_or_none()
            return None if row is None else self.hooks.present(conn, [dict(row._mapping)])[0]

    def list(self, tenant: Tenant, page: PageRequest, filters: Mapping[str, str]) -> Page:
        where = [self._filter(name, value) for name, value in filters.items()]
        with self.store.read() as conn:
            rows, total = self.rows.page(conn, tenant.id, where, page.offset, page.page_size)
            items = self.hooks.present(conn, rows)
        return Page(items, total, page.page, page.page_size)

    def update(
        self,
        tenant: Tenant,
        row_id: int,
        patch: Mapping[str, Any],
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Merge ``patch`` into the stored input, validate the whole, write it."""
        with integrity_guard(self.kind.label), self.store.write() as conn:
            return self.update_in(conn, tenant, row_id, patch, extra)

    def update_in(
        self,
        conn: Connection,
        tenant: Tenant,
        row_id: int,
        patch: Mapping[str, Any],
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``update`` inside the caller's transaction."""
        raw = found(self.rows.get(conn, tenant.id, row_id), self.kind.label, row_id)
        current = self.hooks.present(conn, [raw])[0]
        self.hooks.check_update(current)
        stored = {k: current[k] for k in self.kind.model.model_fields if k in current}
        data = validate(self.kind.model, {**stored, **patch})
        self._check(conn, tenant, data, row_id)
        now = self.clock.now()
        values = {
            **self._columns(data),
            **self.hooks.values(tenant, data, raw, now),
            **(extra or {}),
            "updated_at": now,
        }
        row = found(self.rows.update(conn, tenant.id, row_id, values), self.kind.label, row_id)
        self.hooks.after_write(conn, row, data)
        return self.hooks.present(conn, [row])[0]

    def delete(self, tenant: Tenant, row_id: int) -> None:
        with integrity_guard(self.kind.label), self.store.write() as conn:
            row = found(self.rows.get(conn, tenant.id, row_id), self.kind.label, row_id)
            self.hooks.check_delete(conn, row)
            for table, column in self.kind.used_by:
                if n := TenantTable(table).count_referencing(conn, column, row_id):
                    raise Conflict(
                        f"{self.kind.label} {row_id} is used by {n} {table.name}; "
                        "remove those references first"
                    )
            self.rows.delete(conn, tenant.id, row_id)

    def _check(self, conn: Connection, tenant: Tenant, data: BaseModel, row_id: int | None) -> None:
        name = getattr(data, "name", None)
        if name is not None and self.rows.name_taken(conn, tenant.id, name, row_id):
            raise ValidationFailed.field(
                "name", f"a {self.kind.label} named {name!r} already exists", "unique"
            )
        for attr, table in self.kind.refs.items():
            ref = getattr(data, attr)
            if ref is not None and not TenantTable(table).existing_ids(conn, tenant.id, [ref]):
                raise ValidationFailed.field(attr, f"{table.name} {ref} not found", "not_found")
        self.hooks.check(conn, tenant, data, row_id)

    def _columns(self, data: BaseModel) -> dict[str, Any]:
        as_json = data.model_dump(mode="json")
        as_python = data.model_dump()
        table = self.kind.table
        out = {}
        for key, value in as_json.items():
            if key not in table.c:
                continue
            is_time = isinstance(table.c[key].type, UTCDateTime)
            out[key] = as_python[key] if is_time else value
        return out

    def _filter(self, name: str, value: str) -> ColumnElement[bool]:
        return self.kind.filters[name](value)


def parse_bool(field_name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValidationFailed.field(field_name, f"expected true or false, got {value!r}")


def parse_int(field_name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise ValidationFailed.field(field_name, f"expected an integer, got {value!r}") from exc
    if abs(number) > ID_MAX:
        raise ValidationFailed.field(field_name, f"{value} is out of range")
    return number


def parse_time(field_name: str, value: str) -> datetime:
    """An ISO 8601 time with its offset."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed.field(
            field_name, f"expected an ISO 8601 time, got {value!r}"
        ) from exc
    if when.tzinfo is None:
        raise ValidationFailed.field(field_name, "give the time's offset (Z or +08:00)")
    return when
