"""Campaigns: settings (through the generic resource service) and the lifecycle."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from outdial.clock import Clock
from outdial.domain.campaign_rules import period_has_begun, readiness_problems
from outdial.domain.campaign_state import (
    ACTIVE,
    CampaignState,
    LifecycleAction,
    apply_action,
    is_editable,
)
from outdial.domain.errors import Conflict, FieldError, ValidationFailed
from outdial.domain.schedule import PacingMode
from outdial.domain.webhooks import WebhookEvent
from outdial.engine.ledger import record_event, release_previews
from outdial.services.assignment import assign_contacts
from outdial.services.catalog import check_numbers_on_line, name_filter
from outdial.services.common import Tenant, found, parse_choice
from outdial.services.models import CampaignIn
from outdial.services.resources import (
    Hooks,
    ResourceKind,
    ResourceService,
    parse_int,
    parse_time,
)
from outdial.services.secrets import SecretBox
from outdial.services.stats import campaign_stats
from outdial.services.webhooks import campaign_webhooks_disabled, sync_campaign_webhook
from outdial.store.repo import TenantTable
from outdial.store.schema import (
    agents,
    attempts,
    blackout_calendars,
    campaigns,
    lines,
    number_groups,
    redial_policies,
    scripts,
    skill_groups,
)
from outdial.store.store import Store
from outdial.telephony.registry import AVAILABLE_DRIVERS

STATE_CHANGED = WebhookEvent.CAMPAIGN_STATE_CHANGED.value


class CampaignHooks(Hooks):
    """``box`` seals the signing secret of the subscription a campaign's webhook_url makes."""

    def __init__(self, box: SecretBox):
        self.box = box

    def check(self, conn: Connection, tenant: Tenant, data: Any, row_id: int | None) -> None:
        check_numbers_on_line(conn, tenant, data.caller_numbers, data.line_id, "caller_numbers")
        self._check_number_group(conn, data)
        agent_ids = [a.agent_id for a in data.agent_assignments]
        known = TenantTable(agents).existing_ids(conn, tenant.id, agent_ids)
        for i, agent_id in enumerate(agent_ids):
            if agent_id not in known:
                raise ValidationFailed.field(
                    f"agent_assignments[{i}].agent_id", f"agent {agent_id} not found", "not_found"
                )

    def _check_number_group(self, conn: Connection, data: Any) -> None:
        if data.number_group_id is None or data.line_id is None:
            return
        group_line = conn.scalar(
            select(number_groups.c.line_id).where(number_groups.c.id == data.number_group_id)
        )
        if group_line is not None and group_line != data.line_id:
            raise ValidationFailed.field(
                "number_group_id",
                f"number group {data.number_group_id} belongs to line {group_line}, "
                f"not line {data.line_id}",
            )

    def values(
        self, tenant: Tenant, data: Any, current: dict[str, Any] | None, now: datetime
    ) -> dict[str, Any]:
        values: dict[str, Any] = {"timezone": data.timezone or tenant.timezone}
        if current is None:
            values |= {"state": CampaignState.DRAFT.value, "state_reason": ""}
            values |= {"vendor": "native", "vendor_data": {}}
        return values

    def present(self, conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each campaign with why outdial disabled its own webhook_url's subscription, if it
        did (its endpoint kept failing): one query for the rows."""
        ids = [r["id"] for r in rows if r.get("webhook_url")]
        disabled = campaign_webhooks_disabled(conn, ids) if ids else {}
        return [{**r, "webhook_disabled_reason": disabled.get(r["id"])} for r in rows]

    def after_write(self, conn: Connection, row: dict[str, Any], data: Any) -> None:
        """Preview: the contacts follow the agent_assignments as they are now; the
        webhook_url (云蝠's call_notify_url) is the campaign's own subscription."""
        assign_contacts(conn, row, row["updated_at"])
        sync_campaign_webhook(conn, row, self.box)

    def check_update(self, current: dict[str, Any]) -> None:
        if not is_editable(CampaignState(current["state"])):
            raise Conflict(
                f"a {current['state']} campaign cannot be changed", state=current["state"]
            )

    def check_delete(self, conn: Connection, row: dict[str, Any]) -> None:
        if CampaignState(row["state"]) in ACTIVE:
            raise Conflict(
                f"a {row['state']} campaign cannot be deleted; pause or cancel it first",
                state=row["state"],
            )
        dialed = select(attempts.c.id).where(attempts.c.campaign_id == row["id"]).limit(1)
        if conn.scalar(dialed) is not None:
            raise Conflict(
                f"campaign {row['id']} has attempts in the call ledger and cannot be deleted; "
                "cancel it instead; the ledger stays",
                state=row["state"],
            )


def campaign_kind(box: SecretBox) -> ResourceKind:
    return dataclasses.replace(CAMPAIGNS, hooks=CampaignHooks(box))


CAMPAIGNS = ResourceKind(
    label="campaign",
    table=campaigns,
    model=CampaignIn,
    refs={
        "blackout_calendar_id": blackout_calendars,
        "line_id": lines,
        "number_group_id": number_groups,
        "skill_group_id": skill_groups,
        "script_id": scripts,
        "redial_policy_id": redial_policies,
    },
    filters={
        **name_filter(campaigns),
        "state": lambda v: campaigns.c.state == parse_choice("state", v, CampaignState),
        "kind": lambda v: campaigns.c.kind == parse_choice("kind", v, ("auto", "manual")),
        "pacing_mode": lambda v: (
            campaigns.c.pacing_mode == parse_choice("pacing_mode", v, PacingMode)
        ),
        "vendor": lambda v: campaigns.c.vendor == v,
        "states": lambda v: campaigns.c.state.in_(
            [parse_choice("states", s, CampaignState) for s in v.split(",")]
        ),
        "created_after": lambda v: campaigns.c.created_at >= parse_time("created_after", v),
        "created_before": lambda v: campaigns.c.created_at <= parse_time("created_before", v),
        "external_id": lambda v: campaigns.c.external_id == v,
        "line_id": lambda v: campaigns.c.line_id == parse_int("line_id", v),
        "skill_group_id": lambda v: campaigns.c.skill_group_id == parse_int("skill_group_id", v),
    },
)
"""Campaigns as a resource; campaign_kind() gives them their hooks."""


class CampaignService(ResourceService):
    def __init__(self, store: Store, clock: Clock, box: SecretBox):
        super().__init__(store, clock, campaign_kind(box))
        self.box = box

    def act(self, tenant: Tenant, campaign_id: int, action: LifecycleAction) -> dict[str, Any]:
        """Start, pause, resume or cancel; an illegal transition is a Conflict naming the state."""
        now = self.clock.now()
        with self.store.write() as conn:
            row = found(
                self.rows.get(conn, tenant.id, campaign_id, lock=True), "campaign", campaign_id
            )
            state = apply_action(CampaignState(row["state"]), action, period_has_begun(row, now))
            starting = action in (LifecycleAction.START, LifecycleAction.RESUME)
            if starting and (problems := self._dial_problems(conn, row, now)):
                raise ValidationFailed("the campaign is not ready to dial", problems)
            values: dict[str, Any] = {"state": state.value, "state_reason": action.value}
            if action is LifecycleAction.START:
                values["started_at"] = now
            if action is LifecycleAction.CANCEL:
                values["ended_at"] = now
            updated = self.rows.update(conn, tenant.id, campaign_id, {**values, "updated_at": now})
            if state.value != row["state"]:
                change = {"from": row["state"], "to": state.value, "reason": action.value}
                record_event(conn, campaign_id, STATE_CHANGED, change, now, tenant.id)
            if action in (LifecycleAction.PAUSE, LifecycleAction.CANCEL):
                release_previews(conn, campaign_id, f"campaign_{state.value}", now)
            return self.hooks.present(conn, [found(updated, "campaign", campaign_id)])[0]

    def dial_problems(self, tenant: Tenant, campaign_id: int) -> list[FieldError]:
        """Why the campaign could not dial if started now (empty when it could)."""
        with self.store.read() as conn:
            row = found(self.rows.get(conn, tenant.id, campaign_id), "campaign", campaign_id)
            return self._dial_problems(conn, row, self.clock.now())

    def _dial_problems(
        self, conn: Connection, campaign: dict[str, Any], now: datetime
    ) -> list[FieldError]:
        """The domain's readiness rules, then the line as stored now: enabled, not expired,
        and every chosen caller number still on it and enabled."""
        problems = readiness_problems(campaign, now)
        line_id = campaign["line_id"]
        if line_id is None:
            return problems
        line = conn.execute(select(lines).where(lines.c.id == line_id)).one_or_none()
        if line is None:
            return [*problems, FieldError("line_id", f"line {line_id} not found", "not_found")]
        return problems + line_problems(dict(line._mapping), campaign["caller_numbers"], now)

    def has_attempts(self, tenant: Tenant, campaign_id: int) -> bool:
        """Whether the campaign has dialed (its ledger keeps it from being deleted)."""
        with self.store.read() as conn:
            found(self.rows.get(conn, tenant.id, campaign_id), "campaign", campaign_id)
            dialed = select(attempts.c.id).where(attempts.c.campaign_id == campaign_id).limit(1)
            return conn.scalar(dialed) is not None

    def stats(self, tenant: Tenant, campaign_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            found(self.rows.get(conn, tenant.id, campaign_id), "campaign", campaign_id)
            return campaign_stats(conn, campaign_id)


def line_problems(line: dict[str, Any], chosen: list[str], now: datetime) -> list[FieldError]:
    """Why a campaign cannot dial through ``line`` with the caller numbers ``chosen``."""
    problems = []
    if line["driver"] not in AVAILABLE_DRIVERS:
        message = (
            f"line {line['id']} uses the {line['driver']} driver, which this build cannot run yet"
        )
        problems.append(FieldError("line_id", message, "driver_unavailable"))
    if not line["enabled"]:
        problems.append(FieldError("line_id", f"line {line['id']} is disabled", "disabled"))
    expires = line["expires_at"]
    if expires is not None and expires <= now:
        problems.append(
            FieldError("line_id", f"line {line['id']} expired at {expires.isoformat()}", "expired")
        )
    on_line = {n["number"]: n.get("enabled", True) for n in line["caller_numbers"]}
    for i, number in enumerate(chosen):
        if number not in on_line:
            message = f"caller number {number} is no longer on line {line['id']}"
            problems.append(FieldError(f"caller_numbers[{i}]", message, "not_found"))
        elif not on_line[number]:
            message = f"caller number {number} is disabled on line {line['id']}"
            problems.append(FieldError(f"caller_numbers[{i}]", message, "disabled"))
    return problems
