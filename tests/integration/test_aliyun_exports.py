"""A job group's export through the Alibaba facade: CreateJobGroupExportTask runs the native
export job, DescribeJobGroupExportTaskProgress and DescribeJobGroup's ExportProgress give its
progress and a FileHttpUrl outdial serves. A real server with its job runner."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from alibabacloud_outboundbot20191226 import models as ob

from outdial.services.container import Services
from tests.integration.aliyun_support import Instance, alibaba_error, make_instance
from tests.integration.test_aliyun_files import wait_for
from tests.integration.test_aliyun_jobs import assign, job, new_group
from tests.support import Api

Server = tuple[str, Services]


@pytest.fixture
def inst(server: Server, api: Api) -> Instance:
    return make_instance(server[0], api)


@pytest.fixture
def group(inst: Instance) -> dict[str, Any]:
    made = new_group(inst)
    assign(inst, made["JobGroupId"], job("13800000001", "a"), job("13800000002", "b"))
    return made


def progress(inst: Instance, task_id: str) -> dict[str, Any]:
    body = inst.call(
        "DescribeJobGroupExportTaskProgress", InstanceId=inst.instance_id, TaskId=task_id
    )
    assert body.status_code == 200, body.text
    got: dict[str, Any] = body.json()
    return got


def finished(inst: Instance, task_id: str) -> dict[str, Any]:
    got: dict[str, Any] = wait_for(
        lambda: (p := progress(inst, task_id))["Status"] == "FINISHED" and p, "the export"
    )
    return got


def test_the_sdk_exports_a_group_to_a_file_outdial_serves(
    inst: Instance, group: dict[str, Any]
) -> None:
    client = inst.tea()
    created = client.create_job_group_export_task(
        ob.CreateJobGroupExportTaskRequest(
            instance_id=inst.instance_id, job_group_id=group["JobGroupId"]
        )
    )
    task_id = created.body.task_id
    assert isinstance(task_id, str) and task_id
    finished(inst, task_id)
    described = client.describe_job_group_export_task_progress(
        ob.DescribeJobGroupExportTaskProgressRequest(instance_id=inst.instance_id, task_id=task_id)
    )
    assert described.body.progress == 1.0
    url = described.body.file_http_url
    assert url.startswith(inst.base_url) and "&signature=" in url  # a signed link, no key
    download = httpx2.get(url, timeout=30)
    assert download.status_code == 200 and download.content[:2] == b"PK"  # an XLSX
    ids = dict(InstanceId=inst.instance_id, JobGroupId=group["JobGroupId"])
    export = inst.call("DescribeJobGroup", **ids).json()["JobGroup"]["ExportProgress"]
    assert export["Progress"] == "1" and export["Status"] == "FINISHED"
    assert export["FileHttpUrl"].split("?")[0] == url.split("?")[0]
    listed = inst.call("ListJobGroups", InstanceId=inst.instance_id, PageNumber=1, PageSize=10)
    assert listed.json()["JobGroups"]["List"][0]["ExportProgress"]["Status"] == "FINISHED"


def test_options_choose_tasks_csv_and_english(inst: Instance, group: dict[str, Any]) -> None:
    body = inst.call(
        "CreateJobGroupExportTask", InstanceId=inst.instance_id, JobGroupId=group["JobGroupId"],
        **{"Option.1": "Tasks", "Option.2": "csv", "Option.3": "en"},
    ).json()  # fmt: skip
    got = finished(inst, body["TaskId"])
    assert got["ExportProgress"]["Status"] == "FINISHED" and isinstance(got["Progress"], float)
    text = httpx2.get(got["FileHttpUrl"], timeout=30).content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("attempt_id,contact_id")


def test_a_new_group_has_no_export(inst: Instance) -> None:
    made = new_group(inst)
    assert made["ExportProgress"] == {"FileHttpUrl": "", "Progress": "0", "Status": ""}


BAD = [
    ("CreateJobGroupExportTask", {"Option.1": "pdf"}, 400, "InvalidParameter", "Option.1"),
    ("CreateJobGroupExportTask", {"Option.1": "csv", "Option.2": "xlsx"}, 400,
     "InvalidParameter", "Option.2"),
    ("CreateJobGroupExportTask", {"JobGroupId": "nope"}, 404, "NotExist.JobGroup", "nope"),
    ("CreateJobGroupExportTask", {"JobGroupId": None}, 400, "MissingParameter", "JobGroupId"),
    ("DescribeJobGroupExportTaskProgress", {"TaskId": "nope"}, 404, "NotExist.ExportTask",
     "nope"),
    ("DescribeJobGroupExportTaskProgress", {}, 400, "MissingParameter", "TaskId"),
]  # fmt: skip


@pytest.mark.parametrize(("verb", "change", "status", "code", "named"), BAD)
def test_bad_export_calls_are_refused_and_queue_nothing(
    inst: Instance, group: dict[str, Any], verb: str, change: dict[str, Any], status: int,
    code: str, named: str,
) -> None:  # fmt: skip
    params = {"InstanceId": inst.instance_id, "JobGroupId": group["JobGroupId"], **change}
    params = {k: v for k, v in params.items() if v is not None}
    body = alibaba_error(inst.call(verb, **params), status, code)
    assert named in body["Message"]
    assert inst.api.ok(inst.api.get("/jobs", kind="export"))["items"] == []
