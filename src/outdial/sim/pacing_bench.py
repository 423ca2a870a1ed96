"""``outdial bench pacing``: the scenario matrix of dialing.md §5 for every pacing policy, on the
same seeds (common random numbers), with the figures of §1 and the targets of §6.3."""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from outdial.domain.pacing import vicidial_goal
from outdial.engine.pacer import Pacer
from outdial.sim.callcentre import BUCKET, CallCentre, Cell, Tally

POLICIES = (
    "progressive",
    "ratio-2",
    "ratio-3",
    "ratio-tuned",
    "power-tuned",
    "vicidial-adapt",
    "predictive",
    "clairvoyant",
    "mdp-optimum",
)
TEAMS = (5, 20, 100)
ANSWER_RATES = (0.20, 0.35, 0.60)
# dialing.md §6.3: occupancy predictive must reach at 3 % (N, p) -> floor.
TARGETS = {
    (5, 0.20): 0.715,
    (5, 0.35): 0.80,
    (5, 0.60): 0.855,
    (20, 0.20): 0.87,
    (20, 0.35): 0.88,
    (20, 0.60): 0.91,
    (100, 0.20): 0.955,
    (100, 0.35): 0.96,
    (100, 0.60): 0.965,
}
MARKOV_TARGETS = {5: 0.797, 20: 0.876, 100: 0.947}  # within 1 point of the MDP optimum
# The two tuned fixed ratios (dialing.md §3.2), each by bisection on its one parameter:
# ``ratio-tuned`` is VICIdial RATIO / lines per agent, the peer of §6.3 item 2 (the dial level L
# scales the whole team, so L − 1 lines per agent stay pending), within L ∈ [1, 1 + LEVEL_REACH/p]:
# up to 0.2 expected live answers pending per agent; ``power-tuned`` is power k·I (k dials per
# ready agent, the stronger form), within k ∈ [1, POWER_REACH/p]: up to 2.5 expected live answers
# per ready agent. Scaled by 1/p so the bisection's steps are as fine for every answer rate.
TUNED = {"ratio-tuned": "vicidial-ratio", "power-tuned": "ratio"}  # policy -> the Pacer's law
LEVEL_REACH = 0.2
POWER_REACH = 2.5


@dataclass(frozen=True)
class Plan:
    quick: bool
    replications: dict[int, int]
    hours: float
    tuning_steps: int

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(True, {5: 2, 20: 1, 100: 1}, 2.0, 4)
        return cls(False, {5: 40, 20: 10, 100: 3}, 8.0, 8)


def core_cells(plan: Plan) -> list[Cell]:
    return [
        Cell(f"core N={n} p={p:.2f}", n, p, hours=plan.hours) for n in TEAMS for p in ANSWER_RATES
    ]


def markov_cells(plan: Plan) -> list[Cell]:
    return [
        Cell(f"markov N={n} p=0.35", n, 0.35, markov=True, grace=0.0, hours=plan.hours)
        for n in TEAMS
    ]


def robustness_cells(plan: Plan) -> list[Cell]:
    hours = plan.hours  # the disturbances fall at a quarter and at half the shift
    base = Cell("robust", 20, 0.35, hours=hours)
    return [
        replace(base, name="stale list N=20 p=0.35→0.18", answer_rate_end=0.18),
        replace(
            base,
            name="agent churn N=20 p=0.35",
            stagger_minutes=10.0,
            breaks=(0.2, hours / 4, 15.0),
        ),
        replace(base, name="talk 120→180 s N=20 p=0.35", talk_shift=(hours / 2, 180.0)),
        replace(
            base,
            name="china ring N=20 p=0.35",
            rna=45.0,
            pdd=(2.0, 8.0),
            no_answer_share=0.35,
            machine_share=0.15,
            fail_time=(4.0, 10.0),
        ),
    ]


def disturbance_end(cell: Cell) -> float | None:
    """When a robustness cell's disturbance is over (seconds), for the recovery figure."""
    if cell.breaks is not None:
        return cell.breaks[1] * 3600.0 + cell.breaks[2] * 60.0
    if cell.talk_shift is not None:
        return cell.talk_shift[0] * 3600.0
    return None


# --- one replication ----------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    cell: Cell
    policy: str
    ratio: float
    seed: int


def pacer_for(policy: str, ratio: float, target: float, seed: int) -> Pacer | None:
    if policy == "clairvoyant":
        return None
    if policy in TUNED:
        return Pacer(TUNED[policy], target=target, ratio=ratio, seed=seed)
    if policy.startswith("ratio"):
        return Pacer("ratio", target=target, ratio=ratio, seed=seed)
    return Pacer(policy, target=target, seed=seed)


def run_job(job: Job) -> dict[str, Any]:
    """One replication's measures; for ``mdp-optimum``, the Markov cell's row from the exact
    solver (run in the pool beside the replications: at N = 100 it takes seconds)."""
    if job.policy == "mdp-optimum":
        return mdp_row(job.cell)
    pacer = pacer_for(job.policy, job.ratio, job.cell.target, job.seed)
    tally = CallCentre(job.cell, job.seed, pacer).run()
    return measure(job.cell, tally)


def measure(cell: Cell, tally: Tally) -> dict[str, Any]:
    present = max(tally.logged_in, 1e-9)
    busy = tally.talk + tally.acw
    idle = max(0.0, present - busy)
    hourly = rolling_hours(cell, tally)
    return {
        "occupancy": busy / present,
        "talk_minutes_per_agent_hour": 60.0 * tally.talk / present,
        "connects_per_agent_hour": 3600.0 * tally.connects / present,
        "dials_per_agent_hour": 3600.0 * tally.dials / present,
        "abandonment": tally.run_abandons / tally.run_live if tally.run_live else 0.0,
        "wait_between_calls": idle / tally.connects if tally.connects else 0.0,
        "customer_wait": tally.wait / tally.connects if tally.connects else 0.0,
        "hourly_p95": _percentile(hourly, 0.95),
        "hourly_max": max(hourly, default=0.0),
        "recovery_minutes": recovery_minutes(cell, tally),
        "series": [
            (b[2] / b[3] if b[3] else 0.0, b[1] / b[0] if b[0] else 0.0) for b in tally.buckets
        ],
    }


def rolling_hours(cell: Cell, tally: Tally) -> list[float]:
    """Abandonment over each one-hour window after the warm-up, sliding by a bucket."""
    per_hour = round(3600.0 / BUCKET)
    start = math.ceil(cell.warmup_hours * 3600.0 / BUCKET)
    rates = []
    for first in range(start, len(tally.buckets) - per_hour + 1):
        window = tally.buckets[first : first + per_hour]
        live = sum(b[0] for b in window)
        if live:
            rates.append(sum(b[1] for b in window) / live)
    return rates


def recovery_minutes(cell: Cell, tally: Tally) -> float | None:
    """Minutes from the end of the disturbance until the 15-minute occupancy is back within
    2 points of the stationary occupancy that follows it (dialing.md §6.3 item 4)."""
    end = disturbance_end(cell)
    if end is None:
        return None
    buckets = tally.buckets
    first = int(end // BUCKET)
    settled = buckets[first + round(3600.0 / BUCKET) :]
    if not settled:
        return None
    steady = sum(b[2] for b in settled) / sum(b[3] for b in settled)
    span = round(900.0 / BUCKET)
    for i in range(first, len(buckets) - span + 1):
        window = buckets[i : i + span]
        if sum(b[2] for b in window) / sum(b[3] for b in window) >= steady - 0.02:
            return (i - first) * BUCKET / 60.0
    return None


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the matrix ---------------------------------------------------------------------------


Runner = Callable[[list[Job]], list[dict[str, Any]]]


@contextmanager
def pooled_runner(
    workers: int | None = None, advance: Callable[[int], None] | None = None
) -> Iterator[Runner]:
    """A runner on one pool of processes for the whole matrix, each job run once: a
    replication is a pure function of its job, so one asked for again (the tuned ratio's last
    fitting step, in the final batch) is answered from memory."""
    workers = workers or os.cpu_count() or 1
    done: dict[Hashable, dict[str, Any]] = {}

    def tick() -> None:
        if advance:
            advance(1)

    def run_on(pool: ProcessPoolExecutor | None, jobs: list[Job]) -> list[dict[str, Any]]:
        keys = [run_key(job) for job in jobs]
        first: dict[Hashable, Job] = {}
        for key, job in zip(keys, jobs, strict=True):
            if key not in done:
                first.setdefault(key, job)
        todo = list(first.values())
        if advance and len(jobs) > len(todo):
            advance(len(jobs) - len(todo))
        if pool is None:
            for job in todo:
                done[run_key(job)] = run_job(job)
                tick()
        else:  # the longest replications first, so no worker is left with one at the end
            todo.sort(key=job_cost, reverse=True)
            for job, result in zip(todo, pool.map(run_job, todo, chunksize=1), strict=True):
                done[run_key(job)] = result
                tick()
        return [done[key] for key in keys]

    if workers == 1:
        yield lambda jobs: run_on(None, jobs)
        return
    with ProcessPoolExecutor(workers) as pool:
        yield lambda jobs: run_on(pool, jobs)


def run_key(job: Job) -> Hashable:
    """What a replication's result depends on: its job, except that VICIdial RATIO depends on
    its level only through :func:`pacing.vicidial_goal` for each count of agents up to the
    team's — at N = 5 most of the bisection's steps repeat one of a few runs."""
    if TUNED.get(job.policy) == "vicidial-ratio":
        goals = tuple(vicidial_goal(job.ratio, k) for k in range(job.cell.agents + 1))
        return (job.cell, job.policy, goals, job.seed)
    return job


def job_cost(job: Job) -> float:
    """A replication's rough cost: agents × shift, the predictive law's forecast the dearest;
    the MDP solver's grid grows with the team."""
    if job.policy == "mdp-optimum":
        return job.cell.agents**2 / 10.0
    return job.cell.agents * job.cell.hours * (4.0 if job.policy == "predictive" else 1.0)


def seeds(cell: Cell, plan: Plan) -> range:
    return range(plan.replications[cell.agents])


def summarise(cell: Cell, policy: str, runs: list[dict[str, Any]], ratio: float) -> dict[str, Any]:
    def mean(key: str) -> float:
        return statistics.fmean(r[key] for r in runs)

    occupancy = [r["occupancy"] for r in runs]
    ci = 1.96 * statistics.stdev(occupancy) / math.sqrt(len(runs)) if len(runs) > 1 else 0.0
    recoveries = [r["recovery_minutes"] for r in runs if r["recovery_minutes"] is not None]
    row = {
        "scenario": cell.name,
        "agents": cell.agents,
        "answer_rate": cell.answer_rate,
        "policy": policy,
        "occupancy": mean("occupancy"),
        "occupancy_ci": ci,
        "abandonment": mean("abandonment"),
        "abandonment_ofcom": mean("abandonment"),
        "abandonment_worst_run": max(r["abandonment"] for r in runs),
        "hourly_abandonment_p95": mean("hourly_p95"),
        "hourly_abandonment_max": max(r["hourly_max"] for r in runs),
        "talk_minutes_per_agent_hour": mean("talk_minutes_per_agent_hour"),
        "connects_per_agent_hour": mean("connects_per_agent_hour"),
        "dials_per_agent_hour": mean("dials_per_agent_hour"),
        "wait_between_calls": mean("wait_between_calls"),
        "customer_wait": mean("customer_wait"),
        "replications": len(runs),
        "recovery_minutes": max(recoveries) if recoveries else None,
        "series": [
            tuple(statistics.fmean(r["series"][i][j] for r in runs) for j in (0, 1))
            for i in range(len(runs[0]["series"]))
        ],
    }
    if policy in TUNED:
        row["ratio"] = ratio
    return row


def tuning_bounds(policy: str, cell: Cell) -> tuple[float, float]:
    """The range a tuned policy's parameter is bisected in (L for ratio-tuned, k for power)."""
    if policy == "ratio-tuned":
        return 1.0, 1.0 + LEVEL_REACH / cell.answer_rate
    return 1.0, max(1.0, POWER_REACH / cell.answer_rate)


def tune_ratios(
    cells: list[Cell], plan: Plan, run: Runner, policies: Sequence[str] = tuple(TUNED)
) -> dict[str, list[float]]:
    """Per tuned policy and cell, the largest parameter whose run-average abandonment is within
    the target, by bisection on the benchmark's own seeds (dialing.md §6.1); every cell's step
    of both policies runs in one batch so the workers stay busy."""
    tasks = [(policy, cell) for policy in policies for cell in cells]
    bounds = [tuning_bounds(policy, cell) for policy, cell in tasks]
    for _ in range(plan.tuning_steps):
        middles = [(low + high) / 2 for low, high in bounds]
        jobs = [
            Job(cell, policy, middle, s)
            for (policy, cell), middle in zip(tasks, middles, strict=True)
            for s in seeds(cell, plan)
        ]
        results = run(jobs)
        for i, ((policy, cell), middle) in enumerate(zip(tasks, middles, strict=True)):
            runs = [
                r
                for j, r in zip(jobs, results, strict=True)
                if (j.policy, j.cell) == (policy, cell)
            ]
            low, high = bounds[i]
            fits = statistics.fmean(r["abandonment"] for r in runs) <= cell.target
            bounds[i] = (middle, high) if fits else (low, middle)
    lows = [low for low, _ in bounds]
    return {
        policy: lows[i * len(cells) : (i + 1) * len(cells)] for i, policy in enumerate(policies)
    }


def policy_jobs(
    cell: Cell, policies: Iterable[str], plan: Plan, tuned: dict[str, float]
) -> list[Job]:
    ratios = {"ratio-2": 2.0, "ratio-3": 3.0, **tuned}
    return [
        Job(cell, policy, ratios.get(policy, 0.0), seed)
        for policy in policies
        for seed in seeds(cell, plan)
    ]


def mdp_row(cell: Cell) -> dict[str, Any]:
    from outdial.sim.mdp import solve

    result = solve(cell.agents, cell.answer_rate, cell.target, cell.handle_mean, cell.resolve_mean)
    return {
        "scenario": cell.name,
        "agents": cell.agents,
        "answer_rate": cell.answer_rate,
        "policy": "mdp-optimum",
        "occupancy": result.occupancy,
        "abandonment": cell.target,
        "talk_minutes_per_agent_hour": 60.0 * result.occupancy,
        "connects_per_agent_hour": 3600.0 * result.occupancy / cell.handle_mean,
    }


def all_cells(plan: Plan, only: Sequence[str] = ()) -> list[Cell]:
    """The matrix's cells, in the order of its tables; with ``only``, those whose name
    contains one of these words (case-insensitive), e.g. ``markov`` or ``churn``."""
    cells = core_cells(plan) + markov_cells(plan) + robustness_cells(plan)
    if not only:
        return cells
    words = [w.lower() for w in only]
    return [c for c in cells if any(w in c.name.lower() for w in words)]


def run_matrix(
    plan: Plan,
    run: Runner,
    note: Callable[[str], None],
    finished: Callable[[list[dict[str, Any]]], None] | None = None,
    only: Sequence[str] = (),
    policies: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Every cell under every policy that applies to it; the rows of the benchmark's JSON.

    A cell at a time (its ratios tuned, then every policy), the cheapest replications first,
    so that a long plan cut short still has whole cells: ``finished`` is handed the rows of
    the cells done so far, in table order, after each one. ``only``: see :func:`all_cells`;
    ``policies``: only these (default every one), the checks that compare with a policy left
    out then skipped."""
    cells = all_cells(plan, only)
    done: dict[Cell, list[dict[str, Any]]] = {}
    for cell in sorted(cells, key=lambda c: cell_cost(c, plan)):
        done[cell] = run_cell(cell, plan, run, note, policies)
        if finished is not None:
            finished([row for c in cells if c in done for row in done[c]])
    return [row for cell in cells for row in done[cell]]


def cell_cost(cell: Cell, plan: Plan) -> float:
    """A cell's rough cost: its replications, each about (agents + 30) units (a small team's
    run is mostly the 0.5-s decision ticks)."""
    return plan.replications[cell.agents] * (cell.agents + 30.0)


def run_cell(
    cell: Cell,
    plan: Plan,
    run: Runner,
    note: Callable[[str], None],
    chosen: Sequence[str] = (),
) -> list[dict[str, Any]]:
    policies = cell_policies(cell, chosen)
    to_tune = [policy for policy in TUNED if policy in policies]
    note(f"{cell.name}: tuning the fixed ratios")
    tuning = tune_ratios([cell], plan, run, to_tune) if to_tune else {}
    tuned = {policy: tuning[policy][0] for policy in to_tune}
    note(f"{cell.name}: every policy")
    jobs = policy_jobs(cell, policies, plan, tuned)
    markov = cell.markov and (not chosen or "mdp-optimum" in chosen)
    if markov:
        jobs.append(Job(cell, "mdp-optimum", 0.0, 0))  # the exact optimum, beside the runs
    results = run(jobs)
    rows = [
        summarise(
            cell,
            policy,
            [r for j, r in zip(jobs, results, strict=True) if j.policy == policy],
            tuned.get(policy, 0.0),
        )
        for policy in policies
    ]
    if markov:
        rows.append(results[-1])
    return rows


def cell_policies(cell: Cell, chosen: Sequence[str] = ()) -> list[str]:
    """The simulated policies of a cell: the clairvoyant oracle in the core cells only; with
    ``chosen``, only those among them."""
    policies = [p for p in POLICIES if p not in ("clairvoyant", "mdp-optimum")]
    if cell.name.startswith("core"):
        policies.append("clairvoyant")
    return [p for p in policies if not chosen or p in chosen]


def job_count(plan: Plan, only: Sequence[str] = (), policies: Sequence[str] = ()) -> int:
    """Replications the matrix runs, for a progress bar."""
    count = 0
    for cell in all_cells(plan, only):
        reps = plan.replications[cell.agents]
        chosen = cell_policies(cell, policies)
        tuned = len([p for p in TUNED if p in chosen])
        markov = cell.markov and (not policies or "mdp-optimum" in policies)
        count += reps * (tuned * plan.tuning_steps + len(chosen)) + markov
    return count


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def checks(rows: list[dict[str, Any]]) -> list[Check]:
    """The gate and the targets of issue 5 / dialing.md §6.3 against the rows."""
    found: list[Check] = []
    by = {(r["scenario"], r["policy"]): r for r in rows}
    for row in rows:
        if row["policy"] != "predictive":
            continue
        name = row["scenario"]
        target = 0.03
        found.append(
            Check(
                f"gate {name}",
                row["abandonment"] <= target,
                f"abandonment {row['abandonment']:.2%}"
                f" (worst run {row['abandonment_worst_run']:.2%})",
            )
        )
        if row["agents"] >= 20:
            found.append(
                Check(
                    f"rolling hour {name}",
                    row["hourly_abandonment_max"] <= 2 * target,
                    f"worst one-hour abandonment {row['hourly_abandonment_max']:.2%}",
                )
            )
        key = (row["agents"], row["answer_rate"])
        floor_needed = row["agents"] <= 5 and key[1] >= 0.6  # "never below progressive"
        if (
            name.startswith("core")
            and key in TARGETS
            and (not floor_needed or (name, "progressive") in by)
        ):
            goal = TARGETS[key]
            if floor_needed:
                goal = min(goal, by[(name, "progressive")]["occupancy"])
            found.append(
                Check(
                    f"occupancy {name}",
                    row["occupancy"] >= goal,
                    f"{row['occupancy']:.3f} ≥ {goal:.3f}",
                )
            )
        if name.startswith("markov") and (name, "mdp-optimum") in by:
            optimum = by[(name, "mdp-optimum")]["occupancy"]
            found.append(
                Check(
                    f"MDP {name}",
                    row["occupancy"] >= optimum - 0.01,
                    f"{row['occupancy']:.3f} vs optimum {optimum:.3f}",
                )
            )
        # §6.3 item 2 against the tuned VICIdial RATIO, at N ≥ 20. Not in the Markov cells: there
        # a tuned fixed ratio comes within about a point of the exact optimum at N = 100
        # (dialing.md §3.2, §4.2), so no dialer can beat it by 2 and the MDP check holds instead.
        if row["agents"] >= 20 and not name.startswith("markov") and (name, "ratio-tuned") in by:
            tuned = by[(name, "ratio-tuned")]["occupancy"]
            found.append(
                Check(
                    f"beats tuned ratio by 2 points {name}",
                    row["occupancy"] >= tuned + 0.02,
                    f"{row['occupancy']:.3f} vs {tuned:.3f}",
                )
            )
        if (name, "vicidial-adapt") in by:
            adapt = by[(name, "vicidial-adapt")]["occupancy"]
            found.append(
                Check(
                    f"beats VICIdial adapt {name}",
                    row["occupancy"] > adapt,
                    f"{row['occupancy']:.3f} vs {adapt:.3f}",
                )
            )
        if row.get("recovery_minutes") is not None:
            found.append(
                Check(
                    f"recovery {name}",
                    row["recovery_minutes"] <= 15.0,
                    f"{row['recovery_minutes']:.0f} min",
                )
            )
    for row in rows:
        if row["policy"] == "clairvoyant":
            found.append(
                Check(
                    f"accounting {row['scenario']}",
                    row["occupancy"] >= 0.99 and row["abandonment"] == 0.0,
                    f"clairvoyant occupancy {row['occupancy']:.3f},"
                    f" abandonment {row['abandonment']:.2%}",
                )
            )
    return found
