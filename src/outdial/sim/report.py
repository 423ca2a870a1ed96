"""The simulation report on the terminal: a progress bar while it runs, tables after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from outdial.domain.errors import ValidationFailed
from outdial.sim.run import simulate
from outdial.sim.scenario import load_scenario


def run_with_progress(path: Path, database_url: str, console: Console) -> dict[str, Any]:
    try:
        scenario = load_scenario(path)
    except ValidationFailed as exc:  # a bad scenario: name the fields, exit 2
        errors = Console(stderr=True)
        for detail in exc.details:
            errors.print(f"[red]{path.name}[/]: {detail.field}: {detail.message}")
        raise SystemExit(2) from exc
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("simulated {task.fields[clock]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(scenario.name, total=scenario.contact_count or None, clock="0h00")

        def update(done: int, total: int, seconds: float) -> None:
            hours, rest = divmod(int(seconds), 3600)
            bar.update(task, completed=done, total=total, clock=f"{hours}h{rest // 60:02d}")

        result = simulate(scenario, database_url, update)
        bar.update(
            task,
            completed=result.audit.contacts_by_state.get("succeeded", 0)
            + result.audit.contacts_by_state.get("failed", 0)
            + result.audit.contacts_by_state.get("cancelled", 0),
        )
    return result.report()


def print_report(report: dict[str, Any], console: Console) -> None:
    hours = report["simulated_seconds"] / 3600
    console.print(
        f"[bold]{report['scenario']}[/]: campaign {report['campaign_state']} after "
        f"{hours:.1f} simulated hours in {report['wall_seconds']:.1f} s; "
        f"connect rate {report['connect_rate']:.1%}, "
        f"abandonment {report['abandonment']:.2%}, "
        f"peak concurrency {report['peak_concurrency']}"
    )
    outcomes = Table("outcome", "attempts", title="Attempts by outcome")
    for name, n in sorted(report["attempts_by_outcome"].items(), key=lambda kv: -kv[1]):
        outcomes.add_row(name, f"{n:,}")
    states = Table("state", "contacts", title="Contacts by final state")
    for name, n in sorted(report["contacts_by_state"].items(), key=lambda kv: -kv[1]):
        states.add_row(name, f"{n:,}")
    console.print(outcomes, states)
    checks = Table("guarantee", "passed", "violations", "example", title="Guarantees (audited)")
    for name, g in report["guarantees"].items():
        mark = "[green]yes[/]" if g["passed"] else "[red]no[/]"
        checks.add_row(name, mark, str(g["violations"]), (g["examples"] or [""])[0])
    console.print(checks)
    if report.get("agents"):
        console.print(_agents_table(report["agents"]))


def _agents_table(team: dict[str, Any]) -> Table:
    """The simulated team: where its logged-in hours went, ACW and breaks."""
    table = Table("agents", "figure", title=f"Agents ({team['count']}, simulated)")
    for label, key in (
        ("logged in", "logged_in_hours"),
        ("talking", "talk_hours"),
        ("after-call work", "acw_hours"),
        ("on break", "break_hours"),
        ("ready, waiting", "idle_hours"),
    ):
        table.add_row(label, f"{team[key]:,.2f} h")
    table.add_row(
        "occupancy (talk + ACW) / logged in",
        f"{team['occupancy']:.1%} ({team['occupancy_off_break']:.1%} off break)",
    )
    table.add_row(
        "ACW mean / max / cap",
        f"{team['mean_acw_seconds']:.1f} / {team['max_acw_seconds']:.1f} / "
        f"{team['acw_cap_seconds']:g} s over {team['wraps']:,} calls",
    )
    table.add_row(
        "breaks",
        f"{team['breaks']} ({team['breaks_planned_minutes']:g} min planned), "
        f"mean {team['mean_break_minutes']:.1f} min, "
        f"{team['mean_break_delay_seconds']:.0f} s after due",
    )
    return table
