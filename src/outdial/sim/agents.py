"""Simulated agents: a team that logs in, wraps up and takes breaks in virtual time.

The scenario's ``[agents]`` table describes the team (see docs/simulate.md). The team moves its
agents only through the agent service (``AgentService.act``: login, ready, not-ready, logout —
the moves the native API makes); the engine moves them through calls (on_call, after-call work,
ready again after the campaign's ``acw_seconds``).

How the team sees the engine: it subscribes to the sim driver's call events and, right after an
answer or a hang-up has been handled (``call_soon``), reads its agents' rows from the store. A
new after-call work is where a simulated agent's wrap-up starts: they press ready after a drawn
time (capped by the campaign's ``acw_seconds``, which the engine enforces), or, when a break or
the end of their shift is due, go not ready / log out instead — never in the middle of a call.

Agent state changes are not logged by the engine, so the team keeps its own record, a timeline
per agent of the states it drove and observed; the report's agent figures come from it.

The pure parts — reading the table, planning logins and breaks, drawing ACW, the timeline — are
at the top; ``SimTeam`` drives them on the event loop.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import bindparam, select

from outdial.domain.agents import AgentAction, AgentState
from outdial.domain.errors import FieldError, IllegalTransition, ValidationFailed
from outdial.engine.ports import CallEvent, CallEventKind
from outdial.services.common import Tenant
from outdial.services.container import Services
from outdial.services.models import AgentIn, SkillGroupIn
from outdial.services.validation import validate
from outdial.sim.callees import Dist
from outdial.store.schema import agents as STATE

S = AgentState
ACW_DISTS = ("lognormal", "fixed")
KEYS = ("count", "stagger_minutes", "logout_after_hours", "acw", "breaks")
BREAK_KEYS = ("every_minutes", "length_minutes", "jitter_minutes", "share")
EDGE = 0.001  # seconds: act this much before the engine's ACW timer, look this much after it
TEAM_STATES = select(STATE.c.id, STATE.c.state, STATE.c.state_changed_at).where(
    STATE.c.id.in_(bindparam("ids", expanding=True))
)
AGENT_STATE = select(STATE.c.state, STATE.c.state_changed_at).where(STATE.c.id == bindparam("id"))


# --- the [agents] table ----------------------------------------------------------------------


@dataclass(frozen=True)
class BreakRule:
    """``share`` of the team takes a break of ``length_minutes`` every ``every_minutes`` after
    logging in, each one due up to ``jitter_minutes`` early or late."""

    every_minutes: float
    length_minutes: float
    jitter_minutes: float = 0.0
    share: float = 1.0


@dataclass(frozen=True)
class TeamSpec:
    """The scenario's ``[agents]`` table."""

    count: int = 0
    stagger_minutes: float = 0.0  # logins spread evenly over the first minutes
    logout_after_hours: float | None = None  # each agent's shift, from their login
    acw: Dist | None = None  # drawn wrap-up; None: the campaign's acw_seconds, always
    breaks: tuple[BreakRule, ...] = ()

    def __bool__(self) -> bool:
        return self.count > 0

    @classmethod
    def from_mapping(cls, spec: Any, where: str = "agents") -> TeamSpec:
        """Read and check the table; bad values are one ValidationFailed naming every bad
        field (``agents.acw.cv``, ``agents.breaks[0].every_minutes`` …)."""
        if not isinstance(spec, Mapping):
            raise ValidationFailed.field(where, f"must be a table, got {spec!r}")
        read = _Reader()
        read.known(spec, where, KEYS)
        if "talk" in spec:
            read.fail(f"{where}.talk", "talk time is the callee model's: set [callees] talk")
        count = read.number(spec, where, "count", required=bool(spec), integer=True)
        stagger = read.number(spec, where, "stagger_minutes")
        shift = read.number(spec, where, "logout_after_hours", above=True)
        acw = _read_acw(spec.get("acw"), f"{where}.acw", read)
        breaks = _read_breaks(spec.get("breaks", []), f"{where}.breaks", read)
        if read.errors:
            message = "; ".join(f"{e.field}: {e.message}" for e in read.errors)
            raise ValidationFailed(message, read.errors)
        return cls(int(count or 0), float(stagger or 0), shift, acw, breaks)


@dataclass
class _Reader:
    """Reads numbers out of a TOML table, keeping an error per bad field."""

    errors: list[FieldError] = field(default_factory=list)

    def fail(self, where: str, message: str, kind: str = "invalid") -> None:
        self.errors.append(FieldError(where, message, kind))

    def known(self, spec: Mapping[str, Any], where: str, keys: tuple[str, ...]) -> None:
        for key in spec:
            if key not in keys and key != "talk":
                self.fail(f"{where}.{key}", f"unknown field (known: {', '.join(keys)})", "unknown")

    def number(
        self,
        spec: Mapping[str, Any],
        where: str,
        key: str,
        required: bool = False,
        above: bool = False,
        most: float | None = None,
        integer: bool = False,
    ) -> float | None:
        """``spec[key]``: a number ≥ 0 (> 0 if ``above``; ≤ ``most``); None when absent."""
        at = f"{where}.{key}"
        if key not in spec:
            if required:
                self.fail(at, "is required", "missing")
            return None
        value = spec[key]
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
            self.fail(at, f"must be {kind}, got {value!r}")
            return None
        bound = "> 0" if above else "≥ 0"
        if not math.isfinite(value) or value < 0 or (above and value == 0):
            self.fail(at, f"must be {bound}, got {value!r}")
            return None
        if most is not None and value > most:
            self.fail(at, f"must be ≤ {most:g}, got {value!r}")
            return None
        return float(value)


def _read_acw(spec: Any, where: str, read: _Reader) -> Dist | None:
    """A number (fixed seconds), ``{dist = "fixed", mean}`` or ``{dist = "lognormal", mean,
    cv}``; None when absent."""
    if spec is None:
        return None
    if not isinstance(spec, Mapping):  # a bare number of seconds
        parent, key = where.rsplit(".", 1)
        value = read.number({key: spec}, parent, key)
        return None if value is None else Dist("fixed", value)
    kind = spec.get("dist", "lognormal")
    if kind not in ACW_DISTS:
        read.fail(f"{where}.dist", f"must be one of {', '.join(ACW_DISTS)}, got {kind!r}")
        return None
    read.known(spec, where, ("dist", "mean") if kind == "fixed" else ("dist", "mean", "cv"))
    if kind == "fixed":
        value = read.number(spec, where, "mean", required=True)
        return None if value is None else Dist("fixed", value)
    mean = read.number(spec, where, "mean", required=True, above=True)
    cv = read.number(spec, where, "cv", above=True)
    if mean is None:
        return None
    sigma = math.sqrt(math.log(1 + (0.5 if cv is None else cv) ** 2))
    return Dist("lognormal", mean / math.exp(sigma * sigma / 2), sigma)


def _read_breaks(spec: Any, where: str, read: _Reader) -> tuple[BreakRule, ...]:
    if isinstance(spec, Mapping):
        spec = [spec]
    if not isinstance(spec, list):
        read.fail(where, f"must be a list of tables, got {spec!r}")
        return ()
    rules = []
    for i, item in enumerate(spec):
        at = f"{where}[{i}]"
        if not isinstance(item, Mapping):
            read.fail(at, f"must be a table, got {item!r}")
            continue
        read.known(item, at, BREAK_KEYS)
        every = read.number(item, at, "every_minutes", required=True, above=True)
        length = read.number(item, at, "length_minutes", required=True, above=True)
        jitter = read.number(item, at, "jitter_minutes")
        share = read.number(item, at, "share", most=1)
        if every is None or length is None:
            continue
        if length >= every:
            read.fail(f"{at}.length_minutes", f"must be shorter than every_minutes ({every:g})")
        rule = BreakRule(every, length, jitter or 0.0, 1.0 if share is None else share)
        rules.append(rule)
    return tuple(rules)


# --- plans and draws -------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    due: float  # seconds from the start of the run
    length: float  # seconds


@dataclass(frozen=True)
class AgentPlan:
    login: float  # seconds from the start of the run
    logout: float | None
    breaks: tuple[Break, ...]


def plan_team(spec: TeamSpec, seed: int, until: float) -> list[AgentPlan]:
    """Each agent's login, logout and breaks (seconds from the start), up to ``until``: logins
    evenly over ``stagger_minutes``; each break rule for a seeded ``share`` of the team."""
    rng = random.Random(f"outdial-agents:{seed}:plan")
    n = spec.count
    logins = [spec.stagger_minutes * 60 * i / n for i in range(n)]
    takers = [set(rng.sample(range(n), round(rule.share * n))) for rule in spec.breaks]
    plans = []
    for i, login in enumerate(logins):
        shift = spec.logout_after_hours
        logout = None if shift is None else login + shift * 3600
        end = until if logout is None else min(until, logout)
        breaks = [
            b
            for rule, chosen in zip(spec.breaks, takers, strict=True)
            if i in chosen
            for b in plan_breaks(rule, login, end, rng)
        ]
        plans.append(AgentPlan(login, logout, tuple(sorted(breaks, key=lambda b: b.due))))
    return plans


def plan_breaks(rule: BreakRule, login: float, end: float, rng: random.Random) -> list[Break]:
    """Breaks of one rule for an agent logged in from ``login`` to ``end``: the k-th due at
    ``login + k·every``, moved by a uniform draw within ±jitter, never before the login."""
    every, jitter = rule.every_minutes * 60, rule.jitter_minutes * 60
    found = []
    k = 1
    while login + k * every - jitter < end:
        due = max(login, login + k * every + rng.uniform(-jitter, jitter))
        if due < end:
            found.append(Break(due, rule.length_minutes * 60))
        k += 1
    return found


def draw_acw(dist: Dist | None, cap: float, rng: random.Random) -> float:
    """A wrap-up time: drawn, never beyond the campaign's ``acw_seconds`` (the engine's cap);
    without a distribution the agent wraps up for the whole cap."""
    if dist is None:
        return cap
    return min(max(0.0, dist.sample(rng)), cap)


# --- the record --------------------------------------------------------------------------------


@dataclass
class Timeline:
    """One agent's states over the run, as driven and observed: seconds per state, each
    after-call work and each not-ready spell."""

    state: str = S.OFFLINE.value
    since: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    wraps: list[float] = field(default_factory=list)
    rests: list[float] = field(default_factory=list)

    def move(self, state: str, at: float) -> None:
        """The agent is in ``state`` since ``at`` (a repeat of the known state is no move)."""
        if state == self.state and at <= self.since:
            return
        spent = max(0.0, at - self.since)
        self.seconds[self.state] = self.seconds.get(self.state, 0.0) + spent
        if self.state == S.AFTER_CALL_WORK:
            self.wraps.append(spent)
        elif self.state == S.NOT_READY and spent > 0:
            self.rests.append(spent)
        self.state, self.since = state, max(at, self.since)


@dataclass(frozen=True)
class BreakTaken:
    agent_id: int
    due: float
    start: float
    length: float  # planned
    end: float | None = None  # None: the run ended first


def team_figures(
    timelines: list[Timeline], taken: list[BreakTaken], cap: float, end: float
) -> dict[str, Any]:
    """The report's ``agents`` section: hours per state over the team, occupancy ((talk + ACW)
    / logged-in time, and / time logged in off break as in ``outdial bench pacing``), ACW and
    breaks. ``timelines`` must be closed (moved to offline)."""
    total: dict[str, float] = {}
    for line in timelines:
        for state, seconds in line.seconds.items():
            total[state] = total.get(state, 0.0) + seconds
    logged_in = sum(v for k, v in total.items() if k != S.OFFLINE)
    talk = total.get(S.ON_CALL, 0.0) + total.get(S.RESERVED, 0.0)
    acw = total.get(S.AFTER_CALL_WORK, 0.0)
    working = logged_in - total.get(S.NOT_READY, 0.0)  # the pacing benchmark's denominator
    wraps = [w for line in timelines for w in line.wraps]
    done = [b for b in taken if b.end is not None]
    return {
        "count": len(timelines),
        "logged_in_hours": round(logged_in / 3600, 3),
        "talk_hours": round(talk / 3600, 3),
        "acw_hours": round(acw / 3600, 3),
        "break_hours": round(total.get(S.NOT_READY, 0.0) / 3600, 3),
        "idle_hours": round(total.get(S.READY, 0.0) / 3600, 3),
        "occupancy": round((talk + acw) / logged_in, 4) if logged_in else 0.0,
        "occupancy_off_break": round((talk + acw) / working, 4) if working else 0.0,
        "wraps": len(wraps),
        "mean_acw_seconds": round(sum(wraps) / len(wraps), 2) if wraps else 0.0,
        "max_acw_seconds": round(max(wraps), 3) if wraps else 0.0,
        "acw_cap_seconds": cap,
        "breaks": len(taken),
        "breaks_planned_minutes": round(sum(b.length for b in taken) / 60, 1),
        "mean_break_minutes": (
            round(sum(b.end - b.start for b in done if b.end) / len(done) / 60, 2) if done else 0.0
        ),
        "mean_break_delay_seconds": (
            round(sum(b.start - b.due for b in taken) / len(taken), 1) if taken else 0.0
        ),
        "until_seconds": round(end, 1),
    }


# --- the team on the event loop ------------------------------------------------------------------


def create_team(services: Services, tenant: Tenant, count: int) -> tuple[int, list[int]]:
    """A skill group of ``count`` agents, offline: (group id, agent ids)."""
    group = services.skill_groups.create(tenant, validate(SkillGroupIn, {"name": "agents"}))
    ids = []
    for n in range(count):
        body = {
            "name": f"agent {n + 1}",
            "endpoint": f"user/{1000 + n}",
            "skill_group_ids": [group["id"]],
        }
        ids.append(int(services.agents.create(tenant, validate(AgentIn, body))["id"]))
    return int(group["id"]), ids


@dataclass
class SimAgent:
    id: int
    plan: AgentPlan
    rng: random.Random  # the ACW draws
    timeline: Timeline = field(default_factory=Timeline)
    due: deque[Break] = field(default_factory=deque)  # breaks due, not yet taken
    leaving: bool = False  # the shift is over: log out at the next chance
    resting: BreakTaken | None = None  # the break under way
    wrap: float | None = None  # start of the after-call work being watched
    logged_out: float | None = None  # when the shift's end took them out


class SimTeam:
    """Drives a team's agents through the agent service, in the loop's (virtual) time."""

    def __init__(
        self,
        services: Services,
        tenant: Tenant,
        start: datetime,
        spec: TeamSpec,
        agent_ids: list[int],
        seed: int,
        cap: float,
        until: float,
    ):
        self.services, self.tenant, self.start, self.spec = services, tenant, start, spec
        self.cap = cap
        plans = plan_team(spec, seed, until)
        self.agents = {
            agent_id: SimAgent(agent_id, plan, random.Random(f"outdial-agents:{seed}:{i}:acw"))
            for i, (agent_id, plan) in enumerate(zip(agent_ids, plans, strict=True))
        }
        self.taken: list[BreakTaken] = []
        self.nudge: Callable[[], None] = lambda: None  # wake the campaign's runner
        self.errors: list[Exception] = []
        self.ended: float | None = None
        self._look_pending = False
        self._live: set[str] = set()  # calls a person answered: the ones an agent may take

    # --- time --------------------------------------------------------------------------------

    def now(self) -> float:
        return self._seconds(self.services.clock.now())

    def _seconds(self, at: datetime) -> float:
        return (at - self.start).total_seconds()

    def _at(self, when: float, move: Callable[[], None]) -> None:
        delay = max(0.0, when - self.now())
        asyncio.get_running_loop().call_later(delay, self._guard, move)

    def _guard(self, move: Callable[[], None]) -> None:
        """Run a timed move; an error is kept and raised when the run ends."""
        if self.ended is not None:
            return
        try:
            move()
        except Exception as exc:  # surfaced by stop()
            self.errors.append(exc)

    # --- the run -----------------------------------------------------------------------------

    def begin(self) -> None:
        """On the running loop: agents due now log in at once; the rest, their breaks and
        their shift ends are timed."""
        for agent in self.agents.values():
            plan = agent.plan
            if plan.login <= self.now():
                self._log_in(agent)
            else:
                self._at(plan.login, partial(self._log_in, agent))
            for brk in plan.breaks:
                self._at(brk.due, partial(self._break_due, agent, brk))
            if plan.logout is not None:
                self._at(plan.logout, partial(self._shift_over, agent))

    def stop(self) -> dict[str, Any]:
        """The run is over: observe the last moves, close the record, return the figures."""
        end = self.now()
        self.ended = end
        self._look()
        for agent in self.agents.values():
            agent.timeline.move(S.OFFLINE, end)
            if agent.resting is not None:
                self.taken.append(agent.resting)  # cut short by the end of the run
        if self.errors:
            raise self.errors[0]
        timelines = [a.timeline for a in self.agents.values()]
        return team_figures(timelines, self.taken, self.cap, end)

    # --- observing the engine ----------------------------------------------------------------

    def on_call_event(self, event: CallEvent) -> None:
        """A sim driver sink: after an answer or a hang-up the engine may have moved an agent
        (on a call; into after-call work); look once the engine has handled the event."""
        if event.kind is CallEventKind.HANGUP:
            if event.call_id not in self._live:
                return  # never answered by a person: no agent had it
            self._live.discard(event.call_id)
        elif event.kind is CallEventKind.RINGING or event.machine:
            return
        else:
            self._live.add(event.call_id)
        if not self._look_pending and self.ended is None:
            self._look_pending = True
            asyncio.get_running_loop().call_soon(self._guard, self._look)

    def _look(self) -> None:
        """Read the team's rows and record what the engine changed."""
        self._look_pending = False
        with self.services.store.read() as conn:
            rows = conn.execute(TEAM_STATES, {"ids": list(self.agents)}).all()
        for row in rows:
            self._observed(self.agents[row.id], row.state, self._seconds(row.state_changed_at))

    def _read(self, agent: SimAgent) -> tuple[str, float]:
        with self.services.store.read() as conn:
            state, since = conn.execute(AGENT_STATE, {"id": agent.id}).one()
        return str(state), self._seconds(since)

    def _observed(self, agent: SimAgent, state: str, since: float) -> None:
        line = agent.timeline
        if (state, since) == (line.state, line.since) or since < line.since:
            return
        line.move(state, since)
        if self.ended is not None:
            return
        if state == S.AFTER_CALL_WORK:
            self._wrap_started(agent, since)
        elif state == S.READY and (agent.due or agent.leaving):
            self._rest(agent)

    def _wrap_started(self, agent: SimAgent, since: float) -> None:
        """A call ended: the agent wraps up for a drawn time, then is ready (or leaves). A
        wrap-up drawn at the cap is ended by the engine; a break or the logout then comes just
        before the cap, so that no call can take the agent first."""
        agent.wrap = since
        wrap = draw_acw(self.spec.acw, self.cap, agent.rng)
        early = wrap < self.cap - EDGE
        when = since + (wrap if early else self.cap - EDGE)
        self._at(when, partial(self._wrapped, agent, since, early))

    def _wrapped(self, agent: SimAgent, since: float, early: bool) -> None:
        if agent.wrap != since or self._read(agent) != (S.AFTER_CALL_WORK, since):
            return  # the engine ended this wrap-up already
        agent.wrap = None
        if agent.leaving or agent.due:
            self._rest(agent)
        elif early:
            self._act(agent, AgentAction.READY)
            self.nudge()
        else:  # watch the engine end it at the cap
            self._at(since + self.cap + EDGE, self._look)

    # --- the agents' own moves ---------------------------------------------------------------

    def _act(self, agent: SimAgent, action: AgentAction) -> bool:
        """A move through the agent service; False if the agent's state forbids it now."""
        try:
            row = self.services.agents.act(self.tenant, agent.id, action)
        except IllegalTransition:
            return False
        agent.timeline.move(str(row["state"]), self._seconds(row["state_changed_at"]))
        return True

    def _log_in(self, agent: SimAgent) -> None:
        self._act(agent, AgentAction.LOGIN)
        self._act(agent, AgentAction.READY)
        if agent.due:  # a break due at the very login
            self._rest(agent)
        self.nudge()

    def _break_due(self, agent: SimAgent, brk: Break) -> None:
        if not agent.leaving:
            agent.due.append(brk)
            self._rest(agent)

    def _shift_over(self, agent: SimAgent) -> None:
        agent.leaving = True
        self._rest(agent)

    def _rest(self, agent: SimAgent) -> None:
        """A break or the shift's end is due: take it if the agent is between calls and done
        wrapping up; else the end of the call's wrap-up takes it."""
        if agent.resting is not None:
            return  # the break's end takes the next one
        state, since = self._read(agent)
        if (state, since) != (agent.timeline.state, agent.timeline.since):
            self._observed(agent, state, since)  # a move not seen yet: it decides
            return
        if state not in (S.READY, S.NOT_READY, S.AFTER_CALL_WORK) or agent.wrap is not None:
            return  # offline, on a call or wrapping up
        if agent.leaving:
            agent.due.clear()
            if self._act(agent, AgentAction.LOGOUT):
                agent.logged_out = self.now()
        elif agent.due and self._act(agent, AgentAction.NOT_READY):
            brk = agent.due.popleft()
            agent.resting = BreakTaken(agent.id, brk.due, self.now(), brk.length)
            self._at(self.now() + brk.length, partial(self._back, agent))

    def _back(self, agent: SimAgent) -> None:
        """A break is over: the next one due, the shift's end, or ready again."""
        rest = agent.resting
        assert rest is not None
        self.taken.append(replace(rest, end=self.now()))
        agent.resting = None
        if agent.due or agent.leaving:
            self._rest(agent)
            if agent.resting is not None or agent.timeline.state == S.OFFLINE:
                return
        self._act(agent, AgentAction.READY)
        self.nudge()
