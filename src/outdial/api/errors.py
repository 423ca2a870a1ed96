"""outdial's one JSON error shape for the native API: ``{code, message, details}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException

from outdial.domain.errors import OutdialError
from outdial.services.common import integrity_error
from outdial.services.validation import field_errors

log = logging.getLogger("outdial.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "limit_exceeded",
}


def error_body(code: str, message: str, details: list[Any], **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details, **extra}


def outdial_error_response(exc: OutdialError) -> JSONResponse:
    body = error_body(exc.code, exc.message, [d.as_dict() for d in exc.details], **exc.extra)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(body, status_code=exc.status, headers=headers)


async def _on_outdial_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OutdialError)
    return outdial_error_response(exc)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [d.as_dict() for d in field_errors(exc.errors())]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    body = error_body("validation_error", f"invalid input: {summary}", details)
    return JSONResponse(body, status_code=422)


async def _on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    body = error_body(code, str(exc.detail), [])
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _on_integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    """A write a concurrent one beat to a unique value or a reference, where no service
    translated it: the caller's race, not a bug (409 or 422, never 500)."""
    assert isinstance(exc, IntegrityError)
    log.info("integrity error from a concurrent write: %s", exc.orig)
    return outdial_error_response(integrity_error(exc, "resource"))


async def _on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    body = error_body("internal_error", "an internal error occurred; it has been logged", [])
    return JSONResponse(body, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OutdialError, _on_outdial_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(Exception, _on_unexpected)
