"""Alibaba Cloud's error form: a real HTTP status, a body with RequestId, Code and Message.

Codes from seed 000 and Alibaba's common codes where they exist; the rest are outdial's own,
named in Alibaba's style (docs/reference/aliyun.md lists which is which)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from outdial.domain.errors import (
    Conflict,
    LimitExceeded,
    NotFound,
    OutdialError,
    ValidationFailed,
)

INTERNAL_MESSAGE = (
    "An error occurred while processing your request. Please try again later. "
    "Submit a ticket if the error still exists."
)


class AliyunError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def missing(name: str) -> AliyunError:
    return AliyunError(
        400,
        "MissingParameter",
        f'The input parameter "{name}" that is mandatory for processing this request '
        "is not supplied.",
    )


def invalid(name: str, why: str) -> AliyunError:
    return AliyunError(400, "InvalidParameter", f"The parameter {name} is invalid: {why}")


def not_exist(what: str, value: str) -> AliyunError:
    return AliyunError(404, f"NotExist.{what}", f"The specified {what} does not exist: {value}")


def incorrect_status(what: str, why: str) -> AliyunError:
    return AliyunError(400, f"IncorrectStatus.{what}", why)


def internal() -> AliyunError:
    return AliyunError(500, "InternalError", INTERNAL_MESSAGE)


FieldRules = Sequence[tuple[str, str | Callable[[re.Match[str]], str]]]
"""(regex over a core field path, the caller's parameter name or a function of the match)."""


def from_outdial(exc: OutdialError, rules: FieldRules = ()) -> AliyunError:
    """The Alibaba form of a service's error; ``rules`` turn the core's field paths into the
    caller's parameter names."""
    if isinstance(exc, ValidationFailed | LimitExceeded) and exc.details:
        first = exc.details[0]
        return invalid(vendor_field(first.field, rules), first.message)
    if isinstance(exc, ValidationFailed | LimitExceeded):
        return AliyunError(400, "InvalidParameter", exc.message)
    if isinstance(exc, NotFound):
        return AliyunError(404, "NotExist.Resource", exc.message)
    if isinstance(exc, Conflict):
        return incorrect_status("JobGroup", exc.message)
    return internal()


def vendor_field(path: str, rules: FieldRules) -> str:
    """``windows[1].start`` → ``StrategyJson.workingTime[1].beginTime``: the first rule whose
    pattern matches the whole path names the parameter; else the path as it is."""
    for pattern, name in rules:
        match = re.fullmatch(pattern, path)
        if match:
            return name(match) if callable(name) else match.expand(name)
    return path
