"""The HTTP application: the native API under /api/v1 (vendor facades mount beside it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

import outdial
from outdial.api.errors import error_body, install_error_handlers
from outdial.api.native import admin, campaigns, catalog
from outdial.domain import limits
from outdial.services.container import Services

API = "/api/v1"


def create_app(services: Services, admin_key: str) -> FastAPI:
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
    app.middleware("http")(_limit_body)
    api = APIRouter(prefix=API)
    api.add_api_route("/health", _health, methods=["GET"], tags=["system"])
    for module in (admin, catalog, campaigns):
        api.include_router(module.router)
    app.include_router(api)
    return app


def _health() -> dict[str, str]:
    return {"status": "ok", "version": outdial.__version__}


async def _limit_body(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limits.BODY_BYTES_MAX:
        body = error_body("limit_exceeded", f"request body over {limits.BODY_BYTES_MAX} bytes", [])
        return JSONResponse(body, status_code=413)
    return await call_next(request)
