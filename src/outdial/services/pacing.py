"""The pacing view of a campaign: its team's agents and states, and the pacer's recent decisions
(the ``pacing.decision`` events the engine records)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from outdial.domain.agents import AgentState
from outdial.domain.errors import ValidationFailed
from outdial.services.common import Tenant, found
from outdial.store.repo import TenantTable
from outdial.store.schema import agent_skill_groups, agents, campaigns, events
from outdial.store.store import Store

MAX_DECISIONS = 500


class PacingService:
    def __init__(self, store: Store):
        self.store = store

    def view(self, tenant: Tenant, campaign_id: int, limit: int = 20) -> dict[str, Any]:
        if not 1 <= limit <= MAX_DECISIONS:
            raise ValidationFailed.field("limit", f"must be between 1 and {MAX_DECISIONS}")
        with self.store.read() as conn:
            campaign = found(
                TenantTable(campaigns).get(conn, tenant.id, campaign_id), "campaign", campaign_id
            )
            team = self._team(conn, campaign["skill_group_id"])
            rows = conn.execute(
                select(events.c.id, events.c.data, events.c.created_at)
                .where(
                    events.c.tenant_id == tenant.id,
                    events.c.campaign_id == campaign_id,
                    events.c.kind == "pacing.decision",
                )
                .order_by(events.c.id.desc())
                .limit(limit)
            )
            decisions = [{"id": r.id, "at": r.created_at, **r.data} for r in rows]
        counts = Counter(a["state"] for a in team)
        return {
            "campaign_id": campaign_id,
            "pacing_mode": campaign["pacing_mode"],
            "abandon_target_percent": campaign["abandon_target_percent"],
            "skill_group_id": campaign["skill_group_id"],
            "agent_states": {state.value: counts.get(state.value, 0) for state in AgentState},
            "agents": team,
            "decisions": decisions,
        }

    @staticmethod
    def _team(conn: Any, skill_group_id: int | None) -> list[dict[str, Any]]:
        if skill_group_id is None:
            return []
        query = (
            select(agents.c.id, agents.c.name, agents.c.state, agents.c.state_changed_at)
            .join(agent_skill_groups, agent_skill_groups.c.agent_id == agents.c.id)
            .where(agent_skill_groups.c.skill_group_id == skill_group_id)
            .order_by(agents.c.id)
        )
        return [dict(r._mapping) for r in conn.execute(query)]
