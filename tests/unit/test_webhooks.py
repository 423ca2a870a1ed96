"""Webhook rules: the signature, the back-off, which subscription takes which event, and the
云蝠 call notification built from an attempt.ended event."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from outdial.domain.webhooks import (
    Backoff,
    DeliveryState,
    after_failure,
    encode,
    headers,
    retry_after,
    signature,
    verify,
    wanted,
)
from outdial.domain.yunfu_notify import call_notification, national


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = encode({"id": "e1", "name": "张三"})
    assert body == '{"id":"e1","name":"张三"}'.encode()
    digest = hmac.new(b"s3cret-s3cret-s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret-s3cret-s3cret", 1700000000, body) == f"v1={digest}"
    sent = headers("e1", "attempt.ended", "s3cret-s3cret-s3cret", 1700000000, body)
    assert sent["Idempotency-Key"] == sent["Outdial-Event-Id"] == "e1"
    assert verify("s3cret-s3cret-s3cret", 1700000000, body, sent["Outdial-Signature"])
    assert verify("s3cret-s3cret-s3cret", 1700000000, body, "v1=00, " + sent["Outdial-Signature"])
    assert not verify("s3cret-s3cret-s3cret", 1700000001, body, sent["Outdial-Signature"])
    assert not verify("another-secret-xx", 1700000000, body, sent["Outdial-Signature"])
    assert not verify("s3cret-s3cret-s3cret", 1700000000, body + b" ", sent["Outdial-Signature"])


@given(st.integers(1, 200), st.floats(0.01, 100), st.floats(1, 7200), st.integers(0, 2**32))
def test_full_jitter_stays_under_the_doubling_ceiling(
    tries: int, base: float, cap: float, seed: int
) -> None:
    backoff = Backoff(base, cap)
    ceiling = backoff.ceiling(tries)
    assert ceiling == min(cap, base * 2 ** (tries - 1)) if tries < 60 else ceiling == cap
    assert 0 <= backoff.delay(tries, random.Random(seed).uniform) <= ceiling
    assert backoff.ceiling(tries + 1) >= ceiling


def test_a_delivery_dies_when_its_tries_are_spent() -> None:
    assert after_failure(1, 3) is DeliveryState.PENDING
    assert after_failure(3, 3) is DeliveryState.DEAD


def test_which_subscription_takes_an_event() -> None:
    call = {"outcome": "busy"}
    assert wanted(["attempt.ended"], None, "attempt.ended", call)
    assert not wanted(["attempt.ended"], ["answered"], "attempt.ended", call)
    assert wanted(["attempt.ended"], ["answered", "busy"], "attempt.ended", call)
    assert not wanted(["campaign.progress"], None, "attempt.ended", call)
    assert wanted(["campaign.state_changed"], ["answered"], "campaign.state_changed", {})


def test_a_yunfu_call_notification() -> None:
    envelope = {
        "id": "e1",
        "type": "attempt.ended",
        "campaign": {"id": 7, "uuid": "task-uuid", "name": "第一个任务", "external_id": None},
        "data": {
            "attempt_uuid": "call-uuid",
            "number": "+8613800138000",
            "outcome": "answered",
            "native_cause": "NORMAL_CLEARING",
            "talk_seconds": 41.2,
            "started_at": "2026-12-04T10:15:02+00:00",
            "answered_at": "2026-12-04T10:15:09+00:00",
            "ended_at": "2026-12-04T10:15:50.500000+00:00",
            "contact": {"uuid": "contact-uuid", "pass_through": "x-1"},
        },
    }
    tenant = {"uuid": "user-uuid", "name": "租户", "timezone": "Asia/Shanghai"}
    note = call_notification(envelope, tenant)
    assert note["count"] == 1
    [call] = note["data"]
    assert call["calldate"] == "2026-12-04 18:15:02"
    assert call["answerdate"] == "2026-12-04 18:15:09"
    assert call["number_data"] == {"number": "13800138000", "hangupdate": "2026-12-04 18:15:50"}
    assert (call["bill"], call["duration"]) == (42, 49)
    assert call["callid"] == "call-uuid" and call["customer_id"] == "contact-uuid"
    assert call["user_id"] == call["master_user_id"] == "user-uuid" and call["type"] == 4
    assert call["task"] == {"id": "task-uuid", "name": "第一个任务"}
    assert call["extra"] == "x-1" and call["status"] == "answered"
    unanswered = {**envelope, "data": {**envelope["data"], "answered_at": None, "talk_seconds": 0}}
    [missed] = call_notification(unanswered, tenant)["data"]
    assert missed["answerdate"] is None and missed["bill"] == 0 and missed["status"] == "unanswered"
    assert national("+14155550100") == "+14155550100"


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    assert retry_after(429, "120", now) == 120
    assert retry_after(503, "Fri, 04 Dec 2026 10:01:00 GMT", now) == 60
    assert retry_after(503, "Fri, 04 Dec 2026 09:00:00 GMT", now) == 0
    assert retry_after(500, "120", now) is None
    assert retry_after(429, "soon", now) is None
    assert retry_after(429, None, now) is None
    backoff = Backoff(2, 600)
    assert backoff.delay(1, lambda a, b: b, asked=120) == 120
    assert backoff.delay(1, lambda a, b: b, asked=10_000) == 600
    assert backoff.delay(9, lambda a, b: b, asked=1) == 512
