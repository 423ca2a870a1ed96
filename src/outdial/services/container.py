"""All services, wired once from a store, a clock and the settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from outdial.clock import Clock
from outdial.domain.errors import NotFound
from outdial.domain.jobs import JobKind
from outdial.io.files import FileStore
from outdial.services.agents import AgentService
from outdial.services.attempts import AttemptService
from outdial.services.campaigns import CampaignService
from outdial.services.catalog import (
    BLACKOUT_CALENDARS,
    NUMBER_GROUPS,
    REDIAL_POLICIES,
    SCRIPTS,
    SKILL_GROUPS,
    line_kind,
)
from outdial.services.common import Tenant
from outdial.services.contacts import ContactService
from outdial.services.credentials import CredentialService
from outdial.services.dezhu import DezhuService
from outdial.services.dnc import DncService
from outdial.services.downloads import LinkSigner
from outdial.services.eligibility import EligibilityService
from outdial.services.events import EventService
from outdial.services.exports import ExportService
from outdial.services.forecast import ForecastService
from outdial.services.imports import ContactImportService
from outdial.services.job_runner import JobRunner
from outdial.services.jobs import JobService
from outdial.services.nonces import NonceService
from outdial.services.pacing import PacingService
from outdial.services.preview import PreviewService
from outdial.services.resources import ResourceKind, ResourceService
from outdial.services.secrets import SecretBox
from outdial.services.tenants import TenantService
from outdial.services.uploads import UploadService
from outdial.services.webhooks import WebhookService
from outdial.services.yunfu import YunfuService
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
    exports: ExportService
    jobs: JobService
    attempts: AttemptService
    dnc: DncService
    eligibility: EligibilityService
    events: EventService
    pacing: PacingService
    preview: PreviewService
    forecast: ForecastService
    yunfu: YunfuService
    dezhu: DezhuService
    nonces: NonceService
    uploads: UploadService
    webhooks: WebhookService
    box: SecretBox

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

    def tenant(self, tenant_id: int) -> Tenant:
        return Tenant.from_row(self.tenants.get(tenant_id))

    def job_runner(self, threads: int = 2) -> JobRunner:
        """A runner of this process's share of the job queue (start() it, or run_pending())."""
        handlers = {
            JobKind.CONTACT_IMPORT: self.imports.run_job,
            JobKind.CONTACT_CHECK: self.imports.run_check_job,
            JobKind.DNC_IMPORT: self.dnc.run_job,
            JobKind.EXPORT: self.exports.run_job,
        }
        return JobRunner(self.jobs, handlers, self.tenant, threads=threads)

    @classmethod
    def build(
        cls,
        store: Store,
        clock: Clock,
        secret_key: bytes,
        files_dir: Path | None = None,
        operator_region: str = "CN",
    ) -> Services:
        """``files_dir`` holds the jobs' files (uploads, reports, exports); without one, a
        temporary directory does."""
        box = SecretBox(secret_key)
        credentials = CredentialService(store, clock, box)
        jobs = JobService(store, clock, FileStore(files_dir), LinkSigner(secret_key, clock))

        def resource(kind: ResourceKind) -> ResourceService:
            return ResourceService(store, clock, kind)

        contacts = ContactService(store, clock)
        campaigns_ = CampaignService(store, clock, box)
        return cls(
            store=store,
            clock=clock,
            credentials=credentials,
            tenants=TenantService(store, clock, credentials),
            lines=ResourceService(store, clock, line_kind(box)),
            number_groups=resource(NUMBER_GROUPS),
            skill_groups=resource(SKILL_GROUPS),
            agents=AgentService(store, clock),
            scripts=resource(SCRIPTS),
            blackout_calendars=resource(BLACKOUT_CALENDARS),
            redial_policies=resource(REDIAL_POLICIES),
            campaigns=campaigns_,
            contacts=contacts,
            imports=ContactImportService(contacts, jobs),
            exports=ExportService(store, clock, jobs),
            jobs=jobs,
            attempts=AttemptService(store, clock),
            dnc=DncService(store, clock, jobs, operator_region),
            eligibility=EligibilityService(store, clock),
            events=EventService(store, clock),
            pacing=PacingService(store),
            preview=PreviewService(store, clock),
            forecast=ForecastService(store, clock),
            yunfu=YunfuService(store, clock, campaigns_, contacts),
            dezhu=DezhuService(store, clock, campaigns_, contacts),
            nonces=NonceService(store, clock),
            uploads=UploadService(jobs.files, jobs.links, clock),
            webhooks=WebhookService(store, clock, box),
            box=box,
        )
