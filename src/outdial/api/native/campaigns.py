"""Campaigns, their lifecycle and statistics, their contacts and their attempts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from outdial.api.native.auth import current_tenant, services_of
from outdial.api.native.routing import (
    PatchBody,
    add_action_routes,
    add_resource_routes,
    filter_parameters,
    page_model,
    query_page,
)
from outdial.domain.campaign_state import LifecycleAction
from outdial.services.attempts import ATTEMPT_FILTERS
from outdial.services.common import Tenant
from outdial.services.contacts import CONTACT_FILTERS
from outdial.services.models import CampaignIn, CampaignOut, ContactAppendIn, ContactOut

router = APIRouter()
TAG = "campaigns"

add_resource_routes(
    router,
    "/campaigns",
    lambda s: s.campaigns,
    CampaignIn,
    CampaignOut,
    ("q", "state", "kind", "pacing_mode", "vendor", "external_id", "line_id", "skill_group_id"),
    TAG,
)


add_action_routes(router, "/campaigns", LifecycleAction, lambda s: s.campaigns, CampaignOut, TAG)


@router.get("/campaigns/{item_id}/stats", tags=[TAG])
def campaign_stats(request: Request, item_id: int, tenant: Tenant = Depends(current_tenant)) -> Any:
    """Contacts by state, connect rate, progress and attempts by outcome, from the ledger."""
    return services_of(request).campaigns.stats(tenant, item_id)


@router.post("/campaigns/{item_id}/contacts", tags=["contacts"])
def append_contacts(
    request: Request, item_id: int, data: ContactAppendIn, tenant: Tenant = Depends(current_tenant)
) -> Any:
    """Append up to 1,000 contacts; the answer says per row what was accepted and why not."""
    return services_of(request).contacts.append(tenant, item_id, data)


@router.get(
    "/campaigns/{item_id}/contacts",
    response_model=page_model(ContactOut),
    tags=["contacts"],
    openapi_extra=filter_parameters(CONTACT_FILTERS),
)
def list_contacts(request: Request, item_id: int, tenant: Tenant = Depends(current_tenant)) -> Any:
    page, filters = query_page(request, CONTACT_FILTERS)
    return services_of(request).contacts.list(tenant, item_id, page, filters).as_dict()


@router.get(
    "/campaigns/{item_id}/contacts/{contact_id}", response_model=ContactOut, tags=["contacts"]
)
def get_contact(
    request: Request, item_id: int, contact_id: int, tenant: Tenant = Depends(current_tenant)
) -> Any:
    return services_of(request).contacts.get(tenant, item_id, contact_id)


@router.patch(
    "/campaigns/{item_id}/contacts/{contact_id}", response_model=ContactOut, tags=["contacts"]
)
def update_contact(
    request: Request,
    item_id: int,
    contact_id: int,
    data: dict[str, Any] = PatchBody,
    tenant: Tenant = Depends(current_tenant),
) -> Any:
    return services_of(request).contacts.update(tenant, item_id, contact_id, data)


@router.delete("/campaigns/{item_id}/contacts/{contact_id}", status_code=204, tags=["contacts"])
def delete_contact(
    request: Request, item_id: int, contact_id: int, tenant: Tenant = Depends(current_tenant)
) -> Response:
    services_of(request).contacts.delete(tenant, item_id, contact_id)
    return Response(status_code=204)


@router.get(
    "/campaigns/{item_id}/attempts",
    tags=["attempts"],
    openapi_extra=filter_parameters(ATTEMPT_FILTERS),
)
def list_attempts(request: Request, item_id: int, tenant: Tenant = Depends(current_tenant)) -> Any:
    page, filters = query_page(request, ATTEMPT_FILTERS)
    return services_of(request).attempts.list(tenant, item_id, page, filters).as_dict()


@router.get("/campaigns/{item_id}/attempts/{attempt_id}", tags=["attempts"])
def get_attempt(
    request: Request, item_id: int, attempt_id: int, tenant: Tenant = Depends(current_tenant)
) -> Any:
    return services_of(request).attempts.get(tenant, item_id, attempt_id)
