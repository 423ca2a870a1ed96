"""Wall time of `outdial simulate` on the shipped scenarios.

.venv/bin/python -m bench.simulate [scenarios/*.toml ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from outdial.sim.run import simulate
from outdial.sim.scenario import load_scenario


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or sorted(Path("scenarios").glob("*.toml"))
    table = Table(
        "scenario", "contacts", "attempts", "simulated h", "wall s", "attempts/s", "guarantees"
    )
    for path in paths:
        result = simulate(load_scenario(path))
        report = result.report()
        attempts = sum(report["attempts_by_outcome"].values())
        contacts = sum(report["contacts_by_state"].values())
        passed = all(g["passed"] for g in report["guarantees"].values())
        table.add_row(
            report["scenario"],
            f"{contacts:,}",
            f"{attempts:,}",
            f"{report['simulated_seconds'] / 3600:.1f}",
            f"{report['wall_seconds']:.1f}",
            f"{attempts / report['wall_seconds']:,.0f}",
            "all passed" if passed else "FAILED",
        )
        Console().print(f"{path.name}: done", style="dim")
    Console().print(table)


if __name__ == "__main__":
    main()
