"""The Alibaba Cloud OutboundBot 2019-12-26 RPC endpoint: ``/``, GET and POST, the action in
``x-acs-action`` or ``Action``. Every request is signed with a tenant's AccessKey."""

from __future__ import annotations

import logging
import uuid

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from outdial.api.facades.aliyun import (  # noqa: F401 (their actions)
    exports,
    files,
    instances,
    jobgroups,
    jobs,
    jobviews,
    results,
)
from outdial.api.facades.aliyun.call import Call, Signed, authenticate, handler_for, signed_request
from outdial.api.facades.aliyun.errors import AliyunError, from_outdial, internal
from outdial.api.facades.aliyun.reply import failure, success
from outdial.domain.errors import OutdialError
from outdial.services.container import Services

log = logging.getLogger("outdial.api.aliyun")
router = APIRouter()
router.include_router(files.uploads)
FORM = "application/x-www-form-urlencoded"


@router.api_route("/", methods=["GET", "POST"], include_in_schema=False)
async def rpc(request: Request) -> Response:
    body = await request.body()
    form = request.headers.get("content-type", "").split(";")[0].strip().lower() == FORM
    headers = {name: request.headers.getlist(name) for name in request.headers}
    signed = signed_request(request.method, request.url.query, headers, body, form)
    request_id = str(uuid.uuid4()).upper()
    xml = (signed.params.text("Format") or "").upper() == "XML"
    services: Services = request.app.state.services
    base_url = str(request.base_url).rstrip("/")
    try:
        name, payload = await run_in_threadpool(_run, services, signed, base_url)
    except AliyunError as exc:
        return failure(exc, request_id, xml)
    return success(name, payload, request_id, xml)


def _run(services: Services, signed: Signed, base_url: str) -> tuple[str, dict[str, object]]:
    try:
        tenant, key_id, name = authenticate(services, signed)
        handler = handler_for(name)
        assert name is not None
        return name, handler(Call(services, tenant, key_id, signed.params, base_url))
    except AliyunError:
        raise
    except OutdialError as exc:
        raise from_outdial(exc) from exc
    except Exception as exc:
        log.exception("unexpected error in an Alibaba call", exc_info=exc)
        raise internal() from exc
