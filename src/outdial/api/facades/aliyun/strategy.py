"""StrategyJson (camelCase in) and Strategy (PascalCase out) ↔ a campaign's schedule and
redial settings. Minutes, epoch milliseconds and Alibaba's weekday numbers are converted here."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from outdial.api.facades.aliyun.errors import invalid
from outdial.api.facades.aliyun.params import lenient_bool, lenient_int

NAME = "StrategyJson"
REPEAT_BY = {"Once": "once", "Day": "day", "Week": "week", "Month": "month"}
ROUTING = {"None": "round_robin", "LocalFirst": "local_first",
           "LocalProvinceFirst": "local_province_first"}  # fmt: skip
META_TEXT = {"name": "StrategyName", "description": "StrategyDescription",
             "customized": "Customized", "followUpStrategy": "FollowUpStrategy",
             "type": "Type"}  # fmt: skip
MS_MAX = 253402300799999  # 9999-12-31


def ms(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp() * 1000)


def from_ms(name: str, value: Any) -> datetime | None:
    number = lenient_int(name, value)
    if number == 0:
        return None
    if not 0 < number <= MS_MAX:
        raise invalid(name, "must be a time in milliseconds since 1970")
    return datetime.fromtimestamp(number / 1000, UTC)


def campaign_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The campaign fields StrategyJson sets (only those whose keys it has)."""
    out: dict[str, Any] = {}
    if "startTime" in raw:
        out["period_start"] = from_ms(f"{NAME}.startTime", raw["startTime"])
    if "endTime" in raw:
        out["period_end"] = from_ms(f"{NAME}.endTime", raw["endTime"])
    if "workingTime" in raw:
        out["windows"] = _windows(raw["workingTime"])
    if "maxAttemptsPerDay" in raw:
        value = lenient_int(f"{NAME}.maxAttemptsPerDay", raw["maxAttemptsPerDay"])
        out["max_attempts_per_day"] = value
    if "minAttemptInterval" in raw:
        minutes = lenient_int(f"{NAME}.minAttemptInterval", raw["minAttemptInterval"])
        out["min_attempt_interval_seconds"] = minutes * 60
    if "repeatBy" in raw:
        out["repeat_by"] = _choice("repeatBy", raw["repeatBy"], REPEAT_BY)
    if "repeatDays" in raw:
        repeat_by = out.get("repeat_by") or REPEAT_BY.get(str(raw.get("repeatBy")), "once")
        out["repeat_days"] = _repeat_days(raw["repeatDays"], repeat_by)
    if "routingStrategy" in raw:
        out["routing_strategy"] = _choice("routingStrategy", raw["routingStrategy"], ROUTING)
    return out


def meta(raw: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    """What Strategy echoes that the core has no field for: id, name, description …"""
    out = dict(current or {})
    out.setdefault("id", str(uuid.uuid4()))
    for key in META_TEXT:
        if key in raw:
            out[key] = "" if raw[key] is None else str(raw[key])
    for key in ("isTemplate", "repeatable"):
        if key in raw:
            out[key] = lenient_bool(f"{NAME}.{key}", raw[key])
    return out


def strategy_out(campaign: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """The response's Strategy object."""
    repeat_by = campaign["repeat_by"]
    out: dict[str, Any] = {
        "StrategyId": extra.get("id", campaign["uuid"]),
        "StrategyName": extra.get("name", ""),
        "StrategyDescription": extra.get("description", ""),
        "Type": extra.get("type", "Repeatable" if repeat_by in ("week", "month") else "Normal"),
        "StartTime": ms(campaign["period_start"]),
        "EndTime": ms(campaign["period_end"]),
        "RepeatBy": {v: k for k, v in REPEAT_BY.items()}[repeat_by],
        "RepeatDays": [str(_alibaba_day(d, repeat_by)) for d in campaign["repeat_days"]],
        "Repeatable": extra.get("repeatable", repeat_by in ("week", "month")),
        "WorkingTime": [
            {"BeginTime": w["start"], "EndTime": w["end"]} for w in campaign["windows"]
        ],
        "MaxAttemptsPerDay": campaign["max_attempts_per_day"],
        "MinAttemptInterval": campaign["min_attempt_interval_seconds"] // 60,
        "RoutingStrategy": {v: k for k, v in ROUTING.items()}[campaign["routing_strategy"]],
        "Customized": extra.get("customized", "{}"),
        "FollowUpStrategy": extra.get("followUpStrategy", "CONTINUE"),
        "IsTemplate": extra.get("isTemplate", False),
    }
    return {k: v for k, v in out.items() if v is not None}


def recall_skip(raw: Mapping[str, Any]) -> dict[str, bool]:
    """RecallStrategyJson → the campaign's recall_skip (no redial after these outcomes)."""
    keys = {"emptyNumberIgnore": "invalid_number", "outOfServiceIgnore": "suspended",
            "inArrearsIgnore": "in_arrears"}  # fmt: skip
    return {
        ours: lenient_bool(f"RecallStrategyJson.{theirs}", raw.get(theirs, False))
        for theirs, ours in keys.items()
    }


def recall_out(skip: Mapping[str, bool]) -> dict[str, bool]:
    return {
        "EmptyNumberIgnore": bool(skip.get("invalid_number", False)),
        "OutOfServiceIgnore": bool(skip.get("suspended", False)),
        "InArrearsIgnore": bool(skip.get("in_arrears", False)),
    }


def _windows(value: Any) -> list[dict[str, Any]]:
    name = f"{NAME}.workingTime"
    if not isinstance(value, list):
        raise invalid(name, "must be a list of {beginTime, endTime}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or "beginTime" not in item or "endTime" not in item:
            raise invalid(f"{name}[{i}]", "must be {beginTime, endTime}")
        out.append({"start": str(item["beginTime"]), "end": str(item["endTime"])})
    return out


def _choice(key: str, value: Any, choices: Mapping[str, str]) -> str:
    if value not in choices:
        raise invalid(f"{NAME}.{key}", f"use one of {', '.join(choices)}")
    return choices[value]


def _repeat_days(value: Any, repeat_by: str) -> list[int]:
    name = f"{NAME}.repeatDays"
    if not isinstance(value, list):
        raise invalid(name, "must be a list of days")
    days = [lenient_int(f"{name}[{i}]", v) for i, v in enumerate(value)]
    if repeat_by == "week":
        # Alibaba: 0 Sunday, 1..6 Monday..Saturday; outdial: ISO 1 Monday .. 7 Sunday
        if any(not 0 <= d <= 6 for d in days):
            raise invalid(name, "weekly days are 0 (Sunday) to 6 (Saturday)")
        return [7 if d == 0 else d for d in days]
    return days


def _alibaba_day(day: int, repeat_by: str) -> int:
    return 0 if repeat_by == "week" and day == 7 else day
