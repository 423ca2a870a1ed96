"""Jobs (作业) are contacts, their Tasks are the contact's attempts in the ledger: how they read
in Alibaba's names and types, and the actions that read them (ListJobs, ListJobsByGroup,
DescribeJob, QueryJobs)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from outdial.api.facades.aliyun import jobgroups
from outdial.api.facades.aliyun.call import Call, action
from outdial.api.facades.aliyun.errors import from_outdial, invalid, missing, not_exist
from outdial.api.facades.aliyun.strategy import ms
from outdial.domain.errors import ValidationFailed
from outdial.services.common import PageRequest

CONTACTS_KEY = "aliyun:contacts"
"""The attribute holding a job's contacts as Alibaba sent them (name, honorific, referenceId,
role and the number as written); the other attributes are the job's extras."""
LIST_JOBS_MAX = 99
JOB_STATUS = {
    "pending": "Scheduling",
    "in_progress": "Executing",
    "succeeded": "Succeeded",
    "paused": "Paused",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
FAILURE_REASON = {
    "no_answer": "NoAnswer",
    "busy": "CallFailed",
    "rejected": "CallFailed",
    "unreachable": "CallFailed",
    "powered_off": "CallFailed",
    "carrier_failure": "CallFailed",
    "abandoned": "CallFailed",
    "answered_machine": "CallFailed",
    "invalid_number": "EmptyNumber",
    "suspended": "OutOfService",
    "in_arrears": "InArrears",
    "dnc_blocked": "ContactBlockList",
    "cancelled": "Unknown",
}
TASK_STATUS = {
    None: "Executing",
    "answered": "SucceededFinish",
    "answered_machine": "SucceededInoInterAction",
    "no_answer": "NoAnswer",
    "busy": "Busy",
    "rejected": "NotConnected",
    "unreachable": "NotConnected",
    "powered_off": "PoweredOff",
    "invalid_number": "NotExist",
    "suspended": "OutOfService",
    "in_arrears": "InArrears",
    "carrier_failure": "Failed",
    "abandoned": "SucceededError",
    "cancelled": "Cancelled",
    "dnc_blocked": "ContactBlockList",
}
PHONE_STATE = {"active": "Available", "finished": "Finished"}
_SIP_CODE = re.compile(r"^[1-6][0-9][0-9]$")


class Groups:
    """The job groups (campaigns) a set of jobs belongs to, each read once."""

    def __init__(self, call: Call):
        self.call = call
        self._rows: dict[int, dict[str, Any]] = {}
        self._numbers: dict[int, list[str]] = {}

    def get(self, campaign_id: int) -> dict[str, Any]:
        if campaign_id not in self._rows:
            self._rows[campaign_id] = self.call.services.campaigns.get(
                self.call.tenant, campaign_id
            )
        return self._rows[campaign_id]

    def numbers(self, campaign_id: int) -> list[str]:
        if campaign_id not in self._numbers:
            self._numbers[campaign_id] = jobgroups.calling_numbers(self.call, self.get(campaign_id))
        return self._numbers[campaign_id]


# --- contact → Job ----------------------------------------------------------------------------


def sent_contacts(contact: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = contact["attributes"].get(CONTACTS_KEY)
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def job_contacts(contact: Mapping[str, Any]) -> list[dict[str, Any]]:
    sent = sent_contacts(contact)
    out = []
    for k, phone in enumerate(contact["phones"]):
        meta = sent[k] if k < len(sent) else {}
        out.append(
            {
                "ContactId": str(phone["id"]),
                "ContactName": str(meta.get("name", contact["name"] if k == 0 else "")),
                "Honorific": str(meta.get("honorific", "")),
                "JobId": contact["uuid"],
                "PhoneNumber": str(meta.get("phoneNumber", phone["number"])),
                "ReferenceId": str(
                    meta.get("referenceId", (contact["external_id"] or "") if k == 0 else "")
                ),
                "Role": str(meta.get("role", phone["relation"])),
                "State": PHONE_STATE.get(phone["state"], phone["state"]),
            }
        )
    return out


def extras(contact: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in contact["attributes"].items() if k != CONTACTS_KEY]


def job_status(contact: Mapping[str, Any], campaign: Mapping[str, Any]) -> str:
    if contact["state"] == "pending" and campaign["state"] == "draft":
        return "Drafted"
    return JOB_STATUS[contact["state"]]


def failure_reason(contact: Mapping[str, Any]) -> str:
    if contact["state"] != "failed":
        return ""
    return FAILURE_REASON.get(contact["outcome"] or "", "Unknown")


def job_out(groups: Groups, contact: Mapping[str, Any]) -> dict[str, Any]:
    """The fields every job listing shares."""
    campaign = groups.get(contact["campaign_id"])
    extra = campaign.get("vendor_data") or {}
    return {
        "JobId": contact["uuid"],
        "JobGroupId": campaign["uuid"],
        "Status": job_status(contact, campaign),
        "FailureReason": failure_reason(contact),
        "Priority": campaign["priority"],
        "SystemPriority": 0,
        "ReferenceId": contact["external_id"] or "",
        "ScenarioId": extra.get("scenario_id", ""),
        "StrategyId": (extra.get("strategy") or {}).get("id", campaign["uuid"]),
        "CallingNumbers": groups.numbers(contact["campaign_id"]),
        "Contacts": job_contacts(contact),
        "Extras": extras(contact),
        "Summary": [],
    }


# --- attempt → Task ---------------------------------------------------------------------------


def task_out(
    contact: Mapping[str, Any], attempt: Mapping[str, Any], ringing_timeout: int
) -> dict[str, Any]:
    """An attempt as Alibaba's Task (一次呼叫): TaskId is the attempt's uuid, CallId the
    telephony call id; times in epoch ms, durations in seconds."""
    created, ended = attempt["created_at"], attempt["ended_at"]
    ringing, answered = attempt["ringing_at"], attempt["answered_at"]
    rang = _seconds(ringing, answered or ended)
    talk = int(attempt["talk_seconds"] or 0)
    contacts = job_contacts(contact)
    position = next(
        (k for k, p in enumerate(contact["phones"]) if p["id"] == attempt["phone_id"]), 0
    )
    person = contacts[position] if position < len(contacts) else {}
    return {
        "TaskId": attempt["uuid"],
        "JobId": contact["uuid"],
        "CallId": attempt["call_id"] or "",
        "CalledNumber": person.get("PhoneNumber", attempt["number"]),
        "CallingNumber": attempt["caller_number"],
        "ChatbotId": "",
        "ScenarioId": "",
        "Status": TASK_STATUS.get(attempt["outcome"], "Failed"),
        "EndReason": _end_reason(attempt),
        "HangUpDirection": "",
        "PlanedTime": ms(created),
        "ActualTime": ms(created),
        "EndTime": ms(ended) or 0,
        "RingingDuration": ringing_timeout,
        "RealRingingDuration": rang,
        "SipCode": attempt["native_cause"] if _SIP_CODE.match(attempt["native_cause"]) else "",
        "SipDuration": talk,
        "TotalDuration": _seconds(created, ended),
        "Duration": talk,
        "Brief": attempt["outcome"] or "",
        "Conversation": [],
        "Contact": person,
    }


def _end_reason(attempt: Mapping[str, Any]) -> str:
    """Alibaba's EndReason of a connected call: 6 TRANSFER_BY_INTENT when handed to an agent,
    else 1 FINISHED; empty for a call not connected."""
    if attempt["outcome"] != "answered":
        return ""
    return "6" if attempt["transferred_at"] is not None else "1"


def _seconds(start: datetime | None, end: datetime | None) -> int:
    if start is None or end is None:
        return 0
    return max(0, int((end - start).total_seconds()))


# --- lookup -----------------------------------------------------------------------------------


def job_of(call: Call, job_id: str) -> dict[str, Any]:
    contact = call.services.contacts.by_uuids(call.tenant, [job_id]).get(job_id)
    if contact is None:
        raise not_exist("Job", job_id)
    return contact


def listing(
    groups: Groups, items: Sequence[Mapping[str, Any]], number: int, size: int, total: int
) -> dict[str, Any]:
    return {
        "List": [job_out(groups, c) for c in items],
        "PageNumber": number,
        "PageSize": size,
        "TotalCount": total,
    }


# --- actions ----------------------------------------------------------------------------------


@action("DescribeJob")
def describe_job(call: Call) -> dict[str, Any]:
    call.instance()
    with_script = call.params.boolean("WithScript", False)
    contact = job_of(call, call.params.required("JobId"))
    groups = Groups(call)
    campaign = groups.get(contact["campaign_id"])
    tried = call.services.attempts.of_contacts(call.tenant, [contact["id"]])[contact["id"]]
    job = job_out(groups, contact)
    tasks = [task_out(contact, a, campaign["ring_timeout_seconds"]) for a in tried]
    job |= {
        "InstanceId": call.tenant.uuid,
        "CalledNumber": job["Contacts"][0]["PhoneNumber"] if job["Contacts"] else "",
        "NextExecutionTime": ms(contact["next_eligible_at"])
        if contact["state"] == "pending"
        else 0,
        "ActualTime": tasks[-1]["ActualTime"] if tasks else 0,
        "EndReason": int(tasks[-1]["EndReason"] or 0) if tasks else 0,
        "DsReport": "",
        "Summary": [],
        "Tasks": tasks,
    }
    if with_script:
        job["Script"] = _script(call, campaign)
    return {"Job": job}


def _script(call: Call, campaign: Mapping[str, Any]) -> dict[str, Any]:
    if campaign["script_id"] is None:
        return {}
    script = call.services.scripts.get(call.tenant, campaign["script_id"])
    return {
        "ScriptId": script["uuid"],
        "Name": script["name"],
        "ChatbotId": script["extension"],
        "Status": "PUBLISHED" if script["enabled"] else "INITIAL",
        "DebugStatus": "PUBLISHED" if script["debug"] else "INITIAL",
        "Industry": "",
        "Scene": "",
        "ScriptDescription": script["description"],
        "IsDrafted": False,
        "IsDebugDrafted": False,
        "UpdateTime": ms(script["updated_at"]),
    }


@action("ListJobs")
def list_jobs(call: Call) -> dict[str, Any]:
    """The jobs named by JobId.N (at most 99), each with its Tasks."""
    call.instance()
    ids = call.params.strings("JobId")
    if not ids:
        raise missing("JobId.N")
    if len(ids) > LIST_JOBS_MAX:
        raise invalid("JobId.N", f"at most {LIST_JOBS_MAX} jobs, got {len(ids)}")
    found = call.services.contacts.by_uuids(call.tenant, ids)
    for i, job_id in enumerate(ids):
        if job_id not in found:
            raise not_exist("Job", f"{job_id} (JobId.{i + 1})")
    contacts = [found[j] for j in ids]
    tried = call.services.attempts.of_contacts(call.tenant, [c["id"] for c in contacts])
    groups = Groups(call)
    jobs = []
    for contact in contacts:
        ring = groups.get(contact["campaign_id"])["ring_timeout_seconds"]
        tasks = [task_out(contact, a, ring) for a in tried[contact["id"]]]
        jobs.append({**job_out(groups, contact), "Tasks": tasks})
    return {"Jobs": jobs}


@action("ListJobsByGroup")
def list_jobs_by_group(call: Call) -> dict[str, Any]:
    call.instance()
    campaign = jobgroups.campaign_of(call)
    number, size = call.params.page()
    filters: dict[str, Any] = {"campaign_id": campaign["id"]}
    status = call.params.text("JobStatus")
    if status:
        filters["state"] = _state_of(status, campaign)
    reason = call.params.text("JobFailureReason")
    groups = Groups(call)
    if reason:
        if reason not in set(FAILURE_REASON.values()) | {"Unknown"}:
            raise invalid("JobFailureReason", "use a FailureReason of Alibaba's list")
        return {"Jobs": _by_reason(call, groups, filters, reason, number, size)}
    page = call.services.contacts.search(call.tenant, PageRequest(number, size), filters)
    return {"Jobs": listing(groups, page.items, number, size, page.total)}


def _state_of(status: str, campaign: Mapping[str, Any]) -> str:
    states = {v: k for k, v in JOB_STATUS.items()} | {"Drafted": "pending"}
    if status not in states:
        raise invalid("JobStatus", f"use one of {', '.join(states)}")
    return states[status]


def _by_reason(
    call: Call, groups: Groups, filters: dict[str, Any], reason: str, number: int, size: int
) -> dict[str, Any]:
    """Failed jobs whose outcome maps to ``reason`` (FailureReason is derived, so the filter
    runs over the group's failed contacts)."""
    filters = {**filters, "state": "failed"}
    matched: list[dict[str, Any]] = []
    page_no = 1
    while True:
        page = call.services.contacts.search(call.tenant, PageRequest(page_no, 500), filters)
        matched += [c for c in page.items if failure_reason(c) == reason]
        if page_no * 500 >= page.total:
            break
        page_no += 1
    items = matched[(number - 1) * size : number * size]
    return listing(groups, items, number, size, len(matched))


@action("QueryJobs")
def query_jobs(call: Call) -> dict[str, Any]:
    """The instance's jobs, by group, contact name, phone number and creation time (StartTime
    0: today 00:00 in the tenant's zone; EndTime 0: now)."""
    call.instance()
    p = call.params
    number, size = p.page()
    filters: dict[str, Any] = {}
    if p.text("JobGroupId"):
        filters["campaign_id"] = jobgroups.campaign_of(call)["id"]
    if name := p.text("ContactName"):
        filters["q"] = name
    if phone := p.text("PhoneNumber"):
        filters["number"] = phone
    filters |= _created(call)
    try:
        page = call.services.contacts.search(call.tenant, PageRequest(number, size), filters)
    except ValidationFailed as exc:
        raise from_outdial(exc, [("number", "PhoneNumber")]) from exc
    return {"Jobs": listing(Groups(call), page.items, number, size, page.total)}


def _created(call: Call) -> dict[str, datetime]:
    p, now = call.params, call.services.clock.now()
    out: dict[str, datetime] = {}
    if "StartTime" in p and p.text("StartTime") != "":
        start = p.millis("StartTime")
        if start is None:
            zone = ZoneInfo(call.tenant.timezone)
            midnight = datetime.combine(now.astimezone(zone).date(), time(), zone)
            start = midnight.astimezone(UTC)
        out["created_after"] = start
    if "EndTime" in p and p.text("EndTime") != "":
        out["created_before"] = p.millis("EndTime") or now + timedelta(seconds=1)
    after, before = out.get("created_after"), out.get("created_before")
    if after is not None and before is not None and after > before:
        raise invalid("EndTime", "must not be before StartTime")
    return out
