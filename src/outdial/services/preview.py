"""Preview (manual) tasks, the agent's side: who gets which contact, the agent's next contact,
dial and skip requests, and the statistics per agent (engine/preview.py is the engine's side).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from outdial.clock import Clock
from outdial.domain.agents import AgentState
from outdial.domain.campaign_state import CampaignState
from outdial.domain.errors import Conflict, FieldError, NotFound, NothingDue, ValidationFailed
from outdial.domain.outcomes import CONTACT_TERMINAL, ContactState, Outcome
from outdial.domain.schedule import PacingMode
from outdial.engine.config import load_config
from outdial.engine.ledger import HELD, Ledger, agent_owner, end_hold, expire_previews
from outdial.engine.preview import DIAL_PICKUP_SECONDS, PreviewJudge
from outdial.services.common import Tenant, found
from outdial.services.contacts import with_phones
from outdial.services.models import ContactOut, PreviewDialIn, PreviewNextIn, PreviewSkipIn
from outdial.store.repo import TenantTable
from outdial.store.schema import (
    agent_skill_groups,
    agents,
    attempts,
    campaigns,
    contacts,
    previews,
)
from outdial.store.store import Store

HISTORY = 20  # the contact's latest attempts shown with a preview
PREVIEW_STATES = (
    "previewing",
    "dial_requested",
    "dialing",
    "dialed",
    "skipped",
    "expired",
    "refused",
    "released",
)


class PreviewService:
    def __init__(self, store: Store, clock: Clock):
        self.store, self.clock = store, clock
        self.agents = TenantTable(agents)
        self.campaigns = TenantTable(campaigns)

    # --- the agent's next contact ----------------------------------------------------------

    def next(self, tenant: Tenant, agent_id: int, data: PreviewNextIn) -> dict[str, Any]:
        """Hold the agent's next due contact (their own first, then the pool) of a running
        preview campaign they work, for ``preview_seconds``; the agent is reserved."""
        now = self.clock.now()
        with self.store.read() as conn:
            self._agent(conn, tenant, agent_id)
            chosen = self._campaigns_for(conn, tenant, agent_id, data.campaign_id)
        with self.store.write() as conn:  # the agent's own lapsed holds end first
            expire_previews(conn, now, previews.c.agent_id == agent_id)
        with self.store.read() as conn:
            self._check_free(conn, tenant, agent_id)
        running = [c for c in chosen if c["state"] == CampaignState.RUNNING.value]
        if not running:
            raise _not_running(chosen, data.campaign_id)
        ledger = Ledger(self.store, agent_owner(agent_id))
        nearest: datetime | None = None
        for campaign in running:
            judge = PreviewJudge(campaign, load_config(self.store, campaign), now)
            offer = ledger.offer_preview(campaign, agent_id, now, data.preview_seconds, judge)
            if offer is not None:
                return self._view(offer.preview_id)
            due = self._next_due(campaign["id"], agent_id, now)
            nearest = due if nearest is None or (due is not None and due < nearest) else nearest
        raise NothingDue(
            f"no contact is due for agent {agent_id} now"
            + (f"; the next is due at {nearest.isoformat()}" if nearest else ""),
            next_due_at=nearest.isoformat() if nearest else None,
            campaign_ids=[c["id"] for c in running],
        )

    def _agent(self, conn: Connection, tenant: Tenant, agent_id: int) -> dict[str, Any]:
        return found(self.agents.get(conn, tenant.id, agent_id), "agent", agent_id)

    def _campaigns_for(
        self, conn: Connection, tenant: Tenant, agent_id: int, campaign_id: int | None
    ) -> list[dict[str, Any]]:
        """The preview campaigns the agent works (assigned, or in the skill group), highest
        priority first; or the one asked for, which must be such a campaign."""
        groups = set(
            conn.scalars(
                select(agent_skill_groups.c.skill_group_id).where(
                    agent_skill_groups.c.agent_id == agent_id
                )
            )
        )
        if campaign_id is not None:
            campaign = self.campaigns.get(conn, tenant.id, campaign_id)
            if campaign is None:
                raise ValidationFailed.field(
                    "campaign_id", f"campaign {campaign_id} not found", "not_found"
                )
            _check_member(campaign, agent_id, groups)
            return [campaign]
        query = (
            select(campaigns)
            .where(
                campaigns.c.tenant_id == tenant.id,
                campaigns.c.pacing_mode == PacingMode.PREVIEW.value,
            )
            .order_by(campaigns.c.priority.desc(), campaigns.c.id)
        )
        rows = [dict(r._mapping) for r in conn.execute(query)]
        mine = [c for c in rows if _works(c, agent_id, groups)]
        if not mine:
            message = (
                f"agent {agent_id} works no preview campaign "
                "(assign them in agent_assignments, or add them to the campaign's skill group)"
            )
            raise Conflict(message, [FieldError("agent_id", message, "not_assigned")])
        return mine

    def _check_free(self, conn: Connection, tenant: Tenant, agent_id: int) -> None:
        """The agent must be logged in, ready and not already holding a contact."""
        agent = self._agent(conn, tenant, agent_id)
        state = AgentState(agent["state"])
        held = conn.execute(
            select(previews)
            .where(previews.c.agent_id == agent_id, previews.c.state.in_(HELD))
            .order_by(previews.c.id.desc())
        ).first()
        if held is not None:
            message = (
                f"agent {agent_id} is previewing contact {held.contact_id} of campaign "
                f"{held.campaign_id}; dial or skip it first"
            )
            raise Conflict(
                message,
                [FieldError("agent_id", message, "previewing")],
                state=state.value,
                preview_id=held.id,
                contact_id=held.contact_id,
                campaign_id=held.campaign_id,
            )
        if state is AgentState.READY:
            return
        if state is AgentState.OFFLINE:
            message = f"agent {agent_id} is not logged in; log in and become ready first"
            kind = "not_logged_in"
        else:
            message = f"agent {agent_id} is {state.value}, not ready"
            kind = "not_ready"
        raise Conflict(message, [FieldError("agent_id", message, kind)], state=state.value)

    def _next_due(self, campaign_id: int, agent_id: int, now: datetime) -> datetime | None:
        """When the agent's next contact may come up: the earliest due time of their pending
        contacts and the pool's, or the end of a hold on one."""
        mine = and_(
            contacts.c.campaign_id == campaign_id,
            contacts.c.state == ContactState.PENDING.value,
            or_(contacts.c.assigned_agent_id == agent_id, contacts.c.assigned_agent_id.is_(None)),
        )
        held = and_(contacts.c.lease_owner.is_not(None), contacts.c.lease_expires_at >= now)
        with self.store.read() as conn:
            waiting = conn.scalar(select(func.min(contacts.c.next_eligible_at)).where(mine, ~held))
            lapse = conn.scalar(select(func.min(contacts.c.lease_expires_at)).where(mine, held))
        times = [max(t, now) for t in (waiting, lapse) if t is not None]
        return min(times) if times else None

    # --- dial, skip, the agent's preview ---------------------------------------------------

    def dial(self, tenant: Tenant, agent_id: int, data: PreviewDialIn) -> dict[str, Any]:
        """Ask the engine to dial the contact the agent holds; it takes the request within a
        poll, checks the rules again at that instant, and calls on the agent's behalf."""
        now = self.clock.now()
        until = now + timedelta(seconds=DIAL_PICKUP_SECONDS)
        with self.store.write() as conn:
            self._agent(conn, tenant, agent_id)
            preview = self._held(conn, agent_id, data.contact_id, now)
            campaign = found(
                self.campaigns.get(conn, tenant.id, preview["campaign_id"]),
                "campaign",
                preview["campaign_id"],
            )
            if campaign["state"] != CampaignState.RUNNING.value:
                raise _not_running([campaign], campaign["id"])
            conn.execute(
                update(previews)
                .where(previews.c.id == preview["id"])
                .values(
                    state="dial_requested", dial_requested_at=now, expires_at=until, updated_at=now
                )
            )
            conn.execute(
                update(contacts)
                .where(
                    contacts.c.id == preview["contact_id"],
                    contacts.c.lease_owner == agent_owner(agent_id),
                )
                .values(lease_expires_at=until)
            )
        return self._view(preview["id"])

    def skip(self, tenant: Tenant, agent_id: int, data: PreviewSkipIn) -> dict[str, Any]:
        """Give the contact back undialed: it waits ``retry_after_seconds`` (reason
        ``skipped_by_agent``) and stays the agent's if it was theirs; the agent is ready."""
        now = self.clock.now()
        with self.store.write() as conn:
            self._agent(conn, tenant, agent_id)
            preview = self._held(conn, agent_id, data.contact_id, now)
            current = conn.scalar(
                select(contacts.c.next_eligible_at).where(contacts.c.id == preview["contact_id"])
            )
            retry = now + timedelta(seconds=data.retry_after_seconds)
            values = {
                "reason": "skipped_by_agent",
                "next_eligible_at": max(retry, current) if current is not None else retry,
                "updated_at": now,
            }
            end_hold(conn, preview, "skipped", data.reason or "skipped_by_agent", now, values)
        return self._view(preview["id"])

    def current(self, tenant: Tenant, agent_id: int) -> dict[str, Any]:
        """The agent's latest preview: held, being dialed, or how it ended."""
        with self.store.read() as conn:
            self._agent(conn, tenant, agent_id)
            preview_id = conn.scalar(
                select(func.max(previews.c.id)).where(previews.c.agent_id == agent_id)
            )
        if preview_id is None:
            raise NotFound(f"agent {agent_id} has not previewed any contact yet")
        return self._view(preview_id)

    def _held(
        self, conn: Connection, agent_id: int, contact_id: int, now: datetime
    ) -> dict[str, Any]:
        """The agent's hold on the contact, still open; otherwise the error that says why."""
        row = conn.execute(
            select(previews)
            .where(previews.c.agent_id == agent_id, previews.c.contact_id == contact_id)
            .order_by(previews.c.id.desc())
            .limit(1)
            .with_for_update()
        ).first()
        if row is None:
            raise ValidationFailed.field(
                "contact_id",
                f"agent {agent_id} holds no contact {contact_id}; ask for the next contact first",
                "not_previewed",
            )
        preview = dict(row._mapping)
        state = preview["state"]
        if state == "previewing" and preview["expires_at"] > now:
            return preview
        if state in ("previewing", "expired"):
            message = (
                f"agent {agent_id}'s hold on contact {contact_id} lapsed at "
                f"{preview['expires_at'].isoformat()}; ask for the next contact"
            )
            kind, state = "preview_expired", "expired"
        elif state in ("dial_requested", "dialing"):
            message = f"contact {contact_id} is already being dialed for agent {agent_id}"
            kind = "already_dialing"
        else:
            message = f"agent {agent_id}'s preview of contact {contact_id} has ended ({state})"
            kind = "preview_ended"
        raise Conflict(
            message, [FieldError("contact_id", message, kind)], state=state, preview_id=row.id
        )

    def _view(self, preview_id: int) -> dict[str, Any]:
        """A preview with the contact (name, phones, attributes, pass-through), the phone to
        dial, the contact's attempts so far and the preview's own call."""
        with self.store.read() as conn:
            row = dict(
                conn.execute(select(previews).where(previews.c.id == preview_id)).one()._mapping
            )
            contact_row = conn.execute(
                select(contacts).where(contacts.c.id == row["contact_id"])
            ).one()
            contact = with_phones(conn, [dict(contact_row._mapping)])[0]
            history = [
                dict(r._mapping)
                for r in conn.execute(
                    select(*ATTEMPT_FIELDS)
                    .where(attempts.c.contact_id == row["contact_id"])
                    .order_by(attempts.c.id.desc())
                    .limit(HISTORY)
                )
            ]
        phone = next(p for p in contact["phones"] if p["id"] == row["phone_id"])
        own = next((a for a in history if a["id"] == row["attempt_id"]), None)
        return {
            "id": row["id"],
            "state": row["state"],
            "reason": row["reason"],
            "agent_id": row["agent_id"],
            "campaign_id": row["campaign_id"],
            "previewed_at": row["created_at"],
            "expires_at": row["expires_at"],
            "dial_requested_at": row["dial_requested_at"],
            "ended_at": row["ended_at"],
            "phone": {k: phone[k] for k in ("id", "position", "number", "relation", "phone_group")},
            "contact": ContactOut.model_validate(contact).model_dump(),
            "attempt": own,
            "attempts": history,
        }

    # --- statistics per agent --------------------------------------------------------------

    def agent_stats(self, tenant: Tenant, campaign_id: int) -> dict[str, Any]:
        """Per agent of the campaign: contacts assigned and where they are, the agent's
        attempts from the ledger (answered, talk, handle time) and previews by how they ended;
        the pool of unassigned contacts."""
        with self.store.read() as conn:
            campaign = found(
                self.campaigns.get(conn, tenant.id, campaign_id), "campaign", campaign_id
            )
            held = _contacts_by_agent(conn, campaign_id)
            made = _attempts_by_agent(conn, campaign_id)
            shown = _previews_by_agent(conn, campaign_id)
            ids = _team(conn, campaign, set(held) | set(made) | set(shown))
            people = {
                r.id: r
                for r in conn.execute(
                    select(
                        agents.c.id, agents.c.name, agents.c.state, agents.c.state_changed_at
                    ).where(agents.c.id.in_(ids))
                )
            }
        quotas = {a["agent_id"]: a.get("assign_count") for a in campaign["agent_assignments"]}
        acw = float(campaign["acw_seconds"])
        rows = [
            _agent_row(people[i], i in quotas, quotas.get(i), held[i], made[i], shown[i], acw)
            for i in ids
            if i in people
        ]
        pool = held[None]
        return {
            "campaign_id": campaign_id,
            "acw_seconds": campaign["acw_seconds"],
            "agents": rows,
            "pool": {"total": sum(pool.values()), "pending": pool[ContactState.PENDING.value]},
        }


ATTEMPT_FIELDS = (
    attempts.c.id,
    attempts.c.agent_id,
    attempts.c.number,
    attempts.c.created_at,
    attempts.c.ringing_at,
    attempts.c.answered_at,
    attempts.c.ended_at,
    attempts.c.outcome,
    attempts.c.talk_seconds,
)


def _works(campaign: dict[str, Any], agent_id: int, groups: set[int]) -> bool:
    assigned = any(a.get("agent_id") == agent_id for a in campaign["agent_assignments"] or [])
    return assigned or campaign["skill_group_id"] in groups


def _check_member(campaign: dict[str, Any], agent_id: int, groups: set[int]) -> None:
    if campaign["pacing_mode"] != PacingMode.PREVIEW.value:
        raise ValidationFailed.field(
            "campaign_id",
            f"campaign {campaign['id']} is not a preview (manual) campaign",
            "not_preview",
        )
    if not _works(campaign, agent_id, groups):
        raise ValidationFailed.field(
            "campaign_id",
            f"agent {agent_id} is not assigned to campaign {campaign['id']} "
            "(agent_assignments) nor in its skill group",
            "not_assigned",
        )


def _not_running(chosen: Sequence[dict[str, Any]], campaign_id: int | None) -> Conflict:
    if campaign_id is not None or len(chosen) == 1:
        campaign = chosen[0]
        message = (
            f"campaign {campaign['id']} is {campaign['state']}; "
            "contacts are previewed and dialed while it runs"
        )
        return Conflict(
            message, [FieldError("campaign_id", message, "not_running")], state=campaign["state"]
        )
    listed = ", ".join(f"{c['id']} ({c['state']})" for c in chosen)
    message = f"none of the agent's preview campaigns is running: {listed}"
    return Conflict(message, [FieldError("campaign_id", message, "not_running")])


# --- statistics helpers -------------------------------------------------------------------


def _contacts_by_agent(conn: Connection, campaign_id: int) -> defaultdict[int | None, Counter[str]]:
    query = (
        select(contacts.c.assigned_agent_id, contacts.c.state, func.count())
        .where(contacts.c.campaign_id == campaign_id)
        .group_by(contacts.c.assigned_agent_id, contacts.c.state)
    )
    out: defaultdict[int | None, Counter[str]] = defaultdict(Counter)
    for agent_id, state, n in conn.execute(query):
        out[agent_id][state] += int(n)
    return out


def _attempts_by_agent(conn: Connection, campaign_id: int) -> defaultdict[int, dict[str, Any]]:
    query = (
        select(
            attempts.c.agent_id,
            func.count(),
            func.count().filter(attempts.c.outcome.is_(None)),
            func.count().filter(attempts.c.outcome == Outcome.ANSWERED.value),
            func.coalesce(func.sum(attempts.c.talk_seconds), 0.0),
            func.count(func.distinct(attempts.c.contact_id)),
        )
        .where(attempts.c.campaign_id == campaign_id, attempts.c.agent_id.is_not(None))
        .group_by(attempts.c.agent_id)
    )
    out: defaultdict[int, dict[str, Any]] = defaultdict(
        lambda: {"attempts": 0, "open": 0, "answered": 0, "talk_seconds": 0.0, "contacts": 0}
    )
    for agent_id, total, open_, answered, talk, dialed in conn.execute(query):
        out[agent_id] = {
            "attempts": int(total),
            "open": int(open_),
            "answered": int(answered),
            "talk_seconds": float(talk),
            "contacts": int(dialed),
        }
    return out


def _previews_by_agent(conn: Connection, campaign_id: int) -> defaultdict[int, Counter[str]]:
    query = (
        select(previews.c.agent_id, previews.c.state, func.count())
        .where(previews.c.campaign_id == campaign_id)
        .group_by(previews.c.agent_id, previews.c.state)
    )
    out: defaultdict[int, Counter[str]] = defaultdict(Counter)
    for agent_id, state, n in conn.execute(query):
        out[agent_id][state] += int(n)
    return out


def _team(conn: Connection, campaign: dict[str, Any], seen: set[int | None]) -> list[int]:
    """The campaign's agents: as assigned, then its skill group's, then any other with
    contacts, attempts or previews in it."""
    ids = [a["agent_id"] for a in campaign["agent_assignments"]]
    if campaign["skill_group_id"] is not None:
        members = select(agent_skill_groups.c.agent_id).where(
            agent_skill_groups.c.skill_group_id == campaign["skill_group_id"]
        )
        ids += sorted(set(conn.scalars(members)) - set(ids))
    ids += sorted(i for i in seen if i is not None and i not in ids)
    return ids


def _agent_row(
    agent: Any,
    listed: bool,
    quota: int | None,
    held: Counter[str],
    made: dict[str, Any],
    shown: Counter[str],
    acw: float,
) -> dict[str, Any]:
    answered, talk = made["answered"], made["talk_seconds"]
    return {
        "agent_id": agent.id,
        "name": agent.name,
        "state": agent.state,
        "state_changed_at": agent.state_changed_at,
        "assigned_in_campaign": listed,
        "assign_count": quota,
        "contacts": {
            "assigned": sum(held.values()),
            "pending": held[ContactState.PENDING.value],
            "in_progress": held[ContactState.IN_PROGRESS.value],
            "completed": sum(held[s.value] for s in CONTACT_TERMINAL),
            "succeeded": held[ContactState.SUCCEEDED.value],
        },
        "attempts": {
            "total": made["attempts"],
            "open": made["open"],
            "answered": answered,
            "contacts_dialed": made["contacts"],
            "talk_seconds": talk,
            "average_talk_seconds": round(talk / answered, 3) if answered else None,
            "average_handle_seconds": round(talk / answered + acw, 3) if answered else None,
        },
        "previews": {
            "total": sum(shown.values()),
            **{state: shown[state] for state in PREVIEW_STATES},
        },
    }
