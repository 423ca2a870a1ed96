"""The 得助智能 call-center OpenAPI facade (seeds 001 and 003): its own app, mounted at
``/speech/openapi/v1``, with appId / timestamp / sign (SHA256withRSA) headers, 得助's envelope
and result codes."""

from __future__ import annotations

from fastapi import FastAPI

from outdial.api.facades.dezhu.auth import SignPolicy
from outdial.api.facades.dezhu.errors import install_error_handlers
from outdial.api.facades.dezhu.routes import router
from outdial.services.container import Services

MOUNT = "/speech/openapi/v1"
__all__ = ["MOUNT", "SignPolicy", "create_dezhu_app"]


def create_dezhu_app(services: Services, sign: SignPolicy | None = None) -> FastAPI:
    app = FastAPI(
        title="outdial — 得助 call-center OpenAPI facade",
        summary="得助智能's /speech/openapi/v1/task/outbound API, served by outdial",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = services
    app.state.sign_policy = sign or SignPolicy()
    install_error_handlers(app)
    app.include_router(router)
    return app
