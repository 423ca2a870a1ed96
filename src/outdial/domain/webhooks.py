"""Webhook rules: the events, the signature, the retry schedule. Pure: no I/O, no clock."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any


class WebhookEvent(StrEnum):
    ATTEMPT_ENDED = "attempt.ended"
    CONTACT_COMPLETED = "contact.completed"
    CAMPAIGN_STATE_CHANGED = "campaign.state_changed"
    CAMPAIGN_PROGRESS = "campaign.progress"


WEBHOOK_EVENTS: frozenset[str] = frozenset(e.value for e in WebhookEvent)


class WebhookFormat(StrEnum):
    """The body's shape: outdial's envelope, or a vendor's (the 云蝠 call notification)."""

    OUTDIAL = "outdial"
    YUNFU = "yunfu"


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its next try (or being tried: it has a lease)
    DELIVERED = "delivered"
    DEAD = "dead"  # every try failed: a dead letter, until replayed


# --- headers and the signature -----------------------------------------------------------------

SIGNATURE_HEADER = "Outdial-Signature"
TIMESTAMP_HEADER = "Outdial-Timestamp"
EVENT_ID_HEADER = "Outdial-Event-Id"
EVENT_TYPE_HEADER = "Outdial-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_VERSION = "v1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=`` and the hex HMAC-SHA256, keyed with the secret, of ``<timestamp>.<body>``."""
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify(secret: str, timestamp: int, body: bytes, header: str) -> bool:
    """What a receiver checks (one or more comma-separated signatures may be given)."""
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, part.strip()) for part in header.split(","))


def headers(
    event_id: str, event_type: str, secret: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        EVENT_ID_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
        IDEMPOTENCY_HEADER: event_id,
    }


def encode(body: Any) -> bytes:
    """The bytes sent: compact JSON, UTF-8 (Chinese text as itself), the same on every try."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


# --- retries -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with full jitter: the wait before try n+1 is uniform in
    [0, min(cap, base * 2**(n-1))] seconds (n tries made so far)."""

    base: float = 2.0
    cap: float = 3600.0

    def ceiling(self, tries: int) -> float:
        return float(min(self.cap, self.base * 2.0 ** max(0, min(tries - 1, 62))))

    def delay(
        self, tries: int, uniform: Callable[[float, float], float], asked: float | None = None
    ) -> float:
        """``asked``: what the receiver's Retry-After asked for, honoured up to the cap."""
        jitter = uniform(0.0, self.ceiling(tries))
        return jitter if asked is None else max(jitter, min(asked, self.cap))


RETRY_AFTER_STATUSES = frozenset({429, 503})


def retry_after(status: int | None, value: str | None, now: datetime) -> float | None:
    """Seconds a 429 or 503 asks to wait (``Retry-After``: seconds or an HTTP date); None
    when it asks nothing (or something unreadable)."""
    if status not in RETRY_AFTER_STATUSES or not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def succeeded(status: int) -> bool:
    return 200 <= status < 300


def after_failure(tries: int, max_tries: int) -> DeliveryState:
    """A failed try: another one later, or a dead letter when none is left."""
    return DeliveryState.DEAD if tries >= max_tries else DeliveryState.PENDING


def wanted(events: list[str], outcomes: list[str] | None, kind: str, data: dict[str, Any]) -> bool:
    """Whether a subscription to ``events`` (and, for call events, only ``outcomes``) takes an
    event of ``kind`` with ``data``."""
    if kind not in events:
        return False
    if outcomes and kind in (WebhookEvent.ATTEMPT_ENDED, WebhookEvent.CONTACT_COMPLETED):
        return data.get("outcome") in outcomes
    return True
