"""得助's envelope and result codes: HTTP 200 always, ``{"code": "<string>", "message", "data"}``.
Field-level problems are 29002 with every field at fault named in the message, in 得助's field
names (outdial's own paths translated back: ``contacts[3].phones[0].number`` is
``outBoundCustomers[3].phoneGroupVoList[0].relations[0].mobile``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException

from outdial.domain.errors import (
    Conflict,
    FieldError,
    LimitExceeded,
    NotFound,
    OutdialError,
    ValidationFailed,
)
from outdial.services.common import integrity_error

log = logging.getLogger("outdial.api.dezhu")

OK = "10000"
AUTH_FAILED = "10001"
NO_PUBLIC_KEY = "10002"
REQUEST_FAILED = "20001"
BAD_PARAMETER = "29002"
SYSTEM_ERROR = "29008"
MESSAGES = {
    OK: "请求成功",
    AUTH_FAILED: "鉴权失败",
    NO_PUBLIC_KEY: "找不到对应的公钥,请先上传公钥",
    REQUEST_FAILED: "请求失败",
    BAD_PARAMETER: "参数错误",
    SYSTEM_ERROR: "系统异常",
}
FIELDS_IN_MESSAGE = 10


class DezhuError(OutdialError):
    """A result code other than 10000, with what to add to its message."""

    def __init__(self, code: str, detail: str = "", details: list[FieldError] | None = None):
        super().__init__(detail or MESSAGES[code], details)
        self.result_code, self.detail = code, detail


def bad_parameter(field: str, message: str, type: str = "invalid") -> DezhuError:
    return DezhuError(BAD_PARAMETER, details=[FieldError(field, message, type)])


# --- outdial's field paths → 得助's ---------------------------------------------------------

_RELATION = r"outBoundCustomers[\1].phoneGroupVoList[0].relations"
Rule = tuple[str, str | Callable[[re.Match[str]], str]]
RULES: Sequence[Rule] = [
    (r"^name$", "taskName"),
    (r"^description$", "taskDesc"),
    (r"^kind$", "taskType"),
    (r"^pacing_mode$", "taskType"),
    (r"^period_start$", "taskExecStartDate"),
    (r"^period_end$", "taskExecEndDate"),
    (r"^windows\[(\d+)\]\.start$", r"taskExecTimes[\1].taskExecTimeStartStr"),
    (r"^windows\[(\d+)\]\.end$", r"taskExecTimes[\1].taskExecTimeEndStr"),
    (r"^windows(.*)$", r"taskExecTimes\1"),
    (r"^skill_group_id$", "skillSetId"),
    (r"^(number_group_id|line_id|caller_numbers.*)$", "outboundNumberGroupId"),
    (r"^routing_strategy$", "strategyDisplaySwitch"),
    (r"^ratio$", "multiplyPower"),
    (r"^abandon_target_percent$", "abandonmentRate"),
    (r"^ring_timeout_seconds$", "maxRingingDuration"),
    (r"^acw_seconds$", "acw"),
    (
        r"^phone_groups\[(\d+)\]\.redial_interval_seconds$",
        r"outboundPhoneGroups[\1].autoOutboundInterval",
    ),
    (r"^phone_groups\[(\d+)\]\.redial_times$", r"outboundPhoneGroups[\1].autoOutboundTimes"),
    (r"^phone_groups\[(\d+)\]\.redial_enabled$", r"outboundPhoneGroups[\1].autoOutboundSwitch"),
    (r"^phone_groups(.*)$", r"outboundPhoneGroups\1"),
    (r"^agent_assignments\[(\d+)\]\.agent_id$", r"taskAgents[\1].agentId"),
    (r"^agent_assignments\[(\d+)\]\.assign_count$", r"taskAgents[\1].assignNum"),
    (r"^agent_assignments(.*)$", r"taskAgents\1"),
    (r"^contacts\[(\d+)\]\.phones\[(\d+)\]\.number$", _RELATION + r"[\2].mobile"),
    (r"^contacts\[(\d+)\]\.phones\[(\d+)\]\.relation$", _RELATION + r"[\2].relation"),
    (
        r"^contacts\[(\d+)\]\.phones\[(\d+)\]\.phone_group$",
        r"outBoundCustomers[\1].phoneGroupVoList[0].phoneGroupIdentify",
    ),
    (r"^contacts\[(\d+)\]\.phones(.*)$", _RELATION + r"\2"),
    (r"^contacts\[(\d+)\]\.description$", r"outBoundCustomers[\1].desc"),
    (r"^contacts\[(\d+)\]\.external_id$", r"outBoundCustomers[\1].externalCustomerId"),
    (r"^contacts\[(\d+)\]\.pass_through$", r"outBoundCustomers[\1].externalData"),
    (r"^contacts(.*)$", r"outBoundCustomers\1"),
    (r"^file$", "outBoundCustomers"),
]
_COMPILED = [(re.compile(pattern), target) for pattern, target in RULES]


def vendor_field(path: str) -> str:
    for pattern, target in _COMPILED:
        match = pattern.match(path)
        if match:
            return target(match) if callable(target) else match.expand(target)
    return path


# --- pydantic's errors in Chinese ------------------------------------------------------------


def _bounded(text: str, key: str) -> Callable[[dict[str, Any]], str]:
    return lambda ctx: text.format(ctx.get(key))


_CHINESE: dict[str, Callable[[dict[str, Any]], str]] = {
    "missing": lambda ctx: "必填",
    "string_too_long": _bounded("长度不能超过 {}", "max_length"),
    "string_too_short": lambda ctx: (
        "不能为空" if ctx.get("min_length") == 1 else f"长度至少 {ctx.get('min_length')}"
    ),
    "too_long": _bounded("最多 {} 个", "max_length"),
    "too_short": _bounded("至少 {} 个", "min_length"),
    "greater_than_equal": _bounded("不能小于 {}", "ge"),
    "less_than_equal": _bounded("不能大于 {}", "le"),
    "int_parsing": lambda ctx: "必须是整数",
    "int_type": lambda ctx: "必须是整数",
    "int_from_float": lambda ctx: "必须是整数",
    "string_type": lambda ctx: "必须是字符串",
    "bool_parsing": lambda ctx: "必须是布尔值 (true/false 或 1/0)",
    "bool_type": lambda ctx: "必须是布尔值 (true/false 或 1/0)",
    "literal_error": _bounded("取值只能是 {}", "expected"),
    "list_type": lambda ctx: "必须是数组",
    "model_type": lambda ctx: "必须是对象",
    "dict_type": lambda ctx: "必须是对象",
}


def chinese_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """pydantic's errors, located by 得助 field paths, worded in Chinese where it has a word."""
    out = []
    for err in exc.errors():
        path = prefix
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        kind = err["type"]
        if kind == "too_long" and isinstance(err.get("input"), str):
            kind = "string_too_long"  # a constrained str behind a validator reports it so
        word = _CHINESE.get(kind)
        message = word(err.get("ctx") or {}) if word else str(err["msg"])
        out.append(FieldError(path or "body", message, err["type"]))
    return out


# --- the envelope ---------------------------------------------------------------------------


def envelope(code: str, message: str | None = None, data: Any = None) -> dict[str, Any]:
    return {"code": code, "message": MESSAGES[code] if message is None else message, "data": data}


_NATIVE_WORDS = {
    "not_found": "不存在",
    "unique": "已存在, 不能重复",
    "duplicate": "重复",
    "limit": "超过上限",
    "disabled": "已停用",
    "expired": "已过期",
    "past": "已过去",
}
"""Chinese for the kinds of problem the services report (their English detail follows)."""


def _worded(error: FieldError) -> str:
    word = _NATIVE_WORDS.get(error.type)
    if word is None or not error.message.isascii():
        return error.message
    return f"{word} ({error.message})"


def error_response(code: str, detail: str = "", details: Sequence[FieldError] = ()) -> JSONResponse:
    message = MESSAGES[code]
    named = [f"{vendor_field(d.field)} {_worded(d)}" for d in details[:FIELDS_IN_MESSAGE]]
    if len(details) > FIELDS_IN_MESSAGE:
        named.append(f"另有 {len(details) - FIELDS_IN_MESSAGE} 处错误")
    if named:
        message += ": " + "; ".join(named)
    elif detail and detail != message:
        message += f": {detail}"
    return JSONResponse(envelope(code, message))


def from_outdial(exc: OutdialError) -> JSONResponse:
    """outdial's errors as 得助 result codes: input at fault 29002, a state that forbids the
    request 20001, a task that is not the tenant's 29002 on taskId."""
    if isinstance(exc, DezhuError):
        return error_response(exc.result_code, exc.detail, exc.details)
    if isinstance(exc, ValidationFailed | LimitExceeded):
        return error_response(BAD_PARAMETER, exc.message, exc.details)
    if isinstance(exc, NotFound):
        return error_response(BAD_PARAMETER, details=[FieldError("taskId", exc.message)])
    if isinstance(exc, Conflict):
        return error_response(REQUEST_FAILED, exc.message)
    return error_response(REQUEST_FAILED, exc.message, exc.details)


async def _on_outdial_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OutdialError)
    return from_outdial(exc)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        FieldError(".".join(map(str, e["loc"][1:])) or "body", str(e["msg"])) for e in exc.errors()
    ]
    return error_response(BAD_PARAMETER, details=details)


async def _on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(REQUEST_FAILED, f"HTTP {exc.status_code} {exc.detail}")


async def _on_integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntegrityError)
    log.info("integrity error from a concurrent write: %s", exc.orig)
    return from_outdial(integrity_error(exc, "task"))


async def _on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return error_response(SYSTEM_ERROR, "已记录")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OutdialError, _on_outdial_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(Exception, _on_unexpected)
