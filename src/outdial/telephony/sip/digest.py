"""Digest authentication of a UAC toward a trunk (RFC 3261 §22, RFC 2617, RFC 7616).

A 401 carries ``WWW-Authenticate``, a 407 ``Proxy-Authenticate``; the request is sent again
with ``Authorization`` / ``Proxy-Authorization``. Algorithms MD5, MD5-sess, SHA-256 and
SHA-256-sess; ``qop=auth`` when the challenge offers it (``auth-int`` is not offered by
trunks in practice and is refused), else the RFC 2069 form without qop. Pure functions: the
cnonce comes in from the caller.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


class DigestError(ValueError):
    """A challenge we cannot answer."""


@dataclass(frozen=True)
class Challenge:
    scheme: str
    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False


def parse_challenge(value: str) -> Challenge:
    """``Digest realm="…", nonce="…", qop="auth,auth-int", algorithm=MD5, opaque="…"``."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise DigestError(f"unsupported authentication scheme {scheme!r}")
    params = auth_params(rest)
    if "nonce" not in params:
        raise DigestError("challenge without a nonce")
    algorithm = params.get("algorithm", "MD5").upper()
    if algorithm.removesuffix("-SESS") not in HASHES:
        raise DigestError(f"unsupported digest algorithm {algorithm}")
    qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
    return Challenge(
        scheme="Digest",
        realm=params.get("realm", ""),
        nonce=params["nonce"],
        algorithm=algorithm,
        qop=qop,
        opaque=params.get("opaque"),
        stale=params.get("stale", "").lower() == "true",
    )


def auth_params(text: str) -> dict[str, str]:
    """``a="x, y", b=z`` → {a: "x, y", b: z} (names lower-cased, quoted strings unescaped)."""
    out: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t,":
            i += 1
        start = i
        while i < n and text[i] not in "= \t,":
            i += 1
        name = text[start:i].lower()
        while i < n and text[i] in " \t":
            i += 1
        if i >= n or text[i] != "=":
            if name:
                out[name] = ""
            continue
        i += 1
        while i < n and text[i] in " \t":
            i += 1
        value, i = _value(text, i)
        if name:
            out[name] = value
    return out


def _value(text: str, i: int) -> tuple[str, int]:
    if i < len(text) and text[i] == '"':
        chars, i = [], i + 1
        while i < len(text) and text[i] != '"':
            if text[i] == "\\" and i + 1 < len(text):
                i += 1
            chars.append(text[i])
            i += 1
        return "".join(chars), i + 1
    start = i
    while i < len(text) and text[i] != ",":
        i += 1
    return text[start:i].strip(), i


def _h(algorithm: str, data: str) -> str:
    return HASHES[algorithm.removesuffix("-SESS")](data.encode()).hexdigest()


def response(
    challenge: Challenge,
    method: str,
    uri: str,
    username: str,
    password: str,
    cnonce: str = "",
    nc: int = 1,
) -> str:
    """The ``response`` value (RFC 7616 §3.4.1)."""
    alg = challenge.algorithm
    ha1 = _h(alg, f"{username}:{challenge.realm}:{password}")
    if alg.endswith("-SESS"):
        ha1 = _h(alg, f"{ha1}:{challenge.nonce}:{cnonce}")
    ha2 = _h(alg, f"{method}:{uri}")
    qop = chosen_qop(challenge)
    if qop:
        return _h(alg, f"{ha1}:{challenge.nonce}:{nc:08x}:{cnonce}:{qop}:{ha2}")
    return _h(alg, f"{ha1}:{challenge.nonce}:{ha2}")


def chosen_qop(challenge: Challenge) -> str:
    if not challenge.qop:
        return ""
    if "auth" in challenge.qop:
        return "auth"
    raise DigestError(f"unsupported qop {','.join(challenge.qop)} (only auth)")


def authorization(
    challenge: Challenge,
    method: str,
    uri: str,
    username: str,
    password: str,
    cnonce: str,
    nc: int = 1,
) -> str:
    """The Authorization / Proxy-Authorization header value answering ``challenge``."""
    digest = response(challenge, method, uri, username, password, cnonce, nc)
    parts = [
        f'username="{_quote(username)}"',
        f'realm="{_quote(challenge.realm)}"',
        f'nonce="{_quote(challenge.nonce)}"',
        f'uri="{_quote(uri)}"',
        f'response="{digest}"',
        f"algorithm={challenge.algorithm}",
    ]
    qop = chosen_qop(challenge)
    if qop:
        parts += [f"qop={qop}", f'cnonce="{_quote(cnonce)}"', f"nc={nc:08x}"]
    if challenge.opaque is not None:
        parts.append(f'opaque="{_quote(challenge.opaque)}"')
    return "Digest " + ", ".join(parts)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
