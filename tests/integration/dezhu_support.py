"""A 得助 client as a tenant's program is one: it holds its RSA private key, the public half
registered with outdial (a ``dezhu_public_key`` credential), and signs every request's appId and
timestamp (SHA256withRSA). With it, the tenant's catalogue the seeds' ids stand for."""

from __future__ import annotations

import base64
import copy
import functools
import time
from dataclasses import dataclass
from typing import Any

import httpx2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.integration.dezhu_seed import CREATE_REQUEST
from tests.support import Api

PREFIX = "/speech/openapi/v1/task/outbound"


@functools.cache
def private_key(n: int = 0) -> rsa.RSAPrivateKey:
    """RSA keys are slow to make: a few serve every test (``n`` tells them apart)."""
    del n
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(serialization.Encoding.PEM, spki).decode()


def sign(key: rsa.RSAPrivateKey, app_id: str, timestamp: str) -> str:
    """The client side of the signature, as docs/reference/dezhu.md gives it."""
    signature = key.sign((app_id + timestamp).encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def now_ms(offset_seconds: float = 0) -> str:
    return str(int((time.time() + offset_seconds) * 1000))


class DezhuClient:
    """Signs each request afresh; ``headers`` replace the signed ones (to send bad ones)."""

    def __init__(self, base_url: str, app_id: str, key: rsa.RSAPrivateKey):
        self.app_id, self.key = app_id, key
        self.http = httpx2.Client(base_url=base_url + PREFIX, timeout=60)

    def signed_headers(self, offset_seconds: float = 0) -> dict[str, str]:
        ts = now_ms(offset_seconds)
        return {
            "appId": self.app_id,
            "timestamp": ts,
            "sign": sign(self.key, self.app_id, ts),
            "Content-Type": "application/json",
        }

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx2.Response:
        sent = headers if headers is not None else self.signed_headers()
        return self.http.request(method, path, json=body, params=params, headers=sent)

    def post(self, path: str, body: Any = None, **kw: Any) -> httpx2.Response:
        return self.request("POST", path, body, **kw)

    def get(self, path: str, **params: Any) -> httpx2.Response:
        return self.request("GET", path, params=params)

    def close(self) -> None:
        self.http.close()


def ok(response: httpx2.Response) -> Any:
    """A 得助 success: HTTP 200, code "10000"; its data."""
    assert response.status_code == 200, (response.status_code, response.text)
    body = response.json()
    assert body["code"] == "10000" and body["message"] == "请求成功", body
    return body["data"]


def refused(response: httpx2.Response, code: str, *fields: str) -> str:
    """得助's error form: HTTP 200, the string code, data null, each field named; the message."""
    assert response.status_code == 200, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"code", "message", "data"}, body
    assert body["code"] == code and body["data"] is None, body
    message = body["message"]
    assert isinstance(message, str) and message, body
    for field in fields:
        assert field in message, (field, message)
    return str(message)


@dataclass
class Dezhu:
    """A tenant with a line, a number group on it, a skill group, and its signing client."""

    api: Api
    client: DezhuClient
    line: dict[str, Any]
    numbers: dict[str, Any]
    skills: dict[str, Any]
    credential: dict[str, Any]

    def task_body(self, **changes: Any) -> dict[str, Any]:
        """Seed 001's create example with this tenant's skill set and number group ids."""
        body = copy.deepcopy(CREATE_REQUEST)
        body["skillSetId"] = str(self.skills["id"])
        body["outboundNumberGroupId"] = str(self.numbers["id"])
        body.update(changes)
        return {k: v for k, v in body.items() if v is not DROP}

    def create(self, **changes: Any) -> int:
        task_id = ok(self.client.post("/create", self.task_body(**changes)))
        assert isinstance(task_id, int)
        return task_id

    def native_campaigns(self) -> list[dict[str, Any]]:
        return list(self.api.ok(self.api.get("/campaigns"))["items"])

    def page(self, **params: Any) -> dict[str, Any]:
        data = ok(self.client.get("/page", **params))
        assert isinstance(data, dict)
        return data

    def close(self) -> None:
        self.client.close()


DROP = object()


def customers(count: int, start: int = 0, **fields: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": f"客户{i}",
            "desc": "",
            "externalCustomerId": str(i),
            "externalData": f"x{i}",
            "phoneGroupVoList": [
                {
                    "phoneGroupIdentify": "default",
                    "relations": [{"mobile": f"138{i:08d}", "relation": "本人"}],
                }
            ],
            **fields,
        }
        for i in range(start, start + count)
    ]


def make_dezhu(
    base_url: str,
    api: Api,
    channels: int = 5,
    settings: dict[str, Any] | None = None,
    key_number: int = 0,
) -> Dezhu:
    line = api.ok(
        api.post(
            "/lines",
            {
                "name": "得助线路",
                "channels": channels,
                "caller_numbers": [{"number": "02161230000"}, {"number": "01061230000"}],
                "settings": settings or {},
            },
        ),
        201,
    )
    numbers = api.ok(
        api.post(
            "/number-groups",
            {"name": "外呼号码组", "line_id": line["id"], "numbers": ["02161230000"]},
        ),
        201,
    )
    skills = api.ok(api.post("/skill-groups", {"name": "外呼技能组", "line_id": line["id"]}), 201)
    key = private_key(key_number)
    credential = api.ok(
        api.post(
            "/credentials",
            {"kind": "dezhu_public_key", "name": "得助", "public_key": public_pem(key)},
        ),
        201,
    )
    client = DezhuClient(base_url, credential["key_id"], key)
    return Dezhu(api, client, line, numbers, skills, credential)
