"""The 得助 call-center OpenAPI facade (seeds 001 and 003) through a real server: requests signed
with the tenant's private key, the seeds' requests replayed, their responses' shapes, every
validation rule in 得助's error form (HTTP 200, string code, the field named, nothing changed),
tasks shared with the native API, the page's statistics from the ledger."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from sqlalchemy import update

from outdial.api.app import create_app
from outdial.api.facades.dezhu import SignPolicy
from outdial.services.container import Services
from outdial.settings import load_settings
from outdial.store.schema import contacts
from tests.conftest import ADMIN_KEY
from tests.integration.dezhu_seed import CREATE_RESPONSE, PAGE_RESPONSE, SEED_HEADERS
from tests.integration.dezhu_support import (
    DROP,
    Dezhu,
    DezhuClient,
    customers,
    make_dezhu,
    ok,
    private_key,
    refused,
    sign,
)
from tests.integration.yunfu_seed import shape_problems
from tests.support import Api, ended_attempt, live_server

Server = tuple[str, Services]


@pytest.fixture
def dz(server: Server, new_tenant: Callable[..., Api]) -> Iterator[Dezhu]:
    made = make_dezhu(server[0], new_tenant())
    yield made
    made.close()


def contacts_of(dz: Dezhu, campaign_id: int) -> list[dict[str, Any]]:
    return list(dz.api.ok(dz.api.get(f"/campaigns/{campaign_id}/contacts"))["items"])


# --- authentication ---------------------------------------------------------------------------


def test_a_request_signed_with_the_registered_key_is_served(dz: Dezhu) -> None:
    assert dz.page() == {"total": 0, "list": []}


@pytest.mark.parametrize("missing", ["appId", "timestamp", "sign"])
def test_a_missing_header_is_10001(dz: Dezhu, missing: str) -> None:
    headers = dz.client.signed_headers()
    del headers[missing]
    refused(dz.client.post("/create", dz.task_body(), headers=headers), "10001", missing)
    assert dz.native_campaigns() == []


def test_authentication_comes_before_the_body(dz: Dezhu) -> None:
    headers = {"Content-Type": "application/json"}
    response = dz.client.http.post("/create", content=b"{not json", headers=headers)
    refused(response, "10001")


def test_an_app_id_without_a_public_key_is_10002(dz: Dezhu) -> None:
    """The seeds' own headers: an appId nobody registered here."""
    message = refused(dz.client.post("/create", dz.task_body(), headers=SEED_HEADERS), "10002")
    assert message == "找不到对应的公钥,请先上传公钥"
    assert dz.native_campaigns() == []


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_timestamp_more_than_five_minutes_off_is_10001(dz: Dezhu, offset: int) -> None:
    headers = dz.client.signed_headers(offset_seconds=offset)
    refused(dz.client.post("/create", dz.task_body(), headers=headers), "10001", "timestamp")
    assert dz.native_campaigns() == []


@pytest.mark.parametrize("offset", [-240, 240])
def test_a_timestamp_within_five_minutes_is_accepted(dz: Dezhu, offset: int) -> None:
    headers = dz.client.signed_headers(offset_seconds=offset)
    ok(dz.client.request("GET", "/page", headers=headers))


def test_the_window_is_a_setting(server: Server, dz: Dezhu, tmp_path: Path) -> None:
    window = load_settings(tmp_path, env={"OUTDIAL_DEZHU_SIGN_WINDOW_SECONDS": "60"})
    assert window.dezhu_sign_window_seconds == 60
    assert load_settings(tmp_path, env={}).dezhu_sign_window_seconds == 300
    with pytest.raises(ValueError, match="OUTDIAL_DEZHU_SIGN_WINDOW_SECONDS"):
        load_settings(tmp_path, env={"OUTDIAL_DEZHU_SIGN_WINDOW_SECONDS": "soon"})
    assert load_settings(tmp_path, env={}).dezhu_sign_compat is False
    assert load_settings(tmp_path, env={"OUTDIAL_DEZHU_SIGN_COMPAT": "yes"}).dezhu_sign_compat
    app = create_app(server[1], ADMIN_KEY, dezhu_sign=SignPolicy(timedelta(seconds=60)))
    with live_server(app) as url:
        narrow = DezhuClient(url, dz.client.app_id, dz.client.key)
        try:
            ok(narrow.request("GET", "/page", headers=narrow.signed_headers(offset_seconds=50)))
            late = narrow.signed_headers(offset_seconds=-90)
            refused(narrow.request("GET", "/page", headers=late), "10001", "1 分钟")
        finally:
            narrow.close()


def compat_headers(dz: Dezhu, form: str) -> dict[str, str]:
    headers = dz.client.signed_headers()
    app_id, ts = headers["appId"], headers["timestamp"]
    text = f"appId={app_id}&timestamp={ts}" if "pairs" in form else app_id + ts
    algorithm = hashes.SHA1() if "sha1" in form else hashes.SHA256()
    raw = dz.client.key.sign(text.encode(), padding.PKCS1v15(), algorithm)
    return {**headers, "sign": base64.b64encode(raw).decode()}


@pytest.mark.parametrize("form", ["sha1", "pairs", "pairs sha1"])
def test_the_compatibility_forms_only_when_switched_on(
    server: Server, dz: Dezhu, form: str
) -> None:
    refused(dz.client.request("GET", "/page", headers=compat_headers(dz, form)), "10001")
    app = create_app(server[1], ADMIN_KEY, dezhu_sign=SignPolicy(compat=True))
    with live_server(app) as url:
        lenient = DezhuClient(url, dz.client.app_id, dz.client.key)
        other = DezhuClient(url, dz.client.app_id, private_key(1))
        try:
            ok(lenient.request("GET", "/page", headers=compat_headers(dz, form)))
            ok(lenient.get("/page"))  # the standard form still
            refused(
                other.request("GET", "/page", headers=compat_headers(other_dz(dz, other), form)),
                "10001",
            )
        finally:
            lenient.close()
            other.close()


def other_dz(dz: Dezhu, client: DezhuClient) -> Dezhu:
    """``dz`` with another client (its key), to sign compatibility forms with it."""
    return Dezhu(dz.api, client, dz.line, dz.numbers, dz.skills, dz.credential)


def bad_signatures(dz: Dezhu) -> dict[str, dict[str, str]]:
    good = dz.client.signed_headers()
    other_key = sign(private_key(1), dz.client.app_id, good["timestamp"])
    moved = str(int(good["timestamp"]) + 1)
    return {
        "another key": {**good, "sign": other_key},
        "another timestamp": {**good, "timestamp": moved},
        "not base64": {**good, "sign": "not*base64*at*all"},
        "truncated": {**good, "sign": good["sign"][:100]},
        "not a number": {**good, "timestamp": "yesterday"},
    }


@pytest.mark.parametrize(
    "case", ["another key", "another timestamp", "not base64", "truncated", "not a number"]
)
def test_a_bad_signature_is_10001_and_changes_nothing(dz: Dezhu, case: str) -> None:
    headers = bad_signatures(dz)[case]
    refused(dz.client.post("/create", dz.task_body(), headers=headers), "10001")
    assert dz.native_campaigns() == []


def test_a_verified_request_marks_the_key_used(dz: Dezhu) -> None:
    path = f"/credentials/{dz.credential['id']}"
    headers = {**dz.client.signed_headers(), "sign": sign(private_key(1), "x", "1")}
    refused(dz.client.request("GET", "/page", headers=headers), "10001")
    assert dz.api.ok(dz.api.get(path))["last_used_at"] is None
    ok(dz.client.get("/page"))
    assert dz.api.ok(dz.api.get(path))["last_used_at"] is not None


def test_a_revoked_key_is_10002(dz: Dezhu) -> None:
    dz.api.ok(dz.api.post(f"/credentials/{dz.credential['id']}/revoke"))
    refused(dz.client.get("/page"), "10002")


def test_a_rotated_key_replaces_the_old_one(server: Server, dz: Dezhu) -> None:
    from tests.integration.dezhu_support import public_pem

    new = private_key(2)
    path = f"/credentials/{dz.credential['id']}/rotate"
    dz.api.ok(dz.api.post(path, {"public_key": public_pem(new)}))
    refused(dz.client.get("/page"), "10001")
    rotated = DezhuClient(server[0], dz.client.app_id, new)
    try:
        ok(rotated.get("/page"))
    finally:
        rotated.close()


def test_a_key_sees_only_its_tenants_tasks(
    server: Server, dz: Dezhu, new_tenant: Callable[..., Api]
) -> None:
    task_id = dz.create()
    other = make_dezhu(server[0], new_tenant(), key_number=3)
    try:
        assert other.page()["total"] == 0
        refused(other.client.post("/start", {"taskId": task_id}), "29002", "taskId")
        refused(other.client.get("/getPhoneGroups", taskId=task_id), "29002", "taskId")
        # another tenant's skill set and number group are not this tenant's to choose
        body = other.task_body(skillSetId=str(dz.skills["id"]))
        refused(other.client.post("/create", body), "29002", "skillSetId")
        body = other.task_body(outboundNumberGroupId=str(dz.numbers["id"]))
        refused(other.client.post("/create", body), "29002", "outboundNumberGroupId")
        assert other.native_campaigns() == []
    finally:
        other.close()


# --- create (seed 001) ------------------------------------------------------------------------


def test_the_seeds_create_request_is_accepted_with_the_seeds_response(dz: Dezhu) -> None:
    response = dz.client.post("/create", dz.task_body())
    assert shape_problems(response.json(), CREATE_RESPONSE) == []
    task_id = ok(response)
    [campaign] = dz.native_campaigns()
    assert campaign["id"] == task_id
    assert campaign["vendor"] == "dezhu"
    assert (campaign["name"], campaign["description"]) == ("自动外呼任务名称", "自动外呼描述")
    assert campaign["kind"] == "auto" and campaign["state"] == "draft"
    assert campaign["period_start"].startswith("2020-09-26T16:00:00")  # 2020-09-27 in Shanghai
    assert campaign["period_end"].startswith("2020-09-27T16:00:00")
    assert campaign["windows"] == [{"start": "11:36:00", "end": "12:35:00"}]
    assert campaign["skill_group_id"] == dz.skills["id"]
    assert campaign["number_group_id"] == dz.numbers["id"]
    assert campaign["line_id"] == dz.line["id"]
    assert campaign["routing_strategy"] == "local_first"  # strategyDisplaySwitch 1
    assert (campaign["pacing_mode"], campaign["ratio"]) == ("ratio", 2.0)
    assert campaign["abandon_target_percent"] == 2.0
    assert (campaign["ring_timeout_seconds"], campaign["acw_seconds"]) == (20, 10)
    assert campaign["phone_groups"] == [
        {
            "identify": "default",
            "name": "外呼任务号码批次名称,如:本人、亲属、朋友",
            "redial_enabled": True,
            "redial_interval_seconds": 300,
            "redial_times": 1,
        }
    ]
    [contact] = contacts_of(dz, task_id)
    assert (contact["name"], contact["description"]) == ("客户名称", "客户描述")
    assert (contact["external_id"], contact["pass_through"]) == ("1", "")
    [phone] = contact["phones"]
    assert (phone["number"], phone["relation"]) == ("+8613800000001", "本人")
    assert phone["phone_group"] == "default"


def test_defaults_and_a_predictive_task(dz: Dezhu) -> None:
    body = dz.task_body(
        sendNumberStrategy=1,
        abandonmentRate=4,
        multiplyPower=DROP,
        maxRingingDuration=DROP,
        acw=DROP,
        strategyDisplaySwitch=False,
        taskDesc=None,
    )
    task_id = ok(dz.client.post("/create", body))
    campaign = dz.api.ok(dz.api.get(f"/campaigns/{task_id}"))
    assert campaign["pacing_mode"] == "predictive"
    assert campaign["abandon_target_percent"] == 4.0
    assert (campaign["ring_timeout_seconds"], campaign["acw_seconds"]) == (45, 10)
    assert campaign["routing_strategy"] == "round_robin"
    [task] = dz.page()["list"]
    assert (task["sendNumberStrategy"], task["abandonmentRate"]) == (1, 4)
    assert (task["maxRingingDuration"], task["acw"], task["strategyDisplaySwitch"]) == (
        45,
        10,
        False,
    )


def test_ids_typed_as_numbers_and_switches_as_booleans_are_accepted(dz: Dezhu) -> None:
    body = dz.task_body(
        skillSetId=dz.skills["id"],
        outboundNumberGroupId=dz.numbers["id"],
        strategyDisplaySwitch=True,
    )
    body["outBoundCustomers"][0]["externalCustomerId"] = 1
    ok(dz.client.post("/create", body))


def test_a_java_client_sending_every_field_with_nulls_is_accepted(dz: Dezhu) -> None:
    """A DTO serialised with its unset fields as null, and fields of a newer version."""
    body = dz.task_body(
        taskDesc=None,
        sendNumberStrategy=1,
        multiplyPower=None,
        abandonmentRate=3,
        taskAgents=None,
        newerField={"x": 1},
    )
    body["outboundPhoneGroups"] = [
        {
            "name": "本人",
            "identify": "default",
            "autoOutboundSwitch": 0,
            "autoOutboundInterval": None,
            "autoOutboundTimes": None,
        }
    ]
    body["outBoundCustomers"] = [
        {
            "name": "客户",
            "desc": None,
            "externalCustomerId": "c-1",
            "externalData": None,
            "phoneGroupVoList": [
                {
                    "phoneGroupIdentify": "default",
                    "relations": [
                        {"mobile": 13900000009, "relation": None},
                        {"mobile": "13900000010", "relation": None},
                    ],
                }
            ],
        }
    ]
    task_id = ok(dz.client.post("/create", body))
    [contact] = contacts_of(dz, task_id)
    assert contact["description"] == "" and contact["pass_through"] == ""
    assert [p["relation"] for p in contact["phones"]] == ["本人", ""]
    [task] = dz.page()["list"]
    assert task["taskDesc"] == "" and task["multiplyPower"] == 1
    assert task["outboundPhoneGroups"][0]["autoOutboundSwitch"] == 0


def test_concurrent_creates_of_one_name_make_one_task(dz: Dezhu) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def create(i: int) -> dict[str, Any]:
        body = dz.task_body(taskName="并发任务", outBoundCustomers=customers(1, start=10 + i))
        return dict(dz.client.post("/create", body).json())

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(create, range(4)))
    assert sorted(a["code"] for a in answers) == ["10000", "29002", "29002", "29002"]
    assert all("taskName" in a["message"] for a in answers if a["code"] == "29002")
    assert len(dz.native_campaigns()) == 1


def test_a_task_name_is_unique_per_tenant(
    server: Server, dz: Dezhu, new_tenant: Callable[..., Api]
) -> None:
    dz.create(taskName="催收一期")
    body = dz.task_body(taskName="催收一期")
    body["outBoundCustomers"] = customers(1, 50)
    refused(dz.client.post("/create", body), "29002", "taskName")
    assert len(dz.native_campaigns()) == 1
    other = make_dezhu(server[0], new_tenant(), key_number=3)
    try:
        other.create(taskName="催收一期")
    finally:
        other.close()


# --- every rule of seed 001, in 得助's error form ---------------------------------------------


def _customer(**changes: Any) -> dict[str, Any]:
    [one] = customers(1)
    one.update(changes)
    return {k: v for k, v in one.items() if v is not DROP}


def _relations(*relations: dict[str, Any]) -> dict[str, Any]:
    return _customer(
        phoneGroupVoList=[{"phoneGroupIdentify": "default", "relations": list(relations)}]
    )


def _group(**changes: Any) -> list[dict[str, Any]]:
    group = {
        "name": "本人",
        "identify": "default",
        "autoOutboundSwitch": 1,
        "autoOutboundInterval": 5,
        "autoOutboundTimes": 1,
    }
    group.update(changes)
    return [{k: v for k, v in group.items() if v is not DROP}]


def _times(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"taskExecTimeStartStr": s, "taskExecTimeEndStr": e} for s, e in pairs]


C, G = "outBoundCustomers[0].", "outboundPhoneGroups[0]."
R, R1 = C + "phoneGroupVoList[0].relations", "outBoundCustomers[1].phoneGroupVoList[0].relations"
T0, T1 = "taskExecTimes[0].", "taskExecTimes[1]."
FRIENDS = [{"mobile": f"1390000000{i}", "relation": "朋友"} for i in range(2, 5)]
ME = {"mobile": "13900000001", "relation": "本人"}
BAD_TASKS: list[tuple[str, dict[str, Any], str]] = [
    ("name missing", {"taskName": DROP}, "taskName"),
    ("name empty", {"taskName": ""}, "taskName"),
    ("name blank", {"taskName": "   "}, "taskName"),
    ("name 51", {"taskName": "名" * 51}, "taskName"),
    ("type missing", {"taskType": DROP}, "taskType"),
    ("type 3", {"taskType": 3}, "taskType"),
    ("type 0", {"taskType": 0}, "taskType"),
    ("start date missing", {"taskExecStartDate": DROP}, "taskExecStartDate"),
    ("start date format", {"taskExecStartDate": "2020/09/27"}, "taskExecStartDate"),
    ("start date not a day", {"taskExecStartDate": "2020-02-30"}, "taskExecStartDate"),
    ("end date format", {"taskExecEndDate": "20200927"}, "taskExecEndDate"),
    ("end before start", {"taskExecEndDate": "2020-09-26"}, "taskExecEndDate"),
    ("times missing", {"taskExecTimes": DROP}, "taskExecTimes"),
    ("times empty", {"taskExecTimes": []}, "taskExecTimes"),
    (
        "time format",
        {"taskExecTimes": _times(("9:00:00", "12:00:00"))},
        T0 + "taskExecTimeStartStr",
    ),
    (
        "time no seconds",
        {"taskExecTimes": _times(("09:00", "12:00:00"))},
        T0 + "taskExecTimeStartStr",
    ),
    ("time 24h", {"taskExecTimes": _times(("09:00:00", "24:00:00"))}, T0 + "taskExecTimeEndStr"),
    (
        "end time before start",
        {"taskExecTimes": _times(("09:00:00", "10:00:00"), ("12:00:00", "11:00:00"))},
        T1 + "taskExecTimeEndStr",
    ),
    (
        "too many windows",
        {"taskExecTimes": _times(*[(f"{h:02d}:00:00", f"{h:02d}:30:00") for h in range(13)])},
        "taskExecTimes",
    ),
    ("desc 501", {"taskDesc": "d" * 501}, "taskDesc"),
    ("skill set missing", {"skillSetId": DROP}, "skillSetId"),
    ("skill set not a number", {"skillSetId": "abc"}, "skillSetId"),
    ("skill set unknown", {"skillSetId": "999999999"}, "skillSetId"),
    ("number group missing", {"outboundNumberGroupId": DROP}, "outboundNumberGroupId"),
    ("number group unknown", {"outboundNumberGroupId": "999999999"}, "outboundNumberGroupId"),
    ("display switch", {"strategyDisplaySwitch": "maybe"}, "strategyDisplaySwitch"),
    ("strategy missing", {"sendNumberStrategy": DROP}, "sendNumberStrategy"),
    ("strategy 2", {"sendNumberStrategy": 2}, "sendNumberStrategy"),
    ("power missing", {"multiplyPower": DROP}, "multiplyPower"),
    ("power 0", {"multiplyPower": 0}, "multiplyPower"),
    ("power negative", {"multiplyPower": -1}, "multiplyPower"),
    ("power over 100", {"multiplyPower": 101}, "multiplyPower"),
    ("rate missing", {"sendNumberStrategy": 1, "abandonmentRate": DROP}, "abandonmentRate"),
    ("rate 0", {"sendNumberStrategy": 1, "abandonmentRate": 0}, "abandonmentRate"),
    ("rate 6", {"sendNumberStrategy": 1, "abandonmentRate": 6}, "abandonmentRate"),
    ("rate 6, ratio task", {"abandonmentRate": 6}, "abandonmentRate"),
    ("ringing 19", {"maxRingingDuration": 19}, "maxRingingDuration"),
    ("ringing 51", {"maxRingingDuration": 51}, "maxRingingDuration"),
    ("ringing text", {"maxRingingDuration": "long"}, "maxRingingDuration"),
    ("acw 0", {"acw": 0}, "acw"),
    ("acw 181", {"acw": 181}, "acw"),
    ("groups missing", {"outboundPhoneGroups": DROP}, "outboundPhoneGroups"),
    ("groups empty", {"outboundPhoneGroups": []}, "outboundPhoneGroups"),
    (
        "two groups",
        {"outboundPhoneGroups": _group() + _group(identify="other")},
        "outboundPhoneGroups",
    ),
    ("group name missing", {"outboundPhoneGroups": _group(name=DROP)}, G + "name"),
    ("group identify missing", {"outboundPhoneGroups": _group(identify=DROP)}, G + "identify"),
    ("group identify 65", {"outboundPhoneGroups": _group(identify="i" * 65)}, G + "identify"),
    ("switch 2", {"outboundPhoneGroups": _group(autoOutboundSwitch=2)}, G + "autoOutboundSwitch"),
    (
        "interval missing",
        {"outboundPhoneGroups": _group(autoOutboundInterval=DROP)},
        G + "autoOutboundInterval",
    ),
    (
        "interval 4",
        {"outboundPhoneGroups": _group(autoOutboundInterval=4)},
        G + "autoOutboundInterval",
    ),
    (
        "interval 2881",
        {"outboundPhoneGroups": _group(autoOutboundInterval=2881)},
        G + "autoOutboundInterval",
    ),
    (
        "redial times missing",
        {"outboundPhoneGroups": _group(autoOutboundTimes=DROP)},
        G + "autoOutboundTimes",
    ),
    (
        "redial times 0",
        {"outboundPhoneGroups": _group(autoOutboundTimes=0)},
        G + "autoOutboundTimes",
    ),
    (
        "redial times 4",
        {"outboundPhoneGroups": _group(autoOutboundTimes=4)},
        G + "autoOutboundTimes",
    ),
    ("customers missing", {"outBoundCustomers": DROP}, "outBoundCustomers"),
    ("customers 1001", {"outBoundCustomers": customers(1001)}, "outBoundCustomers"),
    ("customer name missing", {"outBoundCustomers": [_customer(name=DROP)]}, C + "name"),
    ("customer name 21", {"outBoundCustomers": [_customer(name="名" * 21)]}, C + "name"),
    ("customer desc 201", {"outBoundCustomers": [_customer(desc="d" * 201)]}, C + "desc"),
    (
        "external id missing",
        {"outBoundCustomers": [_customer(externalCustomerId=DROP)]},
        C + "externalCustomerId",
    ),
    (
        "external id 65",
        {"outBoundCustomers": [_customer(externalCustomerId="e" * 65)]},
        C + "externalCustomerId",
    ),
    (
        "external data 41",
        {"outBoundCustomers": [_customer(externalData="x" * 41)]},
        C + "externalData",
    ),
    (
        "batches missing",
        {"outBoundCustomers": [_customer(phoneGroupVoList=DROP)]},
        C + "phoneGroupVoList",
    ),
    (
        "batches empty",
        {"outBoundCustomers": [_customer(phoneGroupVoList=[])]},
        C + "phoneGroupVoList",
    ),
    ("relations empty", {"outBoundCustomers": [_relations()]}, R),
    ("four relations", {"outBoundCustomers": [_relations(ME, *FRIENDS)]}, R),
    (
        "first not 本人",
        {"outBoundCustomers": [_relations({"mobile": "13900000001", "relation": "父亲"})]},
        R,
    ),
    ("mobile missing", {"outBoundCustomers": [_relations({"relation": "本人"})]}, R + "[0].mobile"),
    (
        "mobile invalid",
        {"outBoundCustomers": [_relations({"mobile": "12", "relation": "本人"})]},
        R + "[0].mobile",
    ),
    (
        "relation 21",
        {"outBoundCustomers": [_relations(ME, {"mobile": "13900000002", "relation": "亲" * 21})]},
        R + "[1].relation",
    ),
    (
        "same number twice",
        {"outBoundCustomers": [_relations(ME, {"mobile": "13900000001", "relation": "父亲"})]},
        R,
    ),
    (
        "unknown batch",
        {
            "outBoundCustomers": [
                _customer(phoneGroupVoList=[{"phoneGroupIdentify": "other", "relations": [ME]}])
            ]
        },
        C + "phoneGroupVoList[0].phoneGroupIdentify",
    ),
    ("customer twice", {"outBoundCustomers": customers(1) + customers(1)}, R1 + "[0].mobile"),
    ("agents on an auto task", {"taskAgents": [{"agentId": 1, "assignNum": 1}]}, "taskAgents"),
]


@pytest.mark.parametrize(
    ("changes", "field"), [c[1:] for c in BAD_TASKS], ids=[c[0] for c in BAD_TASKS]
)
def test_each_rule_of_seed_001_is_29002_naming_the_field(
    dz: Dezhu, changes: dict[str, Any], field: str
) -> None:
    message = refused(dz.client.post("/create", dz.task_body(**changes)), "29002", field)
    assert message.startswith("参数错误: ")
    assert dz.native_campaigns() == []


def test_bodies_that_are_not_json_objects_are_29002(dz: Dezhu) -> None:
    headers = dz.client.signed_headers()
    for raw in (b"{not json", b"[1, 2]", b'"text"'):
        response = dz.client.http.post("/create", content=raw, headers=headers)
        refused(response, "29002")
    assert dz.native_campaigns() == []


def test_a_body_over_the_limit_is_29002(dz: Dezhu) -> None:
    body = dz.task_body(taskDesc="x" * (9 * 1024 * 1024))
    message = refused(dz.client.post("/create", body), "29002")
    assert "请求体过大" in message
    assert dz.native_campaigns() == []


def test_a_bad_customer_among_a_thousand_adds_nothing(dz: Dezhu) -> None:
    body = dz.task_body(outBoundCustomers=customers(1000))
    body["outBoundCustomers"][999]["phoneGroupVoList"][0]["relations"][0]["mobile"] = "123"
    field = "outBoundCustomers[999].phoneGroupVoList[0].relations[0].mobile"
    refused(dz.client.post("/create", body), "29002", field)
    assert dz.native_campaigns() == []


# --- the page (seed 003) ----------------------------------------------------------------------


def test_the_page_has_the_seeds_shape(dz: Dezhu) -> None:
    task_id = dz.create()
    headers = {**dz.client.signed_headers(), "pageNumber": "1", "pageSize": "20"}
    response = dz.client.request("GET", "/page", headers=headers)
    assert shape_problems(response.json(), PAGE_RESPONSE) == []
    page = ok(response)
    assert page["total"] == 1
    [task] = page["list"]
    assert task == {
        "taskId": task_id,
        "taskName": "自动外呼任务名称",
        "taskType": 1,
        "taskStatus": 5,  # its one day, 2020-09-27, is over: 已过期
        "taskExecStartDate": "2020-09-27",
        "taskExecEndDate": "2020-09-27",
        "taskExecTimes": [{"taskExecTimeStartStr": "11:36:00", "taskExecTimeEndStr": "12:35:00"}],
        "taskDesc": "自动外呼描述",
        "skillSetId": str(dz.skills["id"]),
        "skillSetName": "外呼技能组",
        "outboundNumberGroupId": str(dz.numbers["id"]),
        "strategyDisplaySwitch": True,
        "sendNumberStrategy": 0,
        "multiplyPower": 2,
        "abandonmentRate": 2,
        "maxRingingDuration": 20,
        "acw": 10,
        "taskAgents": None,
        "outboundPhoneGroups": [
            {
                "name": "外呼任务号码批次名称,如:本人、亲属、朋友",
                "identify": "default",
                "autoOutboundSwitch": 1,
                "autoOutboundInterval": 5,
                "autoOutboundTimes": 1,
            }
        ],
        "customerAmount": 1,
        "completedCount": 0,
        "connectedCount": 0,
        "connectPercentage": "0.00%",
        "taskProgress": "0.00%",
    }


def test_page_statistics_are_the_ledgers(server: Server, dz: Dezhu) -> None:
    task_id = dz.create(taskExecEndDate="2099-12-31", outBoundCustomers=customers(4))
    rows = contacts_of(dz, task_id)
    store = server[1].store
    with store.write() as conn:
        conn.execute(ended_attempt(dz.api, task_id, rows[0], outcome="answered", talk_seconds=9.0))
        conn.execute(ended_attempt(dz.api, task_id, rows[1], outcome="answered", talk_seconds=3.0))
        conn.execute(ended_attempt(dz.api, task_id, rows[2], outcome="no_answer"))
        done = [rows[0]["id"], rows[1]["id"], rows[2]["id"]]
        conn.execute(update(contacts).where(contacts.c.id.in_(done)).values(state="succeeded"))
    [task] = dz.page()["list"]
    assert (task["customerAmount"], task["completedCount"], task["connectedCount"]) == (4, 3, 2)
    assert task["connectPercentage"] == "66.67%"  # 2 of the 3 called
    assert task["taskProgress"] == "75.00%"
    assert task["taskStatus"] == 1
    native = dz.api.ok(dz.api.get(f"/campaigns/{task_id}/stats"))
    assert native["contacts"]["connected"] == 2 and native["contacts"]["completed"] == 3


def test_page_filters_and_both_page_number_names(dz: Dezhu) -> None:
    other_skills = dz.api.ok(dz.api.post("/skill-groups", {"name": "第二组"}), 201)
    ids = [dz.create(taskName=f"任务{i}", taskExecEndDate="2099-12-31") for i in range(3)]
    expired = dz.create(taskName="过期任务")
    moved = dz.create(
        taskName="另一组", taskExecEndDate="2099-12-31", skillSetId=str(other_skills["id"])
    )
    assert dz.page()["total"] == 5
    assert [t["taskId"] for t in dz.page(query="任务")["list"]] == [expired, *reversed(ids)]
    assert [t["taskId"] for t in dz.page(taskStatus=5)["list"]] == [expired]
    assert dz.page(taskStatus=1)["total"] == 4
    assert dz.page(taskStatus=3)["total"] == 0
    assert [t["taskId"] for t in dz.page(skillsetId=other_skills["id"])["list"]] == [moved]
    assert dz.page(taskType=0)["total"] == 5 and dz.page(taskType=1)["total"] == 5
    assert dz.page(taskType=2)["total"] == 0
    first = dz.page(pageNum=1, pageSize=2)
    assert (first["total"], len(first["list"])) == (5, 2)
    third = [t["taskId"] for t in dz.page(pageNumber=3, pageSize=2)["list"]]
    assert third == [ids[0]]
    assert [t["taskId"] for t in dz.page(pageNum=2, pageSize=2)["list"]] == [ids[2], ids[1]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"pageNum": "x"}, "pageNum"),
        ({"pageNum": 0}, "pageNum"),
        ({"pageNumber": -1}, "pageNumber"),
        ({"pageSize": 0}, "pageSize"),
        ({"pageSize": 501}, "pageSize"),
        ({"taskType": 3}, "taskType"),
        ({"taskStatus": 7}, "taskStatus"),
        ({"taskStatus": "a"}, "taskStatus"),
        ({"skillsetId": "x"}, "skillsetId"),
    ],
)
def test_bad_page_parameters_are_29002(dz: Dezhu, params: dict[str, Any], field: str) -> None:
    refused(dz.client.get("/page", **params), "29002", field)


def test_a_natively_created_campaign_is_listed(dz: Dezhu) -> None:
    native = dz.api.ok(dz.api.post("/campaigns", {"name": "原生任务"}), 201)
    [task] = dz.page()["list"]
    assert task["taskId"] == native["id"] and task["taskName"] == "原生任务"
    all_day = {"taskExecTimeStartStr": "00:00:00", "taskExecTimeEndStr": "23:59:59"}
    assert task["taskExecTimes"] == [all_day]  # no windows: the whole day
    assert shape_problems({"data": {"list": [task]}}, {"data": {"list": [_nullable_shape()]}}) == []


def _nullable_shape() -> dict[str, Any]:
    """The seed's TaskInfo with the fields a campaign without a 得助 setting may leave null."""
    shape = copy.deepcopy(PAGE_RESPONSE["data"]["list"][0])
    for key in ("taskExecEndDate", "skillSetId", "outboundNumberGroupId"):
        shape[key] = None
    return dict(shape)
