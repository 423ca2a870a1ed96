"""The forecast of a campaign's remaining contacts: its real settings, its team, and the rates its
ledger taught (dialing.md defaults where the ledger is too thin, or the caller's own), run
through ``sim/forecast.py``. Read-only."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select

from outdial.clock import Clock
from outdial.domain.errors import FieldError
from outdial.domain.outcomes import ContactState, Outcome
from outdial.domain.schedule import PacingMode
from outdial.engine.config import load_config
from outdial.services.common import Tenant, found
from outdial.services.validation import failed
from outdial.sim import forecast as model
from outdial.store.repo import TenantTable
from outdial.store.schema import agent_skill_groups, agents, attempts, campaigns, contact_phones
from outdial.store.schema import contacts as contacts_table
from outdial.store.store import Store

PARAMETERS = ("agents", "answer_rate", "talk_seconds", "acw_seconds", "finish_by", "seeds")
RECENT_ATTEMPTS = 2_000  # the ledger's latest ended attempts teach the rates
MIN_ATTEMPTS = 50  # fewer: every rate is a default
MIN_SAMPLES = 10  # fewer answers, talks, no-answers or failures: that time is a default
MAX_FINISH_HOURS = 24 * 400
REMAINING = (ContactState.PENDING, ContactState.IN_PROGRESS, ContactState.PAUSED)
NOT_DIALS = (Outcome.CANCELLED.value, Outcome.DNC_BLOCKED.value)  # we ended them / never dialed
LIVE_OUTCOMES = frozenset({Outcome.ANSWERED, Outcome.ABANDONED})
SLOW = frozenset({Outcome.ANSWERED, Outcome.ABANDONED, Outcome.NO_ANSWER, Outcome.ANSWERED_MACHINE})

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Overrides:
    """What the caller gives instead of the campaign's own figures."""

    agents: int | None = None
    answer_rate: float | None = None
    talk_seconds: float | None = None
    acw_seconds: float | None = None
    finish_by: datetime | None = None
    seeds: int = model.SEEDS


def parse_overrides(params: Mapping[str, str | None], now: datetime, mode: PacingMode) -> Overrides:
    """Parse and check the overrides (strings, as a query or a command line gives them); every
    bad one is named in one 422."""
    reader = _Reader(params)
    found_ = Overrides(
        agents=reader.integer("agents", 1, model.MAX_AGENTS),
        answer_rate=reader.number("answer_rate", 0.0, 1.0, "above 0 and at most 1", open_low=True),
        talk_seconds=reader.number("talk_seconds", 1.0, 7200.0, "between 1 and 7200"),
        acw_seconds=reader.number("acw_seconds", 0.0, 600.0, "between 0 and 600"),
        finish_by=reader.instant("finish_by", now),
        seeds=reader.integer("seeds", 1, model.MAX_SEEDS) or model.SEEDS,
    )
    if mode in model.ROBOT_MODES:
        for name in ("agents", "acw_seconds"):
            if params.get(name) is not None:
                reader.error(name, f"a {mode.value} campaign has no agents", "not_applicable")
    if reader.errors:
        raise failed(reader.errors)
    return found_


class _Reader:
    def __init__(self, params: Mapping[str, str | None]):
        self.params = params
        self.errors: list[FieldError] = []

    def error(self, name: str, message: str, kind: str = "invalid") -> None:
        self.errors.append(FieldError(name, message, kind))

    def integer(self, name: str, low: int, high: int) -> int | None:
        raw = self.params.get(name)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            self.error(name, f"expected an integer, got {raw!r}", "int_parsing")
            return None
        if not low <= value <= high:
            self.error(name, f"must be between {low} and {high}, got {value}", "out_of_range")
            return None
        return value

    def number(
        self, name: str, low: float, high: float, rule: str, open_low: bool = False
    ) -> float | None:
        raw = self.params.get(name)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            self.error(name, f"expected a number, got {raw!r}", "float_parsing")
            return None
        below = value <= low if open_low else value < low
        if not math.isfinite(value) or below or value > high:
            self.error(name, f"must be {rule}, got {raw!r}", "out_of_range")
            return None
        return value

    def instant(self, name: str, now: datetime) -> datetime | None:
        """An ISO 8601 instant with its offset, or a number of hours from now."""
        raw = self.params.get(name)
        if raw is None:
            return None
        try:
            hours = float(raw)
        except ValueError:
            return self._iso(name, raw, now)
        if not math.isfinite(hours) or not 0 < hours <= MAX_FINISH_HOURS:
            self.error(
                name, f"hours must be above 0 and at most {MAX_FINISH_HOURS}", "out_of_range"
            )
            return None
        return now + timedelta(hours=hours)

    def _iso(self, name: str, raw: str, now: datetime) -> datetime | None:
        try:
            at = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            self.error(name, f"expected hours or an ISO 8601 date-time, got {raw!r}", "invalid")
            return None
        if at.tzinfo is None:
            self.error(name, "give the date-time with its offset (Z or +08:00)", "timezone")
            return None
        if at <= now:
            self.error(name, f"must be in the future (now is {now.isoformat()})", "out_of_range")
            return None
        if at > now + timedelta(hours=MAX_FINISH_HOURS):
            self.error(name, "must be within 400 days", "out_of_range")
            return None
        return at


class ForecastService:
    def __init__(self, store: Store, clock: Clock):
        self.store = store
        self.clock = clock

    def forecast(
        self,
        tenant: Tenant,
        campaign_id: int,
        params: Mapping[str, str | None],
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """The forecast of the campaign's remaining contacts (see sim/forecast.py)."""
        now = self.clock.now()
        with self.store.read() as conn:
            campaign = found(
                TenantTable(campaigns).get(conn, tenant.id, campaign_id), "campaign", campaign_id
            )
            mode = PacingMode(campaign["pacing_mode"])
            given = parse_overrides(params, now, mode)
            team, team_source = _team(conn, campaign)
            if mode not in model.ROBOT_MODES and given.agents is None and team == 0:
                raise failed(
                    [FieldError("agents", "the campaign's skill group has no agents; give agents")]
                )
            sample = _ledger_sample(conn, campaign_id)
            abandons, live = _abandon_counts(conn, campaign_id)
            starts = _starts(conn, campaign_id)
        config = load_config(self.store, campaign)
        rates, sources = learn(sample, mode not in model.ROBOT_MODES)
        rates, sources = _apply(rates, sources, given, float(campaign["acw_seconds"]))
        work = model.remaining_work(starts, config.redial, rates.mix)
        agents = given.agents or team
        setup = model.Setup(
            mode=mode,
            schedule=config.schedule,
            agents=agents,
            target=float(campaign["abandon_target_percent"]) / 100.0,
            ratio=float(campaign["ratio"]),
            max_calls=_max_calls(campaign, config.line),
            call_gap=float(campaign["call_gap_seconds"]),
            ring_timeout=float(campaign["ring_timeout_seconds"]),
        )
        result = model.forecast(setup, rates, work, now, given.finish_by, given.seeds, progress)
        body = result.as_dict()
        body["notes"] += _notes(campaign)
        robot = mode in model.ROBOT_MODES
        team_source = "given" if given.agents is not None else team_source
        return {
            "campaign_id": campaign_id,
            "state": campaign["state"],
            "at": now,
            **body,
            "team": None if robot else {"agents": agents, "source": team_source},
            "rates": _rates_dict(rates, sources, len(sample), robot),
            "so_far": {"live_answers": live, "abandoned": abandons},
        }


# --- reading the store ------------------------------------------------------------------------


def _team(conn: Connection, campaign: dict[str, Any]) -> tuple[int, str]:
    """Agents logged in to the skill group, else its members, else the campaign's assigned
    agents."""
    group = campaign["skill_group_id"]
    if group is not None:
        states = list(
            conn.scalars(
                select(agents.c.state)
                .join(agent_skill_groups, agent_skill_groups.c.agent_id == agents.c.id)
                .where(agent_skill_groups.c.skill_group_id == group)
            )
        )
        logged_in = sum(1 for s in states if s != "offline")
        if logged_in:
            return logged_in, "logged_in"
        if states:
            return len(states), "skill_group"
    assigned = campaign["agent_assignments"] or []
    if assigned:
        return len(assigned), "assigned"
    return 0, "none"


def _ledger_sample(conn: Connection, campaign_id: int) -> list[dict[str, Any]]:
    query = (
        select(
            attempts.c.outcome,
            attempts.c.created_at,
            attempts.c.answered_at,
            attempts.c.ended_at,
            attempts.c.talk_seconds,
            attempts.c.agent_id,
        )
        .where(
            attempts.c.campaign_id == campaign_id,
            attempts.c.ended_at.is_not(None),
            attempts.c.outcome.not_in(NOT_DIALS),
        )
        .order_by(attempts.c.id.desc())
        .limit(RECENT_ATTEMPTS)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def _abandon_counts(conn: Connection, campaign_id: int) -> tuple[int, int]:
    """The campaign's abandons and live answers so far (the pacer starts from them)."""
    live = [o.value for o in LIVE_OUTCOMES]
    row = conn.execute(
        select(
            func.count().filter(attempts.c.abandoned.is_(True)),
            func.count().filter(attempts.c.outcome.in_(live)),
        ).where(attempts.c.campaign_id == campaign_id)
    ).one()
    return int(row[0]), int(row[1])


def _starts(conn: Connection, campaign_id: int) -> list[model.Start]:
    """Remaining contacts grouped by phone group, phone count, current phone and the attempts
    already made on it."""
    counts = (
        select(contact_phones.c.contact_id, func.count().label("phones"))
        .where(contact_phones.c.campaign_id == campaign_id)
        .group_by(contact_phones.c.contact_id)
        .subquery()
    )
    current = contact_phones.alias("current_phone")
    c = contacts_table.c
    query = (
        select(current.c.phone_group, counts.c.phones, c.phone_index, current.c.attempt_count)
        .add_columns(func.count())
        .select_from(
            contacts_table.join(
                current, and_(current.c.contact_id == c.id, current.c.position == c.phone_index)
            ).join(counts, counts.c.contact_id == c.id)
        )
        .where(c.campaign_id == campaign_id, c.state.in_([s.value for s in REMAINING]))
        .group_by(current.c.phone_group, counts.c.phones, c.phone_index, current.c.attempt_count)
    )
    return [
        model.Start(str(g), int(n), int(i), int(t), int(k)) for g, n, i, t, k in conn.execute(query)
    ]


# --- learning the rates -----------------------------------------------------------------------


def learn(
    rows: Sequence[Mapping[str, Any]], agent_mode: bool
) -> tuple[model.Rates, dict[str, str]]:
    """Rates from the latest ended attempts (dialing.md defaults where too few): the outcome
    mix (abandoned calls count as live answers), the median delay to a live answer, the mean
    hold of no-answers and of fast failures, and talk time's mean and CV (agent modes: talks
    with an agent)."""
    base = model.Rates()
    names = ("answer_rate", "answer_delay", "no_answer_seconds", "fail_seconds", "talk_seconds")
    sources = dict.fromkeys(names, "default")
    if len(rows) < MIN_ATTEMPTS:
        return base, sources
    outcomes = [_outcome(r["outcome"]) for r in rows]
    mix = {o: n / len(rows) for o, n in Counter(outcomes).items()}
    rates = replace(base, mix=mix)
    sources["answer_rate"] = "learnt"
    delays = [
        _seconds(r["created_at"], r["answered_at"])
        for r, o in zip(rows, outcomes, strict=True)
        if o is Outcome.ANSWERED and r["answered_at"]
    ]
    if len(delays) >= MIN_SAMPLES:
        rates = replace(rates, answer_delay=statistics.median(delays))
        sources["answer_delay"] = "learnt"
    rates = _learn_holds(rates, rows, outcomes, sources)
    talks = [
        float(r["talk_seconds"])
        for r, o in zip(rows, outcomes, strict=True)
        if o is Outcome.ANSWERED and r["talk_seconds"] > 0 and (r["agent_id"] or not agent_mode)
    ]
    if len(talks) >= MIN_SAMPLES:
        mean = statistics.fmean(talks)
        rates = replace(rates, talk_mean=mean, talk_cv=statistics.pstdev(talks) / mean)
        sources["talk_seconds"] = "learnt"
    return rates, sources


def _learn_holds(
    rates: model.Rates,
    rows: Sequence[Mapping[str, Any]],
    outcomes: Sequence[Outcome],
    sources: dict[str, str],
) -> model.Rates:
    pairs = list(zip(rows, outcomes, strict=True))
    unanswered = [
        _seconds(r["created_at"], r["ended_at"]) for r, o in pairs if o is Outcome.NO_ANSWER
    ]
    if len(unanswered) >= MIN_SAMPLES:
        rates = replace(rates, no_answer_seconds=statistics.fmean(unanswered))
        sources["no_answer_seconds"] = "learnt"
    fast = [_seconds(r["created_at"], r["ended_at"]) for r, o in pairs if o not in SLOW]
    if len(fast) >= MIN_SAMPLES:
        rates = replace(rates, fail_seconds=max(0.1, statistics.fmean(fast)))
        sources["fail_seconds"] = "learnt"
    return rates


def _outcome(value: str) -> Outcome:
    outcome = Outcome(value)
    return Outcome.ANSWERED if outcome is Outcome.ABANDONED else outcome


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


def _apply(
    rates: model.Rates, sources: dict[str, str], given: Overrides, acw_setting: float
) -> tuple[model.Rates, dict[str, str]]:
    sources = {**sources, "acw_seconds": "setting"}
    rates = replace(rates, acw=acw_setting)
    if given.answer_rate is not None:
        rates, sources["answer_rate"] = rates.with_answer_rate(given.answer_rate), "given"
    if given.talk_seconds is not None:
        rates, sources["talk_seconds"] = replace(rates, talk_mean=given.talk_seconds), "given"
    if given.acw_seconds is not None:
        rates, sources["acw_seconds"] = replace(rates, acw=given.acw_seconds), "given"
    return rates, sources


# --- the answer -------------------------------------------------------------------------------


def _max_calls(campaign: dict[str, Any], line: Mapping[str, Any]) -> int:
    limit = int(campaign["max_concurrency"])
    channels = line.get("channels")
    return min(limit, int(channels)) if channels else limit


def _notes(campaign: dict[str, Any]) -> list[str]:
    notes = []
    state = campaign["state"]
    if state in ("draft", "paused"):
        notes.append(f"the campaign is {state}: the forecast assumes it dials from now")
    if campaign["use_contact_timezone"]:
        notes.append("dialing time is laid on the campaign's own time zone, not each contact's")
    return notes


def _rates_dict(
    rates: model.Rates, sources: Mapping[str, str], attempts_seen: int, robot: bool
) -> dict[str, Any]:
    def entry(value: Any, name: str) -> dict[str, Any]:
        return {"value": value, "source": sources[name]}

    body = {
        "ledger_attempts": attempts_seen,
        "answer_rate": entry(round(rates.answer_rate, 4), "answer_rate"),
        "outcome_mix": entry(
            {o.value: round(q, 4) for o, q in sorted(rates.mix.items())}, "answer_rate"
        ),
        "answer_delay_seconds": entry(round(rates.answer_delay, 2), "answer_delay"),
        "no_answer_seconds": entry(
            None if rates.no_answer_seconds is None else round(rates.no_answer_seconds, 2),
            "no_answer_seconds",
        ),
        "fail_seconds": entry(round(rates.fail_seconds, 2), "fail_seconds"),
        "talk_seconds": {
            **entry(round(rates.talk_mean, 2), "talk_seconds"),
            "cv": round(rates.talk_cv, 3),
        },
    }
    if not robot:
        body["acw_seconds"] = entry(rates.acw, "acw_seconds")
    return body
