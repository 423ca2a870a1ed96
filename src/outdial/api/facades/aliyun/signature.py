"""Alibaba Cloud request signatures, checked on the server: ACS3-HMAC-SHA256 (the current
SDK's default) and v1 HMAC-SHA1 (the legacy SDK, and the current one with
``signature_algorithm='v2'``). See vendor-apis.md §1.6 for the algorithms."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from outdial.api.facades.aliyun.errors import AliyunError, invalid, missing
from outdial.api.facades.aliyun.params import form_pairs

ACS3 = "ACS3-HMAC-SHA256"
WINDOW = timedelta(minutes=15)
ACS3_REQUIRED_HEADERS = frozenset(
    {"host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce"}
)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def pct(text: str) -> str:
    """RFC 3986 encoding as Alibaba signs: a space is %20, ``*`` is %2A, ``~`` stays."""
    return quote(text, safe="~", encoding="utf-8")


def _canonical_pairs(pairs: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{pct(k)}={pct(v)}" for k, v in sorted(pairs))


@dataclass(frozen=True)
class Acs3Authorization:
    access_key_id: str
    signed_headers: list[str]
    signature: str


def parse_acs3(header: str) -> Acs3Authorization:
    """``ACS3-HMAC-SHA256 Credential=…,SignedHeaders=a;b,Signature=…``."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ACS3:
        raise AliyunError(
            400, "InvalidParameter", f"The signature algorithm {algorithm} is not supported."
        )
    fields = {}
    for part in rest.split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value
    for key in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(key):
            raise missing(f"Authorization.{key}")
    return Acs3Authorization(
        fields["Credential"], fields["SignedHeaders"].split(";"), fields["Signature"]
    )


def acs3_string_to_sign(
    method: str,
    raw_query: str,
    headers: Mapping[str, list[str]],
    signed_headers: Sequence[str],
    payload_hash: str,
) -> str:
    """The ACS3 string to sign of a request; ``headers`` by lowercase name."""
    canonical_headers = "".join(
        f"{name}:{','.join(sorted(v.strip() for v in headers.get(name, [''])))}\n"
        for name in signed_headers
    )
    canonical = "\n".join(
        [
            method,
            "/",
            _canonical_pairs(form_pairs(raw_query)),
            canonical_headers,
            ";".join(signed_headers),
            payload_hash,
        ]
    )
    return f"{ACS3}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


def acs3_signature(secret: str, to_sign: str) -> str:
    """The hex HMAC-SHA256 of the string to sign."""
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def v1_string_to_sign(method: str, pairs: Sequence[tuple[str, str]]) -> str:
    """The RPC string to sign: every parameter but ``Signature``, empty values kept."""
    canonical = _canonical_pairs([(k, v) for k, v in pairs if k != "Signature"])
    return f"{method}&{pct('/')}&{pct(canonical)}"


def v1_signature(secret: str, to_sign: str) -> str:
    """The Base64 HMAC-SHA1 of the string to sign, keyed with the secret and ``&``."""
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def mismatch(to_sign: str) -> AliyunError:
    """Alibaba's message carries the server's string to sign after the last colon: the
    legacy SDK compares it with its own and, when they agree, reports a wrong secret."""
    return AliyunError(
        400,
        "SignatureDoesNotMatch",
        "Specified signature is not matched with our calculation. server string to sign is:"
        + to_sign.replace("\n", " "),
    )


def parse_time(name: str, text: str) -> datetime:
    """An ISO 8601 UTC time (``2026-11-23T04:39:42Z``)."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise AliyunError(
            400, "InvalidTimeStamp.Format", f"Specified {name} is not valid: {text!r}."
        ) from exc
    if when.tzinfo is None:
        raise AliyunError(
            400, "InvalidTimeStamp.Format", f"Specified {name} must be UTC (end in Z)."
        )
    return when


def check_fresh(name: str, text: str, now: datetime) -> datetime:
    """The request's time, if within the window of ``now``; the end of its window."""
    when = parse_time(name, text)
    if abs(now - when) > WINDOW:
        raise AliyunError(
            400,
            "InvalidTimeStamp.Expired",
            f"Specified time stamp or date value is expired: {text} "
            f"(the server's time is {now.strftime('%Y-%m-%dT%H:%M:%SZ')}).",
        )
    return max(when, now) + WINDOW


def check_signed_headers(signed: Sequence[str]) -> None:
    absent = sorted(ACS3_REQUIRED_HEADERS - set(signed))
    if absent:
        raise invalid("Authorization.SignedHeaders", f"must include {', '.join(absent)}")
