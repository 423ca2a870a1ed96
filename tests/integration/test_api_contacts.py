"""Contacts of a campaign through the real HTTP server: batch append with per-row verdicts,
limits, normalisation, DNC, reads, edits and deletes.

Every test runs on SQLite and on PostgreSQL (the ``server`` fixture is parametrized).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from outdial.services.container import Services
from outdial.store.schema import campaigns, contacts
from tests.support import Api, ended_attempt, fields


def mobile(i: int) -> str:
    """A distinct, possible Chinese mobile number in E.164."""
    return f"+86139{i:08d}"


def row(number: str, **over: Any) -> dict[str, Any]:
    return {"phones": [{"number": number}], **over}


def new_campaign(api: Api, **over: Any) -> int:
    body = {"name": f"c-{uuid.uuid4().hex[:8]}", **over}
    return int(api.ok(api.post("/campaigns", body), 201)["id"])


def append(
    api: Api, campaign_id: int, rows: list[Any], all_or_nothing: bool | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"contacts": rows}
    if all_or_nothing is not None:
        body["all_or_nothing"] = all_or_nothing
    result: dict[str, Any] = api.ok(api.post(f"/campaigns/{campaign_id}/contacts", body))
    return result


def listed(api: Api, campaign_id: int, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.ok(api.get(f"/campaigns/{campaign_id}/contacts", **params))
    return result


def count(api: Api, campaign_id: int) -> int:
    return int(listed(api, campaign_id)["total"])


def verdict_fields(result: dict[str, Any]) -> dict[int, set[str]]:
    """Per rejected row: the fields its errors name."""
    return {
        r["index"]: {e["field"] for e in r["errors"]}
        for r in result["results"]
        if r["status"] == "rejected"
    }


def set_campaign_state(server: tuple[str, Services], campaign_id: int, state: str) -> None:
    with server[1].store.write() as conn:
        conn.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(state=state))


def add_attempt(
    server: tuple[str, Services], api: Api, campaign_id: int, contact: dict[str, Any]
) -> None:
    with server[1].store.write() as conn:
        conn.execute(ended_attempt(api, campaign_id, contact))


# --- append: accepted rows and normalisation -----------------------------------------------


def test_append_normalises_numbers_and_stores_every_field(api: Api) -> None:
    cid = new_campaign(
        api,
        phone_groups=[{"identify": "self", "name": "本人"}, {"identify": "kin", "name": "亲属"}],
    )
    rows = [
        {
            "name": "张三",
            "description": "老客户",
            "external_id": "crm-1",
            "pass_through": "order=42",
            "attributes": {"city": "上海", "tier": "gold"},
            "timezone": "Asia/Shanghai",
            "phones": [
                {"number": "138 0013 8000", "relation": "本人", "phone_group": "self"},
                {"number": "0086-138-0013-8002", "relation": "父亲", "phone_group": "kin"},
                {"number": "010 1234 5678", "phone_group": "kin"},
            ],
        },
        {"phones": [{"number": "+86 138 0013 8001", "phone_group": "self"}]},
    ]
    result = append(api, cid, rows)
    assert (result["accepted"], result["rejected"], result["total_contacts"]) == (2, 0, 2)
    assert [r["status"] for r in result["results"]] == ["accepted", "accepted"]
    assert [r["index"] for r in result["results"]] == [0, 1]
    first = api.ok(api.get(f"/campaigns/{cid}/contacts/{result['results'][0]['id']}"))
    assert {k: first[k] for k in ("name", "description", "external_id", "pass_through")} == {
        "name": "张三",
        "description": "老客户",
        "external_id": "crm-1",
        "pass_through": "order=42",
    }
    assert first["attributes"] == {"city": "上海", "tier": "gold"}
    assert first["timezone"] == "Asia/Shanghai"
    assert (first["state"], first["reason"], first["attempt_count"]) == ("pending", "not_dialed", 0)
    assert first["campaign_id"] == cid
    assert [
        (p["position"], p["number"], p["relation"], p["phone_group"]) for p in first["phones"]
    ] == [
        (0, "+8613800138000", "本人", "self"),
        (1, "+8613800138002", "父亲", "kin"),
        (2, "+861012345678", "", "kin"),
    ]
    assert all(p["state"] == "active" and p["attempt_count"] == 0 for p in first["phones"])
    second = api.ok(api.get(f"/campaigns/{cid}/contacts/{result['results'][1]['id']}"))
    assert second["phones"][0]["number"] == "+8613800138001"
    assert second["phones"][0]["relation"] == "self"  # the first phone is the person's own
    assert second["name"] == "" and second["external_id"] is None


def test_default_region_of_the_tenant_reads_national_numbers(
    new_tenant: Callable[..., Api],
) -> None:
    us = new_tenant(default_region="US")
    cid = new_campaign(us)
    result = append(us, cid, [row("(415) 555-0100"), row("+86 138 0013 8000")])
    assert result["accepted"] == 2
    numbers = [c["phones"][0]["number"] for c in listed(us, cid)["items"]]
    assert numbers == ["+14155550100", "+8613800138000"]
    assert listed(us, cid, number="415-555-0100")["total"] == 1


def test_accepted_at_the_001_limits(api: Api) -> None:
    cid = new_campaign(api)
    edge = {
        "name": "名" * 20,
        "description": "d" * 200,
        "external_id": "e" * 64,
        "pass_through": "p" * 40,
        "phones": [
            {"number": mobile(1), "relation": "self"},
            {"number": mobile(2), "relation": "母亲"},
            {"number": mobile(3), "relation": "r" * 20},
        ],
    }
    relations = [
        row(mobile(4), name="a"),
        {"phones": [{"number": mobile(5), "relation": "本人"}]},
        {"phones": [{"number": mobile(6), "relation": " self "}]},
    ]
    result = append(api, cid, [edge, *relations])
    assert result["accepted"] == 4, result


# --- append: per-row verdicts ---------------------------------------------------------------


def test_each_row_gets_its_own_verdict(api: Api) -> None:
    cid = new_campaign(api)
    rows: list[tuple[dict[str, Any], set[str] | None]] = [
        (row("13800138000", name="ok"), None),
        (row("12"), {"contacts[1].phones[0].number"}),
        (row(mobile(2), name="名" * 21), {"contacts[2].name"}),
        (row(mobile(3), description="d" * 201), {"contacts[3].description"}),
        (row(mobile(4), external_id="e" * 65), {"contacts[4].external_id"}),
        (row(mobile(5), pass_through="p" * 41), {"contacts[5].pass_through"}),
        (
            {"phones": [{"number": mobile(6), "relation": "父亲"}]},
            {"contacts[6].phones[0].relation"},
        ),
        ({"phones": [{"number": mobile(70 + k)} for k in range(4)]}, {"contacts[7].phones"}),
        ({"phones": []}, {"contacts[8].phones"}),
        ({"name": "no phones"}, {"contacts[9].phones"}),
        (row(mobile(10), age=30), {"contacts[10].age"}),
        (
            {"phones": [{"number": mobile(11), "phone_group": "vip"}]},
            {"contacts[11].phones[0].phone_group"},
        ),
        (
            {"phones": [{"number": mobile(12)}, {"number": "abc"}]},
            {"contacts[12].phones[1].number"},
        ),
        (
            {"phones": [{"number": mobile(13)}, {"number": mobile(13)[3:]}]},
            {"contacts[13].phones"},
        ),
        (row(mobile(14), timezone="Mars/Base"), {"contacts[14].timezone"}),
        (row("+86 138-0013-8000"), {"contacts[15].phones[0].number"}),
        (row(mobile(16), attributes={"k": 1}), {"contacts[16].attributes.k"}),
        ({"phones": [{"number": ""}]}, {"contacts[17].phones[0].number"}),
        (row(mobile(18), name="last ok"), None),
    ]
    result = append(api, cid, [r for r, _ in rows])
    expected = {i: f for i, (_, f) in enumerate(rows) if f is not None}
    assert verdict_fields(result) == expected
    assert (result["accepted"], result["rejected"]) == (2, len(rows) - 2)
    assert result["total_contacts"] == 2
    assert [r["index"] for r in result["results"]] == list(range(len(rows)))
    dup = next(r for r in result["results"] if r["index"] == 15)
    assert dup["errors"][0]["type"] == "duplicate"
    assert [c["name"] for c in listed(api, cid)["items"]] == ["ok", "last ok"]


def test_duplicates_within_the_batch_and_against_the_campaign(api: Api) -> None:
    cid, other = new_campaign(api), new_campaign(api)
    first = append(api, cid, [row("13800138000"), row("+8613800138000"), row(mobile(1))])
    assert verdict_fields(first) == {1: {"contacts[1].phones[0].number"}}
    second = append(api, cid, [row(mobile(2)), row("0086 138 0013 8000"), row(mobile(1))])
    assert verdict_fields(second) == {
        1: {"contacts[1].phones[0].number"},
        2: {"contacts[2].phones[0].number"},
    }
    messages = [e["message"] for r in second["results"] for e in r.get("errors", [])]
    assert all("already in the campaign" in m for m in messages)
    assert count(api, cid) == 3
    # Another campaign of the tenant may hold the same person.
    assert append(api, other, [row("13800138000")])["accepted"] == 1


def test_dnc_numbers_are_rejected(new_tenant: Callable[..., Api]) -> None:
    api, other = new_tenant(), new_tenant()
    api.ok(api.post("/dnc", {"number": "138 0013 8000", "reason": "asked"}), 201)
    api.ok(api.post("/dnc", {"number": mobile(9)}), 201)
    expired = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    api.ok(api.post("/dnc", {"number": mobile(8), "expires_at": expired}), 201)
    cid = new_campaign(api)
    result = append(
        api,
        cid,
        [
            row("+8613800138000"),
            {"phones": [{"number": mobile(1)}, {"number": mobile(9)}]},
            row(mobile(8)),
            row(mobile(2)),
        ],
    )
    assert verdict_fields(result) == {
        0: {"contacts[0].phones[0].number"},
        1: {"contacts[1].phones[1].number"},
    }
    types = {e["type"] for r in result["results"] for e in r.get("errors", [])}
    assert types == {"dnc"}
    assert count(api, cid) == 2
    # One tenant's do-not-call list does not bind another.
    assert append(other, new_campaign(other), [row("13800138000")])["accepted"] == 1


# --- append: limits and all-or-nothing ------------------------------------------------------


def test_more_than_1000_rows_is_limit_exceeded(api: Api) -> None:
    cid = new_campaign(api)
    resp = api.post(
        f"/campaigns/{cid}/contacts", {"contacts": [row(mobile(i)) for i in range(1001)]}
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == "limit_exceeded"
    assert fields(resp) == {"contacts"}
    assert count(api, cid) == 0


def test_1000_rows_in_one_request(api: Api) -> None:
    cid = new_campaign(api)
    result = append(api, cid, [row(mobile(i), external_id=f"x{i}") for i in range(1000)])
    assert (result["accepted"], result["rejected"], result["total_contacts"]) == (1000, 0, 1000)
    assert len({r["id"] for r in result["results"]}) == 1000
    stats = api.ok(api.get(f"/campaigns/{cid}/stats"))
    assert stats["contacts"]["total"] == 1000
    assert stats["contacts"]["pending"] == 1000
    assert stats["progress"] == 0.0
    assert listed(api, cid, external_id="x999")["items"][0]["phones"][0]["number"] == mobile(999)


def test_tenant_cap_per_campaign(new_tenant: Callable[..., Api]) -> None:
    api = new_tenant(max_contacts_per_campaign=5)
    cid = new_campaign(api)
    resp = api.post(f"/campaigns/{cid}/contacts", {"contacts": [row(mobile(i)) for i in range(6)]})
    assert resp.status_code == 422 and resp.json()["code"] == "limit_exceeded"
    assert (resp.json()["cap"], resp.json()["existing"]) == (5, 0)
    assert count(api, cid) == 0
    assert append(api, cid, [row(mobile(i)) for i in range(3)])["total_contacts"] == 3
    resp = api.post(
        f"/campaigns/{cid}/contacts", {"contacts": [row(mobile(i)) for i in range(3, 6)]}
    )
    assert resp.status_code == 422 and resp.json()["code"] == "limit_exceeded"
    assert resp.json()["existing"] == 3
    assert count(api, cid) == 3
    # Rejected rows do not count against the cap.
    result = append(api, cid, [row(mobile(3)), row("12"), row(mobile(0)), row(mobile(4))])
    assert (result["accepted"], result["total_contacts"]) == (2, 5)
    resp = api.post(f"/campaigns/{cid}/contacts", {"contacts": [row(mobile(6))]})
    assert resp.status_code == 422 and resp.json()["code"] == "limit_exceeded"
    assert count(api, cid) == 5
    # The cap is per campaign.
    assert append(api, new_campaign(api), [row(mobile(i)) for i in range(5)])["accepted"] == 5


def test_all_or_nothing(api: Api) -> None:
    cid = new_campaign(api)
    append(api, cid, [row(mobile(0))])
    for bad, field in [
        (row("12"), "contacts[1].phones[0].number"),
        (row(mobile(0)), "contacts[1].phones[0].number"),
        (row(mobile(5), name="n" * 21), "contacts[1].name"),
    ]:
        resp = api.post(
            f"/campaigns/{cid}/contacts",
            {"contacts": [row(mobile(1)), bad, row(mobile(2))], "all_or_nothing": True},
        )
        assert resp.status_code == 422, resp.text
        assert resp.json()["code"] == "validation_error"
        assert fields(resp) == {field}
        assert count(api, cid) == 1
    result = append(api, cid, [row(mobile(1)), row(mobile(2))], all_or_nothing=True)
    assert (result["accepted"], result["total_contacts"]) == (2, 3)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"contacts": []}, "contacts"),
        ({}, "contacts"),
        ({"contacts": ["13800138000"]}, "contacts[0]"),
        ({"contacts": [row(mobile(1))], "mode": "fast"}, "mode"),
        ({"contacts": [row(mobile(1))], "all_or_nothing": "perhaps"}, "all_or_nothing"),
    ],
)
def test_malformed_append_requests(api: Api, body: dict[str, Any], field: str) -> None:
    cid = new_campaign(api)
    resp = api.post(f"/campaigns/{cid}/contacts", body)
    assert resp.status_code == 422, resp.text
    assert fields(resp) == {field}
    assert count(api, cid) == 0


@pytest.mark.parametrize("state", ["cancelled", "expired", "failed"])
def test_closed_campaigns_refuse_contacts(
    api: Api, server: tuple[str, Services], state: str
) -> None:
    cid = new_campaign(api)
    append(api, cid, [row(mobile(0))])
    if state == "cancelled":
        api.ok(api.post(f"/campaigns/{cid}/cancel"))
    else:
        set_campaign_state(server, cid, state)
    resp = api.post(f"/campaigns/{cid}/contacts", {"contacts": [row(mobile(1))]})
    assert resp.status_code == 409, resp.text
    assert resp.json()["code"] == "conflict" and resp.json()["state"] == state
    assert count(api, cid) == 1


def test_contacts_reopen_a_completed_campaign(api: Api, server: tuple[str, Services]) -> None:
    cid = new_campaign(api)
    set_campaign_state(server, cid, "completed")
    append(api, cid, [row(mobile(0))])
    campaign = api.ok(api.get(f"/campaigns/{cid}"))
    assert (campaign["state"], campaign["state_reason"]) == ("running", "contacts_added")
    # A batch with nothing accepted leaves a completed campaign completed.
    other = new_campaign(api)
    set_campaign_state(server, other, "completed")
    assert append(api, other, [row("12")])["accepted"] == 0
    assert api.ok(api.get(f"/campaigns/{other}"))["state"] == "completed"


def test_append_to_draft_paused_and_running_campaigns(api: Api) -> None:
    line = api.ok(api.post("/lines", {"name": "l", "channels": 2}), 201)["id"]
    script = api.ok(api.post("/scripts", {"name": "s"}), 201)["id"]
    cid = new_campaign(api, line_id=line, script_id=script)
    assert append(api, cid, [row(mobile(0))])["accepted"] == 1
    api.ok(api.post(f"/campaigns/{cid}/start"))
    assert append(api, cid, [row(mobile(1))])["accepted"] == 1
    api.ok(api.post(f"/campaigns/{cid}/pause"))
    assert append(api, cid, [row(mobile(2))])["accepted"] == 1
    assert api.ok(api.get(f"/campaigns/{cid}"))["state"] == "paused"


# --- list, get, edit, delete ---------------------------------------------------------------


def test_list_filters_and_pages(api: Api, server: tuple[str, Services]) -> None:
    cid = new_campaign(api)
    result = append(
        api,
        cid,
        [
            row(mobile(0), name="王小明", external_id="a"),
            {
                "name": "李雷",
                "external_id": "b",
                "phones": [{"number": mobile(1)}, {"number": mobile(9)}],
            },
            row(mobile(2), name="韩梅梅", external_id="c"),
            row(mobile(3), name="100%_done", external_id="d"),
        ],
    )
    ids = [r["id"] for r in result["results"]]
    with server[1].store.write() as conn:
        conn.execute(update(contacts).where(contacts.c.id == ids[1]).values(state="succeeded"))
        conn.execute(update(contacts).where(contacts.c.id == ids[2]).values(state="failed"))

    def found(**params: Any) -> list[int]:
        return [c["id"] for c in listed(api, cid, **params)["items"]]

    assert found() == ids
    assert found(state="pending") == [ids[0], ids[3]]
    assert found(state="succeeded") == [ids[1]]
    assert found(state="cancelled") == []
    assert found(q="小") == [ids[0]]
    assert found(q="%") == [ids[3]]
    assert found(q="_") == [ids[3]]
    assert found(external_id="c") == [ids[2]]
    assert found(number=mobile(2)) == [ids[2]]
    assert found(number=mobile(9)[3:]) == [ids[1]]  # a secondary phone, national format
    assert found(number="13911111111") == []
    assert found(state="pending", q="王") == [ids[0]]

    page = listed(api, cid, page=2, page_size=3)
    assert (page["total"], page["page"], page["page_size"]) == (4, 2, 3)
    assert [c["id"] for c in page["items"]] == [ids[3]]
    assert [p["number"] for p in page["items"][0]["phones"]] == [mobile(3)]

    for params, field in [
        ({"name": "x"}, "name"),
        ({"number": "12"}, "number"),
        ({"page_size": 0}, "page_size"),
    ]:
        resp = api.get(f"/campaigns/{cid}/contacts", **params)
        assert resp.status_code == 422, resp.text
        assert fields(resp) == {field}


def test_patch_edits_own_fields_only(api: Api) -> None:
    cid = new_campaign(api)
    contact_id = append(api, cid, [row(mobile(0), name="before", external_id="x")])["results"][0][
        "id"
    ]
    path = f"/campaigns/{cid}/contacts/{contact_id}"
    before = api.ok(api.get(path))
    edited = api.ok(
        api.patch(
            path,
            {
                "name": "after",
                "description": "vip",
                "external_id": None,
                "pass_through": "p" * 40,
                "attributes": {"k": "v"},
                "timezone": "Asia/Urumqi",
            },
        )
    )
    assert (edited["name"], edited["description"], edited["external_id"]) == ("after", "vip", None)
    assert (edited["attributes"], edited["timezone"]) == ({"k": "v"}, "Asia/Urumqi")
    assert edited["phones"] == before["phones"]
    assert api.ok(api.get(path)) == edited

    for patch, field in [
        ({"phones": [{"number": mobile(5)}]}, "phones"),
        ({"name": "n" * 21}, "name"),
        ({"pass_through": "p" * 41}, "pass_through"),
        ({"external_id": "e" * 65}, "external_id"),
        ({"timezone": "Nowhere/City"}, "timezone"),
        ({"state": "succeeded"}, "state"),
        ({"age": 3}, "age"),
        ({"name": "ok", "phones": []}, "phones"),
    ]:
        resp = api.patch(path, patch)
        assert resp.status_code == 422, (patch, resp.text)
        assert fields(resp) == {field}, patch
        assert api.ok(api.get(path)) == edited


def test_delete_never_dialed_but_not_once_dialed(api: Api, server: tuple[str, Services]) -> None:
    cid = new_campaign(api)
    result = append(api, cid, [row(mobile(0)), row(mobile(1))])
    fresh, dialed = (r["id"] for r in result["results"])
    assert api.delete(f"/campaigns/{cid}/contacts/{fresh}").status_code == 204
    assert api.get(f"/campaigns/{cid}/contacts/{fresh}").status_code == 404
    assert api.delete(f"/campaigns/{cid}/contacts/{fresh}").status_code == 404
    # The number is free again.
    assert append(api, cid, [row(mobile(0))])["accepted"] == 1

    contact = api.ok(api.get(f"/campaigns/{cid}/contacts/{dialed}"))
    add_attempt(server, api, cid, contact)
    resp = api.delete(f"/campaigns/{cid}/contacts/{dialed}")
    assert resp.status_code == 409, resp.text
    assert resp.json()["code"] == "conflict"
    assert api.ok(api.get(f"/campaigns/{cid}/contacts/{dialed}")) == contact
    assert count(api, cid) == 2


def test_contact_ids_are_scoped_to_campaign_and_tenant(new_tenant: Callable[..., Api]) -> None:
    api, stranger = new_tenant(), new_tenant()
    cid, sibling = new_campaign(api), new_campaign(api)
    contact_id = append(api, cid, [row(mobile(0))])["results"][0]["id"]
    theirs = new_campaign(stranger)
    append(stranger, theirs, [row(mobile(0))])
    for who, campaign_id in [(api, sibling), (api, 999_999), (stranger, theirs), (stranger, cid)]:
        path = f"/campaigns/{campaign_id}/contacts/{contact_id}"
        for resp in [who.get(path), who.patch(path, {"name": "x"}), who.delete(path)]:
            assert resp.status_code == 404, (campaign_id, resp.text)
            assert resp.json()["code"] == "not_found"
    assert api.get(f"/campaigns/{cid}/contacts/999999").status_code == 404
    contact = api.ok(api.get(f"/campaigns/{cid}/contacts/{contact_id}"))
    assert contact["name"] == "" and count(api, cid) == 1
    assert count(stranger, theirs) == 1


def test_the_first_phones_wrong_relation_is_named_exactly(api: Api) -> None:
    cid = new_campaign(api)
    bad = {"phones": [{"number": mobile(1), "relation": "母亲"}, {"number": mobile(2)}]}
    result = append(api, cid, [row(mobile(0)), bad])
    assert verdict_fields(result) == {1: {"contacts[1].phones[0].relation"}}
    error = result["results"][1]["errors"][0]
    assert "self" in error["message"] and "本人" in error["message"]
    resp = api.post(
        f"/campaigns/{cid}/contacts", {"contacts": [row(mobile(3)), bad], "all_or_nothing": True}
    )
    assert resp.status_code == 422, resp.text
    assert fields(resp) == {"contacts[1].phones[0].relation"}
    assert count(api, cid) == 1


def test_unknown_contact_state_filter_is_422(api: Api) -> None:
    cid = new_campaign(api)
    append(api, cid, [row(mobile(0))])
    for value in ("done", "PENDING", ""):
        resp = api.get(f"/campaigns/{cid}/contacts", state=value)
        assert resp.status_code == 422, (value, resp.text)
        assert fields(resp) == {"state"}
        assert "pending" in resp.json()["details"][0]["message"]
    assert listed(api, cid, state="pending")["total"] == 1


# --- the attempt list ------------------------------------------------------------------------


def test_attempt_number_filter_is_normalised_like_the_contacts_filter(
    new_tenant: Callable[..., Api], server: tuple[str, Services]
) -> None:
    api = new_tenant(default_region="CN")
    cid = new_campaign(api)
    result = append(api, cid, [row(mobile(0)), row(mobile(1))])
    first, second = (
        api.ok(api.get(f"/campaigns/{cid}/contacts/{r['id']}")) for r in result["results"]
    )
    add_attempt(server, api, cid, first)
    add_attempt(server, api, cid, second)

    def numbers(**params: Any) -> list[str]:
        page = api.ok(api.get(f"/campaigns/{cid}/attempts", **params))
        return [a["number"] for a in page["items"]]

    assert numbers(number=mobile(1)) == [mobile(1)]
    assert numbers(number=mobile(1)[3:]) == [mobile(1)]  # national format, tenant's region
    assert numbers(number="0086 " + mobile(1)[3:]) == [mobile(1)]
    assert numbers(number="13911111111") == []
    resp = api.get(f"/campaigns/{cid}/attempts", number="12")
    assert resp.status_code == 422, resp.text
    assert fields(resp) == {"number"}


def test_unknown_attempt_outcome_filter_is_422(api: Api, server: tuple[str, Services]) -> None:
    cid = new_campaign(api)
    contact_id = append(api, cid, [row(mobile(0))])["results"][0]["id"]
    add_attempt(server, api, cid, api.ok(api.get(f"/campaigns/{cid}/contacts/{contact_id}")))
    path = f"/campaigns/{cid}/attempts"
    assert api.ok(api.get(path, outcome="no_answer"))["total"] == 1
    assert api.ok(api.get(path, outcome="busy"))["total"] == 0
    for value in ("noanswer", "NO_ANSWER", "hung up"):
        resp = api.get(path, outcome=value)
        assert resp.status_code == 422, (value, resp.text)
        assert fields(resp) == {"outcome"}
        assert "no_answer" in resp.json()["details"][0]["message"]
