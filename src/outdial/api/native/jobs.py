"""Background jobs: contact and DNC file uploads, campaign exports, and following them.

Uploads are ``multipart/form-data`` with the file in ``file`` and the options as form fields
(``mapping`` as a JSON object). Each submission answers 202 with the job; ``GET /jobs/{id}``
shows its progress, then its result, its row-level report (imports) or its download (exports).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse

from outdial.api.native.auth import current_tenant, require_admin, services_of
from outdial.api.native.routing import API_ROOT, filter_parameters, page_model, query_page
from outdial.domain.errors import FieldError
from outdial.io.writers import MEDIA_TYPES
from outdial.services.common import Tenant
from outdial.services.imports import REPORT
from outdial.services.jobs import JOB_FILTERS
from outdial.services.models import ContactImportIn, ExportIn, JobOut
from outdial.services.validation import failed, validate

router = APIRouter()
REPORT_MEDIA = "text/csv; charset=utf-8"


def job_view(request: Request, owner: Tenant | None, job_id: int) -> dict[str, Any]:
    """The job as the API shows it, its links absolute."""
    return _absolute(request, services_of(request).jobs.get(owner, job_id))


def _absolute(request: Request, job: dict[str, Any]) -> dict[str, Any]:
    root = str(request.base_url).rstrip("/") + API_ROOT
    for key in ("report_url", "download_url"):
        if job.get(key):
            job[key] = root + job[key]
    return job


def mapping_field(raw: str | None) -> dict[str, Any]:
    """The ``mapping`` form field: a JSON object, or nothing."""
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise failed([FieldError("mapping", f"not JSON: {exc.msg}", "json_invalid")]) from exc
    if not isinstance(value, dict):
        raise failed([FieldError("mapping", "must be a JSON object", "dict_type")])
    return {"mapping": value}


def upload_name(upload: UploadFile) -> str:
    return (upload.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1]


@router.post(
    "/campaigns/{campaign_id}/imports",
    response_model=JobOut,
    status_code=202,
    tags=["imports"],
)
def import_contacts(
    request: Request,
    campaign_id: int,
    file: UploadFile = File(..., description="CSV (UTF-8, UTF-8 with BOM, GBK) or XLSX"),
    mapping: str | None = Form(None, description='JSON: {"联系号": "phone", "3": "skip"}'),
    tenant: Tenant = Depends(current_tenant),
) -> Any:
    """Import a contact file into the campaign, in the background (a ``contact_import`` job).
    Rows are checked as the append API checks them; the file imports its valid rows or, when it
    cannot be read or would pass the campaign's cap, nothing."""
    options = validate(ContactImportIn, mapping_field(mapping))
    svc = services_of(request).imports
    job = svc.submit(tenant, campaign_id, upload_name(file), file.file, options)
    return job_view(request, tenant, job["id"])


@router.post(
    "/campaigns/{campaign_id}/exports", response_model=JobOut, status_code=202, tags=["exports"]
)
def export_campaign(
    request: Request, campaign_id: int, data: ExportIn, tenant: Tenant = Depends(current_tenant)
) -> Any:
    """Export the campaign's contacts or attempts as CSV or XLSX, in the background (an
    ``export`` job); when it succeeds the job holds a signed ``download_url``."""
    job = services_of(request).exports.submit(tenant, campaign_id, data)
    return job_view(request, tenant, job["id"])


def add_job_routes(path: str, owner: Callable[..., Tenant | None], tag: str) -> None:
    def list_(request: Request, scope: Tenant | None = Depends(owner)) -> Any:
        page, filters = query_page(request, JOB_FILTERS)
        listed = services_of(request).jobs.list(scope, page, filters).as_dict()
        listed["items"] = [_absolute(request, job) for job in listed["items"]]
        return listed

    def get(request: Request, job_id: int, scope: Tenant | None = Depends(owner)) -> Any:
        return job_view(request, scope, job_id)

    def cancel(request: Request, job_id: int, scope: Tenant | None = Depends(owner)) -> Any:
        """Cancel a queued job, or stop a running one: an import then rolls back entirely."""
        return _absolute(request, services_of(request).jobs.cancel(scope, job_id))

    def report(request: Request, job_id: int, scope: Tenant | None = Depends(owner)) -> Any:
        """An import's row-level report: row, column, field, reason, type (CSV)."""
        path = services_of(request).jobs.file_of(scope, job_id, REPORT)
        return FileResponse(path, media_type=REPORT_MEDIA, filename=f"job-{job_id}-report.csv")

    def file(request: Request, job_id: int, scope: Tenant | None = Depends(owner)) -> Any:
        """An export's file, with the key (its ``download_url`` needs none)."""
        path = services_of(request).jobs.file_of(scope, job_id)
        return FileResponse(path, media_type=_media(path.name), filename=path.name)

    item = f"{path}/{{job_id}}"
    pages = page_model(JobOut)
    extra = filter_parameters(JOB_FILTERS)
    router.add_api_route(
        path, list_, methods=["GET"], response_model=pages, openapi_extra=extra, tags=[tag]
    )
    router.add_api_route(item, get, methods=["GET"], response_model=JobOut, tags=[tag])
    router.add_api_route(
        f"{item}/cancel", cancel, methods=["POST"], response_model=JobOut, tags=[tag]
    )
    for name, endpoint in (("report", report), ("file", file)):
        router.add_api_route(
            f"{item}/{name}", endpoint, methods=["GET"], response_class=FileResponse, tags=[tag]
        )


def operator(_: None = Depends(require_admin)) -> None:
    """The operator's own jobs and lists (admin key): no tenant."""
    return None


add_job_routes("/jobs", current_tenant, "jobs")
add_job_routes("/admin/jobs", operator, "operator jobs")


@router.get("/downloads/{job_uuid}/{file_name}", tags=["jobs"], response_class=FileResponse)
def download(request: Request, job_uuid: str, file_name: str, expires: int, signature: str) -> Any:
    """A job's file through its signed link (no API key; the link expires)."""
    path = services_of(request).jobs.download(job_uuid, file_name, expires, signature)
    return FileResponse(path, media_type=_media(file_name), filename=file_name)


def _media(name: str) -> str:
    return MEDIA_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")
