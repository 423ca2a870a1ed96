"""All services, wired once from a store, a clock and the settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from outdial.clock import Clock
from outdial.domain.errors import NotFound
from outdial.services.agents import AgentService
from outdial.services.attempts import AttemptService
from outdial.services.campaigns import CampaignService
from outdial.services.catalog import (
    BLACKOUT_CALENDARS,
    LINES,
    NUMBER_GROUPS,
    REDIAL_POLICIES,
    SCRIPTS,
    SKILL_GROUPS,
)
from outdial.services.common import Tenant
from outdial.services.contacts import ContactService
from outdial.services.credentials import CredentialService
from outdial.services.dnc import DncService
from outdial.services.eligibility import EligibilityService
from outdial.services.events import EventService
from outdial.services.forecast import ForecastService
from outdial.services.imports import ContactImportService
from outdial.services.pacing import PacingService
from outdial.services.preview import PreviewService
from outdial.services.resources import ResourceKind, ResourceService
from outdial.services.secrets import SecretBox
from outdial.services.tenants import TenantService
from outdial.store.schema import campaigns, tenants
from outdial.store.store import Store


@dataclass(frozen=True)
class Services:
    store: Store
    clock: Clock
    credentials: CredentialService
    tenants: TenantService
    lines: ResourceService
    number_groups: ResourceService
    skill_groups: ResourceService
    agents: AgentService
    scripts: ResourceService
    blackout_calendars: ResourceService
    redial_policies: ResourceService
    campaigns: CampaignService
    contacts: ContactService
    imports: ContactImportService
    attempts: AttemptService
    dnc: DncService
    eligibility: EligibilityService
    events: EventService
    pacing: PacingService
    preview: PreviewService
    forecast: ForecastService

    def campaigns_tenant(self, campaign_id: int) -> Tenant:
        """The tenant owning a campaign (operator tools on the data dir act in its name)."""
        with self.store.read() as conn:
            row = conn.execute(
                select(tenants)
                .join(campaigns, campaigns.c.tenant_id == tenants.c.id)
                .where(campaigns.c.id == campaign_id)
            ).one_or_none()
        if row is None:
            raise NotFound(f"campaign {campaign_id} not found")
        return Tenant.from_row(dict(row._mapping))

    @classmethod
    def build(cls, store: Store, clock: Clock, secret_key: bytes) -> Services:
        credentials = CredentialService(store, clock, SecretBox(secret_key))

        def resource(kind: ResourceKind) -> ResourceService:
            return ResourceService(store, clock, kind)

        contacts = ContactService(store, clock)
        return cls(
            store=store,
            clock=clock,
            credentials=credentials,
            tenants=TenantService(store, clock, credentials),
            lines=resource(LINES),
            number_groups=resource(NUMBER_GROUPS),
            skill_groups=resource(SKILL_GROUPS),
            agents=AgentService(store, clock),
            scripts=resource(SCRIPTS),
            blackout_calendars=resource(BLACKOUT_CALENDARS),
            redial_policies=resource(REDIAL_POLICIES),
            campaigns=CampaignService(store, clock),
            contacts=contacts,
            imports=ContactImportService(contacts),
            attempts=AttemptService(store, clock),
            dnc=DncService(store, clock),
            eligibility=EligibilityService(store, clock),
            events=EventService(store, clock),
            pacing=PacingService(store),
            preview=PreviewService(store, clock),
            forecast=ForecastService(store, clock),
        )
