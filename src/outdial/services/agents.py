"""Agents: the catalogue entry (generic resource) and the working state an agent changes."""

from __future__ import annotations

from typing import Any

from outdial.clock import Clock
from outdial.domain.agents import AgentAction, AgentState, agent_move
from outdial.services.catalog import AGENTS
from outdial.services.common import Tenant, found
from outdial.services.resources import ResourceService
from outdial.store.store import Store


class AgentService(ResourceService):
    def __init__(self, store: Store, clock: Clock):
        super().__init__(store, clock, AGENTS)

    def act(self, tenant: Tenant, agent_id: int, action: AgentAction) -> dict[str, Any]:
        """Log in, become ready or not ready, log out; an illegal move is a Conflict naming the
        agent's state (an agent on a call cannot log out)."""
        now = self.clock.now()
        with self.store.write() as conn:
            row = found(self.rows.get(conn, tenant.id, agent_id, lock=True), "agent", agent_id)
            state = agent_move(AgentState(row["state"]), action)
            values: dict[str, Any] = {"state": state.value, "updated_at": now}
            if state.value != row["state"]:
                values["state_changed_at"] = now
            updated = found(self.rows.update(conn, tenant.id, agent_id, values), "agent", agent_id)
            return self.hooks.present(conn, [updated])[0]
