"""`outdial forecast` output: rich tables, or JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rich.console import RenderableType
from rich.table import Table


def forecast_json(body: Mapping[str, Any]) -> str:
    return json.dumps(body, default=_json_default, ensure_ascii=False, indent=2)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return _iso(value)
    raise TypeError(f"not JSON serialisable: {value!r}")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


TEAM_SOURCES = {
    "logged_in": "logged in",
    "skill_group": "in the skill group",
    "assigned": "assigned",
    "given": "given",
    "none": "",
}


def _span(low: datetime | None, high: datetime | None) -> str:
    if low is None or high is None:
        return "—" if low is None else f"{_when(low)} – ?"
    if low.astimezone(UTC).date() == high.astimezone(UTC).date():
        return f"{low.astimezone(UTC):%H:%M} – {high.astimezone(UTC):%H:%M} UTC"
    return f"{_when(low)} – {_when(high)}"


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _spread(spread: Mapping[str, float] | None, fmt: str = "{:,.1f}") -> tuple[str, str]:
    if spread is None:
        return "—", ""
    return fmt.format(spread["mean"]), f"{fmt.format(spread['low'])} – {fmt.format(spread['high'])}"


def forecast_tables(body: Mapping[str, Any]) -> list[RenderableType]:
    """The forecast, its finish-by search (if asked) and the rates it used."""
    out: list[RenderableType] = [_main(body)]
    if body["finish_by"] is not None:
        out.append(_finish_by(body["finish_by"]))
    out.append(_rates(body["rates"]))
    return out


def _main(body: Mapping[str, Any]) -> Table:
    team = body["team"]
    who = f", {team['agents']} agents {TEAM_SOURCES[team['source']]}" if team else ""
    title = f"Forecast: campaign {body['campaign_id']} ({body['pacing_mode']}{who})"
    table = Table(title=title, title_justify="left")
    table.add_column("")
    table.add_column("mean", justify="right")
    table.add_column("range over seeds", justify="right")
    contacts, finish = body["contacts"], body["finish"]
    table.add_row("pending contacts", f"{contacts['pending']:,}", "")
    table.add_row("attempts per contact", f"{contacts['attempts_per_contact']:.2f}", "")
    table.add_row("dialing hours", *_spread(body["dialing_hours"], "{:,.2f}"))
    ends = _span(finish["earliest"], finish["latest"])
    if finish["finishes"]:
        table.add_row("finishes at", _when(finish["at"]), ends)
    else:
        table.add_row("finishes at", "[yellow]won't finish[/]", "")
        table.add_row("contacts left", f"{finish['contacts_left']:,}", "")
    table.add_row("dials", *_spread(body["dials"], "{:,.0f}"))
    table.add_row("connects", *_spread(body["connects"], "{:,.0f}"))
    table.add_row("abandonment", *_spread(_percent(body["abandonment"]), "{:.2f} %"))
    table.add_row("occupancy", *_spread(_percent(body["occupancy"]), "{:.1f} %"))
    return table


def _percent(spread: Mapping[str, float] | None) -> dict[str, float] | None:
    return None if spread is None else {k: 100.0 * v for k, v in spread.items()}


def _finish_by(staffing: Mapping[str, Any]) -> Table:
    table = Table(title=f"Finish by {_when(staffing['at'])}", title_justify="left")
    table.add_column("agents", justify="right")
    table.add_column("dialing hours", justify="right")
    table.add_column("finishes at", justify="right")
    for trial in staffing["tried"]:
        chosen = trial["agents"] == staffing["agents_needed"]
        style = "bold green" if chosen else None
        table.add_row(
            str(trial["agents"]),
            f"{trial['dialing_hours']:.2f}",
            _when(trial["finish_at"]),
            style=style,
        )
    needed = staffing["agents_needed"]
    yes = "yes" if staffing["finishes_by"] else "no"
    if needed is None and not staffing["tried"]:
        table.caption = f"finishes by then as set up: {yes}"
    elif needed is None:
        table.caption = f"not even {staffing['max_agents']} agents finish by then"
    else:
        table.caption = f"agents needed: {needed}  (the current team finishes by then: {yes})"
    return table


def _rates(rates: Mapping[str, Any]) -> Table:
    table = Table(title=f"Rates ({rates['ledger_attempts']} ledger attempts)", title_justify="left")
    table.add_column("rate")
    table.add_column("value", justify="right")
    table.add_column("source")
    for name, entry in rates.items():
        if not isinstance(entry, dict) or name == "outcome_mix":
            continue
        value = entry["value"]
        shown = "ring-out" if value is None else f"{value:g}"
        if "cv" in entry:
            shown += f" (CV {entry['cv']:g})"
        table.add_row(name, shown, entry["source"])
    return table
