"""Campaign statistics, aggregated straight from the contacts and the attempt ledger."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from outdial.domain.outcomes import CONNECTED, CONTACT_TERMINAL, ContactState
from outdial.domain.transfer import TransferResult
from outdial.store.schema import attempts, contacts


def campaign_stats(conn: Connection, campaign_id: int) -> dict[str, Any]:
    by_state = _contacts_by_state(conn, campaign_id)
    total = sum(by_state.values())
    completed = sum(by_state[s.value] for s in CONTACT_TERMINAL)
    ledger = _ledger(conn, campaign_id)
    dialed, connected = ledger["contacts_dialed"], ledger["contacts_connected"]
    return {
        "contacts": {
            "total": total,
            **by_state,
            "completed": completed,
            "dialed": dialed,
            "connected": connected,
        },
        "connect_rate": _ratio(connected, dialed),
        "progress": _ratio(completed, total),
        "attempts": ledger["attempts"],
    }


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _contacts_by_state(conn: Connection, campaign_id: int) -> dict[str, int]:
    query = (
        select(contacts.c.state, func.count())
        .where(contacts.c.campaign_id == campaign_id)
        .group_by(contacts.c.state)
    )
    counts = {s.value: 0 for s in ContactState}
    counts.update({state: n for state, n in conn.execute(query)})
    return counts


def _ledger(conn: Connection, campaign_id: int) -> dict[str, Any]:
    mine = attempts.c.campaign_id == campaign_id
    by_outcome = {
        (outcome or "open"): n
        for outcome, n in conn.execute(
            select(attempts.c.outcome, func.count()).where(mine).group_by(attempts.c.outcome)
        )
    }
    ended = attempts.c.ended_at.is_not(None)
    totals = conn.execute(
        select(
            func.count(func.distinct(attempts.c.contact_id)).filter(ended),
            func.count(func.distinct(attempts.c.contact_id)).filter(
                attempts.c.outcome.in_([o.value for o in CONNECTED])
            ),
            func.coalesce(func.sum(attempts.c.talk_seconds), 0.0),
            func.count().filter(attempts.c.abandoned.is_(True)),
            func.count().filter(attempts.c.transferred_at.is_not(None)),
            func.count().filter(attempts.c.transfer_result == TransferResult.BRIDGED.value),
            func.count().filter(attempts.c.transfer_result == TransferResult.NO_AGENT.value),
        ).where(mine)
    ).one()
    return {
        "contacts_dialed": totals[0],
        "contacts_connected": totals[1],
        "attempts": {
            "total": sum(by_outcome.values()),
            "open": by_outcome.pop("open", 0),
            "by_outcome": by_outcome,
            "talk_seconds": float(totals[2]),
            "abandoned": totals[3],
            "transfers": {"requested": totals[4], "bridged": totals[5], "no_agent": totals[6]},
        },
    }
