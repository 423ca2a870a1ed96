"""The 得助 facade beyond create and page: edit, customer append (1,000 a call, 20,000 a task, the
states that take customers), start and pause, the phone batches, skill sets and number groups,
manual tasks with taskAgents over outdial's preview campaigns."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import update

from outdial.services import dezhu as dezhu_service
from outdial.services.container import Services
from outdial.store.schema import campaigns
from tests.integration.dezhu_support import DROP, Dezhu, customers, make_dezhu, ok, refused
from tests.support import Api

Server = tuple[str, Services]
FUTURE = "2099-12-31"


@pytest.fixture
def dz(server: Server, new_tenant: Callable[..., Api]) -> Iterator[Dezhu]:
    made = make_dezhu(server[0], new_tenant())
    yield made
    made.close()


def campaign(dz: Dezhu, task_id: int) -> dict[str, Any]:
    return dict(dz.api.ok(dz.api.get(f"/campaigns/{task_id}")))


def task(dz: Dezhu, task_id: int) -> dict[str, Any]:
    [found] = [t for t in dz.page(pageSize=500)["list"] if t["taskId"] == task_id]
    return dict(found)


def contact_count(dz: Dezhu, task_id: int) -> int:
    return int(dz.api.ok(dz.api.get(f"/campaigns/{task_id}/contacts"))["total"])


def set_state(server: Server, task_id: int, state: str, **values: Any) -> None:
    with server[1].store.write() as conn:
        conn.execute(
            update(campaigns).where(campaigns.c.id == task_id).values(state=state, **values)
        )


# --- edit -------------------------------------------------------------------------------------


def test_edit_changes_what_it_names_and_keeps_the_rest(dz: Dezhu) -> None:
    task_id = dz.create(taskExecEndDate=FUTURE)
    body = {
        "taskId": task_id,
        "taskName": "改名后的任务",
        "maxRingingDuration": 30,
        "acw": 60,
        "sendNumberStrategy": 1,
        "abandonmentRate": 3,
        "taskExecTimes": [
            {"taskExecTimeStartStr": "09:00:00", "taskExecTimeEndStr": "12:00:00"},
            {"taskExecTimeStartStr": "14:00:00", "taskExecTimeEndStr": "18:00:00"},
        ],
        "outboundPhoneGroups": [{"name": "本人", "identify": "default", "autoOutboundSwitch": 0}],
    }
    assert ok(dz.client.post("/edit", body)) is None
    shown = task(dz, task_id)
    assert shown["taskName"] == "改名后的任务"
    assert (shown["maxRingingDuration"], shown["acw"]) == (30, 60)
    assert (shown["sendNumberStrategy"], shown["abandonmentRate"]) == (1, 3)
    assert shown["multiplyPower"] == 2  # kept
    assert shown["taskDesc"] == "自动外呼描述"  # kept
    assert len(shown["taskExecTimes"]) == 2
    assert shown["outboundPhoneGroups"][0]["autoOutboundSwitch"] == 0
    native = campaign(dz, task_id)
    assert native["pacing_mode"] == "predictive" and native["abandon_target_percent"] == 3.0
    assert native["windows"][1] == {"start": "14:00:00", "end": "18:00:00"}
    assert native["phone_groups"][0]["redial_enabled"] is False
    assert contact_count(dz, task_id) == 1  # the roster is not the edit's


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"taskName": ""}, "taskName"),
        ({"taskType": 2, "taskAgents": [{"agentId": 1, "assignNum": 1}]}, "taskType"),
        ({"maxRingingDuration": 60}, "maxRingingDuration"),
        ({"acw": 0}, "acw"),
        ({"taskExecEndDate": "2001-01-01"}, "taskExecEndDate"),
        ({"multiplyPower": 0}, "multiplyPower"),
        ({"skillSetId": "999999999"}, "skillSetId"),
        ({"outboundPhoneGroups": []}, "outboundPhoneGroups"),
    ],
)
def test_a_bad_edit_is_29002_and_changes_nothing(
    dz: Dezhu, changes: dict[str, Any], field: str
) -> None:
    task_id = dz.create(taskExecEndDate=FUTURE)
    before = campaign(dz, task_id)
    refused(dz.client.post("/edit", {"taskId": task_id, **changes}), "29002", field)
    assert campaign(dz, task_id) == before


def test_edit_needs_a_task_of_the_tenant(dz: Dezhu) -> None:
    refused(dz.client.post("/edit", {"taskName": "x"}), "29002", "taskId")
    refused(dz.client.post("/edit", {"taskId": 999999, "taskName": "x"}), "29002", "taskId")
    refused(dz.client.post("/edit", {"taskId": "abc"}), "29002", "taskId")


def test_a_second_task_cannot_take_a_names_already_used(dz: Dezhu) -> None:
    dz.create(taskName="甲")
    second = dz.create(taskName="乙")
    refused(dz.client.post("/edit", {"taskId": second, "taskName": "甲"}), "29002", "taskName")


def test_a_finished_task_cannot_be_edited(server: Server, dz: Dezhu) -> None:
    task_id = dz.create(taskExecEndDate=FUTURE)
    set_state(server, task_id, "completed")
    refused(dz.client.post("/edit", {"taskId": task_id, "acw": 20}), "20001")
    assert campaign(dz, task_id)["acw_seconds"] == 10


# --- customer append ----------------------------------------------------------------------------


def test_append_adds_customers_and_reports_how_many(dz: Dezhu) -> None:
    task_id = dz.create(taskExecEndDate=FUTURE)
    body = {"taskId": task_id, "outBoundCustomers": customers(1000, start=10)}
    assert ok(dz.client.post("/customer/append", body)) == 1000
    assert contact_count(dz, task_id) == 1001
    assert task(dz, task_id)["customerAmount"] == 1001


def test_append_is_all_or_nothing_and_names_the_customer(dz: Dezhu) -> None:
    task_id = dz.create(taskExecEndDate=FUTURE)
    rows = customers(5, start=10)
    rows[3]["phoneGroupVoList"][0]["relations"][0]["mobile"] = "12"
    body = {"taskId": task_id, "outBoundCustomers": rows}
    field = "outBoundCustomers[3].phoneGroupVoList[0].relations[0].mobile"
    refused(dz.client.post("/customer/append", body), "29002", field)
    again = {"taskId": task_id, "outBoundCustomers": customers(1, start=1)}  # the seed's number
    refused(dz.client.post("/customer/append", again), "29002", "outBoundCustomers[0]")
    assert contact_count(dz, task_id) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"taskId": DROP, "outBoundCustomers": customers(1, start=10)}, "taskId"),
        ({"taskId": 0, "outBoundCustomers": customers(1, start=10)}, "taskId"),
        ({"taskId": 999999, "outBoundCustomers": customers(1, start=10)}, "taskId"),
        ({"outBoundCustomers": []}, "outBoundCustomers"),
        ({"outBoundCustomers": customers(1001, start=10)}, "outBoundCustomers"),
        ({"outBoundCustomers": [{"name": "x"}]}, "outBoundCustomers[0].externalCustomerId"),
    ],
)
def test_bad_appends_are_29002(dz: Dezhu, body: dict[str, Any], field: str) -> None:
    task_id = dz.create(taskExecEndDate=FUTURE)
    sent = {k: v for k, v in {"taskId": task_id, **body}.items() if v is not DROP}
    refused(dz.client.post("/customer/append", sent), "29002", field)
    assert contact_count(dz, task_id) == 1


def test_a_task_holds_at_most_twenty_thousand_customers(
    dz: Dezhu, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rule with a small cap (the server runs in this process); the cap itself is 得助's."""
    assert dezhu_service.CONTACTS_PER_TASK == 20_000
    monkeypatch.setattr(dezhu_service, "CONTACTS_PER_TASK", 5)
    task_id = dz.create(taskExecEndDate=FUTURE)
    body = {"taskId": task_id, "outBoundCustomers": customers(4, start=10)}
    assert ok(dz.client.post("/customer/append", body)) == 4
    more = {"taskId": task_id, "outBoundCustomers": customers(1, start=20)}
    message = refused(dz.client.post("/customer/append", more), "29002", "outBoundCustomers")
    assert "5" in message
    assert contact_count(dz, task_id) == 5
    too_many = dz.task_body(taskName="大任务", outBoundCustomers=customers(6, start=30))
    refused(dz.client.post("/create", too_many), "29002", "outBoundCustomers")


@pytest.mark.parametrize(
    ("state", "end", "allowed"),
    [
        ("draft", FUTURE, True),
        ("running", FUTURE, True),
        ("scheduled", FUTURE, True),
        ("completed", FUTURE, True),
        ("completed", "2020-01-01", False),
        ("paused", FUTURE, False),
        ("expired", FUTURE, False),
        ("cancelled", FUTURE, False),
        ("draft", "2020-01-01", False),  # 已过期
    ],
)
def test_append_in_the_states_dezhu_allows(
    server: Server, dz: Dezhu, state: str, end: str, allowed: bool
) -> None:
    task_id = dz.create(taskExecStartDate="2020-01-01", taskExecEndDate=end)
    set_state(server, task_id, state)
    body = {"taskId": task_id, "outBoundCustomers": customers(2, start=10)}
    response = dz.client.post("/customer/append", body)
    if allowed:
        assert ok(response) == 2
        assert contact_count(dz, task_id) == 3
    else:
        refused(response, "20001")
        assert contact_count(dz, task_id) == 1


def test_appending_to_a_completed_task_reopens_it(server: Server, dz: Dezhu) -> None:
    task_id = dz.create(taskExecStartDate="2020-01-01", taskExecEndDate=FUTURE)
    set_state(server, task_id, "completed")
    assert task(dz, task_id)["taskStatus"] == 4
    body = {"taskId": task_id, "outBoundCustomers": customers(1, start=10)}
    ok(dz.client.post("/customer/append", body))
    assert task(dz, task_id)["taskStatus"] == 3


# --- start and pause ----------------------------------------------------------------------------


def test_start_pause_and_start_again(dz: Dezhu) -> None:
    task_id = dz.create(taskExecStartDate="2020-01-01", taskExecEndDate=FUTURE)
    assert task(dz, task_id)["taskStatus"] == 1
    assert ok(dz.client.post("/start", {"taskId": task_id})) is None
    assert task(dz, task_id)["taskStatus"] == 3
    assert campaign(dz, task_id)["state"] == "running"
    ok(dz.client.post("/start", {"taskId": task_id}))  # started already: as it is
    ok(dz.client.post("/pause", {"taskId": task_id}))
    assert task(dz, task_id)["taskStatus"] == 2
    assert campaign(dz, task_id)["state"] == "paused"
    ok(dz.client.post("/pause", {"taskId": task_id}))  # paused already: as it is
    ok(dz.client.post("/start", {"taskId": task_id}))
    assert task(dz, task_id)["taskStatus"] == 3


def test_a_task_starting_in_the_future_is_not_started_until_then(dz: Dezhu) -> None:
    task_id = dz.create(taskExecStartDate="2099-01-01", taskExecEndDate=FUTURE)
    ok(dz.client.post("/start", {"taskId": task_id}))
    assert campaign(dz, task_id)["state"] == "scheduled"
    assert task(dz, task_id)["taskStatus"] == 1


def test_lifecycle_refusals(server: Server, dz: Dezhu) -> None:
    expired = dz.create(taskName="过期")
    refused(dz.client.post("/start", {"taskId": expired}), "29002", "taskExecEndDate")
    assert campaign(dz, expired)["state"] == "draft"
    draft = dz.create(taskName="草稿", taskExecEndDate=FUTURE)
    refused(dz.client.post("/pause", {"taskId": draft}), "20001")
    set_state(server, draft, "cancelled")
    refused(dz.client.post("/start", {"taskId": draft}), "20001")
    for body in ({}, {"taskId": "x"}, {"taskId": 999999}):
        refused(dz.client.post("/start", body), "29002", "taskId")
        refused(dz.client.post("/pause", body), "29002", "taskId")


# --- phone batches, skill sets, number groups ----------------------------------------------------


def test_get_phone_groups_gives_the_tasks_batches(dz: Dezhu) -> None:
    task_id = dz.create()
    groups = ok(dz.client.get("/getPhoneGroups", taskId=task_id))
    assert groups == [
        {
            "name": "外呼任务号码批次名称,如:本人、亲属、朋友",
            "identify": "default",
            "autoOutboundSwitch": 1,
            "autoOutboundInterval": 5,
            "autoOutboundTimes": 1,
        }
    ]
    refused(dz.client.get("/getPhoneGroups"), "29002", "taskId")
    refused(dz.client.get("/getPhoneGroups", taskId="x"), "29002", "taskId")
    refused(dz.client.get("/getPhoneGroups", taskId=999999), "29002", "taskId")


def test_skill_sets_and_number_groups_are_the_tenants(dz: Dezhu) -> None:
    off = dz.api.ok(dz.api.post("/skill-groups", {"name": "停用组", "enabled": False}), 201)
    dz.api.ok(dz.api.post("/number-groups", {"name": "无线路", "numbers": []}), 201)
    sets = ok(dz.client.get("/getSkillSets"))
    assert sets == [
        {
            "skillSetId": str(dz.skills["id"]),
            "skillSetName": "外呼技能组",
            "skillSetDesc": "",
            "status": 1,
        },
        {"skillSetId": str(off["id"]), "skillSetName": "停用组", "skillSetDesc": "", "status": 0},
    ]
    groups = ok(dz.client.get("/getNumberGroups"))
    assert groups == [
        {
            "outboundNumberGroupId": str(dz.numbers["id"]),
            "outboundNumberGroupName": "外呼号码组",
            "description": "",
            "numbers": ["02161230000"],
        }
    ]


def test_a_number_group_without_a_line_cannot_dial(dz: Dezhu) -> None:
    bare = dz.api.ok(dz.api.post("/number-groups", {"name": "无线路", "numbers": []}), 201)
    body = dz.task_body(outboundNumberGroupId=str(bare["id"]))
    refused(dz.client.post("/create", body), "29002", "outboundNumberGroupId")
    assert dz.native_campaigns() == []


def test_unknown_paths_and_methods_are_in_dezhus_form(dz: Dezhu) -> None:
    refused(dz.client.get("/nothing-here"), "20001")
    refused(dz.client.get("/create"), "20001")


# --- manual tasks (taskType 2) -----------------------------------------------------------------


def agent(dz: Dezhu, name: str) -> dict[str, Any]:
    body = {"name": name, "skill_group_ids": [dz.skills["id"]]}
    return dict(dz.api.ok(dz.api.post("/agents", body), 201))


def manual_body(dz: Dezhu, agents: list[tuple[int, int]], count: int) -> dict[str, Any]:
    return dz.task_body(
        taskName="手动外呼任务",
        taskType=2,
        taskExecEndDate=FUTURE,
        taskExecTimes=DROP,
        sendNumberStrategy=DROP,
        multiplyPower=DROP,
        abandonmentRate=DROP,
        taskAgents=[{"agentId": a, "assignNum": n} for a, n in agents],
        outBoundCustomers=customers(count, start=100),
    )


def test_a_manual_task_gives_each_agent_their_customers(dz: Dezhu) -> None:
    first, second = agent(dz, "坐席一"), agent(dz, "坐席二")
    task_id = ok(
        dz.client.post("/create", manual_body(dz, [(first["id"], 3), (second["id"], 2)], 6))
    )
    native = campaign(dz, task_id)
    assert (native["kind"], native["pacing_mode"]) == ("manual", "preview")
    assert native["agent_assignments"] == [
        {"agent_id": first["id"], "assign_count": 3},
        {"agent_id": second["id"], "assign_count": 2},
    ]
    rows = dz.api.ok(dz.api.get(f"/campaigns/{task_id}/contacts"))["items"]
    held = [r["assigned_agent_id"] for r in rows]
    assert held.count(first["id"]) == 3 and held.count(second["id"]) == 2
    shown = task(dz, task_id)
    assert shown["taskType"] == 2
    assert shown["taskAgents"] == [
        {"agentId": first["id"], "assignNum": 3},
        {"agentId": second["id"], "assignNum": 2},
    ]
    for key in ("taskExecTimes", "outboundNumberGroupId", "sendNumberStrategy", "acw"):
        assert shown[key] is None, key  # 自动外呼时有值
    assert dz.page(taskType=2)["total"] == 1 and dz.page(taskType=1)["total"] == 0

    # an append with taskAgents gives the agents that many more
    more = {
        "taskId": task_id,
        "outBoundCustomers": customers(4, start=200),
        "taskAgents": [{"agentId": second["id"], "assignNum": 4}],
    }
    assert ok(dz.client.post("/customer/append", more)) == 4
    assert task(dz, task_id)["taskAgents"][1] == {"agentId": second["id"], "assignNum": 6}
    rows = dz.api.ok(dz.api.get(f"/campaigns/{task_id}/contacts"))["items"]
    assert [r["assigned_agent_id"] for r in rows].count(second["id"]) == 6


def test_a_manual_task_edited_by_name_keeps_its_settings(dz: Dezhu) -> None:
    first = agent(dz, "坐席一")
    body = manual_body(dz, [(first["id"], 1)], 2)
    body["taskExecTimes"] = [{"taskExecTimeStartStr": "09:00:00", "taskExecTimeEndStr": "18:00:00"}]
    task_id = ok(dz.client.post("/create", body))
    before = campaign(dz, task_id)
    ok(dz.client.post("/edit", {"taskId": task_id, "taskName": "新名字"}))
    after = campaign(dz, task_id)
    assert after["name"] == "新名字"
    same = ("windows", "number_group_id", "line_id", "agent_assignments", "pacing_mode", "kind")
    assert {k: after[k] for k in same} == {k: before[k] for k in same}


def test_a_native_campaign_can_be_edited_through_the_facade(dz: Dezhu) -> None:
    native = dz.api.ok(
        dz.api.post(
            "/campaigns",
            {
                "name": "原生",
                "line_id": dz.line["id"],
                "number_group_id": dz.numbers["id"],
                "skill_group_id": dz.skills["id"],
                "pacing_mode": "ratio",
                "ratio": 1.5,
                "period_start": "2026-01-01T00:00:00+08:00",
                "period_end": "2099-01-01T00:00:00+08:00",
            },
        ),
        201,
    )
    ok(dz.client.post("/edit", {"taskId": native["id"], "acw": 30}))
    after = campaign(dz, native["id"])
    assert after["acw_seconds"] == 30 and after["ratio"] == 1.5  # multiplyPower not sent
    assert task(dz, native["id"])["taskExecEndDate"] == "2098-12-31"


@pytest.mark.parametrize(
    ("agents", "field"),
    [
        ([], "taskAgents"),
        ([(999999, 1)], "taskAgents[0].agentId"),
        ([(0, 1)], "taskAgents[0].agentId"),
        ([(-1, 1)], "taskAgents[0].agentId"),
        ([("self", -1)], "taskAgents[0].assignNum"),
        ([("self", 1), ("self", 1)], "taskAgents[1].agentId"),
    ],
)
def test_bad_task_agents_are_29002(dz: Dezhu, agents: list[tuple[Any, int]], field: str) -> None:
    mine = agent(dz, "坐席")
    pairs = [(mine["id"] if a == "self" else a, n) for a, n in agents]
    refused(dz.client.post("/create", manual_body(dz, pairs, 2)), "29002", field)
    assert dz.native_campaigns() == []


def test_a_manual_task_without_agents_field_is_29002(dz: Dezhu) -> None:
    body = manual_body(dz, [], 1)
    del body["taskAgents"]
    refused(dz.client.post("/create", body), "29002", "taskAgents")


def test_the_status_filter_finds_exactly_the_tasks_of_that_status(
    server: Server, dz: Dezhu
) -> None:
    """Every outdial state, with the period over and not: the page's taskStatus filter and the
    taskStatus it shows agree."""
    states = [
        "draft",
        "scheduled",
        "running",
        "paused",
        "completed",
        "expired",
        "cancelled",
        "failed",
    ]
    for state in states:
        for end in ("2020-12-31", FUTURE):
            task_id = dz.create(taskName=f"{state}-{end}", taskExecStartDate="2020-01-01",
                                taskExecEndDate=end)  # fmt: skip
            set_state(server, task_id, state)
    shown = {t["taskId"]: t["taskStatus"] for t in dz.page(pageSize=100)["list"]}
    assert len(shown) == 16
    assert sorted(set(shown.values())) == [1, 2, 3, 4, 5, 6]
    for status in range(1, 7):
        found = {t["taskId"] for t in dz.page(taskStatus=status, pageSize=100)["list"]}
        assert found == {i for i, s in shown.items() if s == status}, status
