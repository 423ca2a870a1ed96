"""Simulation scenarios (TOML): resources and a campaign exactly as the native API takes them,
the contacts (generated or from a file), the callee model and the start instant."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from outdial.sim.agents import TeamSpec
from outdial.sim.callees import CalleeModel


@dataclass(frozen=True)
class NumberPool:
    """Generated numbers: ``template`` holds ``{i}`` (zero-padded to ``width``)."""

    template: str
    share: float
    width: int


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    start: datetime
    horizon_hours: float
    tenant: dict[str, Any]
    line: dict[str, Any]
    script: dict[str, Any] | None
    blackout_calendar: dict[str, Any] | None
    redial_policy: dict[str, Any] | None
    campaign: dict[str, Any]
    callees: CalleeModel
    contact_count: int = 0
    pools: tuple[NumberPool, ...] = ()
    contact_file: Path | None = None
    dnc: tuple[str, ...] = ()
    agents: TeamSpec = field(default_factory=TeamSpec)  # one skill group (sim/agents.py)
    seed: int = 1  # the agents' draws (the callee model carries its own)
    extra: dict[str, Any] = field(default_factory=dict)

    def contacts(self) -> Iterator[dict[str, Any]]:
        """Contacts as the native API takes them."""
        if self.contact_file is not None:
            yield from json.loads(self.contact_file.read_text())
            return
        counts = _apportion(self.contact_count, [p.share for p in self.pools])
        serial = 0
        for pool, count in zip(self.pools, counts, strict=True):
            for i in range(count):
                serial += 1
                number = pool.template.format(i=f"{i:0{pool.width}d}")
                yield {
                    "name": f"c{serial}",
                    "external_id": str(serial),
                    "phones": [{"number": number}],
                }


def _apportion(total: int, shares: list[float]) -> list[int]:
    weight = sum(shares) or 1.0
    counts = [int(total * s / weight) for s in shares]
    counts[0] += total - sum(counts)
    return counts


def load_scenario(path: Path) -> Scenario:
    data = tomllib.loads(path.read_text())
    contacts = data.get("contacts", {})
    file = contacts.get("file")
    return Scenario(
        name=data.get("name", path.stem),
        description=data.get("description", ""),
        start=datetime.fromisoformat(data["start"]),
        horizon_hours=float(data.get("horizon_hours", 24 * 7)),
        tenant=data.get("tenant", {}),
        line=data["line"],
        script=data.get("script"),
        blackout_calendar=data.get("blackout_calendar"),
        redial_policy=data.get("redial_policy"),
        campaign=data["campaign"],
        callees=CalleeModel.from_mapping(data.get("callees", {}), seed=int(data.get("seed", 1))),
        contact_count=int(contacts.get("count", 0)),
        pools=tuple(
            NumberPool(p["template"], float(p.get("share", 1)), int(p.get("width", 6)))
            for p in contacts.get("pools", [])
        ),
        contact_file=(path.parent / file) if file else None,
        dnc=tuple(data.get("dnc", {}).get("numbers", [])),
        agents=TeamSpec.from_mapping(data.get("agents", {})),
        seed=int(data.get("seed", 1)),
    )
