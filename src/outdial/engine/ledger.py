"""The engine's SQL: contact leases, the attempt ledger, capacity checks, campaign leases.

An attempt row is written, in the same transaction that checks line and campaign capacity and
claims the contact, before the driver is asked to originate. Line capacity is shared by every
campaign and worker: the line row is locked while its open attempts are counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
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

log = logging.getLogger("outdial.engine")
ACTIVE_STATES = ("scheduled", "running")
CLOSE_DELAY_SECONDS = 0.01  # a close waits at most this long for others to commit with
CLOSE_BATCH = 200  # closes written together at most


class Decide(Protocol):
    """The runner's dial-instant check, run inside the attempt's transaction."""

    day_start: datetime  # local midnight of the number's day, for the daily cap
    on_dnc: bool  # after the call: whether the number was on the DNC list

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


class Refusal(Enum):
    """Why a dial of a batch got no attempt (besides its number's Eligibility)."""

    FULL = "full"  # no channel left on the line or in the campaign
    TAKEN = "taken"  # the contact is no longer this worker's to dial (or twice in the batch)


@dataclass
class Dial:
    """A contact to open an attempt for, with its caller number and dial-instant check."""

    contact: LeasedContact
    caller_number: str
    decide: Decide
    agent_id: int | None = None  # the agent the call is for from the start (preview)


@dataclass
class Closing:
    """An attempt's end: its outcome and where its contact goes next."""

    attempt: OpenAttempt
    tenant_id: int
    outcome: Outcome
    native_cause: str
    ended_at: datetime
    verdict: Verdict


class Ledger:
    def __init__(self, store: Store, worker_id: str, close_delay: float = CLOSE_DELAY_SECONDS):
        self.store, self.worker_id, self.close_delay = store, worker_id, close_delay
        self._closing: list[Closing] = []
        self._flush_timer: asyncio.TimerHandle | None = None

    # --- campaign leases ---------------------------------------------------------------------

    def heartbeat(self, now: datetime) -> None:
        """Tell the other workers this one is alive."""
        with self._write() as conn:
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
        with self._write() as conn:
            conn.execute(delete(engine_workers).where(engine_workers.c.id == self.worker_id))

    def lease_campaigns(self, now: datetime, ttl: float) -> list[int]:
        """Renew this worker's campaign leases and take free or abandoned campaigns up to a fair
        share (campaigns wanting a worker / live workers). Returns the ids held now."""
        expires = now + timedelta(seconds=ttl)
        open_calls = select(attempts.c.campaign_id).where(attempts.c.outcome.is_(None))
        wanted = or_(campaigns.c.state.in_(ACTIVE_STATES), campaigns.c.id.in_(open_calls))
        mine = campaigns.c.worker_id == self.worker_id
        free = or_(campaigns.c.worker_id.is_(None), campaigns.c.lease_expires_at < now)
        with self._write() as conn:
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
        with self._write() as conn:
            conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id, campaigns.c.worker_id == self.worker_id)
                .values(worker_id=None, lease_expires_at=None)
            )

    def campaign(self, campaign_id: int) -> dict[str, Any]:
        with self._read() as conn:
            return dict(conn.execute(sql.CAMPAIGN, {"campaign_id": campaign_id}).one()._mapping)

    def campaign_version(self, campaign_id: int) -> tuple[str, datetime]:
        """The campaign's state and last change, cheaply, to see whether to reload it."""
        with self._read() as conn:
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
        with self._write() as conn:
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
        with self._write() as conn:
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
        with self._write() as conn:
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
        with self._write() as conn:
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
        with self._read() as conn:
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
        with self._write() as conn:
            conn.execute(
                update(contacts)
                .where(contacts.c.id.in_(ids), contacts.c.lease_owner == self.worker_id)
                .values(lease_owner=None, lease_expires_at=None)
            )

    def pending_summary(self, campaign_id: int) -> tuple[int, datetime | None, int]:
        """(pending contacts, earliest next-eligible time among them, open attempts)."""
        with self._read() as conn:
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
        with self._write() as conn:
            tenant_id = campaign_tenant(conn, campaign_id)
            audience = outbox.subscribers(conn, tenant_id, campaign_id)
            if any(CONTACT_COMPLETED in a.events for a in audience):
                ended = [
                    {
                        "contact_id": r.id,
                        "state": state.value,
                        "outcome": r.outcome,
                        "reason": reason,
                    }
                    for r in conn.execute(select(contacts.c.id, contacts.c.outcome).where(pending))
                ]
                outbox.publish_completed_contacts(
                    conn, tenant_id, campaign_id, ended, now, audience
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
        """``open_batch`` for one contact; None when the line or campaign is full or the
        contact was taken. ``agent_id``: the agent the call is for from the start (preview)."""
        dial = Dial(contact, caller_number, decide, agent_id)
        result = self.open_batch(campaign, [dial], now)[0]
        return None if isinstance(result, Refusal) else result

    def open_batch(
        self, campaign: dict[str, Any], dials: Sequence[Dial], now: datetime
    ) -> list[OpenAttempt | Eligibility | Refusal]:
        """In one transaction, for each dial in order: check the number (its ``decide`` sees
        its attempts today, its last attempt, whether it is on the DNC list — counting the
        attempts opened before it in this batch), check line and campaign capacity, claim the
        contact and write the attempt. Each dial gets its attempt; the Eligibility when its
        ``decide`` refused; FULL when no channel was left for it; TAKEN when the contact is
        no longer this worker's to dial."""
        with self._write() as conn:
            asks = [(d.contact.phone.number, d.decide.day_start) for d in dials]
            facts = numbers_facts(conn, campaign, asks, now)
            room = self._room(conn, campaign)
            results, chosen = choose(dials, facts, room, now)
            claimed = self._claim(conn, [dials[i].contact for i in chosen], now)
            chosen = [i for i in chosen if dials[i].contact.id in claimed]
            for i, attempt in zip(
                chosen, self._insert(conn, campaign, [dials[i] for i in chosen], now), strict=True
            ):
                results[i] = attempt
        for i in chosen:
            dials[i].contact.phone.attempt_count += 1
        return results

    def _room(self, conn: Connection, campaign: dict[str, Any]) -> int:
        """Channels free on the line (locked until the transaction ends, as it is shared by
        every campaign and worker) and in the campaign, whichever is fewer."""
        line_id = campaign["line_id"]
        channels = conn.scalar(sql.LOCK_LINE, {"line_id": line_id})
        on_line, in_campaign = conn.execute(
            sql.OPEN_CALLS, {"line_id": line_id, "campaign_id": campaign["id"]}
        ).one()
        if channels is None:
            return 0
        free_in_campaign = int(campaign["max_concurrency"]) - int(in_campaign)
        return min(int(channels) - int(on_line), free_in_campaign)

    def _claim(self, conn: Connection, chosen: Sequence[LeasedContact], now: datetime) -> set[int]:
        """Claim the contacts still pending and leased here; their phones count the attempt."""
        if not chosen:
            return set()
        params = {"ids": [c.id for c in chosen], "worker": self.worker_id, "now": now}
        claimed = set(conn.scalars(sql.CLAIM, params))
        phones = [c.phone.id for c in chosen if c.id in claimed]
        if phones:
            conn.execute(sql.BUMP_PHONE, {"ids": phones, "now": now})
        return claimed

    def _insert(
        self, conn: Connection, campaign: dict[str, Any], dials: Sequence[Dial], now: datetime
    ) -> list[OpenAttempt]:
        if not dials:
            return []
        uuids = [new_uuid() for _ in dials]
        conn.execute(
            sql.INSERT_ATTEMPT,
            [
                {
                    "uuid": attempt_uuid,
                    "tenant_id": campaign["tenant_id"],
                    "campaign_id": campaign["id"],
                    "contact_id": d.contact.id,
                    "phone_id": d.contact.phone.id,
                    "number": d.contact.phone.number,
                    "caller_number": d.caller_number,
                    "line_id": campaign["line_id"],
                    "agent_id": d.agent_id,
                    "worker_id": self.worker_id,
                    "call_id": attempt_uuid,
                    "created_at": now,
                    "native_cause": "",
                    "talk_seconds": 0.0,
                    "abandoned": False,
                    "data": {},
                }
                for attempt_uuid, d in zip(uuids, dials, strict=True)
            ],
        )
        ids = {u: i for u, i in conn.execute(sql.ATTEMPT_IDS, {"uuids": uuids})}
        return [
            OpenAttempt(
                ids[attempt_uuid],
                attempt_uuid,
                campaign["id"],
                d.contact.id,
                d.contact.phone.id,
                d.contact.phone.number,
                campaign["line_id"],
                now,
                agent_id=d.agent_id,
            )
            for attempt_uuid, d in zip(uuids, dials, strict=True)
        ]

    def close_attempt(self, closing: Closing) -> None:
        """Close an attempt and move its contact on. Closes are group-committed: written in
        one transaction with the others that come within ``close_delay`` seconds (at most
        CLOSE_BATCH of them), and always before this ledger's next read or write, so the
        engine never acts on a close that is not in the store. Without a running event loop
        the close is written at once."""
        self._closing.append(closing)
        if len(self._closing) >= CLOSE_BATCH:
            self.flush()
            return
        if self._flush_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._flush_timer = loop.call_later(self.close_delay, self.flush)

    def flush(self) -> None:
        """Write the closes waiting for their group commit, in one transaction. Should that
        fail, each is tried again in its own, so one bad close costs no other."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        closing, self._closing = self._closing, []
        if not closing:
            return
        try:
            with self.store.write() as conn:
                close_attempts(conn, closing)
            return
        except Exception:
            if len(closing) == 1:
                log.exception("closing attempt %s failed", closing[0].attempt.uuid)
                return
            log.exception("closing %d attempts together failed; closing each alone", len(closing))
        for one in closing:
            try:
                with self.store.write() as conn:
                    close_attempts(conn, [one])
            except Exception:
                log.exception("closing attempt %s failed", one.attempt.uuid)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction of this ledger's, after the closes waiting to be written."""
        self.flush()
        with self.store.write() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read of this ledger's, which sees every close it was given."""
        self.flush()
        with self.store.read() as conn:
            yield conn

    def open_attempts(self, campaign_id: int) -> list[dict[str, Any]]:
        with self._read() as conn:
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
        with self._write() as conn:
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
        with self._read() as conn:
            rows = conn.execute(sql.READY_AGENTS, {"skill_group_id": skill_group_id})
            return [(r.id, r.endpoint) for r in rows]

    def team(self, skill_group_id: int) -> list[tuple[str, datetime]]:
        """The working agents of a skill group (ready, reserved, on a call, wrapping up): each
        one's state and when it began, for the pacer."""
        with self._read() as conn:
            rows = conn.execute(sql.TEAM, {"skill_group_id": skill_group_id})
            return [(r.state, r.state_changed_at) for r in rows]

    def abandon_counts(self, campaign_id: int) -> tuple[int, int]:
        """The campaign's abandoned calls and live answers so far (the FCC ratio's terms)."""
        answered = [Outcome.ANSWERED.value, Outcome.ABANDONED.value]
        query = select(attempts.c.outcome, func.count()).where(
            attempts.c.campaign_id == campaign_id, attempts.c.outcome.in_(answered)
        )
        with self._read() as conn:
            rows = conn.execute(query.group_by(attempts.c.outcome)).all()
        counts: dict[str, int] = {str(r[0]): int(r[1]) for r in rows}
        abandons = counts.get(Outcome.ABANDONED.value, 0)
        return abandons, abandons + counts.get(Outcome.ANSWERED.value, 0)

    def emit_decision(
        self, campaign_id: int, tenant_id: int, data: dict[str, Any], now: datetime
    ) -> None:
        with self._write() as conn:
            self._event(conn, campaign_id, "pacing.decision", data, now, tenant_id)

    def take_agent(self, skill_group_id: int, now: datetime) -> tuple[int, str] | None:
        """Put the longest-idle ready agent of the group on a call; None if nobody is ready."""
        with self._write() as conn:
            for agent_id, endpoint in conn.execute(
                sql.READY_AGENTS, {"skill_group_id": skill_group_id}
            ).all():
                if conn.execute(sql.TAKE_AGENT, {"agent_id": agent_id, "now": now}).rowcount:
                    return agent_id, endpoint
        return None

    def agent_to_wrap(self, agent_id: int, now: datetime) -> None:
        with self._write() as conn:
            conn.execute(sql.AGENT_TO_WRAP, {"agent_id": agent_id, "now": now})

    def agent_wrapped(self, agent_id: int, now: datetime) -> bool:
        """After-call work is over: ready again (unless the agent went not ready meanwhile)."""
        with self._write() as conn:
            return bool(
                conn.execute(sql.AGENT_WRAPPED, {"agent_id": agent_id, "now": now}).rowcount
            )

    def emit_progress(self, campaign_id: int, tenant_id: int, now: datetime) -> None:
        with self._write() as conn:
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
        with self._write() as conn:
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
        with self._read() as conn:
            rows = [
                dict(r._mapping)
                for r in conn.execute(sql.PREVIEW_WORK, {"campaign_id": campaign_id, "now": now})
            ]
        requests = [r for r in rows if r["state"] == "dial_requested" and r["expires_at"] > now]
        return requests, len(requests) < len(rows)

    def expire_previews(self, campaign_id: int, now: datetime) -> int:
        with self._write() as conn:
            return expire_previews(conn, now, previews.c.campaign_id == campaign_id)

    def release_previews(self, campaign_id: int, reason: str, now: datetime) -> int:
        with self._write() as conn:
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
        with self._write() as conn:
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
        with self._write() as conn:
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
        with self._write() as conn:
            end_preview(conn, preview_id, state, reason, now)
            if agent is not None:
                move_agent(conn, agent[0], agent[1], agent[2], now)

    def move_agent(self, agent_id: int, sources: Sequence[str], target: str, now: datetime) -> bool:
        with self._write() as conn:
            return move_agent(conn, agent_id, sources, target, now)

    def previews_dialing(self, campaign_id: int) -> list[dict[str, Any]]:
        """The campaign's previews the engine took (to recover after a restart), each with
        its attempt's uuid and outcome when it has one."""
        query = (
            select(previews, attempts.c.uuid.label("attempt_uuid"), attempts.c.outcome)
            .outerjoin(attempts, attempts.c.id == previews.c.attempt_id)
            .where(previews.c.campaign_id == campaign_id, previews.c.state == "dialing")
        )
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def agent_endpoint(self, agent_id: int) -> str:
        with self._read() as conn:
            return str(conn.scalar(select(agents.c.endpoint).where(agents.c.id == agent_id)) or "")

    def open_attempt_of(self, contact_id: int, agent_id: int) -> dict[str, Any] | None:
        """The contact's open attempt for the agent, if any (a preview taken before a crash)."""
        query = select(attempts.c.id, attempts.c.uuid).where(
            attempts.c.contact_id == contact_id,
            attempts.c.agent_id == agent_id,
            attempts.c.outcome.is_(None),
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else dict(row._mapping)


def number_facts(
    conn: Connection, campaign: dict[str, Any], number: str, day_start: datetime, now: datetime
) -> tuple[int, datetime | None, bool]:
    """Attempts to ``number`` in the campaign since ``day_start``, its latest attempt, and
    whether it is on the tenant's or the operator's DNC list."""
    return numbers_facts(conn, campaign, [(number, day_start)], now)[0]


def numbers_facts(
    conn: Connection,
    campaign: dict[str, Any],
    asks: Sequence[tuple[str, datetime]],
    now: datetime,
) -> list[tuple[int, datetime | None, bool]]:
    """``number_facts`` for each (number, day_start), in one query per distinct day start
    (one, unless the numbers' time zones differ) and one for the DNC list."""
    if not asks:
        return []
    numbers = sorted({n for n, _ in asks})
    tenant = {"tenant_id": campaign["tenant_id"], "now": now, "numbers": numbers}
    dnc = set(conn.scalars(sql.DNC_OF, tenant))
    known: dict[tuple[str, datetime], tuple[int, datetime | None]] = {}
    for day_start in {d for _, d in asks}:
        params = {"campaign_id": campaign["id"], "numbers": numbers, "day_start": day_start}
        for number, today, last in conn.execute(sql.NUMBERS_FACTS, params):
            known[(number, day_start)] = (int(today), last)
    return [(*known.get((n, d), (0, None)), n in dnc) for n, d in asks]


def choose(
    dials: Sequence[Dial],
    facts: Sequence[tuple[int, datetime | None, bool]],
    room: int,
    now: datetime,
) -> tuple[list[OpenAttempt | Eligibility | Refusal], list[int]]:
    """Each dial's verdict in order, as if its attempt were written before the next one is
    looked at (a number twice in the batch sees its first attempt), at most ``room`` of them
    chosen: (results with TAKEN for the chosen until they are written, the chosen indexes)."""
    results: list[OpenAttempt | Eligibility | Refusal] = []
    opened: Counter[str] = Counter()
    seen: set[int] = set()
    chosen: list[int] = []
    for dial, (today, last, dnc) in zip(dials, facts, strict=True):
        number = dial.contact.phone.number
        if dial.contact.id in seen:  # one attempt per contact at a time
            results.append(Refusal.TAKEN)
            continue
        seen.add(dial.contact.id)
        if opened[number]:
            today, last = today + opened[number], max(last or now, now)
        verdict = dial.decide(today, last, dnc)
        if not verdict.eligible:
            results.append(verdict)
        elif len(chosen) >= room:
            results.append(Refusal.FULL)
        else:
            opened[number] += 1
            chosen.append(len(results))
            results.append(Refusal.TAKEN)
    return results, chosen


def close_attempts(conn: Connection, closings: Sequence[Closing]) -> None:
    """Close the attempts still open and move their contacts on, each statement once for all
    of them; each closed attempt's attempt.ended (and its contact's contact.completed when the
    contact ended) goes into the campaign's log and the webhook outbox in this transaction.
    An attempt closed already (by a reconciling worker) is left as it is, its contact too."""
    still_open = set(conn.scalars(sql.STILL_OPEN, {"ids": [c.attempt.id for c in closings]}))
    todo = list({c.attempt.id: c for c in closings if c.attempt.id in still_open}.values())
    if not todo:
        return
    conn.execute(sql.CLOSE_ATTEMPT, [_closed_row(c) for c in todo])
    conn.execute(sql.MOVE_CONTACT, [_moved_contact(c) for c in todo])
    conn.execute(
        sql.MARK_PHONE,
        [
            {
                "phone_id": c.attempt.phone_id,
                "p_outcome": c.outcome.value,
                "p_state": "finished" if c.verdict.phone_finished else "active",
            }
            for c in todo
        ],
    )
    ended = [(c, _ended_event(c)) for c in todo]
    conn.execute(
        sql.INSERT_EVENT,
        [
            {
                "tenant_id": c.tenant_id,
                "campaign_id": c.attempt.campaign_id,
                "kind": ATTEMPT_ENDED,
                "data": data,
                "created_at": c.ended_at,
            }
            for c, data in ended
        ],
    )
    audiences: dict[tuple[int, int], list[outbox.Subscriber]] = {}
    for c, data in ended:
        key = (c.tenant_id, c.attempt.campaign_id)
        if key not in audiences:
            audiences[key] = outbox.subscribers(conn, *key)
        if not audiences[key]:
            continue
        outbox.publish(conn, *key, ATTEMPT_ENDED, data, c.ended_at, audiences[key])
        if c.verdict.state in CONTACT_TERMINAL:
            done = completed(c.attempt.contact_id, c.verdict, c.outcome.value)
            outbox.publish(conn, *key, CONTACT_COMPLETED, done, c.ended_at, audiences[key])


def _talk(c: Closing) -> float:
    answered = c.attempt.answered_at
    return (c.ended_at - answered).total_seconds() if answered else 0.0


def _closed_row(c: Closing) -> dict[str, Any]:
    a = c.attempt
    return {
        "attempt_id": a.id,
        "p_outcome": c.outcome.value,
        "p_cause": c.native_cause,
        "p_ended": c.ended_at,
        "p_ringing": a.ringing_at,
        "p_answered": a.answered_at,
        "p_talk": _talk(c),
        "p_abandoned": c.outcome is Outcome.ABANDONED,
        "p_agent": a.agent_id,
        "p_connected": a.connected_at,
        "p_transferred": a.transferred_at,
        "p_transfer_result": a.transfer_result,
    }


def _moved_contact(c: Closing) -> dict[str, Any]:
    v = c.verdict
    return {
        "contact_id": c.attempt.contact_id,
        "p_state": v.state.value,
        "p_reason": v.reason,
        "p_next": v.next_eligible_at,
        "p_index": v.phone_index,
        "p_outcome": v.outcome.value if v.outcome else None,
        "p_now": c.ended_at,
    }


def _ended_event(c: Closing) -> dict[str, Any]:
    a = c.attempt
    return {
        "attempt_id": a.id,
        "attempt_uuid": a.uuid,
        "contact_id": a.contact_id,
        "number": a.number,
        "outcome": c.outcome.value,
        "native_cause": c.native_cause,
        "talk_seconds": _talk(c),
        "started_at": a.created_at.isoformat(),
        "answered_at": _iso(a.answered_at),
        "ended_at": c.ended_at.isoformat(),
        "contact_state": c.verdict.state.value,
    }


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
ATTEMPT_ENDED = WebhookEvent.ATTEMPT_ENDED.value


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
