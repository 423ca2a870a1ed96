"""Secret material: generation, hashing for lookup, encryption at rest, public-key parsing."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from outdial.domain.errors import ValidationFailed

_ALNUM = string.ascii_letters + string.digits
MIN_RSA_BITS = 2048


def random_text(length: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def hash_secret(secret: str) -> str:
    """Secrets are long and random, so one SHA-256 suffices for storage and lookup."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_hash(secret: str, expected: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), expected)


def new_token(prefix: str) -> str:
    return f"{prefix}_{random_text(40)}"


def token_key_id(token: str) -> str:
    """The lookup key of a bearer token: a prefix of its hash, so any token string works."""
    return hash_secret(token)[:16]


class SecretBox:
    """Encrypts secrets that must be read back (Alibaba AccessKey secrets sign with HMAC)."""

    def __init__(self, key: bytes):
        self._fernet = Fernet(key)

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str:
        return self._fernet.decrypt(sealed.encode()).decode()


def load_rsa_public_key(text: str, field: str = "public_key") -> str:
    """Accept SPKI PEM, PKCS#1 PEM or bare Base64 DER; return SPKI PEM. RSA ≥ 2048 bits."""
    key = _parse_public_key(text.strip(), field)
    if not isinstance(key, RSAPublicKey):
        raise ValidationFailed.field(field, "the key must be an RSA public key")
    if key.key_size < MIN_RSA_BITS:
        raise ValidationFailed.field(field, f"the key must have at least {MIN_RSA_BITS} bits")
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


def _parse_public_key(text: str, field: str) -> object:
    try:
        if text.startswith("-----BEGIN"):
            return serialization.load_pem_public_key(text.encode())
        der = base64.b64decode("".join(text.split()), validate=True)
        return serialization.load_der_public_key(der)
    except (ValueError, binascii.Error, UnsupportedAlgorithm) as exc:
        raise ValidationFailed.field(
            field, "not a public key: give PEM (SPKI or PKCS#1) or Base64 DER"
        ) from exc
