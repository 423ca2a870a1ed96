"""The pre-launch forecast: how long a campaign's remaining contacts take, and with how many agents.

Pure but for the simulation's own seeded randomness: rates and settings in, a :class:`Forecast`
out. The method (docs/engine.md, "Forecast"):

1. **Remaining work.** Each pending contact's expected attempts, from its phone count, the phone
   it is on and the attempts already made there, under the campaign's own redial rules
   (``domain/redial.after_attempt``, the engine's code) with every attempt drawing its outcome
   from the learnt mix; a dead number (空号, 停机, 欠费) stays dead. An unlimited rule (the per-day
   cap) is taken as at most :data:`MAX_ATTEMPTS_PER_PHONE` attempts per number. Waits between
   attempts are not modelled: other contacts are dialed meanwhile.
2. **Dialing time.** Agent modes run the in-memory call centre (``sim/callcentre.py``) with the
   campaign's pacing law and target through the engine's :class:`Pacer`, the team, the learnt
   call times and the campaign's concurrency limit; the pacer starts afresh, as on a new
   campaign (progressive until 50 live answers), and the connects are the expected live
   answers less the simulated abandonment. Robot modes (agentless, fixed) fill the
   channels (a slot simulation: every call holds a channel for its ringing, talk and the call
   gap). Runs longer than :data:`SIM_DIALS` dials or :data:`SIM_HOURS` hours are scaled from
   their pace. Several seeds give a mean and a range; seeds are fixed, so results repeat.
3. **Calendar.** The dialing hours are laid on the campaign's open time from now: daily windows,
   repeat days, blackouts, period start and end (``domain/calendar.open_spans``). If the period
   closes first the campaign does not finish, and the contacts left are estimated pro rata.
4. **Agents needed.** The smallest team whose mean finish meets ``finish_by``: a guess from the
   agent-hours of the base forecast, then a bracket and a bisection on the same seeds.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from statistics import fmean
from typing import Any

from outdial.domain.calendar import Schedule, open_spans
from outdial.domain.outcomes import ContactState, Outcome
from outdial.domain.pacing import PacingState
from outdial.domain.redial import DEAD_NUMBER, RedialSettings, after_attempt
from outdial.domain.schedule import PacingMode
from outdial.engine.pacer import Pacer
from outdial.sim.callcentre import CallCentre, Cell, Leads, fate

SEEDS = 3
BASE_SEED = 20_261_123
MAX_SEEDS = 10
SIM_DIALS = 2_000  # dials simulated per run of an agent campaign; a longer list is scaled
SIM_HOURS = 4.0  # simulated hours per run at most; the rest is scaled from the run's pace
ROBOT_DIALS = 50_000  # dials simulated per run of a robot campaign
MAX_ATTEMPTS_PER_PHONE = 10  # an unlimited redial rule (the per-day cap), as modelled
MAX_AGENTS = 500
PDD = (1.0, 3.0)  # post-dial delay, uniform (dialing.md §5.1)
PDD_MEAN = sum(PDD) / 2

AGENT_LAWS = {
    PacingMode.PROGRESSIVE: "progressive",
    PacingMode.RATIO: "ratio",
    PacingMode.PREDICTIVE: "predictive",
    PacingMode.PREVIEW: "progressive",  # one call per ready agent; review time not modelled
}
ROBOT_MODES = frozenset({PacingMode.AGENTLESS, PacingMode.FIXED})
LIVE = Outcome.ANSWERED
NON_LIVE_CLASSES = (Outcome.NO_ANSWER, Outcome.ANSWERED_MACHINE)  # the rest fail fast

# dialing.md §5.1: p = 0.35 (a typical consumer list); of the rest 45 % no answer, 30 %
# machines, 25 % fast failures (busy, SIT, invalid).
DEFAULT_MIX: Mapping[Outcome, float] = {
    Outcome.ANSWERED: 0.35,
    Outcome.NO_ANSWER: 0.65 * 0.45,
    Outcome.ANSWERED_MACHINE: 0.65 * 0.30,
    Outcome.BUSY: 0.65 * 0.25,
}


@dataclass(frozen=True)
class Rates:
    """What a dial does: the outcome mix and the call times (seconds)."""

    mix: Mapping[Outcome, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    answer_delay: float = PDD_MEAN + 9.0  # median, dial to a live answer (dialing.md: 9 s ring)
    no_answer_seconds: float | None = None  # dial to release when nobody answers; None: ring-out
    fail_seconds: float = 3.5  # mean of a fast failure, U(1, 6) s
    talk_mean: float = 120.0  # lognormal, CV 1.0 (dialing.md §5.1)
    talk_cv: float = 1.0
    acw: float = 10.0

    @property
    def answer_rate(self) -> float:
        return self.mix.get(LIVE, 0.0)

    def with_answer_rate(self, rate: float) -> Rates:
        """The same mix with ``rate`` live answers per dial; the other outcomes keep their
        proportions."""
        rest = 1.0 - self.answer_rate
        if rest <= 0:
            mix = {LIVE: rate, Outcome.NO_ANSWER: 1.0 - rate}
        else:
            scale = (1.0 - rate) / rest
            mix = {o: (rate if o is LIVE else share * scale) for o, share in self.mix.items()}
            mix[LIVE] = rate
        return replace(self, mix=mix)

    def share_of_non_live(self, outcome: Outcome) -> float:
        rest = 1.0 - self.answer_rate
        return self.mix.get(outcome, 0.0) / rest if rest > 0 else 0.0


@dataclass(frozen=True)
class Setup:
    """The campaign's settings that shape its dialing."""

    mode: PacingMode
    schedule: Schedule
    agents: int = 0
    target: float = 0.03  # abandonment target, a fraction
    ratio: float = 1.0
    max_calls: int = 10  # min(campaign max_concurrency, line channels)
    call_gap: float = 0.0
    ring_timeout: float = 30.0

    @property
    def robot(self) -> bool:
        return self.mode in ROBOT_MODES


# --- 1. remaining work ------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """Pending contacts that stand at the same place: phone group, phones, current phone, and
    attempts already made on it."""

    phone_group: str
    phones: int
    phone_index: int
    tried: int
    contacts: int


@dataclass(frozen=True)
class Work:
    contacts: int
    attempts: float  # expected dials
    reached: float  # expected live answers (contacts reached)

    @property
    def live_rate(self) -> float:
        return self.reached / self.attempts if self.attempts else 0.0


def remaining_work(
    starts: Iterable[Start], redial: Callable[[str], RedialSettings], mix: Mapping[Outcome, float]
) -> Work:
    """Expected attempts and live answers for the pending contacts (see the module doc)."""
    outcomes = tuple(sorted((o, q) for o, q in mix.items() if q > 0))
    contacts, attempts, reached = 0, 0.0, 0.0
    for start in starts:
        settings = redial(start.phone_group)
        each, reach = expected_attempts(
            settings, outcomes, start.phones, start.phone_index, start.tried
        )
        contacts += start.contacts
        attempts += each * start.contacts
        reached += reach * start.contacts
    return Work(contacts, attempts, reached)


def expected_attempts(
    settings: RedialSettings,
    mix: tuple[tuple[Outcome, float], ...],
    phones: int,
    phone_index: int,
    tried: int,
) -> tuple[float, float]:
    """(expected attempts, probability of a live answer) for one pending contact.

    States are (phone, attempts on it, dead outcome or ""); every transition moves forward in
    that order, so taking the smallest state first sees all its inflow."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    states: dict[tuple[int, int, str], float] = {(phone_index, tried, ""): 1.0}
    attempts = reached = 0.0
    while states:
        key = min(states)
        prob = states.pop(key)
        phone, done, dead = key
        attempts += prob
        for outcome, share in ((Outcome(dead), 1.0),) if dead else mix:
            if outcome is LIVE:
                reached += prob * share
                continue
            verdict = after_attempt(settings, outcome, epoch, phone, phones, done + 1)
            if verdict.state is not ContactState.PENDING:
                continue
            nxt = _next_state(verdict.phone_index, phone, phones, done + 1, outcome)
            if nxt is not None:
                states[nxt] = states.get(nxt, 0.0) + prob * share
    return attempts, reached


def _next_state(
    index: int, phone: int, phones: int, done: int, outcome: Outcome
) -> tuple[int, int, str] | None:
    if index != phone:
        return index, 0, ""
    if done >= MAX_ATTEMPTS_PER_PHONE:
        return (phone + 1, 0, "") if phone + 1 < phones else None
    return phone, done, outcome.value if outcome in DEAD_NUMBER else ""


# --- 2. dialing time --------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One seed's run, scaled to the whole work."""

    seconds: float
    dials: float
    connects: float  # live answers connected (to an agent, or to the script), as simulated
    live: float
    abandons: float
    occupancy: float | None
    simulated: int  # dials actually simulated

    @property
    def abandonment(self) -> float:
        return self.abandons / self.live if self.live else 0.0


class _CampaignCentre(CallCentre):
    """The call centre with the campaign's concurrency limit: calls in progress (ringing,
    waiting or talking) never exceed ``max_calls``, as in the engine."""

    def __init__(self, cell: Cell, seed: int, pacer: Pacer, max_calls: int):
        super().__init__(cell, seed, pacer)
        self.max_calls = max_calls

    def _observed(self) -> PacingState:
        state = super()._observed()
        free = max(0, self.max_calls - state.active_calls)
        return replace(state, line_free=free, campaign_free=free)


def cell_of(setup: Setup, rates: Rates, live_rate: float, agents: int, leads: int) -> Cell:
    """The call-centre cell of these rates and settings."""
    rna = setup.ring_timeout
    if rates.no_answer_seconds is not None:
        rna = min(rna, rates.no_answer_seconds - PDD_MEAN)
    rna = max(rna, 1.0)
    median = min(max(rates.answer_delay - PDD_MEAN, 0.5), 0.9 * rna)
    return Cell(
        name="forecast",
        agents=agents,
        answer_rate=live_rate,
        talk_mean=max(rates.talk_mean, 0.1),
        talk_cv=rates.talk_cv,
        acw_mean=rates.acw,
        pdd=PDD,
        answer_median=median,
        rna=rna,
        no_answer_share=rates.share_of_non_live(Outcome.NO_ANSWER),
        machine_share=rates.share_of_non_live(Outcome.ANSWERED_MACHINE),
        fail_time=(0.5 * rates.fail_seconds, 1.5 * rates.fail_seconds),
        hours=SIM_HOURS,
        warmup_hours=0.0,
        target=setup.target,
        leads=leads,
    )


def run_agents(setup: Setup, rates: Rates, work: Work, agents: int, seed: int) -> Run:
    """One seed of an agent campaign: the call centre with the engine's pacer."""
    total = round(work.attempts)
    if total <= 0:
        return Run(0.0, 0.0, 0.0, 0.0, 0.0, None, 0)
    if agents <= 0 or setup.max_calls <= 0:
        raise ValueError("an agent campaign needs agents and a concurrency limit above 0")
    leads = min(total, SIM_DIALS)
    cell = cell_of(setup, rates, work.live_rate, agents, leads)
    pacer = Pacer(AGENT_LAWS[setup.mode], setup.target, setup.ratio, seed)
    tally = _CampaignCentre(cell, seed, pacer, setup.max_calls).run()
    done = tally.dials
    if done == 0:
        raise ValueError("no call could be made")
    finished = done == leads and tally.end < cell.hours * 3600.0
    if finished:
        span, tail = tally.last_dial, tally.end - tally.last_dial
    else:  # stopped at SIM_HOURS: the last calls' length is estimated
        span, tail = tally.end, rates.answer_delay + rates.talk_mean
    factor = total / done
    busy = tally.talk + tally.acw
    return Run(
        seconds=span * factor + tail,
        dials=float(total),
        connects=tally.connects * factor,
        live=tally.live * factor,
        abandons=tally.abandons * factor,
        occupancy=busy / tally.logged_in if tally.logged_in else None,
        simulated=done,
    )


def run_robots(setup: Setup, rates: Rates, work: Work, seed: int) -> Run:
    """One seed of a robot campaign: every channel busy while contacts are left; each call
    holds its channel for its ringing and talk, then the call gap."""
    total = round(work.attempts)
    if total <= 0:
        return Run(0.0, 0.0, 0.0, 0.0, 0.0, None, 0)
    if setup.max_calls <= 0:
        raise ValueError("a robot campaign needs a concurrency limit above 0")
    count = min(total, ROBOT_DIALS)
    cell = cell_of(setup, rates, work.live_rate, 0, count)
    leads = Leads(seed)
    slots = [0.0] * setup.max_calls
    end = last = 0.0
    live = 0
    for index in range(count):
        start = heapq.heappop(slots)
        doom = fate(cell, leads[index], start)
        hold = doom.resolve + (doom.talk if doom.live else 0.0)
        live += doom.live
        end, last = max(end, start + hold), start
        heapq.heappush(slots, start + hold + setup.call_gap)
    factor = total / count
    return Run(
        seconds=last * factor + (end - last),
        dials=float(total),
        connects=live * factor,
        live=live * factor,
        abandons=0.0,
        occupancy=None,
        simulated=count,
    )


def run_once(setup: Setup, rates: Rates, work: Work, agents: int, seed: int) -> Run:
    if setup.robot:
        return run_robots(setup, rates, work, seed)
    return run_agents(setup, rates, work, agents, seed)


def seeds_for(count: int) -> tuple[int, ...]:
    return tuple(BASE_SEED + 7919 * i for i in range(count))


# --- 3. the calendar --------------------------------------------------------------------------


@dataclass(frozen=True)
class Walk:
    at: datetime | None  # the instant the open time is used up; None: the schedule closed first
    open_seconds: float  # open time used (all of it, when the schedule closed first)


def walk(schedule: Schedule, since: datetime, seconds: float) -> Walk:
    """Lay ``seconds`` of dialing on the schedule's open time from ``since``."""
    if seconds <= 0:
        return Walk(since, 0.0)
    left = seconds
    for start, end in open_spans(schedule, since):
        span = (end - start).total_seconds()
        if span >= left:
            return Walk(start + timedelta(seconds=left), seconds)
        left -= span
    return Walk(None, seconds - left)


def open_between(schedule: Schedule, since: datetime, until: datetime) -> float:
    """Open seconds from ``since`` to ``until``."""
    total = 0.0
    for start, end in open_spans(schedule, since):
        if start >= until:
            break
        total += (min(end, until) - start).total_seconds()
    return total


# --- the forecast -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        seen = list(values)
        return cls(fmean(seen), min(seen), max(seen))

    def as_dict(self, digits: int = 4) -> dict[str, float]:
        return {
            "mean": round(self.mean, digits),
            "low": round(self.low, digits),
            "high": round(self.high, digits),
        }


@dataclass(frozen=True)
class Finish:
    finishes: bool
    at: datetime | None  # at the mean dialing hours
    earliest: datetime | None
    latest: datetime | None
    contacts_left: int  # when the schedule closes first, pro rata
    open_hours: float  # open hours used (all of the period's, when it does not finish)


@dataclass(frozen=True)
class Trial:
    agents: int
    hours: float  # mean dialing hours
    finish_at: datetime | None


@dataclass(frozen=True)
class Staffing:
    """The smallest team whose mean finish meets ``finish_by`` (None: none up to max_agents)."""

    finish_by: datetime
    finishes_by: bool  # the forecast's own team (robot campaigns: the channels) meets it
    agents: int | None
    max_agents: int
    finish_at: datetime | None  # with that team
    tried: tuple[Trial, ...]


@dataclass(frozen=True)
class Forecast:
    mode: PacingMode
    law: str
    agents: int
    max_calls: int
    work: Work
    dials: Spread
    connects: Spread
    abandonment: Spread | None
    occupancy: Spread | None
    hours: Spread
    finish: Finish
    staffing: Staffing | None
    seeds: tuple[int, ...]
    simulated_dials: int
    scaled: bool
    notes: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        work = self.work
        return {
            "pacing_mode": self.mode.value,
            "law": self.law,
            "agents": None if self.mode in ROBOT_MODES else self.agents,
            "max_calls": self.max_calls,
            "contacts": {
                "pending": work.contacts,
                "attempts_per_contact": round(work.attempts / work.contacts, 3)
                if work.contacts
                else 0.0,
                "expected_reached": round(work.reached, 1),
            },
            "dialing_hours": self.hours.as_dict(3),
            "dials": self.dials.as_dict(1),
            "connects": self.connects.as_dict(1),
            "abandonment": None if self.abandonment is None else self.abandonment.as_dict(),
            "occupancy": None if self.occupancy is None else self.occupancy.as_dict(),
            "finish": _finish_dict(self.finish),
            "finish_by": None if self.staffing is None else _staffing_dict(self.staffing),
            "method": {
                "seeds": list(self.seeds),
                "simulated_dials": self.simulated_dials,
                "scaled": self.scaled,
            },
            "notes": list(self.notes),
        }


def _finish_dict(finish: Finish) -> dict[str, Any]:
    return {
        "finishes": finish.finishes,
        "at": finish.at,
        "earliest": finish.earliest,
        "latest": finish.latest,
        "contacts_left": finish.contacts_left,
        "open_hours": round(finish.open_hours, 3),
    }


def _staffing_dict(staffing: Staffing) -> dict[str, Any]:
    return {
        "at": staffing.finish_by,
        "finishes_by": staffing.finishes_by,
        "agents_needed": staffing.agents,
        "max_agents": staffing.max_agents,
        "finish_at": staffing.finish_at,
        "tried": [
            {"agents": t.agents, "dialing_hours": round(t.hours, 3), "finish_at": t.finish_at}
            for t in staffing.tried
        ],
    }


Progress = Callable[[str], None]


def forecast(
    setup: Setup,
    rates: Rates,
    work: Work,
    now: datetime,
    finish_by: datetime | None = None,
    seeds: int = SEEDS,
    progress: Progress | None = None,
) -> Forecast:
    """Forecast the remaining work with the campaign's settings and team (module doc)."""
    chosen = seeds_for(seeds)
    runs = [run_once(setup, rates, work, setup.agents, s) for s in chosen]
    hours = Spread.of(r.seconds / 3600.0 for r in runs)
    finish = _finish(setup.schedule, now, hours, work.contacts)
    staffing = None
    if finish_by is not None:
        staffing = _staffing(setup, rates, work, now, finish_by, chosen, hours.mean, progress)
    agents = not setup.robot
    simulated = max(r.simulated for r in runs)
    return Forecast(
        mode=setup.mode,
        law=AGENT_LAWS[setup.mode] if agents else "capacity",
        agents=setup.agents,
        max_calls=setup.max_calls,
        work=work,
        dials=Spread.of(r.dials for r in runs),
        connects=Spread.of(work.reached * (1.0 - r.abandonment) for r in runs),
        abandonment=Spread.of(r.abandonment for r in runs) if agents else None,
        occupancy=Spread.of(r.occupancy or 0.0 for r in runs) if agents else None,
        hours=hours,
        finish=finish,
        staffing=staffing,
        seeds=chosen,
        simulated_dials=simulated,
        scaled=simulated < round(work.attempts),
        notes=tuple(_notes(setup, work, finish, simulated)),
    )


def _finish(schedule: Schedule, now: datetime, hours: Spread, contacts: int) -> Finish:
    mean = walk(schedule, now, hours.mean * 3600.0)
    early = walk(schedule, now, hours.low * 3600.0)
    late = walk(schedule, now, hours.high * 3600.0)
    left = 0
    if mean.at is None and hours.mean > 0:
        done = mean.open_seconds / (hours.mean * 3600.0)
        left = math.ceil(contacts * max(0.0, 1.0 - done))
    return Finish(mean.at is not None, mean.at, early.at, late.at, left, mean.open_seconds / 3600)


def _notes(setup: Setup, work: Work, finish: Finish, simulated: int) -> list[str]:
    notes = []
    if not finish.finishes:
        notes.append(
            f"the schedule closes for good after {finish.open_hours:.1f} open hours: "
            f"about {finish.contacts_left} contacts left"
        )
    if simulated < round(work.attempts):
        notes.append(
            f"simulated {simulated} of {round(work.attempts)} dials per seed; "
            "the rest is scaled from the run's pace"
        )
    if not setup.robot and setup.agents > setup.max_calls:
        notes.append(
            f"the concurrency limit ({setup.max_calls} calls) keeps "
            f"{setup.agents - setup.max_calls} of {setup.agents} agents idle"
        )
    if setup.mode is PacingMode.PREVIEW:
        notes.append("preview is forecast as progressive, without review time")
    return notes


# --- 4. agents needed -------------------------------------------------------------------------


def _staffing(
    setup: Setup,
    rates: Rates,
    work: Work,
    now: datetime,
    finish_by: datetime,
    seeds: tuple[int, ...],
    base_hours: float,
    progress: Progress | None,
) -> Staffing:
    budget = open_between(setup.schedule, now, finish_by)
    meets_now = base_hours * 3600.0 <= budget
    cap = min(setup.max_calls, MAX_AGENTS)
    if setup.robot:
        return Staffing(finish_by, meets_now, None, cap, None, ())
    search = _Search(setup, rates, work, now, seeds, budget, progress)
    agents = search.smallest(_guess(setup.agents, base_hours, budget, cap), cap)
    finish_at = None
    if agents is not None:
        finish_at = walk(setup.schedule, now, search.hours[agents] * 3600.0).at
    return Staffing(finish_by, meets_now, agents, cap, finish_at, search.trials())


def _guess(agents: int, hours: float, budget: float, cap: int) -> int:
    """The team that does the same agent-hours in the open time before ``finish_by``."""
    if budget <= 0:
        return cap
    return min(cap, max(1, math.ceil(agents * hours * 3600.0 / budget)))


@dataclass
class _Search:
    setup: Setup
    rates: Rates
    work: Work
    now: datetime
    seeds: tuple[int, ...]
    budget: float  # open seconds before finish_by
    progress: Progress | None
    hours: dict[int, float] = field(default_factory=dict)

    def meets(self, agents: int) -> bool:
        if agents not in self.hours:
            runs = [run_agents(self.setup, self.rates, self.work, agents, s) for s in self.seeds]
            self.hours[agents] = fmean(r.seconds for r in runs) / 3600.0
            if self.progress is not None:
                self.progress(f"{agents} agents: {self.hours[agents]:.2f} dialing hours")
        return self.hours[agents] * 3600.0 <= self.budget

    def smallest(self, guess: int, cap: int) -> int | None:
        """The smallest team in 1..cap that meets the budget (None: not even ``cap``):
        gallop from the guess to a bracket, then bisect."""
        if self.budget <= 0:
            return None
        fail, ok = 0, None  # largest team known to miss, smallest known to meet
        if self.meets(guess):
            ok, step = guess, 1
            while ok - step > fail and self.meets(ok - step):
                ok, step = ok - step, step * 2
            fail = max(fail, ok - step)
        else:
            fail, step = guess, 1
            while fail < cap:
                trial = min(cap, fail + step)
                if self.meets(trial):
                    ok = trial
                    break
                fail, step = trial, step * 2
            if ok is None:
                return None
        while ok - fail > 1:
            middle = (ok + fail) // 2
            if self.meets(middle):
                ok = middle
            else:
                fail = middle
        return ok

    def trials(self) -> tuple[Trial, ...]:
        return tuple(
            Trial(n, h, walk(self.setup.schedule, self.now, h * 3600.0).at)
            for n, h in sorted(self.hours.items())
        )
