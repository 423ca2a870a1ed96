"""The tenant's do-not-call list through the real HTTP server, on SQLite and PostgreSQL.

Numbers are stored in E.164; a number without a leading + is read in the tenant's default
region. A rejected write changes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx2
import pytest

from outdial.services.container import Services
from outdial.services.dnc import DncService
from tests.support import Api, fields

NewTenant = Callable[..., Api]
MISSING_ID = 987_654_321


def invalid(resp: httpx2.Response, field_path: str, case: Any = None) -> None:
    assert resp.status_code == 422, (case, resp.status_code, resp.text)
    body = resp.json()
    assert body["code"] == "validation_error", (case, body)
    assert field_path in fields(resp), (case, field_path, body)


def not_found(resp: httpx2.Response) -> None:
    assert resp.status_code == 404, (resp.status_code, resp.text)
    assert resp.json()["code"] == "not_found"


def add(api: Api, number: str, **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.ok(api.post("/dnc", {"number": number, **extra}), 201)
    return result


def total(api: Api, **params: Any) -> int:
    return int(api.ok(api.get("/dnc", **params))["total"])


def listed(api: Api, **params: Any) -> list[str]:
    return [e["number"] for e in api.ok(api.get("/dnc", page_size=500, **params))["items"]]


def test_add_get_patch_delete(api: Api) -> None:
    entry = add(api, "13800000001", reason="asked twice", source="agent")
    assert entry["number"] == "+8613800000001"
    assert (entry["reason"], entry["source"], entry["expires_at"]) == ("asked twice", "agent", None)
    assert entry["tenant_id"] == api.tenant["id"]  # type: ignore[attr-defined]
    assert entry["created_at"] == entry["updated_at"]
    item = f"/dnc/{entry['id']}"
    assert api.ok(api.get(item)) == entry

    patched = api.ok(api.patch(item, {"reason": "complained"}))
    assert (patched["number"], patched["reason"], patched["source"]) == (
        "+8613800000001",
        "complained",
        "agent",
    )
    assert patched["created_at"] == entry["created_at"]
    assert datetime.fromisoformat(patched["updated_at"]) >= datetime.fromisoformat(
        entry["updated_at"]
    )
    moved = api.ok(api.patch(item, {"number": "139 0000 0002"}))
    assert moved["number"] == "+8613900000002" and moved["reason"] == "complained"
    assert api.ok(api.get(item)) == moved
    # PATCHing an entry with its own number (in any spelling) is not a duplicate.
    assert api.ok(api.patch(item, {"number": "+86 139-0000-0002"}))["number"] == "+8613900000002"

    assert api.delete(item).status_code == 204
    not_found(api.get(item))
    not_found(api.patch(item, {"reason": "x"}))
    not_found(api.delete(item))
    assert total(api) == 0
    # Once deleted, the number can be listed again.
    add(api, "13900000002")


def test_defaults(api: Api) -> None:
    entry = add(api, "+8613800000001")
    assert (entry["reason"], entry["source"], entry["expires_at"]) == ("", "api", None)


def test_expiry_is_stored_in_utc(api: Api) -> None:
    entry = add(api, "13800000001", expires_at="2030-01-01T08:00:00+08:00")
    assert datetime.fromisoformat(entry["expires_at"]) == datetime.fromisoformat(
        "2030-01-01T00:00:00+00:00"
    )
    item = f"/dnc/{entry['id']}"
    # A PATCH of another field keeps the stored expiry (it revalidates as an aware time).
    assert api.ok(api.patch(item, {"reason": "x"}))["expires_at"] == entry["expires_at"]
    assert api.ok(api.patch(item, {"expires_at": None}))["expires_at"] is None


def test_numbers_are_normalised_with_the_tenant_region(new_tenant: NewTenant) -> None:
    cn = new_tenant()
    assert add(cn, "13800000001")["number"] == "+8613800000001"
    assert add(cn, " 138-0000-0002 ")["number"] == "+8613800000002"
    assert add(cn, "(010) 1234 5678")["number"] == "+861012345678"
    assert add(cn, "+1 202 555 0123")["number"] == "+12025550123"
    us = new_tenant(default_region="US")
    assert add(us, "202-555-0123")["number"] == "+12025550123"
    assert add(us, "+8613800000001")["number"] == "+8613800000001"
    gb = new_tenant(default_region="gb")
    assert add(gb, "020 7946 0018")["number"] == "+442079460018"


def test_duplicates_are_rejected_in_any_spelling(api: Api) -> None:
    first = add(api, "13800000001", reason="first")
    for spelling in ("13800000001", "+8613800000001", "138 0000 0001", "+86-138-0000-0001"):
        invalid(api.post("/dnc", {"number": spelling, "reason": "again"}), "number", spelling)
    assert total(api) == 1
    assert api.ok(api.get(f"/dnc/{first['id']}")) == first

    second = add(api, "13800000002")
    item = f"/dnc/{second['id']}"
    invalid(api.patch(item, {"number": "13800000001"}), "number")
    assert api.ok(api.get(item)) == second


def test_same_number_in_two_tenants(api: Api, new_tenant: NewTenant) -> None:
    other = new_tenant()
    mine = add(api, "13800000001")
    theirs = add(other, "13800000001")
    assert mine["id"] != theirs["id"] and mine["number"] == theirs["number"]
    api.ok(api.delete(f"/dnc/{mine['id']}"), 204)
    assert other.ok(other.get(f"/dnc/{theirs['id']}")) == theirs


BAD_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"number": ""}, "number"),
    ({"number": "   "}, "number"),
    ({"number": "abc"}, "number"),
    ({"number": "12"}, "number"),
    ({"number": "+86 1"}, "number"),
    ({"number": "1" * 30}, "number"),
    ({"number": "1" * 33}, "number"),
    ({"number": "+999 1234 5678"}, "number"),
    ({"number": None}, "number"),
    ({"number": 13800000001}, "number"),
    ({"reason": "r" * 201}, "reason"),
    ({"reason": None}, "reason"),
    ({"source": ""}, "source"),
    ({"source": "s" * 33}, "source"),
    ({"expires_at": "2030-01-01T00:00:00"}, "expires_at"),
    ({"expires_at": "tomorrow"}, "expires_at"),
    ({"tenant_id": 1}, "tenant_id"),
    ({"id": 1}, "id"),
    ({"colour": "red"}, "colour"),
]


def test_invalid_input_is_rejected_and_changes_nothing(api: Api) -> None:
    existing = add(api, "13800000009", reason="keep")
    item = f"/dnc/{existing['id']}"
    for patch, field_path in BAD_INPUT:
        invalid(api.post("/dnc", {"number": "13800000001", **patch}), field_path, patch)
        assert total(api) == 1, patch
        invalid(api.patch(item, patch), field_path, patch)
        assert api.ok(api.get(item)) == existing, patch
    invalid(api.post("/dnc", {"reason": "no number"}), "number")
    assert total(api) == 1


def test_patch_body_must_be_an_object(api: Api) -> None:
    entry = add(api, "13800000001")
    for body in (["number"], "x", None):
        resp = api.patch(f"/dnc/{entry['id']}", body)
        assert resp.status_code == 422 and resp.json()["code"] == "validation_error", body
    assert api.ok(api.get(f"/dnc/{entry['id']}")) == entry


def test_list_pages_in_creation_order(api: Api) -> None:
    made = [add(api, f"1380000000{i}") for i in range(5)]
    first = api.ok(api.get("/dnc", page=1, page_size=2))
    assert (first["total"], first["page"], first["page_size"]) == (5, 1, 2)
    assert [e["id"] for e in first["items"]] == [made[0]["id"], made[1]["id"]]
    assert first["items"][0] == made[0]
    third = api.ok(api.get("/dnc", page=3, page_size=2))
    assert [e["id"] for e in third["items"]] == [made[4]["id"]]
    assert api.ok(api.get("/dnc", page=4, page_size=2))["items"] == []
    default = api.ok(api.get("/dnc"))
    assert (default["page"], default["page_size"], default["total"]) == (1, 50, 5)


def test_filters(api: Api) -> None:
    add(api, "13800000001", source="api")
    add(api, "13800000002", source="import")
    add(api, "13800000003", source="import")
    # The number filter is normalised like the entries are.
    assert listed(api, number="13800000002") == ["+8613800000002"]
    assert listed(api, number="+86 138 0000 0002") == ["+8613800000002"]
    assert listed(api, number="13899999999") == []
    assert listed(api, source="import") == ["+8613800000002", "+8613800000003"]
    assert listed(api, source="api") == ["+8613800000001"]
    assert listed(api, source="agent") == []
    assert listed(api, source="import", number="13800000003") == ["+8613800000003"]
    assert listed(api, source="api", number="13800000003") == []
    page = api.ok(api.get("/dnc", source="import", page_size=1, page=2))
    assert page["total"] == 2 and [e["number"] for e in page["items"]] == ["+8613800000003"]
    invalid(api.get("/dnc", number="abc"), "number")


def test_list_query_is_checked(api: Api) -> None:
    add(api, "13800000001")
    resp = api.get("/dnc", q="138", reason="x")
    invalid(resp, "q")
    assert fields(resp) == {"q", "reason"}
    assert {d["type"] for d in resp.json()["details"]} == {"unknown_parameter"}
    invalid(api.get("/dnc", tenant_id="1"), "tenant_id")
    for param, value in [
        ("page", "0"),
        ("page", "-3"),
        ("page", "x"),
        ("page", str(10**19)),
        ("page_size", "0"),
        ("page_size", "501"),
        ("page_size", "2.5"),
    ]:
        invalid(api.get("/dnc", **{param: value}), param, (param, value))
    assert api.ok(api.get("/dnc", page_size=500))["total"] == 1


def test_missing_ids_are_404(api: Api) -> None:
    for entry_id in (MISSING_ID, 0, -1, 2**63, 10**30):
        not_found(api.get(f"/dnc/{entry_id}"))
        not_found(api.patch(f"/dnc/{entry_id}", {"reason": "x"}))
        not_found(api.delete(f"/dnc/{entry_id}"))
    invalid(api.get("/dnc/first"), "entry_id")


def test_tenant_isolation(api: Api, new_tenant: NewTenant) -> None:
    mine = add(api, "13800000001", reason="mine")
    other = new_tenant()
    theirs = add(other, "13800000002")
    item = f"/dnc/{mine['id']}"
    not_found(other.get(item))
    not_found(other.patch(item, {"reason": "stolen"}))
    not_found(other.delete(item))
    assert api.ok(api.get(item)) == mine
    assert listed(other) == ["+8613800000002"]
    assert listed(other, number="13800000001") == []
    assert listed(api) == ["+8613800000001"]
    assert theirs["id"] not in [e["id"] for e in api.ok(api.get("/dnc"))["items"]]


def test_requires_a_tenant_key(anonymous: Api) -> None:
    assert anonymous.get("/dnc").status_code == 401
    assert anonymous.post("/dnc", {"number": "13800000001"}).status_code == 401


# --- races -----------------------------------------------------------------------------------


def test_concurrent_adds_of_one_number(api: Api, server: tuple[str, Services]) -> None:
    key = str(api.http.headers["Authorization"]).removeprefix("Bearer ")
    clients = [Api(server[0], key) for _ in range(8)]
    spellings = ["13800000001", "+8613800000001", "138 0000 0001", "+86-138-0000-0001"] * 2
    barrier = threading.Barrier(len(clients))

    def go(pair: tuple[Api, str]) -> httpx2.Response:
        barrier.wait()
        return pair[0].post("/dnc", {"number": pair[1]})

    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            responses = list(pool.map(go, zip(clients, spellings, strict=True)))
    finally:
        for client in clients:
            client.close()
    assert sorted(r.status_code for r in responses) == [201] + [422] * 7, [
        r.text for r in responses
    ]
    for response in responses:
        if response.status_code == 422:
            invalid(response, "number")
    assert listed(api) == ["+8613800000001"]


def test_a_number_lost_to_a_concurrent_writer_is_422_not_500(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the duplicate check skipped, the unique constraint refuses the add and the edit."""
    add(api, "13800000001")
    other = add(api, "13800000002")
    monkeypatch.setattr(DncService, "_find", lambda *_args, **_kw: None)
    response = api.post("/dnc", {"number": "+8613800000001"})
    invalid(response, "number")
    assert response.json()["details"][0]["type"] == "unique"
    invalid(api.patch(f"/dnc/{other['id']}", {"number": "13800000001"}), "number")
    assert api.ok(api.get(f"/dnc/{other['id']}")) == other
    assert total(api) == 2
