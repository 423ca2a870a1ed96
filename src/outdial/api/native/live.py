"""Live views of a campaign: why a contact is not dialed now, and the event stream (SSE)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from outdial.api.native.auth import current_tenant, services_of
from outdial.api.native.routing import query_page
from outdial.domain.errors import ValidationFailed
from outdial.services.common import Tenant
from outdial.services.events import EventService

router = APIRouter()
POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0


@router.get("/campaigns/{item_id}/contacts/{contact_id}/eligibility", tags=["contacts"])
def contact_eligibility(
    request: Request, item_id: int, contact_id: int, tenant: Tenant = Depends(current_tenant)
) -> Any:
    """Why not now? ``{eligible, reasons, next_eligible_at}`` for the contact's current phone,
    with the engine's own rules: campaign state, period, windows, blackouts (in the contact's
    zone where known), retry back-off, daily cap, minimum interval, DNC, line and campaign
    capacity."""
    return services_of(request).eligibility.explain(tenant, item_id, contact_id)


@router.get("/campaigns/{item_id}/pacing", tags=["campaigns"])
def campaign_pacing(
    request: Request, item_id: int, tenant: Tenant = Depends(current_tenant)
) -> Any:
    """The campaign's team (each agent's state, and counts per state) and the pacer's latest
    decisions, newest first (``?limit=``, 1–500, default 20): law, calls launched, reason, and
    the figures it used (agents, ready, pending, live rate, allowed risk, slack, abandonment …)."""
    _, params = query_page(request, ("limit",))
    raw = params.get("limit", "20")
    try:
        limit = int(raw)
    except ValueError:
        raise ValidationFailed.field("limit", f"expected an integer, got {raw!r}") from None
    return services_of(request).pacing.view(tenant, item_id, limit)


@router.get("/campaigns/{item_id}/events", tags=["campaigns"], response_class=StreamingResponse)
async def campaign_events(
    request: Request, item_id: int, tenant: Tenant = Depends(current_tenant)
) -> StreamingResponse:
    """Server-sent events: ``attempt.ended``, ``campaign.state_changed``, ``campaign.progress``,
    ``pacing.decision``.
    Resume with the ``Last-Event-ID`` header (or ``?after=ID``); ``?after=0`` replays all."""
    _, params = query_page(request, ("after",))
    service = services_of(request).events
    await run_in_threadpool(service.check_campaign, tenant, item_id)
    after = _start_after(request, params)
    if after is None:
        after = await run_in_threadpool(service.latest_id, tenant, item_id)
    stream = _stream(request, service, tenant, item_id, after)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


def _start_after(request: Request, params: dict[str, str]) -> int | None:
    raw = request.headers.get("last-event-id") or params.get("after")
    if raw is None:
        return None
    try:
        return max(0, int(raw))
    except ValueError:
        raise ValidationFailed.field("after", f"expected an event id, got {raw!r}") from None


async def _stream(
    request: Request, service: EventService, tenant: Tenant, campaign_id: int, after: int
) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    idle = 0.0
    while not await request.is_disconnected():
        batch = await run_in_threadpool(service.after, tenant, campaign_id, after)
        if batch:
            after = batch[-1]["id"]
            yield "".join(_frame(event) for event in batch)  # one write per batch
            idle = 0.0
            await asyncio.sleep(0)  # let a disconnect be noticed before the next batch
            continue
        await asyncio.sleep(POLL_SECONDS)
        idle += POLL_SECONDS
        if idle >= KEEPALIVE_SECONDS:
            idle = 0.0
            yield ": keep-alive\n\n"


def _frame(event: dict[str, Any]) -> str:
    payload = {**event["data"], "at": _iso(event["created_at"])}
    data = json.dumps(payload, ensure_ascii=False, default=str)
    return f"id: {event['id']}\nevent: {event['kind']}\ndata: {data}\n\n"


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
