"""The 得助 request bodies (seeds 001 and 003 and the pages the reference cites), validated in
得助's own names and ranges, and their translation into outdial's campaign and contact fields.
Every range of seed 001 is here; what the seed leaves open (upper bounds, lengths it does not
give) is outdial's and says so in docs/reference/dezhu.md."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from outdial.domain import limits

AUTO, MANUAL = 1, 2
RATIO, PREDICTIVE = 0, 1
TASK_NAME_MAX = 50
CUSTOMERS_PER_CALL = limits.CONTACTS_PER_REQUEST  # 1,000: 单次可添加1000个名单
CUSTOMERS_PER_TASK = 20_000  # 可追加到2万
RINGING_DEFAULT, RINGING_MIN, RINGING_MAX = 45, 20, 50
ACW_DEFAULT, ACW_MIN, ACW_MAX = 10, 1, 180
INTERVAL_MIN, INTERVAL_MAX = 5, 2880  # minutes
TIMES_MIN, TIMES_MAX = 1, 3
MULTIPLY_POWER_MAX = 100  # outdial's: the seed says only 大于0
SELF = "本人"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$")
_ID = re.compile(r"^[1-9]\d{0,17}$")


def _text_of_number(value: Any) -> Any:
    """Ids typed as JSON numbers (``"skillSetId": 1462016331580064``) read as their digits."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _required(message: str = "必填") -> PydanticCustomError:
    return PydanticCustomError("missing", message)


Id = Annotated[str, BeforeValidator(_text_of_number)]
Text = Annotated[str, BeforeValidator(_text_of_number)]


class DezhuBody(BaseModel):
    """Java clients send every field of their DTO, unset ones as null, and may carry fields of
    newer versions: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")


class ExecTime(DezhuBody):
    """ExecTimeOpenDto: a daily window, ``HH:mm:ss`` to ``HH:mm:ss`` (start before end)."""

    taskExecTimeStartStr: str
    taskExecTimeEndStr: str

    @field_validator("taskExecTimeStartStr", "taskExecTimeEndStr")
    @classmethod
    def _clock(cls, v: str) -> str:
        if not _CLOCK.match(v):
            raise PydanticCustomError("time_format", "格式必须是 HH:mm:ss (00:00:00 至 23:59:59)")
        return v

    @field_validator("taskExecTimeEndStr")
    @classmethod
    def _after_start(cls, v: str, info: ValidationInfo) -> str:
        start = info.data.get("taskExecTimeStartStr")
        if start is not None and v <= start:
            raise PydanticCustomError(
                "time_order", "结束时间必须晚于开始时间 {start}", {"start": start}
            )
        return v


class PhoneGroupDto(DezhuBody):
    """号码批次 and its redial rule: with autoOutboundSwitch 1, interval (minutes) and times."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    identify: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    autoOutboundSwitch: Literal[0, 1] = 0
    autoOutboundInterval: int | None = Field(None, validate_default=True)
    autoOutboundTimes: int | None = Field(None, validate_default=True)

    @field_validator("autoOutboundInterval")
    @classmethod
    def _interval(cls, v: int | None, info: ValidationInfo) -> int | None:
        return _when_switched(v, info, INTERVAL_MIN, INTERVAL_MAX, "分钟")

    @field_validator("autoOutboundTimes")
    @classmethod
    def _times(cls, v: int | None, info: ValidationInfo) -> int | None:
        return _when_switched(v, info, TIMES_MIN, TIMES_MAX, "次")


def _when_switched(
    v: int | None, info: ValidationInfo, low: int, high: int, unit: str
) -> int | None:
    """Required, and within [low, high], when autoOutboundSwitch is 1; ignored otherwise."""
    if info.data.get("autoOutboundSwitch") != 1:
        return v
    if v is None:
        raise _required("自动重呼开启 (autoOutboundSwitch=1) 时必填")
    if not low <= v <= high:
        raise PydanticCustomError(
            "range", "范围 {low} 至 {high} {unit}", {"low": low, "high": high, "unit": unit}
        )
    return v


class Relation(DezhuBody):
    """PhoneRelationDto: a number and who it is (本人, 父亲 …)."""

    mobile: Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    relation: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = None


class PhoneGroupCustomer(DezhuBody):
    """PhoneGroupCustomerDto: the customer's numbers in one batch; the first is the customer's
    own (relation 本人 or none), three at most."""

    phoneGroupIdentify: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ]
    relations: list[Relation] = Field(min_length=1, max_length=limits.PHONES_PER_CONTACT)

    @field_validator("relations")
    @classmethod
    def _first_is_self(cls, v: list[Relation]) -> list[Relation]:
        if v and v[0].relation not in (None, "", SELF):
            raise PydanticCustomError(
                "first_relation", "第一个关系人必须为客户本人 (relation 为 本人), 收到 {got}",
                {"got": v[0].relation},
            )  # fmt: skip
        return v


class Customer(DezhuBody):
    """CustomerDto."""

    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=limits.CONTACT_NAME_MAX),
    ]
    desc: Annotated[str, StringConstraints(max_length=limits.CONTACT_DESC_MAX)] | None = None
    externalCustomerId: Annotated[
        Text,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=limits.CONTACT_EXTERNAL_ID_MAX
        ),
    ]
    externalData: (
        Annotated[str, StringConstraints(max_length=limits.CONTACT_PASS_THROUGH_MAX)] | None
    ) = None
    phoneGroupVoList: list[PhoneGroupCustomer] = Field(min_length=1, max_length=1)


class TaskAgent(DezhuBody):
    """SpeechTaskAgentOpenDto: an agent and how many customers they get."""

    agentId: int = Field(ge=1)
    assignNum: int = Field(ge=0, le=CUSTOMERS_PER_TASK)


class TaskFields(DezhuBody):
    """The task settings of create and edit (edit: also ``taskId``, no customers)."""

    taskName: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TASK_NAME_MAX)
    ]
    taskType: Literal[1, 2]
    taskExecStartDate: str
    taskExecEndDate: str
    taskExecTimes: list[ExecTime] | None = Field(
        None, max_length=limits.WINDOWS_PER_CAMPAIGN, validate_default=True
    )
    taskDesc: Annotated[str, StringConstraints(max_length=limits.DESCRIPTION_MAX)] | None = None
    skillSetId: Id
    outboundNumberGroupId: Id
    strategyDisplaySwitch: bool = False
    sendNumberStrategy: Literal[0, 1] | None = Field(None, validate_default=True)
    multiplyPower: int | None = Field(None, validate_default=True)
    abandonmentRate: int | None = Field(None, validate_default=True)
    maxRingingDuration: int = Field(RINGING_DEFAULT, ge=RINGING_MIN, le=RINGING_MAX)
    acw: int = Field(ACW_DEFAULT, ge=ACW_MIN, le=ACW_MAX)
    outboundPhoneGroups: list[PhoneGroupDto] = Field(min_length=1, max_length=1)
    taskAgents: list[TaskAgent] | None = Field(None, max_length=1000, validate_default=True)

    @field_validator("taskExecStartDate", "taskExecEndDate")
    @classmethod
    def _date(cls, v: str) -> str:
        if not _DATE.match(v):
            raise PydanticCustomError("date_format", "格式必须是 yyyy-MM-dd")
        try:
            date.fromisoformat(v)
        except ValueError as exc:
            raise PydanticCustomError("date_format", "不是有效的日期") from exc
        return v

    @field_validator("taskExecEndDate")
    @classmethod
    def _end_after_start(cls, v: str, info: ValidationInfo) -> str:
        start = info.data.get("taskExecStartDate")
        if start is not None and v < start:
            raise PydanticCustomError(
                "date_order", "不能早于任务开始时间 {start}", {"start": start}
            )
        return v

    @field_validator("taskExecTimes")
    @classmethod
    def _times_for_auto(
        cls, v: list[ExecTime] | None, info: ValidationInfo
    ) -> list[ExecTime] | None:
        if info.data.get("taskType") == AUTO and not v:
            raise _required("自动外呼任务必填, 至少一个时间段")
        return v

    @field_validator("skillSetId", "outboundNumberGroupId")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v.strip()):
            raise PydanticCustomError("id_format", "必须是数字 id, 收到 {got}", {"got": v})
        return v.strip()

    @field_validator("sendNumberStrategy")
    @classmethod
    def _strategy_for_auto(cls, v: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("taskType") == AUTO and v is None:
            raise _required("自动外呼任务必填 (0 按倍率值计算, 1 预测式外呼)")
        return v

    @field_validator("multiplyPower")
    @classmethod
    def _power(cls, v: int | None, info: ValidationInfo) -> int | None:
        return _for_strategy(v, info, RATIO, 1, MULTIPLY_POWER_MAX, "倍率值大于 0, 至多 {high}")

    @field_validator("abandonmentRate")
    @classmethod
    def _abandonment(cls, v: int | None, info: ValidationInfo) -> int | None:
        return _for_strategy(v, info, PREDICTIVE, 1, 5, "放弃率范围 {low} 至 {high}")

    @field_validator("taskAgents")
    @classmethod
    def _agents(cls, v: list[TaskAgent] | None, info: ValidationInfo) -> list[TaskAgent] | None:
        kind = info.data.get("taskType")
        if kind == MANUAL and not v:
            raise _required("手动外呼任务必填: 坐席及分配数量")
        if kind == AUTO and v:
            raise PydanticCustomError(
                "not_allowed", "自动外呼任务不分配坐席 (taskAgents 仅用于手动外呼)"
            )
        return v


def _for_strategy(
    v: int | None, info: ValidationInfo, strategy: int, low: int, high: int, message: str
) -> int | None:
    """Required with its strategy (the other strategy's value is kept if valid); in range."""
    chosen = info.data.get("sendNumberStrategy")
    if v is None:
        if chosen == strategy and info.data.get("taskType") == AUTO:
            raise _required(f"送号策略={strategy} 时必填")
        return v
    if not low <= v <= high:
        raise PydanticCustomError("range", message, {"low": low, "high": high})
    return v


class TaskCreate(TaskFields):
    """``POST …/create`` (seed 001)."""

    outBoundCustomers: list[Customer] = Field(max_length=CUSTOMERS_PER_CALL)


class TaskEdit(TaskFields):
    """``POST …/edit``: taskId and the create fields, minus the customers."""

    taskId: int = Field(ge=1)


class CustomerAppend(DezhuBody):
    """``POST …/customer/append``: more customers (and, for a manual task, who gets them)."""

    taskId: int = Field(ge=1)
    outBoundCustomers: list[Customer] = Field(min_length=1, max_length=CUSTOMERS_PER_CALL)
    taskAgents: list[TaskAgent] | None = Field(None, max_length=1000)


class TaskRef(DezhuBody):
    """``POST …/start`` and ``…/pause``: ``{taskId}``."""

    taskId: int = Field(ge=1)


# --- into outdial's names -------------------------------------------------------------------


def campaign_fields(task: TaskFields, zone: str) -> dict[str, Any]:
    """The native campaign fields of a 得助 task; ``line_id`` comes from the number group. The
    dates are whole local days in ``zone``: the period runs from the start date's midnight to
    the midnight after the end date."""
    auto = task.taskType == AUTO
    fields: dict[str, Any] = {
        "name": task.taskName,
        "description": task.taskDesc or "",
        "kind": "auto" if auto else "manual",
        "period_start": _midnight(task.taskExecStartDate, zone, 0),
        "period_end": _midnight(task.taskExecEndDate, zone, 1),
        "windows": [
            {"start": w.taskExecTimeStartStr, "end": w.taskExecTimeEndStr}
            for w in task.taskExecTimes or []
        ],
        "skill_group_id": int(task.skillSetId),
        "number_group_id": int(task.outboundNumberGroupId),
        "routing_strategy": "local_first" if task.strategyDisplaySwitch else "round_robin",
        "ring_timeout_seconds": task.maxRingingDuration,
        "acw_seconds": task.acw,
        "phone_groups": [phone_group(g) for g in task.outboundPhoneGroups],
        "agent_assignments": assignments(task.taskAgents or []),
    }
    if not auto:
        return fields | {"pacing_mode": "preview"}
    predictive = task.sendNumberStrategy == PREDICTIVE
    fields["pacing_mode"] = "predictive" if predictive else "ratio"
    if task.multiplyPower is not None:
        fields["ratio"] = float(task.multiplyPower)
    if task.abandonmentRate is not None:
        fields["abandon_target_percent"] = float(task.abandonmentRate)
    return fields


def vendor_data(task: TaskFields) -> dict[str, Any]:
    """What the task object echoes as sent (both strategy values, say), beside the campaign."""
    return {
        "sendNumberStrategy": task.sendNumberStrategy,
        "multiplyPower": task.multiplyPower,
        "abandonmentRate": task.abandonmentRate,
        "strategyDisplaySwitch": task.strategyDisplaySwitch,
    }


def phone_group(group: PhoneGroupDto) -> dict[str, Any]:
    on = group.autoOutboundSwitch == 1
    return {
        "identify": group.identify,
        "name": group.name,
        "redial_enabled": on,
        "redial_interval_seconds": (group.autoOutboundInterval or 0) * 60 if on else 0,
        "redial_times": (group.autoOutboundTimes or 0) if on else 0,
    }


def _midnight(day: str, zone: str, days_after: int) -> str:
    local = datetime.combine(date.fromisoformat(day) + timedelta(days=days_after), time())
    return local.replace(tzinfo=ZoneInfo(zone)).isoformat()


def contact_row(customer: Customer) -> dict[str, Any]:
    """A 得助 customer as a native contact: its batch's numbers, the first the customer's own."""
    [group] = customer.phoneGroupVoList
    return {
        "name": customer.name,
        "description": customer.desc or "",
        "external_id": customer.externalCustomerId,
        "pass_through": customer.externalData or "",
        "phones": [
            {
                "number": r.mobile,
                "relation": r.relation or (SELF if k == 0 else ""),
                "phone_group": group.phoneGroupIdentify,
            }
            for k, r in enumerate(group.relations)
        ],
    }


def assignments(task_agents: list[TaskAgent]) -> list[dict[str, int]]:
    return [{"agent_id": a.agentId, "assign_count": a.assignNum} for a in task_agents]
