"""Bearer authentication for the native API: tenant API keys and the operator's admin key."""

from __future__ import annotations

import hmac

from fastapi import Request

from outdial.domain.errors import Forbidden, Unauthenticated
from outdial.services.common import Tenant
from outdial.services.container import Services


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send 'Authorization: Bearer <api key>'")
    return token.strip()


def _is_admin(request: Request, token: str) -> bool:
    admin_key: str = request.app.state.admin_key
    return hmac.compare_digest(token.encode(), admin_key.encode())


def current_tenant(request: Request) -> Tenant:
    token = _bearer(request)
    if _is_admin(request, token):
        raise Forbidden("the admin key manages tenants; use a tenant's API key here")
    return services_of(request).credentials.tenant_for_token("api_key", token)


def require_admin(request: Request) -> None:
    if not _is_admin(request, _bearer(request)):
        raise Unauthenticated("this endpoint needs the admin key")
