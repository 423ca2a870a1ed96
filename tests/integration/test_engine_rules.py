"""The dialing engine keeps its rules (DESIGN.md "The engine" and guarantees 1–6), in virtual time.

Each test sets a campaign up through the services, runs the real Worker and CampaignRunner on a
VirtualEventLoop with the sim driver, and then checks the attempt ledger directly (recomputing
local times, gaps and concurrency itself) and with the auditor. Callees are scripted by number
prefix with fixed durations, so every run is exact. Runs on SQLite and PostgreSQL.

The ``Rig`` and ``Scripted`` helpers here are shared with test_engine_lifecycle.py and
test_simulate.py.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from outdial.domain.campaign_state import LifecycleAction
from outdial.domain.outcomes import Outcome
from outdial.engine.worker import EngineSettings, Worker
from outdial.services.common import Tenant
from outdial.services.container import Services
from outdial.services.models import (
    BlackoutCalendarIn,
    CampaignIn,
    ContactAppendIn,
    DncIn,
    LineIn,
    RedialPolicyIn,
    ScriptIn,
    TenantIn,
)
from outdial.services.validation import validate
from outdial.sim.auditor import Audit, audit
from outdial.sim.callees import CalleeModel, Dist
from outdial.sim.loop import LoopClock, VirtualEventLoop
from outdial.store.schema import attempts, campaigns, contact_phones, contacts, events
from outdial.store.store import Store
from outdial.telephony.sim import SimTelephony
from tests.conftest import SECRET_KEY, unique

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # a Monday; 08:00 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")
EPS = timedelta(milliseconds=5)
PDD, RING, TALK, MACHINE = 2.0, 5.0, 30.0, 3.0
# Campaigns that span days poll their state rarely (as `outdial simulate` does); the lifecycle
# tests use the production defaults.
DAYS = EngineSettings(state_poll_seconds=600, idle_poll_seconds=60, progress_seconds=3600)
LATE = DAYS.idle_poll_seconds + 1  # a redial is due at its time, found within an idle poll

# --- helpers shared by the engine test files ------------------------------------------------


@dataclass(frozen=True)
class Scripted(CalleeModel):
    """Callees scripted by number prefix: a number always ends the same way; fixed durations."""

    plan: tuple[tuple[str, Outcome], ...] = ()
    default: Outcome = Outcome.NO_ANSWER

    def behaviour(self, number: str, attempt: int) -> tuple[Outcome, random.Random]:
        rng = random.Random(f"{number}:{attempt}")
        for prefix, outcome in self.plan:
            if number.startswith(prefix):
                return outcome, rng
        return self.default, rng


def callees(
    default: Outcome = Outcome.NO_ANSWER, plan: dict[str, Outcome] | None = None, **dists: float
) -> Scripted:
    durations = {"pdd": PDD, "ring_answer": RING, "ring_reject": 4.0, "announcement": 5.0}
    durations |= {"talk": TALK, "machine_detect": MACHINE} | dists
    return Scripted(
        rates={},
        plan=tuple((plan or {}).items()),
        default=default,
        **{k: Dist("fixed", v) for k, v in durations.items()},  # type: ignore[arg-type]
    )


def people(count: int, prefix: str = "+86138", start: int = 0) -> list[dict[str, Any]]:
    """``count`` one-phone contacts; numbers are ``prefix`` + a serial padded to 11 digits."""
    width = 14 - len(prefix)  # +86 mobile numbers: 11 digits after the country code
    return [{"phones": [{"number": f"{prefix}{i:0{width}d}"}]} for i in range(start, start + count)]


class Rig:
    """A tenant, a line and a script on ``store``, with services and a worker on one virtual
    loop whose clock starts at ``start``."""

    def __init__(
        self,
        store: Store,
        start: datetime = T0,
        channels: int = 10,
        caller_numbers: Sequence[dict[str, Any]] = ({"number": "95187"},),
    ):
        self.store = store
        self.loop = VirtualEventLoop()
        self.clock = LoopClock(self.loop, start)
        self.services = Services.build(store, self.clock, SECRET_KEY)
        row = self.services.tenants.create(validate(TenantIn, {"name": unique("engine")}))
        self.tenant = Tenant.from_row(row)
        self.line_id = self.line(channels, caller_numbers)
        self.script_id = self._make(self.services.scripts, ScriptIn, {"name": "robot"})

    def _make(self, service: Any, model: Any, body: dict[str, Any]) -> int:
        return int(service.create(self.tenant, validate(model, body))["id"])

    def line(
        self, channels: int, caller_numbers: Sequence[dict[str, Any]] = ({"number": "95187"},)
    ) -> int:
        body = {"name": unique("line"), "channels": channels, "caller_numbers": caller_numbers}
        return self._make(self.services.lines, LineIn, body)

    def policy(self, rules: list[dict[str, Any]], **flags: bool) -> int:
        body = {"name": unique("policy"), "rules": rules, **flags}
        return self._make(self.services.redial_policies, RedialPolicyIn, body)

    def calendar(self, **body: Any) -> int:
        return self._make(
            self.services.blackout_calendars, BlackoutCalendarIn, {"name": unique("cal"), **body}
        )

    def campaign(self, contacts_in: Iterable[dict[str, Any]], **fields: Any) -> int:
        """Create a campaign with these contacts (all must be accepted) and start it."""
        body = {
            "name": unique("campaign"),
            "timezone": "Asia/Shanghai",
            "line_id": self.line_id,
            "script_id": self.script_id,
            **fields,
        }
        campaign_id = self._make(self.services.campaigns, CampaignIn, body)
        rows = list(contacts_in)
        report = self.services.contacts.append(
            self.tenant, campaign_id, ContactAppendIn(contacts=rows)
        )
        assert report["accepted"] == len(rows), report
        self.services.campaigns.act(self.tenant, campaign_id, LifecycleAction.START)
        return campaign_id

    def act(self, campaign_id: int, action: LifecycleAction) -> None:
        self.services.campaigns.act(self.tenant, campaign_id, action)

    def dnc(self, number: str) -> None:
        self.services.dnc.add(self.tenant, DncIn(number=number, source="test"))

    def worker(
        self,
        model: CalleeModel,
        settings: EngineSettings | None = None,
        worker_id: str | None = None,
        store: Store | None = None,
    ) -> Worker:
        clock = self.clock
        return Worker(
            store or self.store,
            clock,
            lambda line: SimTelephony(model, clock),
            settings or EngineSettings(),
            worker_id,
        )

    def run(
        self,
        campaign_id: int,
        model: CalleeModel,
        settings: EngineSettings | None = None,
        horizon_days: float = 10,
    ) -> None:
        """Run the campaign to its end (failing if it is still running after the horizon)."""
        worker = self.worker(model, settings or DAYS)
        limit = horizon_days * 86400
        self.loop.run_until_complete(asyncio.wait_for(worker.run_campaign(campaign_id), limit))

    def at(self, when: datetime, action: Callable[[], object]) -> None:
        """Call ``action`` on the loop at virtual instant ``when``."""
        delay = (when - self.clock.now()).total_seconds()
        self.loop.call_at(self.loop.time() + delay, action)

    # --- reading the ledger --------------------------------------------------------------

    def attempts(self, campaign_id: int | None = None) -> list[dict[str, Any]]:
        query = select(attempts).order_by(attempts.c.id)
        if campaign_id is not None:
            query = query.where(attempts.c.campaign_id == campaign_id)
        with self.store.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def contacts(self, campaign_id: int) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = [
                dict(r._mapping)
                for r in conn.execute(
                    select(contacts)
                    .where(contacts.c.campaign_id == campaign_id)
                    .order_by(contacts.c.id)
                )
            ]
            phones: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for p in conn.execute(
                select(contact_phones)
                .where(contact_phones.c.campaign_id == campaign_id)
                .order_by(contact_phones.c.contact_id, contact_phones.c.position)
            ):
                phones[p.contact_id].append(dict(p._mapping))
        for row in rows:
            row["phones"] = phones[row["id"]]
        return rows

    def campaign_row(self, campaign_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            return dict(
                conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one()._mapping
            )

    def state_changes(self, campaign_id: int) -> list[tuple[datetime, str, str]]:
        with self.store.read() as conn:
            found = conn.execute(
                select(events.c.created_at, events.c.data)
                .where(
                    events.c.campaign_id == campaign_id, events.c.kind == "campaign.state_changed"
                )
                .order_by(events.c.id)
            )
            return [(at, data["to"], data["reason"]) for at, data in found]

    def audited(self, campaign_id: int) -> Audit:
        found = audit(self.store, campaign_id)
        failed = {k: c.as_dict() for k, c in found.checks.items() if c.violations}
        assert not failed, failed
        return found

    def close(self) -> None:
        self.loop.close()


RigFactory = Callable[..., Rig]


def peak(spans: Iterable[tuple[datetime, datetime]]) -> int:
    """The most spans open at one instant (an end and a start at one instant: end first)."""
    edges = sorted(e for s, t in spans for e in ((s, 1), (t, -1)))
    level = top = 0
    for _, step in edges:
        level += step
        top = max(top, level)
    return top


def spans(made: Iterable[dict[str, Any]], tail: float = 0.0) -> list[tuple[datetime, datetime]]:
    return [(a["created_at"], a["ended_at"] + timedelta(seconds=tail)) for a in made]


def by_number(made: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in made:
        found[a["number"]].append(a)
    return found


def local(a: dict[str, Any], zone: ZoneInfo = SHANGHAI) -> datetime:
    created: datetime = a["created_at"]
    return created.astimezone(zone)


# --- 1: calling hours --------------------------------------------------------------------

Label = Callable[[datetime], object]


def _in_windows(t: datetime) -> object:
    wall = t.hour * 60 + t.minute
    if 9 * 60 <= wall < 10 * 60:
        return (t.day, "am")
    if 14 * 60 <= wall < 14 * 60 + 30:
        return (t.day, "pm")
    return None


def _across_midnight(t: datetime) -> object:
    if t.hour >= 22:
        return (t.day, "late")
    if t.hour < 2:
        return (t.day, "early")
    return None


def _tuesdays_thursdays(t: datetime) -> object:
    return t.isoweekday() if t.isoweekday() in (2, 4) and 9 <= t.hour < 12 else None


def _month_days(t: datetime) -> object:
    return t.day if t.day in (24, 26) and 9 <= t.hour < 12 else None


def _in_period(t: datetime) -> object:
    start, end = T0 + timedelta(hours=1, minutes=30), T0 + timedelta(hours=5)
    return "in" if start <= t < end else None


def _outside_blackout(t: datetime) -> object:
    wall = t.hour * 60 + t.minute
    if not 9 * 60 + 30 <= wall < 17 * 60:  # weekly block 17:00 → 09:30 crosses midnight
        return None
    if 12 * 60 <= wall < 13 * 60 + 30:  # weekly lunch block
        return None
    if t.day == 24 and wall < 15 * 60:  # dated block 24 Nov 00:00–15:00
        return None
    return (t.day, "am" if wall < 12 * 60 else "pm")


BLACKOUT = {
    "weekly": [
        {"days": [1, 2, 3, 4, 5, 6, 7], "start": "12:00", "end": "13:30"},
        {"days": [1, 2, 3, 4, 5, 6, 7], "start": "17:00", "end": "09:30"},
    ],
    "dated": [{"start": "2026-11-24T00:00:00", "end": "2026-11-24T15:00:00", "label": "audit"}],
}

SCHEDULES: dict[str, tuple[dict[str, Any], Label, set[object]]] = {
    "two windows": (
        {"windows": [{"start": "09:00", "end": "10:00"}, {"start": "14:00", "end": "14:30"}]},
        _in_windows,
        {(23, "am"), (23, "pm"), (24, "am"), (24, "pm")},
    ),
    "window across midnight": (
        {"windows": [{"start": "22:00", "end": "02:00"}]},
        _across_midnight,
        {(23, "late"), (24, "early"), (24, "late"), (25, "early")},
    ),
    "weekly repeat days": (
        {
            "windows": [{"start": "09:00", "end": "12:00"}],
            "repeat_by": "week",
            "repeat_days": [2, 4],
            "period_end": T0 + timedelta(days=4),
        },
        _tuesdays_thursdays,
        {2, 4},
    ),
    "monthly repeat days": (
        {
            "windows": [{"start": "09:00", "end": "12:00"}],
            "repeat_by": "month",
            "repeat_days": [24, 26],
            "period_end": T0 + timedelta(days=4),
        },
        _month_days,
        {24, 26},
    ),
    "period": (
        {
            "period_start": T0 + timedelta(hours=1, minutes=30),
            "period_end": T0 + timedelta(hours=5),
        },
        _in_period,
        {"in"},
    ),
    "blackouts weekly and dated": (
        {"windows": [{"start": "09:00", "end": "18:00"}]},
        _outside_blackout,
        {(23, "am"), (23, "pm"), (24, "pm")},
    ),
}


@pytest.mark.parametrize("case", list(SCHEDULES))
def test_no_call_starts_outside_the_schedule(make_rig: RigFactory, case: str) -> None:
    fields, label, expected = SCHEDULES[case]
    rig = make_rig()
    fields = {"period_end": T0 + timedelta(days=2), **fields}
    if case.startswith("blackouts"):
        fields["blackout_calendar_id"] = rig.calendar(**BLACKOUT)
    policy = rig.policy([{"outcomes": ["no_answer"], "interval_seconds": 1800, "max_times": 100}])
    cid = rig.campaign(people(8), redial_policy_id=policy, ring_timeout_seconds=20, **fields)
    rig.run(cid, callees(Outcome.NO_ANSWER))

    made = rig.attempts(cid)
    outside = [local(a).isoformat() for a in made if label(local(a)) is None]
    assert not outside, f"calls started outside the schedule: {outside[:5]}"
    # Not vacuous: every opening of the schedule was used, and only those.
    assert {label(local(a)) for a in made} == expected
    assert rig.campaign_row(cid)["state"] in ("completed", "expired")
    assert {(c["state"], c["reason"]) for c in rig.contacts(cid)} == {("failed", "time_up")}
    rig.audited(cid)


def test_each_contact_is_dialed_in_its_own_time_zone(make_rig: RigFactory) -> None:
    rig = make_rig()
    shanghai = people(4, "+86138")
    la = [{"phones": [{"number": f"+1415555{i:04d}"}]} for i in range(4)]
    london = [{"phones": [{"number": f"+44207946{i:04d}"}]} for i in range(4)]
    tokyo = [{"phones": [{"number": "+14155559999"}], "timezone": "Asia/Tokyo"}]
    cid = rig.campaign(
        shanghai + la + london + tokyo,
        use_contact_timezone=True,
        windows=[{"start": "09:00", "end": "10:00"}],
        period_end=T0 + timedelta(days=2),
    )
    rig.run(cid, callees(Outcome.ANSWERED))

    zones = {
        "+86138": ZoneInfo("Asia/Shanghai"),
        "+1415555": ZoneInfo("America/Los_Angeles"),
        "+44207946": ZoneInfo("Europe/London"),
    }
    made = rig.attempts(cid)
    assert len(made) == 13
    utc_hours = set()
    for a in made:
        zone = ZoneInfo("Asia/Tokyo") if a["number"] == "+14155559999" else None
        zone = zone or next(z for p, z in zones.items() if a["number"].startswith(p))
        assert local(a, zone).hour == 9, (a["number"], local(a, zone))
        assert local(a, zone).date() == datetime(2026, 11, 23).date()
        utc_hours.add(a["created_at"].hour)
    # Shanghai 01:00, Tokyo 00:00, London 09:00, Los Angeles 17:00 UTC.
    assert utc_hours == {0, 1, 9, 17}
    assert rig.campaign_row(cid)["state"] == "completed"
    rig.audited(cid)


# --- 2: per-number limits and redial rules -----------------------------------------------


def test_daily_cap_and_minimum_interval_without_a_policy(make_rig: RigFactory) -> None:
    """Alibaba style: maxAttemptsPerDay 2, minAttemptInterval 1 h, redialed day after day."""
    rig = make_rig()
    cid = rig.campaign(
        people(10),
        windows=[{"start": "09:00", "end": "18:00"}],
        period_end=T0 + timedelta(days=3),
        max_attempts_per_day=2,
        min_attempt_interval_seconds=3600,
        max_concurrency=5,
    )
    rig.run(cid, callees(Outcome.BUSY))

    made = by_number(rig.attempts(cid))
    assert len(made) == 10
    for number, tries in made.items():
        days = Counter(local(a).date().day for a in tries)
        assert days == {23: 2, 24: 2, 25: 2}, (number, days)
        for before, after in pairwise(tries):
            assert after["created_at"] - before["created_at"] >= timedelta(hours=1), number
    assert {(c["state"], c["reason"]) for c in rig.contacts(cid)} == {("failed", "time_up")}
    assert rig.campaign_row(cid)["state"] in ("completed", "expired")
    rig.audited(cid)


def test_campaign_limits_bound_a_redial_policy(make_rig: RigFactory) -> None:
    rig = make_rig()
    policy = rig.policy([{"outcomes": ["busy"], "interval_seconds": 60, "max_times": 6}])
    cid = rig.campaign(
        people(6),
        redial_policy_id=policy,
        windows=[{"start": "09:00", "end": "18:00"}],
        period_end=T0 + timedelta(days=3),
        max_attempts_per_day=3,
        min_attempt_interval_seconds=600,
    )
    rig.run(cid, callees(Outcome.BUSY))

    for number, tries in by_number(rig.attempts(cid)).items():
        assert len(tries) == 7, number  # the policy's 1 + 6, spread by the cap over 3 days
        assert Counter(local(a).date().day for a in tries) == {23: 3, 24: 3, 25: 1}
        for before, after in pairwise(tries):
            assert after["created_at"] - before["created_at"] >= timedelta(seconds=600)
    assert {(c["state"], c["outcome"]) for c in rig.contacts(cid)} == {("failed", "busy")}
    rig.audited(cid)


REDIAL_CASES = {
    Outcome.BUSY: (3, 600),
    Outcome.NO_ANSWER: (2, 1200),
    Outcome.REJECTED: (1, None),
    Outcome.POWERED_OFF: (1, None),
}


@pytest.mark.parametrize("outcome", list(REDIAL_CASES))
def test_redial_policy_by_outcome(make_rig: RigFactory, outcome: Outcome) -> None:
    calls, interval = REDIAL_CASES[outcome]
    rig = make_rig()
    policy = rig.policy(
        [
            {"outcomes": ["busy"], "interval_seconds": 600, "max_times": 2},
            {"outcomes": ["no_answer"], "interval_seconds": 1200, "max_times": 1},
        ]
    )
    cid = rig.campaign(people(8), redial_policy_id=policy, ring_timeout_seconds=20)
    rig.run(cid, callees(outcome))

    for number, tries in by_number(rig.attempts(cid)).items():
        assert [a["outcome"] for a in tries] == [outcome.value] * calls, number
        for before, after in pairwise(tries):
            waited = (after["created_at"] - before["ended_at"]).total_seconds()
            assert interval is not None
            assert interval <= waited <= interval + LATE, (number, waited)
    assert len(by_number(rig.attempts(cid))) == 8
    found = {(c["state"], c["reason"], c["outcome"]) for c in rig.contacts(cid)}
    assert found == {("failed", "exhausted", outcome.value)}
    assert rig.campaign_row(cid)["state"] == "completed"
    rig.audited(cid)


DEAD = [Outcome.INVALID_NUMBER, Outcome.SUSPENDED, Outcome.IN_ARREARS]


def _two_phone_people(count: int, first: str, second: str) -> list[dict[str, Any]]:
    return [
        {"phones": [{"number": f"{first}{i:08d}"}, {"number": f"{second}{i:08d}"}]}
        for i in range(count)
    ]


@pytest.mark.parametrize("source", ["campaign", "policy"])
@pytest.mark.parametrize("outcome", DEAD)
def test_skip_flags_end_a_dead_number_at_once(
    make_rig: RigFactory, outcome: Outcome, source: str
) -> None:
    rig = make_rig()
    model = callees(Outcome.ANSWERED, {"+86130": outcome})
    if source == "campaign":
        fields: dict[str, Any] = {
            "recall_skip": {outcome.value: True},
            "max_attempts_per_day": 3,  # would redial the number all day without the flag
        }
    else:
        rules = [{"outcomes": [outcome.value, "busy"], "interval_seconds": 60, "max_times": 3}]
        flags = {f"skip_{o.value}": o is outcome for o in DEAD}
        fields = {"redial_policy_id": rig.policy(rules, **flags)}
    cid = rig.campaign(_two_phone_people(5, "+86130", "+86131"), **fields)
    rig.run(cid, model)

    made = rig.attempts(cid)
    for number, tries in by_number(made).items():
        expected = outcome.value if number.startswith("+86130") else "answered"
        assert [a["outcome"] for a in tries] == [expected], number
    assert len(made) == 10
    for c in rig.contacts(cid):
        assert (c["state"], c["outcome"]) == ("succeeded", "answered")
        first, second = c["phones"]
        assert (first["state"], first["last_outcome"]) == ("finished", outcome.value)
        assert first["attempt_count"] == 1
        assert second["last_outcome"] == "answered"
    rig.audited(cid)


@pytest.mark.parametrize("source", ["campaign", "policy"])
def test_without_skip_flags_a_dead_number_is_redialed(make_rig: RigFactory, source: str) -> None:
    """The control for the skip-flag test: the same callees, no flag, more than one attempt."""
    rig = make_rig()
    if source == "campaign":
        fields: dict[str, Any] = {
            "max_attempts_per_day": 3,
            "period_end": T0 + timedelta(hours=3),
        }
        expected = 3
    else:
        rules = [{"outcomes": ["suspended"], "interval_seconds": 60, "max_times": 2}]
        flags = {f"skip_{o.value}": False for o in DEAD}
        fields = {"redial_policy_id": rig.policy(rules, **flags)}
        expected = 3
    cid = rig.campaign(_two_phone_people(3, "+86130", "+86131"), **fields)
    rig.run(cid, callees(Outcome.ANSWERED, {"+86130": Outcome.SUSPENDED}))

    for number, tries in by_number(rig.attempts(cid)).items():
        if number.startswith("+86130"):
            assert [a["outcome"] for a in tries] == ["suspended"] * expected, number
    rig.audited(cid)


def test_phone_group_redial_then_the_next_phone(make_rig: RigFactory) -> None:
    """得助 style: each phone's group says how often and how soon it is redialed; after the
    person's own number is exhausted the contact moves on to the relation's number."""
    rig = make_rig()
    groups = [
        {
            "identify": "self",
            "name": "本人",
            "redial_enabled": True,
            "redial_times": 2,
            "redial_interval_seconds": 300,
        },
        {
            "identify": "family",
            "name": "家属",
            "redial_enabled": True,
            "redial_times": 1,
            "redial_interval_seconds": 120,
        },
    ]

    def contact(i: int, first: str, second: str) -> dict[str, Any]:
        return {
            "phones": [
                {"number": f"{first}{i:08d}", "phone_group": "self"},
                {"number": f"{second}{i:08d}", "relation": "配偶", "phone_group": "family"},
            ]
        }

    reached = [contact(i, "+86130", "+86131") for i in range(4)]
    unreached = [contact(i, "+86132", "+86133") for i in range(4)]
    model = callees(
        Outcome.NO_ANSWER,
        {"+86131": Outcome.ANSWERED, "+86132": Outcome.BUSY, "+86133": Outcome.BUSY},
    )
    cid = rig.campaign(reached + unreached, phone_groups=groups, ring_timeout_seconds=20)
    rig.run(cid, model)

    expected = {
        "+86130": ("no_answer", 3, 300),
        "+86131": ("answered", 1, None),
        "+86132": ("busy", 3, 300),
        "+86133": ("busy", 2, 120),
    }
    made = rig.attempts(cid)
    for number, tries in by_number(made).items():
        outcome, count, interval = expected[number[:6]]
        assert [a["outcome"] for a in tries] == [outcome] * count, number
        for before, after in pairwise(tries):
            waited = (after["created_at"] - before["ended_at"]).total_seconds()
            assert interval is not None and interval <= waited <= interval + LATE
    assert len(by_number(made)) == 16
    for c in rig.contacts(cid):
        first, second = c["phones"]
        # The second phone is only dialed once the first is finished.
        first_last = max(a["ended_at"] for a in made if a["phone_id"] == first["id"])
        second_first = min(a["created_at"] for a in made if a["phone_id"] == second["id"])
        assert second_first >= first_last
        assert first["state"] == "finished"
        if first["number"].startswith("+86130"):
            assert (c["state"], c["outcome"]) == ("succeeded", "answered")
        else:
            assert (c["state"], c["reason"], c["outcome"]) == ("failed", "exhausted", "busy")
            assert c["phone_index"] == 1
    rig.audited(cid)


# --- 4: DNC -------------------------------------------------------------------------------


def test_a_number_put_on_the_dnc_list_after_import_is_never_dialed(make_rig: RigFactory) -> None:
    rig = make_rig()
    two_phones = _two_phone_people(3, "+86130", "+86131")  # first phone listed after import
    single = people(3, "+86132")  # their only phone listed after import
    later = people(3, "+86133")  # busy once; listed while waiting for the redial
    policy = rig.policy([{"outcomes": ["busy"], "interval_seconds": 600, "max_times": 3}])
    cid = rig.campaign(two_phones + single + later, redial_policy_id=policy)
    for c in two_phones + single:  # listed after import, before the first call
        rig.dnc(c["phones"][0]["number"])
    listed_at = T0 + timedelta(seconds=300)

    def list_later() -> None:
        for c in later:
            rig.dnc(c["phones"][0]["number"])

    rig.at(listed_at, list_later)
    model = callees(Outcome.ANSWERED, {"+86133": Outcome.BUSY, "+86130": Outcome.ANSWERED})
    rig.run(cid, model)

    made = rig.attempts(cid)
    numbers = Counter(a["number"] for a in made)
    assert not [n for n in numbers if n.startswith(("+86130", "+86132"))], numbers
    assert all(a["created_at"] < listed_at for a in made if a["number"].startswith("+86133"))
    assert sorted(n[:6] for n in numbers.elements()) == ["+86131"] * 3 + ["+86133"] * 3
    for c in rig.contacts(cid):
        first = c["phones"][0]
        assert (first["state"], first["last_outcome"]) == ("finished", "dnc_blocked")
        if len(c["phones"]) == 2:
            assert (c["state"], c["outcome"]) == ("succeeded", "answered")
        else:
            assert (c["state"], c["outcome"]) == ("failed", "dnc_blocked")
    rig.audited(cid)


# --- 3: capacity ---------------------------------------------------------------------------


@pytest.mark.parametrize(("limit", "channels"), [(4, 10), (10, 3)])
def test_concurrency_within_campaign_limit_and_line_channels(
    make_rig: RigFactory, limit: int, channels: int
) -> None:
    rig = make_rig(channels=channels)
    cid = rig.campaign(people(30), max_concurrency=limit)
    rig.run(cid, callees(Outcome.ANSWERED, talk=60))

    made = rig.attempts(cid)
    assert len(made) == 30
    assert peak(spans(made)) == min(limit, channels)
    assert rig.audited(cid).peak_concurrency == min(limit, channels)


def test_two_campaigns_share_the_line_capacity(make_rig: RigFactory) -> None:
    rig = make_rig(channels=5)
    first = rig.campaign(people(30, "+86130"), max_concurrency=4)
    second = rig.campaign(people(30, "+86131"), max_concurrency=4)
    model = callees(Outcome.ANSWERED, talk=60)
    one, two = rig.worker(model), rig.worker(model)

    async def both() -> None:
        await asyncio.gather(one.run_campaign(first), two.run_campaign(second))

    rig.loop.run_until_complete(both())

    made = rig.attempts()
    assert len(made) == 60
    assert peak(spans(made)) == 5  # the line is full, never over
    for cid in (first, second):
        assert peak(spans(a for a in made if a["campaign_id"] == cid)) <= 4
        rig.audited(cid)
    # Both campaigns dialed side by side (the sharing was exercised).
    firsts = spans(a for a in made if a["campaign_id"] == first)
    seconds = spans(a for a in made if a["campaign_id"] == second)
    assert any(s < e2 and s2 < e for s, e in firsts for s2, e2 in seconds)


@pytest.mark.parametrize("limit", [1, 2])
def test_call_gap_keeps_each_slot_idle_after_a_call(make_rig: RigFactory, limit: int) -> None:
    """云蝠 call_pause_second: a slot waits call_gap_seconds after its call before the next."""
    rig = make_rig()
    cid = rig.campaign(people(16), max_concurrency=limit, call_gap_seconds=10)
    rig.run(cid, callees(Outcome.BUSY))

    made = rig.attempts(cid)
    assert len(made) == 16
    # A call plus its slot's cool-down: never more of those than slots at one instant.
    assert peak(spans(made, tail=10 - 1e-3)) == limit
    assert peak(spans(made)) == limit
    ordered = sorted(made, key=lambda a: a["created_at"])
    if limit == 1:
        for before, after in pairwise(ordered):
            gap = (after["created_at"] - before["ended_at"]).total_seconds()
            assert 10 <= gap <= 11, gap
    rig.audited(cid)


# --- calls: ring timeout, script, caller numbers ---------------------------------------------


def test_ring_timeout_releases_unanswered_calls(make_rig: RigFactory) -> None:
    rig = make_rig()
    model = callees(Outcome.NO_ANSWER, {"+86131": Outcome.ANSWERED}, ring_answer=40)
    cid = rig.campaign(people(4, "+86130") + people(4, "+86131"), ring_timeout_seconds=25)
    rig.run(cid, model)

    made = rig.attempts(cid)
    assert len(made) == 8
    for a in made:
        assert a["outcome"] == "no_answer"
        assert a["answered_at"] is None
        assert abs((a["ringing_at"] - a["created_at"]).total_seconds() - PDD) < 0.01
        assert abs((a["ended_at"] - a["ringing_at"]).total_seconds() - 25) < 0.01
    rig.audited(cid)


def test_agentless_answered_calls_run_the_script(make_rig: RigFactory) -> None:
    rig = make_rig()
    model = callees(Outcome.ANSWERED, {"+86131": Outcome.ANSWERED_MACHINE})
    cid = rig.campaign(people(6, "+86130") + people(2, "+86131"))
    rig.run(cid, model)

    made = rig.attempts(cid)
    assert len(made) == 8
    for a in made:
        answered = (a["answered_at"] - a["created_at"]).total_seconds()
        assert abs(answered - PDD - RING) < 0.01
        if a["number"].startswith("+86130"):
            assert a["outcome"] == "answered"
            assert abs(a["talk_seconds"] - TALK) < 0.01
            assert a["talk_seconds"] > 0
        else:  # an answering machine is detected and released by the script
            assert a["outcome"] == "answered_machine"
            assert abs((a["ended_at"] - a["answered_at"]).total_seconds() - MACHINE) < 0.01
        assert not a["abandoned"]
    states = Counter((c["state"], c["outcome"]) for c in rig.contacts(cid))
    assert states == {("succeeded", "answered"): 6, ("failed", "answered_machine"): 2}
    rig.audited(cid)


def test_round_robin_caller_numbers(make_rig: RigFactory) -> None:
    numbers = [{"number": "95187"}, {"number": "95188"}, {"number": "95189"}]
    rig = make_rig(caller_numbers=numbers)
    cid = rig.campaign(people(30), routing_strategy="round_robin")
    rig.run(cid, callees(Outcome.ANSWERED))

    used = Counter(a["caller_number"] for a in rig.attempts(cid))
    assert set(used) == {"95187", "95188", "95189"}
    assert max(used.values()) - min(used.values()) <= 1, used
    rig.audited(cid)


def test_local_first_caller_numbers(make_rig: RigFactory) -> None:
    numbers = [
        {"number": "+862161234567", "region": "上海"},
        {"number": "+14155550100", "region": "San Francisco"},
        {"number": "+442079460000", "region": "London"},
    ]
    rig = make_rig(caller_numbers=numbers)
    shanghai = [{"phones": [{"number": f"+86216123{i:04d}"}]} for i in range(6)]
    la = [{"phones": [{"number": f"+1415555{i:04d}"}]} for i in range(6)]
    london = [{"phones": [{"number": f"+44207946{i:04d}"}]} for i in range(6)]
    beijing = people(6, "+86138")  # no local caller number: any of them
    cid = rig.campaign(shanghai + la + london + beijing, routing_strategy="local_first")
    rig.run(cid, callees(Outcome.ANSWERED))

    made = rig.attempts(cid)
    assert len(made) == 24
    local_caller = {
        "+86216123": "+862161234567",
        "+1415555": "+14155550100",
        "+44207946": "+442079460000",
    }
    for a in made:
        prefix = next((p for p in local_caller if a["number"].startswith(p)), None)
        if prefix is not None:
            assert a["caller_number"] == local_caller[prefix], a["number"]
        else:
            assert a["caller_number"] in {n["number"] for n in numbers}
    rig.audited(cid)


# --- completion and expiry -------------------------------------------------------------------


def test_auto_complete_when_no_contact_can_be_dialed_again(make_rig: RigFactory) -> None:
    rig = make_rig()
    cid = rig.campaign(people(20), period_end=T0 + timedelta(days=5))
    rig.run(cid, callees(Outcome.ANSWERED))

    made = rig.attempts(cid)
    camp = rig.campaign_row(cid)
    assert (camp["state"], camp["state_reason"]) == ("completed", "all_contacts_done")
    last_end = max(a["ended_at"] for a in made)
    assert last_end <= camp["ended_at"] <= last_end + timedelta(seconds=6)
    assert {c["state"] for c in rig.contacts(cid)} == {"succeeded"}
    rig.audited(cid)


def test_auto_expire_at_period_end(make_rig: RigFactory) -> None:
    rig = make_rig()
    end = T0 + timedelta(hours=1)
    policy = rig.policy([{"outcomes": ["no_answer"], "interval_seconds": 0, "max_times": 100}])
    cid = rig.campaign(
        people(20),
        period_end=end,
        redial_policy_id=policy,
        ring_timeout_seconds=60,
        max_concurrency=5,
    )
    # Production polling: the end is noticed within state_poll_seconds.
    rig.run(cid, callees(Outcome.NO_ANSWER), EngineSettings(progress_seconds=3600))

    made = rig.attempts(cid)
    camp = rig.campaign_row(cid)
    assert (camp["state"], camp["state_reason"]) == ("expired", "period_ended")
    assert end <= camp["ended_at"] <= end + timedelta(seconds=2)
    assert all(a["created_at"] < end for a in made)
    # Calls still ringing at the end were hung up at once.
    cut = [a for a in made if a["ended_at"] >= end]
    assert cut, "expected calls in progress at the period end"
    assert all(a["outcome"] == "cancelled" for a in cut)
    assert all(a["ended_at"] <= end + timedelta(seconds=2) for a in cut)
    assert {(c["state"], c["reason"]) for c in rig.contacts(cid)} == {("failed", "time_up")}
    rig.audited(cid)
