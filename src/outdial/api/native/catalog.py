"""Lines, number groups, skill groups, agents, scripts, blackout calendars, redial policies,
and the DNC list."""

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
from outdial.domain.agents import AgentAction
from outdial.services import models as m
from outdial.services.common import Tenant
from outdial.services.dnc import DNC_FILTERS

router = APIRouter()

add_resource_routes(
    router, "/lines", lambda s: s.lines, m.LineIn, m.LineOut, ("q", "enabled", "driver"), "lines"
)
add_resource_routes(
    router,
    "/number-groups",
    lambda s: s.number_groups,
    m.NumberGroupIn,
    m.NumberGroupOut,
    ("q", "line_id"),
    "number groups",
)
add_resource_routes(
    router,
    "/skill-groups",
    lambda s: s.skill_groups,
    m.SkillGroupIn,
    m.SkillGroupOut,
    ("q", "enabled"),
    "skill groups",
)
add_resource_routes(
    router,
    "/agents",
    lambda s: s.agents,
    m.AgentIn,
    m.AgentOut,
    ("q", "state", "skill_group_id"),
    "agents",
)
add_resource_routes(
    router, "/scripts", lambda s: s.scripts, m.ScriptIn, m.ScriptOut, ("q", "enabled"), "scripts"
)
add_resource_routes(
    router,
    "/blackout-calendars",
    lambda s: s.blackout_calendars,
    m.BlackoutCalendarIn,
    m.BlackoutCalendarOut,
    ("q",),
    "blackout calendars",
)
add_resource_routes(
    router,
    "/redial-policies",
    lambda s: s.redial_policies,
    m.RedialPolicyIn,
    m.RedialPolicyOut,
    ("q", "enabled", "is_default"),
    "redial policies",
)


@router.post("/dnc", response_model=m.DncOut, status_code=201, tags=["dnc"])
def add_dnc(request: Request, data: m.DncIn, tenant: Tenant = Depends(current_tenant)) -> Any:
    return services_of(request).dnc.add(tenant, data)


@router.get(
    "/dnc",
    response_model=page_model(m.DncOut),
    tags=["dnc"],
    openapi_extra=filter_parameters(DNC_FILTERS),
)
def list_dnc(request: Request, tenant: Tenant = Depends(current_tenant)) -> Any:
    page, filters = query_page(request, DNC_FILTERS)
    return services_of(request).dnc.list(tenant, page, filters).as_dict()


@router.get("/dnc/{entry_id}", response_model=m.DncOut, tags=["dnc"])
def get_dnc(request: Request, entry_id: int, tenant: Tenant = Depends(current_tenant)) -> Any:
    return services_of(request).dnc.get(tenant, entry_id)


@router.patch("/dnc/{entry_id}", response_model=m.DncOut, tags=["dnc"])
def update_dnc(
    request: Request,
    entry_id: int,
    data: dict[str, Any] = PatchBody,
    tenant: Tenant = Depends(current_tenant),
) -> Any:
    return services_of(request).dnc.update(tenant, entry_id, data)


@router.delete("/dnc/{entry_id}", status_code=204, tags=["dnc"])
def delete_dnc(
    request: Request, entry_id: int, tenant: Tenant = Depends(current_tenant)
) -> Response:
    services_of(request).dnc.delete(tenant, entry_id)
    return Response(status_code=204)


add_action_routes(router, "/agents", AgentAction, lambda s: s.agents, m.AgentOut, "agents")
