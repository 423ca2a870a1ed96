"""Campaign lifecycle under the running engine, in virtual time: pause/resume/cancel take effect
within the state poll, a scheduled campaign starts at its period, a crashed worker's calls are
reconciled on restart, and campaign leases let one worker at a time run a campaign (another
takes over when it dies). Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from outdial.domain.campaign_state import LifecycleAction
from outdial.domain.contact_actions import ContactAction
from outdial.domain.outcomes import Outcome
from outdial.engine.worker import EngineSettings, Worker
from outdial.sim.loop import LoopClock, VirtualEventLoop
from outdial.store.schema import campaigns
from outdial.store.store import Store
from outdial.telephony.sim import SimTelephony
from tests.integration.test_engine_rules import (
    T0,
    RigFactory,
    callees,
    peak,
    people,
    spans,
)

# Production polling (pause within 1 s), without a progress event every few seconds.
LIVE = EngineSettings(progress_seconds=3600)
POLL = timedelta(seconds=LIVE.state_poll_seconds)


def one_call_at_a_time(made: list[dict[str, Any]]) -> None:
    """No contact had two calls up at once."""
    per_contact: dict[int, list[tuple[datetime, datetime]]] = {}
    for x in made:
        per_contact.setdefault(x["contact_id"], []).append((x["created_at"], x["ended_at"]))
    doubled = [cid for cid, calls in per_contact.items() if peak(calls) > 1]
    assert not doubled, f"contacts dialed twice at once: {doubled}"


def open_at(made: list[dict[str, Any]], at: datetime) -> list[dict[str, Any]]:
    return [a for a in made if a["created_at"] <= at < a["ended_at"]]


# --- pause, resume, cancel -------------------------------------------------------------------


def test_pause_stops_new_calls_within_the_poll_and_resume_continues(
    make_rig: RigFactory,
) -> None:
    rig = make_rig()
    cid = rig.campaign(people(40), max_concurrency=5)
    paused_at, resumed_at = T0 + timedelta(seconds=200), T0 + timedelta(seconds=900)
    seen: dict[str, Any] = {}

    def look() -> None:
        seen["state"] = rig.campaign_row(cid)["state"]
        seen["in_progress"] = [c["id"] for c in rig.contacts(cid) if c["state"] == "in_progress"]

    rig.at(paused_at, lambda: rig.act(cid, LifecycleAction.PAUSE))
    rig.at(paused_at + timedelta(seconds=600), look)
    rig.at(resumed_at, lambda: rig.act(cid, LifecycleAction.RESUME))
    rig.run(cid, callees(Outcome.ANSWERED, talk=60), LIVE)

    made = rig.attempts(cid)
    late = [a["created_at"] for a in made if paused_at + POLL < a["created_at"] < resumed_at]
    assert not late, f"attempts created after the pause took effect: {late}"
    # Calls up when the pause came finished normally; nothing was cut.
    up = open_at(made, paused_at)
    assert up, "expected calls in progress at the pause"
    assert all(a["outcome"] == "answered" and a["talk_seconds"] > 59 for a in up)
    assert seen == {"state": "paused", "in_progress": []}
    # Resume continues within the poll, and the campaign runs to its end.
    after = [a["created_at"] for a in made if a["created_at"] >= resumed_at]
    assert after and min(after) <= resumed_at + POLL
    assert len(made) == 40
    camp = rig.campaign_row(cid)
    assert camp["state"] == "completed"
    assert {c["state"] for c in rig.contacts(cid)} == {"succeeded"}
    rig.audited(cid)


def test_cancel_hangs_up_ringing_calls_and_ends_pending_contacts(make_rig: RigFactory) -> None:
    rig = make_rig()
    talking = people(3, "+86131")  # dialed first (lowest ids): answered, talking at the cancel
    ringing = people(27, "+86130")  # never answer within the ring timeout
    cid = rig.campaign(talking + ringing, max_concurrency=5, ring_timeout_seconds=60)
    cancelled_at = T0 + timedelta(seconds=30)
    rig.at(cancelled_at, lambda: rig.act(cid, LifecycleAction.CANCEL))
    model = callees(Outcome.NO_ANSWER, {"+86131": Outcome.ANSWERED}, talk=120)
    rig.run(cid, model, LIVE)

    made = rig.attempts(cid)
    assert len(made) == 5
    assert all(a["created_at"] <= cancelled_at + POLL for a in made)
    for a in made:
        if a["number"].startswith("+86130"):  # ringing: hung up within the poll
            assert a["outcome"] == "cancelled"
            assert cancelled_at <= a["ended_at"] <= cancelled_at + POLL
        else:  # answered calls are not cut off mid-conversation
            assert a["outcome"] == "answered"
            assert abs(a["talk_seconds"] - 120) < 0.01
    camp = rig.campaign_row(cid)
    assert camp["state"] == "cancelled"
    states = {(c["state"], c["reason"]) for c in rig.contacts(cid) if c["state"] != "succeeded"}
    assert states == {("cancelled", "campaign_cancelled")}
    assert sum(c["state"] == "succeeded" for c in rig.contacts(cid)) == 3
    rig.audited(cid)


def test_scheduled_campaign_starts_running_at_period_start(make_rig: RigFactory) -> None:
    rig = make_rig()
    start = T0 + timedelta(minutes=10)
    cid = rig.campaign(people(10), period_start=start, period_end=T0 + timedelta(days=1))
    assert rig.campaign_row(cid)["state"] == "scheduled"
    rig.run(cid, callees(Outcome.ANSWERED), LIVE)

    made = rig.attempts(cid)
    assert len(made) == 10
    first = min(a["created_at"] for a in made)
    assert start <= first <= start + POLL
    changes = [(to, reason) for _, to, reason in rig.state_changes(cid)]
    # the API's start (draft → scheduled) is in the log too, then the engine's
    assert changes[:2] == [("scheduled", "start"), ("running", "period_started")]
    at, _, _ = rig.state_changes(cid)[1]
    assert start <= at <= start + POLL
    assert rig.campaign_row(cid)["state"] == "completed"
    rig.audited(cid)


# --- crash and restart ----------------------------------------------------------------------


def crash(loop: asyncio.AbstractEventLoop) -> None:
    """Kill everything on ``loop`` where it stands: no cleanup runs, calls stay open."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.close()


def test_restart_after_a_crash_closes_lost_calls_and_completes(make_rig: RigFactory) -> None:
    rig = make_rig()
    cid = rig.campaign(people(40), max_concurrency=6)
    model = callees(Outcome.ANSWERED, talk=120)
    first = rig.worker(model, LIVE, worker_id="before-crash")
    rig.loop.create_task(first.run_campaign(cid))
    rig.loop.run_until_complete(asyncio.sleep(100))
    crashed_at = rig.clock.now()
    crash(rig.loop)

    left_open = [a for a in rig.attempts(cid) if a["ended_at"] is None]
    assert left_open, "expected calls in progress at the crash"
    stuck = {c["id"] for c in rig.contacts(cid) if c["state"] == "in_progress"}
    assert stuck == {a["contact_id"] for a in left_open}

    restarted_at = crashed_at + timedelta(minutes=5)
    loop = VirtualEventLoop()
    try:
        clock = LoopClock(loop, restarted_at)
        second = Worker(
            rig.store, clock, lambda line: SimTelephony(model, clock), LIVE, "after-restart"
        )
        loop.run_until_complete(asyncio.wait_for(second.run_campaign(cid), 86400))
    finally:
        loop.close()

    made = rig.attempts(cid)
    by_id = {a["id"]: a for a in made}
    for a in left_open:
        closed = by_id[a["id"]]
        assert closed["outcome"] == "cancelled", closed
        assert closed["native_cause"].startswith("lost")
        assert closed["ended_at"] == restarted_at
    contacts = rig.contacts(cid)
    assert {c["state"] for c in contacts} == {"succeeded"}
    redialed = {a["contact_id"] for a in made if a["worker_id"] == "after-restart"}
    assert stuck <= redialed
    assert rig.campaign_row(cid)["state"] == "completed"
    assert peak(spans(made)) <= 6
    one_call_at_a_time(made)
    rig.audited(cid)


# --- several workers ------------------------------------------------------------------------


def _second_store(store: Store) -> Store:
    """Another engine (its own connection pool) on the same database, as another process."""
    return Store.from_url(store.engine.url.render_as_string(hide_password=False))


async def kill(worker: Worker, task: asyncio.Task[None]) -> None:
    """The worker's process dies: no shutdown, no lease release; its calls die with it."""

    async def no_cleanup() -> None:
        return None

    worker.shutdown = no_cleanup  # type: ignore[method-assign]
    doomed = [task, *worker._tasks.values()]
    doomed += [t for runner in worker.runners.values() for t in runner.tasks]
    for t in doomed:
        t.cancel()
    await asyncio.gather(*doomed, return_exceptions=True)
    for driver in worker._drivers.values():
        await driver.close()


def lease_of(store: Store, campaign_id: int) -> tuple[str | None, datetime | None]:
    with store.read() as conn:
        owner, expires = conn.execute(
            select(campaigns.c.worker_id, campaigns.c.lease_expires_at).where(
                campaigns.c.id == campaign_id
            )
        ).one()
    return owner, expires


@pytest.mark.parametrize("how", ["stops", "dies"])
def test_one_worker_runs_a_campaign_and_another_takes_over(make_rig: RigFactory, how: str) -> None:
    rig = make_rig()
    cid = rig.campaign(people(60), max_concurrency=5)
    model = callees(Outcome.ANSWERED, talk=60)
    other = _second_store(rig.store)
    try:
        a = rig.worker(model, LIVE, worker_id="worker-a")
        b = rig.worker(model, LIVE, worker_id="worker-b", store=other)
        stop_a, stop_b = asyncio.Event(), asyncio.Event()
        seen: dict[str, Any] = {}

        async def scenario() -> None:
            task_a = asyncio.ensure_future(a.run(stop_a))
            await asyncio.sleep(0.5)
            task_b = asyncio.ensure_future(b.run(stop_b))
            await asyncio.sleep(120)
            seen["runners"] = (set(a.runners), set(b.runners))
            seen["lease"] = lease_of(rig.store, cid)
            seen["gone_at"] = rig.clock.now()
            if how == "stops":
                stop_a.set()
                await task_a
            else:
                await kill(a, task_a)
            while rig.campaign_row(cid)["state"] == "running":
                await asyncio.sleep(10)
            stop_b.set()
            await task_b

        rig.loop.run_until_complete(asyncio.wait_for(scenario(), 86400))
    finally:
        other.close()

    assert seen["runners"] == ({cid}, set()), "only one worker may run the campaign"
    owner, expires = seen["lease"]
    assert owner == "worker-a"
    gone_at = seen["gone_at"]
    made = rig.attempts(cid)
    before = [a for a in made if a["created_at"] <= gone_at]
    after = [a for a in made if a["created_at"] > gone_at]
    assert before and {a["worker_id"] for a in before} == {"worker-a"}
    assert after and {a["worker_id"] for a in after} == {"worker-b"}
    took_over = min(a["created_at"] for a in after)
    if how == "stops":  # the lease is released: the next tick of worker b takes it
        assert took_over <= gone_at + timedelta(seconds=LIVE.lease_seconds / 3 + 1)
    else:  # nobody released it: worker b waits for it to expire
        assert expires is not None
        assert expires <= took_over <= expires + timedelta(seconds=LIVE.lease_seconds / 3 + 1)
        lost = [x for x in made if x["native_cause"].startswith("lost")]
        assert lost and all(x["outcome"] == "cancelled" for x in lost)
    assert rig.campaign_row(cid)["state"] == "completed"
    assert {c["state"] for c in rig.contacts(cid)} == {"succeeded"}
    assert peak(spans(made)) <= 5
    one_call_at_a_time(made)
    rig.audited(cid)


def test_two_runners_on_one_campaign_never_double_dial(make_rig: RigFactory) -> None:
    """Even bypassing the campaign lease (two workers told to run the same campaign), contact
    leases and the capacity check in the attempt's transaction keep the guarantees."""
    rig = make_rig(channels=6)
    policy = rig.policy(
        [{"outcomes": ["busy", "no_answer"], "interval_seconds": 30, "max_times": 2}]
    )
    cid = rig.campaign(
        people(20, "+86130") + people(20, "+86131") + people(20, "+86132"),
        max_concurrency=4,
        redial_policy_id=policy,
        ring_timeout_seconds=20,
    )
    model = callees(Outcome.ANSWERED, {"+86130": Outcome.BUSY, "+86131": Outcome.NO_ANSWER})
    other = _second_store(rig.store)
    try:
        a = rig.worker(model, LIVE, worker_id="worker-a")
        b = rig.worker(model, LIVE, worker_id="worker-b", store=other)

        async def both() -> None:
            await asyncio.gather(a.run_campaign(cid), b.run_campaign(cid))

        rig.loop.run_until_complete(asyncio.wait_for(both(), 86400))
    finally:
        other.close()

    made = rig.attempts(cid)
    assert {a["worker_id"] for a in made} == {"worker-a", "worker-b"}
    assert len(made) == 20 * 3 + 20 * 3 + 20
    assert peak(spans(made)) <= 4
    one_call_at_a_time(made)
    assert rig.campaign_row(cid)["state"] == "completed"
    rig.audited(cid)


def test_held_contacts_wait_and_a_resumed_one_reopens_the_campaign(make_rig: RigFactory) -> None:
    """A contact suspended on its own (Alibaba's SuspendJobs) is not dialed; the campaign
    completes without it; resuming it reopens the campaign and it is dialed."""
    rig = make_rig()
    cid = rig.campaign(people(4, "+86130"), max_concurrency=2)
    held = [c["id"] for c in rig.contacts(cid)][:2]
    rig.services.contacts.move(rig.tenant, held, ContactAction.SUSPEND)
    model = callees(Outcome.ANSWERED, {}, talk=30)
    rig.run(cid, model, LIVE)
    assert rig.campaign_row(cid)["state"] == "completed"
    dialed = {a["contact_id"] for a in rig.attempts(cid)}
    assert dialed.isdisjoint(held) and len(dialed) == 2
    rig.services.contacts.move(rig.tenant, held[:1], ContactAction.RESUME)
    assert rig.campaign_row(cid)["state"] == "running"
    rig.run(cid, model, LIVE)
    states = {c["id"]: c["state"] for c in rig.contacts(cid)}
    assert states[held[0]] == "succeeded" and states[held[1]] == "paused"
    rig.audited(cid)


def test_a_cancelled_campaign_ends_its_held_contacts(make_rig: RigFactory) -> None:
    rig = make_rig()
    cid = rig.campaign(people(3, "+86130"), max_concurrency=1)
    held = [c["id"] for c in rig.contacts(cid)][-1]
    rig.services.contacts.move(rig.tenant, [held], ContactAction.SUSPEND)
    rig.at(T0 + timedelta(minutes=1), lambda: rig.act(cid, LifecycleAction.CANCEL))
    rig.run(cid, callees(Outcome.ANSWERED, {}, talk=600), LIVE)
    states = {c["id"]: (c["state"], c["reason"]) for c in rig.contacts(cid)}
    assert rig.campaign_row(cid)["state"] == "cancelled"
    assert states[held] == ("cancelled", "campaign_cancelled")
    rig.audited(cid)
