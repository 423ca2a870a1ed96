"""云蝠's error form: the HTTP status, and ``{code, status: "error", message, errors, data}``
where ``errors`` maps each 云蝠 field at fault to its messages (Laravel's validation shape)."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException

from outdial.api.facades.yunfu.models import FIELD_NAMES
from outdial.domain.errors import FieldError, OutdialError, Unauthenticated
from outdial.services.common import integrity_error
from outdial.services.validation import field_errors

log = logging.getLogger("outdial.api.yunfu")

_CONTACT = re.compile(r"^contacts\[(\d+)\](?:\.(\w+))?")
_CONTACT_FIELDS = {"phones": "phone", "name": "name", "pass_through": "extra"}
_MESSAGES = {
    "missing": "必填",
    "int_parsing": "必须是整数",
    "int_type": "必须是整数",
    "int_from_float": "必须是整数",
    "string_type": "必须是字符串",
    "bool_parsing": "必须是布尔值",
    "bool_type": "必须是布尔值",
    "literal_error": "取值不在允许范围内",
    "list_type": "必须是数组",
    "too_long": "超过上限",
    "too_short": "不能为空",
    "greater_than_equal": "取值过小",
    "less_than_equal": "取值过大",
    "url_parsing": "不是合法的 URL",
    "url_scheme": "不是合法的 URL",
}


class YunfuError(OutdialError):
    """An error the facade itself raises (a body that is not JSON, say)."""

    def __init__(self, status: int, message: str, details: list[FieldError] | None = None):
        super().__init__(message, details)
        self.status = status


def vendor_field(path: str) -> str:
    """outdial's field path → the 云蝠 field it came from."""
    match = _CONTACT.match(path)
    if match:
        inner = _CONTACT_FIELDS.get(match[2] or "", "")
        return f"data[{match[1]}]" + (f".{inner}" if inner else "")
    if path == "contacts":
        return "data"
    head, dot, rest = path.partition(".")
    return FIELD_NAMES.get(head, head) + dot + rest


def vendor_message(error: FieldError) -> str:
    chinese = _MESSAGES.get(error.type)
    return f"{chinese} ({error.message})" if chinese else error.message


def error_response(status: int, message: str, details: list[FieldError]) -> JSONResponse:
    errors: dict[str, list[str]] = {}
    for d in details:
        errors.setdefault(vendor_field(d.field), []).append(vendor_message(d))
    if errors:
        message = "; ".join(f"{f}: {' '.join(m)}" for f, m in list(errors.items())[:5])
    body: dict[str, Any] = {
        "code": status,
        "status": "error",
        "message": message,
        "errors": errors,
        "data": [],
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def _on_outdial_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OutdialError)
    if isinstance(exc, Unauthenticated):
        return error_response(401, "Unauthenticated.", [])
    return error_response(exc.status, exc.message, exc.details)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "参数错误", field_errors(exc.errors()))


async def _on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail), [])


async def _on_integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntegrityError)
    log.info("integrity error from a concurrent write: %s", exc.orig)
    error = integrity_error(exc, "task")
    return error_response(error.status, error.message, error.details)


async def _on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return error_response(500, "服务器内部错误, 已记录", [])


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OutdialError, _on_outdial_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(Exception, _on_unexpected)
