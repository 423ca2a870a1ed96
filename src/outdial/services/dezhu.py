"""What the 得助 facade needs beyond the generic services: a task created with its customers in
one transaction (nothing is written if any customer is refused), its number group's line, the
append rules of 得助 (the states that take customers, 20,000 a task, a manual task's agents get
their share), the task status enum 1–6 over outdial's states, and the page with the ledger's
statistics. Everything here speaks outdial's names; the facade translates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, not_, or_, select

from outdial.clock import Clock
from outdial.domain.campaign_state import ACTIVE, CampaignState, LifecycleAction
from outdial.domain.errors import Conflict, FieldError, LimitExceeded, ValidationFailed
from outdial.domain.outcomes import CONNECTED, CONTACT_TERMINAL
from outdial.services.campaigns import CampaignService
from outdial.services.common import PageRequest, Tenant, found, integrity_guard
from outdial.services.contacts import ContactService
from outdial.services.models import CampaignIn, ContactAppendIn
from outdial.services.validation import validate
from outdial.store.repo import TenantTable
from outdial.store.schema import attempts, campaigns, contacts, number_groups, skill_groups
from outdial.store.store import Store

VENDOR = "dezhu"
CONTACTS_PER_TASK = 20_000

# taskStatus: 1 未开始, 2 已暂停, 3 进行中, 4 已完成, 5 已过期, 6 任务执行异常
NOT_STARTED, PAUSED, RUNNING, COMPLETED, EXPIRED, FAILED = 1, 2, 3, 4, 5, 6
_NOT_STARTED = (CampaignState.DRAFT, CampaignState.SCHEDULED)
_STATUS = {
    CampaignState.DRAFT: NOT_STARTED,
    CampaignState.SCHEDULED: NOT_STARTED,
    CampaignState.PAUSED: PAUSED,
    CampaignState.RUNNING: RUNNING,
    CampaignState.COMPLETED: COMPLETED,
    CampaignState.CANCELLED: COMPLETED,
    CampaignState.EXPIRED: EXPIRED,
    CampaignState.FAILED: FAILED,
}


def task_status(campaign: Mapping[str, Any], now: datetime) -> int:
    """得助's taskStatus of a campaign: one not started whose period is over is 已过期; a
    cancelled one (outdial's, 得助 has no such state) is 已完成."""
    state = CampaignState(campaign["state"])
    end = campaign["period_end"]
    if state in _NOT_STARTED and end is not None and end <= now:
        return EXPIRED
    return _STATUS[state]


def status_filter(status: int, now: datetime) -> ColumnElement[bool]:
    """The campaigns ``task_status`` gives ``status``, as SQL."""
    waiting = campaigns.c.state.in_([s.value for s in _NOT_STARTED])
    over = and_(campaigns.c.period_end.is_not(None), campaigns.c.period_end <= now)
    plain = campaigns.c.state.in_([s.value for s, n in _STATUS.items() if n == status])
    if status == NOT_STARTED:
        return and_(waiting, not_(over))
    if status == EXPIRED:
        return or_(plain, and_(waiting, over))
    return plain


@dataclass(frozen=True)
class TaskFilter:
    name: str | None = None
    kind: str | None = None  # auto, manual
    status: int | None = None
    skill_group_id: int | None = None


@dataclass(frozen=True)
class TaskView:
    """A campaign with what the 得助 TaskInfo shows of its skill group and its ledger."""

    campaign: dict[str, Any]
    status: int
    skill_group: dict[str, Any] | None
    customers: int
    completed: int
    dialed: int
    connected: int


class DezhuService:
    def __init__(
        self, store: Store, clock: Clock, campaigns_: CampaignService, contacts_: ContactService
    ):
        self.store, self.clock = store, clock
        self.campaigns, self.contacts = campaigns_, contacts_

    # --- writes -----------------------------------------------------------------------------

    def create(
        self,
        tenant: Tenant,
        fields: Mapping[str, Any],
        extra: Mapping[str, Any],
        rows: Sequence[Mapping[str, Any]],
    ) -> dict[str, Any]:
        """The campaign and its first contacts, together or not at all."""
        with integrity_guard("task"), self.store.write() as conn:
            data = validate(CampaignIn, self._with_line(conn, tenant, fields))
            row = self.campaigns.create_in(
                conn, tenant, data, {"vendor": VENDOR, "vendor_data": dict(extra)}
            )
            if rows:
                self._append(conn, tenant, row["id"], rows)
            return row

    def edit(
        self, tenant: Tenant, campaign_id: int, fields: Mapping[str, Any], extra: Mapping[str, Any]
    ) -> dict[str, Any]:
        with integrity_guard("task"), self.store.write() as conn:
            current = self._campaign(conn, tenant, campaign_id)
            if fields.get("kind", current["kind"]) != current["kind"]:
                kind = 1 if current["kind"] == "auto" else 2
                raise ValidationFailed.field("kind", f"任务类型不能修改 (本任务为 {kind})")
            patch = self._with_line(conn, tenant, fields)
            vendor = {**current["vendor_data"], **extra}
            return self.campaigns.update_in(
                conn, tenant, campaign_id, patch, {"vendor_data": vendor}
            )

    def append(
        self,
        tenant: Tenant,
        campaign_id: int,
        rows: Sequence[Mapping[str, Any]],
        agents: Sequence[Mapping[str, int]] | None,
    ) -> dict[str, Any]:
        """More contacts, in the states 得助 allows (未开始, 进行中, or 已完成 before its end
        date); a manual task's ``agents`` get ``assign_count`` more each."""
        now = self.clock.now()
        with self.store.write() as conn:
            campaign = self._campaign(conn, tenant, campaign_id)
            _check_appendable(campaign, now)
            if agents:
                merged = _added_assignments(campaign["agent_assignments"], agents)
                self.campaigns.update_in(conn, tenant, campaign_id, {"agent_assignments": merged})
            return self._append(conn, tenant, campaign_id, rows)

    def start(self, tenant: Tenant, campaign_id: int) -> None:
        """Start a task not started, resume a paused one; a started one stays as it is."""
        state = CampaignState(self._read(tenant, campaign_id)["state"])
        if state is CampaignState.DRAFT:
            self.campaigns.act(tenant, campaign_id, LifecycleAction.START)
        elif state not in ACTIVE:
            self.campaigns.act(tenant, campaign_id, LifecycleAction.RESUME)

    def pause(self, tenant: Tenant, campaign_id: int) -> None:
        """Pause a started task; a paused one stays as it is."""
        state = CampaignState(self._read(tenant, campaign_id)["state"])
        if state is not CampaignState.PAUSED:
            self.campaigns.act(tenant, campaign_id, LifecycleAction.PAUSE)

    # --- reads ------------------------------------------------------------------------------

    def tasks(
        self, tenant: Tenant, page: PageRequest, where: TaskFilter
    ) -> tuple[list[TaskView], int]:
        """The tenant's campaigns, whoever created them, newest first."""
        now = self.clock.now()
        conditions = [campaigns.c.tenant_id == tenant.id]
        if where.name:
            conditions.append(campaigns.c.name.icontains(where.name, autoescape=True))
        if where.kind:
            conditions.append(campaigns.c.kind == where.kind)
        if where.status is not None:
            conditions.append(status_filter(where.status, now))
        if where.skill_group_id is not None:
            conditions.append(campaigns.c.skill_group_id == where.skill_group_id)
        with self.store.read() as conn:
            total = conn.scalar(select(func.count()).select_from(campaigns).where(*conditions))
            query = (
                select(campaigns)
                .where(*conditions)
                .order_by(campaigns.c.id.desc())
                .offset(page.offset)
                .limit(page.page_size)
            )
            rows = [dict(r._mapping) for r in conn.execute(query)]
            return self._views(conn, rows, now), int(total or 0)

    def task(self, tenant: Tenant, campaign_id: int) -> TaskView:
        with self.store.read() as conn:
            return self._views(conn, [self._campaign(conn, tenant, campaign_id)], self.clock.now())[
                0
            ]

    # --- internals --------------------------------------------------------------------------

    def _with_line(
        self, conn: Connection, tenant: Tenant, fields: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The fields with ``line_id``: the number group's line (得助 has no line of its own);
        fields that leave the number group as it is, as they are."""
        if "number_group_id" not in fields:
            return dict(fields)
        group_id = fields["number_group_id"]
        group = TenantTable(number_groups).get(conn, tenant.id, group_id) if group_id else None
        if group is None:
            raise ValidationFailed.field(
                "number_group_id", f"外呼号码组 {group_id} 不存在", "not_found"
            )
        if group["line_id"] is None:
            raise ValidationFailed.field(
                "number_group_id", f"外呼号码组 {group_id} 未绑定线路", "no_line"
            )
        return {**fields, "line_id": group["line_id"]}

    def _append(
        self, conn: Connection, tenant: Tenant, campaign_id: int, rows: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        campaign = self.contacts.campaign_for_append(conn, tenant, campaign_id)
        existing = self.contacts.count(conn, campaign_id)
        if existing + len(rows) > CONTACTS_PER_TASK:
            raise LimitExceeded(
                f"at most {CONTACTS_PER_TASK} contacts a task",
                [
                    FieldError(
                        "contacts",
                        f"每个任务最多 {CONTACTS_PER_TASK} 个名单, 已有 {existing}, "
                        f"本次 {len(rows)}",
                        "limit",
                    )
                ],
            )
        body = ContactAppendIn(contacts=[dict(r) for r in rows], all_or_nothing=True)
        return self.contacts.append_in(conn, tenant, campaign, body)

    def _read(self, tenant: Tenant, campaign_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            return self._campaign(conn, tenant, campaign_id)

    @staticmethod
    def _campaign(conn: Connection, tenant: Tenant, campaign_id: int) -> dict[str, Any]:
        row = TenantTable(campaigns).get(conn, tenant.id, campaign_id)
        return found(row, "任务", campaign_id)

    def _views(self, conn: Connection, rows: list[dict[str, Any]], now: datetime) -> list[TaskView]:
        ids = [r["id"] for r in rows]
        group_ids = {r["skill_group_id"] for r in rows if r["skill_group_id"] is not None}
        groups = {
            g.id: dict(g._mapping)
            for g in conn.execute(select(skill_groups).where(skill_groups.c.id.in_(group_ids)))
        }
        counts = _contact_counts(conn, ids)
        reached = _ledger_counts(conn, ids)
        return [
            TaskView(
                campaign=r,
                status=task_status(r, now),
                skill_group=groups.get(r["skill_group_id"]),
                customers=counts.get(r["id"], (0, 0))[0],
                completed=counts.get(r["id"], (0, 0))[1],
                dialed=reached.get(r["id"], (0, 0))[0],
                connected=reached.get(r["id"], (0, 0))[1],
            )
            for r in rows
        ]


def _check_appendable(campaign: Mapping[str, Any], now: datetime) -> None:
    status = task_status(campaign, now)
    end = campaign["period_end"]
    completed = campaign["state"] == CampaignState.COMPLETED.value
    if status in (NOT_STARTED, RUNNING) or (completed and (end is None or end > now)):
        return
    raise Conflict(
        f"任务状态为 {status}: 只有未开始、进行中, 或已完成且未到结束日期的任务可以追加名单",
        state=campaign["state"],
    )


def _added_assignments(
    current: Sequence[Mapping[str, Any]], added: Sequence[Mapping[str, int]]
) -> list[dict[str, Any]]:
    """The campaign's agent assignments with ``added`` counts on top (new agents appended)."""
    out = [dict(a) for a in current]
    by_agent = {a["agent_id"]: a for a in out}
    for a in added:
        mine = by_agent.get(a["agent_id"])
        if mine is None:
            out.append(dict(a))
        else:
            mine["assign_count"] = (mine.get("assign_count") or 0) + a["assign_count"]
    return out


def _contact_counts(conn: Connection, ids: list[int]) -> dict[int, tuple[int, int]]:
    """(contacts, contacts finished) per campaign."""
    if not ids:
        return {}
    done = contacts.c.state.in_([s.value for s in CONTACT_TERMINAL])
    query = (
        select(contacts.c.campaign_id, func.count(), func.count().filter(done))
        .where(contacts.c.campaign_id.in_(ids))
        .group_by(contacts.c.campaign_id)
    )
    return {cid: (int(total), int(finished)) for cid, total, finished in conn.execute(query)}


def _ledger_counts(conn: Connection, ids: list[int]) -> dict[int, tuple[int, int]]:
    """(contacts called, contacts connected) per campaign, from the attempt ledger (as the
    native statistics count them)."""
    if not ids:
        return {}
    ended = attempts.c.ended_at.is_not(None)
    connected = attempts.c.outcome.in_([o.value for o in CONNECTED])
    query = (
        select(
            attempts.c.campaign_id,
            func.count(func.distinct(attempts.c.contact_id)).filter(ended),
            func.count(func.distinct(attempts.c.contact_id)).filter(connected),
        )
        .where(attempts.c.campaign_id.in_(ids))
        .group_by(attempts.c.campaign_id)
    )
    return {cid: (int(called), int(reached)) for cid, called, reached in conn.execute(query)}
