"""Shared pieces of the native routes: paging and filters from the query, typed bodies,
and the five standard routes of a tenant resource."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel, create_model

from outdial.api.native.auth import current_tenant, services_of
from outdial.domain.errors import FieldError
from outdial.services.common import Page, PageRequest, Tenant
from outdial.services.container import Services
from outdial.services.resources import ResourceService
from outdial.services.validation import failed

API_ROOT = "/api/v1"
PAGING = ("page", "page_size")
PatchBody = Body(..., description="Any subset of the create fields", examples=[{}])


def query_page(request: Request, filters: Iterable[str]) -> tuple[PageRequest, dict[str, str]]:
    """Read page, page_size and the allowed filters; reject any other query parameter."""
    allowed = set(filters)
    params = request.query_params
    unknown = sorted(k for k in params if k not in allowed and k not in PAGING)
    if unknown:
        raise failed(
            [
                FieldError(
                    k,
                    f"unknown query parameter; use one of {sorted(allowed | set(PAGING))}",
                    "unknown_parameter",
                )
                for k in unknown
            ]
        )
    page = PageRequest(_int(params, "page", 1), _int(params, "page_size", 50))
    return page, {k: v for k, v in params.items() if k in allowed}


def _int(params: Any, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise failed(
            [FieldError(name, f"expected an integer, got {raw!r}", "int_parsing")]
        ) from exc


def page_model(item: type[BaseModel]) -> type[BaseModel]:
    return create_model(
        f"{item.__name__}Page",
        items=(list[item], ...),  # type: ignore[valid-type]
        total=(int, ...),
        page=(int, ...),
        page_size=(int, ...),
    )


def filter_parameters(filters: Iterable[str]) -> dict[str, Any]:
    params = [
        {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
        for n in (*PAGING, *filters)
    ]
    return {"parameters": params}


def with_body(func: Callable[..., Any], model: type[BaseModel]) -> Callable[..., Any]:
    """Type ``func``'s ``data`` parameter as ``model``, for FastAPI to validate and document."""
    sig = inspect.signature(func)
    params = [
        p.replace(annotation=model) if p.name == "data" else p for p in sig.parameters.values()
    ]
    func.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    return func


def add_resource_routes(
    router: APIRouter,
    path: str,
    service: Callable[[Services], ResourceService],
    model_in: type[BaseModel],
    model_out: type[BaseModel],
    filters: Iterable[str],
    tag: str,
) -> None:
    """POST and GET on ``path``; GET, PATCH and DELETE on ``path/{id}``."""
    filters = tuple(filters)

    def create(request: Request, data: Any, tenant: Tenant = Depends(current_tenant)) -> Any:
        return service(services_of(request)).create(tenant, data)

    def list_(request: Request, tenant: Tenant = Depends(current_tenant)) -> Any:
        page, found = query_page(request, filters)
        result: Page = service(services_of(request)).list(tenant, page, found)
        return result.as_dict()

    def get(request: Request, item_id: int, tenant: Tenant = Depends(current_tenant)) -> Any:
        return service(services_of(request)).get(tenant, item_id)

    def patch(
        request: Request,
        item_id: int,
        data: dict[str, Any] = PatchBody,
        tenant: Tenant = Depends(current_tenant),
    ) -> Any:
        return service(services_of(request)).update(tenant, item_id, data)

    def delete(
        request: Request, item_id: int, tenant: Tenant = Depends(current_tenant)
    ) -> Response:
        service(services_of(request)).delete(tenant, item_id)
        return Response(status_code=204)

    item = f"{path}/{{item_id}}"
    router.add_api_route(
        path,
        with_body(create, model_in),
        methods=["POST"],
        response_model=model_out,
        status_code=201,
        tags=[tag],
    )
    router.add_api_route(
        path,
        list_,
        methods=["GET"],
        response_model=page_model(model_out),
        openapi_extra=filter_parameters(filters),
        tags=[tag],
    )
    router.add_api_route(item, get, methods=["GET"], response_model=model_out, tags=[tag])
    router.add_api_route(item, patch, methods=["PATCH"], response_model=model_out, tags=[tag])
    router.add_api_route(item, delete, methods=["DELETE"], status_code=204, tags=[tag])


def add_action_routes(
    router: APIRouter,
    path: str,
    actions: Iterable[StrEnum],
    service: Callable[[Services], Any],
    model_out: type[BaseModel],
    tag: str,
) -> None:
    """``POST path/{id}/<action>`` for each action, calling ``service(...).act(tenant, id,
    action)``; an action not allowed now is 409 with the resource's state."""
    for action in actions:
        router.add_api_route(
            f"{path}/{{item_id}}/{action.value}",
            _action_endpoint(service, action, tag),
            methods=["POST"],
            response_model=model_out,
            tags=[tag],
        )


def _action_endpoint(service: Callable[[Services], Any], action: StrEnum, tag: str) -> Any:
    def act(request: Request, item_id: int, tenant: Tenant = Depends(current_tenant)) -> Any:
        return service(services_of(request)).act(tenant, item_id, action)

    act.__name__ = f"{tag.replace(' ', '_')}_{action.value.replace('-', '_')}"
    act.__doc__ = f"{action.value}; 409 with the current state if not allowed now."
    return act
