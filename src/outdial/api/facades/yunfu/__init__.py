"""The 云蝠智能 legacy ``/v1`` facade (seed 002): its own app, mounted at ``/v1``, with bearer
tokens, the seed's shapes and 云蝠's error form."""

from __future__ import annotations

from fastapi import FastAPI

from outdial.api.facades.yunfu.errors import install_error_handlers
from outdial.api.facades.yunfu.routes import router
from outdial.services.container import Services

MOUNT = "/v1"


def create_yunfu_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="outdial — 云蝠 /v1 facade",
        summary="云蝠智能's legacy /v1/task API, served by outdial",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = services
    install_error_handlers(app)
    app.include_router(router)
    return app
