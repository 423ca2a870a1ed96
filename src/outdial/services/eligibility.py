"""Why not now? The engine's dial-instant rules applied to one contact, from the store."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from outdial.clock import Clock
from outdial.domain.calendar import local_day_start
from outdial.domain.campaign_state import CampaignState
from outdial.domain.eligibility import DialFacts, eligibility
from outdial.domain.errors import NotFound
from outdial.domain.outcomes import ContactState
from outdial.engine import statements as sql
from outdial.engine.config import load_config
from outdial.engine.ledger import number_facts
from outdial.services.common import Tenant, found
from outdial.services.contacts import with_phones
from outdial.store.repo import TenantTable
from outdial.store.schema import campaigns, contacts, lines
from outdial.store.store import Store


class EligibilityService:
    def __init__(self, store: Store, clock: Clock):
        self.store, self.clock = store, clock

    def explain(self, tenant: Tenant, campaign_id: int, contact_id: int) -> dict[str, Any]:
        """``{eligible, reasons, next_eligible_at, …}`` for the contact's current phone."""
        now = self.clock.now()
        with self.store.read() as conn:
            campaign = found(
                TenantTable(campaigns).get(conn, tenant.id, campaign_id), "campaign", campaign_id
            )
            contact = TenantTable(contacts).get(conn, tenant.id, contact_id)
            if contact is None or contact["campaign_id"] != campaign_id:
                raise NotFound(f"contact {contact_id} not found")
            contact = with_phones(conn, [contact])[0]
        config = load_config(self.store, campaign)
        phone = contact["phones"][contact["phone_index"]]
        zones = config.zones_for(phone["number"], contact["timezone"])
        day_start = local_day_start(now, zones[0])
        with self.store.read() as conn:
            facts = _number_and_capacity(conn, campaign, phone["number"], day_start, now)
        verdict = eligibility(
            DialFacts(
                at=now,
                campaign_state=CampaignState(campaign["state"]),
                contact_state=ContactState(contact["state"]),
                contact_reason=contact["reason"],
                next_eligible_at=contact["next_eligible_at"],
                schedule=config.schedule,
                zones=zones,
                max_attempts_per_day=campaign["max_attempts_per_day"],
                min_attempt_interval_seconds=campaign["min_attempt_interval_seconds"],
                day_ends_at=day_start + timedelta(days=1),
                **facts,
            )
        )
        return {
            "eligible": verdict.eligible,
            "reasons": verdict.reasons,
            "next_eligible_at": verdict.next_eligible_at,
            "at": now,
            "contact_state": contact["state"],
            "phone": {"position": phone["position"], "number": phone["number"]},
            "time_zones": [str(z) for z in zones],
        }


def _number_and_capacity(
    conn: Connection, campaign: dict[str, Any], number: str, day_start: datetime, now: datetime
) -> dict[str, Any]:
    today, last, on_dnc = number_facts(conn, campaign, number, day_start, now)
    on_line, in_campaign = conn.execute(
        sql.OPEN_CALLS, {"line_id": campaign["line_id"], "campaign_id": campaign["id"]}
    ).one()
    channels = conn.scalar(select(lines.c.channels).where(lines.c.id == campaign["line_id"]))
    return {
        "number_attempts_today": today,
        "last_attempt_at": last,
        "on_dnc": on_dnc,
        "line_free": int(channels or 0) - int(on_line),
        "campaign_free": int(campaign["max_concurrency"]) - int(in_campaign),
    }
