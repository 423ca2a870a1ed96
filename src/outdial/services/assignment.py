"""Who gets which contact of a preview (manual) campaign: 得助 taskAgents ``{agentId, assignNum}``
applied to the store (the rule itself is domain/assignment.py). Runs when contacts are appended
and whenever the campaign is written (its agent_assignments may have changed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from outdial.domain.assignment import over_quota, plan_assignments
from outdial.domain.outcomes import ContactState
from outdial.domain.schedule import PacingMode
from outdial.store.schema import contacts


def assign_contacts(conn: Connection, campaign: dict[str, Any], now: datetime) -> None:
    """Give a preview campaign's unassigned pending contacts to its agents by
    ``agent_assignments`` (domain/assignment.py). Contacts never dialed of an agent no longer
    listed, or beyond a lowered count, go back to the pool first (the newest first); contacts
    an agent has dialed stay theirs, and so do contacts held for preview right now."""
    if campaign["pacing_mode"] != PacingMode.PREVIEW.value:
        return
    quotas = [(a["agent_id"], a.get("assign_count")) for a in campaign["agent_assignments"]]
    free = and_(
        contacts.c.campaign_id == campaign["id"],
        contacts.c.state == ContactState.PENDING.value,
        contacts.c.attempt_count == 0,
        or_(contacts.c.lease_owner.is_(None), contacts.c.lease_expires_at < now),
    )
    listed = [agent_id for agent_id, _ in quotas]
    conn.execute(
        update(contacts)
        .where(free, contacts.c.assigned_agent_id.is_not(None))
        .where(contacts.c.assigned_agent_id.not_in(listed))
        .values(assigned_agent_id=None)
    )
    for agent_id, extra in over_quota(quotas, _holdings(conn, campaign["id"])).items():
        newest = (
            select(contacts.c.id)
            .where(free, contacts.c.assigned_agent_id == agent_id)
            .order_by(contacts.c.id.desc())
            .limit(extra)
        )
        _set_agent(conn, list(conn.scalars(newest)), None)
    pool = select(contacts.c.id).where(
        contacts.c.campaign_id == campaign["id"],
        contacts.c.state == ContactState.PENDING.value,
        contacts.c.assigned_agent_id.is_(None),
        or_(contacts.c.lease_owner.is_(None), contacts.c.lease_expires_at < now),
    )
    ids = list(conn.scalars(pool.order_by(contacts.c.id)))
    for agent_id, given in plan_assignments(quotas, _holdings(conn, campaign["id"]), ids).items():
        _set_agent(conn, given, agent_id)


def _holdings(conn: Connection, campaign_id: int) -> dict[int, int]:
    query = (
        select(contacts.c.assigned_agent_id, func.count())
        .where(contacts.c.campaign_id == campaign_id, contacts.c.assigned_agent_id.is_not(None))
        .group_by(contacts.c.assigned_agent_id)
    )
    return {int(agent_id): int(n) for agent_id, n in conn.execute(query)}


def _set_agent(conn: Connection, ids: list[int], agent_id: int | None) -> None:
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        conn.execute(
            update(contacts).where(contacts.c.id.in_(chunk)).values(assigned_agent_id=agent_id)
        )
