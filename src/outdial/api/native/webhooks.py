"""Webhook subscriptions (``/webhooks``), their deliveries, and the replay of dead letters."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from outdial.api.native.auth import current_tenant, services_of
from outdial.api.native.routing import (
    add_resource_routes,
    filter_parameters,
    page_model,
    query_page,
)
from outdial.services import models as m
from outdial.services.common import Tenant
from outdial.services.webhooks import DELIVERY_FILTERS, WEBHOOK_FILTERS

router = APIRouter()
TAG = "webhooks"
PATH = "/webhooks"
ITEM = f"{PATH}/{{item_id}}"
DELIVERY = f"{ITEM}/deliveries/{{delivery_id}}"

add_resource_routes(
    router,
    PATH,
    lambda s: s.webhooks,
    m.WebhookIn,
    m.WebhookOut,
    WEBHOOK_FILTERS,
    TAG,
)


@router.post(f"{ITEM}/rotate-secret", response_model=m.WebhookOut, tags=[TAG])
def rotate_secret(request: Request, item_id: int, tenant: Tenant = Depends(current_tenant)) -> Any:
    """A new signing secret (in the reply), used from the next try on."""
    return services_of(request).webhooks.rotate_secret(tenant, item_id)


@router.get(
    f"{ITEM}/deliveries",
    response_model=page_model(m.DeliveryOut),
    openapi_extra=filter_parameters(DELIVERY_FILTERS),
    tags=[TAG],
)
def list_deliveries(
    request: Request, item_id: int, tenant: Tenant = Depends(current_tenant)
) -> Any:
    """The subscription's deliveries, the newest first; ``state=dead`` lists dead letters."""
    page, filters = query_page(request, DELIVERY_FILTERS)
    return services_of(request).webhooks.deliveries(tenant, item_id, page, filters).as_dict()


@router.get(DELIVERY, response_model=m.DeliveryOut, tags=[TAG])
def get_delivery(
    request: Request, item_id: int, delivery_id: int, tenant: Tenant = Depends(current_tenant)
) -> Any:
    return services_of(request).webhooks.delivery(tenant, item_id, delivery_id)


@router.post(f"{DELIVERY}/replay", response_model=m.DeliveryOut, tags=[TAG])
def replay_delivery(
    request: Request, item_id: int, delivery_id: int, tenant: Tenant = Depends(current_tenant)
) -> Any:
    """A dead letter tried again from now, with its tries reset (409 if it is not dead)."""
    return services_of(request).webhooks.replay(tenant, item_id, delivery_id)


@router.post(f"{ITEM}/replay", tags=[TAG])
def replay_dead(request: Request, item_id: int, tenant: Tenant = Depends(current_tenant)) -> Any:
    """Every dead letter of the subscription tried again from now: ``{"replayed": n}``."""
    return services_of(request).webhooks.replay_dead(tenant, item_id)
