"""The campaign event log (attempt ended, state changed, progress) read for live streams."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from outdial.clock import Clock
from outdial.services.common import Tenant, found
from outdial.store.repo import TenantTable
from outdial.store.schema import campaigns, events
from outdial.store.store import Store

BATCH = 500


class EventService:
    def __init__(self, store: Store, clock: Clock):
        self.store, self.clock = store, clock

    def check_campaign(self, tenant: Tenant, campaign_id: int) -> None:
        with self.store.read() as conn:
            found(TenantTable(campaigns).get(conn, tenant.id, campaign_id), "campaign", campaign_id)

    def after(self, tenant: Tenant, campaign_id: int, last_id: int) -> list[dict[str, Any]]:
        """Events of the campaign with an id above ``last_id``, oldest first."""
        query = (
            select(events.c.id, events.c.kind, events.c.data, events.c.created_at)
            .where(
                events.c.tenant_id == tenant.id,
                events.c.campaign_id == campaign_id,
                events.c.id > last_id,
            )
            .order_by(events.c.id)
            .limit(BATCH)
        )
        with self.store.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def latest_id(self, tenant: Tenant, campaign_id: int) -> int:
        query = (
            select(events.c.id)
            .where(events.c.tenant_id == tenant.id, events.c.campaign_id == campaign_id)
            .order_by(events.c.id.desc())
            .limit(1)
        )
        with self.store.read() as conn:
            return int(conn.scalar(query) or 0)
