"""Value types of campaign schedules: daily windows, repeat rules and blackout ranges.

Only parsing and shape rules live here for now; the evaluation of "is this instant allowed"
belongs to the engine issue and will sit beside these types.
"""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

_HHMM = re.compile(r"^([01][0-9]|2[0-4]):([0-5][0-9])(?::([0-5][0-9]))?$")


class RepeatBy(StrEnum):
    ONCE = "once"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class PacingMode(StrEnum):
    AGENTLESS = "agentless"
    PROGRESSIVE = "progressive"
    RATIO = "ratio"
    PREDICTIVE = "predictive"
    FIXED = "fixed"
    PREVIEW = "preview"


class RoutingStrategy(StrEnum):
    ROUND_ROBIN = "round_robin"
    LOCAL_FIRST = "local_first"
    LOCAL_PROVINCE_FIRST = "local_province_first"


def parse_clock(text: str) -> time:
    """Parse ``HH:MM`` or ``HH:MM:SS``; ``24:00`` means the end of the day (23:59:59.999999)."""
    match = _HHMM.match(text)
    if match is None:
        raise ValueError(f"expected HH:MM or HH:MM:SS, got {text!r}")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour == 24:
        if minute or second:
            raise ValueError(f"24:00 is the latest time, got {text!r}")
        return time.max
    return time(hour, minute, second)


def check_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA zone, else raise ValueError."""
    if name not in _zone_names():
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r}") from exc
    return name


def _zone_names() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    return _ZONES


_ZONES: set[str] | None = None
