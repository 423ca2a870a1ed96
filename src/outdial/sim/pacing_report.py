"""The pacing benchmark's results as rich tables, Markdown for docs/benchmarks.md and JSON."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.table import Table

from outdial.sim.callcentre import BUCKET
from outdial.sim.pacing_bench import Check, Plan, all_cells

JSON_KEYS = (
    "scenario",
    "agents",
    "answer_rate",
    "policy",
    "occupancy",
    "abandonment",
    "talk_minutes_per_agent_hour",
    "connects_per_agent_hour",
)
EXTRA_KEYS = (
    "occupancy_ci",
    "abandonment_ofcom",
    "abandonment_worst_run",
    "hourly_abandonment_p95",
    "hourly_abandonment_max",
    "dials_per_agent_hour",
    "wait_between_calls",
    "customer_wait",
    "replications",
    "recovery_minutes",
    "ratio",
)
COLUMNS = (
    "policy",
    "occupancy",
    "talk min/h",
    "aband. FCC",
    "worst run",
    "1-h p95",
    "1-h max",
    "connects/h",
    "dials/h",
    "wait s",
    "cust. wait s",
)
BAR = "█"


def json_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: r[k] for k in (*JSON_KEYS, *EXTRA_KEYS) if k in r} for r in rows]


def _cells(row: dict[str, Any]) -> list[str]:
    def pct(key: str) -> str:
        return f"{row[key]:.2%}" if key in row else "—"

    def num(key: str, fmt: str) -> str:
        return format(row[key], fmt) if key in row else "—"

    occupancy = f"{row['occupancy']:.3f}"
    if row.get("occupancy_ci"):
        occupancy += f" ±{row['occupancy_ci']:.3f}"
    policy = row["policy"]
    if "ratio" in row:
        policy += f" ({'L' if policy == 'ratio-tuned' else 'k'}={row['ratio']:.2f})"
    return [
        policy,
        occupancy,
        num("talk_minutes_per_agent_hour", ".1f"),
        pct("abandonment"),
        pct("abandonment_worst_run"),
        pct("hourly_abandonment_p95"),
        pct("hourly_abandonment_max"),
        num("connects_per_agent_hour", ".1f"),
        num("dials_per_agent_hour", ".0f"),
        num("wait_between_calls", ".1f"),
        num("customer_wait", ".2f"),
    ]


def scenarios(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["scenario"] for r in rows))


def rich_tables(rows: list[dict[str, Any]]) -> list[Table]:
    tables = []
    for scenario in scenarios(rows):
        table = Table(*COLUMNS, title=scenario, title_justify="left")
        for row in rows:
            if row["scenario"] == scenario:
                table.add_row(*_cells(row))
        tables.append(table)
    return tables


def rich_checks(found: list[Check]) -> Table:
    table = Table("check", "result", "figure", title="gate and targets", title_justify="left")
    for check in found:
        table.add_row(check.name, "pass" if check.passed else "FAIL", check.detail)
    return table


def markdown(
    rows: list[dict[str, Any]],
    found: list[Check],
    plan: Plan,
    command: str,
    complete: bool = True,
    only: Sequence[str] = (),
) -> str:
    out = [
        f"Command: `{command}` — {'quick' if plan.quick else 'full'} plan: "
        f"{plan.hours:g}-h shifts, replications N=5/20/100: "
        + "/".join(str(plan.replications[n]) for n in (5, 20, 100))
        + f", fixed ratios (VICIdial RATIO level L, power k) tuned in {plan.tuning_steps}"
        " bisection steps.",
        "",
    ]
    if not complete:
        done, total = len(scenarios(rows)), len(all_cells(plan, only))
        out += [
            f"**Partial run: {done} of {total} cells finished** (each of them whole: tuned,"
            " every policy, every replication); the others had not run when this was written.",
            "",
        ]
    out += [
        "```",
        *chart(rows),
        "```",
        "",
    ]
    for scenario in scenarios(rows):
        out += [f"#### {scenario}", "", "| " + " | ".join(COLUMNS) + " |"]
        out.append("|" + "---|" * len(COLUMNS))
        for row in rows:
            if row["scenario"] == scenario:
                out.append("| " + " | ".join(_cells(row)) + " |")
        out.append("")
    passed = sum(c.passed for c in found)
    out += [f"Gate and targets: {passed} of {len(found)} pass.", "", "| check | result | figure |"]
    out.append("|---|---|---|")
    out += [f"| {c.name} | {'pass' if c.passed else '**FAIL**'} | {c.detail} |" for c in found]
    shift = shift_chart(rows)
    if shift:
        out += ["", "One simulated shift (predictive, N=20, p=0.35, mean over replications):", ""]
        out += ["```", *shift, "```"]
    return "\n".join(out) + "\n"


def chart(rows: list[dict[str, Any]]) -> list[str]:
    """Occupancy bars per core cell and policy, with the abandonment beside each bar."""
    lines = ["occupancy (bar: 0.5 → 1.0) and FCC abandonment, per core cell and policy"]
    for scenario in scenarios(rows):
        if not scenario.startswith(("core", "markov")):
            continue
        lines.append(scenario)
        for row in rows:
            if row["scenario"] != scenario:
                continue
            length = max(0, round((row["occupancy"] - 0.5) * 80))
            lines.append(
                f"  {row['policy']:<15}{BAR * length:<40} {row['occupancy']:.3f}"
                f"  {row['abandonment']:.2%}"
            )
    return lines


def shift_chart(rows: list[dict[str, Any]]) -> list[str]:
    """Agents busy and abandonment per 15 minutes over one shift."""
    row = next(
        (
            r
            for r in rows
            if r["scenario"].startswith("core N=20 p=0.35") and r["policy"] == "predictive"
        ),
        None,
    )
    if row is None:
        return []
    lines = ["time   busy share (0.5 → 1.0)                   abandonment (each ▒ = 0.5 %)"]
    step = round(900.0 / BUCKET)
    series = row["series"]
    for first in range(0, len(series) - step + 1, step):
        part = series[first : first + step]
        busy = sum(b for b, _ in part) / len(part)
        abandon = sum(a for _, a in part) / len(part)
        minutes = round(first * BUCKET / 60)
        lines.append(
            f"{minutes // 60}:{minutes % 60:02d}  {BAR * max(0, round((busy - 0.5) * 80)):<40} "
            f"{busy:.2f}  {'▒' * round(abandon / 0.005):<12} {abandon:.1%}"
        )
    return lines
