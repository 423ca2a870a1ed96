"""Preview (manual) tasks: an agent takes their next contact, dials or skips it; the campaign's
statistics per agent."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request

from outdial.api.native.auth import current_tenant, services_of
from outdial.services.common import Tenant
from outdial.services.models import PreviewDialIn, PreviewNextIn, PreviewSkipIn

router = APIRouter()
TAG = "preview"


@router.post("/agents/{agent_id}/preview/next", tags=[TAG])
def preview_next(
    request: Request,
    agent_id: int,
    data: PreviewNextIn | None = Body(None),
    tenant: Tenant = Depends(current_tenant),
) -> Any:
    """The agent's next contact, held for them for ``preview_seconds`` (default 120): their own
    contacts first, then the campaign's pool, due now and dialable now by the engine's rules.
    The agent must be ready; they become ``reserved``. Nothing due: 404 ``nothing_due`` with
    ``next_due_at``."""
    return services_of(request).preview.next(tenant, agent_id, data or PreviewNextIn())


@router.post("/agents/{agent_id}/preview/dial", status_code=202, tags=[TAG])
def preview_dial(
    request: Request,
    agent_id: int,
    data: PreviewDialIn,
    tenant: Tenant = Depends(current_tenant),
) -> Any:
    """Dial the contact the agent holds: the engine takes the request within half a second,
    checks the rules again at that instant, calls, and bridges the answer to the agent.
    Follow it with ``GET /agents/{agent_id}/preview``."""
    return services_of(request).preview.dial(tenant, agent_id, data)


@router.post("/agents/{agent_id}/preview/skip", tags=[TAG])
def preview_skip(
    request: Request,
    agent_id: int,
    data: PreviewSkipIn,
    tenant: Tenant = Depends(current_tenant),
) -> Any:
    """Give the held contact back undialed (it may be offered again after
    ``retry_after_seconds``, default 600); the agent is ready again."""
    return services_of(request).preview.skip(tenant, agent_id, data)


@router.get("/agents/{agent_id}/preview", tags=[TAG])
def preview_current(
    request: Request, agent_id: int, tenant: Tenant = Depends(current_tenant)
) -> Any:
    """The agent's latest preview: held, being dialed (with its call), or how it ended."""
    return services_of(request).preview.current(tenant, agent_id)


@router.get("/campaigns/{item_id}/agents", tags=["campaigns"])
def campaign_agents(
    request: Request, item_id: int, tenant: Tenant = Depends(current_tenant)
) -> Any:
    """Per agent: contacts assigned and where they are, attempts from the ledger (answered,
    talk seconds, average talk and handle time) and previews by how they ended; the pool."""
    return services_of(request).preview.agent_stats(tenant, item_id)
