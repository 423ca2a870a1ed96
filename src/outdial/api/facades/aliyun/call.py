"""One RPC call: who signed it (the tenant behind the AccessKey), its parameters, and the
table of actions it is dispatched on."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from outdial.api.facades.aliyun import signature as sig
from outdial.api.facades.aliyun.errors import AliyunError, invalid, missing
from outdial.api.facades.aliyun.params import Params, form_pairs
from outdial.services.common import Tenant
from outdial.services.container import Services
from outdial.services.credentials import AliyunKey

VERSION = "2019-12-26"


@dataclass(frozen=True)
class Call:
    services: Services
    tenant: Tenant
    access_key_id: str
    params: Params
    base_url: str  # http://host:port, for the links outdial serves (uploads, exports)

    def instance(self) -> str:
        """InstanceId, which must be the caller's tenant (an Alibaba instance)."""
        instance_id = self.params.required("InstanceId")
        if instance_id != self.tenant.uuid:
            raise AliyunError(404, "NotExist.Instance", "The specified Instance does not exist.")
        return instance_id


Action = Callable[[Call], dict[str, Any]]
ACTIONS: dict[str, Action] = {}


def action(name: str) -> Callable[[Action], Action]:
    def register(handler: Action) -> Action:
        ACTIONS[name] = handler
        return handler

    return register


def handler_for(name: str | None) -> Action:
    if not name:
        raise missing("Action")
    handler = ACTIONS.get(name)
    if handler is None:
        raise AliyunError(
            404,
            "InvalidAction.NotFound",
            f"Specified api {name} is not found, please check your url and method.",
        )
    return handler


@dataclass(frozen=True)
class Signed:
    """What a request carries for its signature check (raw, as it came)."""

    method: str
    raw_query: str
    headers: Mapping[str, list[str]]  # lowercase names
    body: bytes
    params: Params
    pairs: list[tuple[str, str]]  # query then form body, for the v1 string to sign

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None


def authenticate(services: Services, request: Signed) -> tuple[Tenant, str, str | None]:
    """(tenant, AccessKeyId, action) of a request whose signature, date and nonce hold."""
    authorization = request.header("authorization") or ""
    if authorization.startswith("ACS3-"):
        return _acs3(services, request, authorization)
    return _v1(services, request)


def _secret(services: Services, access_key_id: str) -> AliyunKey:
    hit = services.credentials.aliyun_secret(access_key_id)
    if hit is None:
        raise AliyunError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    return hit


def _acs3(
    services: Services, request: Signed, authorization: str
) -> tuple[Tenant, str, str | None]:
    auth = sig.parse_acs3(authorization)
    tenant, secret, credential = _secret(services, auth.access_key_id)
    sig.check_signed_headers(auth.signed_headers)
    payload_hash = request.header("x-acs-content-sha256") or sig.EMPTY_SHA256
    to_sign = sig.acs3_string_to_sign(
        request.method, request.raw_query, request.headers, auth.signed_headers, payload_hash
    )
    if payload_hash != _sha256(request.body):
        raise sig.mismatch(to_sign)
    if not sig.same(sig.acs3_signature(secret, to_sign), auth.signature):
        raise sig.mismatch(to_sign)
    _check_version(request.header("x-acs-version"), "x-acs-version")
    date = request.header("x-acs-date") or ""
    until = sig.check_fresh("x-acs-date", date, services.clock.now())
    _use_nonce(services, auth.access_key_id, request.header("x-acs-signature-nonce"), until)
    services.credentials.touch(credential)
    return tenant, auth.access_key_id, request.header("x-acs-action")


def _v1(services: Services, request: Signed) -> tuple[Tenant, str, str | None]:
    p = request.params
    access_key_id = p.required("AccessKeyId")
    given = p.required("Signature")
    tenant, secret, credential = _secret(services, access_key_id)
    to_sign = sig.v1_string_to_sign(request.method, request.pairs)
    if not sig.same(sig.v1_signature(secret, to_sign), given):
        raise sig.mismatch(to_sign)
    if (p.text("SignatureMethod") or "") != "HMAC-SHA1":
        raise invalid("SignatureMethod", "use HMAC-SHA1")
    if (p.text("SignatureVersion") or "") != "1.0":
        raise invalid("SignatureVersion", "use 1.0")
    _check_version(p.text("Version"), "Version")
    until = sig.check_fresh("Timestamp", p.required("Timestamp"), services.clock.now())
    _use_nonce(services, access_key_id, p.text("SignatureNonce"), until)
    services.credentials.touch(credential)
    return tenant, access_key_id, p.text("Action") or request.header("x-acs-action")


def _check_version(version: str | None, name: str) -> None:
    if not version:
        raise missing(name)
    if version != VERSION:
        raise AliyunError(400, "InvalidVersion", f"Specified parameter {name} is not valid.")


def _use_nonce(services: Services, key_id: str, nonce: str | None, until: datetime) -> None:
    if not nonce:
        raise missing("SignatureNonce")
    if not services.nonces.use(f"aliyun:{key_id}", nonce, until):
        raise AliyunError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def signed_request(
    method: str, raw_query: str, headers: Mapping[str, list[str]], body: bytes, form: bool
) -> Signed:
    pairs = form_pairs(raw_query) + (form_pairs(body) if form else [])
    return Signed(method, raw_query, headers, body, Params(pairs), pairs)
