"""Tenants (admin key) and credentials (tenant key)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from outdial.api.native.auth import current_tenant, require_admin, services_of
from outdial.api.native.routing import PatchBody, filter_parameters, page_model, query_page
from outdial.services.common import Tenant
from outdial.services.models import (
    ApiKeyIn,
    CredentialIn,
    CredentialOut,
    CredentialRotateIn,
    TenantIn,
    TenantOut,
)

router = APIRouter()
admin = [Depends(require_admin)]


@router.post(
    "/tenants", response_model=TenantOut, status_code=201, dependencies=admin, tags=["tenants"]
)
def create_tenant(request: Request, data: TenantIn) -> Any:
    """Create a tenant; its first API key is returned once, in ``api_key``."""
    return services_of(request).tenants.create(data)


@router.get(
    "/tenants",
    response_model=page_model(TenantOut),
    dependencies=admin,
    tags=["tenants"],
    openapi_extra=filter_parameters(("q", "status")),
)
def list_tenants(request: Request) -> Any:
    page, filters = query_page(request, ("q", "status"))
    return (
        services_of(request).tenants.list(page, filters.get("q"), filters.get("status")).as_dict()
    )


@router.get("/tenants/{tenant_id}", response_model=TenantOut, dependencies=admin, tags=["tenants"])
def get_tenant(request: Request, tenant_id: int) -> Any:
    return services_of(request).tenants.get(tenant_id)


@router.patch(
    "/tenants/{tenant_id}", response_model=TenantOut, dependencies=admin, tags=["tenants"]
)
def update_tenant(request: Request, tenant_id: int, data: dict[str, Any] = PatchBody) -> Any:
    return services_of(request).tenants.update(tenant_id, data)


@router.delete("/tenants/{tenant_id}", status_code=204, dependencies=admin, tags=["tenants"])
def delete_tenant(request: Request, tenant_id: int) -> Response:
    services_of(request).tenants.delete(tenant_id)
    return Response(status_code=204)


@router.post(
    "/tenants/{tenant_id}/api-keys",
    response_model=CredentialOut,
    status_code=201,
    dependencies=admin,
    tags=["tenants"],
)
def issue_api_key(request: Request, tenant_id: int, data: ApiKeyIn | None = None) -> Any:
    """Issue a new API key for the tenant (say, one that revoked its last key). The key is in
    ``secret``, shown only in this response."""
    return services_of(request).tenants.issue_api_key(tenant_id, data or ApiKeyIn())


@router.get("/me", response_model=TenantOut, tags=["tenants"])
def whoami(request: Request, tenant: Tenant = Depends(current_tenant)) -> Any:
    """The tenant the API key belongs to."""
    return services_of(request).tenants.get(tenant.id)


@router.post("/credentials", response_model=CredentialOut, status_code=201, tags=["credentials"])
def create_credential(
    request: Request, data: CredentialIn, tenant: Tenant = Depends(current_tenant)
) -> Any:
    """Create an API key, an Alibaba AccessKey pair, a 得助 public key or a 云蝠 token.
    Secrets are in ``secret``, shown only in this response."""
    return services_of(request).credentials.create(tenant, data)


@router.get(
    "/credentials",
    response_model=page_model(CredentialOut),
    tags=["credentials"],
    openapi_extra=filter_parameters(("kind",)),
)
def list_credentials(request: Request, tenant: Tenant = Depends(current_tenant)) -> Any:
    page, filters = query_page(request, ("kind",))
    return services_of(request).credentials.list(tenant, page, filters.get("kind")).as_dict()


@router.get("/credentials/{cred_id}", response_model=CredentialOut, tags=["credentials"])
def get_credential(request: Request, cred_id: int, tenant: Tenant = Depends(current_tenant)) -> Any:
    return services_of(request).credentials.get(tenant, cred_id)


@router.post("/credentials/{cred_id}/rotate", response_model=CredentialOut, tags=["credentials"])
def rotate_credential(
    request: Request,
    cred_id: int,
    data: CredentialRotateIn | None = None,
    tenant: Tenant = Depends(current_tenant),
) -> Any:
    """New secret material; the old secret stops working at once."""
    return services_of(request).credentials.rotate(tenant, cred_id, data or CredentialRotateIn())


@router.post("/credentials/{cred_id}/revoke", response_model=CredentialOut, tags=["credentials"])
def revoke_credential(
    request: Request, cred_id: int, tenant: Tenant = Depends(current_tenant)
) -> Any:
    return services_of(request).credentials.revoke(tenant, cred_id)
