"""outdial's rows in 得助's shapes: TaskInfo (seed 003), the phone batches, skill sets and
outbound number groups."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from outdial.api.facades.dezhu.models import AUTO, MANUAL, PREDICTIVE, RATIO
from outdial.services.dezhu import TaskView

AUTO_ONLY = (
    "taskExecTimes",
    "outboundNumberGroupId",
    "strategyDisplaySwitch",
    "sendNumberStrategy",
    "multiplyPower",
    "abandonmentRate",
    "maxRingingDuration",
    "acw",
)
"""TaskInfo fields that have a value on auto tasks only (自动外呼时有值)."""


def task_settings(campaign: dict[str, Any]) -> dict[str, Any]:
    """The create fields as the campaign has them, whatever its kind: what an edit starts from."""
    c = campaign
    zone = ZoneInfo(c["timezone"])
    sent = c["vendor_data"] if c["vendor"] == "dezhu" else {}
    return {
        "taskName": c["name"],
        "taskType": AUTO if c["kind"] == "auto" else MANUAL,
        "taskExecStartDate": _day(c["period_start"] or c["created_at"], zone),
        "taskExecEndDate": _last_day(c["period_end"], zone),
        "taskExecTimes": exec_times(c["windows"]),
        "taskDesc": c["description"],
        "skillSetId": _text_id(c["skill_group_id"]),
        "outboundNumberGroupId": _text_id(c["number_group_id"]),
        "strategyDisplaySwitch": c["routing_strategy"] != "round_robin",
        "sendNumberStrategy": _strategy(c, sent),
        "multiplyPower": _sent_or(sent, "multiplyPower", max(1, round(c["ratio"]))),
        "abandonmentRate": _sent_or(sent, "abandonmentRate", round(c["abandon_target_percent"])),
        "maxRingingDuration": c["ring_timeout_seconds"],
        "acw": c["acw_seconds"],
        "outboundPhoneGroups": phone_groups(c),
        "taskAgents": agents(c),
    }


def task_info(view: TaskView) -> dict[str, Any]:
    """TaskInfo, key for key as seed 003 shows it; the auto-only fields are null on a manual
    task, taskAgents null on an auto one."""
    c = view.campaign
    settings = task_settings(c)
    auto = settings["taskType"] == AUTO
    shown = {k: (v if auto or k not in AUTO_ONLY else None) for k, v in settings.items()}
    return {
        "taskId": c["id"],
        "taskName": shown["taskName"],
        "taskType": shown["taskType"],
        "taskStatus": view.status,
        "taskExecStartDate": shown["taskExecStartDate"],
        "taskExecEndDate": shown["taskExecEndDate"],
        "taskExecTimes": shown["taskExecTimes"],
        "taskDesc": shown["taskDesc"],
        "skillSetId": shown["skillSetId"],
        "skillSetName": view.skill_group["name"] if view.skill_group else None,
        **{k: shown[k] for k in AUTO_ONLY if k != "taskExecTimes"},
        "taskAgents": None if auto else shown["taskAgents"],
        "outboundPhoneGroups": shown["outboundPhoneGroups"],
        "customerAmount": view.customers,
        "completedCount": view.completed,
        "connectedCount": view.connected,
        "connectPercentage": percent(view.connected, view.dialed),
        "taskProgress": percent(view.completed, view.customers),
    }


def exec_times(windows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The daily windows; a campaign without any dials all day."""
    spans = [(w["start"], _end_clock(w["end"])) for w in windows] or [("00:00:00", "23:59:59")]
    return [{"taskExecTimeStartStr": s, "taskExecTimeEndStr": e} for s, e in spans]


def phone_groups(campaign: dict[str, Any]) -> list[dict[str, Any]]:
    """OutBoundTaskPhoneGroupVo: each phone group, its redial interval in minutes."""
    return [
        {
            "name": g["name"],
            "identify": g["identify"],
            "autoOutboundSwitch": 1 if g["redial_enabled"] else 0,
            "autoOutboundInterval": g["redial_interval_seconds"] // 60,
            "autoOutboundTimes": g["redial_times"],
        }
        for g in campaign["phone_groups"]
    ]


def agents(campaign: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"agentId": a["agent_id"], "assignNum": a.get("assign_count") or 0}
        for a in campaign["agent_assignments"]
    ]


def percent(part: int, whole: int) -> str:
    """``"50.00%"``: two decimals, ``"0.00%"`` of nothing."""
    return f"{100 * part / whole:.2f}%" if whole else "0.00%"


def skill_set(group: dict[str, Any]) -> dict[str, Any]:
    return {
        "skillSetId": str(group["id"]),
        "skillSetName": group["name"],
        "skillSetDesc": group["description"],
        "status": 1 if group["enabled"] else 0,
    }


def number_group(group: dict[str, Any]) -> dict[str, Any]:
    return {
        "outboundNumberGroupId": str(group["id"]),
        "outboundNumberGroupName": group["name"],
        "description": group["description"],
        "numbers": list(group["numbers"]),
    }


def _strategy(campaign: dict[str, Any], sent: dict[str, Any]) -> int:
    if sent.get("sendNumberStrategy") is not None:
        return int(sent["sendNumberStrategy"])
    return PREDICTIVE if campaign["pacing_mode"] == "predictive" else RATIO


def _sent_or(sent: dict[str, Any], key: str, derived: int) -> int:
    value = sent.get(key)
    return derived if value is None else int(value)


def _text_id(row_id: int | None) -> str | None:
    return None if row_id is None else str(row_id)


def _day(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).date().isoformat()


def _last_day(end: datetime | None, zone: ZoneInfo) -> str | None:
    """The last whole day of a period ending at a midnight (the day before it)."""
    if end is None:
        return None
    local = end.astimezone(zone)
    midnight = local.hour == local.minute == local.second == 0
    return (local - timedelta(days=1) if midnight else local).date().isoformat()


def _end_clock(end: str) -> str:
    return "23:59:59" if end == "24:00:00" else end
