"""Issue 7's Done-when for Alibaba: the official SDKs, unmodified, against `outdial serve` (its
HTTP server, engine and job runner in one process, on SQLite or PostgreSQL). The current SDK
signing with ACS3 and with v1 (`signature_algorithm="v2"`) and the legacy core SDK each
create, fill, start, suspend, resume, describe and delete a job group; and a group's jobs are
dialed by the engine (simulated callees) until DescribeJob shows their tasks."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from alibabacloud_outboundbot20191226 import models as ob
from alibabacloud_outboundbot20191226.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import RpcRequest
from aliyunsdkoutboundbot.request.v20191226 import (
    AssignJobsRequest,
    CreateJobGroupRequest,
    DeleteJobGroupRequest,
    DescribeJobGroupRequest,
    DescribeJobRequest,
    ResumeJobsRequest,
    SubmitBatchJobsRequest,
    SuspendJobsRequest,
)

from tests.e2e.processes import engine_env, healthy, started, wait_for
from tests.pg_server import free_port

KEY_ID, SECRET = "AKe2eOutdialAliyun01", "e2e-secret-0123456789"
FUTURE = 4102444800000  # 2100-01-01: a group that starts but does not dial yet
ALL_DAY = [{"beginTime": "00:00:00", "endTime": "24:00:00"}]
WAIT_SECONDS = 120  # generous: the machine is shared


@dataclass
class Outdial:
    host: str  # 127.0.0.1:port
    instance_id: str
    script_id: str
    native: httpx2.Client

    def campaigns(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.native.get("/campaigns").json()["items"]
        return items


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def outdial(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Outdial]:
    """`outdial serve` with a tenant set up over the native API as an OutboundBot instance:
    its AccessKey pair, a simulated line (95187, 057100000000; callees answer fast) and a
    script."""
    directory: Path = tmp_path_factory.mktemp(f"aliyun-e2e-{request.param}")
    port = free_port()
    args = ["serve", "--port", str(port), "--data-dir", str(directory)]
    with ExitStack() as stack:
        extra: dict[str, str] = {}
        if request.param == "postgresql":
            extra["DATABASE_URL"] = stack.enter_context(request.getfixturevalue("pg_database")())
        stack.enter_context(started(args, engine_env(**extra), directory / "serve.log"))
        wait_for(lambda: healthy(port), 60, "outdial serve")
        made = _set_up(port)
        stack.callback(made.native.close)
        yield made


def _set_up(port: int) -> Outdial:
    root = f"http://127.0.0.1:{port}/api/v1"
    with httpx2.Client(base_url=root, headers={"Authorization": "Bearer od_admin_e2e"}) as admin:
        tenant = admin.post("/tenants", json={"name": f"aliyun-{uuid.uuid4().hex[:6]}"}).json()
    native = httpx2.Client(
        base_url=root, headers={"Authorization": f"Bearer {tenant['api_key']}"}, timeout=30
    )
    credential = {"kind": "aliyun_access_key", "access_key_id": KEY_ID, "access_key_secret": SECRET}
    assert native.post("/credentials", json=credential).status_code == 201
    line = {
        "name": "sim", "channels": 6,
        "caller_numbers": [{"number": "95187"}, {"number": "057100000000"}],
        "settings": {"speed": 200, "callees": {"answered_rate": 0.6, "busy_rate": 0.2,
                                               "talk": {"dist": "uniform", "low": 5, "high": 20}}},
    }  # fmt: skip
    assert native.post("/lines", json=line).status_code == 201
    script = native.post("/scripts", json={"name": "催收话术"}).json()
    return Outdial(f"127.0.0.1:{port}", tenant["uuid"], script["uuid"], native)


# --- the three clients, behind one face ----------------------------------------------------------


class Tea:
    """alibabacloud-outboundbot20191226 (ACS3 by default, v1 with signature_algorithm v2)."""

    def __init__(self, od: Outdial, algorithm: str | None):
        config = Config(access_key_id=KEY_ID, access_key_secret=SECRET, endpoint=od.host,
                        protocol="http", read_timeout=60_000)  # fmt: skip
        if algorithm:
            config.signature_algorithm = algorithm
        self.client, self.instance = Client(config), od.instance_id

    def create(self, name: str, script_id: str, strategy: dict[str, Any]) -> str:
        body = self.client.create_job_group(
            ob.CreateJobGroupRequest(
                instance_id=self.instance, job_group_name=name, script_id=script_id,
                calling_number=["95187"], strategy_json=json.dumps(strategy),
            )
        ).body  # fmt: skip
        return str(body.job_group.job_group_id)

    def assign(self, group: str, jobs: list[str]) -> list[str]:
        body = self.client.assign_jobs(
            ob.AssignJobsRequest(instance_id=self.instance, job_group_id=group, jobs_json=jobs)
        ).body
        assert body.job_group_id == group
        return list(body.jobs_id)

    def submit(self, group: str) -> None:
        self.client.submit_batch_jobs(
            ob.SubmitBatchJobsRequest(instance_id=self.instance, job_group_id=group)
        )

    def suspend(self, group: str) -> None:
        self.client.suspend_jobs(
            ob.SuspendJobsRequest(instance_id=self.instance, job_group_id=group, all=True)
        )

    def resume(self, group: str) -> None:
        self.client.resume_jobs(
            ob.ResumeJobsRequest(instance_id=self.instance, job_group_id=group, all=True)
        )

    def describe(self, group: str) -> dict[str, Any]:
        body = self.client.describe_job_group(
            ob.DescribeJobGroupRequest(instance_id=self.instance, job_group_id=group)
        ).body
        assert body.success is True
        g = body.job_group
        return {"status": g.status, "total": g.progress.total_jobs, "name": g.job_group_name,
                "numbers": g.calling_numbers}  # fmt: skip

    def delete(self, group: str) -> None:
        self.client.delete_job_group(
            ob.DeleteJobGroupRequest(instance_id=self.instance, job_group_id=group)
        )

    def job_tasks(self, job_id: str) -> tuple[str, list[dict[str, Any]]]:
        job = self.client.describe_job(
            ob.DescribeJobRequest(instance_id=self.instance, job_id=job_id)
        ).body.job
        tasks = [{"status": t.status, "called": t.called_number, "calling": t.calling_number,
                  "end": t.end_time, "task_id": t.task_id} for t in job.tasks or []]  # fmt: skip
        return str(job.status), tasks

    def not_found_code(self, group: str) -> str:
        with pytest.raises(ClientException) as caught:
            self.describe(group)
        return str(caught.value.code)


class Legacy:
    """aliyun-python-sdk-core + aliyun-python-sdk-outboundbot (v1 HMAC-SHA1)."""

    def __init__(self, od: Outdial):
        self.client = AcsClient(KEY_ID, SECRET, "cn-shanghai", auto_retry=False, timeout=60)
        self.host, self.instance = od.host, od.instance_id

    def _do(self, request: RpcRequest, **params: Any) -> dict[str, Any]:
        request.set_endpoint(self.host)
        request.set_protocol_type("http")
        request.add_query_param("InstanceId", self.instance)
        for name, value in params.items():
            getattr(request, f"set_{name}")(value)
        body: dict[str, Any] = json.loads(self.client.do_action_with_exception(request))
        assert body["Success"] is True
        return body

    def create(self, name: str, script_id: str, strategy: dict[str, Any]) -> str:
        body = self._do(
            CreateJobGroupRequest.CreateJobGroupRequest(), JobGroupName=name, ScriptId=script_id,
            CallingNumbers=["95187"], StrategyJson=json.dumps(strategy),
        )  # fmt: skip
        return str(body["JobGroup"]["JobGroupId"])

    def assign(self, group: str, jobs: list[str]) -> list[str]:
        body = self._do(AssignJobsRequest.AssignJobsRequest(), JobGroupId=group, JobsJsons=jobs)
        return list(body["JobsId"])

    def submit(self, group: str) -> None:
        self._do(SubmitBatchJobsRequest.SubmitBatchJobsRequest(), JobGroupId=group)

    def suspend(self, group: str) -> None:
        self._do(SuspendJobsRequest.SuspendJobsRequest(), JobGroupId=group, All=True)

    def resume(self, group: str) -> None:
        self._do(ResumeJobsRequest.ResumeJobsRequest(), JobGroupId=group, All=True)

    def describe(self, group: str) -> dict[str, Any]:
        g = self._do(DescribeJobGroupRequest.DescribeJobGroupRequest(), JobGroupId=group)
        g = g["JobGroup"]
        return {"status": g["Status"], "total": g["Progress"]["TotalJobs"],
                "name": g["JobGroupName"], "numbers": g["CallingNumbers"]}  # fmt: skip

    def delete(self, group: str) -> None:
        self._do(DeleteJobGroupRequest.DeleteJobGroupRequest(), JobGroupId=group)

    def job_tasks(self, job_id: str) -> tuple[str, list[dict[str, Any]]]:
        job = self._do(DescribeJobRequest.DescribeJobRequest(), JobId=job_id)["Job"]
        tasks = [{"status": t["Status"], "called": t["CalledNumber"],
                  "calling": t["CallingNumber"], "end": t["EndTime"], "task_id": t["TaskId"]}
                 for t in job["Tasks"]]  # fmt: skip
        return str(job["Status"]), tasks

    def not_found_code(self, group: str) -> str:
        with pytest.raises(ServerException) as caught:
            self.describe(group)
        assert caught.value.get_http_status() == 404
        return str(caught.value.get_error_code())


Sdk = Tea | Legacy
CLIENTS: dict[str, Callable[[Outdial], Sdk]] = {
    "acs3": lambda od: Tea(od, None),
    "v1-tea": lambda od: Tea(od, "v2"),
    "v1-legacy": Legacy,
}


def jobs_json(count: int, prefix: str) -> list[str]:
    return [
        json.dumps({
            "contacts": [{"phoneNumber": f"138{prefix}{i:04d}", "referenceId": f"{prefix}-{i}",
                          "name": f"客户{i}", "honorific": "先生"}],
            "extras": [{"key": "orderNo", "value": f"NO{i}"}],
        }, ensure_ascii=False)
        for i in range(count)
    ]  # fmt: skip


# --- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(CLIENTS))
def test_an_sdk_drives_a_job_group_through_its_life(outdial: Outdial, kind: str) -> None:
    sdk = CLIENTS[kind](outdial)
    strategy = {"name": "策略", "startTime": FUTURE, "workingTime": ALL_DAY,
                "maxAttemptsPerDay": 2, "minAttemptInterval": 10}  # fmt: skip
    group = sdk.create(f"作业组 {kind}", outdial.script_id, strategy)
    assert sdk.describe(group)["status"] == "Draft"

    job_ids = sdk.assign(group, jobs_json(3, {"acs3": "1", "v1-tea": "2", "v1-legacy": "3"}[kind]))
    assert len(job_ids) == 3
    described = sdk.describe(group)
    # filled and, ready to dial, started: scheduled until its period begins (2100)
    assert described["status"] == "Scheduling" and described["total"] == 3
    assert described["numbers"] == ["95187"] and described["name"] == f"作业组 {kind}"
    sdk.submit(group)  # already started: left as it is
    assert sdk.describe(group)["status"] == "Scheduling"

    sdk.suspend(group)
    assert sdk.describe(group)["status"] == "Paused"
    [campaign] = [c for c in outdial.campaigns() if c["uuid"] == group]
    assert campaign["state"] == "paused" and campaign["vendor"] == "aliyun"
    sdk.resume(group)
    assert sdk.describe(group)["status"] == "Scheduling"
    status, tasks = sdk.job_tasks(job_ids[0])
    assert status == "Scheduling" and tasks == []

    sdk.delete(group)
    assert group not in {c["uuid"] for c in outdial.campaigns()}
    assert sdk.not_found_code(group) == "NotExist.JobGroup"


@pytest.mark.parametrize("kind", ["acs3", "v1-legacy"])
def test_a_groups_jobs_run_in_the_engine_and_show_their_tasks(outdial: Outdial, kind: str) -> None:
    sdk = CLIENTS[kind](outdial)
    strategy = {"name": "全天", "workingTime": ALL_DAY, "maxAttemptsPerDay": 3,
                "minAttemptInterval": 1}  # fmt: skip
    group = sdk.create(f"拨打 {kind}", outdial.script_id, strategy)
    job_ids = sdk.assign(group, jobs_json(6, {"acs3": "7", "v1-legacy": "8"}[kind]))
    assert sdk.describe(group)["status"] in ("Executing", "Completed")

    def every_job_called() -> dict[str, tuple[str, list[dict[str, Any]]]] | None:
        seen = {job_id: sdk.job_tasks(job_id) for job_id in job_ids}
        ended = all(any(t["end"] for t in tasks) for _, tasks in seen.values())
        return seen if ended else None

    deadline = time.monotonic() + WAIT_SECONDS
    seen = None
    while seen is None and time.monotonic() < deadline:
        seen = every_job_called()
        time.sleep(0.3)
    assert seen is not None, "the engine did not call every job in time"
    statuses = set()
    for status, tasks in seen.values():
        assert status in ("Scheduling", "Executing", "Succeeded", "Failed")
        for task in tasks:
            assert task["calling"] == "95187" and task["called"].startswith("138")
            statuses.add(task["status"])
    assert statuses <= {"Executing", "SucceededFinish", "NoAnswer", "Busy", "NotConnected",
                        "PoweredOff", "NotExist", "OutOfService", "InArrears", "Failed",
                        "SucceededInoInterAction", "SucceededError"}  # fmt: skip
    assert statuses & {"SucceededFinish", "NoAnswer", "Busy"}
    # the tasks are the ledger's attempts
    [campaign] = [c for c in outdial.campaigns() if c["uuid"] == group]
    ledger = outdial.native.get(f"/campaigns/{campaign['id']}/attempts",
                                params={"page_size": 500}).json()["items"]  # fmt: skip
    assert {a["uuid"] for a in ledger} >= {t["task_id"] for _, ts in seen.values() for t in ts}
