"""Do-not-call lists: the tenant's under ``/dnc`` (its API key), the operator's — which holds
for every tenant — under ``/admin/dnc`` (the admin key). The same routes serve both: entries
one at a time, and whole files uploaded as ``dnc_import`` jobs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile

from outdial.api.native.auth import current_tenant, services_of
from outdial.api.native.jobs import job_view, mapping_field, operator, upload_name
from outdial.api.native.routing import PatchBody, filter_parameters, page_model, query_page
from outdial.services import models as m
from outdial.services.common import Tenant
from outdial.services.dnc import DNC_FILTERS
from outdial.services.validation import validate

router = APIRouter()
Owner = Callable[..., Tenant | None]


def add_dnc_routes(path: str, owner: Owner, tag: str) -> None:
    def add(request: Request, data: m.DncIn, scope: Tenant | None = Depends(owner)) -> Any:
        return services_of(request).dnc.add(scope, data)

    def list_(request: Request, scope: Tenant | None = Depends(owner)) -> Any:
        page, filters = query_page(request, DNC_FILTERS)
        return services_of(request).dnc.list(scope, page, filters).as_dict()

    def get(request: Request, entry_id: int, scope: Tenant | None = Depends(owner)) -> Any:
        return services_of(request).dnc.get(scope, entry_id)

    def update(
        request: Request,
        entry_id: int,
        data: dict[str, Any] = PatchBody,
        scope: Tenant | None = Depends(owner),
    ) -> Any:
        return services_of(request).dnc.update(scope, entry_id, data)

    def delete(request: Request, entry_id: int, scope: Tenant | None = Depends(owner)) -> Response:
        services_of(request).dnc.delete(scope, entry_id)
        return Response(status_code=204)

    def upload(
        request: Request,
        file: UploadFile = File(..., description="CSV or XLSX with a phone column"),
        mapping: str | None = Form(None, description="JSON: header or column number → role"),
        reason: str | None = Form(None, description="for rows without a 备注 / notes column"),
        source: str | None = Form(None),
        expires_at: str | None = Form(None, description="ISO 8601 with a zone"),
        scope: Tenant | None = Depends(owner),
    ) -> Any:
        """Put every number of a file on the list, in the background (a ``dnc_import`` job);
        rows with a number that is not one are reported in the job's report."""
        given = {"reason": reason, "source": source, "expires_at": expires_at}
        form = {**mapping_field(mapping), **{k: v for k, v in given.items() if v is not None}}
        options = validate(m.DncImportIn, form)
        services = services_of(request)
        job = services.dnc.submit_import(scope, upload_name(file), file.file, options)
        return job_view(request, scope, job["id"])

    item = f"{path}/{{entry_id}}"
    page = page_model(m.DncOut)
    extra = filter_parameters(DNC_FILTERS)
    router.add_api_route(
        path, add, methods=["POST"], response_model=m.DncOut, status_code=201, tags=[tag]
    )
    router.add_api_route(
        path, list_, methods=["GET"], response_model=page, openapi_extra=extra, tags=[tag]
    )
    router.add_api_route(
        f"{path}/imports",
        upload,
        methods=["POST"],
        response_model=m.JobOut,
        status_code=202,
        tags=[tag],
    )
    router.add_api_route(item, get, methods=["GET"], response_model=m.DncOut, tags=[tag])
    router.add_api_route(item, update, methods=["PATCH"], response_model=m.DncOut, tags=[tag])
    router.add_api_route(item, delete, methods=["DELETE"], status_code=204, tags=[tag])


add_dnc_routes("/dnc", current_tenant, "dnc")
add_dnc_routes("/admin/dnc", operator, "operator dnc")
