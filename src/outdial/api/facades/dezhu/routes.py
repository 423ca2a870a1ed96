"""The 得助 ``/speech/openapi/v1/task/outbound/…`` endpoints over the services the native API
uses. Every reply is HTTP 200 with ``{"code", "message", "data"}``."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ValidationError

from outdial.api.facades.dezhu import auth
from outdial.api.facades.dezhu.errors import (
    BAD_PARAMETER,
    OK,
    DezhuError,
    bad_parameter,
    chinese_errors,
    envelope,
)
from outdial.api.facades.dezhu.models import (
    CustomerAppend,
    TaskCreate,
    TaskEdit,
    TaskRef,
    assignments,
    campaign_fields,
    contact_row,
    vendor_data,
)
from outdial.api.facades.dezhu.present import (
    number_group,
    phone_groups,
    skill_set,
    task_info,
    task_settings,
)
from outdial.domain import limits
from outdial.services.common import PageRequest, Tenant
from outdial.services.container import Services
from outdial.services.dezhu import TaskFilter

router = APIRouter(prefix="/task/outbound", tags=["得助 outbound tasks"])
PAGE_SIZE_DEFAULT = 20
TASK_TYPES = {0: None, 1: "auto", 2: "manual"}
M = TypeVar("M", bound=BaseModel)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def tenant_of(request: Request) -> Tenant:
    services = services_of(request)
    policy = request.app.state.sign_policy
    return auth.authenticate(services.credentials, request.headers, services.clock.now(), policy)


async def body_of(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise DezhuError(BAD_PARAMETER, "请求体不是合法的 JSON") from exc


Auth = Depends(tenant_of)  # declared before Body in each route: a request is authenticated first
Body = Depends(body_of)


def parsed(model: type[M], body: Any) -> M:
    if not isinstance(body, dict):
        raise bad_parameter("body", "请求体必须是 JSON 对象", "dict_type")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise DezhuError(BAD_PARAMETER, details=chinese_errors(exc)) from exc


def ok(data: Any = None) -> dict[str, Any]:
    return envelope(OK, data=data)


# --- tasks ------------------------------------------------------------------------------------


@router.post("/create")
def create_task(request: Request, tenant: Tenant = Auth, body: Any = Body) -> Any:
    """创建外呼任务 (seed 001): ``data`` is the task id."""
    task = parsed(TaskCreate, body)
    rows = [contact_row(c) for c in task.outBoundCustomers]
    row = services_of(request).dezhu.create(
        tenant, campaign_fields(task, tenant.timezone), vendor_data(task), rows
    )
    return ok(row["id"])


@router.post("/edit")
def edit_task(request: Request, tenant: Tenant = Auth, body: Any = Body) -> Any:
    """编辑外呼任务: taskId and the create fields (those left out keep their value)."""
    services = services_of(request)
    ref = parsed(TaskRef, _only_task_id(body))
    view = services.dezhu.task(tenant, ref.taskId)
    known = {k: v for k, v in task_settings(view.campaign).items() if v is not None}
    task = parsed(TaskEdit, {**known, **body})
    fields = _changed(task, known, view.campaign["timezone"])
    services.dezhu.edit(tenant, ref.taskId, fields, vendor_data(task))
    return ok()


@router.get("/page")
def page_tasks(request: Request, tenant: Tenant = Auth) -> Any:
    """查询任务列表 (seed 003): ``{total, list: [TaskInfo]}``."""
    params = _page_params(request)
    page = PageRequest(
        _number(params, ("pageNum", "pageNumber"), 1, 1, 2**31),
        _number(params, ("pageSize",), PAGE_SIZE_DEFAULT, 1, limits.PAGE_SIZE_MAX),
    )
    status = _number(params, ("taskStatus",), 0, 1, 6)
    group = _number(params, ("skillsetId", "skillSetId"), 0, 1, 2**62)
    where = TaskFilter(
        name=params.get("query") or None,
        kind=TASK_TYPES[_number(params, ("taskType",), 0, 0, 2)],
        status=status or None,
        skill_group_id=group or None,
    )
    views, total = services_of(request).dezhu.tasks(tenant, page, where)
    return ok({"total": total, "list": [task_info(v) for v in views]})


@router.post("/start")
def start_task(request: Request, tenant: Tenant = Auth, body: Any = Body) -> Any:
    """启动任务 (outdial's path, after V2's ``/task/start``): start or resume."""
    services_of(request).dezhu.start(tenant, parsed(TaskRef, body).taskId)
    return ok()


@router.post("/pause")
def pause_task(request: Request, tenant: Tenant = Auth, body: Any = Body) -> Any:
    """暂停任务."""
    services_of(request).dezhu.pause(tenant, parsed(TaskRef, body).taskId)
    return ok()


# --- customers and phone batches -------------------------------------------------------------


@router.post("/customer/append")
def append_customers(request: Request, tenant: Tenant = Auth, body: Any = Body) -> Any:
    """追加外呼名单: up to 1,000 a call, 20,000 a task; all or none are added."""
    data = parsed(CustomerAppend, body)
    rows = [contact_row(c) for c in data.outBoundCustomers]
    agents = assignments(data.taskAgents) if data.taskAgents else None
    report = services_of(request).dezhu.append(tenant, data.taskId, rows, agents)
    return ok(report["accepted"])


@router.get("/getPhoneGroups")
def get_phone_groups(request: Request, tenant: Tenant = Auth) -> Any:
    """号码批次: the task's phone batches."""
    task_id = _number(request.query_params, ("taskId",), 0, 1, 2**62)
    if not task_id:
        raise bad_parameter("taskId", "必填", "missing")
    view = services_of(request).dezhu.task(tenant, task_id)
    return ok(phone_groups(view.campaign))


@router.get("/getSkillSets")
def get_skill_sets(request: Request, tenant: Tenant = Auth) -> Any:
    """呼出技能组 (outdial's path): the skill groups a task's skillSetId chooses from."""
    rows = services_of(request).skill_groups.list(tenant, PageRequest(1, limits.PAGE_SIZE_MAX), {})
    return ok([skill_set(g) for g in rows.items])


@router.get("/getNumberGroups")
def get_number_groups(request: Request, tenant: Tenant = Auth) -> Any:
    """外呼号码组 (outdial's path): the number groups (on a line) outboundNumberGroupId names."""
    rows = services_of(request).number_groups.list(tenant, PageRequest(1, limits.PAGE_SIZE_MAX), {})
    return ok([number_group(g) for g in rows.items if g["line_id"] is not None])


# --- parameters -------------------------------------------------------------------------------


def _changed(task: TaskEdit, known: dict[str, Any], zone: str) -> dict[str, Any]:
    """The campaign fields the edit changes. What 得助 cannot say exactly (a ratio of 1.5, a
    window to 24:00, a native period) stays as it is unless the edit changes it."""
    fields = campaign_fields(task, zone)
    try:
        before = campaign_fields(TaskEdit.model_validate({**known, "taskId": task.taskId}), zone)
    except ValidationError:
        return fields  # the task as it is breaks a 得助 rule: the edit sets every field
    return {k: v for k, v in fields.items() if before.get(k) != v}


def _only_task_id(body: Any) -> Any:
    return {"taskId": body.get("taskId")} if isinstance(body, dict) else body


def _page_params(request: Request) -> dict[str, str]:
    """The query; seed 003's example sends ``pageNumber`` and ``pageSize`` among its header
    lines, so those two are read from headers too when the query lacks them."""
    params = dict(request.query_params)
    for name in ("pageNum", "pageNumber", "pageSize"):
        if name not in params and (value := request.headers.get(name)):
            params[name] = value
    return params


def _number(params: Any, names: tuple[str, ...], default: int, low: int, high: int) -> int:
    name = next((n for n in names if params.get(n) not in (None, "")), None)
    if name is None:
        return default
    raw = params[name]
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_parameter(name, f"必须是整数, 收到 {raw!r}", "int_parsing") from exc
    if not low <= value <= high:
        raise bad_parameter(name, f"范围 {low} 至 {high}", "range")
    return value
