"""The native API's edge through a real HTTP server: authentication, tenants, errors, OpenAPI."""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest

from outdial.domain import limits
from outdial.services.container import Services
from outdial.services.tenants import TenantService
from tests.conftest import ADMIN_KEY, unique
from tests.support import Api, fields

Server = tuple[str, Services]


class RawResponse:
    """What http.client got back, shaped like the bits of an httpx response the tests read."""

    def __init__(self, response: http.client.HTTPResponse):
        self.status_code = response.status
        self.headers = response.headers
        self.content = response.read()
        self.text = self.content.decode()

    def json(self) -> Any:
        return json.loads(self.content)


def raw(
    server: Server, method: str, path: str, headers: dict[str, str] | None = None
) -> RawResponse:
    """One request with exactly these headers (http.client sends what httpx would refuse)."""
    url = urlsplit(server[0])
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        conn.putrequest("GET" if method == "GET" else method, f"/api/v1{path}")
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        return RawResponse(conn.getresponse())
    finally:
        conn.close()


def assert_error(response: httpx2.Response | RawResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) >= {"code", "message", "details"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], list)
    return body


def assert_unauthenticated(response: httpx2.Response | RawResponse) -> None:
    assert_error(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].lower().startswith("bearer")


# --- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Basic dXNlcjpwYXNz",
        "Token od_something_long_enough_0123456789",
        "Bearer od_not_a_real_key_0123456789012345678901234",
        "Bearer " + "x" * 500,
    ],
)
def test_missing_malformed_or_wrong_bearer_is_401(
    server: Server, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for path in ("/me", "/credentials", "/lines", "/campaigns"):
        assert_unauthenticated(raw(server, "GET", path, headers))
    assert_unauthenticated(raw(server, "GET", "/tenants", headers))


def test_bearer_scheme_is_case_insensitive(server: Server, api: Api) -> None:
    key = api.tenant["api_key"]  # type: ignore[attr-defined]
    response = raw(server, "GET", "/me", {"Authorization": f"bearer {key}"})
    assert response.status_code == 200, response.text
    assert response.json()["id"] == api.tenant["id"]  # type: ignore[attr-defined]


def test_health_needs_no_key(anonymous: Api) -> None:
    body = anonymous.ok(anonymous.get("/health"))
    assert body["status"] == "ok"
    assert body["version"]


@pytest.mark.parametrize("path", ["/me", "/credentials", "/lines", "/campaigns", "/dnc"])
def test_admin_key_on_tenant_endpoints_is_403(admin: Api, path: str) -> None:
    assert_error(admin.get(path), 403, "forbidden")


def test_admin_key_cannot_create_tenant_resources(admin: Api) -> None:
    assert_error(admin.post("/lines", {"name": "l", "channels": 1}), 403, "forbidden")
    assert_error(admin.post("/credentials", {"kind": "api_key"}), 403, "forbidden")


def test_tenant_key_on_tenant_admin_endpoints_is_401(api: Api) -> None:
    me = api.ok(api.get("/me"))
    assert_unauthenticated(api.get("/tenants"))
    assert_unauthenticated(api.post("/tenants", {"name": unique("sneaky")}))
    assert_unauthenticated(api.get(f"/tenants/{me['id']}"))
    assert_unauthenticated(api.patch(f"/tenants/{me['id']}", {"max_contacts_per_campaign": 5}))
    assert_unauthenticated(api.delete(f"/tenants/{me['id']}"))
    assert_unauthenticated(api.post(f"/tenants/{me['id']}/api-keys"))
    assert api.ok(api.get("/me")) == me


def test_an_admin_key_with_extra_characters_is_rejected(server: Server) -> None:
    for key in (ADMIN_KEY + "x", ADMIN_KEY[:-1], ADMIN_KEY.upper()):
        assert_unauthenticated(raw(server, "GET", "/tenants", {"Authorization": f"Bearer {key}"}))


# --- tenant CRUD -----------------------------------------------------------------------------


def test_create_tenant_returns_a_working_api_key(server: Server, admin: Api) -> None:
    name = unique("acme")
    body = admin.ok(admin.post("/tenants", {"name": name}), 201)
    assert body["name"] == name
    assert body["status"] == "active"
    assert body["default_region"] == "CN"
    assert body["timezone"] == "Asia/Shanghai"
    assert body["max_contacts_per_campaign"] >= 1
    assert isinstance(body["api_key"], str) and len(body["api_key"]) >= 20
    assert body["uuid"]
    tenant = Api(server[0], body["api_key"])
    try:
        me = tenant.ok(tenant.get("/me"))
    finally:
        tenant.close()
    assert me["id"] == body["id"]
    assert me["name"] == name
    assert me.get("api_key") is None
    fetched = admin.ok(admin.get(f"/tenants/{body['id']}"))
    assert fetched["name"] == name
    assert fetched.get("api_key") is None


def test_create_tenant_with_all_fields(admin: Api) -> None:
    body = admin.ok(
        admin.post(
            "/tenants",
            {
                "name": unique("full"),
                "default_region": "us",
                "timezone": "America/New_York",
                "max_contacts_per_campaign": 1234,
                "status": "disabled",
            },
        ),
        201,
    )
    assert body["default_region"] == "US"
    assert body["timezone"] == "America/New_York"
    assert body["max_contacts_per_campaign"] == 1234
    assert body["status"] == "disabled"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "default_region": "XX"}, "default_region"),
        ({"name": "ok", "timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"name": "ok", "max_contacts_per_campaign": 0}, "max_contacts_per_campaign"),
        ({"name": "ok", "status": "deleted"}, "status"),
        ({"name": "ok", "colour": "blue"}, "colour"),
    ],
)
def test_create_tenant_validation(admin: Api, body: dict[str, Any], field: str) -> None:
    if body.get("name") == "ok":
        body = {**body, "name": unique("invalid")}
    before = admin.ok(admin.get("/tenants", page_size=1))["total"]
    response = admin.post("/tenants", body)
    assert_error(response, 422, "validation_error")
    assert field in fields(response)
    assert admin.ok(admin.get("/tenants", page_size=1))["total"] == before


def test_create_tenant_with_a_duplicate_name_is_422_on_name(admin: Api) -> None:
    name = unique("dup")
    admin.ok(admin.post("/tenants", {"name": name}), 201)
    response = admin.post("/tenants", {"name": name})
    assert_error(response, 422, "validation_error")
    assert fields(response) == {"name"}
    assert admin.ok(admin.get("/tenants", q=name))["total"] == 1


def test_list_tenants_filters_and_pages(admin: Api) -> None:
    marker = uuid.uuid4().hex[:10]
    made = [admin.ok(admin.post("/tenants", {"name": f"list-{marker}-{i}"}), 201) for i in range(5)]
    admin.ok(admin.patch(f"/tenants/{made[1]['id']}", {"status": "disabled"}))
    admin.ok(admin.patch(f"/tenants/{made[3]['id']}", {"status": "disabled"}))

    everything = admin.ok(admin.get("/tenants", q=marker))
    assert everything["total"] == 5
    assert [t["id"] for t in everything["items"]] == [t["id"] for t in made]
    assert all(t.get("api_key") is None for t in everything["items"])

    first = admin.ok(admin.get("/tenants", q=marker, page_size=2))
    second = admin.ok(admin.get("/tenants", q=marker, page_size=2, page=2))
    third = admin.ok(admin.get("/tenants", q=marker, page_size=2, page=3))
    beyond = admin.ok(admin.get("/tenants", q=marker, page_size=2, page=4))
    assert (first["page"], first["page_size"], first["total"]) == (1, 2, 5)
    assert second["page"] == 2
    ids = [t["id"] for p in (first, second, third) for t in p["items"]]
    assert ids == [t["id"] for t in made]
    assert beyond["items"] == [] and beyond["total"] == 5

    disabled = admin.ok(admin.get("/tenants", q=marker, status="disabled"))
    assert {t["id"] for t in disabled["items"]} == {made[1]["id"], made[3]["id"]}
    active = admin.ok(admin.get("/tenants", q=marker, status="active"))
    assert active["total"] == 3

    one = admin.ok(admin.get("/tenants", q=f"{marker}-4"))
    assert [t["id"] for t in one["items"]] == [made[4]["id"]]
    assert admin.ok(admin.get("/tenants", q=f"nothing-{marker}"))["total"] == 0


def test_list_tenants_q_is_literal_not_a_pattern(admin: Api) -> None:
    marker = uuid.uuid4().hex[:8]
    admin.ok(admin.post("/tenants", {"name": f"pct-{marker}-a"}), 201)
    admin.ok(admin.post("/tenants", {"name": f"pct-{marker}%b"}), 201)
    hits = admin.ok(admin.get("/tenants", q=f"{marker}%"))
    assert [t["name"] for t in hits["items"]] == [f"pct-{marker}%b"]
    assert admin.ok(admin.get("/tenants", q=f"pct_{marker}"))["total"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [({"colour": "red"}, "colour"), ({"page": "two"}, "page"), ({"page_size": "x"}, "page_size")],
)
def test_list_tenants_rejects_bad_query_parameters(
    admin: Api, params: dict[str, str], field: str
) -> None:
    response = admin.get("/tenants", **params)
    assert_error(response, 422, "validation_error")
    assert field in fields(response)


def test_patch_tenant_fields(admin: Api) -> None:
    tenant = admin.ok(admin.post("/tenants", {"name": unique("patch")}), 201)
    path = f"/tenants/{tenant['id']}"
    new_name = unique("renamed")
    patched = admin.ok(
        admin.patch(
            path,
            {
                "name": new_name,
                "max_contacts_per_campaign": 777,
                "default_region": "hk",
                "timezone": "Asia/Hong_Kong",
            },
        )
    )
    assert patched["name"] == new_name
    assert patched["max_contacts_per_campaign"] == 777
    assert patched["default_region"] == "HK"
    assert patched["timezone"] == "Asia/Hong_Kong"
    assert patched["status"] == "active"
    assert admin.ok(admin.get(path)) == patched
    # A partial PATCH leaves the other fields alone.
    again = admin.ok(admin.patch(path, {"max_contacts_per_campaign": 5}))
    assert {
        k: v for k, v in again.items() if k not in ("max_contacts_per_campaign", "updated_at")
    } == {k: v for k, v in patched.items() if k not in ("max_contacts_per_campaign", "updated_at")}
    assert again["max_contacts_per_campaign"] == 5
    # An empty PATCH changes nothing.
    same = admin.ok(admin.patch(path, {}))
    assert same["name"] == new_name and same["max_contacts_per_campaign"] == 5


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"default_region": "XX"}, "default_region"),
        ({"default_region": ""}, "default_region"),
        ({"timezone": "Asia/Atlantis"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"max_contacts_per_campaign": 0}, "max_contacts_per_campaign"),
        ({"max_contacts_per_campaign": "many"}, "max_contacts_per_campaign"),
        ({"status": "paused"}, "status"),
        ({"name": ""}, "name"),
        ({"nickname": "x"}, "nickname"),
        ({"id": 999}, "id"),
        ({"api_key": "od_mine"}, "api_key"),
        ({"name": "fine-name", "timezone": "Nowhere/Nothing"}, "timezone"),
    ],
)
def test_patch_tenant_validation_changes_nothing(
    admin: Api, patch: dict[str, Any], field: str
) -> None:
    tenant = admin.ok(admin.post("/tenants", {"name": unique("strict")}), 201)
    tenant["api_key"] = None
    path = f"/tenants/{tenant['id']}"
    response = admin.patch(path, patch)
    assert_error(response, 422, "validation_error")
    assert field in fields(response)
    assert admin.ok(admin.get(path)) == tenant


def test_patch_tenant_with_a_duplicate_name_changes_nothing(admin: Api) -> None:
    taken = admin.ok(admin.post("/tenants", {"name": unique("taken")}), 201)
    other = admin.ok(admin.post("/tenants", {"name": unique("other")}), 201)
    other["api_key"] = None
    response = admin.patch(f"/tenants/{other['id']}", {"name": taken["name"], "timezone": "UTC"})
    assert_error(response, 422, "validation_error")
    assert fields(response) == {"name"}
    assert admin.ok(admin.get(f"/tenants/{other['id']}")) == other
    # Keeping one's own name is not a duplicate.
    kept = admin.ok(admin.patch(f"/tenants/{other['id']}", {"name": other["name"]}))
    assert kept["name"] == other["name"]


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_unknown_tenant_is_404(admin: Api, method: str) -> None:
    response = admin.http.request(
        method, "/tenants/987654321", json={} if method == "PATCH" else None
    )
    assert_error(response, 404, "not_found")


def test_tenant_id_must_be_an_integer(admin: Api) -> None:
    response = admin.get("/tenants/abc")
    assert_error(response, 422, "validation_error")
    assert "tenant_id" in fields(response)


def test_disabled_tenant_key_stops_and_resumes_working(
    admin: Api, new_tenant: Callable[..., Api]
) -> None:
    tenant = new_tenant()
    bystander = new_tenant()
    tenant_id = tenant.tenant["id"]  # type: ignore[attr-defined]
    tenant.ok(tenant.get("/me"))
    admin.ok(admin.patch(f"/tenants/{tenant_id}", {"status": "disabled"}))
    assert_unauthenticated(tenant.get("/me"))
    assert_unauthenticated(tenant.get("/lines"))
    assert_unauthenticated(tenant.post("/credentials", {"kind": "api_key"}))
    bystander.ok(bystander.get("/me"))
    admin.ok(admin.patch(f"/tenants/{tenant_id}", {"status": "active"}))
    assert tenant.ok(tenant.get("/me"))["status"] == "active"


def test_delete_tenant_removes_it_and_its_key(admin: Api, new_tenant: Callable[..., Api]) -> None:
    tenant = new_tenant()
    bystander = new_tenant()
    tenant_id = tenant.tenant["id"]  # type: ignore[attr-defined]
    tenant.ok(tenant.post("/lines", {"name": "doomed", "channels": 2}), 201)
    tenant.ok(tenant.post("/credentials", {"kind": "api_key", "name": "second"}), 201)
    response = admin.delete(f"/tenants/{tenant_id}")
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_error(admin.get(f"/tenants/{tenant_id}"), 404, "not_found")
    assert_error(admin.delete(f"/tenants/{tenant_id}"), 404, "not_found")
    assert_unauthenticated(tenant.get("/me"))
    name = tenant.tenant["name"]  # type: ignore[attr-defined]
    assert admin.ok(admin.get("/tenants", q=name))["total"] == 0
    bystander.ok(bystander.get("/me"))
    # The name is free again.
    admin.ok(admin.post("/tenants", {"name": name}), 201)


def test_me_returns_the_callers_tenant(new_tenant: Callable[..., Api]) -> None:
    first = new_tenant(default_region="US", timezone="America/Chicago")
    second = new_tenant()
    me = first.ok(first.get("/me"))
    assert me["id"] == first.tenant["id"]  # type: ignore[attr-defined]
    assert me["name"] == first.tenant["name"]  # type: ignore[attr-defined]
    assert (me["default_region"], me["timezone"]) == ("US", "America/Chicago")
    assert me.get("api_key") is None
    assert second.ok(second.get("/me"))["id"] == second.tenant["id"]  # type: ignore[attr-defined]


# --- HTTP-level errors -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nothing-here", "/tenants/1/whatever", "/campaigns/1/nope/2"])
def test_unknown_path_is_404_json(admin: Api, path: str) -> None:
    body = assert_error(admin.get(path), 404, "not_found")
    assert body["details"] == []


def test_unknown_path_outside_the_api_is_404_json(anonymous: Api) -> None:
    response = anonymous.http.get("/../../nowhere")
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/tenants"), ("DELETE", "/tenants"), ("PUT", "/me"), ("POST", "/health")],
)
def test_wrong_method_is_405_json(admin: Api, method: str, path: str) -> None:
    response = admin.http.request(method, path)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers.get("allow")


def _send_declared_length(server: Server, length: int, key: str) -> tuple[int, dict[str, Any]]:
    """Declare a huge body and send none of it: the limit must apply before reading."""
    url = urlsplit(server[0])
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        conn.putrequest("POST", "/api/v1/credentials")
        conn.putheader("Authorization", f"Bearer {key}")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_body_over_the_limit_is_413(server: Server, api: Api) -> None:
    key = api.tenant["api_key"]  # type: ignore[attr-defined]
    for length in (limits.BODY_BYTES_MAX + 1, 10 * limits.BODY_BYTES_MAX):
        status, body = _send_declared_length(server, length, key)
        assert status == 413
        assert body["code"] == "limit_exceeded"
        assert set(body) >= {"code", "message", "details"}
    assert api.ok(api.get("/credentials"))["total"] == 1


def test_a_real_oversized_body_is_413(api: Api) -> None:
    payload = b'{"kind": "api_key", "name": "' + b"x" * limits.BODY_BYTES_MAX + b'"}'
    response = api.http.post(
        "/credentials", content=payload, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "limit_exceeded")
    assert api.ok(api.get("/credentials"))["total"] == 1


def _chunks(*parts: bytes) -> Iterator[bytes]:
    yield from parts


def test_a_streamed_body_over_the_limit_is_413(api: Api) -> None:
    """A chunked body declares no length; the limit still applies to the bytes received."""
    megabyte = b"x" * (1024 * 1024)
    chunks = _chunks(b'{"kind": "api_key", "name": "', *[megabyte] * 9, b'"}')
    response = api.http.post(
        "/credentials", content=chunks, headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "limit_exceeded")
    assert api.ok(api.get("/credentials"))["total"] == 1


def test_a_small_streamed_body_is_accepted(api: Api) -> None:
    chunks = _chunks(b'{"kind": "api_', b'key", "name": "streamed"}')
    response = api.http.post(
        "/credentials", content=chunks, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "streamed"


@pytest.mark.parametrize(
    "payload", [b"{not json", b'{"name": "x",}', b"", b'{"name": "unterminated']
)
def test_malformed_json_is_422(admin: Api, payload: bytes) -> None:
    before = admin.ok(admin.get("/tenants", page_size=1))["total"]
    response = admin.http.post(
        "/tenants", content=payload, headers={"Content-Type": "application/json"}
    )
    body = assert_error(response, 422, "validation_error")
    assert body["details"], body
    assert fields(response) == {"body"}
    assert admin.ok(admin.get("/tenants", page_size=1))["total"] == before


@pytest.mark.parametrize("payload", [[], "a string", 42, None])
def test_a_json_body_of_the_wrong_type_is_422(admin: Api, payload: Any) -> None:
    response = admin.post("/tenants", payload)
    assert_error(response, 422, "validation_error")
    assert fields(response) == {"body"}


# --- OpenAPI and docs ------------------------------------------------------------------------

NATIVE_PATHS = [
    "/tenants",
    "/tenants/{tenant_id}",
    "/tenants/{tenant_id}/api-keys",
    "/me",
    "/credentials",
    "/credentials/{cred_id}",
    "/credentials/{cred_id}/rotate",
    "/credentials/{cred_id}/revoke",
    "/lines",
    "/lines/{item_id}",
    "/number-groups",
    "/number-groups/{item_id}",
    "/skill-groups",
    "/skill-groups/{item_id}",
    "/agents",
    "/agents/{item_id}",
    "/scripts",
    "/scripts/{item_id}",
    "/blackout-calendars",
    "/blackout-calendars/{item_id}",
    "/redial-policies",
    "/redial-policies/{item_id}",
    "/dnc",
    "/dnc/{entry_id}",
    "/campaigns",
    "/campaigns/{item_id}",
    "/campaigns/{item_id}/contacts",
    "/campaigns/{item_id}/contacts/{contact_id}",
    "/campaigns/{item_id}/attempts",
    "/campaigns/{item_id}/attempts/{attempt_id}",
    "/campaigns/{item_id}/stats",
    "/campaigns/{item_id}/start",
    "/campaigns/{item_id}/pause",
    "/campaigns/{item_id}/resume",
    "/campaigns/{item_id}/cancel",
    "/health",
]


def test_openapi_lists_every_native_path(anonymous: Api) -> None:
    spec = anonymous.ok(anonymous.get("/openapi.json"))
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "outdial"
    paths = spec["paths"]
    missing = [p for p in NATIVE_PATHS if f"/api/v1{p}" not in paths]
    assert missing == []
    assert {"get", "post"} <= set(paths["/api/v1/tenants"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/tenants/{tenant_id}"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/lines/{item_id}"])
    assert set(paths["/api/v1/campaigns/{item_id}/start"]) == {"post"}
    listed = {p["name"] for p in paths["/api/v1/tenants"]["get"].get("parameters", [])}
    assert {"q", "status", "page", "page_size"} <= listed


def test_docs_serve_html(anonymous: Api) -> None:
    response = anonymous.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/api/v1/openapi.json" in response.text


# --- follow-ups: filters, races, the operator's way back in ----------------------------------


@pytest.mark.parametrize("status", ["deleted", "Active", ""])
def test_unknown_tenant_status_filter_is_422(admin: Api, status: str) -> None:
    response = admin.get("/tenants", status=status)
    assert_error(response, 422, "validation_error")
    assert fields(response) == {"status"}
    assert "active" in response.json()["details"][0]["message"]


def test_concurrent_creates_of_one_tenant_name(server: Server) -> None:
    name = unique("raced")
    clients = [Api(server[0], ADMIN_KEY) for _ in range(8)]
    barrier = threading.Barrier(len(clients))

    def go(client: Api) -> httpx2.Response:
        barrier.wait()
        return client.post("/tenants", {"name": name})

    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            responses = list(pool.map(go, clients))
        assert sorted(r.status_code for r in responses) == [201] + [422] * 7, [
            r.text for r in responses
        ]
        for response in responses:
            if response.status_code == 422:
                assert fields(response) == {"name"}
        assert clients[0].ok(clients[0].get("/tenants", q=name))["total"] == 1
    finally:
        for client in clients:
            client.close()


def test_a_tenant_name_lost_to_a_concurrent_writer_is_422_not_500(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check-then-insert window made certain: with the name check skipped, the unique
    constraint refuses the write, and the caller still gets 422 on ``name``."""
    name = unique("taken")
    admin.ok(admin.post("/tenants", {"name": name}), 201)
    other = admin.ok(admin.post("/tenants", {"name": unique("other")}), 201)
    monkeypatch.setattr(TenantService, "_check_name", lambda *_args, **_kw: None)
    response = admin.post("/tenants", {"name": name})
    assert_error(response, 422, "validation_error")
    assert fields(response) == {"name"}
    assert admin.ok(admin.get("/tenants", q=name))["total"] == 1
    response = admin.patch(f"/tenants/{other['id']}", {"name": name})
    assert_error(response, 422, "validation_error")
    assert fields(response) == {"name"}
    assert admin.ok(admin.get(f"/tenants/{other['id']}"))["name"] == other["name"]


def test_the_admin_issues_a_new_key_to_a_locked_out_tenant(server: Server, admin: Api) -> None:
    tenant = admin.ok(admin.post("/tenants", {"name": unique("locked")}), 201)
    first = Api(server[0], tenant["api_key"])
    try:
        only = first.ok(first.get("/credentials"))["items"][0]
        first.ok(first.post(f"/credentials/{only['id']}/revoke"))
        assert_unauthenticated(first.get("/me"))
    finally:
        first.close()

    issued = admin.ok(admin.post(f"/tenants/{tenant['id']}/api-keys"), 201)
    assert issued["kind"] == "api_key" and issued["status"] == "active"
    assert issued["tenant_id"] == tenant["id"]
    assert issued["secret"].startswith("od_")
    assert not {"secret_hash", "secret_encrypted"} & set(issued)
    named = admin.ok(admin.post(f"/tenants/{tenant['id']}/api-keys", {"name": "recovery"}), 201)
    assert named["name"] == "recovery" and named["secret"] != issued["secret"]

    back = Api(server[0], issued["secret"])
    try:
        assert back.ok(back.get("/me"))["id"] == tenant["id"]
        listed = back.ok(back.get("/credentials"))["items"]
        assert [(c["id"], c["status"]) for c in listed] == [
            (only["id"], "revoked"),
            (issued["id"], "active"),
            (named["id"], "active"),
        ]
        assert all(c["secret"] is None for c in listed)  # shown once
    finally:
        back.close()


def test_issuing_an_api_key_checks_its_input(admin: Api, api: Api) -> None:
    tenant_id = api.tenant["id"]  # type: ignore[attr-defined]
    path = f"/tenants/{tenant_id}/api-keys"
    before = api.ok(api.get("/credentials"))["total"]
    for body, field in [({"name": "n" * 101}, "name"), ({"kind": "yunfu_token"}, "kind")]:
        response = admin.post(path, body)
        assert_error(response, 422, "validation_error")
        assert fields(response) == {field}
    for missing in (987_654_321, 0, 2**63):
        assert_error(admin.post(f"/tenants/{missing}/api-keys"), 404, "not_found")
    assert_error(admin.post("/tenants/first/api-keys"), 422, "validation_error")
    assert api.ok(api.get("/credentials"))["total"] == before
