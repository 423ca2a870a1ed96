"""Reported statistics equal aggregates of the attempt ledger (guarantee 6).

Attempt rows are written straight into the server's store, as the engine would write them;
the test computes the expected figures itself from the rows it wrote and compares them with
GET /campaigns/{id}/stats and GET /campaigns/{id}/attempts. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, update

from outdial.domain.outcomes import Outcome
from outdial.services.container import Services
from outdial.store.schema import attempts, contacts
from tests.support import Api, fields

STATES = ["pending", "in_progress", "paused", "succeeded", "failed", "cancelled"]
TERMINAL = {"succeeded", "failed", "cancelled"}
OUTCOMES = [o.value for o in Outcome]
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Attempt:
    contact: int  # index into the ledger's contacts
    phone: int  # index into that contact's phones
    outcome: str | None  # None: still open (no hangup yet)
    talk_centis: int
    transfer: str | None = None  # a script's hand-off: "waiting", "bridged" or "no_agent"

    @property
    def ended(self) -> bool:
        return self.outcome is not None

    @property
    def talk_seconds(self) -> float:
        return self.talk_centis / 100 if self.outcome == "answered" else 0.0

    @property
    def abandoned(self) -> bool:
        return self.outcome == "abandoned"


@dataclass(frozen=True)
class Ledger:
    contacts: list[tuple[str, int]]  # (state, number of phones)
    attempts: list[Attempt]


@st.composite
def ledgers(draw: Callable[..., Any]) -> Ledger:
    people = draw(
        st.lists(st.tuples(st.sampled_from(STATES), st.integers(1, 3)), min_size=0, max_size=6)
    )
    tries: list[Attempt] = []
    if people:
        raw = draw(
            st.lists(
                st.tuples(
                    st.integers(0, len(people) - 1),
                    st.integers(0, 2),
                    st.one_of(st.none(), st.sampled_from(OUTCOMES)),
                    st.integers(0, 360_000),
                    st.sampled_from([None, "waiting", "bridged", "no_agent"]),
                ),
                max_size=16,
            )
        )
        tries = [Attempt(c, p % people[c][1], o, t, h) for c, p, o, t, h in raw]
    return Ledger(people, tries)


def number(contact: int, phone: int, salt: int = 0) -> str:
    return f"+86139{salt:02d}{contact:03d}{phone:03d}"


@dataclass
class Written:
    campaign_id: int
    contact_ids: list[int]
    phones: list[list[dict[str, Any]]]  # per contact, its phones as the API shows them
    attempt_ids: list[int]


def write_ledger(api: Api, server: tuple[str, Services], ledger: Ledger, salt: int = 0) -> Written:
    """Create a campaign with the ledger's contacts and attempts; return the ids."""
    made = api.ok(api.post("/campaigns", {"name": f"ledger-{uuid.uuid4().hex[:10]}"}), 201)
    cid = int(made["id"])
    contact_ids: list[int] = []
    phones: list[list[dict[str, Any]]] = []
    if ledger.contacts:
        rows = [
            {"phones": [{"number": number(i, k, salt)} for k in range(n)]}
            for i, (_, n) in enumerate(ledger.contacts)
        ]
        result = api.ok(api.post(f"/campaigns/{cid}/contacts", {"contacts": rows}))
        assert result["accepted"] == len(rows), result
        contact_ids = [r["id"] for r in result["results"]]
        page = api.ok(api.get(f"/campaigns/{cid}/contacts", page_size=500))
        by_id = {c["id"]: c["phones"] for c in page["items"]}
        phones = [by_id[i] for i in contact_ids]
    tenant_id = api.tenant["id"]  # type: ignore[attr-defined]
    values = []
    for k, a in enumerate(ledger.attempts):
        phone = phones[a.contact][a.phone]
        created = T0 + timedelta(minutes=k)
        values.append(
            {
                "uuid": str(uuid.uuid4()),
                "tenant_id": tenant_id,
                "campaign_id": cid,
                "contact_id": contact_ids[a.contact],
                "phone_id": phone["id"],
                "number": phone["number"],
                "caller_number": "95187",
                "line_id": None,
                "agent_id": None,
                "worker_id": "w1",
                "call_id": f"call-{k}",
                "created_at": created,
                "ringing_at": created + timedelta(seconds=1),
                "answered_at": created + timedelta(seconds=5)
                if a.outcome in ("answered", "answered_machine", "abandoned")
                else None,
                "ended_at": created + timedelta(seconds=30) if a.ended else None,
                "outcome": a.outcome,
                "native_cause": a.outcome.upper() if a.outcome else "",
                "talk_seconds": a.talk_seconds,
                "abandoned": a.abandoned,
                "connected_at": None,
                "transferred_at": created + timedelta(seconds=20) if a.transfer else None,
                "transfer_result": a.transfer if a.transfer != "waiting" else None,
                "data": {"k": k},
            }
        )
    attempt_ids: list[int] = []
    with server[1].store.write() as conn:
        for state in set(STATES):
            ids = [contact_ids[i] for i, (s, _) in enumerate(ledger.contacts) if s == state]
            if ids:
                conn.execute(update(contacts).where(contacts.c.id.in_(ids)).values(state=state))
        for v in values:
            attempt_ids.append(conn.scalar(insert(attempts).values(**v).returning(attempts.c.id)))
    return Written(cid, contact_ids, phones, attempt_ids)


def expected_stats(ledger: Ledger) -> dict[str, Any]:
    """The statistics, computed here from the rows the test wrote."""
    by_state = Counter(state for state, _ in ledger.contacts)
    total = len(ledger.contacts)
    completed = sum(by_state[s] for s in TERMINAL)
    dialed = len({a.contact for a in ledger.attempts if a.ended})
    connected = len({a.contact for a in ledger.attempts if a.outcome == "answered"})
    outcomes = Counter(a.outcome for a in ledger.attempts if a.outcome is not None)
    return {
        "contacts": {
            "total": total,
            **{s: by_state[s] for s in STATES},
            "completed": completed,
            "dialed": dialed,
            "connected": connected,
        },
        "connect_rate": round(connected / dialed, 4) if dialed else 0.0,
        "progress": round(completed / total, 4) if total else 0.0,
        "attempts": {
            "total": len(ledger.attempts),
            "open": sum(1 for a in ledger.attempts if not a.ended),
            "by_outcome": dict(outcomes),
            "talk_seconds": pytest.approx(sum(a.talk_seconds for a in ledger.attempts)),
            "abandoned": sum(1 for a in ledger.attempts if a.abandoned),
            "transfers": {
                "requested": sum(1 for a in ledger.attempts if a.transfer),
                "bridged": sum(1 for a in ledger.attempts if a.transfer == "bridged"),
                "no_agent": sum(1 for a in ledger.attempts if a.transfer == "no_agent"),
            },
        },
    }


def attempt_ids(api: Api, campaign_id: int, **params: Any) -> list[int]:
    page = api.ok(api.get(f"/campaigns/{campaign_id}/attempts", page_size=500, **params))
    ids = [a["id"] for a in page["items"]]
    assert page["total"] == len(ids)
    return ids


def check_attempts_api(api: Api, ledger: Ledger, written: Written) -> None:
    cid, ids = written.campaign_id, written.attempt_ids
    pairs = list(zip(ids, ledger.attempts, strict=True))
    assert attempt_ids(api, cid) == ids
    for outcome in {a.outcome for a in ledger.attempts if a.outcome} | {"busy"}:
        assert attempt_ids(api, cid, outcome=outcome) == [
            i for i, a in pairs if a.outcome == outcome
        ]
    assert attempt_ids(api, cid, open="true") == [i for i, a in pairs if not a.ended]
    assert attempt_ids(api, cid, open="false") == [i for i, a in pairs if a.ended]
    for k, contact_id in enumerate(written.contact_ids):
        mine = [i for i, a in pairs if a.contact == k]
        assert attempt_ids(api, cid, contact_id=contact_id) == mine
        first = written.phones[k][0]["number"]
        on_first = [i for i, a in pairs if a.contact == k and a.phone == 0]
        assert attempt_ids(api, cid, number=first) == on_first
        assert attempt_ids(api, cid, contact_id=contact_id, open="false") == [
            i for i, a in pairs if a.contact == k and a.ended
        ]
    paged: list[int] = []
    page_no = 1
    while True:
        page = api.ok(api.get(f"/campaigns/{cid}/attempts", page=page_no, page_size=4))
        assert (page["total"], page["page"], page["page_size"]) == (len(ids), page_no, 4)
        if not page["items"]:
            break
        paged += [a["id"] for a in page["items"]]
        page_no += 1
    assert paged == ids


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ledger=ledgers())
def test_stats_equal_the_ledger(api: Api, server: tuple[str, Services], ledger: Ledger) -> None:
    written = write_ledger(api, server, ledger)
    stats = api.ok(api.get(f"/campaigns/{written.campaign_id}/stats"))
    assert stats == expected_stats(ledger)
    check_attempts_api(api, ledger, written)


def test_a_worked_example(api: Api, server: tuple[str, Services]) -> None:
    """The figures by hand, so the rules are readable: who counts as dialed and connected."""
    ledger = Ledger(
        contacts=[
            ("succeeded", 2),
            ("in_progress", 1),
            ("pending", 1),
            ("failed", 1),
            ("pending", 1),
        ],
        attempts=[
            Attempt(0, 0, "no_answer", 0),
            Attempt(0, 1, "answered", 3050),  # contact 0: dialed twice, connected once
            Attempt(1, 0, "busy", 0),
            Attempt(1, 0, None, 0),  # contact 1: dialed, a call in progress now
            Attempt(2, 0, None, 0),  # contact 2: ringing, never ended: not dialed yet
            Attempt(3, 0, "abandoned", 0),  # contact 3: answered but lost: not connected
            Attempt(3, 0, "answered_machine", 0),
        ],
    )
    written = write_ledger(api, server, ledger)
    # Another campaign's ledger must not leak into this one's figures.
    write_ledger(api, server, Ledger([("succeeded", 1)], [Attempt(0, 0, "answered", 999)]), salt=1)
    stats = api.ok(api.get(f"/campaigns/{written.campaign_id}/stats"))
    assert stats["contacts"] == {
        "total": 5,
        "pending": 2,
        "in_progress": 1,
        "paused": 0,
        "succeeded": 1,
        "failed": 1,
        "cancelled": 0,
        "completed": 2,
        "dialed": 3,
        "connected": 1,
    }
    assert stats["connect_rate"] == 0.3333
    assert stats["progress"] == 0.4
    assert stats["attempts"] == {
        "total": 7,
        "open": 2,
        "by_outcome": {
            "no_answer": 1,
            "answered": 1,
            "busy": 1,
            "abandoned": 1,
            "answered_machine": 1,
        },
        "talk_seconds": 30.5,
        "abandoned": 1,
        "transfers": {"requested": 0, "bridged": 0, "no_agent": 0},
    }
    assert stats == expected_stats(ledger)
    check_attempts_api(api, ledger, written)
    one = api.ok(api.get(f"/campaigns/{written.campaign_id}/attempts/{written.attempt_ids[1]}"))
    assert (one["outcome"], one["talk_seconds"], one["contact_id"]) == (
        "answered",
        30.5,
        written.contact_ids[0],
    )
    assert one["number"] == written.phones[0][1]["number"]


def test_empty_campaign(api: Api) -> None:
    cid = api.ok(api.post("/campaigns", {"name": "empty"}), 201)["id"]
    stats = api.ok(api.get(f"/campaigns/{cid}/stats"))
    assert stats == expected_stats(Ledger([], []))
    assert stats["attempts"]["by_outcome"] == {} and stats["connect_rate"] == 0.0
    page = api.ok(api.get(f"/campaigns/{cid}/attempts"))
    assert (page["items"], page["total"], page["page"], page["page_size"]) == ([], 0, 1, 50)


def test_bad_attempt_filters(api: Api) -> None:
    cid = api.ok(api.post("/campaigns", {"name": "filters"}), 201)["id"]
    for params, field in [
        ({"contact_id": "one"}, "contact_id"),
        ({"open": "maybe"}, "open"),
        ({"state": "x"}, "state"),
        ({"page": 0}, "page"),
        ({"page_size": 501}, "page_size"),
    ]:
        resp = api.get(f"/campaigns/{cid}/attempts", **params)
        assert resp.status_code == 422, (params, resp.text)
        assert fields(resp) == {field}


def test_attempts_are_scoped_to_campaign_and_tenant(
    new_tenant: Callable[..., Api], server: tuple[str, Services]
) -> None:
    api, stranger = new_tenant(), new_tenant()
    ledger = Ledger([("succeeded", 1)], [Attempt(0, 0, "answered", 100)])
    written = write_ledger(api, server, ledger)
    sibling = write_ledger(api, server, Ledger([], []))
    theirs = write_ledger(stranger, server, ledger)
    cid, aid = written.campaign_id, written.attempt_ids[0]
    for who, path in [
        (stranger, f"/campaigns/{cid}/attempts"),
        (stranger, f"/campaigns/{cid}/attempts/{aid}"),
        (stranger, f"/campaigns/{cid}/stats"),
        (stranger, f"/campaigns/{theirs.campaign_id}/attempts/{aid}"),
        (api, f"/campaigns/{sibling.campaign_id}/attempts/{aid}"),
        (api, f"/campaigns/{cid}/attempts/{theirs.attempt_ids[0]}"),
        (api, f"/campaigns/{theirs.campaign_id}/attempts"),
        (api, f"/campaigns/{cid}/attempts/999999"),
        (api, "/campaigns/999999/attempts"),
    ]:
        resp = who.get(path)
        assert resp.status_code == 404, (path, resp.text)
        assert resp.json()["code"] == "not_found"
    assert api.ok(api.get(f"/campaigns/{cid}/attempts/{aid}"))["id"] == aid
    # The stranger's own ledger, with the same shape, stays its own.
    assert attempt_ids(stranger, theirs.campaign_id) == theirs.attempt_ids
    assert attempt_ids(api, sibling.campaign_id) == []
