"""Input models shared by the native API and the vendor facades.

Every model forbids unknown fields. Output is the stored row plus derived fields; the
``*Out`` models describe it for OpenAPI. A PATCH merges into the stored input and is
validated again with the same model, so there is one set of rules per resource.
"""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from outdial.domain import limits
from outdial.domain.outcomes import Outcome
from outdial.domain.phones import is_caller_number, is_region_code
from outdial.domain.schedule import (
    PacingMode,
    RepeatBy,
    RoutingStrategy,
    check_timezone,
    parse_clock,
)
from outdial.domain.transfer import TransferFallback
from outdial.domain.webhooks import WebhookEvent
from outdial.telephony.freeswitch import config as fs_config
from outdial.telephony.sip import config as sip_config

NAME_LENGTH_MAX = 100
"""Names of tenants and catalogue resources (the columns are VARCHAR(100))."""

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_LENGTH_MAX)
]
Text = Annotated[str, StringConstraints(max_length=limits.DESCRIPTION_MAX)]
Ident = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
PositiveId = Annotated[int, Field(ge=1)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(extra="ignore", from_attributes=True)
    id: int
    uuid: str
    created_at: datetime
    updated_at: datetime


def _clock(value: str) -> str:
    # "24:00" and "24:00:00" (the end of the day) stay "24:00:00", so a stored window reads
    # back, and validates again on PATCH, unchanged; time.max would print as 23:59:59.
    parsed = parse_clock(value)
    return "24:00:00" if parsed == time.max else parsed.strftime("%H:%M:%S")


def _zone(value: str | None) -> str | None:
    return None if value is None else check_timezone(value)


def _item_error(
    model: str, index: int, value: Any, message: str, *inner: str | int
) -> ValidationError:
    """An error located at item ``index`` of the list a field validator checks, so the
    field path names the offending item (``rules[1]``, or ``phones[0].relation`` with
    ``inner``) rather than the whole list."""
    return _located(model, [((index, *inner), value, message)])


def _located(model: str, errors: list[tuple[tuple[str | int, ...], Any, str]]) -> ValidationError:
    """Errors at the given locations. Raised in a model validator, each names its own field
    (``token``) instead of the whole body; in a field validator, a place inside the field."""
    return ValidationError.from_exception_data(
        model,
        [
            # The message goes in as a context value, so braces in it are not a template.
            InitErrorDetails(
                type=PydanticCustomError("value_error", "{message}", {"message": message}),
                loc=loc,
                input=value,
            )
            for loc, value, message in errors
        ],
    )


# --- tenants and credentials ---------------------------------------------------------------


class TenantIn(Input):
    name: Name
    default_region: str = "CN"
    timezone: str = "Asia/Shanghai"
    max_contacts_per_campaign: int = Field(
        limits.DEFAULT_CONTACTS_PER_CAMPAIGN, ge=1, le=limits.MAX_CONTACTS_PER_CAMPAIGN
    )
    status: Literal["active", "disabled"] = "active"

    @field_validator("default_region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not is_region_code(v):
            raise ValueError(f"unknown region code {v!r}; use ISO 3166 alpha-2 such as CN")
        return v.upper()

    _tz = field_validator("timezone")(classmethod(lambda cls, v: _zone(v)))


class TenantOut(Output):
    name: str
    status: str
    default_region: str
    timezone: str
    max_contacts_per_campaign: int
    api_key: str | None = None


class CredentialKind(StrEnum):
    API_KEY = "api_key"
    ALIYUN_ACCESS_KEY = "aliyun_access_key"
    DEZHU_PUBLIC_KEY = "dezhu_public_key"
    YUNFU_TOKEN = "yunfu_token"


_SECRET_FIELDS = ("access_key_id", "access_key_secret", "app_id", "public_key", "token")
_FIELDS_FOR_KIND: dict[CredentialKind, frozenset[str]] = {
    CredentialKind.API_KEY: frozenset(),
    CredentialKind.ALIYUN_ACCESS_KEY: frozenset({"access_key_id", "access_key_secret"}),
    CredentialKind.DEZHU_PUBLIC_KEY: frozenset({"app_id", "public_key"}),
    CredentialKind.YUNFU_TOKEN: frozenset({"token"}),
}


class CredentialIn(Input):
    kind: Literal["api_key", "aliyun_access_key", "dezhu_public_key", "yunfu_token"]
    name: Annotated[str, StringConstraints(max_length=100)] = ""
    access_key_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{8,64}$")] | None = None
    access_key_secret: Annotated[str, StringConstraints(min_length=16, max_length=128)] | None = (
        None
    )
    app_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None
    public_key: Annotated[str, StringConstraints(min_length=1, max_length=20_000)] | None = None
    token: Annotated[str, StringConstraints(min_length=20, max_length=256)] | None = None

    @model_validator(mode="after")
    def _fields_for_kind(self) -> CredentialIn:
        """Each error names its own field (``token``, ``access_key_secret``), not the body."""
        if errors := self._kind_errors():
            raise _located("CredentialIn", errors)
        return self

    def _kind_errors(self) -> list[tuple[tuple[str | int, ...], Any, str]]:
        allowed = _FIELDS_FOR_KIND[CredentialKind(self.kind)]
        errors: list[tuple[tuple[str | int, ...], Any, str]] = [
            ((f,), getattr(self, f), f"not allowed for kind {self.kind}")
            for f in _SECRET_FIELDS
            if getattr(self, f) is not None and f not in allowed
        ]
        if self.kind == "dezhu_public_key" and self.public_key is None:
            errors.append((("public_key",), None, "required for kind dezhu_public_key"))
        if self.kind == "aliyun_access_key":
            pair = {
                "access_key_id": self.access_key_id,
                "access_key_secret": self.access_key_secret,
            }
            missing = [f for f, v in pair.items() if v is None]
            if len(missing) == 1:
                message = "give access_key_id and access_key_secret together, or neither"
                errors.append(((missing[0],), None, message))
        return errors


class ApiKeyIn(Input):
    name: Annotated[str, StringConstraints(max_length=100)] = "issued by the operator"


class CredentialRotateIn(Input):
    public_key: Annotated[str, StringConstraints(min_length=1, max_length=20_000)] | None = None


class CredentialOut(Output):
    tenant_id: int
    kind: str
    name: str
    key_id: str
    status: str
    public_key: str | None = None
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    secret: str | None = Field(None, description="Shown once, when created or rotated")


# --- lines and number groups ---------------------------------------------------------------


class CallerNumber(Input):
    number: Annotated[str, StringConstraints(strip_whitespace=True)]
    region: Annotated[str, StringConstraints(max_length=64)] = ""
    enabled: bool = True

    @field_validator("number")
    @classmethod
    def _number(cls, v: str) -> str:
        if not is_caller_number(v):
            raise ValueError("caller number must be 3–20 digits, optionally with a leading +")
        return v


class SimLineSettings(Input):
    """Simulated callees: rates per outcome (``answered_rate``, ``busy_rate`` …) and duration
    distributions (``talk``, ``ring_answer`` …), as in scenario files; ``speed`` > 1 plays calls
    faster than real time in ``outdial serve``."""

    seed: int | None = None
    speed: float = Field(1.0, ge=1.0, le=10_000)
    callees: dict[str, Any] = Field(default_factory=dict)

    @field_validator("callees")
    @classmethod
    def _callees(cls, v: dict[str, Any]) -> dict[str, Any]:
        from outdial.sim.callees import CalleeModel

        try:
            CalleeModel.from_mapping(v)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"invalid callee model: {exc}") from exc
        return v


def no_control_characters(v: str) -> str:
    """A credential that goes on a protocol line (SIP header, Event Socket ``auth``)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in v):
        raise ValueError("no control characters (line breaks, tabs)")
    return v


class FreeswitchNode(Input):
    """A FreeSWITCH Event Socket: its address and password (sealed at rest)."""

    host: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    port: int = Field(8021, ge=1, le=65535)
    password: Annotated[str, StringConstraints(min_length=1, max_length=255)] = "ClueCon"

    _password = field_validator("password")(no_control_characters)


class FreeswitchLineSettings(Input):
    """A line on FreeSWITCH: its nodes (Event Socket), the dial string of a callee (a template
    of ``{number}``, ``{digits}``, ``{national}``, ``{gateway}``) and channel variables set on
    every call (云蝠's originate_variables). See docs/telephony.md."""

    nodes: list[FreeswitchNode] = Field(min_length=1, max_length=32)
    gateway: Annotated[str, StringConstraints(max_length=100)] = ""
    dial_string: Annotated[str, StringConstraints(min_length=1, max_length=255)] = (
        fs_config.DEFAULT_DIAL_STRING
    )
    variables: dict[str, Annotated[str, StringConstraints(max_length=255)]] = Field(
        default_factory=dict, max_length=50
    )

    @field_validator("gateway")
    @classmethod
    def _gateway(cls, v: str) -> str:
        if any(c.isspace() or c in "{}/'\"" for c in v):
            raise ValueError("a gateway name has no spaces, braces, quotes or slashes")
        return v

    @field_validator("dial_string")
    @classmethod
    def _template(cls, v: str) -> str:
        problems = fs_config.template_problems(v)
        if problems:
            raise ValueError("; ".join(problems))
        return v

    @field_validator("variables")
    @classmethod
    def _variables(cls, v: dict[str, str]) -> dict[str, str]:
        errors: list[tuple[tuple[str | int, ...], Any, str]] = []
        for name, value in v.items():
            problem = fs_config.value_problem(value)
            if not fs_config.VARIABLE_NAME.match(name):
                errors.append(((name,), name, "a variable name is letters, digits, _ and ."))
            elif name.startswith("outdial_") or name == "origination_uuid":
                errors.append(((name,), name, f"{name} is set by outdial"))
            elif problem:
                errors.append(((name,), value, problem))
        if errors:
            raise _located("FreeswitchLineSettings", errors)
        return v

    @model_validator(mode="after")
    def _gateway_given(self) -> FreeswitchLineSettings:
        if "gateway" in fs_config.template_names(self.dial_string) and not self.gateway:
            raise _located(
                "FreeswitchLineSettings",
                [(("gateway",), "", "required: the dial string uses {gateway}")],
            )
        return self


class SipLineSettings(Input):
    """A line straight to a SIP trunk: where it is, how to reach it, who we say we are and
    the digest credentials it challenges for (the password is sealed at rest). See
    docs/telephony.md."""

    host: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    port: int = Field(5060, ge=1, le=65535)
    transport: Literal["udp", "tcp"] = "udp"
    username: Annotated[str, StringConstraints(max_length=100)] = ""
    password: Annotated[str, StringConstraints(max_length=255)] = ""
    from_user: Annotated[str, StringConstraints(max_length=64)] = ""
    from_domain: Annotated[str, StringConstraints(max_length=255)] = ""
    number_format: Literal["e164", "digits", "national"] = "e164"
    prefix: Annotated[str, StringConstraints(max_length=16)] = ""
    local_host: Annotated[str, StringConstraints(max_length=255)] = ""
    local_port: int = Field(0, ge=0, le=65535)
    max_call_seconds: int = Field(0, ge=0, le=86_400)
    t1_ms: int = Field(500, ge=50, le=5_000)

    @field_validator("host", "from_domain", "local_host")
    @classmethod
    def _host(cls, v: str) -> str:
        if v and not sip_config.HOST.match(v):
            raise ValueError("a host name or IP address (no scheme, user, port or spaces)")
        return v

    @field_validator("from_user", "prefix")
    @classmethod
    def _user_part(cls, v: str) -> str:
        if not sip_config.USER_PART.match(v):
            raise ValueError("only characters a SIP URI's user part allows (no spaces, @ or :)")
        return v

    _printable = field_validator("username", "password")(no_control_characters)

    @model_validator(mode="after")
    def _credentials(self) -> SipLineSettings:
        if self.password and not self.username:
            raise _located(
                "SipLineSettings",
                [(("username",), "", "required: a password is given")],
            )
        return self


LINE_SETTINGS: dict[str, type[Input]] = {
    "sim": SimLineSettings,
    "freeswitch": FreeswitchLineSettings,
    "sip": SipLineSettings,
}


class LineIn(Input):
    name: Name
    description: Text = ""
    driver: Literal["sim", "freeswitch", "sip"] = "sim"
    channels: int = Field(ge=1, le=limits.CHANNELS_MAX)
    caller_numbers: list[CallerNumber] = Field(
        default_factory=list, max_length=limits.CALLER_NUMBERS_MAX
    )
    settings: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    expires_at: AwareDatetime | None = None

    @field_validator("caller_numbers")
    @classmethod
    def _unique_numbers(cls, v: list[CallerNumber]) -> list[CallerNumber]:
        seen: set[str] = set()
        for i, n in enumerate(v):
            if n.number in seen:
                raise _item_error("LineIn", i, n.number, f"caller number {n.number} is repeated")
            seen.add(n.number)
        return v


class LineOut(Output, LineIn):
    model_config = ConfigDict(extra="ignore")
    in_use: int = Field(0, description="Calls in progress on this line now")


class NumberGroupIn(Input):
    name: Name
    description: Text = ""
    line_id: PositiveId | None = None
    numbers: list[Annotated[str, StringConstraints(strip_whitespace=True)]] = Field(
        default_factory=list, max_length=limits.CALLER_NUMBERS_MAX
    )

    @field_validator("numbers")
    @classmethod
    def _numbers(cls, v: list[str]) -> list[str]:
        for i, n in enumerate(v):
            if not is_caller_number(n):
                raise _item_error("NumberGroupIn", i, n, f"{n!r} is not a caller number")
            if n in v[:i]:
                raise _item_error("NumberGroupIn", i, n, f"number {n} is repeated")
        return v


class NumberGroupOut(Output, NumberGroupIn):
    model_config = ConfigDict(extra="ignore")


# --- skill groups, agents, scripts ---------------------------------------------------------


class SkillGroupIn(Input):
    name: Name
    description: Text = ""
    line_id: PositiveId | None = None
    enabled: bool = True


class SkillGroupOut(Output, SkillGroupIn):
    model_config = ConfigDict(extra="ignore")


class AgentIn(Input):
    name: Name
    external_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    endpoint: Annotated[str, StringConstraints(max_length=255)] = ""
    skill_group_ids: list[PositiveId] = Field(default_factory=list, max_length=100)

    @field_validator("skill_group_ids")
    @classmethod
    def _unique(cls, v: list[int]) -> list[int]:
        for i, sg in enumerate(v):
            if sg in v[:i]:
                raise _item_error("AgentIn", i, sg, f"skill group {sg} is repeated")
        return v


class AgentOut(Output, AgentIn):
    model_config = ConfigDict(extra="ignore")
    state: str
    state_changed_at: datetime


class ScriptIn(Input):
    name: Name
    description: Text = ""
    extension: Annotated[str, StringConstraints(max_length=64)] = ""
    dialplan: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "XML"
    context: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "default"
    transfer_skill_group_id: PositiveId | None = Field(
        default=None, description="robot then human: the skill group a handed-off call goes to"
    )
    transfer_fallback: TransferFallback = Field(
        default=TransferFallback.CONTINUE,
        description="no agent free for a hand-off: continue the script, or hang up",
    )
    transfer_wait_seconds: int = Field(
        default=0, ge=0, le=120, description="how long a handed-off caller waits for an agent"
    )
    debug: bool = False
    enabled: bool = True


class ScriptOut(Output, ScriptIn):
    model_config = ConfigDict(extra="ignore")


# --- blackout calendars and redial policies ------------------------------------------------


class WeeklyRange(Input):
    days: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        min_length=1, max_length=7, description="ISO weekdays: 1 Monday … 7 Sunday"
    )
    start: str = Field(description="HH:MM or HH:MM:SS")
    end: str = Field(description="HH:MM or HH:MM:SS; earlier than start means past midnight")

    _clock = field_validator("start", "end")(classmethod(lambda cls, v: _clock(v)))

    @model_validator(mode="after")
    def _not_empty(self) -> WeeklyRange:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        if len(self.days) != len(set(self.days)):
            raise ValueError("days must be unique")
        return self


class DatedRange(Input):
    start: datetime = Field(description="Local date-time (no offset) in the calendar's zone")
    end: datetime
    label: Annotated[str, StringConstraints(max_length=100)] = ""

    @model_validator(mode="after")
    def _ordered(self) -> DatedRange:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("give local date-times without an offset; the zone is the calendar's")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class BlackoutCalendarIn(Input):
    name: Name
    description: Text = ""
    timezone: str | None = Field(None, description="IANA zone; default: the campaign's")
    weekly: list[WeeklyRange] = Field(default_factory=list, max_length=100)
    dated: list[DatedRange] = Field(default_factory=list, max_length=1000)

    _tz = field_validator("timezone")(classmethod(lambda cls, v: _zone(v)))


class BlackoutCalendarOut(Output, BlackoutCalendarIn):
    model_config = ConfigDict(extra="ignore")


class RedialRule(Input):
    outcomes: list[Outcome] = Field(min_length=1)
    interval_seconds: int = Field(ge=0, le=limits.REDIAL_INTERVAL_MAX_SECONDS)
    max_times: int = Field(ge=0, le=limits.REDIAL_TIMES_MAX)

    @field_validator("outcomes")
    @classmethod
    def _each_once(cls, v: list[Outcome]) -> list[Outcome]:
        for j, outcome in enumerate(v):
            if outcome in v[:j]:
                message = f"outcome {outcome.value} is repeated in this rule"
                raise _item_error("RedialRule", j, outcome.value, message)
        return v


class RedialPolicyIn(Input):
    name: Name
    description: Text = ""
    enabled: bool = True
    is_default: bool = False
    rules: list[RedialRule] = Field(default_factory=list, max_length=len(Outcome))
    skip_invalid_number: bool = True
    skip_suspended: bool = False
    skip_in_arrears: bool = False

    @field_validator("rules")
    @classmethod
    def _each_outcome_once(cls, rules: list[RedialRule]) -> list[RedialRule]:
        seen: set[Outcome] = set()
        for i, rule in enumerate(rules):
            if twice := seen & set(rule.outcomes):
                message = f"outcome {sorted(twice)[0]} appears in more than one rule"
                raise _item_error("RedialPolicyIn", i, rule.model_dump(mode="json"), message)
            seen |= set(rule.outcomes)
        return rules


class RedialPolicyOut(Output, RedialPolicyIn):
    model_config = ConfigDict(extra="ignore")


# --- DNC ------------------------------------------------------------------------------------


class DncIn(Input):
    number: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    reason: Annotated[str, StringConstraints(max_length=200)] = ""
    source: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "api"
    expires_at: AwareDatetime | None = None


Mapping = dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], str]


class ContactImportIn(Input):
    """Options of a contact file import; the file itself comes as the upload."""

    mapping: Mapping | None = Field(
        None,
        description="Header (or 1-based column number) → role: name, phone, relation, "
        "external_id, description, pass_through, timezone, attribute, skip",
        max_length=200,
    )


class DncImportIn(Input):
    """Options of a do-not-call file upload; the file itself comes as the upload."""

    mapping: Mapping | None = Field(None, max_length=200)
    reason: Annotated[str, StringConstraints(max_length=200)] = ""
    source: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "upload"
    expires_at: AwareDatetime | None = None


class ExportIn(Input):
    subject: Literal["contacts", "attempts"] = Field(
        "contacts", description="contacts with their final outcome, or every attempt (the ledger)"
    )
    format: Literal["csv", "xlsx"] = "csv"
    language: Literal["en", "zh"] = Field("en", description="the header row's language")


class JobOut(BaseModel):
    id: int
    uuid: str
    tenant_id: int | None
    campaign_id: int | None
    kind: str
    state: str
    file_name: str
    params: dict[str, Any]
    progress: dict[str, Any]
    result: dict[str, Any]
    error: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    report_url: str | None = Field(None, description="import jobs: the row-level report (CSV)")
    download_url: str | None = Field(
        None, description="finished exports: a signed link, valid for a day, no key needed"
    )


class DncOut(BaseModel):
    id: int
    tenant_id: int | None
    number: str
    reason: str
    source: str
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


# --- campaigns -----------------------------------------------------------------------------


class Window(Input):
    start: str = Field(description="HH:MM or HH:MM:SS")
    end: str = Field(description="HH:MM or HH:MM:SS; earlier than start means past midnight")

    _clock = field_validator("start", "end")(classmethod(lambda cls, v: _clock(v)))

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class PhoneGroup(Input):
    identify: Ident
    name: Name
    redial_enabled: bool = False
    redial_interval_seconds: int = Field(0, ge=0, le=limits.REDIAL_INTERVAL_MAX_SECONDS)
    redial_times: int = Field(0, ge=0, le=limits.REDIAL_TIMES_MAX)


class RecallSkip(Input):
    invalid_number: bool = False
    suspended: bool = False
    in_arrears: bool = False


class AgentAssignment(Input):
    agent_id: PositiveId
    assign_count: int | None = Field(
        None,
        ge=0,
        le=limits.MAX_CONTACTS_PER_CAMPAIGN,
        description="contacts the agent gets in all (得助 assignNum); none: a share of the rest",
    )


def _default_phone_groups() -> list[PhoneGroup]:
    return [PhoneGroup(identify="default", name="default")]


class CampaignIn(Input):
    name: Name
    description: Text = ""
    kind: Literal["auto", "manual"] = "auto"
    period_start: AwareDatetime | None = None
    period_end: AwareDatetime | None = None
    windows: list[Window] = Field(
        default_factory=list,
        max_length=limits.WINDOWS_PER_CAMPAIGN,
        description="Daily calling windows in local time; none means all day",
    )
    repeat_by: RepeatBy = RepeatBy.DAY
    repeat_days: list[int] = Field(default_factory=list, max_length=31, validate_default=True)
    timezone: str | None = Field(None, description="IANA zone; default: the tenant's")
    use_contact_timezone: bool = False
    blackout_calendar_id: PositiveId | None = None
    line_id: PositiveId | None = None
    number_group_id: PositiveId | None = None
    caller_numbers: list[str] = Field(default_factory=list, max_length=limits.CALLER_NUMBERS_MAX)
    routing_strategy: RoutingStrategy = RoutingStrategy.ROUND_ROBIN
    skill_group_id: PositiveId | None = None
    script_id: PositiveId | None = None
    redial_policy_id: PositiveId | None = None
    pacing_mode: PacingMode = Field(PacingMode.AGENTLESS, validate_default=True)
    ratio: float = Field(1.0, gt=0, le=100)
    abandon_target_percent: float = Field(
        3.0, ge=limits.ABANDON_TARGET_MIN, le=limits.ABANDON_TARGET_MAX
    )
    max_concurrency: int = Field(10, ge=1, le=limits.CHANNELS_MAX)
    call_gap_seconds: float = Field(0, ge=0, le=3600)
    ring_timeout_seconds: int = Field(30, ge=limits.RING_TIMEOUT_MIN, le=limits.RING_TIMEOUT_MAX)
    acw_seconds: int = Field(10, ge=limits.ACW_MIN, le=limits.ACW_MAX)
    max_attempts_per_day: int | None = Field(None, ge=1, le=1000)
    min_attempt_interval_seconds: int = Field(0, ge=0, le=limits.REDIAL_INTERVAL_MAX_SECONDS)
    recall_skip: RecallSkip = Field(default_factory=RecallSkip)
    phone_groups: list[PhoneGroup] = Field(
        default_factory=_default_phone_groups, min_length=1, max_length=10
    )
    agent_assignments: list[AgentAssignment] = Field(default_factory=list, max_length=1000)
    priority: int = Field(50, ge=0, le=100)
    webhook_url: AnyHttpUrl | None = None
    webhook_type: Literal["answered", "all"] = "all"
    external_id: Annotated[str, StringConstraints(max_length=64)] | None = None

    _tz = field_validator("timezone")(classmethod(lambda cls, v: _zone(v)))

    @field_validator("caller_numbers")
    @classmethod
    def _caller_numbers(cls, v: list[str]) -> list[str]:
        for n in v:
            if not is_caller_number(n):
                raise ValueError(f"{n!r} is not a caller number")
        if len(v) != len(set(v)):
            raise ValueError("caller numbers must be unique")
        return v

    @field_validator("phone_groups")
    @classmethod
    def _unique_groups(cls, v: list[PhoneGroup]) -> list[PhoneGroup]:
        keys = [g.identify for g in v]
        if len(keys) != len(set(keys)):
            raise ValueError("phone group identify values must be unique")
        return v

    @field_validator("agent_assignments")
    @classmethod
    def _agents_once(cls, v: list[AgentAssignment]) -> list[AgentAssignment]:
        for i, a in enumerate(v):
            if any(b.agent_id == a.agent_id for b in v[:i]):
                message = f"agent {a.agent_id} is assigned twice"
                raise _item_error("CampaignIn", i, a.agent_id, message, "agent_id")
        return v

    # Cross-field rules are field validators on the later field, so an error names the field
    # (a model validator would report it against the whole body). A field that failed its own
    # validation is absent from ``info.data``; its own error is reported instead.
    @field_validator("period_end")
    @classmethod
    def _after_start(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("period_start")
        if start is not None and v is not None and v <= start:
            raise ValueError("period_end must be after period_start")
        return v

    @field_validator("repeat_days")
    @classmethod
    def _repeat_days(cls, v: list[int], info: ValidationInfo) -> list[int]:
        if "repeat_by" in info.data:
            _check_repeat_days(info.data["repeat_by"], v)
        return v

    @field_validator("pacing_mode")
    @classmethod
    def _mode_for_kind(cls, v: PacingMode, info: ValidationInfo) -> PacingMode:
        kind = info.data.get("kind")
        if kind == "manual" and v is not PacingMode.PREVIEW:
            raise ValueError("manual campaigns use pacing_mode 'preview'")
        if kind == "auto" and v is PacingMode.PREVIEW:
            raise ValueError("pacing_mode 'preview' is for manual campaigns")
        return v


def _check_repeat_days(repeat_by: RepeatBy, days: list[int]) -> None:
    if repeat_by in (RepeatBy.ONCE, RepeatBy.DAY):
        if days:
            raise ValueError(f"repeat_days must be empty when repeat_by is {repeat_by.value}")
        return
    top = 7 if repeat_by is RepeatBy.WEEK else 31
    if not days:
        raise ValueError(f"repeat_days is required when repeat_by is {repeat_by.value}")
    if any(d < 1 or d > top for d in days) or len(days) != len(set(days)):
        raise ValueError(f"repeat_days must be unique days 1–{top} for repeat_by {repeat_by.value}")


class CampaignOut(Output, CampaignIn):
    model_config = ConfigDict(extra="ignore")
    timezone: str
    state: str
    state_reason: str
    vendor: str
    vendor_data: dict[str, Any]
    started_at: datetime | None
    ended_at: datetime | None
    webhook_disabled_reason: str | None = Field(
        None,
        description="why outdial disabled the webhook_url's subscription (its endpoint kept "
        "failing); a new webhook_url enables it again",
    )


# --- contacts ------------------------------------------------------------------------------


class PhoneIn(Input):
    number: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    relation: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] = ""
    phone_group: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "default"


class ContactIn(Input):
    name: Annotated[str, StringConstraints(max_length=limits.CONTACT_NAME_MAX)] = ""
    description: Annotated[str, StringConstraints(max_length=limits.CONTACT_DESC_MAX)] = ""
    external_id: Annotated[str, StringConstraints(max_length=limits.CONTACT_EXTERNAL_ID_MAX)] | (
        None
    ) = None
    pass_through: Annotated[str, StringConstraints(max_length=limits.CONTACT_PASS_THROUGH_MAX)] = ""
    attributes: dict[Annotated[str, StringConstraints(max_length=64)], str] = Field(
        default_factory=dict, max_length=50
    )
    timezone: str | None = None
    phones: list[PhoneIn] = Field(min_length=1, max_length=limits.PHONES_PER_CONTACT)

    _tz = field_validator("timezone")(classmethod(lambda cls, v: _zone(v)))

    @field_validator("phones")
    @classmethod
    def _first_is_self(cls, v: list[PhoneIn]) -> list[PhoneIn]:
        if v and v[0].relation not in ("", "self", "本人"):
            message = "the first phone is the contact's own: relation must be self/本人"
            raise _item_error("ContactIn", 0, v[0].relation, message, "relation")
        return v


class ContactAppendIn(Input):
    contacts: list[dict[str, Any]] = Field(min_length=1)
    all_or_nothing: bool = Field(False, description="Reject the whole batch if any row is invalid")


class PhoneOut(BaseModel):
    id: int
    position: int
    number: str
    relation: str
    phone_group: str
    state: str
    attempt_count: int
    last_attempt_at: datetime | None
    last_outcome: str | None


class ContactOut(BaseModel):
    id: int
    uuid: str
    campaign_id: int
    name: str
    description: str
    external_id: str | None
    pass_through: str
    attributes: dict[str, str]
    timezone: str | None
    state: str
    outcome: str | None
    reason: str
    next_eligible_at: datetime | None
    attempt_count: int
    last_attempt_at: datetime | None
    assigned_agent_id: int | None = Field(
        None, description="preview (manual) campaigns: the agent the contact is assigned to"
    )
    phones: list[PhoneOut]
    created_at: datetime
    updated_at: datetime


# --- preview (manual) tasks ----------------------------------------------------------------


class PreviewNextIn(Input):
    campaign_id: PositiveId | None = Field(
        None, description="take from this campaign only; default: any the agent works"
    )
    preview_seconds: int = Field(
        120, ge=10, le=3600, description="how long the contact is held for the agent"
    )


class PreviewDialIn(Input):
    contact_id: PositiveId


class PreviewSkipIn(Input):
    contact_id: PositiveId
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    retry_after_seconds: int = Field(
        600, ge=0, le=30 * 86400, description="when the contact may be offered again"
    )


# --- webhooks ------------------------------------------------------------------------------

WEBHOOK_URL_MAX = 1000
Secret = Annotated[
    str,
    StringConstraints(min_length=16, max_length=128, pattern=r"^[\x21-\x7e]+$"),
    Field(description="16–128 printable ASCII characters, no spaces; default: generated"),
]


class WebhookIn(Input):
    url: str = Field(
        description="http or https URL the events are POSTed to", max_length=WEBHOOK_URL_MAX
    )
    events: list[WebhookEvent] = Field(min_length=1, max_length=len(WebhookEvent))
    campaign_id: PositiveId | None = Field(
        None, description="only this campaign's events; none: every campaign of the tenant"
    )
    outcomes: list[Outcome] | None = Field(
        None,
        min_length=1,
        max_length=len(Outcome),
        description="attempt.ended and contact.completed only for these outcomes",
    )
    description: Text = ""
    secret: Secret | None = None
    enabled: bool = True
    max_concurrency: int = Field(
        limits.WEBHOOK_CONCURRENCY_DEFAULT, ge=1, le=limits.WEBHOOK_CONCURRENCY_MAX
    )
    max_tries: int = Field(limits.WEBHOOK_TRIES_DEFAULT, ge=1, le=limits.WEBHOOK_TRIES_MAX)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_webhook_url(v)

    @field_validator("events")
    @classmethod
    def _events_once(cls, v: list[WebhookEvent]) -> list[WebhookEvent]:
        for i, event in enumerate(v):
            if event in v[:i]:
                raise _item_error("WebhookIn", i, event.value, f"{event.value} is listed twice")
        return v

    @field_validator("outcomes")
    @classmethod
    def _outcomes(cls, v: list[Outcome] | None, info: ValidationInfo) -> list[Outcome] | None:
        if v is None:
            return v
        for i, outcome in enumerate(v):
            if outcome in v[:i]:
                raise _item_error("WebhookIn", i, outcome.value, f"{outcome.value} is listed twice")
        events = info.data.get("events") or []
        if not {WebhookEvent.ATTEMPT_ENDED, WebhookEvent.CONTACT_COMPLETED} & set(events):
            raise ValueError(
                "outcomes filter attempt.ended and contact.completed; subscribe to one"
            )
        return v


def check_webhook_url(text: str) -> str:
    """An absolute http(s) URL with a host, no credentials in it and no fragment."""
    parts = urlsplit(text.strip())
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("the URL must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("put no credentials in the URL; verify the signature instead")
    if parts.fragment:
        raise ValueError("the URL must not have a #fragment")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        raise ValueError("the URL's port is not a number from 0 to 65535") from exc
    if any(c.isspace() for c in text.strip()):
        raise ValueError("the URL must not contain spaces")
    return text.strip()


class WebhookOut(Output):
    url: str
    events: list[str]
    campaign_id: int | None
    outcomes: list[str] | None
    description: str
    enabled: bool
    max_concurrency: int
    max_tries: int
    format: str
    managed_by: str | None = Field(
        None, description="campaign: follows the campaign's webhook_url (change it there)"
    )
    secret: str | None = Field(None, description="only in the reply to the create (and rotate)")
    failing_since: datetime | None = Field(
        None, description="its endpoint's first failed try since its last success"
    )
    dead_in_row: int = Field(0, description="dead letters since its last success")
    disabled_reason: str | None = Field(
        None, description="why outdial disabled it (its endpoint kept failing); enable it again"
    )
    disabled_at: datetime | None = None


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    subscription_id: int
    campaign_id: int | None
    event: str
    payload: dict[str, Any]
    state: str
    tries: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    last_tried_at: datetime | None
    delivered_at: datetime | None
    replays: int
    created_at: datetime
    updated_at: datetime
