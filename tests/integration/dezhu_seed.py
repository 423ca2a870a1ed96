"""Seeds 001 and 003's examples (得助 create and page), transcribed as the seeds give them.
Responses are compared by shape (tests.integration.yunfu_seed.shape_problems): every field the
seed shows, with the same JSON type."""

from __future__ import annotations

from typing import Any

SEED_HEADERS = {
    "sign": "fo1OWX+JnfeonAFSGau2gwP1GvFa+RTw5czoBWoz+k3AjV8scDl6JnvFRDj8Lgt1nQxLlmcOhIBN4j7pEE/"
    "NAzYjXUFSGo308f5V9dHBnmGLYsqKmgma4cQZLBqHp9T43IZfRX8Zh2/Hp2HOmfTgos/L8GN6YPA8fQ2d5tbtJZrr"
    "kBuwA/LEezjOJxSRRRCrcS1ZFVvTZ+cIjYeO4QdC5r5I67LLY/nLbFAFUdQsCzUIytO09vUCLGlKierNhPfCtMzTgZS"
    "E9dWO5zJ3L2uCsXM7Od6mPROVpddVafF+BueKjtbL10PwDc9f1eBpGTpgmbOy8Bbx3NIyCjDvhc9Mag==",
    "appId": "99845aaaaebd4d61acccc9b776208f12",
    "timestamp": "1586314097995",
}

CREATE_REQUEST: dict[str, Any] = {
    "taskName": "自动外呼任务名称",
    "taskType": 1,
    "taskExecStartDate": "2020-09-27",
    "taskExecEndDate": "2020-09-27",
    "taskExecTimes": [{"taskExecTimeStartStr": "11:36:00", "taskExecTimeEndStr": "12:35:00"}],
    "taskDesc": "自动外呼描述",
    "skillSetId": "1462016331580064",
    "outboundNumberGroupId": "1070678044124225",
    "strategyDisplaySwitch": 1,
    "sendNumberStrategy": 0,
    "abandonmentRate": 2,
    "multiplyPower": 2,
    "maxRingingDuration": 20,
    "acw": 10,
    "outboundPhoneGroups": [
        {
            "name": "外呼任务号码批次名称,如:本人、亲属、朋友",
            "identify": "default",
            "autoOutboundSwitch": 1,
            "autoOutboundInterval": 5,
            "autoOutboundTimes": 1,
        }
    ],
    "outBoundCustomers": [
        {
            "name": "客户名称",
            "desc": "客户描述",
            "externalCustomerId": "1",
            "externalData": "",
            "phoneGroupVoList": [
                {
                    "phoneGroupIdentify": "default",
                    "relations": [{"mobile": "13800000001", "relation": "本人"}],
                }
            ],
        }
    ],
}

CREATE_RESPONSE = {"code": "10000", "message": "请求成功", "data": 123}

PAGE_RESPONSE: dict[str, Any] = {
    "code": "10000",
    "message": "请求成功",
    "data": {
        "total": 1,
        "list": [
            {
                "taskId": 1618,
                "taskName": "autotest050",
                "taskType": 1,
                "taskStatus": 3,
                "taskExecStartDate": "2020-09-20",
                "taskExecEndDate": "2020-10-30",
                "taskExecTimes": [
                    {"taskExecTimeStartStr": "11:36:00", "taskExecTimeEndStr": "21:35:00"}
                ],
                "taskDesc": "自动外呼",
                "skillSetId": "1495152791910144",
                "outboundNumberGroupId": "1070678044124425",
                "strategyDisplaySwitch": True,
                "sendNumberStrategy": 0,
                "abandonmentRate": 1,
                "multiplyPower": 1,
                "maxRingingDuration": 20,
                "acw": 10,
                "taskAgents": None,
                "outboundPhoneGroups": [
                    {
                        "name": "1",
                        "identify": "default",
                        "autoOutboundSwitch": 1,
                        "autoOutboundInterval": 5,
                        "autoOutboundTimes": 1,
                    }
                ],
                "customerAmount": 10,
                "completedCount": 10,
                "connectedCount": 5,
                "connectPercentage": "50.00%",
                "taskProgress": "100.00%",
            }
        ],
    },
}

# Seed 003 lists these fields in its TaskInfo table without showing them in its example.
PAGE_TABLE_ONLY = {"skillSetName": "外呼技能组"}
