"""The Alibaba facade's RPC endpoint: both signature schemes from the official SDKs, the
date window, nonce replay, dispatch, and Alibaba's error form. Through a real server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from alibabacloud_outboundbot20191226 import models as ob
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkoutboundbot.request.v20191226.DescribeJobGroupRequest import (
    DescribeJobGroupRequest,
)

from tests.integration.aliyun_support import (
    Instance,
    alibaba_error,
    make_instance,
    signed_call,
    v1_params,
    v1_sign,
)
from tests.support import Api

Server = tuple[str, object]


@pytest.fixture
def inst(server: Server, api: Api) -> Instance:
    return make_instance(server[0], api)


def campaigns(inst: Instance) -> list[dict[str, object]]:
    items: list[dict[str, object]] = inst.api.ok(inst.api.get("/campaigns"))["items"]
    return items


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_the_current_sdk_signs_with_either_scheme(inst: Instance, algorithm: str | None) -> None:
    client = inst.tea(algorithm)
    created = client.create_job_group(
        ob.CreateJobGroupRequest(
            instance_id=inst.instance_id,
            job_group_name="第一个作业组 a+b",
            calling_number=["95187"],
        )
    )
    assert created.status_code == 200
    group = created.body.job_group
    assert group.job_group_name == "第一个作业组 a+b" and group.calling_numbers == ["95187"]
    described = client.describe_job_group(
        ob.DescribeJobGroupRequest(instance_id=inst.instance_id, job_group_id=group.job_group_id)
    )
    assert described.body.job_group.job_group_id == group.job_group_id
    assert described.body.success is True and described.body.code == "OK"


def test_the_legacy_sdk_signs_with_v1(inst: Instance) -> None:
    created = inst.call("CreateJobGroup", InstanceId=inst.instance_id, JobGroupName="legacy")
    group_id = created.json()["JobGroup"]["JobGroupId"]
    request = DescribeJobGroupRequest()
    request.set_InstanceId(inst.instance_id)
    request.set_JobGroupId(group_id)
    body = inst.legacy_call(request)
    assert body["JobGroup"]["JobGroupName"] == "legacy"


def test_a_wrong_secret_is_signature_does_not_match(inst: Instance) -> None:
    inst.secret = "not-the-secret-at-all"
    with pytest.raises(ClientException) as caught:
        inst.tea().list_instances(ob.ListInstancesRequest())
    assert caught.value.status_code == 400 and caught.value.code == "SignatureDoesNotMatch"
    with pytest.raises(ServerException) as legacy:
        request = DescribeJobGroupRequest()
        request.set_InstanceId(inst.instance_id)
        request.set_JobGroupId("x")
        inst.legacy_call(request)
    # the server's string to sign is the SDK's own, so the SDK names the secret as wrong
    assert legacy.value.get_http_status() == 400
    assert legacy.value.get_error_code() == "InvalidAccessKeySecret"


def test_only_a_verified_request_marks_the_access_key_used(inst: Instance) -> None:
    def last_used() -> object:
        keys = inst.api.ok(inst.api.get("/credentials", kind="aliyun_access_key"))["items"]
        return next(k for k in keys if k["key_id"] == inst.key_id)["last_used_at"]

    assert last_used() is None
    secret, inst.secret = inst.secret, "not-the-secret-at-all"
    with pytest.raises(ClientException):
        inst.tea().list_instances(ob.ListInstancesRequest())
    assert last_used() is None
    inst.secret = secret
    inst.tea().list_instances(ob.ListInstancesRequest())
    assert last_used() is not None


def test_an_unknown_access_key_is_not_found(inst: Instance) -> None:
    response = signed_call(inst.base_url, "AKunknown0000", inst.secret, "ListInstances", {})
    alibaba_error(response, 404, "InvalidAccessKeyId.NotFound")


def test_a_parameter_changed_after_signing_is_refused(inst: Instance) -> None:
    def tamper(values: dict[str, str]) -> None:
        values["JobGroupName"] = "changed"

    params = {"InstanceId": inst.instance_id, "JobGroupName": "signed"}
    response = signed_call(
        inst.base_url, inst.key_id, inst.secret, "CreateJobGroup", params, tamper
    )
    alibaba_error(response, 400, "SignatureDoesNotMatch")
    assert campaigns(inst) == []


@pytest.mark.parametrize("minutes", [-16, 16])
def test_a_date_outside_fifteen_minutes_is_expired(inst: Instance, minutes: int) -> None:
    when = datetime.now(UTC) + timedelta(minutes=minutes)
    params = {"InstanceId": inst.instance_id, "JobGroupName": "late"}
    response = signed_call(
        inst.base_url, inst.key_id, inst.secret, "CreateJobGroup", params, when=when
    )
    alibaba_error(response, 400, "InvalidTimeStamp.Expired")
    assert campaigns(inst) == []


def test_a_replayed_nonce_is_refused_and_does_nothing(inst: Instance) -> None:
    params = {"InstanceId": inst.instance_id, "JobGroupName": "once"}
    first = signed_call(
        inst.base_url, inst.key_id, inst.secret, "CreateJobGroup", params, nonce="n-1"
    )
    assert first.status_code == 200, first.text
    again = signed_call(
        inst.base_url, inst.key_id, inst.secret, "CreateJobGroup", params, nonce="n-1"
    )
    alibaba_error(again, 400, "SignatureNonceUsed")
    assert [c["name"] for c in campaigns(inst)] == ["once"]


def test_get_is_accepted_like_post(inst: Instance) -> None:
    response = signed_call(
        inst.base_url, inst.key_id, inst.secret, "ListInstances", {}, method="GET"
    )
    assert response.status_code == 200, response.text
    assert response.json()["Instances"][0]["InstanceId"] == inst.instance_id


def test_an_unknown_action_is_invalid_action(inst: Instance) -> None:
    response = inst.call("StartTheMachines", InstanceId=inst.instance_id)
    alibaba_error(response, 404, "InvalidAction.NotFound")


def test_another_api_version_is_refused(inst: Instance) -> None:
    values = v1_params(inst.key_id, inst.secret, "ListInstances", {})
    values["Version"] = "2017-01-01"
    values.pop("Signature")
    values["Signature"] = v1_sign(inst.secret, "POST", values)
    response = httpx2.post(inst.base_url + "/", params=values, timeout=60)
    alibaba_error(response, 400, "InvalidVersion")


def test_a_missing_signature_names_it(inst: Instance) -> None:
    def drop(values: dict[str, str]) -> None:
        values.pop("Signature")

    response = signed_call(inst.base_url, inst.key_id, inst.secret, "ListInstances", {}, drop)
    body = alibaba_error(response, 400, "MissingParameter")
    assert "Signature" in body["Message"]


def test_errors_come_as_xml_when_asked(inst: Instance) -> None:
    response = inst.call("DescribeJobGroup", InstanceId="nope", JobGroupId="x", Format="XML")
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/xml;charset=utf-8"
    assert "<Code>NotExist.Instance</Code>" in response.text
