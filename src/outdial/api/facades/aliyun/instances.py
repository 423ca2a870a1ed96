"""The instance (the tenant), its scripts and its outbound numbers (the lines' caller
numbers)."""

from __future__ import annotations

from typing import Any

from outdial.api.facades.aliyun.call import Call, action
from outdial.api.facades.aliyun.strategy import ms
from outdial.services.common import PageRequest

ALL = PageRequest(1, 500)


def instance_out(call: Call) -> dict[str, Any]:
    tenant = call.services.tenants.get(call.tenant.id)
    lines = call.services.lines.list(call.tenant, ALL, {}).items
    return {
        "InstanceId": tenant["uuid"],
        "InstanceName": tenant["name"],
        "InstanceDescription": "",
        "CreationTime": ms(tenant["created_at"]),
        "CreatorId": tenant["id"],
        "CreatorName": tenant["name"],
        "OwnerName": tenant["name"],
        "MaxConcurrentConversation": sum(ln["channels"] for ln in lines if ln["enabled"]),
        "IsPreset": False,
        "ResourceGroupId": "",
        "ResourceTags": [],
    }


@action("ListInstances")
def list_instances(call: Call) -> dict[str, Any]:
    """The caller's one instance (an AccessKey belongs to one tenant); Name filters it."""
    number, size = call.params.page(required=False)
    instance = instance_out(call)
    name = call.params.text("Name")
    listed = [instance] if not name or name in instance["InstanceName"] else []
    return {
        "Instances": listed[(number - 1) * size : number * size],
        "PageNumber": number,
        "PageSize": size,
        "TotalCount": len(listed),
    }


@action("DescribeInstance")
def describe_instance(call: Call) -> dict[str, Any]:
    call.instance()
    out = instance_out(call)
    for key in ("IsPreset", "ResourceTags"):
        out.pop(key)
    return {"Instance": out}


@action("ListScripts")
def list_scripts(call: Call) -> dict[str, Any]:
    call.instance()
    number, size = call.params.page()
    filters = {"q": name} if (name := call.params.text("ScriptName")) else {}
    page = call.services.scripts.list(call.tenant, PageRequest(number, size), filters)
    return {
        "Scripts": {
            "List": [_script(s) for s in page.items],
            "PageNumber": number,
            "PageSize": size,
            "TotalCount": page.total,
        }
    }


def _script(script: dict[str, Any]) -> dict[str, Any]:
    return {
        "ScriptId": script["uuid"],
        "ScriptName": script["name"],
        "ScriptDescription": script["description"],
        "Status": "PUBLISHED" if script["enabled"] else "INITIAL",
        "DebugStatus": "PUBLISHED" if script["debug"] else "INITIAL",
        "Industry": "",
        "Scene": "",
        "IsDrafted": False,
        "IsDebugDrafted": False,
        "IsPreset": False,
        "CreateTime": ms(script["created_at"]),
        "UpdateTime": ms(script["updated_at"]),
        "ChatBotId": script["extension"],
    }


@action("ListOutboundCallNumbers")
def list_outbound_call_numbers(call: Call) -> dict[str, Any]:
    """Every caller number of the tenant's lines; its id is the line's uuid and the number."""
    call.instance()
    number, size = call.params.page()
    lines = call.services.lines.list(call.tenant, ALL, {}).items
    numbers = [
        {
            "OutboundCallNumberId": f"{line['uuid']}/{n['number']}",
            "Number": n["number"],
            "RateLimitCount": str(line["channels"]),
            "RateLimitPeriod": "",
        }
        for line in lines
        for n in line["caller_numbers"]
    ]
    return {
        "OutboundCallNumbers": {
            "List": numbers[(number - 1) * size : number * size],
            "PageNumber": number,
            "PageSize": size,
            "TotalCount": len(numbers),
        }
    }
