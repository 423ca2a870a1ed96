"""Lines, number groups, skill groups, agents, scripts, blackout calendars, redial policies."""

from __future__ import annotations

from fastapi import APIRouter

from outdial.api.native.routing import (
    add_action_routes,
    add_resource_routes,
)
from outdial.domain.agents import AgentAction
from outdial.services import models as m

router = APIRouter()

add_resource_routes(
    router, "/lines", lambda s: s.lines, m.LineIn, m.LineOut, ("q", "enabled", "driver"), "lines"
)
add_resource_routes(
    router,
    "/number-groups",
    lambda s: s.number_groups,
    m.NumberGroupIn,
    m.NumberGroupOut,
    ("q", "line_id"),
    "number groups",
)
add_resource_routes(
    router,
    "/skill-groups",
    lambda s: s.skill_groups,
    m.SkillGroupIn,
    m.SkillGroupOut,
    ("q", "enabled"),
    "skill groups",
)
add_resource_routes(
    router,
    "/agents",
    lambda s: s.agents,
    m.AgentIn,
    m.AgentOut,
    ("q", "state", "skill_group_id"),
    "agents",
)
add_resource_routes(
    router, "/scripts", lambda s: s.scripts, m.ScriptIn, m.ScriptOut, ("q", "enabled"), "scripts"
)
add_resource_routes(
    router,
    "/blackout-calendars",
    lambda s: s.blackout_calendars,
    m.BlackoutCalendarIn,
    m.BlackoutCalendarOut,
    ("q",),
    "blackout calendars",
)
add_resource_routes(
    router,
    "/redial-policies",
    lambda s: s.redial_policies,
    m.RedialPolicyIn,
    m.RedialPolicyOut,
    ("q", "enabled", "is_default"),
    "redial policies",
)


add_action_routes(router, "/agents", AgentAction, lambda s: s.agents, m.AgentOut, "agents")
