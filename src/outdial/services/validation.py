"""Turn pydantic errors into outdial's field-level errors, with dotted field paths."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from outdial.domain.errors import FieldError, ValidationFailed

M = TypeVar("M", bound=BaseModel)
_LOCATIONS = {"body", "query", "path", "header"}


def field_path(loc: Sequence[int | str], prefix: str = "") -> str:
    parts = list(loc)
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    text = prefix
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.startswith("function-") or part.startswith("tagged-union"):
            continue
        else:
            text += f".{part}" if text else part
    return text or "body"


def field_errors(errors: Sequence[Any], prefix: str = "") -> list[FieldError]:
    out = []
    for err in errors:
        message = str(err.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        loc = err.get("loc", ())
        if err["type"] == "json_invalid":
            loc = loc[:1]  # ("body", character offset): the offset names no field
        out.append(FieldError(field_path(loc, prefix), message, str(err["type"])))
    return out


def failed(errors: list[FieldError]) -> ValidationFailed:
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    return ValidationFailed(f"invalid input: {summary}", errors)


def validate(model: type[M], data: Any, prefix: str = "") -> M:
    """Validate ``data`` with ``model`` or raise ValidationFailed with field paths."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise failed(field_errors(exc.errors(), prefix)) from exc
