"""A fast, in-memory call centre for the pacing benchmark (dialing.md §5, §6.1).

Agents take live answers, talk, wrap up and take breaks; dials ring, fail, reach machines or
people; a person not connected to an agent within the grace (2 s) is abandoned. The dialer is
the engine's :class:`~outdial.engine.pacer.Pacer`, asked after every event that frees an agent
and on a 0.5-s tick, and fed the same observations the engine feeds it. Each lead's fate is
drawn from a stream attached to the lead (common random numbers), so every policy faces the
same callees. Times are seconds from the start of the shift.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from dataclasses import dataclass, field
from statistics import NormalDist

from outdial.domain.pacing import PacingState
from outdial.engine.pacer import Pacer

TICK = 0.5
BUCKET = 300.0  # seconds per bucket of the time series and of the rolling windows
UNIT = NormalDist()

# Event kinds, in the order they are handled at one instant: agents free up before answers land.
ACW_END, LOGIN, RETURN, BREAK, TALK_END, RESOLVE, DEADLINE, LAUNCH, TICK_EVENT = range(9)


@dataclass(frozen=True)
class Cell:
    """One scenario of the benchmark: a team, a list and the times of a call."""

    name: str
    agents: int
    answer_rate: float  # p: live answers per dial, at the start of the shift
    answer_rate_end: float | None = None  # p drifts linearly to this by the end
    talk_mean: float = 120.0
    talk_cv: float = 1.0
    talk_shift: tuple[float, float] | None = None  # (hour, new mean talk)
    acw_mean: float = 10.0
    acw_cv: float = 0.0  # 0: fixed
    pdd: tuple[float, float] = (1.0, 3.0)
    answer_median: float = 9.0
    answer_sigma: float = 0.42
    rna: float = 20.0  # ringing before no-answer
    no_answer_share: float = 0.45  # of the non-live dials
    machine_share: float = 0.30  # the rest fail fast
    fail_time: tuple[float, float] = (1.0, 6.0)
    markov: bool = False  # dialing.md §4.2: handle ~ Exp(130) with ACW folded in, resolution ~
    handle_mean: float = 130.0  # Exp(15), zero patience
    resolve_mean: float = 15.0
    grace: float = 2.0
    hours: float = 8.0
    warmup_hours: float = 0.5
    target: float = 0.03
    stagger_minutes: float = 0.0  # log-ins spread over the first minutes
    breaks: tuple[float, float, float] | None = None  # (share of agents, hour, minutes)
    leads: int | None = None  # a finite list: no dial after the last lead, and the run ends
    # when its last call is done (or at ``hours``, whichever comes first); None: unlimited

    def answer_rate_at(self, t: float) -> float:
        if self.answer_rate_end is None:
            return self.answer_rate
        share = min(max(t / (self.hours * 3600.0), 0.0), 1.0)
        return self.answer_rate + (self.answer_rate_end - self.answer_rate) * share

    def talk_mean_at(self, t: float) -> float:
        if self.talk_shift is not None and t >= self.talk_shift[0] * 3600.0:
            return self.talk_shift[1]
        return self.talk_mean


@dataclass(frozen=True)
class Lead:
    """A lead's fate, drawn once (CRN): fixed uniforms and normals, turned into times by the cell
    at the instant of dialing (so a drifting answer rate or talk time applies when it should)."""

    u_live: float
    u_kind: float
    u_pdd: float
    u_delay: float
    u_fail: float
    z_talk: float
    z_acw: float


def _lognormal(mean: float, cv: float, z: float) -> float:
    if cv <= 0:
        return mean
    s2 = math.log1p(cv * cv)
    return math.exp(math.log(mean) - s2 / 2.0 + math.sqrt(s2) * z)


class Leads:
    """The list, drawn lazily in order from one seeded stream: lead i gets the same draws
    whatever the policy and whenever it is dialed."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.drawn: list[Lead] = []

    def __getitem__(self, index: int) -> Lead:
        while len(self.drawn) <= index:
            r = self.rng
            u = [r.random() for _ in range(5)]
            z_talk, z_acw = r.gauss(0.0, 1.0), r.gauss(0.0, 1.0)
            self.drawn.append(Lead(u[0], u[1], u[2], u[3], u[4], z_talk, z_acw))
        return self.drawn[index]


@dataclass
class Fate:
    live: bool
    resolve: float  # seconds from launch to the answer or the failure
    talk: float
    acw: float


def fate(cell: Cell, lead: Lead, t: float) -> Fate:
    live = lead.u_live < cell.answer_rate_at(t)
    if cell.markov:
        resolve = -cell.resolve_mean * math.log1p(-lead.u_pdd)
        handle = -cell.handle_mean * math.log1p(-UNIT.cdf(lead.z_talk) * (1 - 1e-12))
        return Fate(live, resolve, handle, 0.0)
    pdd = cell.pdd[0] + (cell.pdd[1] - cell.pdd[0]) * lead.u_pdd
    mu = math.log(cell.answer_median)
    top = UNIT.cdf((math.log(cell.rna) - mu) / cell.answer_sigma)
    delay = math.exp(mu + cell.answer_sigma * UNIT.inv_cdf(max(lead.u_delay * top, 1e-12)))
    talk = _lognormal(cell.talk_mean_at(t), cell.talk_cv, lead.z_talk)
    acw = _lognormal(cell.acw_mean, cell.acw_cv, lead.z_acw)
    if live:
        return Fate(True, pdd + delay, talk, acw)
    if lead.u_kind < cell.no_answer_share:
        return Fate(False, pdd + cell.rna, talk, acw)
    if lead.u_kind < cell.no_answer_share + cell.machine_share:
        return Fate(False, pdd + delay + 3.0, talk, acw)
    low, high = cell.fail_time
    return Fate(False, low + (high - low) * lead.u_fail, talk, acw)


@dataclass
class Agent:
    state: str = "off"  # off, ready, talk, acw, break
    since: float = 0.0
    until: float = 0.0  # end of talk or ACW
    acw: float = 0.0  # the wrap-up that follows this call
    wants_break: bool = False


@dataclass
class Tally:
    """Sums after the warm-up, and per-bucket counts over the whole shift."""

    logged_in: float = 0.0  # agent-seconds present (logged in, not on break)
    talk: float = 0.0
    acw: float = 0.0
    dials: int = 0
    live: int = 0
    connects: int = 0
    abandons: int = 0
    wait: float = 0.0  # customers' seconds waiting for an agent, connected calls
    run_live: int = 0  # over the whole shift: the campaign's FCC ratio
    run_abandons: int = 0
    buckets: list[list[float]] = field(default_factory=list)  # [live, abandons, busy·s, present·s]
    end: float = 0.0  # when the run ended: ``hours``, or a finite list's last call done
    last_dial: float = 0.0  # when the last dial was launched


class CallCentre:
    """One replication of one cell under one policy (a :class:`Pacer`, or clairvoyant)."""

    def __init__(self, cell: Cell, seed: int, pacer: Pacer | None):
        if pacer is None and cell.breaks is not None:
            raise ValueError("the clairvoyant oracle is defined for teams without breaks")
        self.cell, self.pacer = cell, pacer
        self.leads = Leads(seed)
        self.next_lead = 0
        self.rng = random.Random(seed ^ 0x5EED)
        self.agents = [Agent() for _ in range(cell.agents)]
        self.ready: deque[int] = deque()  # longest idle first
        self.waiting: deque[tuple[int, float]] = deque()  # (call, answered at)
        self.fates: dict[int, Fate] = {}
        self.launched_at: dict[int, float] = {}  # pending dials' launch instants
        self.on_call: dict[int, float] = {}  # talking agents: when their call began
        self.in_acw: dict[int, float] = {}  # agents in wrap-up: when it ends
        self.pending = 0
        self.events: list[tuple[float, int, int, int]] = []
        self.seq = 0
        self.now = 0.0
        self.end = cell.hours * 3600.0
        self.warm = cell.warmup_hours * 3600.0
        self.tally = Tally(buckets=[[0.0] * 4 for _ in range(math.ceil(self.end / BUCKET))])
        self.talking = 0  # agents on a call
        self.wrapping = 0  # agents in after-call work
        self.present = 0
        self.clock_mark = 0.0
        self.clairvoyant = pacer is None
        self.timed = pacer is not None and pacer.reads_times

    # --- the run --------------------------------------------------------------------------

    def run(self) -> Tally:
        self._plan_agents()
        self._push(0.0, TICK_EVENT, 0)
        while self.events:
            t, kind, _, subject = heapq.heappop(self.events)
            if t > self.end:
                break
            self._advance(t)
            self._handle(kind, subject)
            if self._list_done():
                self.end = self.now
                break
        self._advance(self.end)
        self.tally.end = self.end
        return self.tally

    def _list_done(self) -> bool:
        """A finite list is done when every lead was dialed and its last call is over."""
        leads = self.cell.leads
        if leads is None or self.next_lead < leads:
            return False
        return not (self.pending or self.waiting or self.talking)

    def _plan_agents(self) -> None:
        cell = self.cell
        for i in range(cell.agents):
            login = self.rng.uniform(0, cell.stagger_minutes * 60.0) if cell.stagger_minutes else 0
            self._push(login, LOGIN, i)
        if cell.breaks is not None:
            share, hour, _ = cell.breaks
            for i in range(round(share * cell.agents)):
                self._push(hour * 3600.0, BREAK, i)

    def _push(self, t: float, kind: int, subject: int) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, kind, self.seq, subject))

    def _handle(self, kind: int, subject: int) -> None:
        if kind == TICK_EVENT:
            self._decide()
            self._push(self.now + TICK, TICK_EVENT, 0)
        elif kind == RESOLVE:
            self._resolved(subject)
        elif kind == DEADLINE:
            self._deadline(subject)
        elif kind == TALK_END:
            self._talk_end(subject)
        elif kind in (ACW_END, LOGIN, RETURN):
            self._free(subject)
        elif kind == BREAK:
            self._break(subject)
        elif kind == LAUNCH:
            self._launch_lead(subject)

    # --- accounting -------------------------------------------------------------------------

    def _advance(self, t: float) -> None:
        """Integrate busy and present agents from the last instant to ``t``."""
        start, self.now = self.clock_mark, t
        self.clock_mark = t
        if t <= start:
            return
        index = min(int(start // BUCKET), len(self.tally.buckets) - 1)
        bucket = self.tally.buckets[index]
        span = t - start  # events are at most a tick apart, so one bucket is close enough
        bucket[2] += (self.talking + self.wrapping) * span
        bucket[3] += self.present * span
        counted = max(0.0, t - max(start, self.warm))
        if counted > 0:
            self.tally.logged_in += self.present * counted
            self.tally.talk += self.talking * counted
            self.tally.acw += self.wrapping * counted

    def _count_live(self, abandoned: bool, waited: float) -> None:
        tally = self.tally
        tally.run_live += 1
        tally.run_abandons += abandoned
        bucket = tally.buckets[min(int(self.now // BUCKET), len(tally.buckets) - 1)]
        bucket[0] += 1
        bucket[1] += abandoned
        if self.now >= self.warm:
            tally.live += 1
            tally.abandons += abandoned
            if not abandoned:
                tally.connects += 1
                tally.wait += waited
        if self.pacer is not None:
            self.pacer.observer.live_answer(self.now, abandoned)

    # --- dialing ----------------------------------------------------------------------------

    def _observed(self) -> PacingState:
        """What the engine's runner hands the pacer; the dials' ages and the wrap-ups left only
        to a law that reads them (they are a third of a fixed law's run)."""
        now = self.now
        talking = tuple([now - since for since in self.on_call.values()])
        timed = self.timed
        return PacingState(
            agents=self.present,  # logged in and not on a break
            ready=len(self.ready),
            waiting=len(self.waiting),
            pending=self.pending,
            ringing=tuple([now - at for at in self.launched_at.values()]) if timed else (),
            talking=talking,
            wrapping=tuple([until - now for until in self.in_acw.values()]) if timed else (),
            active_calls=self.pending + len(self.waiting) + len(talking),
            line_free=10**6,
            campaign_free=10**6,
        )

    def _decide(self) -> None:
        if self.pacer is None or self.now >= self.end:
            return
        launch = self.pacer.decide(self._observed(), self.now).launch
        if self.cell.leads is not None:
            launch = min(launch, self.cell.leads - self.next_lead)
        for _ in range(launch):
            self._dial(self.next_lead)
            self.next_lead += 1
        self.pacer.dialed(self.now, launch)

    def _dial(self, index: int) -> None:
        doom = fate(self.cell, self.leads[index], self.now)
        self.fates[index] = doom
        self.launched_at[index] = self.now
        self.pending += 1
        self.tally.dials += self.now >= self.warm
        self.tally.last_dial = self.now
        self._push(self.now + doom.resolve, RESOLVE, index)

    def _resolved(self, call: int) -> None:
        self.pending -= 1
        doom = self.fates[call]
        delay = self.now - self.launched_at.pop(call)
        if self.pacer is not None:
            self.pacer.observer.dial_resolved(doom.live, delay)
        if not doom.live:
            del self.fates[call]
            return
        if self.ready:
            self._connect(call, self.ready.popleft(), 0.0)
        elif self.cell.grace <= 0:
            self._count_live(True, 0.0)
        else:
            self.waiting.append((call, self.now))
            self._push(self.now + self.cell.grace, DEADLINE, call)

    def _deadline(self, call: int) -> None:
        for i, (waiting, _) in enumerate(self.waiting):
            if waiting == call:
                del self.waiting[i]
                self._count_live(True, 0.0)
                del self.fates[call]
                return

    def _connect(self, call: int, index: int, waited: float) -> None:
        doom = self.fates.pop(call)
        agent = self.agents[index]
        agent.state, agent.since = "talk", self.now
        agent.until, agent.acw = self.now + doom.talk, doom.acw
        self.on_call[index] = self.now
        self.talking += 1
        self._count_live(False, waited)
        self._push(agent.until, TALK_END, index)
        if self.clairvoyant:
            self._plan_next(agent.until + agent.acw)

    def _talk_end(self, index: int) -> None:
        agent = self.agents[index]
        if self.pacer is not None:
            self.pacer.observer.talk_ended(self.now - agent.since)
        agent.state, agent.since, agent.until = "acw", self.now, self.now + agent.acw
        del self.on_call[index]
        self.in_acw[index] = agent.until
        self.talking -= 1
        self.wrapping += 1
        self._push(agent.until, ACW_END, index)

    def _free(self, index: int) -> None:
        """An agent logs in, comes back from a break or ends wrap-up: take a waiting caller,
        go on a break that was due, or be ready; then the dialer looks again."""
        agent = self.agents[index]
        arriving = agent.state != "acw"  # logging in or back from a break
        if arriving:
            self.present += 1
        else:
            self.wrapping -= 1
            del self.in_acw[index]
            if self.pacer is not None:
                self.pacer.observer.wrap_ended(self.now - agent.since)
        if agent.wants_break:
            self._start_break(index)
            return
        agent.state, agent.since = "ready", self.now
        if self.waiting:
            call, answered = self.waiting.popleft()
            self._connect(call, index, self.now - answered)
        else:
            self.ready.append(index)
            if self.clairvoyant and arriving:
                self._plan_next(self.now)
        self._decide()

    def _break(self, index: int) -> None:
        agent = self.agents[index]
        if agent.state == "ready":
            self.ready.remove(index)
            self._start_break(index)
        elif agent.state in ("talk", "acw"):
            agent.wants_break = True

    def _start_break(self, index: int) -> None:
        agent = self.agents[index]
        assert self.cell.breaks is not None
        agent.state, agent.wants_break = "break", False
        self.present -= 1
        self._push(self.now + self.cell.breaks[2] * 60.0, RETURN, index)

    # --- the clairvoyant oracle (dialing.md §4.1) ------------------------------------------

    def _plan_next(self, free_at: float) -> None:
        """Launch the next lead that will answer live so that it answers when this agent is
        free (now, if that is already past). Leads that will not answer are never dialed."""
        while True:
            index = self.next_lead
            self.next_lead += 1
            doom = fate(self.cell, self.leads[index], self.now)
            if doom.live:
                break
        launch = max(self.now, free_at - doom.resolve)
        self._push(launch, LAUNCH, index)

    def _launch_lead(self, index: int) -> None:
        self._dial(index)
