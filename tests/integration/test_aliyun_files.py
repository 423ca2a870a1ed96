"""Rosters as files through the Alibaba facade: GetJobDataUploadParams, the file posted to
outdial as to OSS, CreateJobDataParsingTask / DescribeJobDataParsingTaskProgress (checked as a
job), AssignJobs with RosterType=excel and CreateBatchJobs (imported as a job). A real server
with its job runner, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from alibabacloud_outboundbot20191226 import models as ob

from outdial.services.container import Services
from tests.integration.aliyun_support import Instance, alibaba_error, make_instance
from tests.integration.test_aliyun_jobgroups import SEED_STRATEGY, seed_request
from tests.support import Api

Server = tuple[str, Services]
ROSTER = (
    "姓名,手机号,客户编号\n"
    "张三,13800000001,c1\n"
    "李四,13800000002,c2\n"
    "王五,12,c3\n"  # not a number
    "赵六,13800000001,c4\n"  # twice in the file
    "钱七,13800000005,c5\n"
).encode()


@pytest.fixture
def inst(server: Server, api: Api) -> Instance:
    return make_instance(server[0], api)


def wait_for(predicate: Callable[[], Any], what: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def upload_params(
    inst: Instance, name: str = "名单.csv"
) -> ob.GetJobDataUploadParamsResponseBodyUploadParams:
    response = inst.tea().get_job_data_upload_params(
        ob.GetJobDataUploadParamsRequest(instance_id=inst.instance_id, file_name=name)
    )
    return response.body.upload_params


def post_file(params: Any, content: bytes, **change: str) -> httpx2.Response:
    """The file posted as an OSS PostObject form, as Alibaba's upload clients do."""
    fields = {
        "key": params.folder,
        "policy": params.policy,
        "OSSAccessKeyId": params.access_id,
        "Signature": params.signature,
        "success_action_status": "200",
    } | change
    return httpx2.post(
        params.host, data=fields, files={"file": ("roster.csv", content)}, timeout=30
    )


def uploaded(inst: Instance, content: bytes = ROSTER, name: str = "名单.csv") -> str:
    params = upload_params(inst, name)
    response = post_file(params, content)
    assert response.status_code == 200, response.text
    return str(params.folder)


def progress(inst: Instance, task_id: str) -> dict[str, Any]:
    body = inst.call(
        "DescribeJobDataParsingTaskProgress", InstanceId=inst.instance_id,
        JobDataParsingTaskId=task_id,
    )  # fmt: skip
    assert body.status_code == 200, body.text
    result: dict[str, Any] = body.json()["Progress"]
    return result


def finished(inst: Instance, task_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        p = progress(inst, task_id)
        return p if p["Status"] not in ("Pending", "InProgress") else None

    result: dict[str, Any] = wait_for(done, "the parsing task")
    return result


def parsed(inst: Instance, content: bytes = ROSTER) -> str:
    folder = uploaded(inst, content)
    response = inst.tea("v2").create_job_data_parsing_task(
        ob.CreateJobDataParsingTaskRequest(instance_id=inst.instance_id, job_file_path=folder)
    )
    task_id = str(response.body.job_data_parsing_task_id)
    finished(inst, task_id)
    return task_id


def native_contacts(inst: Instance, group_id: str) -> list[dict[str, Any]]:
    [campaign] = [c for c in inst.api.ok(inst.api.get("/campaigns"))["items"]
                  if c["uuid"] == group_id]  # fmt: skip
    got: list[dict[str, Any]] = inst.api.ok(inst.api.get(f"/campaigns/{campaign['id']}/contacts"))[
        "items"
    ]
    return got


def test_upload_params_name_an_upload_target_on_outdial(server: Server, inst: Instance) -> None:
    params = upload_params(inst)
    assert params.host == f"{server[0]}/aliyun/uploads"
    assert params.access_id == inst.key_id
    assert params.folder.startswith(inst.instance_id + "/") and params.folder.endswith("_名单.csv")
    assert isinstance(params.expire, int) and params.expire > time.time()
    assert params.policy and params.signature


def test_a_roster_is_uploaded_parsed_and_reported(inst: Instance) -> None:
    folder = uploaded(inst)
    created = inst.call("CreateJobDataParsingTask", InstanceId=inst.instance_id,
                        JobFilePath=folder).json()  # fmt: skip
    task_id = created["JobDataParsingTaskId"]
    got = finished(inst, task_id)
    assert got["Status"] == "PartialFinished"
    assert got["TotalJobCount"] == 5 and got["HandledJobCount"] == 5
    assert got["AcceptedJobCount"] == 3 and got["RejectedJobCount"] == 2 and got["RowsRead"] == 5
    assert got["FailErrorCode"] == "" and got["FailReason"] == ""
    report = httpx2.get(got["FeedbackUrl"], timeout=30)
    assert report.status_code == 200
    lines = report.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "row,column,field,reason,type"
    assert [line.split(",")[0] for line in lines[1:]] == ["4", "5"]
    # checking writes nothing
    assert inst.api.ok(inst.api.get("/campaigns"))["items"] == []


def test_a_parsed_roster_is_assigned_to_a_group(inst: Instance) -> None:
    task_id = parsed(inst)
    group = inst.call("CreateJobGroup", **seed_request(inst)).json()["JobGroup"]
    response = inst.tea().assign_jobs(
        ob.AssignJobsRequest(
            instance_id=inst.instance_id, job_group_id=group["JobGroupId"],
            roster_type="excel", job_data_parsing_task_id=task_id,
        )
    )  # fmt: skip
    assert response.body.job_group_id == group["JobGroupId"] and response.body.jobs_id == []
    contacts = wait_for(lambda: native_contacts(inst, group["JobGroupId"]), "the import", 60)
    wait_for(lambda: len(native_contacts(inst, group["JobGroupId"])) == 3, "three contacts")
    assert {c["external_id"] for c in contacts} <= {"c1", "c2", "c5"}
    described = inst.call("DescribeJobGroup", InstanceId=inst.instance_id,
                          JobGroupId=group["JobGroupId"]).json()["JobGroup"]  # fmt: skip
    assert described["JobFilePath"].endswith("_名单.csv")
    assert described["Status"] in ("Scheduling", "Executing")
    imported = finished(inst, described["JobDataParsingTaskId"])
    assert imported["Status"] == "PartialFinished" and imported["AcceptedJobCount"] == 3


def test_create_batch_jobs_makes_a_group_from_a_file(inst: Instance) -> None:
    folder = uploaded(inst)
    response = inst.tea().create_batch_jobs(
        ob.CreateBatchJobsRequest(
            instance_id=inst.instance_id, batch_job_name="批量作业", batch_job_description="d",
            job_file_path=folder, script_id=inst.script_id, calling_number=["95187"],
            strategy_json=SEED_STRATEGY, submitted=False,
        )
    )  # fmt: skip
    batch = response.body.batch_job
    assert batch.job_group_name == "批量作业" and batch.job_file_path == folder
    assert batch.calling_numbers == ["95187"] and isinstance(batch.creation_time, int)
    assert batch.strategy.max_attempts_per_day == 2
    wait_for(lambda: len(native_contacts(inst, batch.batch_job_id)) == 3, "the import")
    described = inst.call("DescribeJobGroup", InstanceId=inst.instance_id,
                          JobGroupId=batch.batch_job_id).json()["JobGroup"]  # fmt: skip
    assert described["Status"] in ("Scheduling", "Executing")  # Submitted=false submits
    drafted = inst.call(
        "CreateBatchJobs", InstanceId=inst.instance_id, BatchJobName="草稿",
        StrategyJson=SEED_STRATEGY, ScriptId=inst.script_id, Submitted=True,
    ).json()["BatchJob"]  # fmt: skip
    status = inst.call("DescribeJobGroup", InstanceId=inst.instance_id,
                       JobGroupId=drafted["BatchJobId"]).json()["JobGroup"]["Status"]  # fmt: skip
    assert status == "Draft" and drafted["JobFilePath"] == ""


def test_a_file_that_cannot_be_read_fails_its_parsing_task(inst: Instance) -> None:
    task_id = parsed(inst, b"\x00\x01PK\x03\x04 not a table")
    got = progress(inst, task_id)
    assert got["Status"] == "Failed" and got["FailErrorCode"] == "InvalidParameter"
    assert "phone column" in got["FailReason"]
    group = inst.call("CreateJobGroup", **seed_request(inst)).json()["JobGroup"]
    refused = inst.call(
        "AssignJobs", InstanceId=inst.instance_id, JobGroupId=group["JobGroupId"],
        RosterType="excel", JobDataParsingTaskId=task_id,
    )  # fmt: skip
    alibaba_error(refused, 400, "IncorrectStatus.JobDataParsingTask")
    assert native_contacts(inst, group["JobGroupId"]) == []


UPLOAD_BAD = [
    ({"Signature": "AAAA"}, 403, "AccessDenied"),
    ({"key": "elsewhere/x.csv"}, 403, "AccessDenied"),
    ({"OSSAccessKeyId": "AKnobody"}, 403, "AccessDenied"),
    ({"policy": ""}, 400, "InvalidArgument"),
]


@pytest.mark.parametrize(("change", "status", "code"), UPLOAD_BAD)
def test_bad_uploads_are_refused_in_oss_form(
    inst: Instance, change: dict[str, str], status: int, code: str
) -> None:
    params = upload_params(inst)
    response = post_file(params, ROSTER, **change)
    assert response.status_code == status, response.text
    assert f"<Code>{code}</Code>" in response.text
    alibaba_error(
        inst.call("CreateJobDataParsingTask", InstanceId=inst.instance_id,
                  JobFilePath=params.folder),
        400, "InvalidParameter",
    )  # fmt: skip


def test_an_empty_file_is_refused(inst: Instance) -> None:
    response = post_file(upload_params(inst), b"")
    assert response.status_code == 400 and "<Code>InvalidArgument</Code>" in response.text


BAD_PARAMS = [
    ("GetJobDataUploadParams", {}, 400, "MissingParameter", "FileName"),
    ("GetJobDataUploadParams", {"FileName": "a/b.csv"}, 400, "InvalidParameter", "FileName"),
    ("GetJobDataUploadParams", {"FileName": "名单.pdf"}, 400, "InvalidParameter", "FileName"),
    ("GetJobDataUploadParams", {"FileName": "a.csv", "Path": "../up"}, 400, "InvalidParameter",
     "Path"),
    ("GetJobDataUploadParams", {"FileName": "a.csv", "UniqueId": "a b"}, 400, "InvalidParameter",
     "UniqueId"),
    ("CreateJobDataParsingTask", {}, 400, "MissingParameter", "JobFilePath"),
    ("CreateJobDataParsingTask", {"JobFilePath": "other-instance/x_a.csv"}, 400,
     "InvalidParameter", "JobFilePath"),
    ("DescribeJobDataParsingTaskProgress", {"JobDataParsingTaskId": "nope"}, 404,
     "NotExist.JobDataParsingTask", "nope"),
    ("CreateBatchJobs", {"BatchJobName": "b", "Submitted": False}, 400, "MissingParameter",
     "StrategyJson"),
    ("CreateBatchJobs", {"BatchJobName": "b", "StrategyJson": "{}"}, 400, "MissingParameter",
     "Submitted"),
    ("CreateBatchJobs", {"BatchJobName": "b", "StrategyJson": "{}", "Submitted": False,
                         "JobFilePath": "x/y.csv"}, 400, "InvalidParameter", "JobFilePath"),
    ("CreateBatchJobs", {"BatchJobName": "", "StrategyJson": "{}", "Submitted": False}, 400,
     "MissingParameter", "BatchJobName"),
    ("CreateBatchJobs", {"BatchJobName": "b", "StrategyJson": '{"maxAttemptsPerDay": 0}',
                         "Submitted": False}, 400, "InvalidParameter",
     "StrategyJson.maxAttemptsPerDay"),
]  # fmt: skip


@pytest.mark.parametrize(("verb", "params", "status", "code", "named"), BAD_PARAMS)
def test_bad_file_parameters_are_refused_and_change_nothing(
    inst: Instance, verb: str, params: dict[str, Any], status: int, code: str, named: str
) -> None:
    body = alibaba_error(inst.call(verb, InstanceId=inst.instance_id, **params), status, code)
    assert named in body["Message"]
    assert inst.api.ok(inst.api.get("/campaigns"))["items"] == []
    assert inst.api.ok(inst.api.get("/jobs"))["items"] == []


def test_an_excel_assignment_needs_a_parsing_task(inst: Instance) -> None:
    group = inst.call("CreateJobGroup", **seed_request(inst)).json()["JobGroup"]
    ids = dict(InstanceId=inst.instance_id, JobGroupId=group["JobGroupId"], RosterType="excel")
    alibaba_error(inst.call("AssignJobs", **ids), 400, "MissingParameter")
    unknown = inst.call("AssignJobs", **ids, JobDataParsingTaskId="nope")
    alibaba_error(unknown, 404, "NotExist.JobDataParsingTask")


def test_an_excel_assignment_checks_its_other_parameters_first(inst: Instance) -> None:
    task_id = parsed(inst)
    group = inst.call("CreateJobGroup", **seed_request(inst)).json()["JobGroup"]
    refused = inst.call(
        "AssignJobs", InstanceId=inst.instance_id, JobGroupId=group["JobGroupId"],
        RosterType="excel", JobDataParsingTaskId=task_id, **{"CallingNumber.1": "057100000001"},
    )  # fmt: skip
    assert "CallingNumber.1" in alibaba_error(refused, 400, "InvalidParameter")["Message"]
    imports = inst.api.ok(inst.api.get("/jobs", kind="contact_import"))["items"]
    assert imports == [] and native_contacts(inst, group["JobGroupId"]) == []


def test_modify_batch_jobs_renames_adds_a_roster_and_submits(inst: Instance) -> None:
    created = inst.call(
        "CreateBatchJobs", InstanceId=inst.instance_id, BatchJobName="草稿",
        StrategyJson=SEED_STRATEGY, ScriptId=inst.script_id, Submitted=True,
    ).json()["BatchJob"]  # fmt: skip
    group_id = created["BatchJobId"]
    folder = uploaded(inst)
    response = inst.tea().modify_batch_jobs(
        ob.ModifyBatchJobsRequest(
            instance_id=inst.instance_id, job_group_id=group_id, batch_job_name="改名",
            description="新", job_file_path=folder, submitted=False,
        )
    )  # fmt: skip
    group = response.body.job_group
    assert group.job_group_name == "改名" and group.job_group_description == "新"
    assert group.job_file_path == folder and group.strategy.max_attempts_per_day == 2
    wait_for(lambda: len(native_contacts(inst, group_id)) == 3, "the import")
    status = inst.call("DescribeJobGroup", InstanceId=inst.instance_id,
                       JobGroupId=group_id).json()["JobGroup"]["Status"]  # fmt: skip
    assert status in ("Scheduling", "Executing")


@pytest.mark.parametrize(
    ("change", "code", "named"),
    [
        ({"BatchJobName": None}, "MissingParameter", "BatchJobName"),
        ({"JobFilePath": "x/y.csv"}, "InvalidParameter", "JobFilePath"),
        ({"StrategyJson": '{"maxAttemptsPerDay": 0}'}, "InvalidParameter",
         "StrategyJson.maxAttemptsPerDay"),
        ({"Submitted": "later"}, "InvalidParameter", "Submitted"),
    ],
)  # fmt: skip
def test_bad_batch_modifications_change_nothing(
    inst: Instance, change: dict[str, Any], code: str, named: str
) -> None:
    created = inst.call(
        "CreateBatchJobs", InstanceId=inst.instance_id, BatchJobName="原名",
        StrategyJson=SEED_STRATEGY, Submitted=True,
    ).json()["BatchJob"]  # fmt: skip
    params = {"InstanceId": inst.instance_id, "JobGroupId": created["BatchJobId"],
              "BatchJobName": "新名", **change}  # fmt: skip
    params = {k: v for k, v in params.items() if v is not None}
    body = alibaba_error(inst.call("ModifyBatchJobs", **params), 400, code)
    assert named in body["Message"]
    [campaign] = inst.api.ok(inst.api.get("/campaigns"))["items"]
    assert campaign["name"] == "原名" and campaign["max_attempts_per_day"] == 2
    assert campaign["state"] == "draft"
