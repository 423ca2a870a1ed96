"""The forecast of a campaign's remaining contacts (``GET /campaigns/{id}/forecast``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from outdial.api.native.auth import current_tenant, services_of
from outdial.domain.errors import FieldError
from outdial.services.common import Tenant
from outdial.services.forecast import PARAMETERS
from outdial.services.validation import failed

router = APIRouter()

_DESCRIPTIONS = {
    "agents": "team size to forecast with (1–500; default: the skill group's logged-in agents)",
    "answer_rate": "live answers per dial, above 0 and at most 1 (default: learnt)",
    "talk_seconds": "mean talk seconds, 1–7200 (default: learnt)",
    "acw_seconds": "after-call work seconds, 0–600 (default: the campaign's)",
    "finish_by": "ISO 8601 date-time with offset, or hours from now: also find the agents needed",
    "seeds": "simulation seeds, 1–10 (default 3)",
}
_OPENAPI = {
    "parameters": [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": _DESCRIPTIONS[name],
        }
        for name in PARAMETERS
    ]
}


@router.get("/campaigns/{item_id}/forecast", tags=["campaigns"], openapi_extra=_OPENAPI)
def campaign_forecast(
    request: Request, item_id: int, tenant: Tenant = Depends(current_tenant)
) -> Any:
    """Forecast the campaign's remaining contacts with its settings, its team and the rates its
    ledger taught (or the ones given): dialing hours, the finish instant on its calendar,
    dials, connects, abandonment and occupancy (mean and range over seeds), and with
    ``finish_by`` the smallest team that finishes by then. Changes nothing."""
    params = request.query_params
    unknown = sorted(k for k in params if k not in PARAMETERS)
    if unknown:
        raise failed(
            [
                FieldError(k, f"unknown query parameter; use one of {list(PARAMETERS)}", "unknown")
                for k in unknown
            ]
        )
    repeated = sorted(k for k in PARAMETERS if len(params.getlist(k)) > 1)
    if repeated:
        raise failed([FieldError(k, "give it once", "repeated") for k in repeated])
    values = {k: params.get(k) for k in PARAMETERS}
    return services_of(request).forecast.forecast(tenant, item_id, values)
