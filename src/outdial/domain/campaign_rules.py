"""What a campaign needs before it may dial, by pacing mode."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from outdial.domain.errors import FieldError
from outdial.domain.schedule import PacingMode

AGENT_MODES = frozenset(
    {PacingMode.PROGRESSIVE, PacingMode.RATIO, PacingMode.PREDICTIVE, PacingMode.PREVIEW}
)
ROBOT_MODES = frozenset({PacingMode.AGENTLESS, PacingMode.FIXED})


def readiness_problems(campaign: Mapping[str, Any], now: datetime) -> list[FieldError]:
    """Why the campaign cannot start now; empty when it can."""
    problems = []
    mode = PacingMode(campaign["pacing_mode"])
    if campaign["line_id"] is None:
        problems.append(FieldError("line_id", "a line is required to dial", "missing"))
    if mode in ROBOT_MODES and campaign["script_id"] is None:
        problems.append(
            FieldError("script_id", f"a script is required in {mode.value} mode", "missing")
        )
    if mode is PacingMode.PREVIEW:
        if campaign["skill_group_id"] is None and not campaign["agent_assignments"]:
            message = "a preview campaign needs agents: a skill group or agent_assignments"
            problems.append(FieldError("skill_group_id", message, "missing"))
    elif mode in AGENT_MODES and campaign["skill_group_id"] is None:
        problems.append(
            FieldError(
                "skill_group_id", f"a skill group is required in {mode.value} mode", "missing"
            )
        )
    end = campaign["period_end"]
    if end is not None and end <= now:
        problems.append(FieldError("period_end", "the campaign period has already ended", "past"))
    return problems


def period_has_begun(campaign: Mapping[str, Any], now: datetime) -> bool:
    start = campaign["period_start"]
    return start is None or start <= now
