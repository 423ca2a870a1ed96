"""What the 云蝠 facade needs beyond the generic services: campaigns found by uuid with the
catalogue rows they refer to, the lines' remaining concurrency (residue), and a campaign kind
whose create/update also checks the 云蝠 rules (concurrency within the line's residue, a
usable transfer group). Everything here speaks outdial's names; the facade translates."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, func, select, update

from outdial.clock import Clock
from outdial.domain.campaign_state import ACTIVE, TERMINAL, CampaignState, LifecycleAction
from outdial.domain.errors import NotFound, ValidationFailed
from outdial.domain.outcomes import CONTACT_TERMINAL
from outdial.services.campaigns import CampaignHooks, CampaignService
from outdial.services.common import PageRequest, Tenant
from outdial.services.contacts import ContactService
from outdial.services.models import CampaignIn, ContactAppendIn
from outdial.services.resources import ResourceService
from outdial.services.secrets import SecretBox
from outdial.services.validation import validate
from outdial.store.schema import (
    attempts,
    blackout_calendars,
    campaigns,
    contacts,
    lines,
    redial_policies,
    scripts,
    skill_groups,
)
from outdial.store.store import Store

VENDOR = "yunfu"
DESTROYED = campaigns.c.vendor_data["destroyed"].as_boolean()
"""A task 云蝠 destroyed that the ledger keeps (it had calls): hidden from the facade."""
VISIBLE = DESTROYED.is_not(True)


@dataclass(frozen=True)
class TaskView:
    """A campaign with what the 云蝠 task object shows of its references and progress."""

    campaign: dict[str, Any]
    line: dict[str, Any] | None
    line_allocated: int
    script: dict[str, Any] | None
    calendar: dict[str, Any] | None
    policy: dict[str, Any] | None
    contacts_total: int
    contacts_done: int


@dataclass(frozen=True)
class FormMeta:
    """The catalogue a 云蝠 client chooses from when it creates a task."""

    calendars: list[dict[str, Any]]
    lines: list[tuple[dict[str, Any], int]]  # (line, concurrency allocated to running tasks)
    policies: list[dict[str, Any]]
    skill_groups: list[tuple[dict[str, Any], str | None]]  # (group, its line's uuid)
    scripts: list[dict[str, Any]]


# --- line allocation -------------------------------------------------------------------------


def allocated(
    conn: Connection, tenant_id: int, line_ids: Iterable[int], exclude: int | None = None
) -> dict[int, int]:
    """Concurrency promised to the tenant's started (scheduled or running) campaigns, per
    line: the sum of their ``max_concurrency``, leaving out campaign ``exclude``."""
    ids = list(line_ids)
    if not ids:
        return {}
    cond = and_(
        campaigns.c.tenant_id == tenant_id,
        campaigns.c.line_id.in_(ids),
        campaigns.c.state.in_([s.value for s in ACTIVE]),
    )
    if exclude is not None:
        cond = and_(cond, campaigns.c.id != exclude)
    query = (
        select(campaigns.c.line_id, func.sum(campaigns.c.max_concurrency))
        .where(cond)
        .group_by(campaigns.c.line_id)
    )
    return {line_id: int(total) for line_id, total in conn.execute(query)}


def residue(line: Mapping[str, Any], allocated_now: int) -> int:
    """A line's remaining concurrency (云蝠 ``residue``): its channels less those allocated."""
    return max(0, int(line["channels"]) - allocated_now)


def usable_line(line: Mapping[str, Any], now: datetime) -> bool:
    expires = line["expires_at"]
    return bool(line["enabled"]) and (expires is None or expires > now)


class YunfuCampaignHooks(CampaignHooks):
    """The native campaign rules, and: the line usable with room for ``max_concurrency``
    (the campaign's own allocation aside), the transfer group on a line and enabled."""

    def __init__(self, clock: Clock, box: SecretBox):
        super().__init__(box)
        self.clock = clock

    def check(self, conn: Connection, tenant: Tenant, data: Any, row_id: int | None) -> None:
        super().check(conn, tenant, data, row_id)
        self._check_line(conn, tenant, data, row_id)
        self._check_skill_group(conn, data)

    def _check_line(self, conn: Connection, tenant: Tenant, data: Any, row_id: int | None) -> None:
        line = _row(conn, lines, data.line_id)
        if line is None:
            return
        if not usable_line(line, self.clock.now()):
            raise ValidationFailed.field("line_id", "线路已停用或已过期", "disabled")
        left = residue(line, allocated(conn, tenant.id, [line["id"]], row_id).get(line["id"], 0))
        if data.max_concurrency > left:
            raise ValidationFailed.field(
                "max_concurrency",
                f"并发数 {data.max_concurrency} 超过所选线路的剩余并发 residue {left}",
                "residue_exceeded",
            )

    def _check_skill_group(self, conn: Connection, data: Any) -> None:
        group = _row(conn, skill_groups, data.skill_group_id)
        if group is None:
            return
        if group["line_id"] is None:
            raise ValidationFailed.field(
                "skill_group_id", "客服组未设置转接线路 (caller_line_id 为 null)", "no_line"
            )
        if not group["enabled"]:
            raise ValidationFailed.field(
                "skill_group_id", "客服组不可用 (status 不为 1)", "disabled"
            )


def _row(conn: Connection, table: Table, row_id: int | None) -> dict[str, Any] | None:
    if row_id is None:
        return None
    row = conn.execute(select(table).where(table.c.id == row_id)).one_or_none()
    return None if row is None else dict(row._mapping)


# --- the service ------------------------------------------------------------------------------


class YunfuService:
    def __init__(
        self, store: Store, clock: Clock, campaigns_: CampaignService, contacts_: ContactService
    ):
        self.store, self.clock = store, clock
        self.campaigns, self.contacts = campaigns_, contacts_
        kind = dataclasses.replace(campaigns_.kind, hooks=YunfuCampaignHooks(clock, campaigns_.box))
        self.writer = ResourceService(store, clock, kind)

    # --- the create form ------------------------------------------------------------------

    def form_meta(self, tenant: Tenant) -> FormMeta:
        now = self.clock.now()
        with self.store.read() as conn:
            usable = [r for r in _all(conn, lines, tenant) if usable_line(r, now)]
            taken = allocated(conn, tenant.id, [r["id"] for r in usable])
            line_uuids = {r["id"]: r["uuid"] for r in _all(conn, lines, tenant)}
            return FormMeta(
                calendars=_all(conn, blackout_calendars, tenant),
                lines=[(r, taken.get(r["id"], 0)) for r in usable],
                policies=_all(conn, redial_policies, tenant),
                skill_groups=[
                    (g, line_uuids.get(g["line_id"])) for g in _all(conn, skill_groups, tenant)
                ],
                scripts=_all(conn, scripts, tenant),
            )

    def id_for_uuid(self, tenant: Tenant, table: Table, uuid: str) -> int | None:
        with self.store.read() as conn:
            return conn.scalar(
                select(table.c.id).where(table.c.tenant_id == tenant.id, table.c.uuid == uuid)
            )

    # --- tasks ----------------------------------------------------------------------------

    def create(self, tenant: Tenant, fields: Mapping[str, Any]) -> TaskView:
        data = validate(CampaignIn, dict(fields))
        extra = {"vendor": VENDOR, "vendor_data": {}}
        row = self.writer.create(tenant, data, extra)
        return self.task(tenant, row["uuid"])

    def update(self, tenant: Tenant, uuid: str, fields: Mapping[str, Any]) -> TaskView:
        row = self._campaign(tenant, uuid)
        self.writer.update(tenant, row["id"], fields)
        return self.task(tenant, uuid)

    def tasks(
        self, tenant: Tenant, page: PageRequest, name: str | None
    ) -> tuple[list[TaskView], int]:
        """The tenant's campaigns, whoever created them, that 云蝠 has not destroyed."""
        where = [campaigns.c.tenant_id == tenant.id, VISIBLE]
        if name:
            where.append(campaigns.c.name.icontains(name, autoescape=True))
        with self.store.read() as conn:
            total = conn.scalar(select(func.count()).select_from(campaigns).where(*where)) or 0
            query = (
                select(campaigns)
                .where(*where)
                .order_by(campaigns.c.id.desc())
                .offset(page.offset)
                .limit(page.page_size)
            )
            rows = [dict(r._mapping) for r in conn.execute(query)]
            views = self._views(conn, tenant, rows)
        return views, total

    def task(self, tenant: Tenant, uuid: str) -> TaskView:
        with self.store.read() as conn:
            return self._views(conn, tenant, [self._campaign_in(conn, tenant, uuid)])[0]

    def start(self, tenant: Tenant, uuid: str) -> TaskView:
        """Start a draft, resume a paused one; a started one stays as it is."""
        row = self._campaign(tenant, uuid)
        state = CampaignState(row["state"])
        if state is CampaignState.DRAFT:
            self.campaigns.act(tenant, row["id"], LifecycleAction.START)
        elif state not in ACTIVE:
            self.campaigns.act(tenant, row["id"], LifecycleAction.RESUME)
        return self.task(tenant, uuid)

    def stop(self, tenant: Tenant, uuid: str) -> TaskView:
        """Pause a started task; any other stays as it is."""
        row = self._campaign(tenant, uuid)
        if CampaignState(row["state"]) in ACTIVE:
            self.campaigns.act(tenant, row["id"], LifecycleAction.PAUSE)
        return self.task(tenant, uuid)

    def destroy(self, tenant: Tenant, uuid: str) -> None:
        """Delete a task that never dialed. One with calls keeps its ledger: it is cancelled
        (if it could still dial) and hidden from the facade, still readable natively."""
        row = self._campaign(tenant, uuid)
        if CampaignState(row["state"]) not in TERMINAL:
            self.campaigns.act(tenant, row["id"], LifecycleAction.CANCEL)
        with self.store.write() as conn:
            dialed = select(attempts.c.id).where(attempts.c.campaign_id == row["id"]).limit(1)
            if conn.scalar(dialed) is None:
                conn.execute(campaigns.delete().where(campaigns.c.id == row["id"]))
                return
            conn.execute(
                update(campaigns)
                .where(campaigns.c.id == row["id"])
                .values(
                    vendor_data={**row["vendor_data"], "destroyed": True},
                    updated_at=self.clock.now(),
                )
            )

    def import_contacts(
        self, tenant: Tenant, uuid: str, rows: list[dict[str, Any]], all_or_nothing: bool
    ) -> dict[str, Any]:
        row = self._campaign(tenant, uuid)
        body = ContactAppendIn(contacts=rows, all_or_nothing=all_or_nothing)
        return self.contacts.append(tenant, row["id"], body)

    # --- internals ------------------------------------------------------------------------

    def _campaign(self, tenant: Tenant, uuid: str) -> dict[str, Any]:
        with self.store.read() as conn:
            return self._campaign_in(conn, tenant, uuid)

    def _campaign_in(self, conn: Connection, tenant: Tenant, uuid: str) -> dict[str, Any]:
        query = select(campaigns).where(
            campaigns.c.tenant_id == tenant.id, campaigns.c.uuid == uuid, VISIBLE
        )
        row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFound(f"task {uuid} not found")
        return dict(row._mapping)

    def _views(
        self, conn: Connection, tenant: Tenant, rows: list[dict[str, Any]]
    ) -> list[TaskView]:
        def refs(table: Table, column: str) -> dict[int, dict[str, Any]]:
            return _by_id(conn, table, {r[column] for r in rows if r[column] is not None})

        line_rows = refs(lines, "line_id")
        script_rows = refs(scripts, "script_id")
        calendar_rows = refs(blackout_calendars, "blackout_calendar_id")
        policy_rows = refs(redial_policies, "redial_policy_id")
        taken = allocated(conn, tenant.id, line_rows)
        progress = _progress(conn, [r["id"] for r in rows])
        return [
            TaskView(
                campaign=r,
                line=line_rows.get(r["line_id"]),
                line_allocated=taken.get(r["line_id"], 0),
                script=script_rows.get(r["script_id"]),
                calendar=calendar_rows.get(r["blackout_calendar_id"]),
                policy=policy_rows.get(r["redial_policy_id"]),
                contacts_total=progress.get(r["id"], (0, 0))[0],
                contacts_done=progress.get(r["id"], (0, 0))[1],
            )
            for r in rows
        ]


def _all(conn: Connection, table: Table, tenant: Tenant) -> list[dict[str, Any]]:
    query = select(table).where(table.c.tenant_id == tenant.id).order_by(table.c.id)
    return [dict(r._mapping) for r in conn.execute(query)]


def _by_id(conn: Connection, table: Table, ids: set[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    query = select(table).where(table.c.id.in_(ids))
    return {r.id: dict(r._mapping) for r in conn.execute(query)}


def _progress(conn: Connection, campaign_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(contacts, contacts finished) per campaign."""
    if not campaign_ids:
        return {}
    done = contacts.c.state.in_([s.value for s in CONTACT_TERMINAL])
    query = (
        select(contacts.c.campaign_id, func.count(), func.count().filter(done))
        .where(contacts.c.campaign_id.in_(campaign_ids))
        .group_by(contacts.c.campaign_id)
    )
    return {cid: (int(total), int(finished)) for cid, total, finished in conn.execute(query)}
