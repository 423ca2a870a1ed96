"""The one exception family of outdial.

Each error carries a stable ``code``, a human message and, where input was at fault,
field-level details. The edges (native API, facades, CLI) map them onto their dialect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field; ``field`` is a dotted path such as ``windows[0].start``."""

    field: str
    message: str
    type: str = "invalid"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "type": self.type}


class OutdialError(Exception):
    """Root of every error outdial raises on purpose."""

    code = "error"
    status = 500

    def __init__(self, message: str, details: list[FieldError] | None = None, **extra: Any):
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.extra = extra


class ValidationFailed(OutdialError):
    """The input broke a rule; ``details`` names the fields. Nothing was changed."""

    code = "validation_error"
    status = 422

    @classmethod
    def field(cls, field: str, message: str, type: str = "invalid") -> ValidationFailed:
        return cls(f"{field}: {message}", [FieldError(field, message, type)])


class InternalError(OutdialError):
    """Something outdial did not expect; the message says what, for the logs and the caller."""

    code = "internal_error"
    status = 500


class NotFound(OutdialError):
    code = "not_found"
    status = 404


class Conflict(OutdialError):
    """The request is valid but the resource's current state forbids it."""

    code = "conflict"
    status = 409


class IllegalTransition(Conflict):
    code = "illegal_transition"


class LimitExceeded(OutdialError):
    """A size or count limit was hit (batch size, campaign cap, body size)."""

    code = "limit_exceeded"
    status = 422


class Unauthenticated(OutdialError):
    code = "unauthenticated"
    status = 401


class Forbidden(OutdialError):
    code = "forbidden"
    status = 403


class NothingDue(NotFound):
    """Nothing to hand out now (a preview agent asked for their next contact); the body says
    when the next one is due, where known."""

    code = "nothing_due"
