"""The engine's hot-path SQL, built once with bind parameters.

Building a Core statement costs more than running it on SQLite; these run for every dial and
every hangup, so they are constructed at import and executed with plain parameter dicts.
"""

from __future__ import annotations

from sqlalchemy import bindparam, func, insert, or_, select, update

from outdial.store.schema import (
    agent_skill_groups,
    agents,
    attempts,
    campaigns,
    contact_phones,
    contacts,
    dnc_entries,
    events,
    lines,
    previews,
)

b = bindparam

LEASED_CONTACT = select(
    contacts.c.id,
    contacts.c.uuid,
    contacts.c.timezone,
    contacts.c.phone_index,
    contacts.c.reason,
    contacts.c.next_eligible_at,
)
"""The contact columns a LeasedContact is built from."""
IS_DUE = (
    contacts.c.campaign_id == b("campaign_id"),
    contacts.c.state == "pending",
    contacts.c.next_eligible_at <= b("now"),
)
DUE_CONTACTS = (
    LEASED_CONTACT.where(
        *IS_DUE,
        or_(
            contacts.c.lease_owner.is_(None),
            contacts.c.lease_expires_at < b("now"),
            contacts.c.lease_owner == b("worker"),
        ),
    )
    # Served by the (campaign_id, state, next_eligible_at) index, so LIMIT stops early.
    .order_by(contacts.c.next_eligible_at, contacts.c.id)
    .limit(b("limit"))
    .with_for_update(skip_locked=True)
)
LEASE = (
    update(contacts)
    .where(contacts.c.id.in_(b("ids", expanding=True)))
    .values(lease_owner=b("worker"), lease_expires_at=b("until"))
)
PHONES_OF = (
    select(
        contact_phones.c.contact_id,
        contact_phones.c.id,
        contact_phones.c.number,
        contact_phones.c.phone_group,
        contact_phones.c.attempt_count,
    )
    .where(contact_phones.c.contact_id.in_(b("ids", expanding=True)))
    .order_by(contact_phones.c.contact_id, contact_phones.c.position)
)
DEFER = (
    update(contacts)
    .where(contacts.c.id == b("contact_id"), contacts.c.lease_owner == b("worker"))
    .values(
        next_eligible_at=b("until"),
        reason=b("why"),
        lease_owner=None,
        lease_expires_at=None,
        updated_at=b("now"),
    )
)
DNC_OF = select(dnc_entries.c.number).where(
    dnc_entries.c.number.in_(b("numbers", expanding=True)),
    or_(dnc_entries.c.tenant_id == b("tenant_id"), dnc_entries.c.tenant_id.is_(None)),
    or_(dnc_entries.c.expires_at.is_(None), dnc_entries.c.expires_at > b("now")),
)
"""Which of the numbers are on the tenant's or the operator's DNC list now."""
NUMBERS_FACTS = (
    select(
        attempts.c.number,
        func.count().filter(attempts.c.created_at >= b("day_start")),
        func.max(attempts.c.created_at),
    )
    .where(
        attempts.c.campaign_id == b("campaign_id"),
        attempts.c.number.in_(b("numbers", expanding=True)),
    )
    .group_by(attempts.c.number)
)
"""For each number already dialed in the campaign: its attempts since day_start, its latest."""
LOCK_LINE = select(lines.c.channels).where(lines.c.id == b("line_id")).with_for_update()
OPEN_CALLS = select(
    select(func.count())
    .where(attempts.c.line_id == b("line_id"), attempts.c.ended_at.is_(None))
    .scalar_subquery(),
    select(func.count())
    .where(attempts.c.campaign_id == b("campaign_id"), attempts.c.outcome.is_(None))
    .scalar_subquery(),
)
"""Open attempts on the line (every campaign) and in the campaign."""
CAMPAIGN_VERSION = select(campaigns.c.state, campaigns.c.updated_at).where(
    campaigns.c.id == b("campaign_id")
)
CAMPAIGN = select(campaigns).where(campaigns.c.id == b("campaign_id"))
CLAIM = (
    update(contacts)
    .where(
        contacts.c.id.in_(b("ids", expanding=True)),
        contacts.c.state == "pending",
        contacts.c.lease_owner == b("worker"),
    )
    .values(
        state="in_progress",
        reason="dialing",
        attempt_count=contacts.c.attempt_count + 1,
        last_attempt_at=b("now"),
        next_eligible_at=None,
        updated_at=b("now"),
    )
    .returning(contacts.c.id)
)
"""Claim the contacts still pending and leased to this worker; returns those claimed."""
BUMP_PHONE = (
    update(contact_phones)
    .where(contact_phones.c.id.in_(b("ids", expanding=True)))
    .values(attempt_count=contact_phones.c.attempt_count + 1, last_attempt_at=b("now"))
)
INSERT_ATTEMPT = insert(attempts)
ATTEMPT_IDS = select(attempts.c.uuid, attempts.c.id).where(
    attempts.c.uuid.in_(b("uuids", expanding=True))
)
STILL_OPEN = (
    select(attempts.c.id)
    .where(attempts.c.id.in_(b("ids", expanding=True)), attempts.c.outcome.is_(None))
    .with_for_update()
)
"""The attempts among ``ids`` not closed yet, locked until the closing transaction ends."""
CLOSE_ATTEMPT = (
    update(attempts)
    .where(attempts.c.id == b("attempt_id"), attempts.c.outcome.is_(None))
    .values(
        outcome=b("p_outcome"),
        native_cause=b("p_cause"),
        ended_at=b("p_ended"),
        ringing_at=b("p_ringing"),
        answered_at=b("p_answered"),
        talk_seconds=b("p_talk"),
        abandoned=b("p_abandoned"),
        agent_id=b("p_agent"),
        connected_at=b("p_connected"),
        transferred_at=b("p_transferred"),
        transfer_result=b("p_transfer_result"),
    )
)
MOVE_CONTACT = (
    update(contacts)
    .where(contacts.c.id == b("contact_id"))
    .values(
        state=b("p_state"),
        reason=b("p_reason"),
        next_eligible_at=b("p_next"),
        phone_index=b("p_index"),
        outcome=func.coalesce(b("p_outcome"), contacts.c.outcome),
        lease_owner=None,
        lease_expires_at=None,
        updated_at=b("p_now"),
    )
)
MARK_PHONE = (
    update(contact_phones)
    .where(contact_phones.c.id == b("phone_id"))
    .values(last_outcome=b("p_outcome"), state=b("p_state"))
)
INSERT_EVENT = insert(events)

READY_AGENTS = (
    select(agents.c.id, agents.c.endpoint)
    .join(agent_skill_groups, agent_skill_groups.c.agent_id == agents.c.id)
    .where(agent_skill_groups.c.skill_group_id == b("skill_group_id"), agents.c.state == "ready")
    .order_by(agents.c.state_changed_at, agents.c.id)  # the longest idle first
)
TEAM = (
    select(agents.c.state, agents.c.state_changed_at)
    .join(agent_skill_groups, agent_skill_groups.c.agent_id == agents.c.id)
    .where(
        agent_skill_groups.c.skill_group_id == b("skill_group_id"),
        agents.c.state.in_(["ready", "reserved", "on_call", "after_call_work"]),
    )
)
TAKE_AGENT = (
    update(agents)
    .where(agents.c.id == b("agent_id"), agents.c.state == "ready")
    .values(state="on_call", state_changed_at=b("now"))
)
AGENT_TO_WRAP = (
    update(agents)
    .where(agents.c.id == b("agent_id"), agents.c.state == "on_call")
    .values(state="after_call_work", state_changed_at=b("now"))
)
AGENT_WRAPPED = (
    update(agents)
    .where(agents.c.id == b("agent_id"), agents.c.state == "after_call_work")
    .values(state="ready", state_changed_at=b("now"))
)

# --- preview (manual) tasks: engine/preview.py -----------------------------------------------

PREVIEW_CANDIDATES = (
    LEASED_CONTACT.where(
        *IS_DUE,
        or_(contacts.c.lease_owner.is_(None), contacts.c.lease_expires_at < b("now")),
        or_(contacts.c.assigned_agent_id == b("agent_id"), contacts.c.assigned_agent_id.is_(None)),
        contacts.c.id.not_in(b("seen", expanding=True)),
    )
    # The agent's own contacts first, then the pool; each by due time, then as added.
    .order_by(contacts.c.assigned_agent_id.is_(None), contacts.c.next_eligible_at, contacts.c.id)
    .limit(b("limit"))
)
"""Due contacts an agent may preview: their own, then unassigned ones (the pool). Not locked:
each is locked as it is looked at (PREVIEW_LOCK), so agents asking at once share the list."""
PREVIEW_LOCK = (
    select(contacts.c.id)
    .where(
        contacts.c.id == b("contact_id"),
        contacts.c.state == "pending",
        contacts.c.next_eligible_at <= b("now"),
        or_(contacts.c.lease_owner.is_(None), contacts.c.lease_expires_at < b("now")),
    )
    .with_for_update(skip_locked=True)
)
"""Lock one candidate still free; nothing if another request holds or took it."""
PREVIEW_WORK = select(previews).where(
    previews.c.campaign_id == b("campaign_id"),
    previews.c.state.in_(["previewing", "dial_requested"]),
    or_(previews.c.state == "dial_requested", previews.c.expires_at <= b("now")),
)
"""A preview campaign's poll: dial requests to take, and holds that have lapsed."""
RESERVE_AGENT = (
    update(agents)
    .where(agents.c.id == b("agent_id"), agents.c.state == "ready")
    .values(state="reserved", state_changed_at=b("now"))
)
AGENT_RESERVED_TO = (
    update(agents)
    .where(agents.c.id == b("agent_id"), agents.c.state.in_(b("states", expanding=True)))
    .values(state=b("to"), state_changed_at=b("now"))
)
"""Move a previewing agent on (to on_call, after_call_work or ready) from the given states."""
