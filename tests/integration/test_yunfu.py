"""The 云蝠 /v1 facade (seed 002) through a real server: the seed's requests replayed, its
responses' shapes, every validation rule in 云蝠's error form, tasks shared with the native API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from sqlalchemy import update

from outdial.services.container import Services
from outdial.store.schema import campaigns, contacts
from tests.integration.yunfu_seed import (
    CREATE_REQUEST,
    CREATE_RESPONSE,
    FORM_META,
    LIST_ITEM,
    shape_problems,
)
from tests.support import Api, ended_attempt

Server = tuple[str, Services]


@dataclass
class Yunfu:
    """A tenant with a catalogue, its native client and its 云蝠 client."""

    api: Api
    http: httpx2.Client
    token: str
    line: dict[str, Any]
    script: dict[str, Any]
    calendar: dict[str, Any]
    policy: dict[str, Any]
    group: dict[str, Any]

    def task_body(self, **changes: Any) -> dict[str, Any]:
        """The seed's create example with this tenant's ids (and recycle_limit 0, its rule)."""
        body = {
            **CREATE_REQUEST,
            "caller_line_id": self.line["uuid"],
            "customer_service_id": self.group["id"],
            "destination_extension": self.script["id"],
            "disable_dial_timegroup": self.calendar["uuid"],
            "auto_recycle_rule_id": self.policy["id"],
            "recycle_limit": 0,
            "call_notify_url": "http://127.0.0.1:81/api/hangup_notify",
            "call_notify_type": 2,
        }
        body.update(changes)
        return {k: v for k, v in body.items() if v is not DROP}

    def create(self, **changes: Any) -> dict[str, Any]:
        return ok(self.http.post("/task", json=self.task_body(**changes)))

    def native_campaigns(self) -> list[dict[str, Any]]:
        return list(self.api.ok(self.api.get("/campaigns"))["items"])


DROP = object()


def ok(response: httpx2.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def refused(response: httpx2.Response, status: int, *fields: str) -> dict[str, Any]:
    """云蝠's error form, naming ``fields``."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["status"] == "error" and body["code"] == status, body
    assert isinstance(body["message"], str) and body["message"], body
    assert set(fields) <= set(body["errors"]), body
    return dict(body)


def yunfu_client(base_url: str, token: str | None) -> httpx2.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.Client(base_url=f"{base_url}/v1", headers=headers, timeout=30)


def make_yunfu(
    base_url: str, api: Api, channels: int = 5, callees: dict[str, Any] | None = None
) -> Yunfu:
    line = api.ok(
        api.post(
            "/lines",
            {
                "name": "南京-云蝠智能-17361984317",
                "channels": channels,
                "caller_numbers": [{"number": "17361984317"}],
                "expires_at": "2030-11-20T00:00:00+08:00",
                "settings": {"speed": 1000, "callees": callees or {}},
            },
        ),
        201,
    )
    script = api.ok(api.post("/scripts", {"name": "测试", "debug": True}), 201)
    calendar = api.ok(
        api.post(
            "/blackout-calendars",
            {
                "name": "午休时间",
                "weekly": [{"days": [1, 2, 3, 4, 5], "start": "12:00", "end": "13:00"}],
            },
        ),
        201,
    )
    policy = api.ok(
        api.post(
            "/redial-policies",
            {
                "name": "默认",
                "description": "默认",
                "is_default": True,
                "rules": [
                    {"outcomes": ["no_answer", "busy"], "interval_seconds": 1800, "max_times": 2}
                ],
            },
        ),
        201,
    )
    group = api.ok(api.post("/skill-groups", {"name": "组2", "line_id": line["id"]}), 201)
    token = api.ok(api.post("/credentials", {"kind": "yunfu_token", "name": "yunfu"}), 201)[
        "secret"
    ]
    return Yunfu(api, yunfu_client(base_url, token), token, line, script, calendar, policy, group)


@pytest.fixture
def yf(server: Server, new_tenant: Callable[..., Api]) -> Iterator[Yunfu]:
    made = make_yunfu(server[0], new_tenant())
    yield made
    made.http.close()


def numbers(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"name": f"联系人{i}", "phone": f"1301212{i:04d}"} for i in range(start, start + count)]


# --- authentication ---------------------------------------------------------------------------


def test_a_missing_or_wrong_token_is_401_unauthenticated(server: Server, yf: Yunfu) -> None:
    native_key = yf.api.tenant["api_key"]  # type: ignore[attr-defined]
    for token in (None, "yf_not_a_token_at_all_0123456789", native_key):
        with yunfu_client(server[0], token) as client:
            for method, path in (("GET", "/task"), ("GET", "/task/create"), ("POST", "/task")):
                response = client.request(method, path, json=yf.task_body())
                body = refused(response, 401)
                assert body["message"] == "Unauthenticated."
            for method, path in (("POST", "/task"), ("PUT", "/task/1")):
                bad_json = client.request(
                    method, path, content=b"{not json", headers={"content-type": "application/json"}
                )
                assert refused(bad_json, 401)["message"] == "Unauthenticated."
    assert yf.native_campaigns() == []


def test_a_revoked_token_stops_working(server: Server, yf: Yunfu) -> None:
    ok(yf.http.get("/task"))
    creds = yf.api.ok(yf.api.get("/credentials", kind="yunfu_token"))["items"]
    yf.api.ok(yf.api.post(f"/credentials/{creds[0]['id']}/revoke"))
    refused(yf.http.get("/task"), 401)


def test_a_token_sees_only_its_tenants_tasks(server: Server, yf: Yunfu, new_tenant: Any) -> None:
    task = yf.create()
    other = make_yunfu(server[0], new_tenant())
    try:
        assert ok(other.http.get("/task"))["data"] == []
        refused(other.http.get(f"/task/start/{task['uuid']}"), 404)
        # another tenant's line is not one this tenant may choose
        refused(
            other.http.post("/task", json=other.task_body(caller_line_id=yf.line["uuid"])),
            422,
            "caller_line_id",
        )
    finally:
        other.http.close()


# --- the create form ----------------------------------------------------------------------------


def test_form_meta_has_the_seeds_shape_and_the_tenants_catalogue(yf: Yunfu) -> None:
    meta = ok(yf.http.get("/task/create"))
    assert shape_problems(meta, FORM_META) == []
    m = meta["meta"]
    assert m["enum_disable_dial_timegroup"] == [{"uuid": yf.calendar["uuid"], "name": "午休时间"}]
    assert m["caller_line_list"] == [
        {
            "name": "南京-云蝠智能-17361984317",
            "value": yf.line["uuid"],
            "residue": 5,
            "call_line": 5,
            "available_at": m["caller_line_list"][0]["available_at"],
            "call_number": "17361984317",
        }
    ]
    assert m["auto_recycle_rules"] == [
        {"id": yf.policy["id"], "name": "默认", "remark": "默认", "status": True}
    ]
    assert m["customer_service"][0]["caller_line_id"] == yf.line["uuid"]
    assert m["customer_service"][0]["status"] == 1
    assert [g["id"] for g in m["outbound_group"]] == [yf.script["id"]]
    assert m["max_recycle_limit"] == "100"


def test_residue_is_what_started_tasks_leave_of_the_line(yf: Yunfu) -> None:
    first = yf.create(name="a", maximumcall=3)
    ok(yf.http.post(f"/task/import_task_customer/{first['uuid']}", json={"data": numbers(1)}))
    ok(yf.http.get(f"/task/start/{first['uuid']}"))
    assert ok(yf.http.get("/task/create"))["meta"]["caller_line_list"][0]["residue"] == 2
    refused(yf.http.post("/task", json=yf.task_body(name="b", maximumcall=3)), 422, "maximumcall")
    second = yf.create(name="b", maximumcall=2)
    listed = {t["uuid"]: t for t in ok(yf.http.get("/task"))["data"]}
    assert listed[first["uuid"]]["caller_line"]["call_line_used"] == 3
    # a started task's own allocation does not count against itself when it is changed
    ok(yf.http.put(f"/task/{first['uuid']}", json={"maximumcall": 3}))
    ok(yf.http.get(f"/task/stop/{first['uuid']}"))
    assert ok(yf.http.get("/task/create"))["meta"]["caller_line_list"][0]["residue"] == 5
    ok(yf.http.put(f"/task/{second['uuid']}", json={"maximumcall": 5}))


def test_disabled_groups_and_lines_are_shown_as_the_seed_says(yf: Yunfu) -> None:
    yf.api.ok(yf.api.patch(f"/skill-groups/{yf.group['id']}", {"enabled": False}))
    bare = yf.api.ok(yf.api.post("/skill-groups", {"name": "无线路"}), 201)
    yf.api.ok(yf.api.post("/lines", {"name": "停用", "channels": 2, "enabled": False}), 201)
    m = ok(yf.http.get("/task/create"))["meta"]
    groups = {g["id"]: g for g in m["customer_service"]}
    assert groups[yf.group["id"]]["status"] == 0
    assert groups[bare["id"]]["caller_line_id"] is None
    assert [line["value"] for line in m["caller_line_list"]] == [yf.line["uuid"]]


# --- create, list, update -----------------------------------------------------------------------


def test_the_seeds_create_request_is_accepted_with_the_seeds_response(yf: Yunfu) -> None:
    task = yf.create()
    assert shape_problems(task, CREATE_RESPONSE) == []
    assert shape_problems(task, LIST_ITEM) == []
    assert task["name"] == "测试任务" and task["remark"] == "第一个任务"
    assert (task["start"], task["start_str"]) == (0, "暂停")
    assert task["maximumcall"] == 1 and task["call_pause_second"] == 10
    assert task["_originate_timeout"] == 60 and task["recycle_limit"] == 0
    assert task["caller_line_id"] == yf.line["uuid"]
    assert task["_origination_caller_id_number"] == "17361984317"
    assert task["destination_extension"] == yf.script["id"]
    assert task["group"]["id"] == yf.script["id"] and task["group_str"] == "测试"
    assert task["disable_dial_timegroup"] == yf.calendar["uuid"]
    assert task["disable_time_group"]["uuid"] == yf.calendar["uuid"]
    assert task["auto_recycle_rule"]["id"] == yf.policy["id"]
    assert task["customer_service_id"] == yf.group["id"]
    assert task["user_id"] == yf.api.tenant["uuid"]  # type: ignore[attr-defined]
    assert task["progress_bar"] == {"total": 0, "progress": 0, "percent": 0}
    assert task["call_notify_url"] == "http://127.0.0.1:81/api/hangup_notify"
    assert task["call_notify_type"] == 2


def test_a_facade_task_is_a_native_campaign_with_fixed_pacing(yf: Yunfu) -> None:
    task = yf.create(maximumcall=4, call_pause_second=7, call_notify_type=1)
    [campaign] = yf.native_campaigns()
    assert campaign["uuid"] == task["uuid"]
    assert campaign["vendor"] == "yunfu"
    assert campaign["pacing_mode"] == "fixed"
    assert campaign["max_concurrency"] == 4 and campaign["call_gap_seconds"] == 7
    assert campaign["ring_timeout_seconds"] == 60
    assert campaign["line_id"] == yf.line["id"]
    assert campaign["script_id"] == yf.script["id"]
    assert campaign["skill_group_id"] == yf.group["id"]
    assert campaign["blackout_calendar_id"] == yf.calendar["id"]
    assert campaign["redial_policy_id"] == yf.policy["id"]
    assert campaign["description"] == "第一个任务"
    assert campaign["webhook_url"] == "http://127.0.0.1:81/api/hangup_notify"
    assert campaign["webhook_type"] == "answered"
    # and the native API controls it
    yf.api.ok(yf.api.post(f"/campaigns/{campaign['id']}/start"))
    assert ok(yf.http.get("/task"))["data"][0]["start"] == 1


def test_the_list_has_the_seeds_shape_native_campaigns_and_pagination(yf: Yunfu) -> None:
    yf.create(name="facade")
    yf.api.ok(yf.api.post("/campaigns", {"name": "native", "line_id": yf.line["id"]}), 201)
    listed = ok(yf.http.get("/task"))
    assert {t["name"] for t in listed["data"]} == {"facade", "native"}
    facade = next(t for t in listed["data"] if t["name"] == "facade")
    assert shape_problems(facade, LIST_ITEM) == []
    native = next(t for t in listed["data"] if t["name"] == "native")
    assert native["destination_extension"] is None and native["group"] is None
    assert listed["meta"] == {
        "has_pages": False,
        "total": 2,
        "last_page": 1,
        "current_page": 1,
        "per_page": "15",
    }
    page = ok(yf.http.get("/task", params={"page": 2, "per_page": 1}))
    assert len(page["data"]) == 1
    assert page["meta"] == {
        "has_pages": True,
        "total": 2,
        "last_page": 2,
        "current_page": 2,
        "per_page": "1",
    }
    assert [t["name"] for t in ok(yf.http.get("/task", params={"name": "fac"}))["data"]] == [
        "facade"
    ]
    for params, field in (
        ({"page": "x"}, "page"),
        ({"page": 0}, "page"),
        ({"per_page": 501}, "per_page"),
    ):
        refused(yf.http.get("/task", params=params), 422, field)


def test_put_changes_the_task_and_keeps_what_it_does_not_name(yf: Yunfu) -> None:
    task = yf.create()
    other_script = yf.api.ok(yf.api.post("/scripts", {"name": "另一个"}), 201)
    changed = ok(
        yf.http.put(
            f"/task/{task['uuid']}",
            json={"name": "改名", "maximumcall": 2, "destination_extension": other_script["id"]},
        )
    )
    assert changed["name"] == "改名" and changed["maximumcall"] == 2
    assert changed["group"]["id"] == other_script["id"] and changed["group_str"] == "另一个"
    assert changed["remark"] == "第一个任务" and changed["call_pause_second"] == 10
    # the whole create body again (参数同创建任务) and a client sending back the task it read
    ok(yf.http.put(f"/task/{task['uuid']}", json=yf.task_body(name="全量")))
    again = ok(yf.http.put(f"/task/{task['uuid']}", json=changed))
    assert again["name"] == "改名"


def test_a_form_encoded_create_is_accepted(yf: Yunfu) -> None:
    body = {k: str(v) for k, v in yf.task_body().items()}
    task = ok(yf.http.post("/task", data=body))
    assert task["maximumcall"] == 1 and task["customer_service_id"] == yf.group["id"]


# --- validation ---------------------------------------------------------------------------------

REQUIRED = (
    "caller_line_id",
    "destination_extension",
    "disable_dial_timegroup",
    "maximumcall",
    "name",
    "random_assignment_number",
    "recycle_limit",
    "_originate_timeout",
    "call_pause_second",
    "auto_recycle_rule_id",
)

BAD_VALUES: list[tuple[str, dict[str, Any], str]] = [
    ("recycle_limit must be 0", {"recycle_limit": 1}, "recycle_limit"),
    (
        "random_assignment_number must be 0",
        {"random_assignment_number": 2},
        "random_assignment_number",
    ),
    ("maximumcall over the residue", {"maximumcall": 6}, "maximumcall"),
    ("maximumcall zero", {"maximumcall": 0}, "maximumcall"),
    ("maximumcall not a number", {"maximumcall": "abc"}, "maximumcall"),
    ("unknown line", {"caller_line_id": "37d73edf-4628-4cf1-8beb-758433fd0aab"}, "caller_line_id"),
    (
        "unknown disable-dial group",
        {"disable_dial_timegroup": "146979fe-3864-4817-ad76-13b37f43bb1c"},
        "disable_dial_timegroup",
    ),
    ("unknown script group", {"destination_extension": 999999}, "destination_extension"),
    ("unknown customer service group", {"customer_service_id": 999999}, "customer_service_id"),
    ("unknown recycle rule", {"auto_recycle_rule_id": 999999}, "auto_recycle_rule_id"),
    ("dial timeout too short", {"_originate_timeout": 2}, "_originate_timeout"),
    ("dial timeout too long", {"_originate_timeout": 600}, "_originate_timeout"),
    ("negative call pause", {"call_pause_second": -1}, "call_pause_second"),
    ("call pause too long", {"call_pause_second": 7200}, "call_pause_second"),
    ("empty name", {"name": "  "}, "name"),
    ("name too long", {"name": "任" * 101}, "name"),
    ("remark too long", {"remark": "x" * 501}, "remark"),
    ("notify type", {"call_notify_type": 3}, "call_notify_type"),
    ("notify url", {"call_notify_url": "not a url"}, "call_notify_url"),
]


@pytest.mark.parametrize("field", REQUIRED)
def test_each_required_field_is_required(yf: Yunfu, field: str) -> None:
    body = refused(yf.http.post("/task", json=yf.task_body(**{field: DROP})), 422, field)
    assert field in body["message"]
    assert yf.native_campaigns() == []


@pytest.mark.parametrize(("label", "change", "field"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_bad_values_are_refused_naming_the_field(
    yf: Yunfu, label: str, change: dict[str, Any], field: str
) -> None:
    refused(yf.http.post("/task", json=yf.task_body(**change)), 422, field)
    assert yf.native_campaigns() == []


@pytest.mark.parametrize(("label", "change", "field"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_bad_values_in_a_put_change_nothing(
    yf: Yunfu, label: str, change: dict[str, Any], field: str
) -> None:
    task = yf.create()
    refused(yf.http.put(f"/task/{task['uuid']}", json=change), 422, field)
    assert ok(yf.http.get("/task"))["data"][0]["alter_datetime"] == task["alter_datetime"]
    assert yf.native_campaigns()[0]["updated_at"] == yf.native_campaigns()[0]["created_at"]


def test_a_duplicate_name_is_refused(yf: Yunfu) -> None:
    yf.create()
    refused(yf.http.post("/task", json=yf.task_body()), 422, "name")
    assert len(yf.native_campaigns()) == 1


def test_the_customer_service_group_needs_a_line_and_status_1(yf: Yunfu) -> None:
    bare = yf.api.ok(yf.api.post("/skill-groups", {"name": "无线路"}), 201)
    off = yf.api.ok(
        yf.api.post("/skill-groups", {"name": "停用", "line_id": yf.line["id"], "enabled": False}),
        201,
    )
    for group in (bare, off):
        refused(
            yf.http.post("/task", json=yf.task_body(customer_service_id=group["id"])),
            422,
            "customer_service_id",
        )
    assert yf.native_campaigns() == []
    task = yf.create(customer_service_id=None)
    assert task["customer_service_id"] is None


def test_a_disabled_or_expired_line_cannot_be_chosen(yf: Yunfu) -> None:
    yf.api.ok(yf.api.patch(f"/lines/{yf.line['id']}", {"enabled": False}))
    refused(yf.http.post("/task", json=yf.task_body()), 422, "caller_line_id")
    yf.api.ok(
        yf.api.patch(
            f"/lines/{yf.line['id']}", {"enabled": True, "expires_at": "2020-01-01T00:00:00Z"}
        )
    )
    refused(yf.http.post("/task", json=yf.task_body()), 422, "caller_line_id")
    assert yf.native_campaigns() == []


def test_bodies_that_are_not_a_task(yf: Yunfu) -> None:
    refused(
        yf.http.post("/task", content=b"{not json", headers={"content-type": "application/json"}),
        400,
    )
    refused(yf.http.post("/task", json=[1, 2]), 422)
    task = yf.create()
    refused(yf.http.put(f"/task/{task['uuid']}", json=[1]), 422, "body")
    assert len(yf.native_campaigns()) == 1


def test_unknown_tasks_are_404(yf: Yunfu) -> None:
    missing = "02f5bb4a-8a09-4eae-8969-6c2a3732f774"
    for response in (
        yf.http.put(f"/task/{missing}", json={"name": "x"}),
        yf.http.get(f"/task/start/{missing}"),
        yf.http.get(f"/task/stop/{missing}"),
        yf.http.get(f"/task/destroy/{missing}"),
        yf.http.get(f"/task/progress/{missing}"),
        yf.http.post(f"/task/import_task_customer/{missing}", json={"data": numbers(1)}),
    ):
        refused(response, 404)


# --- lifecycle ----------------------------------------------------------------------------------


def test_start_stop_and_start_again(yf: Yunfu) -> None:
    task = yf.create()
    started = ok(yf.http.get(f"/task/start/{task['uuid']}"))
    assert (started["start"], started["start_str"]) == (1, "开启")
    assert yf.native_campaigns()[0]["state"] == "running"
    assert ok(yf.http.get(f"/task/start/{task['uuid']}"))["start"] == 1  # already started
    stopped = ok(yf.http.get(f"/task/stop/{task['uuid']}"))
    assert (stopped["start"], stopped["start_str"]) == (0, "暂停")
    assert yf.native_campaigns()[0]["state"] == "paused"
    assert ok(yf.http.get(f"/task/stop/{task['uuid']}"))["start"] == 0  # already stopped
    assert ok(yf.http.get(f"/task/start/{task['uuid']}"))["start"] == 1
    assert yf.native_campaigns()[0]["state"] == "running"


def test_a_task_that_cannot_dial_is_not_started(yf: Yunfu) -> None:
    yf.api.ok(yf.api.post("/campaigns", {"name": "no line"}), 201)
    [native] = ok(yf.http.get("/task"))["data"]
    refused(yf.http.get(f"/task/start/{native['uuid']}"), 422, "caller_line_id")
    assert yf.native_campaigns()[0]["state"] == "draft"


def test_destroy_deletes_a_task_that_never_dialed(yf: Yunfu) -> None:
    task = yf.create()
    ok(yf.http.get(f"/task/start/{task['uuid']}"))
    body = ok(yf.http.get(f"/task/destroy/{task['uuid']}"))
    assert body == {"code": 200, "status": "success", "message": "删除任务成功", "data": []}
    assert ok(yf.http.get("/task"))["data"] == []
    assert yf.native_campaigns() == []


def test_destroy_keeps_the_ledger_of_a_task_that_dialed(server: Server, yf: Yunfu) -> None:
    task = yf.create()
    ok(yf.http.post(f"/task/import_task_customer/{task['uuid']}", json={"data": numbers(1)}))
    [campaign] = yf.native_campaigns()
    [contact] = yf.api.ok(yf.api.get(f"/campaigns/{campaign['id']}/contacts"))["items"]
    with server[1].store.write() as conn:
        conn.execute(ended_attempt(yf.api, campaign["id"], contact))
    ok(yf.http.get(f"/task/destroy/{task['uuid']}"))
    assert ok(yf.http.get("/task"))["data"] == []
    refused(yf.http.get(f"/task/start/{task['uuid']}"), 404)
    kept = yf.api.ok(yf.api.get(f"/campaigns/{campaign['id']}"))
    assert kept["state"] == "cancelled"
    assert yf.api.ok(yf.api.get(f"/campaigns/{campaign['id']}/attempts"))["total"] == 1


# --- numbers and progress -----------------------------------------------------------------------


def test_import_takes_the_successors_body_and_reports_each_failure(yf: Yunfu) -> None:
    task = yf.create()
    rows = [
        {
            "name": "联系人1",
            "phone": "13012121211",
            "email": "a@b.cn",
            "company": "xxx公司",
            "sex": 0,
            "components": [{"id": "c1", "value": "腾讯"}],
            "extra": "0c51fc89-1",
        },
        {"name": "联系人2", "phone": 13012121212},
        {"name": "坏号码", "phone": "12"},
        {"name": "重复", "phone": "13012121211"},
    ]
    body = {"ignore_crm": True, "skip_error": True, "number_add_suffix": False, "data": rows}
    result = ok(yf.http.post(f"/task/import_task_customer/{task['uuid']}", json=body))
    assert result["code"] == 200 and result["status"] == "success"
    assert result["data"]["success"] == 2
    assert [f["phone"] for f in result["data"]["fail"]] == ["12", "13012121211"]
    assert all(f["reason"] for f in result["data"]["fail"])
    campaign = yf.native_campaigns()[0]
    contacts = yf.api.ok(yf.api.get(f"/campaigns/{campaign['id']}/contacts"))["items"]
    first = next(c for c in contacts if c["name"] == "联系人1")
    assert first["pass_through"] == "0c51fc89-1"
    assert first["attributes"] == {
        "email": "a@b.cn",
        "company": "xxx公司",
        "sex": "0",
        "component:c1": "腾讯",
    }
    progress = ok(yf.http.get(f"/task/progress/{task['uuid']}"))
    assert progress == {"total": 2, "progress": 0, "percent": 0}


def test_import_takes_a_bare_array_and_customer_info_list(yf: Yunfu) -> None:
    task = yf.create()
    path = f"/task/import_task_customer/{task['uuid']}"
    assert ok(yf.http.post(path, json=numbers(2)))["data"]["success"] == 2
    assert (
        ok(yf.http.post(path, json={"customer_info_list": numbers(3, 2)}))["data"]["success"] == 3
    )
    assert ok(yf.http.get(f"/task/progress/{task['uuid']}"))["total"] == 5


IMPORT_RULES: list[tuple[str, Any, str]] = [
    ("over 100 numbers", {"data": numbers(101)}, "data"),
    ("no numbers", {"data": []}, "data"),
    ("no data", {"skip_error": True}, "data"),
    ("suffix option", {"data": numbers(1), "number_add_suffix": True}, "number_add_suffix"),
    ("encryption", {"data": numbers(1), "encryption": True}, "encryption"),
    (
        "skip_error false with a bad row",
        {"data": [*numbers(2), {"phone": "12"}], "skip_error": False},
        "data[2].phone",
    ),
    (
        "skip_error false with a long name",
        {"data": [{"phone": "13012121299", "name": "名" * 21}], "skip_error": False},
        "data[0].name",
    ),
    (
        "skip_error false without a phone",
        {"data": [{"name": "无号码"}], "skip_error": False},
        "data[0].phone",
    ),
]


@pytest.mark.parametrize(("label", "body", "field"), IMPORT_RULES, ids=[r[0] for r in IMPORT_RULES])
def test_import_rules_refuse_the_whole_call(yf: Yunfu, label: str, body: Any, field: str) -> None:
    task = yf.create()
    refused(yf.http.post(f"/task/import_task_customer/{task['uuid']}", json=body), 422, field)
    assert ok(yf.http.get(f"/task/progress/{task['uuid']}"))["total"] == 0


def test_progress_counts_finished_numbers(server: Server, yf: Yunfu) -> None:
    task = yf.create()
    ok(yf.http.post(f"/task/import_task_customer/{task['uuid']}", json={"data": numbers(4)}))
    campaign = yf.native_campaigns()[0]
    contacts_ = yf.api.ok(yf.api.get(f"/campaigns/{campaign['id']}/contacts"))["items"]
    with server[1].store.write() as conn:
        for contact, state in zip(contacts_, ("succeeded", "failed", "pending"), strict=False):
            conn.execute(update(contacts).where(contacts.c.id == contact["id"]).values(state=state))
    assert ok(yf.http.get(f"/task/progress/{task['uuid']}")) == {
        "total": 4,
        "progress": 2,
        "percent": 50,
    }
    listed = ok(yf.http.get("/task"))["data"][0]
    assert listed["progress_bar"] == {"total": 4, "progress": 2, "percent": 50}


def test_states_that_forbid_an_action_are_409(server: Server, yf: Yunfu) -> None:
    task = yf.create()
    with server[1].store.write() as conn:
        conn.execute(
            update(campaigns).where(campaigns.c.uuid == task["uuid"]).values(state="completed")
        )
    body = refused(yf.http.get(f"/task/start/{task['uuid']}"), 409)
    assert "completed" in body["message"]
    assert ok(yf.http.get(f"/task/stop/{task['uuid']}"))["start"] == 0  # nothing to stop
    native = yf.api.ok(yf.api.post("/campaigns", {"name": "cancelled"}), 201)
    yf.api.ok(yf.api.post(f"/campaigns/{native['id']}/cancel"))
    refused(yf.http.put(f"/task/{native['uuid']}", json=yf.task_body(name="x")), 409)
    refused(yf.http.post(f"/task/import_task_customer/{native['uuid']}", json=numbers(1)), 409)


def test_a_completed_task_takes_new_numbers_and_runs_again(server: Server, yf: Yunfu) -> None:
    task = yf.create()
    ok(yf.http.get(f"/task/start/{task['uuid']}"))
    with server[1].store.write() as conn:
        conn.execute(
            update(campaigns).where(campaigns.c.uuid == task["uuid"]).values(state="completed")
        )
    ok(yf.http.post(f"/task/import_task_customer/{task['uuid']}", json=numbers(1)))
    assert ok(yf.http.get("/task"))["data"][0]["start"] == 1


def test_unknown_paths_and_methods_answer_in_yunfu_form(yf: Yunfu) -> None:
    refused(yf.http.get("/nothing"), 404)
    refused(yf.http.delete("/task"), 405)
