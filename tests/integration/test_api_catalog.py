"""The tenant's catalogue through the real HTTP server: lines, number groups, skill groups,
agents, scripts, blackout calendars and redial policies.

Every test runs on SQLite and on PostgreSQL (the ``server`` fixture is parametrized).
A rejected write must leave nothing changed, so every validation test checks the list total
(create) or the stored object (PATCH) afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx2
import pytest
from sqlalchemy import select, update

from outdial.services.catalog import LineHooks, open_line_password, seal_stored_passwords
from outdial.services.common import Tenant
from outdial.services.container import Services
from outdial.services.models import LineIn, TenantIn
from outdial.services.secrets import SecretBox
from outdial.services.validation import validate
from outdial.store.repo import TenantTable
from outdial.store.schema import lines
from tests.support import Api, ended_attempt, fields

NewTenant = Callable[..., Api]
Server = tuple[str, Services]
MISSING_ID = 987_654_321


# --- helpers -------------------------------------------------------------------------------


def invalid(resp: httpx2.Response, field_path: str, case: Any = None) -> None:
    """422 validation_error naming exactly ``field_path`` among its details."""
    assert resp.status_code == 422, (case, resp.status_code, resp.text)
    body = resp.json()
    assert body["code"] == "validation_error", (case, body)
    assert field_path in fields(resp), (case, field_path, body)
    for detail in body["details"]:
        assert set(detail) == {"field", "message", "type"}, detail
        assert detail["message"], detail


def not_found(resp: httpx2.Response) -> None:
    assert resp.status_code == 404, (resp.status_code, resp.text)
    assert resp.json()["code"] == "not_found"


def conflict(resp: httpx2.Response) -> None:
    assert resp.status_code == 409, (resp.status_code, resp.text)
    assert resp.json()["code"] == "conflict"


def total(api: Api, path: str, **params: Any) -> int:
    return int(api.ok(api.get(path, **params))["total"])


def names(api: Api, path: str, **params: Any) -> list[str]:
    return [item["name"] for item in api.ok(api.get(path, page_size=500, **params))["items"]]


def create(api: Api, path: str, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = api.ok(api.post(path, body), 201)
    return result


def line(api: Api, name: str = "trunk", numbers: tuple[str, ...] = (), **extra: Any) -> Any:
    body = {"name": name, "channels": 10, "caller_numbers": [{"number": n} for n in numbers]}
    return create(api, "/lines", {**body, **extra})


def skill_group(api: Api, name: str = "sales", **extra: Any) -> Any:
    return create(api, "/skill-groups", {"name": name, **extra})


def assert_rejected_create(api: Api, path: str, body: dict[str, Any], field_path: str) -> None:
    before = total(api, path)
    invalid(api.post(path, body), field_path, body)
    assert total(api, path) == before, body


def assert_rejected_patch(api: Api, path: str, patch: Any, field_path: str) -> None:
    before = api.ok(api.get(path))
    invalid(api.patch(path, patch), field_path, patch)
    assert api.ok(api.get(path)) == before, patch


Cases = list[tuple[dict[str, Any], str]]


def assert_all_rejected(api: Api, path: str, base: dict[str, Any], item: str, cases: Cases) -> None:
    """Each case (a partial body and the field it breaks) is refused both when creating
    (``base`` plus the case) and when patching the existing ``item``; nothing changes."""
    for patch, field_path in cases:
        assert_rejected_create(api, path, {**base, **patch}, field_path)
        assert_rejected_patch(api, item, patch, field_path)


# --- the seven resources, described once for the generic tests -----------------------------


@dataclass(frozen=True)
class Kind:
    path: str
    full: Callable[[Api], dict[str, Any]]
    """A create body using most fields (may create prerequisites); echoed back as given."""
    patch: dict[str, Any]
    bool_filters: tuple[str, ...] = ()
    has_description: bool = True
    extra_out: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.path


def _full_line(api: Api) -> dict[str, Any]:
    return {
        "name": "main trunk",
        "description": "the big one",
        "driver": "sim",
        "channels": 30,
        "caller_numbers": [
            {"number": "+8610000001", "region": "Beijing", "enabled": True},
            {"number": "95187", "region": "", "enabled": False},
        ],
        "settings": {"seed": 7, "speed": 1.0, "callees": {}},
        "enabled": True,
        "expires_at": None,
    }


def _full_number_group(api: Api) -> dict[str, Any]:
    trunk = line(api, "ng trunk", ("+8610000001", "+8610000002", "+8610000003"))
    return {
        "name": "beijing numbers",
        "description": "two of three",
        "line_id": trunk["id"],
        "numbers": ["+8610000003", "+8610000001"],
    }


def _full_skill_group(api: Api) -> dict[str, Any]:
    trunk = line(api, "sg trunk")
    return {
        "name": "sales",
        "description": "inbound sales",
        "line_id": trunk["id"],
        "enabled": True,
    }


def _full_agent(api: Api) -> dict[str, Any]:
    a, b = skill_group(api, "sg a"), skill_group(api, "sg b")
    return {
        "name": "Alice",
        "external_id": "emp-001",
        "endpoint": "sip:1001@pbx.example",
        "skill_group_ids": [a["id"], b["id"]],
    }


def _full_script(api: Api) -> dict[str, Any]:
    sg = skill_group(api, "transfer target")
    return {
        "name": "collections bot",
        "description": "asks politely",
        "extension": "8001",
        "dialplan": "XML",
        "context": "bots",
        "transfer_skill_group_id": sg["id"],
        "transfer_fallback": "hangup",
        "transfer_wait_seconds": 120,
        "debug": True,
        "enabled": True,
    }


def _full_calendar(api: Api) -> dict[str, Any]:
    return {
        "name": "holidays",
        "description": "no calls",
        "timezone": "Asia/Shanghai",
        "weekly": [
            {"days": [6, 7], "start": "00:00:00", "end": "24:00:00"},
            {"days": [1, 2, 3, 4, 5], "start": "21:00:00", "end": "08:00:00"},
        ],
        "dated": [
            {"start": "2026-10-01T00:00:00", "end": "2026-10-08T00:00:00", "label": "National Day"}
        ],
    }


def _full_policy(api: Api) -> dict[str, Any]:
    return {
        "name": "standard",
        "description": "retry the unlucky",
        "enabled": True,
        "is_default": False,
        "rules": [
            {"outcomes": ["no_answer", "busy"], "interval_seconds": 600, "max_times": 3},
            {"outcomes": ["powered_off"], "interval_seconds": 3600, "max_times": 1},
        ],
        "skip_invalid_number": True,
        "skip_suspended": True,
        "skip_in_arrears": False,
    }


KINDS = [
    Kind("/lines", _full_line, {"channels": 40}, ("enabled",), extra_out={"in_use": 0}),
    Kind("/number-groups", _full_number_group, {"numbers": ["+8610000002"]}),
    Kind("/skill-groups", _full_skill_group, {"enabled": False}, ("enabled",)),
    Kind(
        "/agents",
        _full_agent,
        {"endpoint": "sip:2002@pbx.example"},
        has_description=False,
        extra_out={"state": "offline"},
    ),
    Kind("/scripts", _full_script, {"debug": False, "context": "default"}, ("enabled",)),
    Kind("/blackout-calendars", _full_calendar, {"weekly": []}),
    Kind(
        "/redial-policies",
        _full_policy,
        {"skip_in_arrears": True, "rules": []},
        ("enabled", "is_default"),
    ),
]
by_kind = pytest.mark.parametrize("kind", KINDS, ids=str)


def minimal(kind: Kind, name: str) -> dict[str, Any]:
    return {"name": name, "channels": 1} if kind.path == "/lines" else {"name": name}


# --- generic CRUD ---------------------------------------------------------------------------


@by_kind
def test_create_get_patch_delete(api: Api, kind: Kind) -> None:
    body = kind.full(api)
    created = create(api, kind.path, body)
    assert {k: created[k] for k in body} == body
    assert {k: created[k] for k in kind.extra_out} == kind.extra_out
    assert isinstance(created["id"], int) and len(created["uuid"]) == 36
    item = f"{kind.path}/{created['id']}"
    assert api.ok(api.get(item)) == created

    # An empty PATCH is valid and changes nothing.
    unchanged = api.ok(api.patch(item, {}))
    assert {k: v for k, v in unchanged.items() if k != "updated_at"} == {
        k: v for k, v in created.items() if k != "updated_at"
    }

    patched = api.ok(api.patch(item, kind.patch))
    expected = {**body, **kind.patch}
    assert {k: patched[k] for k in expected} == expected
    assert patched["created_at"] == created["created_at"]
    assert datetime.fromisoformat(patched["updated_at"]) >= datetime.fromisoformat(
        created["updated_at"]
    )
    assert api.ok(api.get(item)) == patched

    assert api.delete(item).status_code == 204
    not_found(api.get(item))
    not_found(api.patch(item, kind.patch))
    not_found(api.delete(item))
    assert total(api, kind.path, q=body["name"]) == 0
    for missing_id in (MISSING_ID, 0, -1, 2**63 - 1, 2**63, 10**30):
        missing = f"{kind.path}/{missing_id}"
        not_found(api.get(missing))
        not_found(api.patch(missing, {"name": "x"}))
        not_found(api.delete(missing))
    invalid(api.get(f"{kind.path}/first"), "item_id")


@by_kind
def test_list_pages_in_creation_order(api: Api, kind: Kind) -> None:
    made = [create(api, kind.path, minimal(kind, f"item {i}")) for i in range(5)]
    first = api.ok(api.get(kind.path, page=1, page_size=2))
    assert (first["total"], first["page"], first["page_size"]) == (5, 1, 2)
    assert [i["id"] for i in first["items"]] == [made[0]["id"], made[1]["id"]]
    third = api.ok(api.get(kind.path, page=3, page_size=2))
    assert [i["id"] for i in third["items"]] == [made[4]["id"]]
    beyond = api.ok(api.get(kind.path, page=4, page_size=2))
    assert beyond["items"] == [] and beyond["total"] == 5
    default = api.ok(api.get(kind.path))
    assert (default["page"], default["page_size"], len(default["items"])) == (1, 50, 5)
    assert default["items"][0] == api.ok(api.get(f"{kind.path}/{made[0]['id']}"))


@by_kind
def test_q_filters_by_name_substring_literally(api: Api, kind: Kind) -> None:
    for name in ("North 1", "north 2", "South", "50% off", "a_b"):
        create(api, kind.path, minimal(kind, name))
    assert names(api, kind.path, q="North") == ["North 1", "north 2"]
    assert names(api, kind.path, q="NORTH 1") == ["North 1"]
    assert names(api, kind.path, q="orth") == ["North 1", "north 2"]
    assert names(api, kind.path, q="%") == ["50% off"]
    assert names(api, kind.path, q="_") == ["a_b"]
    assert names(api, kind.path, q="nothing") == []
    assert total(api, kind.path, q="o") == 4


@pytest.mark.parametrize(
    ("kind", "flag"),
    [(k, f) for k in KINDS for f in k.bool_filters],
    ids=lambda v: str(v),
)
def test_boolean_filters(api: Api, kind: Kind, flag: str) -> None:
    yes = create(api, kind.path, {**minimal(kind, "yes"), flag: True})
    no = create(api, kind.path, {**minimal(kind, "no"), flag: False})
    for value in ("true", "1", "yes", "TRUE"):
        assert [i["id"] for i in api.ok(api.get(kind.path, **{flag: value}))["items"]] == [
            yes["id"]
        ]
    for value in ("false", "0", "no"):
        assert [i["id"] for i in api.ok(api.get(kind.path, **{flag: value}))["items"]] == [no["id"]]
    invalid(api.get(kind.path, **{flag: "maybe"}), flag)


# --- generic validation ---------------------------------------------------------------------


@by_kind
def test_unknown_fields_are_rejected(api: Api, kind: Kind) -> None:
    assert_rejected_create(api, kind.path, {**minimal(kind, "x"), "colour": "red"}, "colour")
    created = create(api, kind.path, minimal(kind, "x"))
    item = f"{kind.path}/{created['id']}"
    assert_rejected_patch(api, item, {"colour": "red"}, "colour")
    # Output-only fields are not input either.
    assert_rejected_patch(api, item, {"id": 5}, "id")
    assert_rejected_patch(api, item, {"uuid": "x"}, "uuid")
    assert_rejected_patch(api, item, {"created_at": "2026-01-01T00:00:00Z"}, "created_at")


@by_kind
def test_name_and_description_rules(api: Api, kind: Kind) -> None:
    created = create(api, kind.path, minimal(kind, "good"))
    item = f"{kind.path}/{created['id']}"
    bad_names: list[Any] = ["", "   ", "x" * 101, None, 5, ["a"]]
    cases: Cases = [({"name": bad}, "name") for bad in bad_names]
    if kind.has_description:
        cases.append(({"description": "d" * 501}, "description"))
        cases.append(({"description": None}, "description"))
    assert_all_rejected(api, kind.path, minimal(kind, "x"), item, cases)

    nameless = minimal(kind, "x")
    del nameless["name"]
    assert_rejected_create(api, kind.path, nameless, "name")
    assert create(api, kind.path, minimal(kind, "  padded  "))["name"] == "padded"
    assert create(api, kind.path, minimal(kind, "n" * 100))["name"] == "n" * 100
    if kind.has_description:
        long = {**minimal(kind, "long"), "description": "d" * 500}
        assert create(api, kind.path, long)["description"] == "d" * 500


@by_kind
def test_names_are_unique_per_tenant(api: Api, new_tenant: NewTenant, kind: Kind) -> None:
    first = create(api, kind.path, minimal(kind, "same"))
    assert_rejected_create(api, kind.path, minimal(kind, "same"), "name")
    assert_rejected_create(api, kind.path, minimal(kind, " same "), "name")
    other = create(api, kind.path, minimal(kind, "other"))
    assert_rejected_patch(api, f"{kind.path}/{other['id']}", {"name": "same"}, "name")
    # Renaming to its own name is fine; so is the same name in another tenant.
    api.ok(api.patch(f"{kind.path}/{first['id']}", {"name": "same"}))
    neighbour = new_tenant()
    create(neighbour, kind.path, minimal(kind, "same"))
    # A freed name can be used again.
    assert api.delete(f"{kind.path}/{first['id']}").status_code == 204
    create(api, kind.path, minimal(kind, "same"))


@by_kind
def test_patch_body_must_be_an_object(api: Api, kind: Kind) -> None:
    created = create(api, kind.path, minimal(kind, "x"))
    item = f"{kind.path}/{created['id']}"
    for body in (["name", "y"], "name", None):
        resp = api.patch(item, body)
        assert resp.status_code == 422 and resp.json()["code"] == "validation_error", body
    assert api.ok(api.get(item)) == created


BAD_PAGING = [
    ("page", "0"),
    ("page", "-1"),
    ("page", "abc"),
    ("page", "1.5"),
    ("page", ""),
    ("page_size", "0"),
    ("page_size", "501"),
    ("page_size", "many"),
    ("page", str(10**19)),
    ("page", str(10**30)),
]


@by_kind
def test_list_query_is_checked(api: Api, kind: Kind) -> None:
    create(api, kind.path, minimal(kind, "x"))
    resp = api.get(kind.path, colour="red", zeta="1")
    invalid(resp, "colour")
    assert fields(resp) == {"colour", "zeta"}
    assert {d["type"] for d in resp.json()["details"]} == {"unknown_parameter"}
    invalid(api.get(kind.path, tenant_id="1"), "tenant_id")
    invalid(api.get(kind.path, q="x", Q="x"), "Q")
    for param, value in BAD_PAGING:
        invalid(api.get(kind.path, **{param: value}), param, (param, value))
    assert api.ok(api.get(kind.path, page_size=500))["page_size"] == 500
    assert api.ok(api.get(kind.path, page_size=1))["total"] == 1


@by_kind
def test_tenant_isolation(api: Api, new_tenant: NewTenant, kind: Kind) -> None:
    mine = create(api, kind.path, kind.full(api))
    other = new_tenant()
    theirs = create(other, kind.path, minimal(kind, "theirs"))
    item = f"{kind.path}/{mine['id']}"

    not_found(other.get(item))
    not_found(other.patch(item, {"name": "stolen"}))
    not_found(other.delete(item))
    assert api.ok(api.get(item)) == mine

    listed = other.ok(other.get(kind.path))
    assert [i["id"] for i in listed["items"]] == [theirs["id"]] and listed["total"] == 1
    assert theirs["id"] not in [i["id"] for i in api.ok(api.get(kind.path))["items"]]
    assert total(other, kind.path, q=mine["name"]) == 0


def test_requests_without_a_tenant_key_are_refused(anonymous: Api, admin: Api) -> None:
    for kind in KINDS:
        assert anonymous.get(kind.path).status_code == 401
        assert anonymous.post(kind.path, minimal(kind, "x")).status_code == 401


# --- lines ----------------------------------------------------------------------------------


LINE_RULES: Cases = [
    ({"channels": 0}, "channels"),
    ({"channels": -5}, "channels"),
    ({"channels": 100_001}, "channels"),
    ({"channels": "lots"}, "channels"),
    ({"channels": None}, "channels"),
    ({"driver": "h323"}, "driver"),
    ({"enabled": "sometimes"}, "enabled"),
    ({"expires_at": "2030-01-01T00:00:00"}, "expires_at"),
    ({"expires_at": "soon"}, "expires_at"),
    (
        {"caller_numbers": [{"number": "+8610000001"}, {"number": "12"}]},
        "caller_numbers[1].number",
    ),
    ({"caller_numbers": [{"number": "abc1234"}]}, "caller_numbers[0].number"),
    ({"caller_numbers": [{"number": "1" * 21}]}, "caller_numbers[0].number"),
    ({"caller_numbers": [{"number": "+86 10 1234"}]}, "caller_numbers[0].number"),
    (
        {"caller_numbers": [{"number": "+8610000001"}, {"number": "+8610000001"}]},
        "caller_numbers[1]",
    ),
    ({"caller_numbers": [{"number": "9518"}, {"number": " 9518 "}]}, "caller_numbers[1]"),
    ({"caller_numbers": [{"region": "x"}]}, "caller_numbers[0].number"),
    ({"caller_numbers": [{"number": "95187", "carrier": "x"}]}, "caller_numbers[0].carrier"),
    ({"caller_numbers": [{"number": "95187", "region": "r" * 65}]}, "caller_numbers[0].region"),
    ({"caller_numbers": "95187"}, "caller_numbers"),
    ({"settings": {"seed": "x"}}, "settings.seed"),
    ({"settings": {"colour": "red"}}, "settings.colour"),
    ({"settings": {"callees": {"handoff_share": 1.5}}}, "settings.callees"),
    ({"settings": {"callees": {"handoff_after": {"dist": "zipf"}}}}, "settings.callees"),
    ({"settings": []}, "settings"),
    ({"driver": "freeswitch", "settings": {}}, "settings.nodes"),
    ({"driver": "freeswitch", "settings": {"nodes": []}}, "settings.nodes"),
    (
        {"driver": "freeswitch", "settings": {"nodes": [{"port": 8021}]}},
        "settings.nodes[0].host",
    ),
    (
        {
            "driver": "freeswitch",
            "settings": {"nodes": [{"host": "fs1"}, {"host": "fs2", "port": 0}]},
        },
        "settings.nodes[1].port",
    ),
    *(
        (
            {"driver": "freeswitch", "settings": {"nodes": [{"host": "fs1", "password": bad}]}},
            "settings.nodes[0].password",
        )
        for bad in ["ClueCon\nevent plain ALL", "a\tb", "", "x" * 256]
    ),
    (
        {"driver": "freeswitch", "settings": {"nodes": [{"host": "fs1"}], "dial_string": ""}},
        "settings.dial_string",
    ),
    *(
        ({"driver": "freeswitch", "settings": {"nodes": [{"host": "fs1"}], **bad}}, where)
        for bad, where in [
            ({}, "settings.gateway"),  # the default dial string uses {gateway}
            ({"gateway": "a/b"}, "settings.gateway"),
            (
                {"gateway": "gw", "dial_string": "sofia/gateway/{gw}/{number}"},
                "settings.dial_string",
            ),
            ({"dial_string": "sofia/external/{number}@{host"}, "settings.dial_string"),
            ({"dial_string": "user/{number:>20}"}, "settings.dial_string"),
            ({"dial_string": "user/{number} &park()"}, "settings.dial_string"),
            (
                {"dial_string": "user/{national}", "variables": {"a b": "1"}},
                "settings.variables.a b",
            ),
            ({"dial_string": "user/{national}", "variables": {"x": "1}"}}, "settings.variables.x"),
            (
                {"dial_string": "user/{national}", "variables": {"outdial_attempt_id": "1"}},
                "settings.variables.outdial_attempt_id",
            ),
            ({"dial_string": "user/{national}", "variables": {"x": 1}}, "settings.variables.x"),
        ]
    ),
    (
        {"driver": "freeswitch", "settings": {"nodes": [{"host": "fs1"}], "seed": 1}},
        "settings.seed",
    ),
    ({"driver": "sip", "settings": {}}, "settings.host"),
    ({"driver": "sip", "settings": {"host": ""}}, "settings.host"),
    ({"driver": "sip", "settings": {"host": "sbc", "transport": "tls"}}, "settings.transport"),
    ({"driver": "sip", "settings": {"host": "sbc", "port": 70000}}, "settings.port"),
    ({"driver": "sip", "settings": {"host": "sbc", "nodes": []}}, "settings.nodes"),
    *(
        ({"driver": "sip", "settings": {"host": "sbc", **bad}}, f"settings.{field}")
        for bad, field in [
            ({"host": "sip:sbc"}, "host"),
            ({"host": "sbc example"}, "host"),
            ({"host": "user@sbc"}, "host"),
            ({"from_domain": "a b"}, "from_domain"),
            ({"local_host": "x/y"}, "local_host"),
            ({"from_user": "ann smith"}, "from_user"),
            ({"from_user": "a@b"}, "from_user"),
            ({"prefix": "9:"}, "prefix"),
            ({"username": "u\r\nX-Evil: 1", "password": "p"}, "username"),
            ({"username": "u", "password": "p\nq"}, "password"),
            ({"password": "p"}, "username"),
            ({"number_format": "international"}, "number_format"),
            ({"local_port": -1}, "local_port"),
            ({"max_call_seconds": 86_401}, "max_call_seconds"),
            ({"t1_ms": 10}, "t1_ms"),
        ]
    ),
]


def test_line_validation(api: Api) -> None:
    existing = line(api, "existing", ("+8610000009",))
    base = {"name": "new line", "channels": 5}
    assert_all_rejected(api, "/lines", base, f"/lines/{existing['id']}", LINE_RULES)


def test_line_channels_bounds_inclusive(api: Api) -> None:
    assert line(api, "one", channels=1)["channels"] == 1
    assert line(api, "max", channels=100_000)["channels"] == 100_000
    assert_rejected_create(api, "/lines", {"name": "none"}, "channels")


def test_line_driver_settings_are_validated_and_completed(api: Api) -> None:
    fs = line(
        api,
        "fs",
        driver="freeswitch",
        settings={
            "nodes": [{"host": "10.0.0.1"}, {"host": "10.0.0.2", "port": 9021}],
            "gateway": "carrier",
        },
    )
    assert fs["settings"] == {
        "nodes": [
            {"host": "10.0.0.1", "port": 8021, "password": "********"},
            {"host": "10.0.0.2", "port": 9021, "password": "********"},
        ],
        "gateway": "carrier",
        "dial_string": "sofia/gateway/{gateway}/{number}",
        "variables": {},
    }
    sip = line(api, "sip", driver="sip", settings={"host": "sbc.example", "transport": "tcp"})
    assert sip["settings"]["host"] == "sbc.example"
    assert (sip["settings"]["port"], sip["settings"]["transport"]) == (5060, "tcp")
    assert sip["settings"]["number_format"] == "e164" and sip["settings"]["t1_ms"] == 500
    sim = line(api, "sim")
    assert (sim["driver"], sim["settings"]) == ("sim", {"seed": None, "speed": 1.0, "callees": {}})


def test_line_patch_merges_and_revalidates(api: Api) -> None:
    trunk = line(api, "trunk", ("+8610000001",), description="keep me")
    item = f"/lines/{trunk['id']}"
    # Switching driver revalidates the stored settings against the new driver.
    assert_rejected_patch(api, item, {"driver": "sip"}, "settings.host")
    assert_rejected_patch(api, item, {"driver": "freeswitch"}, "settings.nodes")
    switched = api.ok(api.patch(item, {"driver": "sip", "settings": {"host": "sbc"}}))
    assert switched["driver"] == "sip" and switched["settings"]["host"] == "sbc"
    assert switched["description"] == "keep me"
    assert switched["caller_numbers"] == trunk["caller_numbers"]
    # A top-level field is replaced whole, not merged key by key.
    replaced = api.ok(api.patch(item, {"caller_numbers": [{"number": "95187"}]}))
    assert replaced["caller_numbers"] == [{"number": "95187", "region": "", "enabled": True}]
    assert replaced["channels"] == 10


def test_line_expiry_is_stored_in_utc(api: Api) -> None:
    trunk = line(api, "expiring", expires_at="2030-01-01T08:00:00+08:00")
    assert datetime.fromisoformat(trunk["expires_at"]) == datetime.fromisoformat(
        "2030-01-01T00:00:00+00:00"
    )
    cleared = api.ok(api.patch(f"/lines/{trunk['id']}", {"expires_at": None}))
    assert cleared["expires_at"] is None


def test_line_caller_numbers_are_trimmed(api: Api) -> None:
    trunk = line(api, "trim", (" +8610000001 ",))
    assert trunk["caller_numbers"][0]["number"] == "+8610000001"


def test_lines_report_in_use_zero(api: Api) -> None:
    trunk = line(api, "idle")
    assert trunk["in_use"] == 0
    assert api.ok(api.get(f"/lines/{trunk['id']}"))["in_use"] == 0
    assert [i["in_use"] for i in api.ok(api.get("/lines"))["items"]] == [0]
    assert api.ok(api.patch(f"/lines/{trunk['id']}", {"channels": 3}))["in_use"] == 0
    assert_rejected_patch(api, f"/lines/{trunk['id']}", {"in_use": 2}, "in_use")


def test_line_driver_filter(api: Api) -> None:
    line(api, "a sim")
    fs = line(
        api, "a fs", driver="freeswitch", settings={"nodes": [{"host": "fs"}], "gateway": "gw"}
    )
    sip = line(api, "a sip", driver="sip", settings={"host": "sbc"})
    assert [i["id"] for i in api.ok(api.get("/lines", driver="freeswitch"))["items"]] == [fs["id"]]
    assert [i["id"] for i in api.ok(api.get("/lines", driver="sip"))["items"]] == [sip["id"]]
    assert total(api, "/lines", driver="sim") == 1
    invalid(api.get("/lines", driver="h323"), "driver")
    invalid(api.get("/lines", driver="SIP"), "driver")
    assert names(api, "/lines", driver="sip", q="sip", enabled="true") == ["a sip"]
    assert names(api, "/lines", driver="sip", enabled="false") == []


def test_line_used_by_others_cannot_be_deleted(api: Api) -> None:
    trunk = line(api, "shared", ("+8610000001",))
    item = f"/lines/{trunk['id']}"
    sg = skill_group(api, line_id=trunk["id"])
    conflict(api.delete(item))
    assert api.ok(api.get(item)) == trunk

    api.ok(api.patch(f"/skill-groups/{sg['id']}", {"line_id": None}))
    ng = create(api, "/number-groups", {"name": "ng", "line_id": trunk["id"]})
    conflict(api.delete(item))
    assert api.delete(f"/number-groups/{ng['id']}").status_code == 204

    campaign = create(api, "/campaigns", {"name": "uses the line", "line_id": trunk["id"]})
    conflict(api.delete(item))
    assert api.delete(f"/campaigns/{campaign['id']}").status_code == 204

    assert api.delete(item).status_code == 204
    not_found(api.get(item))


# --- number groups --------------------------------------------------------------------------


def test_number_group_numbers_must_be_on_its_line(api: Api) -> None:
    a = line(api, "a", ("+8610000001", "+8610000002"))
    b = line(api, "b", ("+8620000001",))
    body = {"name": "g", "line_id": a["id"], "numbers": ["+8610000001", "+8620000001"]}
    assert_rejected_create(api, "/number-groups", body, "numbers[1]")
    assert_rejected_create(
        api, "/number-groups", {**body, "numbers": ["+8699999999"]}, "numbers[0]"
    )
    # Without a line, a number must be on one of the tenant's lines.
    loose = create(
        api, "/number-groups", {"name": "loose", "numbers": ["+8610000001", "+8620000001"]}
    )
    assert loose["line_id"] is None
    assert_rejected_create(
        api,
        "/number-groups",
        {"name": "nowhere", "numbers": ["+8620000001", "+8630000000"]},
        "numbers[1]",
    )
    group = create(api, "/number-groups", {**body, "numbers": ["+8610000002"]})
    # Moving the group to a line without its numbers is refused, and nothing changes.
    assert_rejected_patch(api, f"/number-groups/{group['id']}", {"line_id": b["id"]}, "numbers[0]")
    moved = api.ok(
        api.patch(f"/number-groups/{group['id']}", {"line_id": b["id"], "numbers": ["+8620000001"]})
    )
    assert (moved["line_id"], moved["numbers"]) == (b["id"], ["+8620000001"])


def test_number_group_numbers_of_another_tenant_do_not_count(
    api: Api, new_tenant: NewTenant
) -> None:
    other = new_tenant()
    line(other, "theirs", ("+8610000001",))
    assert_rejected_create(
        api, "/number-groups", {"name": "g", "numbers": ["+8610000001"]}, "numbers[0]"
    )


NUMBER_GROUP_RULES: Cases = [
    ({"numbers": ["+8610000001", "not a number"]}, "numbers[1]"),
    ({"numbers": ["12"]}, "numbers[0]"),
    ({"numbers": ["+8610000001", "+8610000001"]}, "numbers[1]"),
    ({"numbers": ["+8610000001", " +8610000001"]}, "numbers[1]"),
    ({"numbers": "+8610000001"}, "numbers"),
    ({"line_id": 0}, "line_id"),
    ({"line_id": "first"}, "line_id"),
    ({"line_id": MISSING_ID}, "line_id"),
]


def test_number_group_validation(api: Api) -> None:
    line(api, "numbers", ("+8610000001",))
    group = create(api, "/number-groups", {"name": "existing", "numbers": ["+8610000001"]})
    item = f"/number-groups/{group['id']}"
    assert_all_rejected(api, "/number-groups", {"name": "new"}, item, NUMBER_GROUP_RULES)


def test_number_group_line_filter(api: Api) -> None:
    a, b = line(api, "a"), line(api, "b")
    ga = create(api, "/number-groups", {"name": "ga", "line_id": a["id"]})
    create(api, "/number-groups", {"name": "gb", "line_id": b["id"]})
    create(api, "/number-groups", {"name": "none"})
    assert [i["id"] for i in api.ok(api.get("/number-groups", line_id=a["id"]))["items"]] == [
        ga["id"]
    ]
    assert total(api, "/number-groups", line_id=MISSING_ID) == 0
    assert names(api, "/number-groups", line_id=b["id"], q="g") == ["gb"]
    invalid(api.get("/number-groups", line_id="abc"), "line_id")
    invalid(api.get("/number-groups", line_id=str(10**19)), "line_id")


def test_number_group_used_by_campaign_cannot_be_deleted(api: Api) -> None:
    trunk = line(api, "t", ("+8610000001",))
    group = create(api, "/number-groups", {"name": "g", "line_id": trunk["id"]})
    campaign = create(
        api, "/campaigns", {"name": "c", "line_id": trunk["id"], "number_group_id": group["id"]}
    )
    conflict(api.delete(f"/number-groups/{group['id']}"))
    assert api.ok(api.get(f"/number-groups/{group['id']}")) == group
    assert api.delete(f"/campaigns/{campaign['id']}").status_code == 204
    assert api.delete(f"/number-groups/{group['id']}").status_code == 204


# --- references to other resources ----------------------------------------------------------


REFERENCES = [
    ("/number-groups", "line_id", "/lines"),
    ("/skill-groups", "line_id", "/lines"),
    ("/scripts", "transfer_skill_group_id", "/skill-groups"),
]


@pytest.mark.parametrize(("path", "ref", "target"), REFERENCES)
def test_references_must_exist_in_the_same_tenant(
    api: Api, new_tenant: NewTenant, path: str, ref: str, target: str
) -> None:
    other = new_tenant()
    theirs = create(
        other,
        target,
        {"name": "theirs", "channels": 1} if target == "/lines" else {"name": "theirs"},
    )
    mine = create(
        api, target, {"name": "mine", "channels": 1} if target == "/lines" else {"name": "mine"}
    )

    assert_rejected_create(api, path, {"name": "x", ref: theirs["id"]}, ref)
    assert_rejected_create(api, path, {"name": "x", ref: MISSING_ID}, ref)
    assert_rejected_create(api, path, {"name": "x", ref: 0}, ref)
    assert_rejected_create(api, path, {"name": "x", ref: 10**19}, ref)

    created = create(api, path, {"name": "x", ref: mine["id"]})
    assert created[ref] == mine["id"]
    item = f"{path}/{created['id']}"
    assert_rejected_patch(api, item, {ref: theirs["id"]}, ref)
    assert_rejected_patch(api, item, {ref: MISSING_ID}, ref)
    assert api.ok(api.patch(item, {ref: None}))[ref] is None


def test_skill_group_used_by_script_or_campaign_cannot_be_deleted(api: Api) -> None:
    sg = skill_group(api, "support")
    item = f"/skill-groups/{sg['id']}"
    script = create(api, "/scripts", {"name": "bot", "transfer_skill_group_id": sg["id"]})
    conflict(api.delete(item))
    assert api.ok(api.get(item)) == sg
    assert api.delete(f"/scripts/{script['id']}").status_code == 204

    campaign = create(api, "/campaigns", {"name": "c", "skill_group_id": sg["id"]})
    conflict(api.delete(item))
    assert api.delete(f"/campaigns/{campaign['id']}").status_code == 204
    assert api.delete(item).status_code == 204


def test_script_used_by_campaign_cannot_be_deleted(api: Api) -> None:
    script = create(api, "/scripts", {"name": "bot"})
    campaign = create(api, "/campaigns", {"name": "c", "script_id": script["id"]})
    conflict(api.delete(f"/scripts/{script['id']}"))
    assert api.ok(api.get(f"/scripts/{script['id']}")) == script
    assert api.delete(f"/campaigns/{campaign['id']}").status_code == 204
    assert api.delete(f"/scripts/{script['id']}").status_code == 204


SCRIPT_RULES: Cases = [
    ({"dialplan": ""}, "dialplan"),
    ({"dialplan": "x" * 33}, "dialplan"),
    ({"context": ""}, "context"),
    ({"extension": "9" * 65}, "extension"),
    ({"debug": "loud"}, "debug"),
    ({"transfer_fallback": "queue"}, "transfer_fallback"),
    ({"transfer_fallback": None}, "transfer_fallback"),
    ({"transfer_wait_seconds": -1}, "transfer_wait_seconds"),
    ({"transfer_wait_seconds": 121}, "transfer_wait_seconds"),
    ({"transfer_wait_seconds": 2.5}, "transfer_wait_seconds"),
]


def test_script_validation(api: Api) -> None:
    script = create(api, "/scripts", {"name": "existing"})
    assert (script["dialplan"], script["context"], script["extension"]) == ("XML", "default", "")
    assert (script["transfer_fallback"], script["transfer_wait_seconds"]) == ("continue", 0)
    item = f"/scripts/{script['id']}"
    assert_all_rejected(api, "/scripts", {"name": "new"}, item, SCRIPT_RULES)


# --- agents ---------------------------------------------------------------------------------


def test_new_agents_are_offline_with_their_skill_groups(api: Api) -> None:
    a, b, c = skill_group(api, "a"), skill_group(api, "b"), skill_group(api, "c")
    agent = create(api, "/agents", {"name": "Bob", "skill_group_ids": [a["id"], c["id"]]})
    assert agent["state"] == "offline"
    assert agent["state_changed_at"]
    assert agent["skill_group_ids"] == [a["id"], c["id"]]
    assert (agent["external_id"], agent["endpoint"]) == (None, "")
    item = f"/agents/{agent['id']}"
    assert api.ok(api.get(item))["skill_group_ids"] == [a["id"], c["id"]]

    # PATCH without skill_group_ids keeps them; with them replaces them.
    renamed = api.ok(api.patch(item, {"name": "Robert"}))
    assert renamed["skill_group_ids"] == [a["id"], c["id"]]
    assert renamed["state"] == "offline"
    assert api.ok(api.patch(item, {"skill_group_ids": [b["id"]]}))["skill_group_ids"] == [b["id"]]
    assert api.ok(api.patch(item, {"skill_group_ids": []}))["skill_group_ids"] == []
    assert api.ok(api.get(item))["skill_group_ids"] == []


def test_agent_state_is_not_input(api: Api) -> None:
    assert_rejected_create(api, "/agents", {"name": "x", "state": "idle"}, "state")
    agent = create(api, "/agents", {"name": "x"})
    assert_rejected_patch(api, f"/agents/{agent['id']}", {"state": "idle"}, "state")


def test_agent_filters(api: Api) -> None:
    a, b = skill_group(api, "a"), skill_group(api, "b")
    both = create(api, "/agents", {"name": "both", "skill_group_ids": [a["id"], b["id"]]})
    only_a = create(api, "/agents", {"name": "only a", "skill_group_ids": [a["id"]]})
    create(api, "/agents", {"name": "none"})

    def ids(**params: Any) -> list[int]:
        return [i["id"] for i in api.ok(api.get("/agents", **params))["items"]]

    assert ids(skill_group_id=a["id"]) == [both["id"], only_a["id"]]
    assert ids(skill_group_id=b["id"]) == [both["id"]]
    assert ids(skill_group_id=MISSING_ID) == []
    assert ids(skill_group_id=a["id"], q="only") == [only_a["id"]]
    assert total(api, "/agents", state="offline") == 3
    assert total(api, "/agents", state="on_call") == 0
    for state in ("busy", "Offline", "idle"):
        invalid(api.get("/agents", state=state), "state", state)
    page = api.ok(api.get("/agents", skill_group_id=a["id"], page_size=1, page=2))
    assert page["total"] == 2 and [i["id"] for i in page["items"]] == [only_a["id"]]
    assert page["items"][0]["skill_group_ids"] == [a["id"]]
    invalid(api.get("/agents", skill_group_id="a"), "skill_group_id")
    invalid(api.get("/agents", skill_group_id=str(10**19)), "skill_group_id")


def test_agent_skill_groups_must_be_the_tenants_own_and_unique(
    api: Api, new_tenant: NewTenant
) -> None:
    mine = skill_group(api, "mine")
    foreign = skill_group(new_tenant(), "theirs")
    agent = create(api, "/agents", {"name": "y", "skill_group_ids": [mine["id"]]})
    cases: Cases = [
        ({"skill_group_ids": [mine["id"], MISSING_ID]}, "skill_group_ids[1]"),
        ({"skill_group_ids": [mine["id"], foreign["id"]]}, "skill_group_ids[1]"),
        ({"skill_group_ids": [foreign["id"]]}, "skill_group_ids[0]"),
        ({"skill_group_ids": [mine["id"], mine["id"]]}, "skill_group_ids[1]"),
        ({"skill_group_ids": [10**19]}, "skill_group_ids[0]"),
    ]
    assert_all_rejected(api, "/agents", {"name": "x"}, f"/agents/{agent['id']}", cases)
    assert api.ok(api.get(f"/agents/{agent['id']}"))["skill_group_ids"] == [mine["id"]]


AGENT_RULES: Cases = [
    ({"skill_group_ids": [0]}, "skill_group_ids[0]"),
    ({"skill_group_ids": ["a"]}, "skill_group_ids[0]"),
    ({"skill_group_ids": 3}, "skill_group_ids"),
    ({"external_id": "e" * 65}, "external_id"),
    ({"endpoint": "e" * 256}, "endpoint"),
]


def test_agent_validation(api: Api) -> None:
    agent = create(api, "/agents", {"name": "existing"})
    assert_all_rejected(api, "/agents", {"name": "new"}, f"/agents/{agent['id']}", AGENT_RULES)


def test_deleting_a_skill_group_removes_it_from_agents(api: Api) -> None:
    a, b = skill_group(api, "a"), skill_group(api, "b")
    agent = create(api, "/agents", {"name": "x", "skill_group_ids": [a["id"], b["id"]]})
    assert api.delete(f"/skill-groups/{a['id']}").status_code == 204
    assert api.ok(api.get(f"/agents/{agent['id']}"))["skill_group_ids"] == [b["id"]]
    assert total(api, "/agents", skill_group_id=a["id"]) == 0


def test_deleted_agent_leaves_its_skill_groups(api: Api) -> None:
    sg = skill_group(api, "a")
    agent = create(api, "/agents", {"name": "x", "skill_group_ids": [sg["id"]]})
    assert api.delete(f"/agents/{agent['id']}").status_code == 204
    assert api.ok(api.get(f"/skill-groups/{sg['id']}")) == sg
    assert total(api, "/agents", skill_group_id=sg["id"]) == 0


# --- blackout calendars ---------------------------------------------------------------------


def calendar(api: Api, name: str = "cal", **extra: Any) -> Any:
    return create(api, "/blackout-calendars", {"name": name, **extra})


CALENDAR_RULES: Cases = [
    ({"weekly": [{"days": [], "start": "09:00", "end": "10:00"}]}, "weekly[0].days"),
    ({"weekly": [{"days": [0], "start": "09:00", "end": "10:00"}]}, "weekly[0].days[0]"),
    ({"weekly": [{"days": [1, 8], "start": "09:00", "end": "10:00"}]}, "weekly[0].days[1]"),
    ({"weekly": [{"days": [1, 2, 1], "start": "09:00", "end": "10:00"}]}, "weekly[0]"),
    (
        {"weekly": [{"days": [1, 2, 3, 4, 5, 6, 7, 1], "start": "09:00", "end": "10:00"}]},
        "weekly[0].days",
    ),
    ({"weekly": [{"days": [1], "start": "9am", "end": "10:00"}]}, "weekly[0].start"),
    ({"weekly": [{"days": [1], "start": "09:00", "end": "25:00"}]}, "weekly[0].end"),
    ({"weekly": [{"days": [1], "start": "09:60", "end": "10:00"}]}, "weekly[0].start"),
    ({"weekly": [{"days": [1], "start": "24:01", "end": "10:00"}]}, "weekly[0].start"),
    ({"weekly": [{"days": [1], "start": "10:00", "end": "10:00"}]}, "weekly[0]"),
    ({"weekly": [{"days": [1], "start": "10:00", "end": "10:00:00"}]}, "weekly[0]"),
    ({"weekly": [{"days": [1], "end": "10:00"}]}, "weekly[0].start"),
    (
        {"weekly": [{"days": [1], "start": "08:00", "end": "09:00", "note": "x"}]},
        "weekly[0].note",
    ),
    (
        {
            "weekly": [
                {"days": [1], "start": "08:00", "end": "09:00"},
                {"days": [2], "start": "x", "end": "09:00"},
            ]
        },
        "weekly[1].start",
    ),
    (
        {"dated": [{"start": "2026-10-01T00:00:00+08:00", "end": "2026-10-02T00:00:00"}]},
        "dated[0]",
    ),
    ({"dated": [{"start": "2026-10-01T00:00:00", "end": "2026-10-02T00:00:00Z"}]}, "dated[0]"),
    ({"dated": [{"start": "2026-10-02T00:00:00", "end": "2026-10-01T00:00:00"}]}, "dated[0]"),
    ({"dated": [{"start": "2026-10-01T00:00:00", "end": "2026-10-01T00:00:00"}]}, "dated[0]"),
    ({"dated": [{"start": "next week", "end": "2026-10-01T00:00:00"}]}, "dated[0].start"),
    ({"dated": [{"start": "2026-10-01T00:00:00"}]}, "dated[0].end"),
    (
        {
            "dated": [
                {
                    "start": "2026-10-01T00:00:00",
                    "end": "2026-10-02T00:00:00",
                    "label": "l" * 101,
                }
            ]
        },
        "dated[0].label",
    ),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": ""}, "timezone"),
]


def test_blackout_calendar_validation(api: Api) -> None:
    existing = calendar(
        api,
        "existing",
        weekly=[{"days": [7], "start": "00:00", "end": "24:00"}],
        dated=[{"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00"}],
    )
    item = f"/blackout-calendars/{existing['id']}"
    assert_all_rejected(api, "/blackout-calendars", {"name": "new"}, item, CALENDAR_RULES)


def test_blackout_calendar_times_are_normalised_and_may_cross_midnight(api: Api) -> None:
    cal = calendar(
        api,
        weekly=[
            {"days": [5, 1], "start": "22:00", "end": "06:30"},
            {"days": [7], "start": "00:00", "end": "24:00"},
            {"days": [3], "start": "12:00:30", "end": "13:00"},
        ],
        dated=[{"start": "2026-12-31T22:00:00", "end": "2027-01-01T02:00:00"}],
    )
    assert cal["timezone"] is None
    assert cal["weekly"] == [
        {"days": [5, 1], "start": "22:00:00", "end": "06:30:00"},
        {"days": [7], "start": "00:00:00", "end": "24:00:00"},
        {"days": [3], "start": "12:00:30", "end": "13:00:00"},
    ]
    assert cal["dated"] == [
        {"start": "2026-12-31T22:00:00", "end": "2027-01-01T02:00:00", "label": ""}
    ]
    item = f"/blackout-calendars/{cal['id']}"
    patched = api.ok(api.patch(item, {"timezone": "Europe/Berlin"}))
    assert patched["timezone"] == "Europe/Berlin" and patched["weekly"] == cal["weekly"]
    assert api.ok(api.patch(item, {"dated": []}))["weekly"] == cal["weekly"]


def test_blackout_calendar_used_by_campaign_cannot_be_deleted(api: Api) -> None:
    cal = calendar(api)
    campaign = create(api, "/campaigns", {"name": "c", "blackout_calendar_id": cal["id"]})
    conflict(api.delete(f"/blackout-calendars/{cal['id']}"))
    assert api.ok(api.get(f"/blackout-calendars/{cal['id']}")) == cal
    assert api.delete(f"/campaigns/{campaign['id']}").status_code == 204
    assert api.delete(f"/blackout-calendars/{cal['id']}").status_code == 204


# --- redial policies ------------------------------------------------------------------------


def rule(*outcomes: str, interval: int = 60, times: int = 1) -> dict[str, Any]:
    return {"outcomes": list(outcomes), "interval_seconds": interval, "max_times": times}


REDIAL_RULES: Cases = [
    ({"rules": [rule("busy"), rule("no_answer", "busy")]}, "rules[1]"),
    ({"rules": [rule("busy"), rule("no_answer"), rule("rejected", "no_answer")]}, "rules[2]"),
    ({"rules": [rule("bored")]}, "rules[0].outcomes[0]"),
    ({"rules": [rule("busy", "Busy")]}, "rules[0].outcomes[1]"),
    ({"rules": [rule("busy", "busy")]}, "rules[0].outcomes[1]"),
    ({"rules": [rule("busy"), rule("no_answer", "rejected", "no_answer")]}, "rules[1].outcomes[2]"),
    ({"rules": [rule()]}, "rules[0].outcomes"),
    ({"rules": [rule("busy", interval=-1)]}, "rules[0].interval_seconds"),
    ({"rules": [rule("busy", interval=30 * 24 * 3600 + 1)]}, "rules[0].interval_seconds"),
    ({"rules": [rule("busy", times=-1)]}, "rules[0].max_times"),
    ({"rules": [rule("busy", times=101)]}, "rules[0].max_times"),
    ({"rules": [{"outcomes": ["busy"], "interval_seconds": 1}]}, "rules[0].max_times"),
    ({"rules": [{**rule("busy"), "jitter": 3}]}, "rules[0].jitter"),
    ({"rules": [rule(o) for o in ["busy"] * 15]}, "rules"),
    ({"is_default": "maybe"}, "is_default"),
    ({"skip_suspended": None}, "skip_suspended"),
]


def test_redial_policy_validation(api: Api) -> None:
    existing = create(api, "/redial-policies", {"name": "existing", "rules": [rule("busy")]})
    item = f"/redial-policies/{existing['id']}"
    assert_all_rejected(api, "/redial-policies", {"name": "new"}, item, REDIAL_RULES)


def test_redial_rule_bounds_are_inclusive(api: Api) -> None:
    rules = [
        rule("busy", interval=0, times=0),
        rule("no_answer", interval=30 * 24 * 3600, times=100),
    ]
    policy = create(api, "/redial-policies", {"name": "edges", "rules": rules})
    assert policy["rules"] == rules
    defaults = create(api, "/redial-policies", {"name": "defaults"})
    assert {k: defaults[k] for k in ("enabled", "is_default", "rules", "skip_invalid_number")} == {
        "enabled": True,
        "is_default": False,
        "rules": [],
        "skip_invalid_number": True,
    }


def test_only_one_default_redial_policy_per_tenant(api: Api, new_tenant: NewTenant) -> None:
    neighbour = new_tenant()
    theirs = create(neighbour, "/redial-policies", {"name": "theirs", "is_default": True})

    first = create(api, "/redial-policies", {"name": "first", "is_default": True})
    second = create(api, "/redial-policies", {"name": "second", "is_default": True})
    assert second["is_default"] is True
    assert api.ok(api.get(f"/redial-policies/{first['id']}"))["is_default"] is False
    assert names(api, "/redial-policies", is_default="true") == ["second"]

    # Making the first default again by PATCH unsets the second.
    assert api.ok(api.patch(f"/redial-policies/{first['id']}", {"is_default": True}))["is_default"]
    assert api.ok(api.get(f"/redial-policies/{second['id']}"))["is_default"] is False
    assert names(api, "/redial-policies", is_default="true") == ["first"]

    # A rejected default does not unset the current one.
    invalid(
        api.post("/redial-policies", {"name": "bad", "is_default": True, "rules": [rule("x")]}),
        "rules[0].outcomes[0]",
    )
    assert names(api, "/redial-policies", is_default="true") == ["first"]

    # Updating a non-default policy leaves the default alone; no default at all is allowed.
    api.ok(api.patch(f"/redial-policies/{second['id']}", {"description": "x"}))
    assert names(api, "/redial-policies", is_default="true") == ["first"]
    api.ok(api.patch(f"/redial-policies/{first['id']}", {"is_default": False}))
    assert names(api, "/redial-policies", is_default="true") == []

    # Other tenants' defaults are untouched.
    assert neighbour.ok(neighbour.get(f"/redial-policies/{theirs['id']}"))["is_default"] is True


def test_redial_policy_used_by_campaign_cannot_be_deleted(api: Api) -> None:
    policy = create(api, "/redial-policies", {"name": "p", "rules": [rule("busy")]})
    campaign = create(api, "/campaigns", {"name": "c", "redial_policy_id": policy["id"]})
    conflict(api.delete(f"/redial-policies/{policy['id']}"))
    assert api.ok(api.get(f"/redial-policies/{policy['id']}")) == policy
    assert api.delete(f"/campaigns/{campaign['id']}").status_code == 204
    assert api.delete(f"/redial-policies/{policy['id']}").status_code == 204


# --- line passwords are write-only ----------------------------------------------------------

MASK = "********"


def stored_settings(server: Server, line_id: int) -> dict[str, Any]:
    with server[1].store.read() as conn:
        settings: dict[str, Any] = conn.scalar(
            select(lines.c.settings).where(lines.c.id == line_id)
        )
    return settings


def test_line_passwords_are_masked_in_output_and_kept_on_patch(api: Api, server: Server) -> None:
    nodes = [{"host": "fs1", "password": "s3cret-one"}, {"host": "fs2", "password": "s3cret-two"}]
    fs = line(api, "fs", driver="freeswitch", settings={"nodes": nodes, "gateway": "gw"})
    item = f"/lines/{fs['id']}"
    assert [n["password"] for n in fs["settings"]["nodes"]] == [MASK, MASK]
    assert [n["password"] for n in api.ok(api.get(item))["settings"]["nodes"]] == [MASK, MASK]
    listed = api.ok(api.get("/lines"))["items"]
    assert [n["password"] for n in listed[0]["settings"]["nodes"]] == [MASK, MASK]
    assert "s3cret" not in api.get(item).text and "s3cret" not in api.get("/lines").text
    real = ["s3cret-one", "s3cret-two"]
    sealed = [n["password"] for n in stored_settings(server, fs["id"])["nodes"]]
    assert all(p.startswith("sealed:") and "s3cret" not in p for p in sealed)  # encrypted
    assert node_passwords(server, fs["id"]) == real

    # A PATCH without settings, or sending the masked settings back, keeps the passwords.
    api.ok(api.patch(item, {"channels": 5}))
    api.ok(api.patch(item, {"settings": api.ok(api.get(item))["settings"]}))
    assert [n["password"] for n in stored_settings(server, fs["id"])["nodes"]] == sealed

    # A new password replaces the one at its place; the mask keeps the other.
    nodes = [{"host": "fs1", "password": MASK}, {"host": "fs2", "password": "new"}]
    changed = {"nodes": nodes, "gateway": "gw"}
    out = api.ok(api.patch(item, {"settings": changed}))
    assert [n["password"] for n in out["settings"]["nodes"]] == [MASK, MASK]
    stored = stored_settings(server, fs["id"])["nodes"]
    assert stored[0]["password"] == sealed[0] and stored[1]["password"].startswith("sealed:")
    assert node_passwords(server, fs["id"]) == ["s3cret-one", "new"]

    # The mask where no password is stored is refused, naming the place; nothing changes.
    extra = {**changed, "nodes": [*nodes, {"host": "fs3", "password": MASK}]}
    assert_rejected_patch(api, item, {"settings": extra}, "settings.nodes[2].password")
    assert stored_settings(server, fs["id"])["nodes"] == stored


def test_sip_password_is_masked_only_when_set(api: Api, server: Server) -> None:
    sip = line(
        api, "sip", driver="sip", settings={"host": "sbc", "username": "u1", "password": "pw-1"}
    )
    assert sip["settings"]["password"] == MASK
    item = f"/lines/{sip['id']}"
    api.ok(api.patch(item, {"settings": {"host": "sbc2", "username": "u1", "password": MASK}}))
    assert stored_settings(server, sip["id"]) | {"host": "sbc2"} == stored_settings(
        server, sip["id"]
    )
    stored = stored_settings(server, sip["id"])["password"]
    assert stored.startswith("sealed:") and "pw-1" not in stored  # encrypted at rest
    assert sip_password(server, sip["id"]) == "pw-1"
    cleared = api.ok(
        api.patch(item, {"settings": {"host": "sbc2", "username": "u1", "password": ""}})
    )
    assert cleared["settings"]["password"] == ""
    assert stored_settings(server, sip["id"])["password"] == ""
    assert_rejected_patch(
        api,
        item,
        {"settings": {"host": "sbc2", "username": "u1", "password": MASK}},
        "settings.password",
    )
    # A new line cannot borrow a password through the mask, nor a line switching driver.
    body = {"name": "new", "channels": 1, "driver": "sip"}
    assert_rejected_create(
        api,
        "/lines",
        {**body, "settings": {"host": "h", "username": "u", "password": MASK}},
        "settings.password",
    )
    fs = line(
        api, "fs", driver="freeswitch", settings={"nodes": [{"host": "fs1"}], "gateway": "gw"}
    )
    switch = {"driver": "sip", "settings": {"host": "h", "username": "u", "password": MASK}}
    assert_rejected_patch(api, f"/lines/{fs['id']}", switch, "settings.password")


def sip_password(server: Server, line_id: int) -> str:
    return open_line_password(line_box(server), stored_settings(server, line_id)["password"])


def node_passwords(server: Server, line_id: int) -> list[str]:
    box = line_box(server)
    return [
        open_line_password(box, n["password"]) for n in stored_settings(server, line_id)["nodes"]
    ]


def line_box(server: Server) -> SecretBox:
    hooks = server[1].lines.hooks
    assert isinstance(hooks, LineHooks) and hooks.box is not None
    return hooks.box


def test_a_password_that_looks_sealed_is_sealed_like_any_other(api: Api, server: Server) -> None:
    """Only what the store holds is taken as sealed: a password given that begins with
    ``sealed:`` is a password, sealed and opened back as given."""
    given = "sealed:not-a-token"
    nodes = [{"host": "fs1", "password": given}]
    fs = line(api, "fs-odd", driver="freeswitch", settings={"nodes": nodes, "gateway": "gw"})
    assert node_passwords(server, fs["id"]) == [given]
    sip = line(
        api, "sip-odd", driver="sip", settings={"host": "h", "username": "u", "password": given}
    )
    assert sip_password(server, sip["id"]) == given


def test_a_plain_password_from_before_sealing_is_sealed_on_the_next_update(
    api: Api, server: Server
) -> None:
    fs = line(
        api, "fs-old", driver="freeswitch", settings={"nodes": [{"host": "fs1"}], "gateway": "gw"}
    )
    with server[1].store.write() as conn:  # as a release before sealing stored it
        plain = {
            **stored_settings(server, fs["id"]),
            "nodes": [{"host": "fs1", "port": 8021, "password": "old-pw"}],
        }
        conn.execute(update(lines).where(lines.c.id == fs["id"]).values(settings=plain))
    item = f"/lines/{fs['id']}"
    assert [n["password"] for n in api.ok(api.get(item))["settings"]["nodes"]] == [MASK]
    api.ok(api.patch(item, {"settings": api.ok(api.get(item))["settings"]}))
    (stored,) = stored_settings(server, fs["id"])["nodes"]
    assert stored["password"].startswith("sealed:")
    assert node_passwords(server, fs["id"]) == ["old-pw"]


# --- agents in use --------------------------------------------------------------------------


def test_an_agent_assigned_in_campaigns_cannot_be_deleted(api: Api) -> None:
    sg = skill_group(api, "desk")
    agent = create(api, "/agents", {"name": "alice", "skill_group_ids": [sg["id"]]})
    other = create(api, "/agents", {"name": "bob"})
    item = f"/agents/{agent['id']}"
    manual = {"kind": "manual", "pacing_mode": "preview"}
    assignment = [{"agent_id": agent["id"], "assign_count": 10}]
    first = create(api, "/campaigns", {"name": "first", **manual, "agent_assignments": assignment})
    second = create(
        api,
        "/campaigns",
        {
            "name": "second",
            **manual,
            "agent_assignments": [{"agent_id": other["id"], "assign_count": 1}, *assignment],
        },
    )
    create(api, "/campaigns", {"name": "unrelated", **manual})

    resp = api.delete(item)
    conflict(resp)
    body = resp.json()
    assert body["campaign_ids"] == [first["id"], second["id"]]
    assert "'first'" in body["message"] and "'second'" in body["message"]
    assert "unrelated" not in body["message"]
    assert api.ok(api.get(item)) == agent

    # Once no campaign that may still dial names it, it can go.
    api.ok(api.patch(f"/campaigns/{first['id']}", {"agent_assignments": []}))
    conflict(api.delete(item))
    api.ok(api.post(f"/campaigns/{second['id']}/cancel"))
    assert api.delete(item).status_code == 204
    # A cancelled campaign never dials again: its assignments do not hold an agent.
    assert api.delete(f"/agents/{other['id']}").status_code == 204


def test_a_line_in_the_ledger_cannot_be_deleted(api: Api, server: Server) -> None:
    old, new = line(api, "old", ("95187",)), line(api, "new")
    campaign = create(api, "/campaigns", {"name": "moved", "line_id": old["id"]})
    contacts = {"contacts": [{"phones": [{"number": "13800138000"}]}]}
    contact_id = api.ok(api.post(f"/campaigns/{campaign['id']}/contacts", contacts))["results"][0][
        "id"
    ]
    contact = api.ok(api.get(f"/campaigns/{campaign['id']}/contacts/{contact_id}"))
    with server[1].store.write() as conn:
        conn.execute(
            ended_attempt(
                api,
                campaign["id"],
                contact,
                line_id=old["id"],
                outcome="busy",
                native_cause="USER_BUSY",
            )
        )
    api.ok(api.patch(f"/campaigns/{campaign['id']}", {"line_id": new["id"]}))
    conflict(api.delete(f"/lines/{old['id']}"))
    assert api.ok(api.get(f"/lines/{old['id']}")) == old


# --- concurrent creates ---------------------------------------------------------------------


def race(server: Server, key: str, calls: int, send: Callable[[Api], httpx2.Response]) -> list[Any]:
    """Fire ``calls`` requests at once, each from its own client; return the responses."""
    clients = [Api(server[0], key) for _ in range(calls)]
    barrier = threading.Barrier(calls)

    def go(client: Api) -> httpx2.Response:
        barrier.wait()
        return send(client)

    try:
        with ThreadPoolExecutor(calls) as pool:
            return list(pool.map(go, clients))
    finally:
        for client in clients:
            client.close()


def key_of(api: Api) -> str:
    return str(api.http.headers["Authorization"]).removeprefix("Bearer ")


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_concurrent_creates_of_one_name_are_one_201_and_422s(
    api: Api, server: Server, kind: Kind
) -> None:
    body = minimal(kind, "raced")
    responses = race(server, key_of(api), 8, lambda c: c.post(kind.path, body))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [422] * 7, [r.text for r in responses]
    for resp in responses:
        if resp.status_code == 422:
            invalid(resp, "name")
    assert names(api, kind.path) == ["raced"]


def test_a_unique_name_lost_to_a_concurrent_writer_is_422_not_500(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The moment between the name check and the insert, made certain: the check is skipped,
    so the database's unique constraint is what refuses the second create and the rename."""
    line(api, "taken")
    other = line(api, "other")
    monkeypatch.setattr(TenantTable, "name_taken", lambda *_args, **_kw: False)
    before = total(api, "/lines")
    resp = api.post("/lines", {"name": "taken", "channels": 1})
    invalid(resp, "name")
    assert resp.json()["details"][0]["type"] == "unique"
    assert total(api, "/lines") == before
    invalid(api.patch(f"/lines/{other['id']}", {"name": "taken"}), "name")
    assert api.ok(api.get(f"/lines/{other['id']}")) == other


def test_start_up_seals_the_passwords_an_older_release_stored_plain(services: Services) -> None:
    tenant = Tenant.from_row(services.tenants.create(validate(TenantIn, {"name": "old-rows"})))
    fs = {"nodes": [{"host": "fs1", "password": "fs-pw"}, {"host": "fs2"}], "gateway": "gw"}
    made = [
        services.lines.create(tenant, validate(LineIn, body))
        for body in [
            {"name": "fs", "channels": 2, "driver": "freeswitch", "settings": fs},
            {"name": "sip", "channels": 2, "driver": "sip", "settings": {"host": "h"}},
            {"name": "sim", "channels": 2},
        ]
    ]
    plain = {
        made[0]["id"]: {**fs, "nodes": [{"host": "fs1", "port": 8021, "password": "fs-pw"},
                                        {"host": "fs2", "port": 8021, "password": "ClueCon"}]},
        made[1]["id"]: {"host": "h", "username": "u", "password": "sip-pw"},
    }  # fmt: skip
    with services.store.write() as conn:
        for line_id, settings in plain.items():
            conn.execute(update(lines).where(lines.c.id == line_id).values(settings=settings))
    hooks = services.lines.hooks
    assert isinstance(hooks, LineHooks) and hooks.box is not None
    box = hooks.box

    with services.store.write() as conn:
        assert seal_stored_passwords(conn, box) == 2
    with services.store.write() as conn:
        assert seal_stored_passwords(conn, box) == 0  # once sealed, left alone

    with services.store.read() as conn:
        stored = {i: v for i, v in conn.execute(select(lines.c.id, lines.c.settings))}
    nodes = stored[made[0]["id"]]["nodes"]
    assert all(n["password"].startswith("sealed:") for n in nodes)
    assert [open_line_password(box, n["password"]) for n in nodes] == ["fs-pw", "ClueCon"]
    sip = stored[made[1]["id"]]
    assert sip["password"].startswith("sealed:")
    assert open_line_password(box, sip["password"]) == "sip-pw"
    assert stored[made[2]["id"]] == made[2]["settings"]  # no password: unchanged
