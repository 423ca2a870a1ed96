"""得助's request signature: headers ``appId``, ``timestamp`` (ms) and ``sign``, where ``sign`` is
Base64(SHA256withRSA(appId + timestamp)) made with the tenant's private key and checked with the
public key the tenant registered for that appId (a ``dezhu_public_key`` credential).

The vendor documents the headers and the codes (10001 鉴权失败, 10002 no public key); the
algorithm and the ±5 minute window are outdial's (docs/reference/dezhu.md). The signature covers
no part of the request, so one signature may serve several calls within its window, as the
seeds' examples show (the same sign on three requests): replays are not refused."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from outdial.api.facades.dezhu.errors import AUTH_FAILED, NO_PUBLIC_KEY, DezhuError
from outdial.services.common import Tenant
from outdial.services.credentials import CredentialService

WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class SignPolicy:
    """How requests are checked: the timestamp window, and whether the compatibility forms are
    also accepted (SHA1withRSA, and the message ``appId=<id>&timestamp=<ts>``; each still needs
    the private key). Off by default."""

    window: timedelta = WINDOW
    compat: bool = False

    def candidates(self, app_id: str, timestamp: str) -> list[tuple[bytes, hashes.HashAlgorithm]]:
        """(message, hash) pairs a valid ``sign`` may be over, the standard one first."""
        plain = message(app_id, timestamp)
        if not self.compat:
            return [(plain, hashes.SHA256())]
        pairs = f"appId={app_id}&timestamp={timestamp}".encode()
        return [
            (text, algorithm)
            for text in (plain, pairs)
            for algorithm in (hashes.SHA256(), hashes.SHA1())
        ]


HEADERS = ("appId", "timestamp", "sign")
SIGNATURE_BYTES_MAX = 1024  # an RSA-8192 signature; anything longer is not one


def message(app_id: str, timestamp: str) -> bytes:
    """What is signed: appId and timestamp as sent, concatenated, UTF-8."""
    return (app_id + timestamp).encode()


def authenticate(
    credentials: CredentialService,
    headers: Mapping[str, str],
    now: datetime,
    policy: SignPolicy = SignPolicy(),
) -> Tenant:
    """The tenant whose registered key signed the request, or a 10001 / 10002 DezhuError."""
    app_id, timestamp, sign = (headers.get(h, "").strip() for h in HEADERS)
    missing = [h for h, v in zip(HEADERS, (app_id, timestamp, sign), strict=True) if not v]
    if missing:
        raise DezhuError(AUTH_FAILED, f"缺少请求头 {', '.join(missing)}")
    found = credentials.dezhu_public_key(app_id)
    if found is None:
        raise DezhuError(NO_PUBLIC_KEY)
    check_fresh(timestamp, now, policy.window)
    candidates = policy.candidates(app_id, timestamp)
    if not any(verify(found.public_key, text, sign, hashed) for text, hashed in candidates):
        raise DezhuError(AUTH_FAILED, "签名校验失败 (SHA256withRSA over appId + timestamp)")
    credentials.touch(found.credential)
    return found.tenant


def check_fresh(timestamp: str, now: datetime, window: timedelta) -> None:
    if not timestamp.isdigit() or len(timestamp) > 15:
        raise DezhuError(AUTH_FAILED, "timestamp 必须是毫秒时间戳")
    skew = abs(now.timestamp() * 1000 - int(timestamp))
    if skew > window.total_seconds() * 1000:
        seconds = abs(now.timestamp() - int(timestamp))
        hint = " (timestamp 应为毫秒, 收到的像是秒)" if seconds <= window.total_seconds() else ""
        minutes = int(window.total_seconds() // 60)
        raise DezhuError(AUTH_FAILED, f"timestamp 与服务器时间相差超过 {minutes} 分钟{hint}")


def verify(
    pem: str, signed: bytes, sign: str, algorithm: hashes.HashAlgorithm | None = None
) -> bool:
    try:
        signature = base64.b64decode(sign, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(signature) > SIGNATURE_BYTES_MAX:
        return False
    try:
        _public_key(pem).verify(signature, signed, padding.PKCS1v15(), algorithm or hashes.SHA256())
    except InvalidSignature:
        return False
    return True


@lru_cache(maxsize=256)
def _public_key(pem: str) -> RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, RSAPublicKey)  # registration accepts RSA keys only
    return key
