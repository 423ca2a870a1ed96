"""Campaigns through the real HTTP server: settings, validation, lifecycle, isolation.

Every test runs on SQLite and on PostgreSQL (the ``server`` fixture is parametrized).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from outdial.services.container import Services
from outdial.store.schema import campaigns
from tests.support import Api, ended_attempt, fields

LINE_NUMBERS = ["+861012345678", "95187"]
OTHER_LINE_NUMBERS = ["+862087654321"]


def when(days: float) -> str:
    """An ISO date-time ``days`` from now, with an offset."""
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def make_catalog(api: Api) -> dict[str, int]:
    """One of each resource a campaign refers to; returns their ids."""

    def make(path: str, body: dict[str, Any]) -> int:
        return int(api.ok(api.post(path, body), 201)["id"])

    line = make(
        "/lines",
        {"name": "line-a", "channels": 20, "caller_numbers": [{"number": n} for n in LINE_NUMBERS]},
    )
    other_line = make(
        "/lines",
        {
            "name": "line-b",
            "channels": 5,
            "caller_numbers": [{"number": n} for n in OTHER_LINE_NUMBERS],
        },
    )
    skill_group = make("/skill-groups", {"name": "sales", "line_id": line})
    return {
        "line": line,
        "other_line": other_line,
        "number_group": make(
            "/number-groups", {"name": "ng-a", "line_id": line, "numbers": ["95187"]}
        ),
        "other_number_group": make(
            "/number-groups",
            {"name": "ng-b", "line_id": other_line, "numbers": OTHER_LINE_NUMBERS},
        ),
        "skill_group": skill_group,
        "script": make("/scripts", {"name": "greeting", "extension": "8001"}),
        "blackout": make(
            "/blackout-calendars",
            {"name": "holidays", "weekly": [{"days": [7], "start": "00:00", "end": "24:00"}]},
        ),
        "redial": make(
            "/redial-policies",
            {
                "name": "twice",
                "rules": [
                    {"outcomes": ["no_answer", "busy"], "interval_seconds": 600, "max_times": 2}
                ],
            },
        ),
        "agent": make("/agents", {"name": "alice", "skill_group_ids": [skill_group]}),
    }


def full_body(ids: dict[str, int], **over: Any) -> dict[str, Any]:
    """A campaign using every setting."""
    return {
        "name": "spring sale",
        "description": "每周一三五, 含跨午夜时段",
        "kind": "auto",
        "period_start": "2030-01-01T09:00:00+08:00",
        "period_end": "2030-03-01T00:00:00+08:00",
        "windows": [{"start": "09:00", "end": "12:00"}, {"start": "22:30", "end": "01:15:30"}],
        "repeat_by": "week",
        "repeat_days": [1, 3, 5],
        "timezone": "Asia/Tokyo",
        "use_contact_timezone": True,
        "blackout_calendar_id": ids["blackout"],
        "line_id": ids["line"],
        "number_group_id": ids["number_group"],
        "caller_numbers": LINE_NUMBERS,
        "routing_strategy": "local_first",
        "skill_group_id": ids["skill_group"],
        "script_id": ids["script"],
        "redial_policy_id": ids["redial"],
        "pacing_mode": "predictive",
        "ratio": 1.5,
        "abandon_target_percent": 2.5,
        "max_concurrency": 15,
        "call_gap_seconds": 1.5,
        "ring_timeout_seconds": 25,
        "acw_seconds": 30,
        "max_attempts_per_day": 3,
        "min_attempt_interval_seconds": 900,
        "recall_skip": {"invalid_number": True, "suspended": True, "in_arrears": False},
        "phone_groups": [
            {
                "identify": "self",
                "name": "本人",
                "redial_enabled": True,
                "redial_interval_seconds": 300,
                "redial_times": 2,
            },
            {
                "identify": "family",
                "name": "亲属",
                "redial_enabled": False,
                "redial_interval_seconds": 0,
                "redial_times": 0,
            },
        ],
        "agent_assignments": [{"agent_id": ids["agent"], "assign_count": 100}],
        "priority": 70,
        "webhook_url": "https://hooks.example.com/outdial/calls",
        "webhook_type": "answered",
        "external_id": "crm-42",
        **over,
    }


def ready_body(ids: dict[str, int], **over: Any) -> dict[str, Any]:
    """A minimal agentless campaign that may start now."""
    return {"name": "ready", "line_id": ids["line"], "script_id": ids["script"], **over}


def total(api: Api) -> int:
    return int(api.ok(api.get("/campaigns"))["total"])


def create(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = api.ok(api.post("/campaigns", body), 201)
    return result


def act(api: Api, campaign_id: int, action: str, status: int = 200) -> dict[str, Any]:
    result: dict[str, Any] = api.ok(api.post(f"/campaigns/{campaign_id}/{action}"), status)
    return result


def set_state(server: tuple[str, Services], campaign_id: int, state: str) -> None:
    """Put a campaign in a state only the engine reaches (completed, expired, failed)."""
    with server[1].store.write() as conn:
        conn.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(state=state))


# --- create, read, list, update, delete ----------------------------------------------------


def test_create_round_trips_every_setting(api: Api) -> None:
    ids = make_catalog(api)
    body = full_body(ids)
    made = create(api, body)
    fetched = api.ok(api.get(f"/campaigns/{made['id']}"))
    assert made == fetched
    for key in set(body) - {"period_start", "period_end", "windows"}:
        assert fetched[key] == body[key], key
    assert instant(fetched["period_start"]) == datetime(2030, 1, 1, 1, 0, tzinfo=UTC)
    assert instant(fetched["period_end"]) == datetime(2030, 2, 28, 16, 0, tzinfo=UTC)
    assert fetched["windows"] == [
        {"start": "09:00:00", "end": "12:00:00"},
        {"start": "22:30:00", "end": "01:15:30"},
    ]
    assert fetched["state"] == "draft"
    assert fetched["vendor"] == "native"
    assert fetched["started_at"] is None and fetched["ended_at"] is None
    assert fetched["uuid"] and fetched["created_at"] == fetched["updated_at"]


def test_defaults_and_timezone_default_to_the_tenant(new_tenant: Callable[..., Api]) -> None:
    api = new_tenant(timezone="Europe/Berlin")
    made = create(api, {"name": "plain"})
    assert made["timezone"] == "Europe/Berlin"
    assert made["kind"] == "auto" and made["pacing_mode"] == "agentless"
    assert made["windows"] == [] and made["repeat_by"] == "day" and made["repeat_days"] == []
    assert made["phone_groups"] == [
        {
            "identify": "default",
            "name": "default",
            "redial_enabled": False,
            "redial_interval_seconds": 0,
            "redial_times": 0,
        }
    ]
    assert made["abandon_target_percent"] == 3.0 and made["ring_timeout_seconds"] == 30
    explicit = create(api, {"name": "tokyo", "timezone": "Asia/Tokyo"})
    assert explicit["timezone"] == "Asia/Tokyo"


def test_schedule_shapes_round_trip(api: Api) -> None:
    shapes: list[dict[str, Any]] = [
        {"repeat_by": "once"},
        {"repeat_by": "day", "windows": [{"start": "20:00", "end": "08:00"}]},
        {"repeat_by": "week", "repeat_days": [7, 1]},
        {"repeat_by": "month", "repeat_days": [1, 15, 31]},
        {"windows": [{"start": "00:00", "end": "24:00"}]},
        {"windows": [{"start": "23:59:59", "end": "00:00:01"}]},
    ]
    for i, shape in enumerate(shapes):
        made = create(api, {"name": f"shape {i}", **shape})
        assert made["repeat_by"] == shape.get("repeat_by", "day")
        assert made["repeat_days"] == shape.get("repeat_days", [])
        for window, given in zip(made["windows"], shape.get("windows", []), strict=True):
            assert window["start"].startswith(given["start"])
            assert window["end"].startswith(given["end"])
        # A PATCH validates the stored windows again: they must come back unchanged.
        patched = api.ok(api.patch(f"/campaigns/{made['id']}", {"description": "again"}))
        assert patched["windows"] == made["windows"]


def test_boundary_values_are_accepted(api: Api) -> None:
    low = create(
        api,
        {
            "name": "low",
            "abandon_target_percent": 1,
            "ring_timeout_seconds": 5,
            "acw_seconds": 1,
            "max_concurrency": 1,
            "ratio": 0.01,
            "priority": 0,
        },
    )
    high = create(
        api,
        {
            "name": "high",
            "abandon_target_percent": 5,
            "ring_timeout_seconds": 180,
            "acw_seconds": 180,
            "max_concurrency": 100_000,
            "ratio": 100,
            "priority": 100,
        },
    )
    assert (low["abandon_target_percent"], low["ring_timeout_seconds"], low["acw_seconds"]) == (
        1,
        5,
        1,
    )
    assert (high["abandon_target_percent"], high["ring_timeout_seconds"], high["acw_seconds"]) == (
        5,
        180,
        180,
    )


def test_manual_campaign_uses_preview(api: Api) -> None:
    made = create(api, {"name": "manual", "kind": "manual", "pacing_mode": "preview"})
    assert (made["kind"], made["pacing_mode"]) == ("manual", "preview")


def test_caller_numbers_without_a_line_must_be_on_some_line_of_the_tenant(api: Api) -> None:
    make_catalog(api)
    made = create(api, {"name": "any line", "caller_numbers": [OTHER_LINE_NUMBERS[0], "95187"]})
    assert made["caller_numbers"] == [OTHER_LINE_NUMBERS[0], "95187"]
    resp = api.post("/campaigns", {"name": "nowhere", "caller_numbers": ["+861000000000"]})
    assert resp.status_code == 422 and fields(resp) == {"caller_numbers[0]"}


def test_list_filters_and_pagination(api: Api) -> None:
    ids = make_catalog(api)
    a = create(api, ready_body(ids, name="alpha robot", external_id="ext-a"))
    b = create(
        api,
        {
            "name": "beta agents",
            "pacing_mode": "progressive",
            "line_id": ids["other_line"],
            "skill_group_id": ids["skill_group"],
        },
    )
    c = create(api, {"name": "gamma manual", "kind": "manual", "pacing_mode": "preview"})
    act(api, a["id"], "start")

    def names(**params: Any) -> list[str]:
        return [item["name"] for item in api.ok(api.get("/campaigns", **params))["items"]]

    assert names() == [a["name"], b["name"], c["name"]]
    assert names(state="running") == [a["name"]]
    assert names(state="draft") == [b["name"], c["name"]]
    assert names(kind="manual") == [c["name"]]
    assert names(pacing_mode="progressive") == [b["name"]]
    assert names(q="ta ag") == [b["name"]]
    assert names(q="%") == []
    assert names(external_id="ext-a") == [a["name"]]
    assert names(line_id=ids["line"]) == [a["name"]]
    assert names(skill_group_id=ids["skill_group"]) == [b["name"]]
    assert names(vendor="native") == [a["name"], b["name"], c["name"]]
    assert names(vendor="aliyun") == []

    first = api.ok(api.get("/campaigns", page=1, page_size=2))
    second = api.ok(api.get("/campaigns", page=2, page_size=2))
    third = api.ok(api.get("/campaigns", page=3, page_size=2))
    assert (first["total"], first["page"], first["page_size"]) == (3, 1, 2)
    assert [i["id"] for i in first["items"] + second["items"]] == [a["id"], b["id"], c["id"]]
    assert third["items"] == [] and third["total"] == 3

    for params, field in [
        ({"colour": "red"}, "colour"),
        ({"page": 0}, "page"),
        ({"page_size": 501}, "page_size"),
        ({"page": "x"}, "page"),
        ({"line_id": "x"}, "line_id"),
    ]:
        resp = api.get("/campaigns", **params)
        assert resp.status_code == 422, params
        assert fields(resp) == {field}


def test_patch_merges_and_revalidates(api: Api) -> None:
    ids = make_catalog(api)
    made = create(api, full_body(ids))
    patched = api.ok(
        api.patch(
            f"/campaigns/{made['id']}",
            {"description": "changed", "windows": [{"start": "21:00", "end": "03:00"}], "ratio": 2},
        )
    )
    assert patched["description"] == "changed"
    assert patched["windows"] == [{"start": "21:00:00", "end": "03:00:00"}]
    assert patched["ratio"] == 2
    untouched = set(full_body(ids)) - {"description", "windows", "ratio"}
    assert {k: patched[k] for k in untouched} == {k: made[k] for k in untouched}
    assert instant(patched["updated_at"]) >= instant(made["updated_at"])
    assert api.ok(api.get(f"/campaigns/{made['id']}")) == patched

    cleared = api.ok(
        api.patch(
            f"/campaigns/{made['id']}",
            {"number_group_id": None, "caller_numbers": [], "line_id": ids["other_line"]},
        )
    )
    assert cleared["line_id"] == ids["other_line"] and cleared["number_group_id"] is None

    renamed = api.ok(api.patch(f"/campaigns/{made['id']}", {"name": "spring sale"}))
    assert renamed["name"] == "spring sale"  # its own name is not a duplicate


def test_delete_by_state(api: Api, server: tuple[str, Services]) -> None:
    ids = make_catalog(api)

    def fresh(name: str, **over: Any) -> int:
        return int(create(api, ready_body(ids, name=name, **over))["id"])

    draft = fresh("draft")
    assert api.delete(f"/campaigns/{draft}").status_code == 204
    assert api.get(f"/campaigns/{draft}").status_code == 404

    scheduled = fresh("scheduled", period_start=when(30))
    act(api, scheduled, "start")
    running = fresh("running")
    act(api, running, "start")
    for campaign_id, state in [(scheduled, "scheduled"), (running, "running")]:
        resp = api.delete(f"/campaigns/{campaign_id}")
        assert resp.status_code == 409, resp.text
        assert resp.json()["code"] == "conflict" and resp.json()["state"] == state
        assert api.ok(api.get(f"/campaigns/{campaign_id}"))["state"] == state

    act(api, running, "pause")
    cancelled = fresh("cancelled")
    act(api, cancelled, "cancel")
    completed = fresh("completed")
    set_state(server, completed, "completed")
    for campaign_id in (running, cancelled, completed):
        assert api.delete(f"/campaigns/{campaign_id}").status_code == 204
        assert api.get(f"/campaigns/{campaign_id}").status_code == 404
    assert total(api) == 1


def test_delete_takes_the_contacts_along(api: Api) -> None:
    made = create(api, {"name": "with contacts"})
    body = {"contacts": [{"phones": [{"number": "13800138000"}]}]}
    api.ok(api.post(f"/campaigns/{made['id']}/contacts", body))
    assert api.delete(f"/campaigns/{made['id']}").status_code == 204
    assert api.get(f"/campaigns/{made['id']}/contacts").status_code == 404
    again = create(api, {"name": "with contacts"})
    assert api.ok(api.post(f"/campaigns/{again['id']}/contacts", body))["accepted"] == 1


def test_missing_campaign_is_404(api: Api) -> None:
    for resp in [
        api.get("/campaigns/999999"),
        api.patch("/campaigns/999999", {"name": "x"}),
        api.delete("/campaigns/999999"),
        api.post("/campaigns/999999/start"),
        api.get("/campaigns/999999/stats"),
    ]:
        assert resp.status_code == 404, resp.text
        assert resp.json()["code"] == "not_found"


# --- validation: every rule, on create and on PATCH ----------------------------------------

PERIOD = {"period_start": "2030-01-01T00:00:00+00:00"}

# (id, fields merged into a valid body, the field path the error must name)
INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("unknown field", {"colour": "red"}, "colour"),
    ("unknown nested field", {"recall_skip": {"busy": True}}, "recall_skip.busy"),
    ("empty name", {"name": "  "}, "name"),
    ("long name", {"name": "n" * 101}, "name"),
    ("long description", {"description": "d" * 501}, "description"),
    ("bad kind", {"kind": "robot"}, "kind"),
    (
        "period end before start",
        {**PERIOD, "period_end": "2029-12-31T23:00:00+00:00"},
        "period_end",
    ),
    (
        "period end equals start",
        {**PERIOD, "period_end": "2030-01-01T08:00:00+08:00"},
        "period_end",
    ),
    ("naive period_start", {"period_start": "2030-01-01T09:00:00"}, "period_start"),
    ("naive period_end", {"period_end": "2030-01-01T09:00:00"}, "period_end"),
    ("date only period", {"period_start": "2030-01-01"}, "period_start"),
    ("bad repeat_by", {"repeat_by": "year"}, "repeat_by"),
    ("days with repeat day", {"repeat_by": "day", "repeat_days": [1]}, "repeat_days"),
    ("days with repeat once", {"repeat_by": "once", "repeat_days": [2]}, "repeat_days"),
    ("week without days", {"repeat_by": "week"}, "repeat_days"),
    ("week day 0", {"repeat_by": "week", "repeat_days": [0, 1]}, "repeat_days"),
    ("week day 8", {"repeat_by": "week", "repeat_days": [8]}, "repeat_days"),
    ("week day twice", {"repeat_by": "week", "repeat_days": [2, 2]}, "repeat_days"),
    ("month without days", {"repeat_by": "month", "repeat_days": []}, "repeat_days"),
    ("month day 32", {"repeat_by": "month", "repeat_days": [31, 32]}, "repeat_days"),
    ("window hour unpadded", {"windows": [{"start": "9:00", "end": "12:00"}]}, "windows[0].start"),
    ("window hour 25", {"windows": [{"start": "09:00", "end": "25:00"}]}, "windows[0].end"),
    ("window minute 60", {"windows": [{"start": "09:60", "end": "12:00"}]}, "windows[0].start"),
    ("window after 24:00", {"windows": [{"start": "09:00", "end": "24:01"}]}, "windows[0].end"),
    ("window not a time", {"windows": [{"start": "noon", "end": "12:00"}]}, "windows[0].start"),
    (
        "window start equals end",
        {"windows": [{"start": "08:00", "end": "09:00"}, {"start": "10:00", "end": "10:00:00"}]},
        "windows[1]",
    ),
    ("window without end", {"windows": [{"start": "10:00"}]}, "windows[0].end"),
    ("too many windows", {"windows": [{"start": "01:00", "end": "02:00"}] * 13}, "windows"),
    ("bad timezone", {"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ("abandon below 1", {"abandon_target_percent": 0.99}, "abandon_target_percent"),
    ("abandon above 5", {"abandon_target_percent": 5.01}, "abandon_target_percent"),
    ("ring timeout below 5", {"ring_timeout_seconds": 4}, "ring_timeout_seconds"),
    ("ring timeout above 180", {"ring_timeout_seconds": 181}, "ring_timeout_seconds"),
    ("acw below 1", {"acw_seconds": 0}, "acw_seconds"),
    ("acw above 180", {"acw_seconds": 181}, "acw_seconds"),
    ("concurrency 0", {"max_concurrency": 0}, "max_concurrency"),
    ("concurrency above max", {"max_concurrency": 100_001}, "max_concurrency"),
    ("ratio 0", {"ratio": 0}, "ratio"),
    ("ratio negative", {"ratio": -1.5}, "ratio"),
    ("ratio above 100", {"ratio": 100.5}, "ratio"),
    ("negative call gap", {"call_gap_seconds": -1}, "call_gap_seconds"),
    ("max attempts 0", {"max_attempts_per_day": 0}, "max_attempts_per_day"),
    ("priority 101", {"priority": 101}, "priority"),
    ("bad pacing mode", {"pacing_mode": "turbo"}, "pacing_mode"),
    ("manual without preview", {"kind": "manual"}, "pacing_mode"),
    ("manual with ratio", {"kind": "manual", "pacing_mode": "ratio"}, "pacing_mode"),
    ("preview on auto", {"kind": "auto", "pacing_mode": "preview"}, "pacing_mode"),
    ("bad routing", {"routing_strategy": "random"}, "routing_strategy"),
    ("caller number syntax", {"caller_numbers": ["call-me"]}, "caller_numbers"),
    ("caller number twice", {"caller_numbers": ["95187", "95187"]}, "caller_numbers"),
    ("no phone groups", {"phone_groups": []}, "phone_groups"),
    (
        "phone group twice",
        {"phone_groups": [{"identify": "a", "name": "A"}, {"identify": "a", "name": "B"}]},
        "phone_groups",
    ),
    ("phone group without name", {"phone_groups": [{"identify": "a"}]}, "phone_groups[0].name"),
    (
        "phone group negative redial",
        {"phone_groups": [{"identify": "a", "name": "A", "redial_times": -1}]},
        "phone_groups[0].redial_times",
    ),
    (
        "agent id 0",
        {"agent_assignments": [{"agent_id": 0, "assign_count": 1}]},
        "agent_assignments[0].agent_id",
    ),
    (
        "assign count negative",
        {"agent_assignments": [{"agent_id": 1, "assign_count": -1}]},
        "agent_assignments[0].assign_count",
    ),
    (
        "agent assigned twice",
        {"agent_assignments": [{"agent_id": 1}, {"agent_id": 1, "assign_count": 2}]},
        "agent_assignments[1].agent_id",
    ),
    ("line id 0", {"line_id": 0}, "line_id"),
    ("line id text", {"line_id": "first"}, "line_id"),
    ("webhook scheme", {"webhook_url": "ftp://hooks.example.com/x"}, "webhook_url"),
    ("webhook not a url", {"webhook_url": "hooks"}, "webhook_url"),
    ("webhook type", {"webhook_type": "some"}, "webhook_type"),
    ("long external id", {"external_id": "e" * 65}, "external_id"),
]


@pytest.mark.parametrize(("patch", "field"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_create_is_422_naming_the_field(
    api: Api, patch: dict[str, Any], field: str
) -> None:
    create(api, {"name": "existing"})
    resp = api.post("/campaigns", {"name": "new one", **patch})
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == "validation_error"
    assert field in fields(resp), resp.json()
    assert total(api) == 1


@pytest.mark.parametrize(("patch", "field"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_patch_is_422_and_changes_nothing(
    api: Api, patch: dict[str, Any], field: str
) -> None:
    made = create(api, {"name": "existing", "description": "before"})
    resp = api.patch(f"/campaigns/{made['id']}", {"description": "after", **patch})
    assert resp.status_code == 422, resp.text
    assert field in fields(resp), resp.json()
    assert api.ok(api.get(f"/campaigns/{made['id']}")) == made


REFS = [
    ("blackout_calendar_id", "blackout"),
    ("line_id", "line"),
    ("number_group_id", "number_group"),
    ("skill_group_id", "skill_group"),
    ("script_id", "script"),
    ("redial_policy_id", "redial"),
]


@pytest.mark.parametrize(("attr", "kind"), REFS, ids=[r[0] for r in REFS])
def test_foreign_and_missing_references_are_422(
    new_tenant: Callable[..., Api], attr: str, kind: str
) -> None:
    api, other = new_tenant(), new_tenant()
    mine, theirs = make_catalog(api), make_catalog(other)
    made = create(api, {"name": "existing"})
    for ref in (theirs[kind], 999_999):
        resp = api.post("/campaigns", {"name": "refs", attr: ref})
        assert resp.status_code == 422, resp.text
        assert fields(resp) == {attr}
        assert resp.json()["details"][0]["type"] == "not_found"
        resp = api.patch(f"/campaigns/{made['id']}", {attr: ref})
        assert resp.status_code == 422 and fields(resp) == {attr}
    assert total(api) == 1
    assert api.ok(api.get(f"/campaigns/{made['id']}")) == made
    assert create(api, {"name": "own ref", attr: mine[kind]})[attr] == mine[kind]


def test_cross_reference_rules(new_tenant: Callable[..., Api]) -> None:
    api, other = new_tenant(), new_tenant()
    ids, theirs = make_catalog(api), make_catalog(other)
    other_agent = theirs["agent"]
    made = create(api, ready_body(ids, name="existing"))
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"line_id": ids["line"], "caller_numbers": ["95187", "+862087654321"]},
            "caller_numbers[1]",
        ),
        ({"line_id": ids["line"], "caller_numbers": ["+869999999999"]}, "caller_numbers[0]"),
        ({"caller_numbers": ["+861012345678", "+869999999999"]}, "caller_numbers[1]"),
        (
            {"line_id": ids["line"], "number_group_id": ids["other_number_group"]},
            "number_group_id",
        ),
        (
            {
                "agent_assignments": [
                    {"agent_id": ids["agent"], "assign_count": 1},
                    {"agent_id": 999_999, "assign_count": 1},
                ]
            },
            "agent_assignments[1].agent_id",
        ),
        (
            {"agent_assignments": [{"agent_id": other_agent, "assign_count": 1}]},
            "agent_assignments[0].agent_id",
        ),
        ({"name": "existing"}, "name"),
    ]
    for patch, field in cases:
        resp = api.post("/campaigns", {"name": "new", **patch})
        assert resp.status_code == 422, (patch, resp.text)
        assert fields(resp) == {field}, patch
    # On PATCH the same rules hold; the name rule names another campaign of this tenant.
    create(api, {"name": "taken"})
    for patch, field in [*cases[:-1], ({"name": "taken"}, "name")]:
        resp = api.patch(f"/campaigns/{made['id']}", patch)
        assert resp.status_code == 422, (patch, resp.text)
        assert fields(resp) == {field}, patch
    assert total(api) == 2
    assert api.ok(api.get(f"/campaigns/{made['id']}")) == made
    # Names are unique per tenant only.
    assert create(other, {"name": "existing"})["name"] == "existing"


def test_bad_json_bodies(api: Api) -> None:
    resp = api.post("/campaigns", [{"name": "list"}])
    assert resp.status_code == 422
    resp = api.http.post(
        "/campaigns", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 422
    assert resp.json()["code"] == "validation_error"
    assert api.post("/campaigns", {}).status_code == 422
    assert total(api) == 0


# --- lifecycle ------------------------------------------------------------------------------


def test_start_pause_resume_cancel(api: Api) -> None:
    ids = make_catalog(api)
    made = create(api, ready_body(ids))
    started = act(api, made["id"], "start")
    assert (started["state"], started["state_reason"]) == ("running", "start")
    assert started["started_at"] is not None and started["ended_at"] is None
    paused = act(api, made["id"], "pause")
    assert (paused["state"], paused["state_reason"]) == ("paused", "pause")
    resumed = act(api, made["id"], "resume")
    assert (resumed["state"], resumed["state_reason"]) == ("running", "resume")
    assert resumed["started_at"] == started["started_at"]
    cancelled = act(api, made["id"], "cancel")
    assert (cancelled["state"], cancelled["state_reason"]) == ("cancelled", "cancel")
    assert cancelled["ended_at"] is not None
    assert api.ok(api.get(f"/campaigns/{made['id']}")) == cancelled


def test_start_follows_the_period(api: Api) -> None:
    ids = make_catalog(api)
    begun = create(api, ready_body(ids, name="begun", period_start=when(-1), period_end=when(5)))
    assert act(api, begun["id"], "start")["state"] == "running"
    future = create(api, ready_body(ids, name="future", period_start=when(30)))
    assert act(api, future["id"], "start")["state"] == "scheduled"
    assert act(api, future["id"], "pause")["state"] == "paused"
    assert act(api, future["id"], "resume")["state"] == "scheduled"
    assert act(api, future["id"], "cancel")["state"] == "cancelled"


@pytest.mark.parametrize("mode", ["progressive", "ratio", "predictive"])
def test_agent_modes_need_line_and_skill_group(api: Api, mode: str) -> None:
    ids = make_catalog(api)
    bare = create(api, {"name": "bare", "pacing_mode": mode, "script_id": ids["script"]})
    resp = api.post(f"/campaigns/{bare['id']}/start")
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == "validation_error"
    assert fields(resp) == {"line_id", "skill_group_id"}
    assert api.ok(api.get(f"/campaigns/{bare['id']}")) == bare
    ok = create(
        api,
        {
            "name": "ok",
            "pacing_mode": mode,
            "line_id": ids["line"],
            "skill_group_id": ids["skill_group"],
        },
    )
    assert act(api, ok["id"], "start")["state"] == "running"


def test_robot_modes_need_line_and_script(api: Api) -> None:
    ids = make_catalog(api)
    for mode in ("agentless", "fixed"):
        bare = create(api, {"name": f"bare {mode}", "pacing_mode": mode})
        resp = api.post(f"/campaigns/{bare['id']}/start")
        assert resp.status_code == 422 and fields(resp) == {"line_id", "script_id"}
        lined = create(api, {"name": f"lined {mode}", "pacing_mode": mode, "line_id": ids["line"]})
        resp = api.post(f"/campaigns/{lined['id']}/start")
        assert resp.status_code == 422 and fields(resp) == {"script_id"}
        for campaign in (bare, lined):
            assert api.ok(api.get(f"/campaigns/{campaign['id']}")) == campaign
        ready = create(api, ready_body(ids, name=f"ready {mode}", pacing_mode=mode))
        assert act(api, ready["id"], "start")["state"] == "running"


def test_manual_preview_needs_a_skill_group(api: Api) -> None:
    """A preview campaign needs agents: a skill group, or agents assigned (得助 taskAgents)."""
    ids = make_catalog(api)
    body = {"name": "manual", "kind": "manual", "pacing_mode": "preview", "line_id": ids["line"]}
    made = create(api, body)
    resp = api.post(f"/campaigns/{made['id']}/start")
    assert resp.status_code == 422 and fields(resp) == {"skill_group_id"}
    assert resp.json()["details"][0]["type"] == "missing"
    assert api.ok(api.get(f"/campaigns/{made['id']}")) == made
    api.ok(api.patch(f"/campaigns/{made['id']}", {"skill_group_id": ids["skill_group"]}))
    assert act(api, made["id"], "start")["state"] == "running"
    assigned = create(
        api,
        {
            **body,
            "name": "manual, agents assigned",
            "agent_assignments": [{"agent_id": ids["agent"], "assign_count": 5}],
        },
    )
    assert act(api, assigned["id"], "start")["state"] == "running"


def test_period_already_ended_blocks_start_and_resume(api: Api) -> None:
    ids = make_catalog(api)
    ended = create(api, ready_body(ids, name="ended", period_start=when(-3), period_end=when(-1)))
    resp = api.post(f"/campaigns/{ended['id']}/start")
    assert resp.status_code == 422, resp.text
    assert fields(resp) == {"period_end"}
    assert resp.json()["details"][0]["type"] == "past"
    assert api.ok(api.get(f"/campaigns/{ended['id']}")) == ended

    bare = create(api, {"name": "ended bare", "period_end": when(-1)})
    resp = api.post(f"/campaigns/{bare['id']}/start")
    assert fields(resp) == {"line_id", "script_id", "period_end"}

    running = create(api, ready_body(ids, name="running"))
    act(api, running["id"], "start")
    act(api, running["id"], "pause")
    paused = api.ok(api.patch(f"/campaigns/{running['id']}", {"period_end": when(-0.01)}))
    resp = api.post(f"/campaigns/{running['id']}/resume")
    assert resp.status_code == 422 and fields(resp) == {"period_end"}
    assert api.ok(api.get(f"/campaigns/{running['id']}")) == paused


LEGAL = {
    "start": {"draft"},
    "pause": {"scheduled", "running"},
    "resume": {"paused"},
    "cancel": {"draft", "scheduled", "running", "paused"},
}
STATES = ["draft", "scheduled", "running", "paused", "cancelled", "completed", "expired", "failed"]


@pytest.mark.parametrize("state", STATES)
def test_illegal_transitions_are_409_and_change_nothing(
    api: Api, server: tuple[str, Services], state: str
) -> None:
    ids = make_catalog(api)
    future = state in ("scheduled",)
    made = create(api, ready_body(ids, period_start=when(30) if future else None))
    if state in ("scheduled", "running", "paused"):
        act(api, made["id"], "start")
    if state == "paused":
        act(api, made["id"], "pause")
    if state == "cancelled":
        act(api, made["id"], "cancel")
    if state in ("completed", "expired", "failed"):
        set_state(server, made["id"], state)
    before = api.ok(api.get(f"/campaigns/{made['id']}"))
    assert before["state"] == state
    illegal = [action for action, sources in LEGAL.items() if state not in sources]
    assert illegal
    for action in illegal:
        resp = api.post(f"/campaigns/{made['id']}/{action}")
        assert resp.status_code == 409, (action, resp.text)
        body = resp.json()
        assert body["code"] == "illegal_transition"
        assert body["state"] == state
        assert set(body) >= {"code", "message", "details", "state"}
        assert api.ok(api.get(f"/campaigns/{made['id']}")) == before


@pytest.mark.parametrize("state", ["cancelled", "completed", "expired", "failed"])
def test_terminal_campaign_rejects_patch(
    api: Api, server: tuple[str, Services], state: str
) -> None:
    made = create(api, {"name": "over"})
    if state == "cancelled":
        act(api, made["id"], "cancel")
    else:
        set_state(server, made["id"], state)
    before = api.ok(api.get(f"/campaigns/{made['id']}"))
    resp = api.patch(f"/campaigns/{made['id']}", {"description": "again"})
    assert resp.status_code == 409, resp.text
    assert resp.json()["code"] == "conflict" and resp.json()["state"] == state
    assert api.ok(api.get(f"/campaigns/{made['id']}")) == before


def test_running_and_paused_campaigns_may_be_edited(api: Api) -> None:
    ids = make_catalog(api)
    made = create(api, ready_body(ids))
    act(api, made["id"], "start")
    edited = api.ok(api.patch(f"/campaigns/{made['id']}", {"max_concurrency": 3}))
    assert (edited["state"], edited["max_concurrency"]) == ("running", 3)
    act(api, made["id"], "pause")
    edited = api.ok(api.patch(f"/campaigns/{made['id']}", {"priority": 1}))
    assert (edited["state"], edited["priority"]) == ("paused", 1)


# --- tenant isolation ---------------------------------------------------------------------


def test_foreign_campaigns_are_404(new_tenant: Callable[..., Api]) -> None:
    owner, stranger = new_tenant(), new_tenant()
    ids = make_catalog(owner)
    made = create(owner, ready_body(ids))
    cid = made["id"]
    for resp in [
        stranger.get(f"/campaigns/{cid}"),
        stranger.patch(f"/campaigns/{cid}", {"description": "mine now"}),
        stranger.delete(f"/campaigns/{cid}"),
        stranger.post(f"/campaigns/{cid}/start"),
        stranger.post(f"/campaigns/{cid}/pause"),
        stranger.post(f"/campaigns/{cid}/resume"),
        stranger.post(f"/campaigns/{cid}/cancel"),
        stranger.get(f"/campaigns/{cid}/stats"),
        stranger.get(f"/campaigns/{cid}/contacts"),
        stranger.post(
            f"/campaigns/{cid}/contacts", {"contacts": [{"phones": [{"number": "13800138000"}]}]}
        ),
        stranger.get(f"/campaigns/{cid}/attempts"),
    ]:
        assert resp.status_code == 404, resp.text
        assert resp.json()["code"] == "not_found"
    assert stranger.ok(stranger.get("/campaigns"))["total"] == 0
    assert owner.ok(owner.get(f"/campaigns/{cid}")) == made
    assert owner.ok(owner.get(f"/campaigns/{cid}/contacts"))["total"] == 0


# --- follow-up rules: the ledger, the line at start, list filters ----------------------------


def add_attempt(server: tuple[str, Services], api: Api, campaign_id: int) -> None:
    """Append one contact and write one ended attempt for it, as the engine would."""
    body = {"contacts": [{"phones": [{"number": "13800138000"}]}]}
    contact_id = api.ok(api.post(f"/campaigns/{campaign_id}/contacts", body))["results"][0]["id"]
    contact = api.ok(api.get(f"/campaigns/{campaign_id}/contacts/{contact_id}"))
    with server[1].store.write() as conn:
        conn.execute(ended_attempt(api, campaign_id, contact))


def test_a_campaign_with_attempts_cannot_be_deleted(api: Api, server: tuple[str, Services]) -> None:
    ids = make_catalog(api)
    dialed = create(api, ready_body(ids, name="dialed"))
    add_attempt(server, api, dialed["id"])
    act(api, dialed["id"], "cancel")
    before = api.ok(api.get(f"/campaigns/{dialed['id']}"))
    contacts_before = api.ok(api.get(f"/campaigns/{dialed['id']}/contacts"))
    attempts_before = api.ok(api.get(f"/campaigns/{dialed['id']}/attempts"))
    assert attempts_before["total"] == 1

    resp = api.delete(f"/campaigns/{dialed['id']}")
    assert resp.status_code == 409, resp.text
    body = resp.json()
    assert body["code"] == "conflict" and body["state"] == "cancelled"
    assert "cancel it instead" in body["message"] and "ledger stays" in body["message"]
    assert api.ok(api.get(f"/campaigns/{dialed['id']}")) == before
    assert api.ok(api.get(f"/campaigns/{dialed['id']}/contacts")) == contacts_before
    assert api.ok(api.get(f"/campaigns/{dialed['id']}/attempts")) == attempts_before

    never = create(api, ready_body(ids, name="never dialed"))
    body = {"contacts": [{"phones": [{"number": "13800138001"}]}]}
    api.ok(api.post(f"/campaigns/{never['id']}/contacts", body))
    assert api.delete(f"/campaigns/{never['id']}").status_code == 204


def _line(api: Api, line_id: int) -> dict[str, Any]:
    result: dict[str, Any] = api.ok(api.get(f"/lines/{line_id}"))
    return result


@pytest.mark.parametrize("action", ["start", "resume"])
@pytest.mark.parametrize(
    ("line_patch", "kind"),
    [({"enabled": False}, "disabled"), ({"expires_at": "2020-01-01T00:00:00+00:00"}, "expired")],
)
def test_start_and_resume_need_a_live_line(
    api: Api, action: str, line_patch: dict[str, Any], kind: str
) -> None:
    ids = make_catalog(api)
    made = create(api, ready_body(ids, caller_numbers=["95187"]))
    if action == "resume":
        act(api, made["id"], "start")
        act(api, made["id"], "pause")
    api.ok(api.patch(f"/lines/{ids['line']}", line_patch))
    before = api.ok(api.get(f"/campaigns/{made['id']}"))

    resp = api.post(f"/campaigns/{made['id']}/{action}")
    assert resp.status_code == 422, resp.text
    assert fields(resp) == {"line_id"}
    assert resp.json()["details"][0]["type"] == kind
    assert api.ok(api.get(f"/campaigns/{made['id']}")) == before

    api.ok(api.patch(f"/lines/{ids['line']}", {"enabled": True, "expires_at": when(1)}))
    assert act(api, made["id"], action)["state"] == "running"


@pytest.mark.parametrize("action", ["start", "resume"])
def test_start_and_resume_need_enabled_caller_numbers(api: Api, action: str) -> None:
    ids = make_catalog(api)
    made = create(api, ready_body(ids, caller_numbers=LINE_NUMBERS))
    if action == "resume":
        act(api, made["id"], "start")
        act(api, made["id"], "pause")
    numbers = [{"number": LINE_NUMBERS[0]}, {"number": LINE_NUMBERS[1], "enabled": False}]
    api.ok(api.patch(f"/lines/{ids['line']}", {"caller_numbers": numbers}))
    before = api.ok(api.get(f"/campaigns/{made['id']}"))

    resp = api.post(f"/campaigns/{made['id']}/{action}")
    assert resp.status_code == 422, resp.text
    assert fields(resp) == {"caller_numbers[1]"}
    assert resp.json()["details"][0]["type"] == "disabled"
    assert api.ok(api.get(f"/campaigns/{made['id']}")) == before

    # A number taken off the line since is named too; the line itself is fine.
    api.ok(api.patch(f"/lines/{ids['line']}", {"caller_numbers": numbers[1:]}))
    resp = api.post(f"/campaigns/{made['id']}/{action}")
    assert resp.status_code == 422 and fields(resp) == {"caller_numbers[0]", "caller_numbers[1]"}
    assert api.ok(api.get(f"/campaigns/{made['id']}")) == before

    api.ok(
        api.patch(
            f"/lines/{ids['line']}", {"caller_numbers": [{"number": n} for n in LINE_NUMBERS]}
        )
    )
    assert act(api, made["id"], action)["state"] == "running"


def test_line_problems_are_reported_with_the_other_readiness_problems(api: Api) -> None:
    ids = make_catalog(api)
    made = create(api, {"name": "two problems", "line_id": ids["line"]})
    api.ok(api.patch(f"/lines/{ids['line']}", {"enabled": False}))
    resp = api.post(f"/campaigns/{made['id']}/start")
    assert resp.status_code == 422, resp.text
    assert fields(resp) == {"line_id", "script_id"}
    assert api.ok(api.get(f"/campaigns/{made['id']}"))["state"] == "draft"


@pytest.mark.parametrize(
    ("param", "value"),
    [("state", "bogus"), ("state", "RUNNING"), ("kind", "robot"), ("pacing_mode", "turbo")],
)
def test_unknown_enum_filter_values_are_422(api: Api, param: str, value: str) -> None:
    create(api, {"name": "listed"})
    resp = api.get("/campaigns", **{param: value})
    assert resp.status_code == 422, resp.text
    assert fields(resp) == {param}
    assert "draft" in resp.json()["message"] or param != "state"
