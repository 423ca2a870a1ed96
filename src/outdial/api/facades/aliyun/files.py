"""Rosters as files: GetJobDataUploadParams (outdial serves the upload target itself, in the form
of an OSS PostObject), CreateJobDataParsingTask and DescribeJobDataParsingTaskProgress (the
file checked as a job), AssignJobs with ``RosterType=excel`` and CreateBatchJobs (the file
imported into a group as a contact import job)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from outdial.api.facades.aliyun import jobgroups
from outdial.api.facades.aliyun.call import Call, action
from outdial.api.facades.aliyun.errors import (
    from_outdial,
    incorrect_status,
    invalid,
    missing,
    not_exist,
)
from outdial.api.facades.aliyun.strategy import ms
from outdial.api.native.routing import API_ROOT
from outdial.domain.errors import Forbidden, LimitExceeded, OutdialError, ValidationFailed
from outdial.domain.jobs import JobKind, JobState
from outdial.services.container import Services
from outdial.services.imports import REPORT
from outdial.services.models import ContactImportIn

UPLOAD_PATH = "/aliyun/uploads"
FILE_TYPES = (".csv", ".xlsx")
_SEGMENT = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
PARSING = {JobKind.CONTACT_CHECK.value, JobKind.CONTACT_IMPORT.value}
uploads = APIRouter()


# --- GetJobDataUploadParams and the upload target ---------------------------------------------


@action("GetJobDataUploadParams")
def get_job_data_upload_params(call: Call) -> dict[str, Any]:
    """A one-hour policy to post the file to outdial; ``Folder`` is the key the file takes
    and the ``JobFilePath`` the other actions name it by."""
    call.instance()
    p = call.params
    name = p.required("FileName", max_length=200).strip()
    if "/" in name or "\\" in name or name.startswith("."):
        raise invalid("FileName", "a file name, without a folder")
    if not name.lower().endswith(FILE_TYPES):
        raise invalid("FileName", "outdial reads rosters as .csv or .xlsx")
    parts = [call.tenant.uuid]
    if folder := (p.text("Path") or "").strip("/"):
        for segment in folder.split("/"):
            if not _SEGMENT.match(segment):
                raise invalid("Path", "folders of letters, digits, _ and -")
        parts.append(folder)
    unique = p.text("UniqueId") or str(uuid.uuid4())
    if not _SEGMENT.match(unique):
        raise invalid("UniqueId", "letters, digits, _ and -, at most 64")
    p.text("BusiType", max_length=64)
    key = "/".join([*parts, f"{unique}_{name}"])
    offer = call.services.uploads.offer(key)
    return {
        "UploadParams": {
            "AccessId": call.access_key_id,
            "Policy": offer.policy,
            "Signature": offer.signature,
            "Folder": key,
            "Host": call.base_url + UPLOAD_PATH,
            "Expire": offer.expires,
        }
    }


@uploads.post(UPLOAD_PATH, include_in_schema=False)
async def upload(request: Request) -> Response:
    """OSS PostObject: form fields ``key``, ``policy``, ``OSSAccessKeyId``, ``Signature``,
    ``success_action_status`` and the ``file``; errors in OSS's XML."""
    services: Services = request.app.state.services
    try:
        form = await request.form(max_files=1, max_fields=20)
    except Exception:
        return oss_error(400, "InvalidArgument", "the body must be multipart/form-data")
    try:
        fields = {k: form.get(k) for k in ("key", "policy", "OSSAccessKeyId", "Signature")}
        for name, value in fields.items():
            if not isinstance(value, str) or not value:
                return oss_error(400, "InvalidArgument", f"the form field {name} is missing")
        file = form.get("file")
        if not isinstance(file, UploadFile):
            return oss_error(400, "InvalidArgument", "the form field file is missing")
        key = str(fields["key"])
        try:
            await run_in_threadpool(_accept, services, fields, file)
        except Forbidden as exc:
            return oss_error(403, "AccessDenied", exc.message)
        except (LimitExceeded, ValidationFailed) as exc:
            return oss_error(400, "EntityTooLarge" if isinstance(exc, LimitExceeded) else
                             "InvalidArgument", exc.message)  # fmt: skip
        return _uploaded(key, str(form.get("success_action_status") or "204"))
    finally:
        await form.close()


def _accept(services: Services, fields: Mapping[str, Any], file: UploadFile) -> Path:
    hit = services.credentials.aliyun_secret(str(fields["OSSAccessKeyId"]))
    key = str(fields["key"])
    if hit is None or not key.startswith(hit[0].uuid + "/"):
        raise Forbidden("The OSS Access Key Id you provided does not exist in our records.")
    return services.uploads.accept(str(fields["policy"]), str(fields["Signature"]), key, file.file)


def _uploaded(key: str, status: str) -> Response:
    if status == "201":
        root = Element("PostResponse")
        for name, value in (("Bucket", "outdial"), ("Key", key), ("Location", key)):
            SubElement(root, name).text = value
        return Response(tostring(root, encoding="utf-8", xml_declaration=True), 201,
                        media_type="application/xml")  # fmt: skip
    return Response(status_code=200 if status == "200" else 204)


def oss_error(status: int, code: str, message: str) -> Response:
    root = Element("Error")
    for name, value in (("Code", code), ("Message", message), ("HostId", "outdial")):
        SubElement(root, name).text = value
    body = tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(body, status, media_type="application/xml")


def uploaded_file(call: Call, name: str) -> tuple[str, Path]:
    """(JobFilePath, the file uploaded there) of parameter ``name``."""
    key = call.params.required(name)
    if not key.startswith(call.tenant.uuid + "/"):
        raise invalid(name, "not an upload of this instance (GetJobDataUploadParams gives one)")
    path = call.services.uploads.path_of(key)
    if path is None:
        raise invalid(name, "no file has been uploaded there")
    return key, path


def file_name(key: str) -> str:
    """The name the caller gave the file: the key's last part after its unique id."""
    last = key.rsplit("/", 1)[-1]
    return last.split("_", 1)[1] if "_" in last else last


# --- the parsing task -------------------------------------------------------------------------


@action("CreateJobDataParsingTask")
def create_job_data_parsing_task(call: Call) -> dict[str, Any]:
    """Check the uploaded roster in the background (a contact_check job: every row as an
    import would judge it, nothing written)."""
    call.instance()
    key, path = uploaded_file(call, "JobFilePath")
    with path.open("rb") as stream:
        job = call.services.jobs.submit(
            call.tenant, JobKind.CONTACT_CHECK, file_name(key), {"job_file_path": key},
            upload=stream, limit=path.stat().st_size,
        )  # fmt: skip
    return {"JobDataParsingTaskId": job["uuid"]}


@action("DescribeJobDataParsingTaskProgress")
def describe_job_data_parsing_task_progress(call: Call) -> dict[str, Any]:
    call.instance()
    job = parsing_job(call, "JobDataParsingTaskId")
    return {"Progress": parsing_progress(call, job)}


def parsing_job(call: Call, name: str) -> dict[str, Any]:
    task_id = call.params.required(name)
    job = call.services.jobs.by_uuid(call.tenant, task_id)
    if job is None or job["kind"] not in PARSING:
        raise not_exist("JobDataParsingTask", task_id)
    return job


STATUS = {"queued": "Pending", "running": "InProgress", "cancelling": "InProgress",
          "failed": "Failed", "cancelled": "Failed"}  # fmt: skip


def parsing_progress(call: Call, job: Mapping[str, Any]) -> dict[str, Any]:
    """Alibaba's Progress, and outdial's own counts beside it [outdial]: rows read,
    accepted, rejected and the report (FeedbackUrl, a signed link)."""
    p = job["progress"] or {}
    accepted, rejected = int(p.get("accepted", 0)), int(p.get("rejected", 0))
    state = JobState(job["state"])
    done = state is JobState.SUCCEEDED
    status = ("PartialFinished" if rejected else "Finished") if done else STATUS[state.value]
    total = accepted + rejected if done else int(p.get("rows_total") or 0)
    error = job["error"] or {}
    reason = error.get("message", "")
    if details := error.get("details"):
        reason = f"{details[0]['field']}: {details[0]['message']}"
    return {
        "Status": status,
        "TotalJobCount": total,
        "HandledJobCount": accepted + rejected,
        "FailErrorCode": _fail_code(error.get("code", "")) if error else "",
        "FailReason": reason or ("cancelled" if state is JobState.CANCELLED else ""),
        "FeedbackUrl": _report_link(call, job) if done else "",
        "RowsRead": int(p.get("rows_read", 0)),
        "AcceptedJobCount": accepted,
        "RejectedJobCount": rejected,
        "Percent": float(p.get("percent", 100.0 if done else 0.0)),
    }


def _fail_code(code: str) -> str:
    return {"validation_error": "InvalidParameter", "limit_exceeded": "InvalidParameter",
            "conflict": "IncorrectStatus.JobGroup"}.get(code, "InternalError")  # fmt: skip


def _report_link(call: Call, job: Mapping[str, Any]) -> str:
    link = call.services.jobs.links.sign(job["uuid"], REPORT)
    return f"{call.base_url}{API_ROOT}{link.path}?{link.query}"


# --- the file into a group --------------------------------------------------------------------


def import_into(call: Call, campaign: Mapping[str, Any], key: str, path: Path) -> dict[str, Any]:
    """Queue the import of the uploaded file into the group; the group's JobFilePath and
    JobDataParsingTaskId are its latest import's."""
    note = {"job_file_path": key}
    try:
        with path.open("rb") as stream:
            return call.services.imports.submit(
                call.tenant, campaign["id"], file_name(key), stream, ContactImportIn(), note
            )
    except OutdialError as exc:
        raise from_outdial(exc) from exc


def parsed_file(call: Call) -> tuple[str, Path]:
    """AssignJobs with ``RosterType=excel``: (JobFilePath, the file) of the finished parsing
    task ``JobDataParsingTaskId`` names."""
    if not call.params.text("JobDataParsingTaskId"):
        raise missing("JobDataParsingTaskId")
    parsed = parsing_job(call, "JobDataParsingTaskId")
    if parsed["state"] != JobState.SUCCEEDED.value:
        state = STATUS.get(parsed["state"], parsed["state"])
        raise incorrect_status("JobDataParsingTask", f"the parsing task is {state}, not Finished")
    key = parsed["params"].get("job_file_path", "")
    path = call.services.uploads.path_of(key)
    if path is None:
        raise invalid("JobDataParsingTaskId", "the file it parsed is no longer there")
    return key, path


BATCH_RULES = jobgroups.field_rules("BatchJobName", "BatchJobDescription")


@action("CreateBatchJobs")
def create_batch_jobs(call: Call) -> dict[str, Any]:
    """A job group and its jobs from an uploaded roster (``JobFilePath``), imported in the
    background. ``Submitted=false`` submits it (starts it when it can dial), ``true`` keeps it
    a draft, as the SDK documents."""
    call.instance()
    p = call.params
    p.required("StrategyJson")
    submitted = p.boolean("Submitted")
    if submitted is None:
        raise missing("Submitted")
    key, path = uploaded_file(call, "JobFilePath") if p.text("JobFilePath") else ("", None)
    fields, extra = jobgroups.group_fields(call, None, "BatchJobName", "BatchJobDescription")
    data = jobgroups.checked(fields, BATCH_RULES)
    try:
        row = call.services.campaigns.create(
            call.tenant, data, {"vendor": jobgroups.VENDOR, "vendor_data": extra}
        )
    except OutdialError as exc:
        raise from_outdial(exc, BATCH_RULES) from exc
    if path is not None:
        import_into(call, row, key, path)
    if not submitted:
        jobgroups.start_if_ready(call, row["id"])
    group = jobgroups.group_out(call, call.services.campaigns.get(call.tenant, row["id"]), False)
    return {
        "BatchJob": {
            "BatchJobId": group["JobGroupId"],
            "JobGroupName": group["JobGroupName"],
            "JobGroupDescription": group["JobGroupDescription"],
            "CallingNumbers": group["CallingNumbers"],
            "CreationTime": ms(row["created_at"]),
            "JobFilePath": key,
            "ScenarioId": group["ScenarioId"],
            "Strategy": group["Strategy"],
        }
    }


MODIFY_BATCH_RULES = jobgroups.field_rules("BatchJobName", "Description")


@action("ModifyBatchJobs")
def modify_batch_jobs(call: Call) -> dict[str, Any]:
    """A group as ModifyJobGroup changes it (here ``BatchJobName`` / ``Description``), and with
    ``JobFilePath`` a further roster imported into it; ``Submitted=false`` submits it."""
    call.instance()
    current = jobgroups.campaign_of(call)
    p = call.params
    p.required("BatchJobName")
    submitted = p.boolean("Submitted")
    key, path = uploaded_file(call, "JobFilePath") if p.text("JobFilePath") else ("", None)
    fields, extra = jobgroups.group_fields(call, current, "BatchJobName", "Description")
    try:
        row = call.services.campaigns.update(
            call.tenant, current["id"], fields, {"vendor_data": extra}
        )
    except OutdialError as exc:
        raise from_outdial(exc, MODIFY_BATCH_RULES) from exc
    if path is not None:
        import_into(call, row, key, path)
    if submitted is False:
        jobgroups.start_if_ready(call, row["id"])
    group = jobgroups.group_out(call, call.services.campaigns.get(call.tenant, row["id"]), False)
    keys = ("JobGroupId", "JobGroupName", "JobGroupDescription", "CallingNumbers",
            "CreationTime", "JobFilePath", "ScenarioId", "Strategy")  # fmt: skip
    return {"JobGroup": {k: group[k] for k in keys}}
