"""The tenant's catalogue: lines, number groups, skill groups, agents, scripts, blackout
calendars and redial policies, each a ResourceKind with its own rules."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, func, insert, select, update

from outdial.domain.agents import AgentState
from outdial.domain.campaign_state import CampaignState
from outdial.domain.errors import Conflict, ValidationFailed
from outdial.services.common import Tenant, parse_choice
from outdial.services.models import (
    LINE_SETTINGS,
    AgentIn,
    BlackoutCalendarIn,
    LineIn,
    NumberGroupIn,
    RedialPolicyIn,
    ScriptIn,
    SkillGroupIn,
)
from outdial.services.resources import Filter, Hooks, ResourceKind, parse_bool, parse_int
from outdial.services.secrets import SecretBox
from outdial.services.validation import validate
from outdial.store.repo import TenantTable
from outdial.store.schema import (
    agent_skill_groups,
    agents,
    attempts,
    blackout_calendars,
    campaigns,
    lines,
    number_groups,
    redial_policies,
    scripts,
    skill_groups,
)


def name_filter(table: Table) -> dict[str, Filter]:
    # Case-insensitive on both backends (LIKE is case-insensitive on SQLite only).
    return {"q": lambda v: table.c.name.icontains(v, autoescape=True)}


def bool_filter(table: Table, column: str) -> dict[str, Filter]:
    return {column: lambda v: table.c[column] == parse_bool(column, v)}


# --- lines ---------------------------------------------------------------------------------


SECRET_MASK = "********"
"""Stands for a stored line password in output; sent back in a PATCH, it keeps that password."""

SEALED = "sealed:"
"""A line's stored password (SIP digest, FreeSWITCH Event Socket): ``sealed:`` and the
SecretBox token (the password must be read back to log in, so it is encrypted at rest, not
hashed)."""


class LineHooks(Hooks):
    def __init__(self, box: SecretBox | None = None):
        self.box = box

    def values(
        self, tenant: Tenant, data: Any, current: dict[str, Any] | None, now: datetime
    ) -> dict[str, Any]:
        settings = validate(LINE_SETTINGS[data.driver], data.settings, prefix="settings")
        stored = current["settings"] if current and current["driver"] == data.driver else {}
        given = self._sealed(settings.model_dump(mode="json"))
        # The mask brings the stored password back: sealed, or plain from before sealing.
        return {"settings": self._sealed(unmask_settings(given, stored), every=False)}

    def _sealed(self, settings: dict[str, Any], every: bool = True) -> dict[str, Any]:
        """Seal each password set (the SIP password, each FreeSWITCH node's): ``every`` one
        given (whatever it looks like), or only those not sealed yet; the mask is left."""
        for _, holder in _password_paths(settings):
            password = holder["password"]
            if not password or password == SECRET_MASK:
                continue
            if every or not password.startswith(SEALED):
                if self.box is None:
                    raise RuntimeError("line passwords need the secret key (LineHooks(box))")
                holder["password"] = SEALED + self.box.seal(password)
        return settings

    def present(self, conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        busy = lines_in_use(conn, [r["id"] for r in rows])
        return [
            {**r, "settings": mask_settings(r["settings"]), "in_use": busy.get(r["id"], 0)}
            for r in rows
        ]


def _password_paths(settings: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(field path, the dict holding ``password``) for each password in line settings:
    ``password`` (sip) and ``nodes[i].password`` (freeswitch)."""
    paths = [("password", settings)] if "password" in settings else []
    for i, node in enumerate(settings.get("nodes") or []):
        if isinstance(node, dict) and "password" in node:
            paths.append((f"nodes[{i}].password", node))
    return paths


def mask_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """A copy with every password that is set shown as the mask."""
    out = copy.deepcopy(settings)
    for _, holder in _password_paths(out):
        if holder["password"]:
            holder["password"] = SECRET_MASK
    return out


def unmask_settings(settings: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """Put the stored password back wherever the mask came in (same driver, same place:
    ``password``, or the node at the same position); a mask with nothing stored there is 422."""
    kept = dict(_password_paths(copy.deepcopy(stored)))
    for path, holder in _password_paths(settings):
        if holder["password"] != SECRET_MASK:
            continue
        if path not in kept or not kept[path]["password"]:
            raise ValidationFailed.field(
                f"settings.{path}",
                f"{SECRET_MASK!r} stands for a stored password and none is stored here; "
                "send the password",
                "missing",
            )
        holder["password"] = kept[path]["password"]
    return settings


def lines_in_use(conn: Connection, line_ids: list[int]) -> dict[int, int]:
    """Calls in progress per line: attempts written and not yet ended."""
    if not line_ids:
        return {}
    query = (
        select(attempts.c.line_id, func.count())
        .where(attempts.c.line_id.in_(line_ids), attempts.c.ended_at.is_(None))
        .group_by(attempts.c.line_id)
    )
    return {line_id: n for line_id, n in conn.execute(query)}


def line_numbers(conn: Connection, tenant: Tenant, line_id: int | None) -> set[str]:
    """Caller numbers of one line, or of all the tenant's lines when ``line_id`` is None."""
    query = select(lines.c.caller_numbers).where(lines.c.tenant_id == tenant.id)
    if line_id is not None:
        query = query.where(lines.c.id == line_id)
    return {n["number"] for numbers in conn.scalars(query) for n in numbers}


def check_numbers_on_line(
    conn: Connection, tenant: Tenant, numbers: list[str], line_id: int | None, field: str
) -> None:
    known = line_numbers(conn, tenant, line_id)
    for i, number in enumerate(numbers):
        if number not in known:
            where = f"line {line_id}" if line_id is not None else "any of the tenant's lines"
            raise ValidationFailed.field(
                f"{field}[{i}]", f"caller number {number} is not on {where}", "not_found"
            )


def line_kind(box: SecretBox) -> ResourceKind:
    """Lines whose passwords are sealed with ``box``."""
    return replace(LINES, hooks=LineHooks(box))


def seal_stored_passwords(conn: Connection, box: SecretBox) -> int:
    """Seal the line passwords a release before sealing stored in plain text (run at start-up,
    where the secret key is at hand, which a migration is not). Returns the lines changed."""
    hooks, changed = LineHooks(box), 0
    for line_id, settings in conn.execute(select(lines.c.id, lines.c.settings)).all():
        sealed = hooks._sealed(copy.deepcopy(settings), every=False)
        if sealed != settings:
            conn.execute(update(lines).where(lines.c.id == line_id).values(settings=sealed))
            changed += 1
    return changed


def open_line_password(box: SecretBox, stored: str) -> str:
    """A line's password as stored (sealed, or plain from before sealing) → plain."""
    return box.open(stored.removeprefix(SEALED)) if stored.startswith(SEALED) else stored


LINES = ResourceKind(
    label="line",
    table=lines,
    model=LineIn,
    used_by=[
        (campaigns, "line_id"),
        (number_groups, "line_id"),
        (skill_groups, "line_id"),
        (attempts, "line_id"),
    ],
    filters={
        **name_filter(lines),
        **bool_filter(lines, "enabled"),
        "driver": lambda v: lines.c.driver == parse_choice("driver", v, LINE_SETTINGS),
    },
    hooks=LineHooks(),
)


# --- number groups -------------------------------------------------------------------------


class NumberGroupHooks(Hooks):
    def check(self, conn: Connection, tenant: Tenant, data: Any, row_id: int | None) -> None:
        check_numbers_on_line(conn, tenant, data.numbers, data.line_id, "numbers")


NUMBER_GROUPS = ResourceKind(
    label="number group",
    table=number_groups,
    model=NumberGroupIn,
    refs={"line_id": lines},
    used_by=[(campaigns, "number_group_id")],
    filters={
        **name_filter(number_groups),
        "line_id": lambda v: number_groups.c.line_id == parse_int("line_id", v),
    },
    hooks=NumberGroupHooks(),
)

SKILL_GROUPS = ResourceKind(
    label="skill group",
    table=skill_groups,
    model=SkillGroupIn,
    refs={"line_id": lines},
    used_by=[(campaigns, "skill_group_id"), (scripts, "transfer_skill_group_id")],
    filters={**name_filter(skill_groups), **bool_filter(skill_groups, "enabled")},
)


# --- agents --------------------------------------------------------------------------------


class AgentHooks(Hooks):
    def check(self, conn: Connection, tenant: Tenant, data: Any, row_id: int | None) -> None:
        ids = data.skill_group_ids
        known = TenantTable(skill_groups).existing_ids(conn, tenant.id, ids)
        for i, sg in enumerate(ids):
            if sg not in known:
                raise ValidationFailed.field(
                    f"skill_group_ids[{i}]", f"skill_groups {sg} not found", "not_found"
                )

    def values(
        self, tenant: Tenant, data: Any, current: dict[str, Any] | None, now: datetime
    ) -> dict[str, Any]:
        return {"state": "offline", "state_changed_at": now} if current is None else {}

    def after_write(self, conn: Connection, row: dict[str, Any], data: Any) -> None:
        conn.execute(delete(agent_skill_groups).where(agent_skill_groups.c.agent_id == row["id"]))
        if data.skill_group_ids:
            conn.execute(
                insert(agent_skill_groups),
                [{"agent_id": row["id"], "skill_group_id": sg} for sg in data.skill_group_ids],
            )

    def present(self, conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = [r["id"] for r in rows]
        query = (
            select(agent_skill_groups)
            .where(agent_skill_groups.c.agent_id.in_(ids))
            .order_by(agent_skill_groups.c.skill_group_id)
        )
        groups: dict[int, list[int]] = {i: [] for i in ids}
        for agent_id, sg in conn.execute(query):
            groups[agent_id].append(sg)
        return [{**r, "skill_group_ids": groups[r["id"]]} for r in rows]

    def check_delete(self, conn: Connection, row: dict[str, Any]) -> None:
        """An agent assigned in a campaign that may still dial stays (得助 taskAgents)."""
        if users := campaigns_assigning(conn, row["tenant_id"], row["id"]):
            named = ", ".join(f"{cid} ({name!r})" for cid, name in users)
            raise Conflict(
                f"agent {row['id']} is assigned in campaigns {named}; "
                "remove it from their agent_assignments first",
                campaign_ids=[cid for cid, _ in users],
            )


CLOSED_CAMPAIGNS = frozenset({CampaignState.CANCELLED, CampaignState.EXPIRED, CampaignState.FAILED})
"""States in which a campaign never dials again (a completed one reopens with new contacts)."""


def campaigns_assigning(conn: Connection, tenant_id: int, agent_id: int) -> list[tuple[int, str]]:
    """(id, name) of the tenant's campaigns not yet closed whose agent_assignments name the
    agent. The assignments are JSON, so they are matched here, the same on both backends."""
    query = (
        select(campaigns.c.id, campaigns.c.name, campaigns.c.agent_assignments)
        .where(
            campaigns.c.tenant_id == tenant_id,
            campaigns.c.state.not_in([s.value for s in CLOSED_CAMPAIGNS]),
        )
        .order_by(campaigns.c.id)
    )
    return [
        (cid, name)
        for cid, name, assignments in conn.execute(query)
        if any(a.get("agent_id") == agent_id for a in assignments or [])
    ]


def _agent_skill_filter(value: str) -> Any:
    sg = parse_int("skill_group_id", value)
    member = select(agent_skill_groups.c.agent_id).where(agent_skill_groups.c.skill_group_id == sg)
    return agents.c.id.in_(member)


AGENTS = ResourceKind(
    label="agent",
    table=agents,
    model=AgentIn,
    filters={
        **name_filter(agents),
        "state": lambda v: agents.c.state == parse_choice("state", v, AgentState),
        "skill_group_id": _agent_skill_filter,
    },
    hooks=AgentHooks(),
)


# --- scripts -------------------------------------------------------------------------------


class ScriptHooks(Hooks):
    def values(
        self, tenant: Tenant, data: Any, current: dict[str, Any] | None, now: datetime
    ) -> dict[str, Any]:
        """The ``settings`` column (NOT NULL) has no input field yet: start it empty."""
        return {"settings": {}} if current is None else {}


SCRIPTS = ResourceKind(
    label="script",
    table=scripts,
    model=ScriptIn,
    refs={"transfer_skill_group_id": skill_groups},
    used_by=[(campaigns, "script_id")],
    filters={**name_filter(scripts), **bool_filter(scripts, "enabled")},
    hooks=ScriptHooks(),
)

BLACKOUT_CALENDARS = ResourceKind(
    label="blackout calendar",
    table=blackout_calendars,
    model=BlackoutCalendarIn,
    used_by=[(campaigns, "blackout_calendar_id")],
    filters=name_filter(blackout_calendars),
)


# --- redial policies -----------------------------------------------------------------------


class RedialPolicyHooks(Hooks):
    def after_write(self, conn: Connection, row: dict[str, Any], data: Any) -> None:
        """At most one default policy per tenant: a new default unsets the others."""
        if data.is_default:
            conn.execute(
                update(redial_policies)
                .where(
                    and_(
                        redial_policies.c.tenant_id == row["tenant_id"],
                        redial_policies.c.id != row["id"],
                        redial_policies.c.is_default.is_(True),
                    )
                )
                .values(is_default=False)
            )


REDIAL_POLICIES = ResourceKind(
    label="redial policy",
    table=redial_policies,
    model=RedialPolicyIn,
    used_by=[(campaigns, "redial_policy_id")],
    filters={
        **name_filter(redial_policies),
        **bool_filter(redial_policies, "enabled"),
        **bool_filter(redial_policies, "is_default"),
    },
    hooks=RedialPolicyHooks(),
)
