"""The attempt ledger, read-only here: the engine writes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from outdial.clock import Clock
from outdial.domain.errors import NotFound
from outdial.domain.outcomes import Outcome
from outdial.domain.phones import normalise
from outdial.services.common import Page, PageRequest, Tenant, found, parse_choice
from outdial.services.resources import parse_bool, parse_int
from outdial.store.repo import TenantTable
from outdial.store.schema import attempts, campaigns
from outdial.store.store import Store

Attempts = list[dict[str, Any]]
ATTEMPT_FILTERS = ("outcome", "contact_id", "open", "number")


class AttemptService:
    def __init__(self, store: Store, clock: Clock):
        self.store, self.clock = store, clock
        self.rows = TenantTable(attempts)

    def list(
        self, tenant: Tenant, campaign_id: int, page: PageRequest, filters: Mapping[str, str]
    ) -> Page:
        where: list[Any] = [attempts.c.campaign_id == campaign_id]
        if "outcome" in filters:
            where.append(attempts.c.outcome == parse_choice("outcome", filters["outcome"], Outcome))
        if "contact_id" in filters:
            where.append(attempts.c.contact_id == parse_int("contact_id", filters["contact_id"]))
        if "number" in filters:
            number = normalise(filters["number"], tenant.default_region, "number")
            where.append(attempts.c.number == number)
        if "open" in filters:
            is_open = parse_bool("open", filters["open"])
            where.append(
                attempts.c.ended_at.is_(None) if is_open else attempts.c.ended_at.is_not(None)
            )
        with self.store.read() as conn:
            found(TenantTable(campaigns).get(conn, tenant.id, campaign_id), "campaign", campaign_id)
            rows, total = self.rows.page(conn, tenant.id, where, page.offset, page.page_size)
        return Page(rows, total, page.page, page.page_size)

    def of_contacts(self, tenant: Tenant, contact_ids: Sequence[int]) -> dict[int, Attempts]:
        """Every attempt on each of these contacts (the tenant's), oldest first."""
        query = (
            select(attempts)
            .where(attempts.c.tenant_id == tenant.id, attempts.c.contact_id.in_(contact_ids))
            .order_by(attempts.c.id)
        )
        out: dict[int, Attempts] = {i: [] for i in contact_ids}
        with self.store.read() as conn:
            for row in conn.execute(query):
                out[row.contact_id].append(dict(row._mapping))
        return out

    def get(self, tenant: Tenant, campaign_id: int, attempt_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            row = self.rows.get(conn, tenant.id, attempt_id)
        if row is None or row["campaign_id"] != campaign_id:
            raise NotFound(f"attempt {attempt_id} not found")
        return row
