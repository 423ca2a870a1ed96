"""The attempt ledger's batched writes, on SQLite and PostgreSQL: the attempts of a dial step
opened in one transaction under the same rules as one at a time (line and campaign capacity,
a number's daily cap, interval and DNC entry, one attempt per contact), and finished attempts
closed in group commits that are written before the ledger reads or writes anything else."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from outdial.domain.eligibility import Eligibility
from outdial.domain.outcomes import ContactState, Outcome
from outdial.domain.redial import Verdict
from outdial.engine import ledger as ledger_module
from outdial.engine.config import load_config
from outdial.engine.dial_check import DialCheck
from outdial.engine.ledger import Closing, Dial, Ledger, OpenAttempt, Refusal
from outdial.store.schema import attempts, contact_phones, contacts, events
from tests.integration.test_engine_rules import T0, Rig, RigFactory, people

NOW = T0 + timedelta(hours=2)  # 10:00 in Shanghai, a Monday


def setup(rig: Rig, count: int, **fields: Any) -> tuple[Ledger, dict[str, Any], list[Dial]]:
    """A started campaign of ``count`` contacts, all leased by a fresh ledger, as dials."""
    cid = rig.campaign(people(count), **fields)
    ledger = Ledger(rig.store, "w1")
    campaign = ledger.campaign(cid)
    config = load_config(rig.store, campaign)
    leased = ledger.lease_contacts(cid, NOW, count, 60)
    assert len(leased) == count
    return ledger, campaign, [dial(campaign, config, c) for c in leased]


def dial(campaign: dict[str, Any], config: Any, contact: Any) -> Dial:
    return Dial(contact, "95187", DialCheck(campaign, config, contact, NOW))


def opened(results: list[Any]) -> list[OpenAttempt]:
    return [r for r in results if isinstance(r, OpenAttempt)]


def open_rows(rig: Rig, campaign_id: int) -> list[dict[str, Any]]:
    query = select(attempts).where(attempts.c.campaign_id == campaign_id)
    with rig.store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(query.order_by(attempts.c.id))]


def closing(attempt: OpenAttempt, tenant_id: int, outcome: Outcome = Outcome.BUSY) -> Closing:
    verdict = Verdict(ContactState.FAILED, "busy", 0, None, outcome, True)
    return Closing(attempt, tenant_id, outcome, "486", NOW + timedelta(seconds=5), verdict)


def test_a_batch_opens_only_what_the_line_has_free(make_rig: RigFactory) -> None:
    rig = make_rig(channels=3)
    ledger, campaign, dials = setup(rig, 5, max_concurrency=10)

    results = ledger.open_batch(campaign, dials, NOW)

    made = opened(results)
    assert [type(r) for r in results[:3]] == [OpenAttempt] * 3
    assert results[3:] == [Refusal.FULL, Refusal.FULL]
    rows = open_rows(rig, campaign["id"])
    assert [(r["id"], r["uuid"], r["contact_id"]) for r in rows] == [
        (a.id, a.uuid, a.contact_id) for a in made
    ]
    assert all(r["call_id"] == r["uuid"] and r["outcome"] is None for r in rows)
    states = {c["id"]: (c["state"], c["attempt_count"]) for c in rig.contacts(campaign["id"])}
    for d, result in zip(dials, results, strict=True):
        dialed = isinstance(result, OpenAttempt)
        assert states[d.contact.id] == (("in_progress", 1) if dialed else ("pending", 0))
        assert d.contact.phone.attempt_count == int(dialed)
    # the line is full now: a second batch opens nothing
    assert ledger.open_batch(campaign, dials[3:], NOW) == [Refusal.FULL, Refusal.FULL]


def test_a_batch_keeps_to_the_campaign_limit(make_rig: RigFactory) -> None:
    rig = make_rig(channels=10)
    ledger, campaign, dials = setup(rig, 4, max_concurrency=2)
    results = ledger.open_batch(campaign, dials, NOW)
    assert len(opened(results)) == 2
    assert results[2:] == [Refusal.FULL, Refusal.FULL]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"max_attempts_per_day": 1}, "daily_cap"),
        ({"min_attempt_interval_seconds": 600}, "min_interval"),
    ],
)
def test_a_number_twice_in_a_batch_sees_its_first_attempt(
    make_rig: RigFactory, fields: dict[str, Any], reason: str
) -> None:
    rig = make_rig(channels=10)
    ledger, campaign, dials = setup(rig, 3, **fields)
    same = dials[0].contact.phone.number
    with rig.store.write() as conn:
        conn.execute(
            update(contact_phones)
            .where(contact_phones.c.id == dials[2].contact.phone.id)
            .values(number=same)
        )
    dials[2].contact.phone.number = same

    results = ledger.open_batch(campaign, dials, NOW)

    assert isinstance(results[0], OpenAttempt) and isinstance(results[1], OpenAttempt)
    refused = results[2]
    assert isinstance(refused, Eligibility) and not refused.eligible
    assert reason in refused.reasons, refused.reasons
    assert [r["number"] for r in open_rows(rig, campaign["id"])].count(same) == 1


def test_a_number_on_the_dnc_list_is_refused_in_a_batch(make_rig: RigFactory) -> None:
    rig = make_rig(channels=10)
    ledger, campaign, dials = setup(rig, 3)
    rig.dnc(dials[1].contact.phone.number)

    results = ledger.open_batch(campaign, dials, NOW)

    assert isinstance(results[1], Eligibility) and not results[1].eligible
    assert dials[1].decide.on_dnc and not dials[0].decide.on_dnc
    assert len(opened(results)) == 2


def test_a_contact_taken_elsewhere_or_twice_in_a_batch_gets_no_attempt(
    make_rig: RigFactory,
) -> None:
    rig = make_rig(channels=10)
    ledger, campaign, dials = setup(rig, 3)
    with rig.store.write() as conn:
        conn.execute(
            update(contacts)
            .where(contacts.c.id == dials[1].contact.id)
            .values(lease_owner="another-worker")
        )

    results = ledger.open_batch(campaign, [*dials, dials[0]], NOW)

    assert isinstance(results[0], OpenAttempt) and isinstance(results[2], OpenAttempt)
    assert results[1] is Refusal.TAKEN and results[3] is Refusal.TAKEN
    assert sorted(r["contact_id"] for r in open_rows(rig, campaign["id"])) == sorted(
        [dials[0].contact.id, dials[2].contact.id]
    )


def test_closes_are_group_committed_and_read_back_by_the_ledger(make_rig: RigFactory) -> None:
    rig = make_rig(channels=10)
    ledger, campaign, dials = setup(rig, 3)
    made = opened(ledger.open_batch(campaign, dials, NOW))
    tenant_id = int(campaign["tenant_id"])

    async def close_two() -> tuple[int, int]:
        ledger.close_attempt(closing(made[0], tenant_id))
        ledger.close_attempt(closing(made[1], tenant_id, Outcome.NO_ANSWER))
        waiting = sum(r["outcome"] is None for r in open_rows(rig, campaign["id"]))
        await asyncio.sleep(ledger.close_delay * 2)
        return waiting, sum(r["outcome"] is None for r in open_rows(rig, campaign["id"]))

    before, after = rig.loop.run_until_complete(close_two())
    assert (before, after) == (3, 1)  # written together after the delay, not at once
    rows = {r["id"]: r for r in open_rows(rig, campaign["id"])}
    assert (rows[made[0].id]["outcome"], rows[made[1].id]["outcome"]) == ("busy", "no_answer")
    assert rows[made[0].id]["native_cause"] == "486"
    with rig.store.read() as conn:
        kinds = list(conn.scalars(select(events.c.data).where(events.c.kind == "attempt.ended")))
    assert sorted(k["attempt_id"] for k in kinds) == sorted([made[0].id, made[1].id])

    async def close_then_read() -> tuple[int, datetime | None, int]:
        ledger.close_attempt(closing(made[2], tenant_id))
        return ledger.pending_summary(campaign["id"])  # sees the close at once

    _, _, open_count = rig.loop.run_until_complete(close_then_read())
    assert open_count == 0
    assert {c["state"] for c in rig.contacts(campaign["id"])} == {"failed"}


def test_without_a_running_loop_a_close_is_written_at_once(make_rig: RigFactory) -> None:
    rig = make_rig(channels=10)
    ledger, campaign, dials = setup(rig, 1)
    (attempt,) = opened(ledger.open_batch(campaign, dials, NOW))
    ledger.close_attempt(closing(attempt, int(campaign["tenant_id"])))
    assert open_rows(rig, campaign["id"])[0]["outcome"] == "busy"


def test_an_attempt_closed_already_is_left_as_it_is(make_rig: RigFactory) -> None:
    """A reconciling worker closed it first: its outcome and its contact stay; the other
    closes of the same group commit are written."""
    rig = make_rig(channels=10)
    ledger, campaign, dials = setup(rig, 2)
    first, second = opened(ledger.open_batch(campaign, dials, NOW))
    tenant_id = int(campaign["tenant_id"])
    Ledger(rig.store, "w2").close_attempt(closing(first, tenant_id, Outcome.CANCELLED))

    with rig.store.write() as conn:
        ledger_module.close_attempts(
            conn, [closing(first, tenant_id, Outcome.ANSWERED), closing(second, tenant_id)]
        )

    rows = {r["id"]: r for r in open_rows(rig, campaign["id"])}
    assert (rows[first.id]["outcome"], rows[second.id]["outcome"]) == ("cancelled", "busy")
    with rig.store.read() as conn:
        ended = conn.scalar(
            select(func.count()).where(
                events.c.campaign_id == campaign["id"], events.c.kind == "attempt.ended"
            )
        )
    assert ended == 2  # one each, not a second one for the attempt closed first


def test_a_group_commit_that_fails_closes_each_attempt_alone(
    make_rig: RigFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig(channels=10)
    ledger, campaign, dials = setup(rig, 3)
    made = opened(ledger.open_batch(campaign, dials, NOW))
    tenant_id = int(campaign["tenant_id"])
    real = ledger_module.close_attempts

    def fails_together(conn: Any, closings: Any) -> None:
        if len(closings) > 1:
            raise RuntimeError("the batch fails")
        real(conn, closings)

    monkeypatch.setattr(ledger_module, "close_attempts", fails_together)

    async def close_all() -> None:
        for attempt in made:
            ledger.close_attempt(closing(attempt, tenant_id))
        ledger.flush()

    rig.loop.run_until_complete(close_all())

    assert {r["outcome"] for r in open_rows(rig, campaign["id"])} == {"busy"}
    assert "closing 3 attempts together failed" in caplog.text


# --- a batch decides as one attempt at a time would ------------------------------------------


@st.composite
def steps(draw: st.DrawFn) -> dict[str, Any]:
    """A dial step: contacts over a few numbers (so some repeat), some on the DNC list, a line
    and a campaign limit that may be smaller than the step, a daily cap and an interval."""
    pool = draw(st.integers(1, 4))
    return {
        "numbers": draw(st.lists(st.integers(0, pool - 1), min_size=1, max_size=8)),
        "dnc": draw(st.sets(st.integers(0, pool - 1), max_size=1)),
        "channels": draw(st.integers(1, 8)),
        "max_concurrency": draw(st.integers(1, 8)),
        "max_attempts_per_day": draw(st.sampled_from([None, 1, 2])),
        "min_attempt_interval_seconds": draw(st.sampled_from([0, 600])),
    }


EXAMPLES = iter(range(1, 100_000))


def step_dials(
    rig: Rig, step: dict[str, Any], numbers: list[str]
) -> tuple[Ledger, Any, list[Dial]]:
    """A campaign on its own line whose contacts' phones have ``numbers``, leased, as dials."""
    line_id = rig.line(step["channels"])
    limits = {k: step[k] for k in ("max_concurrency", "max_attempts_per_day")}
    ledger, campaign, dials = setup(
        rig,
        len(numbers),
        line_id=line_id,
        min_attempt_interval_seconds=step["min_attempt_interval_seconds"],
        **limits,
    )
    with rig.store.write() as conn:
        for d, number in zip(dials, numbers, strict=True):
            conn.execute(
                update(contact_phones)
                .where(contact_phones.c.id == d.contact.phone.id)
                .values(number=number)
            )
            d.contact.phone.number = number
    return ledger, campaign, dials


def kind(result: Any) -> Any:
    if isinstance(result, OpenAttempt):
        return "opened"
    if isinstance(result, Eligibility):
        return tuple(result.reasons)
    return "no channel" if result in (None, Refusal.FULL) else result


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(step=steps())
def test_a_batch_decides_as_one_attempt_at_a_time_would(
    make_rig: RigFactory, step: dict[str, Any]
) -> None:
    rig = make_rig()
    example = next(EXAMPLES)
    pool = [f"+86139{example:05d}{k:03d}" for k in range(4)]
    for k in step["dnc"]:
        rig.dnc(pool[k])
    numbers = [pool[k] for k in step["numbers"]]

    ledger, campaign, dials = step_dials(rig, step, numbers)
    batch = [kind(r) for r in ledger.open_batch(campaign, dials, NOW)]
    ledger, campaign, dials = step_dials(rig, step, numbers)
    one_by_one = [
        kind(ledger.open_attempt(campaign, d.contact, d.caller_number, NOW, d.decide))
        for d in dials
    ]

    assert batch == one_by_one
    assert batch.count("opened") <= min(step["channels"], step["max_concurrency"])
