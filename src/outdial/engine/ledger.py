"""The engine's SQL: contact leases, the attempt ledger, capacity checks, campaign leases.

An attempt row is written, in the same transaction that checks line and campaign capacity and
claims the contact, before the driver is asked to originate. Line capacity is shared by every
campaign and worker: the line row is locked while its open attempts are counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection, and_, delete, func, insert, or_, select, update

from outdial.domain.eligibility import Eligibility
from outdial.domain.errors import Conflict
from outdial.domain.outcomes import CONTACT_TERMINAL, ContactState, Outcome
from outdial.domain.redial import Verdict
from outdial.domain.webhooks import WebhookEvent
from outdial.engine import statements as sql
from outdial.services.common import new_uuid
from outdial.services.stats import campaign_stats
from outdial.store import outbox
from outdial.store.schema import (
    agents,
    attempts,
    campaigns,
    contact_phones,
    contacts,
    engine_workers,
    previews,
)
from outdial.store.store import Store

ACTIVE_STATES = ("scheduled", "running")


class Decide(Protocol):
    """The runner's dial-instant check, run inside the attempt's transaction."""

    day_start: datetime  # local midnight of the number's day, for the daily cap

    def __call__(self, today: int, last: datetime | None, on_dnc: bool) -> Eligibility: ...


@dataclass
class Phone:
    id: int
    number: str
    phone_group: str
    attempt_count: int


@dataclass
class LeasedContact:
    id: int
    uuid: str
    timezone: str | None
    phone_index: int
    reason: str
    next_eligible_at: datetime | None
    phones: list[Phone]

    @property
    def phone(self) -> Phone:
        return self.phones[self.phone_index]


@dataclass
class OpenAttempt:
    id: int
    uuid: str
    campaign_id: int
    contact_id: int
    phone_id: int
    number: str
    line_id: int
    created_at: datetime
    ringing_at: datetime | None = None
    answered_at: datetime | None = None
    agent_id: int | None = None
    connected_at: datetime | None = None  # an agent was bridged in
    transferred_at: datetime | None = None  # the script handed the call off to a human
    transfer_result: str | None = None  # TransferResult


class Ledger:
    def __init__(self, store: Store, worker_id: str):
        self.store, self.worker_id = store, worker_id

    # --- campaign leases ---------------------------------------------------------------------

    def heartbeat(self, now: datetime) -> None:
        """Tell the other workers this one is alive."""
        with self.store.write() as conn:
            seen = conn.execute(
                update(engine_workers)
                .where(engine_workers.c.id == self.worker_id)
                .values(heartbeat_at=now)
            ).rowcount
            if not seen:
                conn.execute(
                    insert(engine_workers).values(
                        id=self.worker_id, started_at=now, heartbeat_at=now
                    )
                )

    def leave(self) -> None:
        with self.store.write() as conn:
            conn.execute(delete(engine_workers).where(engine_workers.c.id == self.worker_id))

    def lease_campaigns(self, now: datetime, ttl: float) -> list[int]:
        """Renew this worker's campaign leases and take free or abandoned campaigns up to a fair
        share (campaigns wanting a worker / live workers). Returns the ids held now."""
        expires = now + timedelta(seconds=ttl)
        open_calls = select(attempts.c.campaign_id).where(attempts.c.outcome.is_(None))
        wanted = or_(campaigns.c.state.in_(ACTIVE_STATES), campaigns.c.id.in_(open_calls))
        mine = campaigns.c.worker_id == self.worker_id
        free = or_(campaigns.c.worker_id.is_(None), campaigns.c.lease_expires_at < now)
        with self.store.write() as conn:
            conn.execute(update(campaigns).where(mine).values(lease_expires_at=expires))
            held = list(conn.scalars(select(campaigns.c.id).where(mine, wanted)))
            live = (
                conn.scalar(
                    select(func.count()).where(
                        engine_workers.c.heartbeat_at >= now - timedelta(seconds=ttl)
                    )
                )
                or 1
            )
            total = conn.scalar(select(func.count()).select_from(campaigns).where(wanted)) or 0
            room = -(-total // live) - len(held)
            if room > 0:
                taken = list(
                    conn.scalars(
                        select(campaigns.c.id)
                        .where(wanted, free)
                        .order_by(campaigns.c.id)
                        .limit(room)
                        .with_for_update(skip_locked=True)
                    )
                )
                if taken:
                    conn.execute(
                        update(campaigns)
                        .where(campaigns.c.id.in_(taken))
                        .values(worker_id=self.worker_id, lease_expires_at=expires)
                    )
                held += taken
        return held

    def release_campaign(self, campaign_id: int) -> None:
        with self.store.write() as conn:
            conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id, campaigns.c.worker_id == self.worker_id)
                .values(worker_id=None, lease_expires_at=None)
            )

    def campaign(self, campaign_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            return dict(conn.execute(sql.CAMPAIGN, {"campaign_id": campaign_id}).one()._mapping)

    def campaign_version(self, campaign_id: int) -> tuple[str, datetime]:
        """The campaign's state and last change, cheaply, to see whether to reload it."""
        with self.store.read() as conn:
            state, updated_at = conn.execute(
                sql.CAMPAIGN_VERSION, {"campaign_id": campaign_id}
            ).one()
        return state, updated_at

    def set_campaign_state(
        self, campaign_id: int, expected: str, state: str, reason: str, now: datetime
    ) -> bool:
        """Move a campaign from ``expected`` to ``state``; False if someone changed it first."""
        values: dict[str, Any] = {"state": state, "state_reason": reason, "updated_at": now}
        if state in ("completed", "expired", "failed"):
            values["ended_at"] = now
        with self.store.write() as conn:
            done = conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id, campaigns.c.state == expected)
                .values(**values)
            ).rowcount
            if done:
                self._event(
                    conn,
                    campaign_id,
                    "campaign.state_changed",
                    {"from": expected, "to": state, "reason": reason},
                    now,
                )
        return bool(done)

    # --- contacts ----------------------------------------------------------------------------

    def lease_contacts(
        self, campaign_id: int, now: datetime, limit: int, ttl: float
    ) -> list[LeasedContact]:
        """Claim up to ``limit`` pending contacts that are due, for ``ttl`` seconds."""
        params = {"campaign_id": campaign_id, "now": now, "worker": self.worker_id, "limit": limit}
        with self.store.write() as conn:
            rows = conn.execute(sql.DUE_CONTACTS, params).all()
            if not rows:
                return []
            ids = [r.id for r in rows]
            until = now + timedelta(seconds=ttl)
            conn.execute(sql.LEASE, {"ids": ids, "worker": self.worker_id, "until": until})
            phones: dict[int, list[Phone]] = {i: [] for i in ids}
            for p in conn.execute(sql.PHONES_OF, {"ids": ids}):
                phones[p.contact_id].append(Phone(p.id, p.number, p.phone_group, p.attempt_count))
        return [
            LeasedContact(
                r.id, r.uuid, r.timezone, r.phone_index, r.reason, r.next_eligible_at, phones[r.id]
            )
            for r in rows
        ]

    def defer(self, contact_id: int, until: datetime | None, reason: str, now: datetime) -> None:
        """Give a leased contact back with the reason it cannot be dialed and when it can."""
        params = {
            "contact_id": contact_id,
            "worker": self.worker_id,
            "until": until,
            "why": reason,
            "now": now,
        }
        with self.store.write() as conn:
            conn.execute(sql.DEFER, params)

    def defer_with_verdict(
        self,
        contact: LeasedContact,
        verdict: Verdict,
        now: datetime,
        phone_outcome: Outcome,
        phone_finished: bool,
    ) -> None:
        """Move a leased contact on without a call (DNC hit, or no time left to dial)."""
        values = unleased(verdict, now)
        with self.store.write() as conn:
            moved = conn.execute(
                update(contacts)
                .where(contacts.c.id == contact.id, contacts.c.lease_owner == self.worker_id)
                .values(**values)
            ).rowcount
            if moved and verdict.state in CONTACT_TERMINAL:
                publish_completed(conn, contact.id, verdict, phone_outcome.value, now)
            if phone_finished:
                conn.execute(
                    update(contact_phones)
                    .where(contact_phones.c.id == contact.phone.id)
                    .values(state="finished", last_outcome=phone_outcome.value)
                )

    def leased_contact(self, contact_id: int) -> LeasedContact:
        with self.store.read() as conn:
            row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).one()
            phones = [
                Phone(p.id, p.number, p.phone_group, p.attempt_count)
                for p in conn.execute(
                    select(contact_phones)
                    .where(contact_phones.c.contact_id == contact_id)
                    .order_by(contact_phones.c.position)
                )
            ]
        return LeasedContact(
            row.id,
            row.uuid,
            row.timezone,
            row.phone_index,
            row.reason,
            row.next_eligible_at,
            phones,
        )

    def release_contacts(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self.store.write() as conn:
            conn.execute(
                update(contacts)
                .where(contacts.c.id.in_(ids), contacts.c.lease_owner == self.worker_id)
                .values(lease_owner=None, lease_expires_at=None)
            )

    def pending_summary(self, campaign_id: int) -> tuple[int, datetime | None, int]:
        """(pending contacts, earliest next-eligible time among them, open attempts)."""
        with self.store.read() as conn:
            pending, earliest = conn.execute(
                select(func.count(), func.min(contacts.c.next_eligible_at)).where(
                    contacts.c.campaign_id == campaign_id,
                    contacts.c.state == ContactState.PENDING.value,
                )
            ).one()
            open_count = conn.scalar(
                select(func.count()).where(
                    attempts.c.campaign_id == campaign_id, attempts.c.outcome.is_(None)
                )
            )
        return int(pending), earliest, int(open_count or 0)

    def finish_pending(
        self, campaign_id: int, state: ContactState, reason: str, now: datetime
    ) -> int:
        """End every pending or held (paused) contact (campaign cancelled or out of time);
        each one's contact.completed goes to the subscriptions that want it."""
        pending = and_(
            contacts.c.campaign_id == campaign_id,
            contacts.c.state.in_([ContactState.PENDING.value, ContactState.PAUSED.value]),
        )
        with self.store.write() as conn:
            tenant_id = campaign_tenant(conn, campaign_id)
            audience = outbox.subscribers(conn, tenant_id, campaign_id)
            if any(CONTACT_COMPLETED in a.events for a in audience):
                for row in conn.execute(
                    select(contacts.c.id, contacts.c.outcome).where(pending)
                ).all():
                    data = {"contact_id": row.id, "state": state.value, "reason": reason}
                    data["outcome"] = row.outcome
                    outbox.publish(
                        conn, tenant_id, campaign_id, CONTACT_COMPLETED, data, now, audience
                    )
            return conn.execute(
                update(contacts)
                .where(pending)
                .values(
                    state=state.value,
                    reason=reason,
                    next_eligible_at=None,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
            ).rowcount

    # --- attempts ----------------------------------------------------------------------------

    def open_attempt(
        self,
        campaign: dict[str, Any],
        contact: LeasedContact,
        caller_number: str,
        now: datetime,
        decide: Decide,
        agent_id: int | None = None,
    ) -> OpenAttempt | Eligibility | None:
        """In one transaction: check the number (``decide`` sees its attempts today, its last
        attempt and whether it is on the DNC list), check line and campaign capacity, claim the
        contact and write the attempt. Returns the attempt; the Eligibility when ``decide``
        refused; None when the line or campaign is full or the contact was taken. ``agent_id``:
        the agent the call is for from the start (preview)."""
        line_id, phone = campaign["line_id"], contact.phone
        with self.store.write() as conn:
            verdict = self._decide(conn, campaign, phone.number, now, decide)
            if not verdict.eligible:
                return verdict
            channels = conn.scalar(sql.LOCK_LINE, {"line_id": line_id})
            on_line, in_campaign = conn.execute(
                sql.OPEN_CALLS, {"line_id": line_id, "campaign_id": campaign["id"]}
            ).one()
            if channels is None or on_line >= channels:
                return None
            if in_campaign >= campaign["max_concurrency"]:
                return None
            claim = {"contact_id": contact.id, "worker": self.worker_id, "now": now}
            if not conn.execute(sql.CLAIM, claim).rowcount:
                return None
            conn.execute(sql.BUMP_PHONE, {"phone_id": phone.id, "now": now})
            attempt_uuid = new_uuid()
            attempt_id = conn.scalar(
                sql.INSERT_ATTEMPT,
                {
                    "uuid": attempt_uuid,
                    "tenant_id": campaign["tenant_id"],
                    "campaign_id": campaign["id"],
                    "contact_id": contact.id,
                    "phone_id": phone.id,
                    "number": phone.number,
                    "caller_number": caller_number,
                    "line_id": line_id,
                    "agent_id": agent_id,
                    "worker_id": self.worker_id,
                    "call_id": attempt_uuid,
                    "created_at": now,
                    "native_cause": "",
                    "talk_seconds": 0.0,
                    "abandoned": False,
                    "data": {},
                },
            )
        phone.attempt_count += 1
        assert attempt_id is not None
        return OpenAttempt(
            attempt_id,
            attempt_uuid,
            campaign["id"],
            contact.id,
            phone.id,
            phone.number,
            line_id,
            now,
            agent_id=agent_id,
        )

    def _decide(
        self,
        conn: Connection,
        campaign: dict[str, Any],
        number: str,
        now: datetime,
        decide: Decide,
    ) -> Eligibility:
        today, last, dnc = number_facts(conn, campaign, number, decide.day_start, now)
        return decide(today, last, dnc)

    def close_attempt(
        self,
        attempt: OpenAttempt,
        tenant_id: int,
        outcome: Outcome,
        native_cause: str,
        ended_at: datetime,
        verdict: Verdict,
    ) -> None:
        """Close the attempt and move its contact on, in one transaction."""
        talk = (ended_at - attempt.answered_at).total_seconds() if attempt.answered_at else 0.0
        with self.store.write() as conn:
            closed = conn.execute(
                sql.CLOSE_ATTEMPT,
                {
                    "attempt_id": attempt.id,
                    "p_outcome": outcome.value,
                    "p_cause": native_cause,
                    "p_ended": ended_at,
                    "p_ringing": attempt.ringing_at,
                    "p_answered": attempt.answered_at,
                    "p_talk": talk,
                    "p_abandoned": outcome is Outcome.ABANDONED,
                    "p_agent": attempt.agent_id,
                    "p_connected": attempt.connected_at,
                    "p_transferred": attempt.transferred_at,
                    "p_transfer_result": attempt.transfer_result,
                },
            ).rowcount
            if not closed:
                return
            conn.execute(
                sql.MOVE_CONTACT,
                {
                    "contact_id": attempt.contact_id,
                    "p_state": verdict.state.value,
                    "p_reason": verdict.reason,
                    "p_next": verdict.next_eligible_at,
                    "p_index": verdict.phone_index,
                    "p_outcome": verdict.outcome.value if verdict.outcome else None,
                    "p_now": ended_at,
                },
            )
            conn.execute(
                sql.MARK_PHONE,
                {
                    "phone_id": attempt.phone_id,
                    "p_outcome": outcome.value,
                    "p_state": "finished" if verdict.phone_finished else "active",
                },
            )
            audience = outbox.subscribers(conn, tenant_id, attempt.campaign_id)
            self._event(
                conn,
                attempt.campaign_id,
                "attempt.ended",
                {
                    "attempt_id": attempt.id,
                    "attempt_uuid": attempt.uuid,
                    "contact_id": attempt.contact_id,
                    "number": attempt.number,
                    "outcome": outcome.value,
                    "native_cause": native_cause,
                    "talk_seconds": talk,
                    "started_at": attempt.created_at.isoformat(),
                    "answered_at": _iso(attempt.answered_at),
                    "ended_at": ended_at.isoformat(),
                    "contact_state": verdict.state.value,
                },
                ended_at,
                tenant_id,
                audience,
            )
            if verdict.state in CONTACT_TERMINAL:
                data = completed(attempt.contact_id, verdict, outcome.value)
                outbox.publish(
                    conn,
                    tenant_id,
                    attempt.campaign_id,
                    CONTACT_COMPLETED,
                    data,
                    ended_at,
                    audience,
                )

    def open_attempts(self, campaign_id: int) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = conn.execute(
                select(attempts, contacts.c.phone_index)
                .join(contacts, contacts.c.id == attempts.c.contact_id)
                .where(attempts.c.campaign_id == campaign_id, attempts.c.outcome.is_(None))
            )
            return [dict(r._mapping) for r in rows]

    def repair_stuck_contacts(self, campaign_id: int, now: datetime) -> int:
        """Contacts left in progress with no open attempt go back to pending."""
        open_contacts = select(attempts.c.contact_id).where(
            attempts.c.campaign_id == campaign_id, attempts.c.outcome.is_(None)
        )
        with self.store.write() as conn:
            return conn.execute(
                update(contacts)
                .where(
                    contacts.c.campaign_id == campaign_id,
                    contacts.c.state == ContactState.IN_PROGRESS.value,
                    contacts.c.id.not_in(open_contacts),
                )
                .values(
                    state=ContactState.PENDING.value,
                    reason="requeued",
                    next_eligible_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            ).rowcount

    # --- agents ------------------------------------------------------------------------------

    def ready_agents(self, skill_group_id: int) -> list[tuple[int, str]]:
        """Ready agents of a skill group, the longest idle first: (id, endpoint)."""
        with self.store.read() as conn:
            rows = conn.execute(sql.READY_AGENTS, {"skill_group_id": skill_group_id})
            return [(r.id, r.endpoint) for r in rows]

    def team(self, skill_group_id: int) -> list[tuple[str, datetime]]:
        """The working agents of a skill group (ready, reserved, on a call, wrapping up): each
        one's state and when it began, for the pacer."""
        with self.store.read() as conn:
            rows = conn.execute(sql.TEAM, {"skill_group_id": skill_group_id})
            return [(r.state, r.state_changed_at) for r in rows]

    def abandon_counts(self, campaign_id: int) -> tuple[int, int]:
        """The campaign's abandoned calls and live answers so far (the FCC ratio's terms)."""
        answered = [Outcome.ANSWERED.value, Outcome.ABANDONED.value]
        query = select(attempts.c.outcome, func.count()).where(
            attempts.c.campaign_id == campaign_id, attempts.c.outcome.in_(answered)
        )
        with self.store.read() as conn:
            rows = conn.execute(query.group_by(attempts.c.outcome)).all()
        counts: dict[str, int] = {str(r[0]): int(r[1]) for r in rows}
        abandons = counts.get(Outcome.ABANDONED.value, 0)
        return abandons, abandons + counts.get(Outcome.ANSWERED.value, 0)

    def emit_decision(
        self, campaign_id: int, tenant_id: int, data: dict[str, Any], now: datetime
    ) -> None:
        with self.store.write() as conn:
            self._event(conn, campaign_id, "pacing.decision", data, now, tenant_id)

    def take_agent(self, skill_group_id: int, now: datetime) -> tuple[int, str] | None:
        """Put the longest-idle ready agent of the group on a call; None if nobody is ready."""
        with self.store.write() as conn:
            for agent_id, endpoint in conn.execute(
                sql.READY_AGENTS, {"skill_group_id": skill_group_id}
            ).all():
                if conn.execute(sql.TAKE_AGENT, {"agent_id": agent_id, "now": now}).rowcount:
                    return agent_id, endpoint
        return None

    def agent_to_wrap(self, agent_id: int, now: datetime) -> None:
        with self.store.write() as conn:
            conn.execute(sql.AGENT_TO_WRAP, {"agent_id": agent_id, "now": now})

    def agent_wrapped(self, agent_id: int, now: datetime) -> bool:
        """After-call work is over: ready again (unless the agent went not ready meanwhile)."""
        with self.store.write() as conn:
            return bool(
                conn.execute(sql.AGENT_WRAPPED, {"agent_id": agent_id, "now": now}).rowcount
            )

    def emit_progress(self, campaign_id: int, tenant_id: int, now: datetime) -> None:
        with self.store.write() as conn:
            stats = campaign_stats(conn, campaign_id)
            self._event(conn, campaign_id, "campaign.progress", stats, now, tenant_id)

    def _event(
        self,
        conn: Connection,
        campaign_id: int,
        kind: str,
        data: dict[str, Any],
        now: datetime,
        tenant_id: int | None = None,
        audience: Sequence[outbox.Subscriber] | None = None,
    ) -> None:
        record_event(conn, campaign_id, kind, data, now, tenant_id, audience)

    # --- preview (manual) tasks: engine/preview.py -------------------------------------------
    # A Ledger whose worker id is agent_owner(agent_id) holds contacts in that agent's name.

    def offer_preview(
        self, campaign: dict[str, Any], agent_id: int, now: datetime, ttl: float, judge: Judge
    ) -> PreviewOffer | None:
        """In one transaction: lapse the campaign's expired holds, find the agent's next due
        contact (their own first, then the pool) that may be dialed now by the engine's rules,
        giving back those that may not (with their reason and time, as the runner does), hold
        it for ``ttl`` seconds and reserve the agent. None when nothing is due now; Conflict
        when the agent is no longer ready."""
        seen: list[int] = []
        with self.store.write() as conn:
            expire_previews(conn, now, previews.c.campaign_id == campaign["id"])
            for _ in range(PREVIEW_SCAN_BATCHES):
                params = {"campaign_id": campaign["id"], "agent_id": agent_id, "now": now}
                rows = conn.execute(
                    sql.PREVIEW_CANDIDATES, {**params, "limit": PREVIEW_SCAN_BATCH, "seen": seen}
                ).all()
                if not rows:
                    return None
                seen += [r.id for r in rows]
                for contact in _with_phones(conn, rows):
                    lock = {"contact_id": contact.id, "now": now}
                    if conn.scalar(sql.PREVIEW_LOCK, lock) is None:
                        continue  # another agent's request holds it now
                    decide = judge.check(contact)
                    facts = number_facts(
                        conn, campaign, contact.phone.number, decide.day_start, now
                    )
                    verdict = decide(*facts)
                    if verdict.eligible:
                        return self._hold(conn, campaign, agent_id, contact, now, ttl)
                    put_back(conn, contact, judge.put_back(contact, verdict, facts[2]), now)
        return None

    def _hold(
        self,
        conn: Connection,
        campaign: dict[str, Any],
        agent_id: int,
        contact: LeasedContact,
        now: datetime,
        ttl: float,
    ) -> PreviewOffer:
        until = now + timedelta(seconds=ttl)
        if not conn.execute(sql.RESERVE_AGENT, {"agent_id": agent_id, "now": now}).rowcount:
            raise Conflict(f"agent {agent_id} is no longer ready")
        conn.execute(
            update(contacts)
            .where(contacts.c.id == contact.id)
            .values(lease_owner=self.worker_id, lease_expires_at=until)
        )
        preview_id = conn.scalar(
            insert(previews)
            .values(
                tenant_id=campaign["tenant_id"],
                campaign_id=campaign["id"],
                contact_id=contact.id,
                phone_id=contact.phone.id,
                agent_id=agent_id,
                state="previewing",
                reason="",
                expires_at=until,
                created_at=now,
                updated_at=now,
            )
            .returning(previews.c.id)
        )
        assert preview_id is not None
        return PreviewOffer(preview_id, contact, until)

    def preview_work(self, campaign_id: int, now: datetime) -> tuple[list[dict[str, Any]], bool]:
        """A preview campaign's poll: the dial requests waiting for the engine, and whether a
        hold has lapsed (the agent walked away, or nobody took the request in time)."""
        with self.store.read() as conn:
            rows = [
                dict(r._mapping)
                for r in conn.execute(sql.PREVIEW_WORK, {"campaign_id": campaign_id, "now": now})
            ]
        requests = [r for r in rows if r["state"] == "dial_requested" and r["expires_at"] > now]
        return requests, len(requests) < len(rows)

    def expire_previews(self, campaign_id: int, now: datetime) -> int:
        with self.store.write() as conn:
            return expire_previews(conn, now, previews.c.campaign_id == campaign_id)

    def release_previews(self, campaign_id: int, reason: str, now: datetime) -> int:
        with self.store.write() as conn:
            return release_previews(conn, campaign_id, reason, now)

    def take_preview(
        self, preview: dict[str, Any], now: datetime, ttl: float
    ) -> tuple[LeasedContact, str] | None:
        """Take an agent's dial request: the contact's hold passes from the agent to this
        worker (``ttl`` seconds, for the attempt's claim), the preview is dialing, and a pool
        contact becomes the agent's own (its redials come back to them). Returns the contact
        and the agent's endpoint; None when the request is gone (skipped, lapsed, released) or
        the contact went elsewhere (the preview is then refused and the agent ready)."""
        agent_id = preview["agent_id"]
        with self.store.write() as conn:
            taken = conn.execute(
                update(previews)
                .where(
                    previews.c.id == preview["id"],
                    previews.c.state == "dial_requested",
                    previews.c.expires_at > now,
                )
                .values(state="dialing", updated_at=now)
            ).rowcount
            if not taken:
                return None
            moved = conn.execute(
                update(contacts)
                .where(
                    contacts.c.id == preview["contact_id"],
                    contacts.c.state == ContactState.PENDING.value,
                    contacts.c.lease_owner == agent_owner(agent_id),
                )
                .values(
                    lease_owner=self.worker_id,
                    lease_expires_at=now + timedelta(seconds=ttl),
                    assigned_agent_id=func.coalesce(contacts.c.assigned_agent_id, agent_id),
                )
            ).rowcount
            if not moved:
                end_preview(conn, preview["id"], "refused", "contact_unavailable", now)
                move_agent(conn, agent_id, ("reserved",), "ready", now)
                return None
            endpoint = conn.scalar(select(agents.c.endpoint).where(agents.c.id == agent_id))
        return self.leased_contact(preview["contact_id"]), str(endpoint or "")

    def preview_attempt(self, preview_id: int, attempt_id: int, now: datetime) -> None:
        with self.store.write() as conn:
            conn.execute(
                update(previews)
                .where(previews.c.id == preview_id)
                .values(attempt_id=attempt_id, updated_at=now)
            )

    def end_preview(
        self,
        preview_id: int,
        state: str,
        reason: str,
        now: datetime,
        agent: tuple[int, Sequence[str], str] | None = None,
    ) -> None:
        """End a preview; ``agent`` = (id, from states, to state) moves its agent on with it."""
        with self.store.write() as conn:
            end_preview(conn, preview_id, state, reason, now)
            if agent is not None:
                move_agent(conn, agent[0], agent[1], agent[2], now)

    def move_agent(self, agent_id: int, sources: Sequence[str], target: str, now: datetime) -> bool:
        with self.store.write() as conn:
            return move_agent(conn, agent_id, sources, target, now)

    def previews_dialing(self, campaign_id: int) -> list[dict[str, Any]]:
        """The campaign's previews the engine took (to recover after a restart), each with
        its attempt's uuid and outcome when it has one."""
        query = (
            select(previews, attempts.c.uuid.label("attempt_uuid"), attempts.c.outcome)
            .outerjoin(attempts, attempts.c.id == previews.c.attempt_id)
            .where(previews.c.campaign_id == campaign_id, previews.c.state == "dialing")
        )
        with self.store.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def agent_endpoint(self, agent_id: int) -> str:
        with self.store.read() as conn:
            return str(conn.scalar(select(agents.c.endpoint).where(agents.c.id == agent_id)) or "")

    def open_attempt_of(self, contact_id: int, agent_id: int) -> dict[str, Any] | None:
        """The contact's open attempt for the agent, if any (a preview taken before a crash)."""
        query = select(attempts.c.id, attempts.c.uuid).where(
            attempts.c.contact_id == contact_id,
            attempts.c.agent_id == agent_id,
            attempts.c.outcome.is_(None),
        )
        with self.store.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else dict(row._mapping)


def number_facts(
    conn: Connection, campaign: dict[str, Any], number: str, day_start: datetime, now: datetime
) -> tuple[int, datetime | None, bool]:
    """Attempts to ``number`` in the campaign since ``day_start``, its latest attempt, and
    whether it is on the tenant's or the operator's DNC list."""
    today, last, dnc = conn.execute(
        sql.NUMBER_FACTS,
        {
            "day_start": day_start,
            "campaign_id": campaign["id"],
            "number": number,
            "tenant_id": campaign["tenant_id"],
            "now": now,
        },
    ).one()
    return int(today), last, dnc is not None


def attempt_from_row(row: dict[str, Any]) -> OpenAttempt:
    return OpenAttempt(
        row["id"],
        row["uuid"],
        row["campaign_id"],
        row["contact_id"],
        row["phone_id"],
        row["number"],
        row["line_id"],
        row["created_at"],
        row["ringing_at"],
        row["answered_at"],
        row["agent_id"],
        row["connected_at"],
        row["transferred_at"],
        row["transfer_result"],
    )


# --- preview (manual) tasks: shared with the services (engine/preview.py) -------------------

PREVIEW_SCAN_BATCH = 20
PREVIEW_SCAN_BATCHES = 10  # at most 200 due contacts looked at per request for a contact
HELD = ("previewing", "dial_requested")
"""Preview states in which the agent holds the contact (the engine has not taken it)."""


def agent_owner(agent_id: int) -> str:
    """The lease owner of a contact an agent holds for preview."""
    return f"agent:{agent_id}"


@dataclass(frozen=True)
class PreviewOffer:
    preview_id: int
    contact: LeasedContact
    expires_at: datetime


class Judge(Protocol):
    """The engine's dial-instant rules for a contact about to be offered for preview."""

    def check(self, contact: LeasedContact) -> Decide: ...

    def put_back(self, contact: LeasedContact, verdict: Eligibility, on_dnc: bool) -> Verdict:
        """Where a contact that may not be dialed now goes (its wait, the next phone, or its
        end)."""
        ...


def _with_phones(conn: Connection, rows: Sequence[Any]) -> list[LeasedContact]:
    ids = [r.id for r in rows]
    phones: dict[int, list[Phone]] = {i: [] for i in ids}
    for p in conn.execute(sql.PHONES_OF, {"ids": ids}):
        phones[p.contact_id].append(Phone(p.id, p.number, p.phone_group, p.attempt_count))
    return [
        LeasedContact(
            r.id, r.uuid, r.timezone, r.phone_index, r.reason, r.next_eligible_at, phones[r.id]
        )
        for r in rows
    ]


def unleased(verdict: Verdict, now: datetime) -> dict[str, Any]:
    """A contact's row moved on by a verdict, its lease let go."""
    values: dict[str, Any] = {
        "state": verdict.state.value,
        "reason": verdict.reason,
        "next_eligible_at": verdict.next_eligible_at,
        "phone_index": verdict.phone_index,
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": now,
    }
    if verdict.outcome is not None:
        values["outcome"] = verdict.outcome.value
    return values


def put_back(conn: Connection, contact: LeasedContact, verdict: Verdict, now: datetime) -> None:
    """A contact that may not be dialed now: its wait and reason, its next phone, or its end
    (a phone finished without a call was on the DNC list)."""
    values = unleased(verdict, now)
    conn.execute(update(contacts).where(contacts.c.id == contact.id).values(**values))
    if verdict.state in CONTACT_TERMINAL:
        publish_completed(conn, contact.id, verdict, Outcome.DNC_BLOCKED.value, now)
    if verdict.phone_finished:
        conn.execute(
            update(contact_phones)
            .where(contact_phones.c.id == contact.phone.id)
            .values(state="finished", last_outcome=Outcome.DNC_BLOCKED.value)
        )


def move_agent(
    conn: Connection, agent_id: int, sources: Sequence[str], target: str, now: datetime
) -> bool:
    """Move an agent to ``target`` if it is in one of ``sources`` now."""
    params = {"agent_id": agent_id, "states": list(sources), "to": target, "now": now}
    return bool(conn.execute(sql.AGENT_RESERVED_TO, params).rowcount)


def end_preview(conn: Connection, preview_id: int, state: str, reason: str, now: datetime) -> bool:
    """End a preview not ended yet (held, or taken by the engine)."""
    return bool(
        conn.execute(
            update(previews)
            .where(previews.c.id == preview_id, previews.c.state.in_([*HELD, "dialing"]))
            .values(state=state, reason=reason[:200], ended_at=now, updated_at=now)
        ).rowcount
    )


def end_hold(
    conn: Connection,
    preview: dict[str, Any],
    state: str,
    reason: str,
    now: datetime,
    contact_values: dict[str, Any] | None = None,
) -> bool:
    """End a preview the agent still holds: the contact is free again (with
    ``contact_values``), the agent ready. False if it was not held any more."""
    ended = conn.execute(
        update(previews)
        .where(previews.c.id == preview["id"], previews.c.state.in_(HELD))
        .values(state=state, reason=reason[:200], ended_at=now, updated_at=now)
    ).rowcount
    if not ended:
        return False
    conn.execute(
        update(contacts)
        .where(
            contacts.c.id == preview["contact_id"],
            contacts.c.lease_owner == agent_owner(preview["agent_id"]),
        )
        .values(lease_owner=None, lease_expires_at=None, **(contact_values or {}))
    )
    move_agent(conn, preview["agent_id"], ("reserved",), "ready", now)
    return True


def expire_previews(conn: Connection, now: datetime, where: ColumnElement[bool]) -> int:
    """Lapse the holds (``where``) whose time is up: the contact is free, the agent ready."""
    rows = conn.execute(
        select(previews).where(where, previews.c.state.in_(HELD), previews.c.expires_at <= now)
    ).all()
    lapsed = 0
    for row in rows:
        preview = dict(row._mapping)
        why = "preview_timeout" if preview["state"] == "previewing" else "dial_not_taken"
        lapsed += end_hold(conn, preview, "expired", why, now)
    return lapsed


def release_previews(conn: Connection, campaign_id: int, reason: str, now: datetime) -> int:
    """End every hold of a campaign that stopped dialing (paused, cancelled, ended)."""
    rows = conn.execute(
        select(previews).where(previews.c.campaign_id == campaign_id, previews.c.state.in_(HELD))
    ).all()
    return sum(end_hold(conn, dict(r._mapping), "released", reason, now) for r in rows)


# --- webhook events ---------------------------------------------------------------------------

CONTACT_COMPLETED = WebhookEvent.CONTACT_COMPLETED.value


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def record_event(
    conn: Connection,
    campaign_id: int,
    kind: str,
    data: dict[str, Any],
    now: datetime,
    tenant_id: int | None = None,
    audience: Sequence[outbox.Subscriber] | None = None,
) -> None:
    """Record an event in the campaign's log and, for the subscriptions that want it, in the
    webhook outbox, in the caller's transaction."""
    if tenant_id is None:
        tenant_id = campaign_tenant(conn, campaign_id)
    conn.execute(
        sql.INSERT_EVENT,
        {
            "tenant_id": tenant_id,
            "campaign_id": campaign_id,
            "kind": kind,
            "data": data,
            "created_at": now,
        },
    )
    outbox.publish(conn, tenant_id, campaign_id, kind, data, now, audience)


def campaign_tenant(conn: Connection, campaign_id: int) -> int:
    tenant_id = conn.scalar(select(campaigns.c.tenant_id).where(campaigns.c.id == campaign_id))
    assert tenant_id is not None
    return int(tenant_id)


def completed(contact_id: int, verdict: Verdict, last_outcome: str) -> dict[str, Any]:
    """A contact.completed event's data: the contact's end, its final outcome."""
    outcome = verdict.outcome.value if verdict.outcome is not None else last_outcome
    return {
        "contact_id": contact_id,
        "state": verdict.state.value,
        "outcome": outcome,
        "reason": verdict.reason,
    }


def publish_completed(
    conn: Connection, contact_id: int, verdict: Verdict, last_outcome: str, now: datetime
) -> None:
    """A contact that ended without a call (a DNC hit) into the webhook outbox."""
    row = conn.execute(
        select(contacts.c.tenant_id, contacts.c.campaign_id).where(contacts.c.id == contact_id)
    ).one()
    data = completed(contact_id, verdict, last_outcome)
    outbox.publish(conn, row.tenant_id, row.campaign_id, CONTACT_COMPLETED, data, now)
