"""A campaign's settings compiled for the runner: schedule, zones, redial rules, routing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import geocoder, timezone
from sqlalchemy import select

from outdial.domain.calendar import Blackout, Schedule, parse_blackout, parse_windows
from outdial.domain.outcomes import Outcome
from outdial.domain.redial import RedialSettings, Rule
from outdial.domain.schedule import RepeatBy, RoutingStrategy
from outdial.domain.transfer import TransferFallback
from outdial.engine.ports import ScriptTarget
from outdial.store.schema import blackout_calendars, lines, number_groups, redial_policies, scripts
from outdial.store.store import Store


@dataclass
class CampaignConfig:
    campaign: dict[str, Any]
    schedule: Schedule
    line: dict[str, Any]
    caller_numbers: list[dict[str, Any]]
    redial_by_group: dict[str, RedialSettings]
    script: ScriptTarget | None
    _rotation: Iterator[int] = field(default_factory=lambda: itertools.count())

    @property
    def tenant_id(self) -> int:
        return int(self.campaign["tenant_id"])

    def zones_for(self, number: str, explicit: str | None) -> list[ZoneInfo]:
        """The contact's own zone when known and wanted, else the campaign's."""
        if explicit:
            return [ZoneInfo(explicit)]
        if self.campaign["use_contact_timezone"]:
            return list(number_zones(number)) or [self.schedule.zone]
        return [self.schedule.zone]

    def redial(self, phone_group: str) -> RedialSettings:
        return self.redial_by_group.get(phone_group) or next(iter(self.redial_by_group.values()))

    def caller_number(self, callee: str) -> str:
        """Round robin over the caller numbers; local-first prefers one in the callee's region."""
        numbers = self.caller_numbers
        if not numbers:
            return ""
        strategy = RoutingStrategy(self.campaign["routing_strategy"])
        if strategy is not RoutingStrategy.ROUND_ROBIN:
            place = number_place(callee)
            local = [n for n in numbers if n.get("region") and n["region"] in place]
            if local:
                numbers = local
        return str(numbers[next(self._rotation) % len(numbers)]["number"])


@lru_cache(maxsize=100_000)
def number_zones(number: str) -> tuple[ZoneInfo, ...]:
    """Time zones phonenumbers knows for ``number`` (all of them, when it is unsure)."""
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return ()
    names = [z for z in timezone.time_zones_for_number(parsed) if z != "Etc/Unknown"]
    return tuple(ZoneInfo(z) for z in names)


@lru_cache(maxsize=100_000)
def number_place(number: str) -> str:
    """The callee's place as phonenumbers describes it (Chinese, then English)."""
    parsed = phonenumbers.parse(number)
    return geocoder.description_for_number(parsed, "zh") + geocoder.description_for_number(
        parsed, "en"
    )


def load_config(store: Store, campaign: dict[str, Any]) -> CampaignConfig:
    with store.read() as conn:

        def row(table: Any, row_id: int | None) -> dict[str, Any] | None:
            if row_id is None:
                return None
            found = conn.execute(select(table).where(table.c.id == row_id)).one_or_none()
            return None if found is None else dict(found._mapping)

        line = row(lines, campaign["line_id"]) or {}
        calendar = row(blackout_calendars, campaign["blackout_calendar_id"])
        policy = row(redial_policies, campaign["redial_policy_id"])
        script = row(scripts, campaign["script_id"])
        group = row(number_groups, campaign["number_group_id"])
    return CampaignConfig(
        campaign=campaign,
        schedule=schedule_of(campaign, calendar),
        line=line,
        caller_numbers=_caller_numbers(campaign, line, group),
        redial_by_group={
            g["identify"]: _redial(campaign, policy, g) for g in campaign["phone_groups"]
        },
        script=None if script is None else script_target(script, campaign),
    )


def script_target(script: dict[str, Any], campaign: dict[str, Any]) -> ScriptTarget:
    """The campaign's script; a hand-off goes to the script's transfer skill group, else to
    the campaign's own skill group (云蝠's customer_service_id)."""
    return ScriptTarget(
        script["id"],
        script["extension"],
        script["dialplan"],
        script["context"],
        transfer_skill_group_id=script["transfer_skill_group_id"] or campaign["skill_group_id"],
        transfer_wait_seconds=float(script["transfer_wait_seconds"]),
        transfer_fallback=TransferFallback(script["transfer_fallback"]),
    )


def schedule_of(campaign: dict[str, Any], calendar: dict[str, Any] | None) -> Schedule:
    blackout = Blackout()
    if calendar is not None:
        blackout = parse_blackout(calendar["timezone"], calendar["weekly"], calendar["dated"])
    return Schedule(
        zone=ZoneInfo(campaign["timezone"]),
        period_start=campaign["period_start"],
        period_end=campaign["period_end"],
        windows=parse_windows(campaign["windows"]),
        repeat_by=RepeatBy(campaign["repeat_by"]),
        repeat_days=frozenset(campaign["repeat_days"]),
        blackout=blackout,
    )


def _caller_numbers(
    campaign: dict[str, Any], line: dict[str, Any], group: dict[str, Any] | None
) -> list[dict[str, Any]]:
    on_line = [n for n in line.get("caller_numbers", []) if n.get("enabled", True)]
    chosen = campaign["caller_numbers"] or (group["numbers"] if group else [])
    if chosen:
        by_number = {n["number"]: n for n in on_line}
        return [by_number.get(n, {"number": n, "region": ""}) for n in chosen]
    return on_line


def _redial(
    campaign: dict[str, Any], policy: dict[str, Any] | None, group: dict[str, Any]
) -> RedialSettings:
    skip_flags = campaign["recall_skip"]
    skip = {
        Outcome.INVALID_NUMBER: skip_flags.get("invalid_number", False),
        Outcome.SUSPENDED: skip_flags.get("suspended", False),
        Outcome.IN_ARREARS: skip_flags.get("in_arrears", False),
    }
    rules = None
    if policy is not None and policy["enabled"]:
        rules = tuple(
            Rule(
                frozenset(Outcome(o) for o in r["outcomes"]), r["interval_seconds"], r["max_times"]
            )
            for r in policy["rules"]
        )
        skip[Outcome.INVALID_NUMBER] |= policy["skip_invalid_number"]
        skip[Outcome.SUSPENDED] |= policy["skip_suspended"]
        skip[Outcome.IN_ARREARS] |= policy["skip_in_arrears"]
    group_redial = None
    if group.get("redial_enabled"):
        group_redial = (int(group["redial_times"]), int(group["redial_interval_seconds"]))
    return RedialSettings(
        policy_rules=rules,
        skip=frozenset(o for o, on in skip.items() if on),
        group_redial=group_redial,
        max_attempts_per_day=campaign["max_attempts_per_day"],
        min_attempt_interval_seconds=campaign["min_attempt_interval_seconds"],
    )
