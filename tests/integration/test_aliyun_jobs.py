"""Alibaba jobs are outdial contacts, their tasks the ledger's attempts: AssignJobs in every
list syntax, the group started, SuspendJobs / ResumeJobs / CancelJobs on groups and on jobs,
ListJobs, ListJobsByGroup, DescribeJob, QueryJobs; bad input in Alibaba's form, nothing
changed. Through a real server on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alibabacloud_outboundbot20191226 import models as ob

from outdial.services.container import Services
from tests.integration.aliyun_support import Instance, alibaba_error, make_instance
from tests.integration.test_aliyun_jobgroups import seed_request
from tests.support import Api, ended_attempt

Server = tuple[str, Services]


@pytest.fixture
def inst(server: Server, api: Api) -> Instance:
    return make_instance(server[0], api)


def job(number: str, ref: str, name: str = "张三", **more: Any) -> str:
    person = {"phoneNumber": number, "referenceId": ref, "name": name, "honorific": "张先生"}
    return json.dumps({"contacts": [person], **more}, ensure_ascii=False)


def new_group(inst: Instance, **change: Any) -> dict[str, Any]:
    body = inst.call("CreateJobGroup", **{**seed_request(inst), **change}).json()
    group: dict[str, Any] = body["JobGroup"]
    return group


def assign(inst: Instance, group_id: str, *jobs: str, **more: Any) -> Any:
    indexed = {f"JobsJson.{n}": text for n, text in enumerate(jobs, 1)}
    return inst.call(
        "AssignJobs", InstanceId=inst.instance_id, JobGroupId=group_id, **indexed, **more
    )


def contacts_of(inst: Instance, group_id: str) -> list[dict[str, Any]]:
    [campaign] = [c for c in inst.api.ok(inst.api.get("/campaigns"))["items"]
                  if c["uuid"] == group_id]  # fmt: skip
    items: list[dict[str, Any]] = inst.api.ok(
        inst.api.get(f"/campaigns/{campaign['id']}/contacts")
    )["items"]
    return items


def status(inst: Instance, group_id: str) -> str:
    body = inst.call("DescribeJobGroup", InstanceId=inst.instance_id, JobGroupId=group_id)
    return str(body.json()["JobGroup"]["Status"])


def test_assign_jobs_fills_the_group_and_starts_it(inst: Instance) -> None:
    group = new_group(inst)
    extras = [{"key": "orderNo", "value": "A1"}]
    response = assign(
        inst, group["JobGroupId"], job("13800000001", "cust-1", extras=extras),
        job("13800000002", "cust-2", "李四"),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["JobGroupId"] == group["JobGroupId"] and len(body["JobsId"]) == 2
    assert all(isinstance(j, str) for j in body["JobsId"])
    first, second = contacts_of(inst, group["JobGroupId"])
    assert first["uuid"] == body["JobsId"][0] and first["name"] == "张三"
    assert first["external_id"] == "cust-1" and first["phones"][0]["number"] == "+8613800000001"
    assert first["attributes"]["orderNo"] == "A1"
    assert second["name"] == "李四"
    # Alibaba schedules assigned jobs at once: the group (ready to dial) started
    assert status(inst, group["JobGroupId"]) in ("Scheduling", "Executing")


def test_assign_jobs_as_the_current_sdk_sends_it(inst: Instance) -> None:
    group = new_group(inst)
    people = [
        {"phoneNumber": "13800000003", "referenceId": "c3", "role": "本人"},
        {"phoneNumber": "13900000003", "referenceId": "c3-spouse", "role": "spouse"},
    ]
    jobs_json = [json.dumps({"contacts": people})]
    response = inst.tea().assign_jobs(
        ob.AssignJobsRequest(
            instance_id=inst.instance_id,
            job_group_id=group["JobGroupId"],
            jobs_json=jobs_json,
            calling_number=["95187"],
            is_asynchrony=False,
        )
    )
    assert response.body.success is True and len(response.body.jobs_id) == 1
    [contact] = contacts_of(inst, group["JobGroupId"])
    assert [p["number"] for p in contact["phones"]] == ["+8613800000003", "+8613900000003"]
    assert contact["phones"][1]["relation"] == "spouse"
    listed = inst.tea().list_jobs(
        ob.ListJobsRequest(instance_id=inst.instance_id, job_id=response.body.jobs_id)
    )
    [found] = listed.body.jobs
    assert [c.phone_number for c in found.contacts] == ["13800000003", "13900000003"]
    assert found.contacts[1].reference_id == "c3-spouse" and found.contacts[1].role == "spouse"


def test_the_json_array_syntax_of_assign_jobs_async(inst: Instance) -> None:
    group = new_group(inst)
    response = inst.call(
        "AssignJobs",
        InstanceId=inst.instance_id,
        JobGroupId=group["JobGroupId"],
        JobsJson=json.dumps([job("13800000004", "c4"), job("13800000005", "c5")]),
        CallingNumber='["95187"]',
    )
    assert len(response.json()["JobsId"]) == 2


BAD_ASSIGN = [
    ({"jobs": []}, 400, "MissingParameter", "JobsJson.N"),
    ({"jobs": ["{oops"]}, 400, "InvalidParameter", "JobsJson.1"),
    ({"jobs": ['{"contacts": [], "x": 1}']}, 400, "InvalidParameter", "JobsJson.1.x"),
    ({"jobs": ['{"contacts": []}']}, 400, "InvalidParameter", "JobsJson.1.contacts"),
    (
        {"jobs": ['{"contacts": [{"referenceId": "r"}]}']},
        400, "MissingParameter", "JobsJson.1.contacts[0].phoneNumber",
    ),
    (
        {"jobs": ['{"contacts": [{"phoneNumber": "13800000001"}]}']},
        400, "MissingParameter", "JobsJson.1.contacts[0].referenceId",
    ),
    (
        {"jobs": ['{"contacts": [{"phoneNumber": "13800000001", "referenceId": "r", "age": 3}]}']},
        400, "InvalidParameter", "JobsJson.1.contacts[0].age",
    ),
    (
        {"jobs": [job("13800000001", "a"), job("12", "b")]},
        400, "InvalidParameter", "JobsJson.2.contacts[0].phoneNumber",
    ),
    (
        {"jobs": [job("13800000001", "a"), job("13800000001", "b")]},
        400, "InvalidParameter", "JobsJson.2.contacts[0].phoneNumber",
    ),
    (
        {"jobs": [job("13800000001", "a", "名" * 21)]},
        400, "InvalidParameter", "JobsJson.1.contacts[0].name",
    ),
    (
        {"jobs": [job("13800000001", "a", extras=[{"value": "v"}])]},
        400, "InvalidParameter", "JobsJson.1.extras[0]",
    ),
    ({"jobs": [job(f"138{i:08d}", str(i)) for i in range(100)]}, 400, "InvalidParameter",
     "JobsJson.N"),
    ({"CallingNumber.1": "057100000001"}, 400, "InvalidParameter", "CallingNumber.1"),
    ({"RosterType": "csv"}, 400, "InvalidParameter", "RosterType"),
    ({"IsAsynchrony": "maybe"}, 400, "InvalidParameter", "IsAsynchrony"),
    (
        {"StrategyJson": '{"workingTime":[{"beginTime":"25:00:00","endTime":"12:00:00"}]}'},
        400, "InvalidParameter", "StrategyJson.workingTime[0].beginTime",
    ),
    ({"JobGroupId": "no-such-group"}, 404, "NotExist.JobGroup", "no-such-group"),
    ({"InstanceId": "another-instance"}, 404, "NotExist.Instance", ""),
]  # fmt: skip


@pytest.mark.parametrize(("change", "code_status", "code", "named"), BAD_ASSIGN)
def test_bad_assignments_are_refused_and_change_nothing(
    inst: Instance, change: dict[str, Any], code_status: int, code: str, named: str
) -> None:
    group = new_group(inst)
    change = dict(change)
    jobs = change.pop("jobs", [job("13800000001", "a")])
    params = {"InstanceId": inst.instance_id, "JobGroupId": group["JobGroupId"]}
    params |= {f"JobsJson.{n}": text for n, text in enumerate(jobs, 1)} | change
    body = alibaba_error(inst.call("AssignJobs", **params), code_status, code)
    assert named in body["Message"], body
    assert contacts_of(inst, group["JobGroupId"]) == []
    assert status(inst, group["JobGroupId"]) == "Draft"


def test_a_group_without_a_script_takes_jobs_but_waits(inst: Instance) -> None:
    group = new_group(inst, ScriptId="")
    assign(inst, group["JobGroupId"], job("13800000001", "a"))
    assert status(inst, group["JobGroupId"]) == "Draft"
    ids = dict(InstanceId=inst.instance_id, JobGroupId=group["JobGroupId"])
    body = alibaba_error(inst.call("SubmitBatchJobs", **ids), 400, "IncorrectStatus.JobGroup")
    assert "ScriptId" in body["Message"]
    assert status(inst, group["JobGroupId"]) == "Draft"


def test_submit_suspend_resume_and_cancel_a_whole_group(inst: Instance) -> None:
    group = new_group(inst)
    ids = dict(InstanceId=inst.instance_id, JobGroupId=group["JobGroupId"])
    assert inst.call("SubmitBatchJobs", **ids).status_code == 200
    assert status(inst, group["JobGroupId"]) in ("Scheduling", "Executing")
    assert inst.call("SuspendJobs", **ids, All=True).status_code == 200
    assert status(inst, group["JobGroupId"]) == "Paused"
    assert inst.call("SuspendJobs", **ids, All=True).status_code == 200  # already: no change
    assert inst.call("ResumeJobs", **ids, All=True).status_code == 200
    assert status(inst, group["JobGroupId"]) in ("Scheduling", "Executing")
    assert inst.call("CancelJobs", **ids, All=True).status_code == 200
    assert status(inst, group["JobGroupId"]) == "Cancelled"
    refused = inst.call("ResumeJobs", **ids, All=True)
    alibaba_error(refused, 400, "IncorrectStatus.JobGroup")
    alibaba_error(inst.call("SubmitBatchJobs", **ids), 400, "IncorrectStatus.JobGroup")
    assert status(inst, group["JobGroupId"]) == "Cancelled"


def test_all_without_a_group_steers_every_group_it_applies_to(inst: Instance) -> None:
    running = new_group(inst)
    inst.call("SubmitBatchJobs", InstanceId=inst.instance_id, JobGroupId=running["JobGroupId"])
    draft = new_group(inst, JobGroupName="草稿")
    assert inst.call("SuspendJobs", InstanceId=inst.instance_id, All=True).status_code == 200
    assert status(inst, running["JobGroupId"]) == "Paused"
    assert status(inst, draft["JobGroupId"]) == "Draft"


def test_suspend_resume_and_cancel_single_jobs(inst: Instance) -> None:
    group = new_group(inst)
    ids = assign(inst, group["JobGroupId"], job("13800000001", "a"), job("13800000002", "b"))
    first, second = ids.json()["JobsId"]
    base = dict(InstanceId=inst.instance_id, All=False)
    assert inst.call("SuspendJobs", **base, **{"JobId.1": first}).status_code == 200

    def job_status(job_id: str) -> str:
        body = inst.call("DescribeJob", InstanceId=inst.instance_id, JobId=job_id).json()
        return str(body["Job"]["Status"])

    assert job_status(first) == "Paused" and job_status(second) == "Scheduling"
    states = {c["uuid"]: c["state"] for c in contacts_of(inst, group["JobGroupId"])}
    assert states == {first: "paused", second: "pending"}
    resumed = inst.call(
        "ResumeJobs", **base, JobGroupId=group["JobGroupId"], **{"JobReferenceId.1": "a"}
    )
    assert resumed.status_code == 200 and job_status(first) == "Scheduling"
    assert inst.call("CancelJobs", **base, **{"JobId.1": second}).status_code == 200
    assert job_status(second) == "Cancelled"
    # a cancelled job cannot be suspended; a batch with it changes nothing
    refused = inst.call("SuspendJobs", **base, **{"JobId.1": first, "JobId.2": second})
    body = alibaba_error(refused, 400, "IncorrectStatus.Job")
    assert second in body["Message"]
    assert job_status(first) == "Scheduling"


BAD_STEER = [
    ({}, 400, "MissingParameter", "All"),
    ({"All": "perhaps"}, 400, "InvalidParameter", "All"),
    ({"All": False}, 400, "MissingParameter", "JobId.N"),
    ({"All": False, "JobId.1": "nope"}, 404, "NotExist.Job", "JobId.1"),
    ({"All": False, "JobReferenceId.1": "nope"}, 404, "NotExist.Job", "JobReferenceId.1"),
    ({"All": True, "JobGroupId": "nope"}, 404, "NotExist.JobGroup", "nope"),
]


@pytest.mark.parametrize("verb", ["SuspendJobs", "ResumeJobs", "CancelJobs"])
@pytest.mark.parametrize(("params", "code_status", "code", "named"), BAD_STEER)
def test_bad_steering_is_refused(
    inst: Instance, verb: str, params: dict[str, Any], code_status: int, code: str, named: str
) -> None:
    body = alibaba_error(inst.call(verb, InstanceId=inst.instance_id, **params), code_status, code)
    assert named in body["Message"]


def test_a_job_of_another_group_is_not_found_in_this_one(inst: Instance) -> None:
    one, other = new_group(inst), new_group(inst, JobGroupName="另一个")
    [job_id] = assign(inst, one["JobGroupId"], job("13800000001", "a")).json()["JobsId"]
    response = inst.call(
        "SuspendJobs", InstanceId=inst.instance_id, All=False,
        JobGroupId=other["JobGroupId"], **{"JobId.1": job_id},
    )  # fmt: skip
    alibaba_error(response, 404, "NotExist.Job")
    assert contacts_of(inst, one["JobGroupId"])[0]["state"] == "pending"


def test_suspending_the_jobs_of_a_draft_group_is_refused(inst: Instance) -> None:
    group = new_group(inst, ScriptId="")
    params = dict(InstanceId=inst.instance_id, JobGroupId=group["JobGroupId"], All=True)
    alibaba_error(inst.call("SuspendJobs", **params), 400, "IncorrectStatus.JobGroup")


def add_attempts(server: Server, inst: Instance, contact: dict[str, Any]) -> None:
    started = datetime.now(UTC) - timedelta(minutes=5)
    first = ended_attempt(
        inst.api, contact["campaign_id"], contact, created_at=started,
        ringing_at=started + timedelta(seconds=1), ended_at=started + timedelta(seconds=26),
        call_id="sip-1",
    )  # fmt: skip
    later = started + timedelta(minutes=2)
    second = ended_attempt(
        inst.api, contact["campaign_id"], contact, created_at=later, outcome="answered",
        native_cause="200", ringing_at=later + timedelta(seconds=2),
        answered_at=later + timedelta(seconds=6), ended_at=later + timedelta(seconds=66),
        talk_seconds=60.0, call_id="sip-2",
    )  # fmt: skip
    with server[1].store.write() as conn:
        conn.execute(first)
        conn.execute(second)


def test_describe_job_shows_its_attempts_as_tasks(server: Server, inst: Instance) -> None:
    group = new_group(inst)
    [job_id] = assign(inst, group["JobGroupId"], job("13800000001", "a")).json()["JobsId"]
    [contact] = contacts_of(inst, group["JobGroupId"])
    add_attempts(server, inst, contact)
    body = inst.call("DescribeJob", InstanceId=inst.instance_id, JobId=job_id, WithScript=True)
    got = body.json()["Job"]
    assert got["JobId"] == job_id and got["JobGroupId"] == group["JobGroupId"]
    assert got["InstanceId"] == inst.instance_id and got["ReferenceId"] == "a"
    assert got["CalledNumber"] == "13800000001" and got["CallingNumbers"] == ["95187"]
    assert got["Contacts"][0]["Honorific"] == "张先生"
    assert got["Script"]["ScriptId"] == inst.script_id
    no_answer, answered = got["Tasks"]
    assert no_answer["Status"] == "NoAnswer" and no_answer["CallId"] == "sip-1"
    assert no_answer["RealRingingDuration"] == 25 and no_answer["EndReason"] == ""
    assert answered["Status"] == "SucceededFinish" and answered["Duration"] == 60
    assert answered["SipCode"] == "200" and answered["EndReason"] == "1"
    assert answered["TotalDuration"] == 66 and answered["RealRingingDuration"] == 4
    types = {"TaskId": str, "PlanedTime": int, "ActualTime": int, "EndTime": int,
             "RingingDuration": int, "Contact": dict, "Conversation": list}  # fmt: skip
    for key, kind in types.items():
        assert isinstance(answered[key], kind), key
    assert isinstance(got["NextExecutionTime"], int) and isinstance(got["Priority"], int)
    # the SDK reads it into its typed model
    described = inst.tea("v2").describe_job(
        ob.DescribeJobRequest(instance_id=inst.instance_id, job_id=job_id)
    )
    assert [t.status for t in described.body.job.tasks] == ["NoAnswer", "SucceededFinish"]
    alibaba_error(
        inst.call("DescribeJob", InstanceId=inst.instance_id, JobId="nope"), 404, "NotExist.Job"
    )
    alibaba_error(inst.call("DescribeJob", InstanceId=inst.instance_id), 400, "MissingParameter")


def test_list_jobs_by_id_with_their_tasks(server: Server, inst: Instance) -> None:
    group = new_group(inst)
    ids = assign(inst, group["JobGroupId"], job("13800000001", "a"), job("13800000002", "b"))
    first, second = ids.json()["JobsId"]
    add_attempts(server, inst, contacts_of(inst, group["JobGroupId"])[0])
    params = {"InstanceId": inst.instance_id, "JobId.1": second, "JobId.2": first}
    jobs = inst.call("ListJobs", **params).json()["Jobs"]
    assert [j["JobId"] for j in jobs] == [second, first]
    assert len(jobs[0]["Tasks"]) == 0 and len(jobs[1]["Tasks"]) == 2
    bad = inst.call("ListJobs", InstanceId=inst.instance_id, **{"JobId.1": first, "JobId.2": "x"})
    assert "JobId.2" in alibaba_error(bad, 404, "NotExist.Job")["Message"]
    too_many = {f"JobId.{n}": first for n in range(1, 101)}
    alibaba_error(inst.call("ListJobs", InstanceId=inst.instance_id, **too_many), 400,
                  "InvalidParameter")  # fmt: skip
    alibaba_error(inst.call("ListJobs", InstanceId=inst.instance_id), 400, "MissingParameter")


def test_list_jobs_by_group_pages_and_filters(inst: Instance) -> None:
    group = new_group(inst)
    ids = assign(inst, group["JobGroupId"], *[job(f"1380000000{i}", str(i)) for i in range(5)])
    first = ids.json()["JobsId"][0]
    inst.call("SuspendJobs", InstanceId=inst.instance_id, All=False, **{"JobId.1": first})
    page = dict(InstanceId=inst.instance_id, JobGroupId=group["JobGroupId"], PageNumber=2,
                PageSize=2)  # fmt: skip
    listed = inst.call("ListJobsByGroup", **page).json()["Jobs"]
    assert listed["TotalCount"] == 5 and listed["PageNumber"] == 2 and len(listed["List"]) == 2
    item = listed["List"][0]
    for key, kind in {"JobId": str, "Priority": int, "CallingNumbers": list, "Contacts": list,
                      "Extras": list, "Status": str, "FailureReason": str}.items():  # fmt: skip
        assert isinstance(item[key], kind), key
    paused = inst.call("ListJobsByGroup", **{**page, "PageNumber": 1}, JobStatus="Paused")
    assert [j["JobId"] for j in paused.json()["Jobs"]["List"]] == [first]
    failed = inst.call("ListJobsByGroup", **page, JobFailureReason="NoAnswer").json()["Jobs"]
    assert failed["TotalCount"] == 0
    alibaba_error(inst.call("ListJobsByGroup", **page, JobStatus="Sleeping"), 400,
                  "InvalidParameter")  # fmt: skip
    alibaba_error(inst.call("ListJobsByGroup", **page, JobFailureReason="Bored"), 400,
                  "InvalidParameter")  # fmt: skip
    no_size = {k: v for k, v in page.items() if k != "PageSize"}
    body = alibaba_error(inst.call("ListJobsByGroup", **no_size), 400, "MissingParameter")
    assert "PageSize" in body["Message"]


def test_query_jobs_across_groups(inst: Instance) -> None:
    one, other = new_group(inst), new_group(inst, JobGroupName="二组")
    assign(inst, one["JobGroupId"], job("13800000001", "a", "王五"))
    assign(inst, other["JobGroupId"], job("13800000002", "b", "赵六"))
    page = dict(InstanceId=inst.instance_id, PageNumber=1, PageSize=10)

    def names(**filters: Any) -> list[str]:
        body = inst.call("QueryJobs", **page, **filters).json()["Jobs"]
        return sorted(j["Contacts"][0]["ContactName"] for j in body["List"])

    assert names() == ["王五", "赵六"]
    assert names(JobGroupId=other["JobGroupId"]) == ["赵六"]
    assert names(ContactName="王") == ["王五"]
    assert names(PhoneNumber="13800000002") == ["赵六"]
    assert names(StartTime=0, EndTime=0) == ["王五", "赵六"]  # today so far
    assert names(EndTime=1_000_000) == []
    bad_phone = inst.call("QueryJobs", **page, PhoneNumber="12")
    assert "PhoneNumber" in alibaba_error(bad_phone, 400, "InvalidParameter")["Message"]
    backwards = inst.call("QueryJobs", **page, StartTime=2_000_000, EndTime=1_000_000)
    assert "EndTime" in alibaba_error(backwards, 400, "InvalidParameter")["Message"]


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_assign_jobs_async_as_the_sdk_sends_it_in_a_form_body(
    inst: Instance, algorithm: str | None
) -> None:
    group = new_group(inst)
    client = inst.tea(algorithm)
    started = client.assign_jobs_async(
        ob.AssignJobsAsyncRequest(
            instance_id=inst.instance_id, job_group_id=group["JobGroupId"],
            jobs_json=[job("13800000011", "x1"), job("13800000012", "x2")],
            calling_number=["95187"],
        )
    )  # fmt: skip
    task_id = started.body.async_task_id
    result = client.get_assign_jobs_async_result(
        ob.GetAssignJobsAsyncResultRequest(async_task_id=task_id)
    ).body
    assert result.valid is True and result.timeout is False
    assert result.job_group_id == group["JobGroupId"]
    assert result.jobs_id == [c["uuid"] for c in contacts_of(inst, group["JobGroupId"])]
    forged = task_id[:-4] + "AAAA"
    alibaba_error(inst.call("GetAssignJobsAsyncResult", AsyncTaskId=forged), 404,
                  "NotExist.AsyncTask")  # fmt: skip


def test_an_async_task_is_its_instances_own(
    inst: Instance, server: Server, new_tenant: Callable[..., Api]
) -> None:
    group = new_group(inst)
    body = inst.call(
        "AssignJobsAsync", InstanceId=inst.instance_id, JobGroupId=group["JobGroupId"],
        JobsJson=json.dumps([job("13800000013", "y")]),
    )  # fmt: skip
    task_id = body.json()["AsyncTaskId"]
    other = make_instance(server[0], new_tenant())
    refused = other.call("GetAssignJobsAsyncResult", AsyncTaskId=task_id)
    alibaba_error(refused, 404, "NotExist.AsyncTask")
    bad = inst.call("AssignJobsAsync", InstanceId=inst.instance_id,
                    JobGroupId=group["JobGroupId"], JobsJson="[]")  # fmt: skip
    alibaba_error(bad, 400, "MissingParameter")
    assert len(contacts_of(inst, group["JobGroupId"])) == 1


BAD_READS = [
    ("DescribeJob", {"JobId": "x", "WithScript": "sometimes"}, 400, "InvalidParameter",
     "WithScript"),
    ("ListJobsByGroup", {"JobGroupId": "nope", "PageNumber": 1, "PageSize": 10}, 404,
     "NotExist.JobGroup", "nope"),
    ("ListJobsByGroup", {"PageNumber": 1, "PageSize": 10}, 400, "MissingParameter", "JobGroupId"),
    ("QueryJobs", {"PageNumber": 0, "PageSize": 10}, 400, "InvalidParameter", "PageNumber"),
    ("QueryJobs", {"PageNumber": 1, "PageSize": 501}, 400, "InvalidParameter", "PageSize"),
    ("QueryJobs", {"PageNumber": 1, "PageSize": 10, "JobGroupId": "nope"}, 404,
     "NotExist.JobGroup", "nope"),
    ("QueryJobs", {"PageNumber": 1, "PageSize": 10, "StartTime": "yesterday"}, 400,
     "InvalidParameter", "StartTime"),
    ("SubmitBatchJobs", {"JobGroupId": "nope"}, 404, "NotExist.JobGroup", "nope"),
    ("SubmitBatchJobs", {}, 400, "MissingParameter", "JobGroupId"),
    ("GetAssignJobsAsyncResult", {}, 400, "MissingParameter", "AsyncTaskId"),
]  # fmt: skip


@pytest.mark.parametrize(("verb", "params", "code_status", "code", "named"), BAD_READS)
def test_bad_job_queries_are_refused(
    inst: Instance, verb: str, params: dict[str, Any], code_status: int, code: str, named: str
) -> None:
    response = inst.call(verb, InstanceId=inst.instance_id, **params)
    assert named in alibaba_error(response, code_status, code)["Message"]


def test_job_replies_in_xml(inst: Instance) -> None:
    group = new_group(inst)
    [job_id] = assign(inst, group["JobGroupId"], job("13800000001", "a")).json()["JobsId"]
    text = inst.call("DescribeJob", InstanceId=inst.instance_id, JobId=job_id, Format="XML").text
    assert f"<JobId>{job_id}</JobId>" in text and "<PhoneNumber>13800000001</PhoneNumber>" in text
    refused = inst.call("DescribeJob", InstanceId=inst.instance_id, JobId="nope", Format="XML")
    assert refused.status_code == 404 and "<Code>NotExist.Job</Code>" in refused.text


def test_query_jobs_with_result_shows_the_latest_task(server: Server, inst: Instance) -> None:
    group = new_group(inst)
    extras = [{"key": "orderNo", "value": "A1"}]
    ids = assign(inst, group["JobGroupId"], job("13800000001", "a", extras=extras),
                 job("13800000002", "b"), job("13800000003", "c")).json()["JobsId"]  # fmt: skip
    called = contacts_of(inst, group["JobGroupId"])[0]
    add_attempts(server, inst, called)  # no answer, then answered for 60 s
    inst.call("SuspendJobs", InstanceId=inst.instance_id, All=False, **{"JobId.1": ids[2]})
    page = dict(InstanceId=inst.instance_id, JobGroupId=group["JobGroupId"], PageNumber=1,
                PageSize=10)  # fmt: skip
    request = ob.QueryJobsWithResultRequest(
        instance_id=inst.instance_id, job_group_id=group["JobGroupId"], page_number=1,
        page_size=10,
    )  # fmt: skip
    body = inst.tea().query_jobs_with_result(request).body
    assert body.jobs.row_count == 3 and body.jobs.page_count == 1
    first = body.jobs.list[0]
    assert first.id == ids[0] and first.latest_task.status == "SucceededFinish"
    assert first.latest_task.has_answered is True and first.latest_task.call_duration == 60
    assert first.latest_task.call_duration_display == "01:00"
    assert first.latest_task.contact.phone_number == "13800000001"
    assert first.latest_task.contact.reference_id == "a"
    assert body.variable_names == ["orderNo"]
    assert body.jobs.list[1].latest_task.status is None  # not called yet: an empty task

    def listed(**filters: Any) -> list[str]:
        got = inst.call("QueryJobsWithResult", **page, **filters).json()["Jobs"]
        return [j["Id"] for j in got["List"]]

    assert listed(TaskStatusFilter='["Succeeded"]') == [ids[0]]
    assert listed(TaskStatusFilter="NoAnswer,Busy") == []
    assert listed(HasAnsweredFilter=True) == [ids[0]]
    assert listed(HasAnsweredFilter=False) == []
    assert listed(JobStatusFilter="Paused") == [ids[2]]
    assert listed(JobStatusFilter="Scheduling,Paused") == ids
    assert listed(QueryText="13800000002") == [ids[1]]
    assert listed(StartActualTimeFilter=1_000, EndActualTimeFilter=2_000) == []
    assert listed(**{"LabelsJson.1": '{"name": "意向", "value": "高"}'}) == []


BAD_RESULTS = [
    ({"JobStatusFilter": "Sleeping"}, "JobStatusFilter"),
    ({"TaskStatusFilter": "[oops"}, "TaskStatusFilter"),
    ({"TaskStatusFilter": "Ringing"}, "TaskStatusFilter"),
    ({"JobFailureReasonsFilter": "Bored"}, "JobFailureReasonsFilter"),
    ({"HasAnsweredFilter": "perhaps"}, "HasAnsweredFilter"),
    ({"StartActualTimeFilter": "noon"}, "StartActualTimeFilter"),
    ({"LabelsJson.1": "not json"}, "LabelsJson.1"),
    ({"QueryText": "12"}, "QueryText"),
]


@pytest.mark.parametrize(("change", "named"), BAD_RESULTS)
def test_bad_result_queries_are_refused(inst: Instance, change: dict[str, Any], named: str) -> None:
    group = new_group(inst)
    params = dict(InstanceId=inst.instance_id, JobGroupId=group["JobGroupId"], PageNumber=1,
                  PageSize=10, **change)  # fmt: skip
    body = alibaba_error(inst.call("QueryJobsWithResult", **params), 400, "InvalidParameter")
    assert named in body["Message"]
