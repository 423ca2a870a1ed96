"""The 云蝠 ``/v1/task`` endpoints of seed 002, over the services the native API uses."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import APIRouter, Depends, Request

from outdial.api.facades.yunfu.errors import YunfuError, vendor_message
from outdial.api.facades.yunfu.models import (
    ImportIn,
    TaskIn,
    campaign_fields,
    contact_row,
    import_body,
)
from outdial.api.facades.yunfu.present import Presenter, progress_bar
from outdial.domain import limits
from outdial.domain.errors import FieldError, Unauthenticated
from outdial.services.common import PageRequest, Tenant
from outdial.services.container import Services
from outdial.services.validation import failed, validate
from outdial.store.schema import blackout_calendars, lines

router = APIRouter(prefix="/task", tags=["云蝠 tasks"])
PER_PAGE_DEFAULT = 15


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def tenant_of(request: Request) -> Tenant:
    """``Authorization: Bearer <token>`` with one of the tenant's ``yunfu_token`` credentials."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Unauthenticated.")
    return services_of(request).credentials.tenant_for_token("yunfu_token", token.strip())


async def body_of(request: Request, _: Tenant = Depends(tenant_of)) -> Any:
    """The request body as JSON, or as a form (``application/x-www-form-urlencoded`` or
    multipart) the way a PHP client posts it; an empty body is an empty object. Read only
    once the caller is authenticated: a stranger's bad body is 401, not 400."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise YunfuError(400, "请求体不是合法的 JSON") from exc


Auth = Depends(tenant_of)
Body = Depends(body_of)


# --- the create form and the task settings ---------------------------------------------------


@router.get("/create")
def task_form(request: Request, tenant: Tenant = Auth) -> Any:
    """任务创建初始化: the lines (with their residue), groups and rules a task chooses from."""
    return {"meta": Presenter(tenant).form_meta(services_of(request).yunfu.form_meta(tenant))}


@router.post("")
def create_task(request: Request, body: Any = Body, tenant: Tenant = Auth) -> Any:
    """任务创建: the bare task object."""
    services = services_of(request)
    task = validate(TaskIn, body)
    view = services.yunfu.create(tenant, _resolved(services, tenant, task))
    return Presenter(tenant).task(view)


@router.put("/{task_id}")
def update_task(request: Request, task_id: str, body: Any = Body, tenant: Tenant = Auth) -> Any:
    """任务修改 (参数同创建任务): the body over the task as it is, checked as a create."""
    services = services_of(request)
    if not isinstance(body, dict):
        raise failed([FieldError("body", "必须是 JSON 对象", "dict_type")])
    presenter = Presenter(tenant)
    current = presenter.task(services.yunfu.task(tenant, task_id))
    known = {k: v for k, v in current.items() if v is not None}
    task = validate(TaskIn, {**known, **body})
    view = services.yunfu.update(tenant, task_id, _resolved(services, tenant, task))
    return presenter.task(view)


def _resolved(services: Services, tenant: Tenant, task: TaskIn) -> dict[str, Any]:
    """The task's campaign fields, its line and disable-dial group found by uuid."""
    line_id = services.yunfu.id_for_uuid(tenant, lines, task.caller_line_id)
    calendar_id = services.yunfu.id_for_uuid(
        tenant, blackout_calendars, task.disable_dial_timegroup
    )
    problems = []
    if line_id is None:
        message = f"线路 {task.caller_line_id} 不存在 (取 caller_line_list 的 value)"
        problems.append(FieldError("caller_line_id", message, "not_found"))
    if calendar_id is None:
        message = f"禁呼时间组 {task.disable_dial_timegroup} 不存在"
        problems.append(FieldError("disable_dial_timegroup", message, "not_found"))
    if problems:
        raise failed(problems)
    return campaign_fields(task, line_id, calendar_id)


# --- the list and the lifecycle ----------------------------------------------------------------


@router.get("")
def list_tasks(request: Request, tenant: Tenant = Auth) -> Any:
    """外呼任务列表: ``{"data": [...]}``, and the successor's pagination ``meta``."""
    params = request.query_params
    page = PageRequest(
        _int(params.get("page"), "page", 1),
        _int(params.get("per_page"), "per_page", PER_PAGE_DEFAULT),
    )
    views, total = services_of(request).yunfu.tasks(tenant, page, params.get("name"))
    presenter = Presenter(tenant)
    last = max(1, math.ceil(total / page.page_size))
    return {
        "data": [presenter.task(v) for v in views],
        "meta": {
            "has_pages": last > 1,
            "total": total,
            "last_page": last,
            "current_page": page.page,
            "per_page": str(page.page_size),
        },
    }


def _int(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise failed([FieldError(name, f"必须是整数, 收到 {raw!r}", "int_parsing")]) from exc
    if name == "per_page" and not 1 <= value <= limits.PAGE_SIZE_MAX:
        raise failed([FieldError(name, f"取值 1–{limits.PAGE_SIZE_MAX}", "range")])
    if value < 1:
        raise failed([FieldError(name, "从 1 开始", "range")])
    return value


@router.get("/destroy/{task_id}")
def destroy_task(request: Request, task_id: str, tenant: Tenant = Auth) -> Any:
    """任务的删除."""
    services_of(request).yunfu.destroy(tenant, task_id)
    return {"code": 200, "status": "success", "message": "删除任务成功", "data": []}


@router.get("/start/{task_id}")
def start_task(request: Request, task_id: str, tenant: Tenant = Auth) -> Any:
    """任务的启动: the task object, ``start`` 1."""
    return Presenter(tenant).task(services_of(request).yunfu.start(tenant, task_id))


@router.get("/stop/{task_id}")
def stop_task(request: Request, task_id: str, tenant: Tenant = Auth) -> Any:
    """任务暂停: the task object, ``start`` 0."""
    return Presenter(tenant).task(services_of(request).yunfu.stop(tenant, task_id))


@router.get("/progress/{task_id}")
def task_progress(request: Request, task_id: str, tenant: Tenant = Auth) -> Any:
    """任务拨打进度: ``{total, progress, percent}`` (the shape of ``progress_bar``)."""
    return progress_bar(services_of(request).yunfu.task(tenant, task_id))


# --- numbers -------------------------------------------------------------------------------------


@router.post("/import_task_customer/{task_id}")
def import_customers(
    request: Request, task_id: str, body: Any = Body, tenant: Tenant = Auth
) -> Any:
    """向任务里导入号码: up to 100 numbers; bad rows are reported (``skip_error`` false: the
    whole call is refused instead)."""
    data = validate(ImportIn, import_body(body))
    rows = [contact_row(r) for r in data.data]
    report = services_of(request).yunfu.import_contacts(
        tenant, task_id, rows, all_or_nothing=not data.skip_error
    )
    fail = [
        {
            "phone": _phone(data.data[r["index"]]),
            "reason": "; ".join(
                vendor_message(FieldError(e["field"], e["message"], e["type"])) for e in r["errors"]
            ),
        }
        for r in report["results"]
        if r["status"] == "rejected"
    ]
    return {
        "code": 200,
        "status": "success",
        "message": f"导入成功 {report['accepted']} 个, 失败 {len(fail)} 个",
        "data": {"success": report["accepted"], "fail": fail},
    }


def _phone(raw: Any) -> Any:
    return raw.get("phone") if isinstance(raw, dict) else raw
