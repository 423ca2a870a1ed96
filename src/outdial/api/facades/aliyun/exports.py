"""A job group's export (CreateJobGroupExportTask, DescribeJobGroupExportTaskProgress): the
native export job of the campaign's contacts (jobs) or attempts (tasks), its file served by
outdial through a signed link (FileHttpUrl)."""

from __future__ import annotations

from typing import Any

from outdial.api.facades.aliyun import jobgroups
from outdial.api.facades.aliyun.call import Call, action
from outdial.api.facades.aliyun.errors import from_outdial, invalid, not_exist
from outdial.domain.errors import OutdialError
from outdial.domain.jobs import JobKind
from outdial.services.models import ExportIn
from outdial.services.validation import validate

OPTIONS: dict[str, tuple[str, str]] = {
    "jobs": ("subject", "contacts"),
    "contacts": ("subject", "contacts"),
    "tasks": ("subject", "attempts"),
    "attempts": ("subject", "attempts"),
    "xlsx": ("format", "xlsx"),
    "csv": ("format", "csv"),
    "zh": ("language", "zh"),
    "en": ("language", "en"),
}
"""Option.N [outdial]: what to export (jobs, tasks), the format, the header language."""
DEFAULTS = {"subject": "contacts", "format": "xlsx", "language": "zh"}


def export_options(call: Call) -> dict[str, str]:
    chosen = dict(DEFAULTS)
    given: dict[str, int] = {}
    for i, raw in enumerate(call.params.strings("Option") or [], 1):
        hit = OPTIONS.get(raw.strip().lower())
        if hit is None:
            raise invalid(f"Option.{i}", f"use one of {', '.join(OPTIONS)}")
        key, value = hit
        if key in given and chosen[key] != value:
            raise invalid(f"Option.{i}", f"contradicts Option.{given[key]}")
        chosen[key], given[key] = value, i
    return chosen


@action("CreateJobGroupExportTask")
def create_job_group_export_task(call: Call) -> dict[str, Any]:
    call.instance()
    campaign = jobgroups.campaign_of(call)
    options = export_options(call)
    try:
        job = call.services.exports.submit(call.tenant, campaign["id"], validate(ExportIn, options))
    except OutdialError as exc:
        raise from_outdial(exc, [("format", "Option")]) from exc
    return {"TaskId": job["uuid"]}


@action("DescribeJobGroupExportTaskProgress")
def describe_job_group_export_task_progress(call: Call) -> dict[str, Any]:
    call.instance()
    task_id = call.params.required("TaskId")
    job = call.services.jobs.by_uuid(call.tenant, task_id)
    if job is None or job["kind"] != JobKind.EXPORT.value:
        raise not_exist("ExportTask", task_id)
    progress = jobgroups.export_progress(call, job)
    return {
        "FileHttpUrl": progress["FileHttpUrl"],
        "Progress": float(progress["Progress"]),
        "Status": progress["Status"],
        "ExportProgress": progress,
    }
