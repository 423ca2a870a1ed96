"""Helpers of the Alibaba facade tests: a tenant set up as an OutboundBot instance, the
official SDK clients pointed at the live server, and an independent v1 signer for raw calls."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx2
from alibabacloud_outboundbot20191226.client import Client
from alibabacloud_tea_openapi.utils_models import Config
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import RpcRequest

from tests.support import Api

SECRET = "testAkSecret-0123456789"


@dataclass
class Instance:
    """A tenant with an AccessKey pair, a line holding 95187 and 057100000000, a script."""

    base_url: str
    api: Api  # the tenant's native API client
    instance_id: str  # the tenant's uuid
    key_id: str
    secret: str
    script_id: str  # the script's uuid
    line_id: int

    def tea(self, algorithm: str | None = None) -> Client:
        host = self.base_url.removeprefix("http://")
        config = Config(
            access_key_id=self.key_id,
            access_key_secret=self.secret,
            endpoint=host,
            protocol="http",
            read_timeout=60_000,
            connect_timeout=10_000,
        )
        if algorithm is not None:
            config.signature_algorithm = algorithm
        return Client(config)

    def legacy(self) -> AcsClient:
        return AcsClient(self.key_id, self.secret, "cn-shanghai", auto_retry=False, timeout=60)

    def legacy_call(self, request: RpcRequest) -> dict[str, Any]:
        request.set_endpoint(self.base_url.removeprefix("http://"))
        request.set_protocol_type("http")
        raw = self.legacy().do_action_with_exception(request)
        result: dict[str, Any] = json.loads(raw)
        return result

    def call(self, action: str, **params: Any) -> httpx2.Response:
        """A v1-signed POST (parameters in the query) with the instance's key."""
        return signed_call(self.base_url, self.key_id, self.secret, action, params)


def make_instance(base_url: str, api: Api) -> Instance:
    tenant = api.tenant  # type: ignore[attr-defined]
    key_id = "AK" + uuid.uuid4().hex[:18]
    api.ok(
        api.post(
            "/credentials",
            {"kind": "aliyun_access_key", "access_key_id": key_id, "access_key_secret": SECRET},
        ),
        201,
    )
    numbers = [{"number": "95187"}, {"number": "057100000000"}]
    line = api.ok(
        api.post("/lines", {"name": "trunk", "channels": 10, "caller_numbers": numbers}), 201
    )
    script = api.ok(api.post("/scripts", {"name": "话术"}), 201)
    return Instance(base_url, api, tenant["uuid"], key_id, SECRET, script["uuid"], line["id"])


def pct(text: str) -> str:
    return quote(text, safe="~")


def v1_sign(secret: str, method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{pct(k)}={pct(params[k])}" for k in sorted(params))
    to_sign = f"{method}&{pct('/')}&{pct(canonical)}"
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def v1_params(
    key_id: str,
    secret: str,
    action: str,
    params: dict[str, Any],
    when: datetime | None = None,
    nonce: str | None = None,
    method: str = "POST",
) -> dict[str, str]:
    values = {k: _text(v) for k, v in params.items()}
    values |= {
        "Action": action,
        "Version": "2019-12-26",
        "Format": values.get("Format", "JSON"),
        "AccessKeyId": key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "Timestamp": (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    values["Signature"] = v1_sign(secret, method, values)
    return values


def signed_call(
    base_url: str,
    key_id: str,
    secret: str,
    action: str,
    params: dict[str, Any],
    tamper: Callable[[dict[str, str]], None] | None = None,
    **options: Any,
) -> httpx2.Response:
    values = v1_params(key_id, secret, action, params, **options)
    if tamper is not None:
        tamper(values)
    method = options.get("method", "POST")
    url = f"{base_url}/?{urlencode(values, quote_via=quote)}"
    return httpx2.request(method, url, timeout=60)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def alibaba_error(response: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    """The Alibaba error body, with its status and code."""
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert body["Code"] == code, body
    assert body["Success"] is False and body["HttpStatusCode"] == status
    assert body["RequestId"] and body["Message"]
    return body
