"""The engine's SQL: contact leases, the attempt ledger, capacity checks, campaign leases.

An attempt row is written, in the same transaction that checks line and campaign capacity and
claims the contact, before the driver is asked to originate. Line capacity is shared by every
campaign and worker: the line row is locked while its open attempts are counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from outdial.domain.outcomes import ContactState, Outcome
from outdial.domain.redial import Verdict
from outdial.services.common import new_uuid
from outdial.store.schema import (
    attempts,
    campaigns,
    contact_phones,
    contacts,
    dnc_entries,
    events,
    lines,
)
from outdial.store.store import Store

ACTIVE_STATES = ("scheduled", "running")


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


class Ledger:
    def __init__(self, store: Store, worker_id: str):
        self.store, self.worker_id = store, worker_id

    # --- campaign leases ---------------------------------------------------------------------

    def lease_campaigns(self, now: datetime, ttl: float, limit: int = 100) -> list[int]:
        """Take campaigns that are active (or still have open attempts) and free or abandoned;
        renew the ones this worker holds. Returns the ids this worker holds now."""
        expires = now + timedelta(seconds=ttl)
        open_calls = select(attempts.c.campaign_id).where(attempts.c.outcome.is_(None))
        wanted = or_(campaigns.c.state.in_(ACTIVE_STATES), campaigns.c.id.in_(open_calls))
        free = or_(
            campaigns.c.worker_id.is_(None),
            campaigns.c.lease_expires_at < now,
            campaigns.c.worker_id == self.worker_id,
        )
        with self.store.write() as conn:
            ids = list(
                conn.scalars(
                    select(campaigns.c.id)
                    .where(wanted, free)
                    .order_by(campaigns.c.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            if ids:
                conn.execute(
                    update(campaigns)
                    .where(campaigns.c.id.in_(ids))
                    .values(worker_id=self.worker_id, lease_expires_at=expires)
                )
        return ids

    def release_campaign(self, campaign_id: int) -> None:
        with self.store.write() as conn:
            conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id, campaigns.c.worker_id == self.worker_id)
                .values(worker_id=None, lease_expires_at=None)
            )

    def campaign(self, campaign_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            return dict(
                conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one()._mapping
            )

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
        due = and_(
            contacts.c.campaign_id == campaign_id,
            contacts.c.state == ContactState.PENDING.value,
            or_(contacts.c.next_eligible_at.is_(None), contacts.c.next_eligible_at <= now),
            or_(
                contacts.c.lease_owner.is_(None),
                contacts.c.lease_expires_at < now,
                contacts.c.lease_owner == self.worker_id,
            ),
        )
        with self.store.write() as conn:
            rows = conn.execute(
                select(
                    contacts.c.id,
                    contacts.c.uuid,
                    contacts.c.timezone,
                    contacts.c.phone_index,
                    contacts.c.reason,
                    contacts.c.next_eligible_at,
                )
                .where(due)
                .order_by(
                    contacts.c.next_eligible_at.is_not(None),
                    contacts.c.next_eligible_at,
                    contacts.c.id,
                )
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return []
            ids = [r.id for r in rows]
            conn.execute(
                update(contacts)
                .where(contacts.c.id.in_(ids))
                .values(lease_owner=self.worker_id, lease_expires_at=now + timedelta(seconds=ttl))
            )
            phones: dict[int, list[Phone]] = {i: [] for i in ids}
            for p in conn.execute(
                select(
                    contact_phones.c.contact_id,
                    contact_phones.c.id,
                    contact_phones.c.number,
                    contact_phones.c.phone_group,
                    contact_phones.c.attempt_count,
                )
                .where(contact_phones.c.contact_id.in_(ids))
                .order_by(contact_phones.c.contact_id, contact_phones.c.position)
            ):
                phones[p.contact_id].append(Phone(p.id, p.number, p.phone_group, p.attempt_count))
        return [
            LeasedContact(
                r.id, r.uuid, r.timezone, r.phone_index, r.reason, r.next_eligible_at, phones[r.id]
            )
            for r in rows
        ]

    def defer(self, contact_id: int, until: datetime | None, reason: str, now: datetime) -> None:
        """Give a leased contact back with the reason it cannot be dialed and when it can."""
        with self.store.write() as conn:
            conn.execute(
                update(contacts)
                .where(contacts.c.id == contact_id, contacts.c.lease_owner == self.worker_id)
                .values(
                    next_eligible_at=until,
                    reason=reason,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
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

    def number_history(
        self, campaign_id: int, number: str, day_start: datetime
    ) -> tuple[int, datetime | None]:
        """Attempts to ``number`` in the campaign since ``day_start``, and the latest one."""
        with self.store.read() as conn:
            row = conn.execute(
                select(
                    func.count().filter(attempts.c.created_at >= day_start),
                    func.max(attempts.c.created_at),
                ).where(attempts.c.campaign_id == campaign_id, attempts.c.number == number)
            ).one()
        return int(row[0]), row[1]

    def on_dnc(self, tenant_id: int, number: str, now: datetime) -> bool:
        with self.store.read() as conn:
            hit = conn.scalar(
                select(dnc_entries.c.id)
                .where(
                    dnc_entries.c.number == number,
                    or_(dnc_entries.c.tenant_id == tenant_id, dnc_entries.c.tenant_id.is_(None)),
                    or_(dnc_entries.c.expires_at.is_(None), dnc_entries.c.expires_at > now),
                )
                .limit(1)
            )
        return hit is not None

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
        """End every pending contact (campaign cancelled or out of time)."""
        with self.store.write() as conn:
            return conn.execute(
                update(contacts)
                .where(
                    contacts.c.campaign_id == campaign_id,
                    contacts.c.state == ContactState.PENDING.value,
                )
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
    ) -> OpenAttempt | None:
        """Write the attempt if the line and the campaign have room and the contact is still
        ours and pending; None otherwise (nothing written)."""
        line_id = campaign["line_id"]
        phone = contact.phone
        with self.store.write() as conn:
            channels = conn.scalar(
                select(lines.c.channels).where(lines.c.id == line_id).with_for_update()
            )
            if channels is None or _open_on(conn, attempts.c.line_id == line_id) >= channels:
                return None
            mine = attempts.c.campaign_id == campaign["id"]
            if _open_on(conn, mine) >= campaign["max_concurrency"]:
                return None
            claimed = conn.execute(
                update(contacts)
                .where(
                    contacts.c.id == contact.id,
                    contacts.c.state == ContactState.PENDING.value,
                    contacts.c.lease_owner == self.worker_id,
                )
                .values(
                    state=ContactState.IN_PROGRESS.value,
                    reason="dialing",
                    attempt_count=contacts.c.attempt_count + 1,
                    last_attempt_at=now,
                    next_eligible_at=None,
                    updated_at=now,
                )
            ).rowcount
            if not claimed:
                return None
            conn.execute(
                update(contact_phones)
                .where(contact_phones.c.id == phone.id)
                .values(attempt_count=contact_phones.c.attempt_count + 1, last_attempt_at=now)
            )
            attempt_uuid = new_uuid()
            attempt_id = conn.scalar(
                insert(attempts)
                .values(
                    uuid=attempt_uuid,
                    tenant_id=campaign["tenant_id"],
                    campaign_id=campaign["id"],
                    contact_id=contact.id,
                    phone_id=phone.id,
                    number=phone.number,
                    caller_number=caller_number,
                    line_id=line_id,
                    agent_id=None,
                    worker_id=self.worker_id,
                    call_id=attempt_uuid,
                    created_at=now,
                    native_cause="",
                    talk_seconds=0.0,
                    abandoned=False,
                    data={},
                )
                .returning(attempts.c.id)
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
        )

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
        contact_values: dict[str, Any] = {
            "state": verdict.state.value,
            "reason": verdict.reason,
            "next_eligible_at": verdict.next_eligible_at,
            "phone_index": verdict.phone_index,
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": ended_at,
        }
        if verdict.outcome is not None:
            contact_values["outcome"] = verdict.outcome.value
        with self.store.write() as conn:
            closed = conn.execute(
                update(attempts)
                .where(attempts.c.id == attempt.id, attempts.c.outcome.is_(None))
                .values(
                    outcome=outcome.value,
                    native_cause=native_cause,
                    ended_at=ended_at,
                    ringing_at=attempt.ringing_at,
                    answered_at=attempt.answered_at,
                    talk_seconds=talk,
                    abandoned=outcome is Outcome.ABANDONED,
                )
            ).rowcount
            if not closed:
                return
            conn.execute(
                update(contacts).where(contacts.c.id == attempt.contact_id).values(**contact_values)
            )
            phone_values: dict[str, Any] = {"last_outcome": outcome.value}
            if verdict.phone_finished:
                phone_values["state"] = "finished"
            conn.execute(
                update(contact_phones)
                .where(contact_phones.c.id == attempt.phone_id)
                .values(**phone_values)
            )
            self._event(
                conn,
                attempt.campaign_id,
                "attempt.ended",
                {
                    "attempt_id": attempt.id,
                    "contact_id": attempt.contact_id,
                    "number": attempt.number,
                    "outcome": outcome.value,
                    "talk_seconds": talk,
                    "contact_state": verdict.state.value,
                },
                ended_at,
                tenant_id,
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

    def emit(
        self, campaign_id: int, tenant_id: int, kind: str, data: dict[str, Any], now: datetime
    ) -> None:
        with self.store.write() as conn:
            self._event(conn, campaign_id, kind, data, now, tenant_id)

    def _event(
        self,
        conn: Connection,
        campaign_id: int,
        kind: str,
        data: dict[str, Any],
        now: datetime,
        tenant_id: int | None = None,
    ) -> None:
        if tenant_id is None:
            tenant_id = conn.scalar(
                select(campaigns.c.tenant_id).where(campaigns.c.id == campaign_id)
            )
        conn.execute(
            insert(events).values(
                tenant_id=tenant_id, campaign_id=campaign_id, kind=kind, data=data, created_at=now
            )
        )


def _open_on(conn: Connection, where: Any) -> int:
    return int(conn.scalar(select(func.count()).where(where, attempts.c.outcome.is_(None))) or 0)
