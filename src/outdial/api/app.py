"""The HTTP application: the native API under /api/v1 (vendor facades mount beside it)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import outdial
from outdial.api.errors import error_body, install_error_handlers
from outdial.api.facades import aliyun, dezhu, yunfu
from outdial.api.facades.dezhu import errors as dezhu_errors
from outdial.api.native import (
    admin,
    campaigns,
    catalog,
    dnc,
    forecast,
    jobs,
    live,
    preview,
    webhooks,
)
from outdial.api.native.routing import API_ROOT as API
from outdial.domain import limits
from outdial.services.container import Services

UPLOAD_SUFFIX = "/imports"  # contact and DNC files: bodies as large as a contact file may be
UPLOAD_OVERHEAD = 1 << 20  # the multipart framing and the form fields around the file


def create_app(
    services: Services, admin_key: str, dezhu_sign: dezhu.SignPolicy | None = None
) -> FastAPI:
    """The app; ``dezhu_sign`` says how 得助 signatures are checked (window, compatibility)."""
    app = FastAPI(
        title="outdial",
        version=outdial.__version__,
        summary="Outbound call campaign platform — native API",
        openapi_url=f"{API}/openapi.json",
        docs_url=f"{API}/docs",
        redoc_url=None,
    )
    app.state.services = services
    app.state.admin_key = admin_key
    install_error_handlers(app)
    app.add_middleware(_BodyLimit)
    api = APIRouter(prefix=API)
    api.add_api_route("/health", _health, methods=["GET"], tags=["system"])
    for module in (admin, catalog, dnc, campaigns, live, forecast, preview, jobs, webhooks):
        api.include_router(module.router)
    app.include_router(api)
    app.mount(yunfu.MOUNT, yunfu.create_yunfu_app(services))
    app.mount(dezhu.MOUNT, dezhu.create_dezhu_app(services, dezhu_sign))
    app.include_router(aliyun.router)
    return app


def _health() -> dict[str, str]:
    return {"status": "ok", "version": outdial.__version__}


class _BodyLimit:
    """Refuse request bodies over the limit: a declared Content-Length at once, a streamed
    (chunked) body as soon as the bytes received pass the limit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = _body_limit(scope["path"])
        message = f"request body over {limit} bytes"
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _too_large(scope["path"], message)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            received = await receive()
            seen += len(received.get("body", b""))
            if seen > limit:
                raise HTTPException(413, message)  # FastAPI re-raises it; errors.py maps it
            return received

        await self.app(scope, counted, send)


def _too_large(path: str, message: str) -> JSONResponse:
    """413 in the native form; the 得助 facade answers in its own (HTTP 200, 29002)."""
    if path.startswith(dezhu.MOUNT):
        return dezhu_errors.error_response(dezhu_errors.BAD_PARAMETER, f"请求体过大 ({message})")
    return JSONResponse(error_body("limit_exceeded", message, []), status_code=413)


def _body_limit(path: str) -> int:
    if path == aliyun.UPLOAD_PATH or (
        path.startswith(API) and path.rstrip("/").endswith(UPLOAD_SUFFIX)
    ):
        return limits.IMPORT_BYTES_MAX + UPLOAD_OVERHEAD
    return limits.BODY_BYTES_MAX
