"""Credentials through the real HTTP server: each kind, secrets shown once, rotation, revocation,
得助 public-key formats, validation and tenant isolation."""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import select

from outdial.domain.errors import Unauthenticated
from outdial.services.container import Services
from outdial.services.credentials import CredentialService
from outdial.store.schema import credentials
from tests.support import Api, fields

Server = tuple[str, Services]
HIDDEN = {"secret_hash", "secret_encrypted"}


# --- keys ------------------------------------------------------------------------------------


@cache
def rsa_key(bits: int = 2048, n: int = 0) -> rsa.RSAPrivateKey:
    """RSA keys are slow to make; the same few serve every test (``n`` tells them apart)."""
    del n
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def spki_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def pkcs1_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        .decode()
    )


def spki_der_base64(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


# --- helpers ---------------------------------------------------------------------------------


def create(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = api.ok(api.post("/credentials", body), 201)
    return out


def assert_no_secret(item: dict[str, Any]) -> None:
    assert item["secret"] is None, item
    assert not HIDDEN & set(item), item


def assert_422(response: Any, field: str) -> dict[str, Any]:
    assert response.status_code == 422, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert body["code"] == "validation_error"
    assert field in fields(response) or field in body["message"], body
    return body


def client(server: Server, key: str) -> Api:
    return Api(server[0], key)


def works(server: Server, key: str) -> int:
    """The status of GET /me with this key."""
    probe = client(server, key)
    try:
        return probe.get("/me").status_code
    finally:
        probe.close()


def stored_row(server: Server, cred_id: int) -> dict[str, Any]:
    with server[1].store.read() as conn:
        row = conn.execute(select(credentials).where(credentials.c.id == cred_id)).one()
    return dict(row._mapping)


def tenant_id(api: Api) -> int:
    return int(api.tenant["id"])  # type: ignore[attr-defined]


# --- each kind -------------------------------------------------------------------------------


def test_create_api_key_shows_the_secret_once(server: Server, api: Api) -> None:
    cred = create(api, {"kind": "api_key", "name": "ci"})
    assert cred["kind"] == "api_key"
    assert cred["name"] == "ci"
    assert cred["status"] == "active"
    assert cred["tenant_id"] == tenant_id(api)
    assert cred["secret"].startswith("od_") and len(cred["secret"]) >= 40
    assert cred["secret"] not in cred["key_id"]
    assert not HIDDEN & set(cred)
    assert_no_secret(api.ok(api.get(f"/credentials/{cred['id']}")))
    listed = api.ok(api.get("/credentials"))
    assert listed["total"] == 2  # the tenant's first key and this one
    for item in listed["items"]:
        assert_no_secret(item)
    assert cred["secret"] not in api.get("/credentials").text
    assert cred["secret"] not in api.get(f"/credentials/{cred['id']}").text


def test_a_second_api_key_authenticates_as_the_same_tenant(server: Server, api: Api) -> None:
    second = create(api, {"kind": "api_key"})
    other = client(server, second["secret"])
    try:
        me = other.ok(other.get("/me"))
        assert me["id"] == tenant_id(api)
        # and it may manage credentials too
        assert other.ok(other.get("/credentials"))["total"] == 2
    finally:
        other.close()
    used = api.ok(api.get(f"/credentials/{second['id']}"))
    assert used["last_used_at"] is not None


def test_create_aliyun_access_key_generates_a_pair(server: Server, api: Api) -> None:
    cred = create(api, {"kind": "aliyun_access_key", "name": "outbound bot"})
    assert cred["key_id"].startswith("LTAI")
    assert len(cred["secret"]) >= 16
    found = server[1].credentials.aliyun_secret(cred["key_id"])
    assert found is not None
    tenant, secret, _ = found
    assert tenant.id == tenant_id(api)
    assert secret == cred["secret"]
    assert_no_secret(api.ok(api.get(f"/credentials/{cred['id']}")))


def test_create_aliyun_access_key_keeps_a_client_supplied_pair(server: Server, api: Api) -> None:
    key_id = "LTAI" + uuid.uuid4().hex[:16]
    secret = "s3cr3t-" + uuid.uuid4().hex
    cred = create(
        api, {"kind": "aliyun_access_key", "access_key_id": key_id, "access_key_secret": secret}
    )
    assert cred["key_id"] == key_id
    assert cred["secret"] == secret
    found = server[1].credentials.aliyun_secret(key_id)
    assert found is not None and found[1] == secret


def test_aliyun_secret_is_encrypted_at_rest(server: Server, api: Api) -> None:
    secret = "PlainTextSecret" + uuid.uuid4().hex
    cred = create(
        api,
        {
            "kind": "aliyun_access_key",
            "access_key_id": "LTAI" + uuid.uuid4().hex[:16],
            "access_key_secret": secret,
        },
    )
    row = stored_row(server, cred["id"])
    assert row["secret_encrypted"]
    for column, value in row.items():
        assert secret not in str(value), column
    rotated = api.ok(api.post(f"/credentials/{cred['id']}/rotate"))
    row = stored_row(server, cred["id"])
    for column, value in row.items():
        assert rotated["secret"] not in str(value), column
        assert secret not in str(value), column


def test_api_key_and_yunfu_token_are_stored_as_hashes(server: Server, api: Api) -> None:
    for kind in ("api_key", "yunfu_token"):
        cred = create(api, {"kind": kind})
        row = stored_row(server, cred["id"])
        assert row["secret_hash"] and row["secret_encrypted"] is None
        for column, value in row.items():
            assert cred["secret"] not in str(value), (kind, column)


def test_create_yunfu_token(server: Server, api: Api) -> None:
    cred = create(api, {"kind": "yunfu_token", "name": "yunfu"})
    assert cred["secret"].startswith("yf_")
    tenant = server[1].credentials.tenant_for_token("yunfu_token", cred["secret"])
    assert tenant.id == tenant_id(api)
    # A 云蝠 token is not a native API key, and the other way round.
    assert works(server, cred["secret"]) == 401
    with pytest.raises(Unauthenticated):
        server[1].credentials.tenant_for_token("yunfu_token", api.tenant["api_key"])  # type: ignore[attr-defined]


def test_create_yunfu_token_keeps_a_client_supplied_token(server: Server, api: Api) -> None:
    token = "my-yunfu-token-" + uuid.uuid4().hex
    cred = create(api, {"kind": "yunfu_token", "token": token})
    assert cred["secret"] == token
    assert server[1].credentials.tenant_for_token("yunfu_token", token).id == tenant_id(api)
    assert_no_secret(api.ok(api.get(f"/credentials/{cred['id']}")))


def test_create_dezhu_public_key(server: Server, api: Api) -> None:
    key = rsa_key()
    cred = create(api, {"kind": "dezhu_public_key", "name": "dezhu", "public_key": spki_pem(key)})
    assert cred["secret"] is None
    assert cred["public_key"] == spki_pem(key)
    app_id = cred["key_id"]
    assert len(app_id) == 32 and all(c in "0123456789abcdef" for c in app_id)
    found = server[1].credentials.dezhu_public_key(app_id)
    assert found is not None
    assert found[0].id == tenant_id(api)
    assert found[1] == spki_pem(key)
    fetched = api.ok(api.get(f"/credentials/{cred['id']}"))
    assert fetched["public_key"] == spki_pem(key)


def _spki_pem_with_crlf(key: rsa.RSAPrivateKey) -> str:
    return "  \r\n" + spki_pem(key).replace("\n", "\r\n") + "\r\n"


def _der_base64_wrapped(key: rsa.RSAPrivateKey) -> str:
    text = spki_der_base64(key)
    return "\n".join(text[i : i + 64] for i in range(0, len(text), 64))


@pytest.mark.parametrize(
    "encode",
    [spki_pem, pkcs1_pem, spki_der_base64, _der_base64_wrapped, _spki_pem_with_crlf],
    ids=["spki-pem", "pkcs1-pem", "base64-der", "base64-der-wrapped", "spki-pem-crlf"],
)
def test_dezhu_public_key_formats_are_stored_as_spki_pem(
    server: Server, api: Api, encode: Callable[[rsa.RSAPrivateKey], str]
) -> None:
    key = rsa_key()
    app_id = "app_" + uuid.uuid4().hex[:12]
    cred = create(api, {"kind": "dezhu_public_key", "app_id": app_id, "public_key": encode(key)})
    assert cred["key_id"] == app_id
    assert cred["public_key"] == spki_pem(key)
    assert cred["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    found = server[1].credentials.dezhu_public_key(app_id)
    assert found is not None and found[1] == spki_pem(key)
    loaded = serialization.load_pem_public_key(found[1].encode())
    assert isinstance(loaded, rsa.RSAPublicKey)
    assert loaded.public_numbers() == key.public_key().public_numbers()


def test_a_larger_rsa_key_is_accepted(api: Api) -> None:
    key = rsa_key(3072)
    cred = create(api, {"kind": "dezhu_public_key", "public_key": spki_pem(key)})
    assert cred["public_key"] == spki_pem(key)


def _private_pem() -> str:
    return (
        rsa_key()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


@pytest.mark.parametrize(
    "public_key",
    [
        pytest.param(lambda: spki_pem(rsa_key(1024)), id="rsa-1024"),
        pytest.param(lambda: pkcs1_pem(rsa_key(1024)), id="rsa-1024-pkcs1"),
        pytest.param(lambda: spki_der_base64(rsa_key(1024)), id="rsa-1024-der"),
        pytest.param(lambda: spki_pem(ec.generate_private_key(ec.SECP256R1())), id="ec"),
        pytest.param(lambda: "this is not a key at all", id="garbage"),
        pytest.param(lambda: "QUJDRA==", id="base64-not-der"),
        pytest.param(
            lambda: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", id="pem"
        ),
        pytest.param(_private_pem, id="private-key"),
        pytest.param(lambda: spki_pem(rsa_key())[:-60], id="truncated"),
    ],
)
def test_bad_dezhu_public_keys_are_422_on_public_key(
    api: Api, public_key: Callable[[], str]
) -> None:
    response = api.post("/credentials", {"kind": "dezhu_public_key", "public_key": public_key()})
    assert_422(response, "public_key")
    assert fields(response) == {"public_key"}
    assert api.ok(api.get("/credentials", kind="dezhu_public_key"))["total"] == 0


def test_dezhu_public_key_is_required(api: Api) -> None:
    assert_422(api.post("/credentials", {"kind": "dezhu_public_key"}), "public_key")
    assert_422(
        api.post("/credentials", {"kind": "dezhu_public_key", "public_key": ""}), "public_key"
    )


# --- rotation --------------------------------------------------------------------------------


def test_rotating_an_api_key_stops_the_old_one_at_once(server: Server, api: Api) -> None:
    cred = create(api, {"kind": "api_key"})
    old = cred["secret"]
    assert works(server, old) == 200
    rotated = api.ok(api.post(f"/credentials/{cred['id']}/rotate"))
    assert rotated["id"] == cred["id"]
    assert rotated["secret"].startswith("od_") and rotated["secret"] != old
    assert rotated["rotated_at"] is not None
    assert rotated["status"] == "active"
    assert works(server, old) == 401
    assert works(server, rotated["secret"]) == 200
    assert_no_secret(api.ok(api.get(f"/credentials/{cred['id']}")))


def test_rotating_the_key_in_use(server: Server, api: Api) -> None:
    first = api.ok(api.get("/credentials"))["items"][0]
    rotated = api.ok(api.post(f"/credentials/{first['id']}/rotate", {}))
    assert api.get("/me").status_code == 401
    assert works(server, rotated["secret"]) == 200


def test_rotating_an_aliyun_key_keeps_the_id_and_changes_the_secret(
    server: Server, api: Api
) -> None:
    key_id = "LTAI" + uuid.uuid4().hex[:16]
    old = "old-secret-" + uuid.uuid4().hex
    cred = create(
        api, {"kind": "aliyun_access_key", "access_key_id": key_id, "access_key_secret": old}
    )
    rotated = api.ok(api.post(f"/credentials/{cred['id']}/rotate"))
    assert rotated["key_id"] == key_id
    assert rotated["secret"] and rotated["secret"] != old
    found = server[1].credentials.aliyun_secret(key_id)
    assert found is not None
    assert found[1] == rotated["secret"]
    assert found[0].id == tenant_id(api)


def test_rotating_a_yunfu_token(server: Server, api: Api) -> None:
    token = "yunfu-client-token-" + uuid.uuid4().hex
    cred = create(api, {"kind": "yunfu_token", "token": token})
    rotated = api.ok(api.post(f"/credentials/{cred['id']}/rotate"))
    assert rotated["secret"] != token and rotated["secret"].startswith("yf_")
    with pytest.raises(Unauthenticated):
        server[1].credentials.tenant_for_token("yunfu_token", token)
    tenant = server[1].credentials.tenant_for_token("yunfu_token", rotated["secret"])
    assert tenant.id == tenant_id(api)


def test_rotating_a_dezhu_key_needs_a_new_public_key(server: Server, api: Api) -> None:
    first, second = rsa_key(2048, 0), rsa_key(2048, 1)
    cred = create(api, {"kind": "dezhu_public_key", "public_key": spki_pem(first)})
    path = f"/credentials/{cred['id']}/rotate"
    assert_422(api.post(path), "public_key")
    assert_422(api.post(path, {}), "public_key")
    assert_422(api.post(path, {"public_key": "garbage"}), "public_key")
    assert_422(api.post(path, {"public_key": spki_pem(rsa_key(1024))}), "public_key")
    found = server[1].credentials.dezhu_public_key(cred["key_id"])
    assert found is not None and found[1] == spki_pem(first)
    rotated = api.ok(api.post(path, {"public_key": pkcs1_pem(second)}))
    assert rotated["key_id"] == cred["key_id"]
    assert rotated["public_key"] == spki_pem(second)
    assert rotated["secret"] is None
    found = server[1].credentials.dezhu_public_key(cred["key_id"])
    assert found is not None and found[1] == spki_pem(second)


@pytest.mark.parametrize("kind", ["api_key", "aliyun_access_key", "yunfu_token"])
def test_rotating_other_kinds_refuses_a_public_key(server: Server, api: Api, kind: str) -> None:
    cred = create(api, {"kind": kind})
    response = api.post(f"/credentials/{cred['id']}/rotate", {"public_key": spki_pem(rsa_key())})
    assert_422(response, "public_key")
    if kind == "api_key":
        assert works(server, cred["secret"]) == 200


def test_rotate_rejects_unknown_fields(api: Api) -> None:
    cred = create(api, {"kind": "api_key"})
    assert_422(api.post(f"/credentials/{cred['id']}/rotate", {"token": "x" * 30}), "token")


# --- revocation ------------------------------------------------------------------------------


def test_revoking_an_api_key(server: Server, api: Api) -> None:
    cred = create(api, {"kind": "api_key"})
    revoked = api.ok(api.post(f"/credentials/{cred['id']}/revoke"))
    assert revoked["status"] == "revoked"
    assert revoked["revoked_at"] is not None
    assert_no_secret(revoked)
    assert works(server, cred["secret"]) == 401
    assert api.ok(api.get(f"/credentials/{cred['id']}"))["status"] == "revoked"
    response = api.post(f"/credentials/{cred['id']}/rotate")
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "conflict"
    assert works(server, cred["secret"]) == 401


def test_revoking_facade_credentials(server: Server, api: Api) -> None:
    aliyun = create(api, {"kind": "aliyun_access_key"})
    yunfu = create(api, {"kind": "yunfu_token"})
    dezhu = create(api, {"kind": "dezhu_public_key", "public_key": spki_pem(rsa_key())})
    for cred in (aliyun, yunfu, dezhu):
        assert api.ok(api.post(f"/credentials/{cred['id']}/revoke"))["status"] == "revoked"
    assert server[1].credentials.aliyun_secret(aliyun["key_id"]) is None
    assert server[1].credentials.dezhu_public_key(dezhu["key_id"]) is None
    with pytest.raises(Unauthenticated):
        server[1].credentials.tenant_for_token("yunfu_token", yunfu["secret"])


def test_revoking_twice_is_409_and_keeps_the_first_revocation(server: Server, api: Api) -> None:
    cred = create(api, {"kind": "yunfu_token"})
    revoked = api.ok(api.post(f"/credentials/{cred['id']}/revoke"))
    stored = stored_row(server, cred["id"])
    response = api.post(f"/credentials/{cred['id']}/revoke")
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "conflict" and body["state"] == "revoked"
    assert "already revoked" in body["message"]
    assert api.ok(api.get(f"/credentials/{cred['id']}")) == revoked
    assert stored_row(server, cred["id"]) == stored


def test_revoked_key_ids_stay_taken(api: Api) -> None:
    key_id = "LTAI" + uuid.uuid4().hex[:16]
    body = {"kind": "aliyun_access_key", "access_key_id": key_id, "access_key_secret": "x" * 20}
    cred = create(api, body)
    api.ok(api.post(f"/credentials/{cred['id']}/revoke"))
    assert api.post("/credentials", body).status_code == 409


# --- conflicts and validation ----------------------------------------------------------------


def test_duplicate_aliyun_access_key_id_across_tenants_is_409(
    server: Server, new_tenant: Callable[..., Api]
) -> None:
    first, second = new_tenant(), new_tenant()
    key_id = "LTAI" + uuid.uuid4().hex[:16]
    create(
        first,
        {"kind": "aliyun_access_key", "access_key_id": key_id, "access_key_secret": "a" * 20},
    )
    response = second.post(
        "/credentials",
        {"kind": "aliyun_access_key", "access_key_id": key_id, "access_key_secret": "b" * 20},
    )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "conflict"
    found = server[1].credentials.aliyun_secret(key_id)
    assert found is not None
    assert found[0].id == tenant_id(first) and found[1] == "a" * 20
    assert second.ok(second.get("/credentials", kind="aliyun_access_key"))["total"] == 0


def test_duplicate_yunfu_token_and_dezhu_app_id_are_409(new_tenant: Callable[..., Api]) -> None:
    first, second = new_tenant(), new_tenant()
    token = "shared-yunfu-token-" + uuid.uuid4().hex
    create(first, {"kind": "yunfu_token", "token": token})
    assert second.post("/credentials", {"kind": "yunfu_token", "token": token}).status_code == 409
    app_id = "dz_" + uuid.uuid4().hex[:10]
    body = {"kind": "dezhu_public_key", "app_id": app_id, "public_key": spki_pem(rsa_key())}
    create(first, body)
    assert second.post("/credentials", body).status_code == 409
    assert first.post("/credentials", body).status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "api_key", "token": "t" * 30}, "token"),
        ({"kind": "api_key", "public_key": "x"}, "public_key"),
        ({"kind": "api_key", "access_key_id": "LTAI12345678"}, "access_key_id"),
        ({"kind": "yunfu_token", "app_id": "abc"}, "app_id"),
        ({"kind": "yunfu_token", "access_key_secret": "s" * 20}, "access_key_secret"),
        ({"kind": "aliyun_access_key", "token": "t" * 30}, "token"),
        ({"kind": "aliyun_access_key", "app_id": "abc"}, "app_id"),
        ({"kind": "aliyun_access_key", "access_key_id": "LTAI12345678"}, "access_key_secret"),
        ({"kind": "aliyun_access_key", "access_key_secret": "s" * 20}, "access_key_id"),
        (
            {
                "kind": "aliyun_access_key",
                "access_key_id": "bad id!",
                "access_key_secret": "s" * 20,
            },
            "access_key_id",
        ),
        (
            {
                "kind": "aliyun_access_key",
                "access_key_id": "LTAI12345678",
                "access_key_secret": "short",
            },
            "access_key_secret",
        ),
        ({"kind": "yunfu_token", "token": "short"}, "token"),
        ({"kind": "dezhu_public_key", "public_key": "x", "token": "t" * 30}, "token"),
        ({"kind": "dezhu_public_key", "public_key": "x", "app_id": "has space"}, "app_id"),
        ({"kind": "password"}, "kind"),
        ({}, "kind"),
        ({"kind": "api_key", "colour": "red"}, "colour"),
        ({"kind": "api_key", "name": "n" * 101}, "name"),
    ],
)
def test_invalid_credential_input_is_422(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.post("/credentials", body)
    assert_422(response, field)
    assert fields(response) == {field}  # the field itself, never "body"
    assert api.ok(api.get("/credentials"))["total"] == 1


def test_kind_rules_name_every_offending_field(api: Api) -> None:
    response = api.post("/credentials", {"kind": "api_key", "token": "t" * 30, "app_id": "abc"})
    assert_422(response, "token")
    details = {d["field"]: d["message"] for d in response.json()["details"]}
    assert details == {
        "app_id": "not allowed for kind api_key",
        "token": "not allowed for kind api_key",
    }
    response = api.post("/credentials", {"kind": "dezhu_public_key", "app_id": "abc"})
    assert fields(response) == {"public_key"}
    assert "required" in response.json()["details"][0]["message"]
    response = api.post("/credentials", {"kind": "aliyun_access_key", "access_key_id": "LTAI1234"})
    assert fields(response) == {"access_key_secret"}
    assert "together" in response.json()["details"][0]["message"]
    assert api.ok(api.get("/credentials"))["total"] == 1


def test_list_filters_by_kind_and_pages(api: Api) -> None:
    create(api, {"kind": "yunfu_token"})
    create(api, {"kind": "yunfu_token"})
    create(api, {"kind": "aliyun_access_key"})
    everything = api.ok(api.get("/credentials"))
    assert everything["total"] == 4
    assert api.ok(api.get("/credentials", kind="yunfu_token"))["total"] == 2
    assert api.ok(api.get("/credentials", kind="api_key"))["total"] == 1
    page = api.ok(api.get("/credentials", page_size=3, page=2))
    assert page["total"] == 4 and len(page["items"]) == 1
    for item in everything["items"]:
        assert_no_secret(item)
    response = api.get("/credentials", secret="x")
    assert_422(response, "secret")
    for kind in ("password", "API_KEY", ""):
        response = api.get("/credentials", kind=kind)
        assert_422(response, "kind")
        assert fields(response) == {"kind"}
        assert "yunfu_token" in response.json()["details"][0]["message"]


# --- races -----------------------------------------------------------------------------------


def test_concurrent_creates_of_one_key_id(server: Server, new_tenant: Callable[..., Api]) -> None:
    """Eight tenants bring the same AccessKeyId at once: one wins, the others get 409."""
    tenants = [new_tenant() for _ in range(8)]
    key_id = "LTAI" + uuid.uuid4().hex[:16]
    body = {"kind": "aliyun_access_key", "access_key_id": key_id, "access_key_secret": "s" * 20}
    barrier = threading.Barrier(len(tenants))

    def go(api: Api) -> Any:
        barrier.wait()
        return api.post("/credentials", body)

    with ThreadPoolExecutor(len(tenants)) as pool:
        responses = list(pool.map(go, tenants))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7, [
        r.text for r in responses
    ]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"conflict"}
    owners = [t for t, r in zip(tenants, responses, strict=True) if r.status_code == 201]
    found = server[1].credentials.aliyun_secret(key_id)
    assert found is not None and found[0].id == tenant_id(owners[0])


def test_a_key_id_lost_to_a_concurrent_writer_is_409_not_500(
    new_tenant: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the key-id check skipped, the unique constraint refuses the second create."""
    first, second = new_tenant(), new_tenant()
    token = "raced-yunfu-token-" + uuid.uuid4().hex
    create(first, {"kind": "yunfu_token", "token": token})
    monkeypatch.setattr(CredentialService, "_key_taken", lambda *_args, **_kw: False)
    response = second.post("/credentials", {"kind": "yunfu_token", "token": token})
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "conflict"
    assert second.ok(second.get("/credentials"))["total"] == 1


# --- isolation -------------------------------------------------------------------------------


def test_another_tenants_credential_is_404(server: Server, new_tenant: Callable[..., Api]) -> None:
    owner, stranger = new_tenant(), new_tenant()
    cred = create(owner, {"kind": "api_key"})
    path = f"/credentials/{cred['id']}"
    for response in (
        stranger.get(path),
        stranger.post(f"{path}/rotate"),
        stranger.post(f"{path}/revoke"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    assert works(server, cred["secret"]) == 200
    assert cred["id"] not in {c["id"] for c in stranger.ok(stranger.get("/credentials"))["items"]}
    assert owner.ok(owner.get(path))["status"] == "active"


def test_unknown_credential_is_404(api: Api) -> None:
    for response in (
        api.get("/credentials/99999999"),
        api.post("/credentials/99999999/rotate"),
        api.post("/credentials/99999999/revoke"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
