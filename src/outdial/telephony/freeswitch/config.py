"""A FreeSWITCH line's settings as the driver uses them: nodes, the dial string, variables.

The settings were validated at line creation (services/models.py, FreeswitchLineSettings,
which uses the template rules here), so reading them back needs no checks of its own.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

PLACEHOLDERS = {
    "number": "the number in E.164, +8613800000000",
    "digits": "the same without the +, 8613800000000",
    "national": "the national number, 13800000000",
    "gateway": "the line's gateway",
}
DEFAULT_DIAL_STRING = "sofia/gateway/{gateway}/{number}"
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$")
FORBIDDEN_IN_VALUE = set("{}[]'\"\n\r")  # would break out of the originate's {…} block


def template_problems(template: str) -> list[str]:
    """Why ``template`` is not a usable dial-string template (nothing: it is)."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return [f"unbalanced braces: {exc}"]
    problems = []
    for literal, name, spec, conversion in parts:
        if any(c.isspace() for c in literal):
            problems.append("no spaces: a dial string is one word")
        if name is not None and name not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            problems.append(f"unknown placeholder {{{name}}}; use {known}")
        if spec or conversion:
            problems.append(f"placeholder {{{name}}} takes no format")
    return problems


def template_names(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def value_problem(value: str) -> str | None:
    bad = sorted(FORBIDDEN_IN_VALUE & set(value))
    return f"may not contain {' '.join(repr(c) for c in bad)}" if bad else None


def escape(value: str) -> str:
    """A channel variable's value inside ``{a=b,c=d}``: commas escaped, spaces quoted."""
    value = value.replace(",", "\\,")
    return f"'{value}'" if " " in value else value


@dataclass(frozen=True)
class Node:
    host: str
    port: int = 8021
    password: str = "ClueCon"

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.host, self.port, self.password)


@dataclass(frozen=True)
class LineConfig:
    line_id: int
    nodes: tuple[Node, ...]
    gateway: str = ""
    dial_string: str = DEFAULT_DIAL_STRING
    variables: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_line(cls, line: Mapping[str, Any]) -> LineConfig:
        settings = line.get("settings") or {}
        nodes = tuple(
            Node(n["host"], int(n.get("port") or 8021), n.get("password") or "ClueCon")
            for n in settings.get("nodes") or []
        )
        return cls(
            line_id=int(line["id"]),
            nodes=nodes,
            gateway=settings.get("gateway") or "",
            dial_string=settings.get("dial_string") or DEFAULT_DIAL_STRING,
            variables=dict(settings.get("variables") or {}),
        )

    def dial(self, number: str) -> str:
        """The dial string for ``number`` (E.164)."""
        return self.dial_string.format(
            number=number,
            digits=number.lstrip("+"),
            national=national(number),
            gateway=self.gateway,
        )


def national(number: str) -> str:
    try:
        return str(phonenumbers.national_significant_number(phonenumbers.parse(number)))
    except phonenumbers.NumberParseException:
        return number.lstrip("+")


def originate_command(dial: str, variables: Mapping[str, str]) -> str:
    """``originate {vars}dial &park()``: the answered call waits parked for the engine."""
    block = ",".join(f"{k}={escape(v)}" for k, v in variables.items())
    return f"originate {{{block}}}{dial} &park()"
