"""Request parameters as the Alibaba SDKs send them: the query string and a form body merged,
lists in three syntaxes, booleans as ``True``/``False``, integers and JSON as strings."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from outdial.api.facades.aliyun.errors import invalid, missing
from outdial.domain import limits

_INDEXED = re.compile(r"^(?P<name>.+)\.(?P<n>[1-9][0-9]*)$")


def form_pairs(raw: str | bytes) -> list[tuple[str, str]]:
    """Form-decode (``+`` is a space, blank values kept), as the signatures read it."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return parse_qsl(text, keep_blank_values=True)


class Params:
    """The merged parameters of one request; each getter names the parameter in its error."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self.values: dict[str, str] = {}
        for key, value in pairs:
            self.values.setdefault(key, value)

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def text(self, name: str, required: bool = False, max_length: int | None = None) -> str | None:
        value = self.values.get(name)
        if value is None or (required and not value.strip()):
            if required:
                raise missing(name)
            return None
        if max_length is not None and len(value) > max_length:
            raise invalid(name, f"at most {max_length} characters")
        return value

    def required(self, name: str, max_length: int | None = None) -> str:
        value = self.text(name, True, max_length)
        assert value is not None
        return value

    def integer(
        self, name: str, required: bool = False, low: int | None = None, high: int | None = None
    ) -> int | None:
        raw = self.text(name, required)
        if raw is None or raw == "":
            return None
        try:
            value = int(raw.strip())
        except ValueError as exc:
            raise invalid(name, f"expected an integer, got {raw!r}") from exc
        if (low is not None and value < low) or (high is not None and value > high):
            raise invalid(name, f"must be between {low} and {high}")
        return value

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        raw = self.text(name)
        if raw is None or raw == "":
            return default
        return to_bool(name, raw)

    def page(self, required: bool = True) -> tuple[int, int]:
        """PageNumber (from 1) and PageSize (1 to the core's page limit)."""
        number = self.integer("PageNumber", required, 1, 2**31)
        size = self.integer("PageSize", required, 1, limits.PAGE_SIZE_MAX)
        return number or 1, size or 10

    def millis(self, name: str) -> datetime | None:
        """A time in epoch milliseconds; 0 or absent is None."""
        value = self.integer(name, low=0, high=253402300799999)
        return None if not value else datetime.fromtimestamp(value / 1000, UTC)

    def strings(self, name: str, plural: str | None = None) -> list[str] | None:
        """A list in any of the three forms: ``Name.1=…&Name.2=…``, ``Name=["…"]`` (a JSON
        array string) or ``Names=["…"]`` (seed 000's request example). None when absent."""
        indexed = self._indexed(name)
        if indexed is not None:
            return indexed
        for key in (name, plural or name + "s"):
            raw = self.values.get(key)
            if raw is not None:
                return _list_value(key, raw)
        return None

    def json_object(self, name: str) -> dict[str, Any] | None:
        raw = self.text(name)
        if raw is None or not raw.strip():
            return None
        return parse_object(name, raw)

    def _indexed(self, name: str) -> list[str] | None:
        found: dict[int, str] = {}
        for key, value in self.values.items():
            match = _INDEXED.match(key)
            if match and match["name"] == name:
                found[int(match["n"])] = value
        if not found:
            return None
        if sorted(found) != list(range(1, len(found) + 1)):
            raise invalid(f"{name}.N", "the indexes must run 1, 2, 3 … without gaps")
        return [found[n] for n in sorted(found)]


def to_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise invalid(name, f"expected true or false, got {raw!r}")


def parse_object(name: str, raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise invalid(name, f"not JSON: {exc.msg}") from exc
    if not isinstance(value, dict):
        raise invalid(name, "must be a JSON object")
    return value


def _list_value(name: str, raw: str) -> list[str]:
    """A JSON array string (its items as strings; objects back to JSON text), else one
    plain value (``CallingNumber=95187``)."""
    text = raw.strip()
    if not text.startswith("["):
        return [text] if text else []
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise invalid(name, f"not a JSON array: {exc.msg}") from exc
    if not isinstance(value, list):
        raise invalid(name, "must be a JSON array")
    return [_item_text(v) for v in value]


def _item_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def lenient_int(name: str, value: Any) -> int:
    """An integer inside a JSON parameter: a number or a string of digits."""
    if isinstance(value, bool):
        raise invalid(name, f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        return int(value.strip())
    raise invalid(name, f"expected an integer, got {value!r}")


def lenient_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return to_bool(name, value)
    raise invalid(name, f"expected true or false, got {value!r}")


def only_keys(name: str, value: Mapping[str, Any], allowed: set[str]) -> None:
    """Refuse keys a JSON parameter does not have (a typo is not silently ignored)."""
    for key in value:
        if key not in allowed:
            raise invalid(f"{name}.{key}", f"unknown key; use one of {', '.join(sorted(allowed))}")
