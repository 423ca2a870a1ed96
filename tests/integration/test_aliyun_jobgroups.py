"""Alibaba job groups are outdial campaigns: seed 000's CreateJobGroup replayed, the reply's
fields and types, StrategyJson applied, bad input in Alibaba's form with nothing changed, and
groups seen from both sides (native API and ListJobGroups)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.aliyun_support import Instance, alibaba_error, make_instance
from tests.support import Api

Server = tuple[str, object]

SEED_STRATEGY = (
    '{"maxAttemptsPerDay":2,"name":"策略名字","workingTime":[{"beginTime":"09:00:00",'
    '"endTime":"12:00:00"},{"beginTime":"13:00:00","endTime":"18:30:00"}],"minAttemptInterval":60}'
)


@pytest.fixture
def inst(server: Server, api: Api) -> Instance:
    return make_instance(server[0], api)


def seed_request(inst: Instance) -> dict[str, str]:
    """Seed 000's request example, with this tenant's instance and script ids."""
    return {
        "InstanceId": inst.instance_id,
        "ScriptId": inst.script_id,
        "JobGroupName": "第一个作业组",
        "CallingNumbers": '["95187"]',
        "StrategyJson": SEED_STRATEGY,
    }


def native_campaigns(inst: Instance) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = inst.api.ok(inst.api.get("/campaigns"))["items"]
    return items


def test_seed_request_is_accepted_with_every_field_the_seed_shows(inst: Instance) -> None:
    response = inst.call("CreateJobGroup", **seed_request(inst))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["Code"] == "OK" and body["HttpStatusCode"] == 200 and body["Success"] is True
    assert isinstance(body["RequestId"], str) and body["Message"] == "Success"
    group = body["JobGroup"]
    assert group["CallingNumbers"] == ["95187"]  # a list of strings, as the SDK model has it
    assert group["JobGroupName"] == "第一个作业组"
    assert group["ScriptId"] == inst.script_id
    strategy = group["Strategy"]
    assert strategy["MaxAttemptsPerDay"] == 2 and strategy["MinAttemptInterval"] == 60
    assert strategy["StrategyName"] == "策略名字"
    assert strategy["WorkingTime"] == [
        {"BeginTime": "09:00:00", "EndTime": "12:00:00"},
        {"BeginTime": "13:00:00", "EndTime": "18:30:00"},
    ]
    # the seed's field table: types as documented
    types = {
        "CreationTime": int, "JobGroupDescription": str, "JobGroupId": str, "ModifyTime": str,
        "ScenarioId": str, "ScriptName": str, "ScriptVersion": str, "Status": str,
        "JobFilePath": str, "JobDataParsingTaskId": str,
    }  # fmt: skip
    for key, kind in types.items():
        assert isinstance(group[key], kind), (key, group[key])
    assert group["Status"] == "Draft" and group["ScriptName"] == "话术"
    strategy_types = {
        "Customized": str, "FollowUpStrategy": str, "IsTemplate": bool, "RepeatBy": str,
        "RepeatDays": list, "RoutingStrategy": str, "StrategyDescription": str,
        "StrategyId": str, "Type": str,
    }  # fmt: skip
    for key, kind in strategy_types.items():
        assert isinstance(strategy[key], kind), (key, strategy[key])


def test_seed_request_in_xml(inst: Instance) -> None:
    response = inst.call("CreateJobGroup", **seed_request(inst), Format="XML")
    assert response.status_code == 200
    text = response.text
    assert "<Code>OK</Code>" in text and "<HttpStatusCode>200</HttpStatusCode>" in text
    assert "<CallingNumbers>95187</CallingNumbers>" in text
    assert text.count("<WorkingTime>") == 2 and "<Success>true</Success>" in text


def test_the_group_is_a_native_campaign_with_the_strategy_applied(inst: Instance) -> None:
    strategy = {
        "name": "催收策略", "startTime": 1893456000000, "endTime": 1896134400000,
        "workingTime": [{"beginTime": "09:00:00", "endTime": "12:00:00"}],
        "maxAttemptsPerDay": "3", "minAttemptInterval": 10, "repeatBy": "Week",
        "repeatDays": [0, 1, 2], "routingStrategy": "LocalFirst",
    }  # fmt: skip
    body = inst.call(
        "CreateJobGroup",
        InstanceId=inst.instance_id,
        JobGroupName="催收",
        JobGroupDescription="描述",
        ScriptId=inst.script_id,
        **{"CallingNumber.1": "95187", "CallingNumber.2": "057100000000"},
        StrategyJson=json.dumps(strategy),
        RecallStrategyJson='{"emptyNumberIgnore": true}',
        RingingDuration=30,
        Priority="Urgent",
    ).json()
    [campaign] = native_campaigns(inst)
    assert campaign["uuid"] == body["JobGroup"]["JobGroupId"] and campaign["vendor"] == "aliyun"
    assert campaign["name"] == "催收" and campaign["description"] == "描述"
    assert campaign["line_id"] == inst.line_id
    assert campaign["caller_numbers"] == ["95187", "057100000000"]
    assert campaign["period_start"].startswith("2030-01-01T00:00:00")
    assert campaign["windows"] == [{"start": "09:00:00", "end": "12:00:00"}]
    assert campaign["max_attempts_per_day"] == 3
    assert campaign["min_attempt_interval_seconds"] == 600
    assert campaign["repeat_by"] == "week" and campaign["repeat_days"] == [7, 1, 2]
    assert campaign["routing_strategy"] == "local_first"
    assert campaign["recall_skip"]["invalid_number"] is True
    assert campaign["ring_timeout_seconds"] == 30 and campaign["priority"] == 80
    out = body["JobGroup"]["Strategy"]
    assert out["RepeatDays"] == ["0", "1", "2"] and out["RepeatBy"] == "Week"
    assert out["StartTime"] == 1893456000000 and out["RoutingStrategy"] == "LocalFirst"


def test_no_calling_number_takes_every_number_of_the_instance(inst: Instance) -> None:
    body = inst.call("CreateJobGroup", InstanceId=inst.instance_id, JobGroupName="all").json()
    assert body["JobGroup"]["CallingNumbers"] == ["95187", "057100000000"]
    assert body["JobGroup"]["RingingDuration"] == 25


BAD = [
    ({"JobGroupName": None}, 400, "MissingParameter", "JobGroupName"),
    ({"JobGroupName": "x" * 101}, 400, "InvalidParameter", "JobGroupName"),
    ({"CallingNumbers": '["12345"]'}, 400, "InvalidParameter", "CallingNumber.1"),
    ({"ScriptId": "no-such-script"}, 404, "NotExist.Script", "no-such-script"),
    ({"InstanceId": "174952ab-9825-4cc9-a5e2-de82d7fa4cdd"}, 404, "NotExist.Instance", ""),
    ({"StrategyJson": "{not json"}, 400, "InvalidParameter", "StrategyJson"),
    (
        {"StrategyJson": '{"workingTime":[{"beginTime":"25:00:00","endTime":"12:00:00"}]}'},
        400,
        "InvalidParameter",
        "StrategyJson.workingTime[0].beginTime",
    ),
    (
        {"StrategyJson": '{"maxAttemptsPerDay": "many"}'},
        400,
        "InvalidParameter",
        "StrategyJson.maxAttemptsPerDay",
    ),
    (
        {"StrategyJson": '{"startTime": 1900000000000, "endTime": 1800000000000}'},
        400,
        "InvalidParameter",
        "StrategyJson.endTime",
    ),
    ({"StrategyJson": '{"repeatBy": "Year"}'}, 400, "InvalidParameter", "StrategyJson.repeatBy"),
    ({"RingingDuration": "2"}, 400, "InvalidParameter", "RingingDuration"),
    ({"Priority": "Now"}, 400, "InvalidParameter", "Priority"),
]


@pytest.mark.parametrize(("change", "status", "code", "named"), BAD)
def test_bad_input_is_refused_in_alibaba_form_and_changes_nothing(
    inst: Instance, change: dict[str, Any], status: int, code: str, named: str
) -> None:
    params: dict[str, Any] = {**seed_request(inst), **change}
    params = {k: v for k, v in params.items() if v is not None}
    body = alibaba_error(inst.call("CreateJobGroup", **params), status, code)
    assert named in body["Message"]
    assert native_campaigns(inst) == []


def test_a_native_campaign_is_listed_and_described(inst: Instance) -> None:
    native = inst.api.ok(inst.api.post("/campaigns", {"name": "native one"}), 201)
    inst.call("CreateJobGroup", InstanceId=inst.instance_id, JobGroupName="facade one")
    body = inst.call("ListJobGroups", InstanceId=inst.instance_id, PageNumber=1, PageSize=10)
    listed = body.json()["JobGroups"]
    assert listed["TotalCount"] == 2 and listed["PageNumber"] == 1
    names = {g["JobGroupName"]: g for g in listed["List"]}
    assert set(names) == {"native one", "facade one"}
    assert names["native one"]["JobGroupId"] == native["uuid"]
    assert names["native one"]["Progress"]["TotalJobs"] == 0
    described = inst.call(
        "DescribeJobGroup", InstanceId=inst.instance_id, JobGroupId=native["uuid"]
    ).json()
    assert described["JobGroup"]["Strategy"]["RepeatBy"] == "Day"
    assert described["JobGroup"]["Progress"]["Status"] == "Draft"


def test_list_filters_by_status_and_text(inst: Instance) -> None:
    for name in ("alpha", "beta"):
        inst.call("CreateJobGroup", InstanceId=inst.instance_id, JobGroupName=name)
    page = dict(InstanceId=inst.instance_id, PageNumber=1, PageSize=10)
    found = inst.call("ListJobGroups", **page, SearchText="alp").json()["JobGroups"]
    assert [g["JobGroupName"] for g in found["List"]] == ["alpha"]
    drafts = inst.call("ListJobGroups", **page, JobGroupStatusFilter="Draft,Paused").json()
    assert drafts["JobGroups"]["TotalCount"] == 2
    running = inst.call("ListJobGroups", **page, JobGroupStatusFilter="Executing").json()
    assert running["JobGroups"]["TotalCount"] == 0
    bad = inst.call("ListJobGroups", **page, JobGroupStatusFilter="Sleeping")
    alibaba_error(bad, 400, "InvalidParameter")
    missing = inst.call("ListJobGroups", InstanceId=inst.instance_id, PageSize=10)
    assert "PageNumber" in alibaba_error(missing, 400, "MissingParameter")["Message"]


def test_describe_an_unknown_group(inst: Instance) -> None:
    response = inst.call("DescribeJobGroup", InstanceId=inst.instance_id, JobGroupId="nope")
    alibaba_error(response, 404, "NotExist.JobGroup")


def test_modify_renames_and_changes_the_strategy(inst: Instance) -> None:
    created = inst.call("CreateJobGroup", **seed_request(inst)).json()["JobGroup"]
    strategy_id = created["Strategy"]["StrategyId"]
    modified = inst.call(
        "ModifyJobGroup",
        InstanceId=inst.instance_id,
        JobGroupId=created["JobGroupId"],
        Name="改名",
        Description="新描述",
        StrategyJson=json.dumps({"id": strategy_id, "maxAttemptsPerDay": 5}),
    )
    group = modified.json()["JobGroup"]
    assert group["JobGroupName"] == "改名" and group["JobGroupDescription"] == "新描述"
    assert group["Strategy"]["MaxAttemptsPerDay"] == 5
    assert group["Strategy"]["StrategyId"] == strategy_id
    assert len(group["Strategy"]["WorkingTime"]) == 2  # what the modify did not send stays
    [campaign] = native_campaigns(inst)
    assert campaign["name"] == "改名" and campaign["max_attempts_per_day"] == 5


def test_modify_with_bad_input_changes_nothing(inst: Instance) -> None:
    created = inst.call("CreateJobGroup", **seed_request(inst)).json()["JobGroup"]
    response = inst.call(
        "ModifyJobGroup",
        InstanceId=inst.instance_id,
        JobGroupId=created["JobGroupId"],
        Name="",
        StrategyJson='{"maxAttemptsPerDay": 0}',
    )
    body = alibaba_error(response, 400, "InvalidParameter")
    assert "Name" in body["Message"] or "maxAttemptsPerDay" in body["Message"]
    [campaign] = native_campaigns(inst)
    assert campaign["name"] == "第一个作业组" and campaign["max_attempts_per_day"] == 2


def test_delete_a_group(inst: Instance) -> None:
    created = inst.call("CreateJobGroup", **seed_request(inst)).json()["JobGroup"]
    ids = dict(InstanceId=inst.instance_id, JobGroupId=created["JobGroupId"])
    assert inst.call("DeleteJobGroup", **ids).status_code == 200
    assert native_campaigns(inst) == []
    alibaba_error(inst.call("DescribeJobGroup", **ids), 404, "NotExist.JobGroup")
