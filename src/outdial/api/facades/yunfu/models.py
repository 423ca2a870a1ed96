"""The 云蝠 request bodies (seed 002) and their translation into outdial's names."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

IMPORT_ROWS_MAX = 100
"""Numbers per import call (the successor's synchronous import takes at most 100)."""

NOTIFY_TYPES: dict[int, str] = {1: "answered", 2: "all"}
"""call_notify_type → the campaign's webhook_type."""


class VendorBody(BaseModel):
    """云蝠 clients send back whatever they read (a whole task object on PUT): unknown fields
    are ignored, and an empty string stands for a missing optional value."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class TaskIn(VendorBody):
    """``POST /v1/task`` and ``PUT /v1/task/{task_id}`` (参数同创建任务)."""

    caller_line_id: str = Field(min_length=1, max_length=64)
    customer_service_id: int | None = None
    destination_extension: int
    disable_dial_timegroup: str = Field(min_length=1, max_length=64)
    maximumcall: int = Field(ge=1)
    name: str
    random_assignment_number: int
    recycle_limit: int
    remark: str | None = None
    originate_timeout: int = Field(alias="_originate_timeout")
    call_pause_second: int = Field(ge=0)
    auto_recycle_rule_id: int
    call_notify_url: str | None = None
    call_notify_type: int = 2

    @field_validator("customer_service_id", "remark", "call_notify_url", mode="before")
    @classmethod
    def _blank_is_none(cls, v: Any) -> Any:
        return None if v == "" else v

    @field_validator("call_notify_type")
    @classmethod
    def _notify_type(cls, v: int) -> int:
        if v not in NOTIFY_TYPES:
            raise ValueError("取 1 (只推送接通的通话) 或 2 (推送全部通话)")
        return v

    @field_validator("random_assignment_number", "recycle_limit")
    @classmethod
    def _fixed_zero(cls, v: int) -> int:
        if v != 0:
            raise ValueError("固定为 0 (弃用字段, 重拨请用重呼规则 auto_recycle_rule_id)")
        return v


def campaign_fields(task: TaskIn, line_id: int | None, calendar_id: int | None) -> dict[str, Any]:
    """The native campaign fields a 云蝠 task sets: fixed concurrency with a gap between calls."""
    return {
        "name": task.name,
        "description": task.remark or "",
        "line_id": line_id,
        "skill_group_id": task.customer_service_id,
        "script_id": task.destination_extension,
        "blackout_calendar_id": calendar_id,
        "redial_policy_id": task.auto_recycle_rule_id,
        "pacing_mode": "fixed",
        "max_concurrency": task.maximumcall,
        "call_gap_seconds": task.call_pause_second,
        "ring_timeout_seconds": task.originate_timeout,
        "webhook_url": task.call_notify_url,
        "webhook_type": NOTIFY_TYPES[task.call_notify_type],
    }


FIELD_NAMES = {
    "name": "name",
    "description": "remark",
    "line_id": "caller_line_id",
    "skill_group_id": "customer_service_id",
    "script_id": "destination_extension",
    "blackout_calendar_id": "disable_dial_timegroup",
    "redial_policy_id": "auto_recycle_rule_id",
    "max_concurrency": "maximumcall",
    "call_gap_seconds": "call_pause_second",
    "ring_timeout_seconds": "_originate_timeout",
    "webhook_url": "call_notify_url",
    "webhook_type": "call_notify_type",
}
"""outdial's campaign fields → the 云蝠 task fields (for errors)."""


# --- number import -------------------------------------------------------------------------


class ImportIn(VendorBody):
    """``POST /v1/task/import_task_customer/{task_id}``: the successor's sync body
    ({"data": [...]}, with its options); ``customer_info_list`` is taken for ``data``."""

    data: list[Any] = Field(min_length=1, max_length=IMPORT_ROWS_MAX)
    skip_error: bool = True
    ignore_crm: bool = True
    number_add_suffix: Literal[False] = False
    encryption: Literal[False] = False


ATTRIBUTE_FIELDS = ("email", "company", "sex", "sort", "source_id", "industry_id", "grade_id")


def import_body(raw: Any) -> Any:
    """A bare array of rows, or ``customer_info_list``, as the ``data`` of an import body."""
    if isinstance(raw, list):
        return {"data": raw}
    if isinstance(raw, dict) and "data" not in raw and "customer_info_list" in raw:
        return {**raw, "data": raw["customer_info_list"]}
    return raw


def contact_row(raw: Any) -> Any:
    """One 云蝠 number row as a native contact: phone, name, extra (echoed back in call
    notifications as the contact's pass-through), the other CRM fields and the template
    components as attributes."""
    if not isinstance(raw, dict):
        return raw  # the native validator names it
    attributes = {k: str(raw[k]) for k in ATTRIBUTE_FIELDS if raw.get(k) not in (None, "")}
    for component in raw.get("components") or []:
        if isinstance(component, dict) and "id" in component:
            attributes[f"component:{component['id']}"] = str(component.get("value", ""))
    row: dict[str, Any] = {
        "name": raw.get("name") or "",
        "phones": [{"number": _text(raw.get("phone"))}],
        "attributes": attributes,
    }
    if raw.get("extra") not in (None, ""):
        row["pass_through"] = _text(raw["extra"])
    return row


def _text(value: Any) -> Any:
    """Numbers typed as JSON numbers (13012121211) read as their digits."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value
