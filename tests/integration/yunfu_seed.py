"""Seed 002's examples (云蝠 /v1/task), transcribed from the seed with its comments dropped.
Responses are compared by shape: every field the seed shows, with the same JSON type."""

from __future__ import annotations

from typing import Any

FORM_META = {
    "meta": {
        "enum_disable_dial_timegroup": [
            {"uuid": "146979fe-3864-4817-ad76-13b37f43bb1c", "name": "休息时间"},
            {"uuid": "cf44b8fc-a60f-499e-a5c8-5340963a56a3", "name": "午休时间"},
            {"uuid": "a6c20127-1199-4b87-bffa-75ed3e368fd0", "name": "早会时间"},
        ],
        "caller_line_list": [
            {
                "name": "尊享ai.zxycall.com一",
                "value": "37d73edf-4628-4cf1-8beb-758433fd0aab",
                "residue": 1,
                "call_line": 1,
                "available_at": "2019-12-18 00:00:00",
                "call_number": "13530525008",
            }
        ],
        "max_recycle_limit": "50",
        "auto_recycle_rules": [{"id": 1, "name": "测试重呼规则", "remark": "test", "status": True}],
        "customer_service": [
            {
                "id": 21,
                "user_id": "4d99d91c-f5d9-49da-88da-758977cc58a9",
                "name": "组2",
                "created_at": "2019-05-10 16:03:09",
                "updated_at": "2019-05-15 18:01:40",
                "caller_line_id": "37d73edf-4628-4cf1-8beb-758433fd0aab",
                "status": 1,
            }
        ],
        "outbound_group": [
            {
                "id": 390,
                "name": "测试话术【复制】",
                "user_id": "4d99d91c-f5d9-49da-88da-758977cc58a9",
                "debug": True,
                "deleted_at": None,
                "created_at": "2019-02-24 14:24:23",
                "updated_at": "2019-02-24 14:24:23",
                "link_word_group_id": None,
                "tag_scene_id": None,
                "default": False,
            }
        ],
    }
}

CREATE_REQUEST = {
    "caller_line_id": "37d73edf-4628-4cf1-8beb-758433fd0aab",
    "customer_service_id": 1,
    "destination_extension": 297,
    "disable_dial_timegroup": "146979fe-3864-4817-ad76-13b37f43bb1c",
    "maximumcall": 1,
    "name": "测试任务",
    "random_assignment_number": 0,
    "recycle_limit": 1,
    "remark": "第一个任务",
    "_originate_timeout": 60,
    "call_pause_second": 10,
    "auto_recycle_rule_id": 1,
}
"""The create table's example column. Its recycle_limit example (1) contradicts the same row's
rule, "[弃用,有且只能为0]" (deprecated, must be 0); the replay sends 0, as the rule says."""

_GROUP = {
    "id": 1197,
    "name": "测试",
    "user_id": "4d99d91c-f5d9-49da-88da-758977cc58a9",
    "debug": True,
    "deleted_at": None,
    "created_at": "2020-03-06 15:17:41",
    "updated_at": "2020-03-06 15:17:41",
    "link_word_group_id": None,
    "tag_scene_id": None,
    "default": True,
}

CREATE_RESPONSE = {
    "start": 0,
    "alter_datetime": "2020-03-06 22:38:02",
    "destination_dialplan": "XML",
    "destination_context": "default",
    "originate_variables": "{execute_on_media=start_da2}",
    "maximumcall": 1,
    "recycle_limit": 0,
    "name": "测试",
    "remark": "测试",
    "destination_extension": 1197,
    "disable_dial_timegroup": "146979fe-3864-4817-ad76-13b37f43bb1c",
    "random_assignment_number": 0,
    "caller_line_id": "83f180c4-00f3-4aaa-bc41-6cba4493e892",
    "call_pause_second": 10,
    "_originate_timeout": 60,
    "customer_service_id": 21,
    "auto_recycle_rule_id": 103,
    "_origination_caller_id_number": "13530525008",
    "dial_format": "user/admin",
    "call_notify_url": "http://127.0.0.1:81/api/hangup_notify",
    "call_notify_type": 2,
    "uuid": "02f5bb4a-8a09-4eae-8969-6c2a3732f774",
    "user_id": "4d99d91c-f5d9-49da-88da-758977cc58a9",
    "create_datetime": "2020-03-06 22:38:02",
    "start_str": "暂停",
    "group_str": "测试",
    "progress_bar": {"total": 0, "progress": 0, "percent": 0},
    "group": _GROUP,
}

LIST_ITEM = {
    "uuid": "dfc36b34-b398-4f6b-b263-cd64c53e5185",
    "name": "测试任务",
    "create_datetime": "2019-05-07 15:15:40",
    "alter_datetime": "2019-05-17 10:58:58",
    "start": 0,
    "maximumcall": 1,
    "call_per_second": 10,
    "recycle_limit": 1,
    "random_assignment_number": 0,
    "disable_dial_timegroup": "146979fe-3864-4817-ad76-13b37f43bb1c",
    "destination_extension": 447,
    "destination_dialplan": "XML",
    "destination_context": "default",
    "scheduling_policy_ratio": None,
    "scheduling_queue": None,
    "dial_format": "user/admin",
    "domain": None,
    "remark": None,
    "sort": 1,
    "originate_variables": "{execute_on_media=start_da2}",
    "_originate_timeout": 60,
    "_origination_caller_id_number": "13530525008",
    "user_id": "4d99d91c-f5d9-49da-88da-758977cc58a9",
    "caller_line_id": "37d73edf-4628-4cf1-8beb-758433fd0aab",
    "customer_service_id": None,
    "auto_recycle_rule_id": 103,
    "call_notify_url": "http://127.0.0.1:81/api/hangup_notify",
    "call_notify_type": 2,
    "call_pause_second": 10,
    "start_str": "暂停",
    "group_str": "test",
    "progress_bar": {"total": 2, "progress": 2, "percent": 100},
    "caller_line": {
        "id": "af69c544-a170-4a2d-b740-20bf66cc7ff4",
        "name": "南京-云蝠智能-17361984317",
        "user_id": "4d99d91c-f5d9-49da-88da-758977cc58a9",
        "description": None,
        "deadline_at": "2020-11-20 00:00:00",
        "available_time": 31536000,
        "begin_at": "2020-02-28 22:23:24",
        "call_line": 1,
        "call_line_used": 1,
        "call_number_prefix": "17361984317",
        "is_call_number_enable": 1,
        "is_call_number_prefix_editable": 0,
        "dial_string": "user/admin",
        "dial_string_mode": 1,
        "db_public_id": None,
        "db_private_id": None,
        "node_ip": "59.111.104.155",
        "node_status": "1",
        "created_at": "2020-02-28 22:24:48",
        "updated_at": "2020-03-04 20:51:03",
        "feature": 7,
    },
    "auto_recycle_rule": {
        "id": 103,
        "user_id": "4d99d91c-f5d9-49da-88da-758977cc58a9",
        "name": "默认",
        "remark": "默认",
        "status": True,
        "created_at": "2020-02-13 10:35:05",
        "updated_at": "2020-02-13 10:35:05",
        "is_default": True,
    },
    "disable_time_group": {
        "uuid": "cf44b8fc-a60f-499e-a5c8-5340963a56a3",
        "name": "午休时间",
        "domain": "",
        "user_id": "4d99d91c-f5d9-49da-88da-758977cc58a9",
        "created_at": None,
        "updated_at": None,
    },
    "group": {
        "id": 447,
        "name": "test",
        "user_id": "4d99d91c-f5d9-49da-88da-758977cc58a9",
        "debug": True,
        "deleted_at": None,
        "created_at": "2019-03-17 13:14:55",
        "updated_at": "2019-03-17 13:14:55",
        "default": False,
    },
}


def shape_problems(actual: Any, example: Any, path: str = "$") -> list[str]:
    """Where ``actual`` lacks a field of ``example`` or has another JSON type (a null in the
    example allows any value; a list's items are held to its first example item)."""
    if example is None:
        return []
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        problems = [f"{path}.{k}: missing" for k in example if k not in actual]
        for key, value in example.items():
            if key in actual:
                problems += shape_problems(actual[key], value, f"{path}.{key}")
        return problems
    if isinstance(example, list):
        if not isinstance(actual, list) or (example and not actual):
            return [f"{path}: expected a non-empty array, got {actual!r}"]
        return [
            p
            for i, item in enumerate(actual)
            for p in shape_problems(item, example[0], f"{path}[{i}]")
        ]
    if type(actual) is not type(example):
        return [f"{path}: expected {type(example).__name__}, got {actual!r}"]
    return []
