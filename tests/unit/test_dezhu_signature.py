"""The 得助 signature, pure: what is signed, the ±5 minute window, what verifies and what not;
and outdial's field paths named in 得助's terms."""

from __future__ import annotations

import base64
import functools
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from outdial.api.facades.dezhu.auth import WINDOW, SignPolicy, check_fresh, message, verify
from outdial.api.facades.dezhu.errors import DezhuError, vendor_field

APP_ID = "99845aaaaebd4d61acccc9b776208f12"
TS = "1586314097995"  # the seeds' timestamp
AT = datetime.fromtimestamp(int(TS) / 1000, UTC)


@functools.cache
def key(n: int = 0) -> rsa.RSAPrivateKey:
    del n
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(private: rsa.RSAPrivateKey) -> str:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return private.public_key().public_bytes(serialization.Encoding.PEM, spki).decode()


def signed(private: rsa.RSAPrivateKey, text: bytes, algorithm: hashes.HashAlgorithm) -> str:
    return base64.b64encode(private.sign(text, padding.PKCS1v15(), algorithm)).decode()


def test_the_message_is_app_id_then_timestamp_as_sent() -> None:
    assert message(APP_ID, TS) == (APP_ID + TS).encode()
    assert message("应用", "0012") == "应用0012".encode()


def test_sha256_with_rsa_over_the_message_verifies() -> None:
    sign = signed(key(), message(APP_ID, TS), hashes.SHA256())
    assert len(base64.b64decode(sign)) == 256 and len(sign) == 344  # as the seeds' example
    assert verify(pem(key()), message(APP_ID, TS), sign)


@pytest.mark.parametrize(
    "case",
    ["other key", "other message", "sha1", "separator", "urlsafe", "unpadded", "garbage", "long"],
)
def test_what_does_not_verify(case: str) -> None:
    good = message(APP_ID, TS)
    sign = {
        "other key": signed(key(1), good, hashes.SHA256()),
        "other message": signed(key(), message(APP_ID, "1586314097996"), hashes.SHA256()),
        "sha1": signed(key(), good, hashes.SHA1()),
        "separator": signed(key(), f"appId={APP_ID}&timestamp={TS}".encode(), hashes.SHA256()),
        "urlsafe": base64.urlsafe_b64encode(b"\xfb\xff" * 128).decode(),
        "unpadded": signed(key(), good, hashes.SHA256()).rstrip("="),
        "garbage": "not base64 at all!",
        "long": base64.b64encode(b"\0" * 4096).decode(),
    }[case]
    assert not verify(pem(key()), good, sign)


@pytest.mark.parametrize("skew", [0, 1, 299.999, -299.999, 300, -300])
def test_timestamps_within_five_minutes_are_fresh(skew: float) -> None:
    check_fresh(TS, AT + timedelta(seconds=skew), WINDOW)


@pytest.mark.parametrize("skew", [300.001, -300.001, 3600, -86400])
def test_timestamps_further_off_are_10001(skew: float) -> None:
    with pytest.raises(DezhuError) as caught:
        check_fresh(TS, AT + timedelta(seconds=skew), WINDOW)
    assert caught.value.result_code == "10001"


@pytest.mark.parametrize("ts", ["", "abc", "1586314097.995", "-1586314097995", "9" * 16])
def test_timestamps_that_are_not_milliseconds_are_10001(ts: str) -> None:
    with pytest.raises(DezhuError):
        check_fresh(ts, AT, WINDOW)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("name", "taskName"),
        ("period_end", "taskExecEndDate"),
        ("windows[2].start", "taskExecTimes[2].taskExecTimeStartStr"),
        ("skill_group_id", "skillSetId"),
        ("line_id", "outboundNumberGroupId"),
        ("ratio", "multiplyPower"),
        ("abandon_target_percent", "abandonmentRate"),
        ("phone_groups[0].redial_times", "outboundPhoneGroups[0].autoOutboundTimes"),
        ("agent_assignments[1].agent_id", "taskAgents[1].agentId"),
        (
            "contacts[7].phones[2].number",
            "outBoundCustomers[7].phoneGroupVoList[0].relations[2].mobile",
        ),
        ("contacts[7].phones", "outBoundCustomers[7].phoneGroupVoList[0].relations"),
        ("contacts[7].pass_through", "outBoundCustomers[7].externalData"),
        ("contacts", "outBoundCustomers"),
        ("taskId", "taskId"),
    ],
)
def test_outdial_fields_are_named_in_dezhus_terms(ours: str, theirs: str) -> None:
    assert vendor_field(ours) == theirs


def test_the_compatibility_candidates() -> None:
    assert [(t, h.name) for t, h in SignPolicy().candidates("a", "1")] == [(b"a1", "sha256")]
    lenient = SignPolicy(compat=True).candidates("a", "1")
    assert [(t, h.name) for t, h in lenient] == [
        (b"a1", "sha256"),
        (b"a1", "sha1"),
        (b"appId=a&timestamp=1", "sha256"),
        (b"appId=a&timestamp=1", "sha1"),
    ]
    sign = signed(key(), b"appId=a&timestamp=1", hashes.SHA1())
    assert verify(pem(key()), b"appId=a&timestamp=1", sign, hashes.SHA1())
    assert not verify(pem(key()), b"appId=a&timestamp=1", sign, hashes.SHA256())


def test_a_timestamp_in_seconds_is_refused_with_a_hint() -> None:
    with pytest.raises(DezhuError) as caught:
        check_fresh(TS[:10], AT, WINDOW)
    assert "毫秒" in caught.value.detail
