"""Job groups (作业组) are campaigns: create, describe, list, modify, delete, executing info."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from outdial.api.facades.aliyun import strategy
from outdial.api.facades.aliyun.call import Call, action
from outdial.api.facades.aliyun.errors import (
    AliyunError,
    FieldRules,
    from_outdial,
    incorrect_status,
    invalid,
    not_exist,
)
from outdial.api.facades.aliyun.params import Params, parse_object
from outdial.api.native.routing import API_ROOT
from outdial.domain.campaign_state import ACTIVE, TERMINAL, CampaignState, LifecycleAction
from outdial.domain.errors import Conflict, OutdialError
from outdial.domain.jobs import JobKind
from outdial.services.common import PageRequest
from outdial.services.models import CampaignIn
from outdial.services.validation import validate

VENDOR = "aliyun"
RINGING_DEFAULT = 25  # seconds, the SDK's documented default
PRIORITY = {"Urgent": 80, "Daily": 50}
STATUS = {
    "draft": "Draft",
    "scheduled": "Scheduling",
    "running": "Executing",
    "paused": "Paused",
    "completed": "Completed",
    "expired": "Completed",
    "cancelled": "Cancelled",
    "failed": "Failed",
}


def field_rules(name: str, description: str) -> FieldRules:
    """Core field paths of a campaign → the parameters a job-group call sends."""
    s = strategy.NAME
    return [
        ("name", name),
        ("description", description),
        (r"windows\[(\d+)\]\.start", rf"{s}.workingTime[\1].beginTime"),
        (r"windows\[(\d+)\]\.end", rf"{s}.workingTime[\1].endTime"),
        (r"windows(.*)", rf"{s}.workingTime\1"),
        ("period_start", f"{s}.startTime"),
        ("period_end", f"{s}.endTime"),
        ("max_attempts_per_day", f"{s}.maxAttemptsPerDay"),
        ("min_attempt_interval_seconds", f"{s}.minAttemptInterval"),
        (r"repeat_days(.*)", rf"{s}.repeatDays\1"),
        ("repeat_by", f"{s}.repeatBy"),
        ("routing_strategy", f"{s}.routingStrategy"),
        (r"caller_numbers\[(\d+)\]", lambda m: f"CallingNumber.{int(m[1]) + 1}"),
        (r"caller_numbers.*", "CallingNumber"),
        ("line_id", "CallingNumber"),
        ("script_id", "ScriptId"),
        ("ring_timeout_seconds", "RingingDuration"),
        ("priority", "Priority"),
        (r"recall_skip.*", "RecallStrategyJson"),
    ]


CREATE_RULES = field_rules("JobGroupName", "JobGroupDescription")
MODIFY_RULES = field_rules("Name", "Description")


# --- parameters → campaign fields -----------------------------------------------------------


def group_fields(
    call: Call, current: Mapping[str, Any] | None, name_key: str, description_key: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(campaign fields, vendor_data) from a CreateJobGroup / ModifyJobGroup call."""
    p = call.params
    fields: dict[str, Any] = {}
    extra = dict(current["vendor_data"]) if current else {}
    name = p.text(name_key, required=current is None)
    if name is not None:
        fields["name"] = name
    description = p.text(description_key)
    if description is not None:
        fields["description"] = description
    raw = p.json_object(strategy.NAME)
    if raw is not None:
        fields |= strategy.campaign_fields(raw)
    if raw is not None or current is None:
        extra["strategy"] = strategy.meta(raw or {}, extra.get("strategy"))
    fields |= _script_fields(call)
    fields |= _number_fields(call, current)
    fields |= _dialing_fields(p, current is None)
    extra |= _vendor_extras(p)
    return fields, extra


def _script_fields(call: Call) -> dict[str, Any]:
    script_uuid = call.params.text("ScriptId")
    if script_uuid is None:
        return {}
    if script_uuid == "":
        return {"script_id": None}
    script = call.services.scripts.by_uuid(call.tenant, script_uuid)
    if script is None:
        raise not_exist("Script", script_uuid)
    return {"script_id": script["id"]}


def _number_fields(call: Call, current: Mapping[str, Any] | None) -> dict[str, Any]:
    """CallingNumber.N → the caller numbers and the line that holds them all; none given on
    create: the tenant's first enabled line, all its numbers (Alibaba: every number bound to
    the instance)."""
    numbers = call.params.strings("CallingNumber")
    if numbers is None and current is not None:
        return {}
    lines = call.services.lines.list(call.tenant, PageRequest(1, 500), {}).items
    if not numbers:
        line = next((ln for ln in lines if ln["enabled"]), None)
        return {"caller_numbers": [], "line_id": None if line is None else line["id"]}
    for line in lines:
        on_line = {n["number"] for n in line["caller_numbers"]}
        if set(numbers) <= on_line:
            return {"caller_numbers": numbers, "line_id": line["id"]}
    known = {n["number"] for ln in lines for n in ln["caller_numbers"]}
    for i, number in enumerate(numbers):
        if number not in known:
            raise invalid(f"CallingNumber.{i + 1}", f"{number} is not bound to the instance")
    raise invalid("CallingNumber", "the numbers are not all on one line (trunk) of the instance")


def _dialing_fields(p: Params, creating: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ringing = p.integer("RingingDuration")
    if ringing is not None or creating:
        out["ring_timeout_seconds"] = RINGING_DEFAULT if ringing is None else ringing
    priority = p.text("Priority")
    if priority:
        if priority not in PRIORITY:
            raise invalid("Priority", "use Urgent or Daily")
        out["priority"] = PRIORITY[priority]
    recall = p.json_object("RecallStrategyJson")
    if recall is not None:
        out["recall_skip"] = strategy.recall_skip(recall)
    return out


def _vendor_extras(p: Params) -> dict[str, Any]:
    """What outdial keeps and echoes but does not act on."""
    out: dict[str, Any] = {}
    for key, name in (("ScenarioId", "scenario_id"), ("FlashSmsExtras", "flash_sms_extras")):
        value = p.text(key)
        if value is not None:
            out[name] = value
    if (flash := out.get("flash_sms_extras")) is not None and flash:
        parse_object("FlashSmsExtras", flash)
    recall_numbers = p.strings("RecallCallingNumber")
    if recall_numbers is not None:
        out["recall_calling_numbers"] = recall_numbers
    min_concurrency = p.integer("MinConcurrency", low=0, high=100_000)
    if min_concurrency is not None:
        out["min_concurrency"] = min_concurrency
    if p.text("Priority"):
        out["priority"] = p.text("Priority")
    return out


# --- campaign → JobGroup ------------------------------------------------------------------


def group_out(call: Call, campaign: Mapping[str, Any], progress: bool = True) -> dict[str, Any]:
    extra = campaign.get("vendor_data") or {}
    script = _script(call, campaign["script_id"])
    out: dict[str, Any] = {
        "JobGroupId": campaign["uuid"],
        "JobGroupName": campaign["name"],
        "JobGroupDescription": campaign["description"],
        "CallingNumbers": calling_numbers(call, campaign),
        "CreationTime": strategy.ms(campaign["created_at"]),
        "ModifyTime": str(strategy.ms(campaign["updated_at"])),
        "ScenarioId": extra.get("scenario_id", ""),
        "ScriptId": script["uuid"] if script else "",
        "ScriptName": script["name"] if script else "",
        "ScriptVersion": str(strategy.ms(script["updated_at"])) if script else "",
        "Status": STATUS[campaign["state"]],
        "Strategy": strategy.strategy_out(campaign, extra.get("strategy") or {}),
        "RecallStrategy": strategy.recall_out(campaign["recall_skip"]),
        "RecallCallingNumbers": extra.get("recall_calling_numbers", []),
        "RingingDuration": campaign["ring_timeout_seconds"],
        "MinConcurrency": extra.get("min_concurrency", 0),
        "Priority": extra.get("priority", "Urgent" if campaign["priority"] > 50 else "Daily"),
        **_roster(call, campaign),
        "ExportProgress": export_progress(call, latest_job(call, campaign, JobKind.EXPORT)),
    }
    if progress:
        out["Progress"] = group_progress(call, campaign)
    return out


def latest_job(call: Call, campaign: Mapping[str, Any], kind: JobKind) -> dict[str, Any] | None:
    """The group's latest job of ``kind`` (its roster import, its export)."""
    filters = {"kind": kind.value, "campaign_id": str(campaign["id"])}
    items = call.services.jobs.list(call.tenant, PageRequest(1, 1), filters).items
    return items[0] if items else None


def _roster(call: Call, campaign: Mapping[str, Any]) -> dict[str, str]:
    """JobFilePath and JobDataParsingTaskId: the file of the group's latest import."""
    job = latest_job(call, campaign, JobKind.CONTACT_IMPORT)
    if job is None:
        return {"JobFilePath": "", "JobDataParsingTaskId": ""}
    return {
        "JobFilePath": job["params"].get("job_file_path", ""),
        "JobDataParsingTaskId": job["uuid"],
    }


def export_progress(call: Call, job: Mapping[str, Any] | None) -> dict[str, str]:
    """Seed 000's ExportProgress: FileHttpUrl (a signed link, a day long, no key), Progress
    (the fraction done, "0" to "1"), Status (FINISHED when the file is there)."""
    if job is None:
        return {"FileHttpUrl": "", "Progress": "0", "Status": ""}
    url = job.get("download_url")
    fraction = 1.0 if url else float((job["progress"] or {}).get("percent", 0.0)) / 100
    return {
        "FileHttpUrl": f"{call.base_url}{API_ROOT}{url}" if url else "",
        "Progress": f"{fraction:g}",
        "Status": EXPORT_STATUS[job["state"]],
    }


EXPORT_STATUS = {"queued": "PENDING", "running": "RUNNING", "cancelling": "RUNNING",
                 "succeeded": "FINISHED", "failed": "FAILED", "cancelled": "CANCELLED"}  # fmt: skip


def calling_numbers(call: Call, campaign: Mapping[str, Any]) -> list[str]:
    if campaign["caller_numbers"] or campaign["line_id"] is None:
        return list(campaign["caller_numbers"])
    line = call.services.lines.get(call.tenant, campaign["line_id"])
    return [n["number"] for n in line["caller_numbers"] if n.get("enabled", True)]


def _script(call: Call, script_id: int | None) -> dict[str, Any] | None:
    return None if script_id is None else call.services.scripts.get(call.tenant, script_id)


def group_progress(call: Call, campaign: Mapping[str, Any]) -> dict[str, Any]:
    stats = call.services.campaigns.stats(call.tenant, campaign["id"])
    c = stats["contacts"]
    return {
        "TotalJobs": c["total"],
        "TotalCompleted": c["completed"],
        "TotalNotAnswered": c["dialed"] - c["connected"],
        "Scheduling": c["pending"],
        "Executing": c["in_progress"],
        "Paused": c["paused"],
        "Failed": c["failed"],
        "Cancelled": c["cancelled"],
        "Duration": int(stats["attempts"]["talk_seconds"]),
        "StartTime": strategy.ms(campaign["started_at"]) or 0,
        "Status": STATUS[campaign["state"]],
    }


# --- lookup ---------------------------------------------------------------------------------


def campaign_of(call: Call, key: str = "JobGroupId") -> dict[str, Any]:
    group_id = call.params.required(key)
    row = call.services.campaigns.by_uuid(call.tenant, group_id)
    if row is None:
        raise not_exist("JobGroup", group_id)
    return row


def checked(data: dict[str, Any], rules: FieldRules) -> CampaignIn:
    try:
        return validate(CampaignIn, data)
    except OutdialError as exc:
        raise from_outdial(exc, rules) from exc


def refined(exc: OutdialError, rules: FieldRules) -> AliyunError:
    return from_outdial(exc, rules)


def start_if_ready(call: Call, campaign_id: int) -> None:
    svc = call.services.campaigns
    row = svc.get(call.tenant, campaign_id)
    if row["state"] == CampaignState.DRAFT.value and not svc.dial_problems(
        call.tenant, campaign_id
    ):
        svc.act(call.tenant, campaign_id, LifecycleAction.START)


# --- actions --------------------------------------------------------------------------------


@action("CreateJobGroup")
def create_job_group(call: Call) -> dict[str, Any]:
    call.instance()
    fields, extra = group_fields(call, None, "JobGroupName", "JobGroupDescription")
    data = checked(fields, CREATE_RULES)
    try:
        row = call.services.campaigns.create(
            call.tenant, data, {"vendor": VENDOR, "vendor_data": extra}
        )
    except OutdialError as exc:
        raise refined(exc, CREATE_RULES) from exc
    return {"JobGroup": group_out(call, row, progress=False)}


@action("DescribeJobGroup")
def describe_job_group(call: Call) -> dict[str, Any]:
    call.instance()
    return {"JobGroup": group_out(call, campaign_of(call))}


@action("ModifyJobGroup")
def modify_job_group(call: Call) -> dict[str, Any]:
    call.instance()
    current = campaign_of(call)
    fields, extra = group_fields(call, current, "Name", "Description")
    status = call.params.text("JobGroupStatus")
    if status not in (None, "", "Draft", "Paused"):
        raise invalid("JobGroupStatus", "use Draft or Paused")
    if status == "Draft" and current["state"] != CampaignState.DRAFT.value:
        raise incorrect_status("JobGroup", f"a {STATUS[current['state']]} job group cannot "
                               "go back to Draft")  # fmt: skip
    try:
        row = call.services.campaigns.update(
            call.tenant, current["id"], fields, {"vendor_data": extra}
        )
        if status == "Paused" and CampaignState(row["state"]) in ACTIVE:
            row = call.services.campaigns.act(call.tenant, row["id"], LifecycleAction.PAUSE)
    except OutdialError as exc:
        raise refined(exc, MODIFY_RULES) from exc
    return {"JobGroup": group_out(call, row, progress=False)}


@action("DeleteJobGroup")
def delete_job_group(call: Call) -> dict[str, Any]:
    """A group that never dialed is deleted (cancelled first if it was running); one that
    dialed keeps its ledger: cancel it (CancelJobs) instead."""
    call.instance()
    row = campaign_of(call)
    svc = call.services.campaigns
    try:
        if svc.has_attempts(call.tenant, row["id"]):
            raise incorrect_status(
                "JobGroup",
                "The job group has made calls; their records stay. Cancel it with CancelJobs.",
            )
        if CampaignState(row["state"]) not in TERMINAL | {CampaignState.DRAFT}:
            svc.act(call.tenant, row["id"], LifecycleAction.CANCEL)
        svc.delete(call.tenant, row["id"])
    except Conflict as exc:
        raise incorrect_status("JobGroup", exc.message) from exc
    return {}


@action("ListJobGroups")
def list_job_groups(call: Call) -> dict[str, Any]:
    call.instance()
    p = call.params
    number, size = p.page()
    filters: dict[str, str] = {}
    if text := p.text("SearchText"):
        filters["q"] = text
    if statuses := p.text("JobGroupStatusFilter"):
        filters["states"] = _states(statuses)
    for key, name in (("StartTime", "created_after"), ("EndTime", "created_before")):
        when = p.millis(key)
        if when is not None:
            filters[name] = when.isoformat()
    if p.boolean("OnlyMinConcurrencyEnabled", False):
        filters["vendor"] = VENDOR  # only the facade's groups carry MinConcurrency
    page = call.services.campaigns.list(call.tenant, PageRequest(number, size), filters)
    items = [_listed(call, c) for c in page.items]
    if p.boolean("OnlyMinConcurrencyEnabled", False):
        items = [i for i in items if i["MinConcurrency"] > 0]
    return {
        "JobGroups": {
            "List": items,
            "PageNumber": number,
            "PageSize": size,
            "TotalCount": page.total,
        }
    }


def _states(text: str) -> str:
    wanted = {s.strip() for s in text.split(",") if s.strip()}
    unknown = sorted(wanted - set(STATUS.values()) - {"Initializing"})
    if unknown:
        raise invalid("JobGroupStatusFilter", f"unknown status {unknown[0]}")
    states = [ours for ours, theirs in STATUS.items() if theirs in wanted]
    return ",".join(states) or "failed"  # Initializing alone: no campaign is ever in it


def _listed(call: Call, campaign: Mapping[str, Any]) -> dict[str, Any]:
    group = group_out(call, campaign)
    progress = group["Progress"]
    stats_calls = call.services.campaigns.stats(call.tenant, campaign["id"])["attempts"]
    return {
        **{k: group[k] for k in _LISTED_KEYS},
        "Progress": {
            "TotalJobs": progress["TotalJobs"],
            "TotalCompleted": progress["TotalCompleted"],
            "TotalNotAnswered": progress["TotalNotAnswered"],
            "Scheduling": progress["Scheduling"],
            "ExecutingNum": progress["Executing"],
            "PausedNum": progress["Paused"],
            "FailedNum": progress["Failed"],
            "CancelledNum": progress["Cancelled"],
            "Duration": progress["Duration"],
            "StartTime": progress["StartTime"],
            "Status": progress["Status"],
        },
        "Strategy": {
            k: group["Strategy"][k] for k in ("StartTime", "EndTime") if k in group["Strategy"]
        },
        "TotalCallNum": stats_calls["total"],
    }


_LISTED_KEYS = (
    "JobGroupId", "JobGroupName", "JobGroupDescription", "CreationTime", "ModifyTime", "Status",
    "ScriptId", "ScriptName", "ScriptVersion", "MinConcurrency", "JobDataParsingTaskId",
    "ExportProgress",
)  # fmt: skip


@action("DescribeGroupExecutingInfo")
def describe_group_executing_info(call: Call) -> dict[str, Any]:
    call.instance()
    campaign = campaign_of(call)
    stats = call.services.campaigns.stats(call.tenant, campaign["id"])
    c, a = stats["contacts"], stats["attempts"]
    by = a["by_outcome"]
    answered = by.get("answered", 0)
    failed = a["total"] - a["open"] - answered - by.get("answered_machine", 0)
    return {
        "GroupId": campaign["uuid"],
        "InstanceId": call.tenant.uuid,
        "ExecutingInfo": {
            "CallNum": a["total"],
            "FinishedNum": answered,
            "CallFailedNum": failed,
            "HangUpByClientNum": answered,
            "TransferByIntentNum": a["transfers"]["requested"],
            "TransferByNoAnswer": 0,
            "NoInteractionNum": 0,
            "AvgTalkTime": int(a["talk_seconds"] / answered) if answered else 0,
            "StartTime": strategy.ms(campaign["started_at"]) or 0,
            "EndTime": strategy.ms(campaign["ended_at"]) or 0,
            "CreatorName": call.tenant.name,
            "JobsProgress": {
                "TotalJobs": c["total"],
                "TotalCompletedNum": c["completed"],
                "TotalNotAnsweredNum": c["dialed"] - c["connected"],
                "SchedulingNum": c["pending"],
                "ExecutingNum": c["in_progress"],
                "PausedNum": c["paused"],
                "FailedNum": c["failed"],
                "CancelledNum": c["cancelled"],
            },
        },
    }
