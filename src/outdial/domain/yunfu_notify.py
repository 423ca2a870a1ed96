"""The 云蝠 call notification (call_notify_url): a finished call in the "count + data[]" shape
of the vendor's successor callback (vendor-apis.md §3.8), built from an attempt.ended event."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MAIN_ACCOUNT = 4  # the vendor's ``type``: 4 a main account, 8 a sub-account
CHINA = "+86"


def call_notification(envelope: dict[str, Any], tenant: dict[str, Any]) -> dict[str, Any]:
    """``envelope``: outdial's attempt.ended event; ``tenant``: its uuid, name and zone."""
    data = envelope["data"]
    zone = ZoneInfo(tenant["timezone"])
    contact = data.get("contact") or {}
    campaign = envelope["campaign"]
    started, answered, ended = (_at(data.get(k)) for k in ("started_at", "answered_at", "ended_at"))
    call = {
        "calldate": _local(started, zone),
        "answerdate": _local(answered, zone),
        "bill": math.ceil(float(data.get("talk_seconds") or 0)),
        "duration": _seconds(started, ended),
        "callid": data.get("attempt_uuid"),
        "customer_id": contact.get("uuid"),
        "master_user_id": tenant["uuid"],
        "user_id": tenant["uuid"],
        "type": MAIN_ACCOUNT,
        "status": "answered" if answered is not None else "unanswered",
        "outcome": data.get("outcome"),
        "hangup_cause": data.get("native_cause", ""),
        "extra": contact.get("pass_through", ""),
        "number_data": {
            "number": national(str(data.get("number", ""))),
            "hangupdate": _local(ended, zone),
        },
        "task": {"id": campaign["uuid"], "name": campaign["name"]},
        "user": {"id": tenant["uuid"], "name": tenant["name"]},
    }
    return {"count": 1, "data": [call]}


def national(number: str) -> str:
    """Mainland numbers as 云蝠 shows them (no +86); others stay in E.164."""
    return number[len(CHINA) :] if number.startswith(CHINA) else number


def _at(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None


def _local(at: datetime | None, zone: ZoneInfo) -> str | None:
    return None if at is None else at.astimezone(zone).strftime(TIME_FORMAT)


def _seconds(start: datetime | None, end: datetime | None) -> int:
    if start is None or end is None:
        return 0
    return max(0, math.ceil((end - start).total_seconds()))
