"""The webhook outbox's SQL: events fanned out to their subscriptions inside the transaction
that caused them, due deliveries leased by a worker (within each subscription's concurrency
limit), results recorded, leases given back, dead letters replayed."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    column,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    update,
)

from outdial.domain.webhooks import (
    WEBHOOK_EVENTS,
    DeliveryState,
    WebhookEvent,
    WebhookFormat,
    wanted,
)
from outdial.domain.yunfu_notify import call_notification
from outdial.store.schema import (
    campaigns,
    contacts,
    tenants,
    webhook_deliveries,
    webhook_subscriptions,
)

d = webhook_deliveries
s = webhook_subscriptions
PENDING = DeliveryState.PENDING.value
CONTACT_EVENTS = (WebhookEvent.ATTEMPT_ENDED.value, WebhookEvent.CONTACT_COMPLETED.value)


@dataclass(frozen=True)
class Subscriber:
    id: int
    events: list[str]
    outcomes: list[str] | None
    format: str


SUBSCRIBERS = select(s.c.id, s.c.events, s.c.outcomes, s.c.format).where(
    s.c.tenant_id == bindparam("tenant_id"),
    s.c.enabled.is_(True),
    or_(s.c.campaign_id.is_(None), s.c.campaign_id == bindparam("campaign_id")),
)
"""Built once: it runs for every attempt the engine closes."""


def subscribers(conn: Connection, tenant_id: int, campaign_id: int) -> list[Subscriber]:
    """The enabled subscriptions that hear a campaign's events: the tenant's and its own."""
    params = {"tenant_id": tenant_id, "campaign_id": campaign_id}
    return [
        Subscriber(r.id, r.events, r.outcomes, r.format) for r in conn.execute(SUBSCRIBERS, params)
    ]


def publish(
    conn: Connection,
    tenant_id: int,
    campaign_id: int,
    kind: str,
    data: dict[str, Any],
    now: datetime,
    audience: Sequence[Subscriber] | None = None,
) -> int:
    """Put an event in the outbox, one delivery per subscription that wants it, in the
    caller's transaction. ``audience``: the subscribers, when the caller looked them up
    already. Returns the deliveries written."""
    if kind not in WEBHOOK_EVENTS:
        return 0
    if audience is None:
        audience = subscribers(conn, tenant_id, campaign_id)
    if not any(wanted(sub.events, sub.outcomes, kind, data) for sub in audience):
        return 0
    contact_id = data.get("contact_id") if kind in CONTACT_EVENTS else None
    subjects = _subjects(conn, campaign_id, contact_id)
    rows = deliveries(tenant_id, campaign_id, kind, data, now, audience, subjects)
    conn.execute(insert(d), rows)
    return len(rows)


def publish_completed_contacts(
    conn: Connection,
    tenant_id: int,
    campaign_id: int,
    ended: Sequence[dict[str, Any]],
    now: datetime,
    audience: Sequence[Subscriber],
) -> int:
    """contact.completed for many contacts at once (a campaign cancelled or out of time):
    ``ended`` holds each one's event data; its subjects are read in one query."""
    kind = WebhookEvent.CONTACT_COMPLETED.value
    if not ended or not any(kind in sub.events for sub in audience):
        return 0
    base = _subjects(conn, campaign_id, None)
    people = _contacts(conn, [e["contact_id"] for e in ended])
    rows: list[dict[str, Any]] = []
    for data in ended:
        subjects = {**base, "contact": people.get(data["contact_id"])}
        rows += deliveries(tenant_id, campaign_id, kind, data, now, audience, subjects)
    if rows:
        conn.execute(insert(d), rows)
    return len(rows)


def deliveries(
    tenant_id: int,
    campaign_id: int,
    kind: str,
    data: dict[str, Any],
    now: datetime,
    audience: Sequence[Subscriber],
    subjects: dict[str, Any],
) -> list[dict[str, Any]]:
    """The outbox rows of one event: one per subscriber that wants it, sharing the event id."""
    takers = [sub for sub in audience if wanted(sub.events, sub.outcomes, kind, data)]
    if not takers:
        return []
    event_id = str(uuid.uuid4())
    contact = subjects.get("contact")
    envelope = {
        "id": event_id,
        "type": kind,
        "created_at": now.isoformat(),
        "tenant_id": tenant_id,
        "campaign": subjects["campaign"],
        "data": {**data, **({"contact": contact} if contact is not None else {})},
    }
    return [
        {
            "event_id": event_id,
            "tenant_id": tenant_id,
            "subscription_id": sub.id,
            "campaign_id": campaign_id,
            "event": kind,
            "payload": _body(sub.format, envelope, subjects["tenant"]),
            "state": PENDING,
            "tries": 0,
            "next_attempt_at": now,
            "replays": 0,
            "created_at": now,
            "updated_at": now,
        }
        for sub in takers
    ]


def _body(fmt: str, envelope: dict[str, Any], tenant: dict[str, Any]) -> dict[str, Any]:
    if fmt == WebhookFormat.YUNFU:
        return call_notification(envelope, tenant)
    return envelope


def _subjects(conn: Connection, campaign_id: int, contact_id: int | None) -> dict[str, Any]:
    """What a receiver wants to know of an event's campaign (and contact) beyond the ids."""
    row = conn.execute(
        select(
            campaigns.c.uuid,
            campaigns.c.name,
            campaigns.c.external_id,
            campaigns.c.vendor,
            tenants.c.uuid.label("tenant_uuid"),
            tenants.c.name.label("tenant_name"),
            tenants.c.timezone,
        )
        .join(tenants, tenants.c.id == campaigns.c.tenant_id)
        .where(campaigns.c.id == campaign_id)
    ).one()
    out: dict[str, Any] = {
        "campaign": {
            "id": campaign_id,
            "uuid": row.uuid,
            "name": row.name,
            "external_id": row.external_id,
        },
        "tenant": {"uuid": row.tenant_uuid, "name": row.tenant_name, "timezone": row.timezone},
    }
    if contact_id is not None and (found := _contacts(conn, [contact_id])):
        out["contact"] = found[contact_id]
    return out


def _contacts(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    columns = (
        contacts.c.id,
        contacts.c.uuid,
        contacts.c.external_id,
        contacts.c.name,
        contacts.c.pass_through,
        contacts.c.primary_number,
    )
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 5000):
        chunk = list(ids[start : start + 5000])
        for row in conn.execute(select(*columns).where(contacts.c.id.in_(chunk))):
            out[row.id] = dict(row._mapping)
    return out


# --- the delivery worker's side ---------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A delivery leased for one try."""

    id: int
    event_id: str
    event: str
    payload: dict[str, Any]
    tries: int  # counting this one
    subscription_id: int
    url: str
    secret_encrypted: str
    max_tries: int


@dataclass(frozen=True)
class TryResult:
    id: int
    subscription_id: int
    state: DeliveryState
    status: int | None
    error: str | None
    next_attempt_at: datetime | None  # a later try (pending)


SUBSCRIPTIONS_PER_CLAIM = 50
PENDING_INDEX = "ix_webhook_deliveries_pending"


def _due(now: Any) -> Any:
    return and_(
        d.c.state == PENDING,
        d.c.next_attempt_at <= now,
        or_(d.c.lease_expires_at.is_(None), d.c.lease_expires_at < now),
    )


def claim(
    conn: Connection, owner: str, now: datetime, lease_seconds: float, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries for ``owner``, never more at once per
    subscription than its ``max_concurrency`` (counting every worker's live leases). Each
    claim counts as a try (a worker that dies mid-try has spent it)."""
    if limit <= 0:
        return []
    out: list[Claimed] = []
    for sub_id in _ready_subscriptions(conn, now):
        if len(out) >= limit:
            break
        out += _claim_for(conn, sub_id, owner, now, lease_seconds, limit - len(out))
    return out


def _ready_subscriptions(conn: Connection, now: datetime) -> list[int]:
    """Enabled subscriptions with room under their limit and a delivery due, in a random
    order (a few busy ones do not starve the rest). Found from the pending deliveries, not
    the subscriptions: a skip over the partial index of pending deliveries, one index probe
    per subscription that has any, so idle subscriptions (however many) cost nothing."""
    return list(conn.scalars(_ready_query(conn.dialect.name), {"now": now}))


@cache
def _ready_query(dialect: str) -> Any:
    """Built once per dialect (building it took longer than running it)."""
    now = bindparam("now", type_=d.c.next_attempt_at.type)
    waiting = _waiting_subscriptions(dialect)
    in_flight = (
        select(d.c.subscription_id, func.count().label("n"))
        .where(d.c.lease_expires_at >= now)  # the partial index of live leases
        .group_by(d.c.subscription_id)
        .subquery()
    )
    full = select(in_flight.c.subscription_id).where(
        in_flight.c.subscription_id == s.c.id, in_flight.c.n >= s.c.max_concurrency
    )
    due = select(d.c.id).where(d.c.subscription_id == s.c.id, _due(now))
    return (
        select(s.c.id)
        .join(waiting, waiting.c.id == s.c.id)
        .where(s.c.enabled.is_(True), ~full.exists(), due.exists())
        .order_by(func.random())
        .limit(SUBSCRIPTIONS_PER_CLAIM)
    )


def _waiting_subscriptions(dialect: str) -> Any:
    """The subscriptions with a pending delivery, each found by one probe of the partial
    index ix_webhook_deliveries_pending (a recursive 'loose index scan': the next
    subscription id above the last). The state is a literal so that both databases see the
    index's condition in the query; SQLite is told the index (its planner, without
    statistics, would rather sort the pending deliveries it finds by state)."""
    pending = text(
        f"webhook_deliveries INDEXED BY {PENDING_INDEX}"
        if dialect == "sqlite"
        else "webhook_deliveries"
    )
    sub_id: Any = column("subscription_id")
    is_pending = column("state") == literal_column(f"'{PENDING}'")

    def first(*where: Any) -> Any:
        query = select(sub_id).select_from(pending).where(is_pending, *where)
        return query.order_by(sub_id).limit(1).scalar_subquery()

    start = select(first().label("id")).cte("waiting", recursive=True)
    step = select(first(sub_id > start.c.id)).where(start.c.id.is_not(None))
    return start.union_all(step)


def _claim_for(
    conn: Connection, sub_id: int, owner: str, now: datetime, lease_seconds: float, limit: int
) -> list[Claimed]:
    sub = conn.execute(
        select(s.c.url, s.c.secret_encrypted, s.c.max_concurrency, s.c.max_tries, s.c.enabled)
        .where(s.c.id == sub_id)
        .with_for_update()  # claimers of one subscription take turns: its limit holds
    ).one_or_none()
    if sub is None or not sub.enabled:
        return []
    busy = conn.scalar(
        select(func.count()).where(d.c.subscription_id == sub_id, d.c.lease_expires_at >= now)
    )
    room = min(sub.max_concurrency - int(busy or 0), limit)
    if room <= 0:
        return []
    ids = (
        select(d.c.id)
        .where(d.c.subscription_id == sub_id, _due(now))
        .order_by(d.c.next_attempt_at)  # the index's order: no sort of the backlog
        .limit(room)
        .with_for_update(skip_locked=True)
    )
    rows = conn.execute(
        update(d)
        .where(d.c.id.in_(ids.scalar_subquery()))
        .values(
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            tries=d.c.tries + 1,
            last_tried_at=now,
            updated_at=now,
        )
        .returning(d.c.id, d.c.event_id, d.c.event, d.c.payload, d.c.tries)
    ).all()
    return [
        Claimed(
            r.id,
            r.event_id,
            r.event,
            r.payload,
            r.tries,
            sub_id,
            sub.url,
            sub.secret_encrypted,
            sub.max_tries,
        )
        for r in sorted(rows, key=lambda r: r.id)
    ]


_FINISH = (
    update(d)
    .where(d.c.id == bindparam("b_id"), d.c.lease_owner == bindparam("b_owner"))
    .values(
        state=bindparam("b_state"),
        last_status=bindparam("b_status"),
        last_error=bindparam("b_error"),
        next_attempt_at=func.coalesce(
            bindparam("b_next", type_=d.c.next_attempt_at.type), d.c.next_attempt_at
        ),
        delivered_at=bindparam("b_delivered", type_=d.c.delivered_at.type),
        lease_owner=None,
        lease_expires_at=None,
        updated_at=bindparam("b_now", type_=d.c.updated_at.type),
    )
)


def finish(
    conn: Connection,
    owner: str,
    results: Sequence[TryResult],
    now: datetime,
    answered: Sequence[int] = (),
) -> None:
    """Record tries' results (those whose lease ``owner`` still holds). ``answered``: the
    subscriptions whose endpoint took a delivery just now; their deliveries waiting out a
    back-off are due again at once (the endpoint is back: no need to wait out a long wait)."""
    if answered:
        conn.execute(
            update(d)
            .where(
                d.c.subscription_id.in_(list(answered)),
                d.c.state == PENDING,
                d.c.tries > 0,
                d.c.next_attempt_at > now,
                d.c.lease_expires_at.is_(None),
            )
            .values(next_attempt_at=now)
        )
    if not results:
        return
    conn.execute(
        _FINISH,
        [
            {
                "b_id": r.id,
                "b_owner": owner,
                "b_state": r.state.value,
                "b_status": r.status,
                "b_error": None if r.error is None else r.error[:500],
                "b_next": r.next_attempt_at,
                "b_delivered": now if r.state is DeliveryState.DELIVERED else None,
                "b_now": now,
            }
            for r in results
        ],
    )


def track_health(
    conn: Connection,
    results: Sequence[TryResult],
    now: datetime,
    disable_after: timedelta | None,
    dead_limit: int | None,
) -> list[int]:
    """Keep each subscription's health from its tries' results: a success clears it, a
    failure starts its ``failing_since`` (if not started), a dead letter counts one more in a
    row. A subscription failing without a success for ``disable_after``, or with
    ``dead_limit`` dead letters in a row, is disabled (its reason kept); returns those."""
    good = {r.subscription_id for r in results if r.state is DeliveryState.DELIVERED}
    failed = {r.subscription_id for r in results} - good
    if good:
        conn.execute(
            update(s)
            .where(
                s.c.id.in_(sorted(good)), or_(s.c.failing_since.is_not(None), s.c.dead_in_row > 0)
            )
            .values(failing_since=None, dead_in_row=0)
        )
    if not failed:
        return []
    conn.execute(
        update(s)
        .where(s.c.id.in_(sorted(failed)), s.c.failing_since.is_(None))
        .values(failing_since=now)
    )
    dead = Counter(r.subscription_id for r in results if r.state is DeliveryState.DEAD)
    dead_rows = [{"b_id": k, "b_n": n} for k, n in dead.items() if k in failed]
    if dead_rows:
        conn.execute(
            update(s)
            .where(s.c.id == bindparam("b_id"))
            .values(dead_in_row=s.c.dead_in_row + bindparam("b_n")),
            dead_rows,
        )
    rules = []
    if disable_after is not None:
        rules.append(s.c.failing_since <= now - disable_after)
    if dead_limit is not None:
        rules.append(s.c.dead_in_row >= dead_limit)
    if not rules:
        return []
    sick = conn.execute(
        select(s.c.id, s.c.failing_since, s.c.dead_in_row).where(
            s.c.id.in_(sorted(failed)), s.c.enabled.is_(True), or_(*rules)
        )
    ).all()
    last_error = {r.subscription_id: r.error for r in results if r.error}
    for row in sick:
        reason = (
            f"failing since {row.failing_since.isoformat(timespec='seconds')}, "
            f"{row.dead_in_row} dead letters in a row; last error: "
            f"{last_error.get(row.id) or 'unknown'}"
        )[:500]
        conn.execute(
            update(s)
            .where(s.c.id == row.id)
            .values(enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now)
        )
    return [row.id for row in sick]


def release(conn: Connection, owner: str, ids: Sequence[int], now: datetime) -> int:
    """Give back leases of tries not made (a worker stopping): due again, the try unspent."""
    if not ids:
        return 0
    return conn.execute(
        update(d)
        .where(d.c.id.in_(list(ids)), d.c.lease_owner == owner, d.c.state == PENDING)
        .values(lease_owner=None, lease_expires_at=None, tries=d.c.tries - 1, updated_at=now)
    ).rowcount


def replay(conn: Connection, where: Any, now: datetime) -> int:
    """Dead letters (those ``where`` selects) due again, with their tries back to zero."""
    return conn.execute(
        update(d)
        .where(where, d.c.state == DeliveryState.DEAD.value)
        .values(
            state=PENDING,
            tries=0,
            next_attempt_at=now,
            lease_owner=None,
            lease_expires_at=None,
            replays=d.c.replays + 1,
            updated_at=now,
        )
    ).rowcount


PURGE_BATCH = 10_000


def purge(conn: Connection, before: datetime) -> int:
    """Forget deliveries delivered before ``before`` (a batch of them; dead letters stay)."""
    old = (
        select(d.c.id)
        .where(
            d.c.state == DeliveryState.DELIVERED.value,
            d.c.next_attempt_at < before,  # the index's range; delivered after it was due
            d.c.delivered_at < before,
        )
        .limit(PURGE_BATCH)
    )
    return conn.execute(delete(d).where(d.c.id.in_(old.scalar_subquery()))).rowcount
