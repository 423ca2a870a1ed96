"""QueryJobsWithResult: a group's jobs with their latest task (the contact's latest attempt),
filtered by job status, failure reason, the latest task's status, answer and time, and the
phone number."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from outdial.api.facades.aliyun import jobgroups
from outdial.api.facades.aliyun.call import Call, action
from outdial.api.facades.aliyun.errors import from_outdial, invalid
from outdial.api.facades.aliyun.jobviews import (
    FAILURE_REASON,
    JOB_STATUS,
    TASK_STATUS,
    Groups,
    extras,
    failure_reason,
    job_contacts,
    job_status,
    task_out,
)
from outdial.api.facades.aliyun.params import Params
from outdial.api.facades.aliyun.strategy import ms
from outdial.domain.errors import ValidationFailed
from outdial.services.common import PageRequest

STATUS_NAME = {"Scheduling": "调度中", "Executing": "执行中", "Succeeded": "已完成(已触达)",
               "Paused": "已暂停", "Failed": "已完成(未触达)", "Cancelled": "已取消",
               "Drafted": "草稿"}  # fmt: skip
TASK_STATUS_NAME = {"Executing": "拨打中", "NoAnswer": "未接通-无人接听", "NotExist": "未接通-空号",
                    "Busy": "未接通-忙线", "Cancelled": "未拨打-任务停止", "Failed": "失败",
                    "NotConnected": "未接通-无法接通", "PoweredOff": "未接通-关机",
                    "OutOfService": "未接通-停机", "InArrears": "未接通-欠费",
                    "ContactBlockList": "未拨打-黑名单", "SucceededFinish": "已接通-正常结束",
                    "SucceededInoInterAction": "已接通-无交互",
                    "SucceededError": "已接通-异常"}  # fmt: skip
BATCH = 500


@action("QueryJobsWithResult")
def query_jobs_with_result(call: Call) -> dict[str, Any]:
    call.instance()
    campaign = jobgroups.campaign_of(call)
    p = call.params
    number, size = p.page()
    wanted = Filters.of(p)
    filters: dict[str, Any] = {"campaign_id": campaign["id"]}
    if phone := p.text("QueryText"):
        filters["number"] = phone
    groups = Groups(call)
    if wanted.none():  # a page straight from the store
        page, total = _page(call, filters, groups, number, size)
    else:  # the filters read the latest task: the group's jobs are read through
        matched = [row for row in _rows(call, filters, groups) if wanted.match(*row)]
        page, total = matched[(number - 1) * size : number * size], len(matched)
    return {
        "Jobs": {
            "List": [_result(groups, contact, latest) for contact, latest, _ in page],
            "PageNumber": number,
            "PageSize": size,
            "RowCount": total,
            "PageCount": (total + size - 1) // size,
        },
        "Labels": [],
        "VariableNames": sorted({e["Key"] for c, _, _ in page for e in extras(c)}),
    }


Row = tuple[dict[str, Any], dict[str, Any] | None, str]
"""(contact, its latest attempt or None, its Alibaba job status)."""


def _page(
    call: Call, filters: dict[str, Any], groups: Groups, number: int, size: int
) -> tuple[list[Row], int]:
    """One page of the group's contacts, each with its latest attempt; and their total."""
    try:
        page = call.services.contacts.search(call.tenant, PageRequest(number, size), filters)
    except ValidationFailed as exc:
        raise from_outdial(exc, [("number", "QueryText")]) from exc
    tried = call.services.attempts.of_contacts(call.tenant, [c["id"] for c in page.items])
    rows = []
    for contact in page.items:
        attempts = tried[contact["id"]]
        campaign = groups.get(contact["campaign_id"])
        rows.append((contact, attempts[-1] if attempts else None, job_status(contact, campaign)))
    return rows, page.total


def _rows(call: Call, filters: dict[str, Any], groups: Groups) -> Iterator[Row]:
    """The group's contacts in id order, a batch at a time, each with its latest attempt."""
    page_no = 1
    while True:
        rows, total = _page(call, filters, groups, page_no, BATCH)
        yield from rows
        if page_no * BATCH >= total:
            return
        page_no += 1


class Filters:
    """What QueryJobsWithResult filters on, checked and named as the caller named them."""

    def __init__(self) -> None:
        self.job_status: set[str] | None = None
        self.reasons: set[str] | None = None
        self.task_status: set[str] | None = None
        self.answered: bool | None = None
        self.rejected: bool | None = None
        self.ended_flow: bool | None = None
        self.start: datetime | None = None
        self.end: datetime | None = None
        self.labels = False

    @classmethod
    def of(cls, p: Params) -> Filters:
        f = cls()
        f.job_status = _choices(p, "JobStatusFilter", set(JOB_STATUS.values()) | {"Drafted"})
        reasons = set(FAILURE_REASON.values())
        f.reasons = _choices(p, "JobFailureReasonsFilter", reasons)
        f.task_status = _choices(p, "TaskStatusFilter", set(TASK_STATUS.values()) | {"Succeeded"})
        f.answered = p.boolean("HasAnsweredFilter")
        f.rejected = p.boolean("HasHangUpByRejectionFilter")
        f.ended_flow = p.boolean("HasReachedEndOfFlowFilter")
        f.start, f.end = p.millis("StartActualTimeFilter"), p.millis("EndActualTimeFilter")
        for i, raw in enumerate(p.strings("LabelsJson") or [], 1):
            _label(f"LabelsJson.{i}", raw)
            f.labels = True
        return f

    def none(self) -> bool:
        """Whether nothing is filtered on (beyond the phone number)."""
        return not self.labels and all(
            v is None
            for v in (self.job_status, self.reasons, self.task_status, self.answered,
                      self.rejected, self.ended_flow, self.start, self.end)
        )  # fmt: skip

    def match(
        self, contact: Mapping[str, Any], latest: Mapping[str, Any] | None, status: str
    ) -> bool:
        if self.labels:
            return False  # outdial tags no calls: no job carries a label
        if self.job_status is not None and status not in self.job_status:
            return False
        if self.reasons is not None and failure_reason(contact) not in self.reasons:
            return False
        task_filters = (self.task_status, self.answered, self.rejected, self.ended_flow,
                        self.start, self.end)  # fmt: skip
        if all(v is None for v in task_filters):
            return True
        return latest is not None and self._task(latest)

    def _task(self, latest: Mapping[str, Any]) -> bool:
        shown = TASK_STATUS.get(latest["outcome"], "Failed")
        if self.task_status is not None and not (
            shown in self.task_status
            or ("Succeeded" in self.task_status and shown.startswith("Succeeded"))
        ):
            return False
        checks = ((self.answered, latest["answered_at"] is not None),
                  (self.rejected, latest["outcome"] == "rejected"),
                  (self.ended_flow, latest["outcome"] == "answered"))  # fmt: skip
        if any(wanted is not None and wanted != actual for wanted, actual in checks):
            return False
        called = latest["created_at"]
        return (self.start is None or called >= self.start) and (
            self.end is None or called <= self.end
        )


def _choices(p: Params, name: str, allowed: set[str]) -> set[str] | None:
    """A comma-separated list, or a JSON array of strings (the SDK's own example)."""
    raw = (p.text(name) or "").strip()
    if not raw:
        return None
    if raw.startswith("["):
        try:
            values = [str(v) for v in json.loads(raw)]
        except (json.JSONDecodeError, TypeError) as exc:
            raise invalid(name, "a comma-separated list or a JSON array") from exc
    else:
        values = [v.strip() for v in raw.split(",") if v.strip()]
    for value in values:
        if value not in allowed:
            raise invalid(name, f"unknown value {value!r}; use {', '.join(sorted(allowed))}")
    return set(values)


def _label(name: str, raw: str) -> None:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise invalid(name, f"not JSON: {exc.msg}") from exc
    if not isinstance(value, dict):
        raise invalid(name, 'a JSON object {"name": …, "value": …}')


def _result(
    groups: Groups, contact: Mapping[str, Any], latest: Mapping[str, Any] | None
) -> dict[str, Any]:
    status = job_status(contact, groups.get(contact["campaign_id"]))
    return {
        "Id": contact["uuid"],
        "Status": status,
        "StatusName": STATUS_NAME.get(status, status),
        "JobFailureReason": failure_reason(contact),
        "LatestTask": {} if latest is None else _latest(groups, contact, latest),
    }


def _latest(
    groups: Groups, contact: Mapping[str, Any], attempt: Mapping[str, Any]
) -> dict[str, Any]:
    ring = groups.get(contact["campaign_id"])["ring_timeout_seconds"]
    task = task_out(contact, attempt, ring)
    person = next(
        (p for p in job_contacts(contact) if p["ContactId"] == str(attempt["phone_id"])), {}
    )
    talk = task["Duration"]
    return {
        "CallTime": ms(attempt["created_at"]),
        "CallDuration": talk,
        "CallDurationDisplay": f"{talk // 60:02d}:{talk % 60:02d}",
        "Status": task["Status"],
        "StatusName": TASK_STATUS_NAME.get(task["Status"], task["Status"]),
        "HasAnswered": attempt["answered_at"] is not None,
        "HasHangUpByRejection": attempt["outcome"] == "rejected",
        "HasReachedEndOfFlow": attempt["outcome"] == "answered",
        "HasLastPlaybackCompleted": False,
        "HangUpDirection": "",
        "TaskEndReason": task["EndReason"],
        "VoiceName": "",
        "Contact": {
            "Id": person.get("ContactId", ""),
            "JobUuid": contact["uuid"],
            "Name": person.get("ContactName", ""),
            "Honorific": person.get("Honorific", ""),
            "PhoneNumber": person.get("PhoneNumber", attempt["number"]),
            "PreferredPhoneNumber": task["CalledNumber"],
            "ReferenceId": person.get("ReferenceId", ""),
            "Role": person.get("Role", ""),
            "Round": contact["attempt_count"],
            "State": person.get("State", ""),
        },
        "Extras": extras(contact),
        "TagHits": [],
        "DialExceptionCodes": [],
    }
